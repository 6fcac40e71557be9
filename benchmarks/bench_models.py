"""Model-zoo inference: convlab vs PyTorch CPU, same run, same weights (target <= 2x torch's time).

One timed call is a forward pass in evaluation mode under ``no_grad`` (float32):

- ``resnet18``, batch 16 at 224x224 (ImageNet size);
- ``resnet18_cifar``, batch 128 at 32x32.

The PyTorch network is a plain ``torch.nn`` ResNet-18 with torchvision's structure (torchvision
is not installed beside the oracle); it gets convlab's weights through ``load_state_dict``, and
the outputs are compared before timing. ``--profile`` prints the share of convlab's forward time
spent in each layer type (forward hooks, one pass).

    python benchmarks/bench_models.py [--repeat 3] [--rounds 2] [--only cifar] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import timing
from torch_reference import TorchResNet18

import convlab
from convlab import models

CASES = [
    # name, convlab constructor, torch reference arguments, input shape
    ("resnet18 (16, 3, 224, 224)", models.resnet18, {"num_classes": 1000, "small_input": False}, (16, 3, 224, 224)),
    (
        "resnet18_cifar (128, 3, 32, 32)",
        models.resnet18_cifar,
        {"num_classes": 10, "small_input": True},
        (128, 3, 32, 32),
    ),
]


def _pair(build, torch_args):
    net = build().eval()
    reference = TorchResNet18(**torch_args).eval()
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    return net, reference


def _profile(net, x) -> str:
    """Forward time per layer type (leaf modules), as shares of the total."""
    spent, starts = collections.Counter(), {}

    def before(module, args):
        starts[id(module)] = time.perf_counter()

    def after(module, args, out):
        spent[type(module).__name__] += time.perf_counter() - starts.pop(id(module))

    leaves = [m for m in net.modules() if not m._modules]
    handles = [h for m in leaves for h in (m.register_forward_pre_hook(before), m.register_forward_hook(after))]
    start = time.perf_counter()
    with convlab.no_grad():
        net(x)
    total = time.perf_counter() - start
    for handle in handles:
        handle.remove()
    parts = [f"{name} {100 * t / total:.0f}%" for name, t in spent.most_common()]
    return f"total {total * 1e3:.0f} ms: " + ", ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per round (best is kept)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations between the libraries")
    parser.add_argument("--only", default=None, help="run only cases whose name contains this text")
    parser.add_argument("--profile", action="store_true", help="print convlab's time per layer type")
    args = parser.parse_args()
    timing.report_header("model inference (eval, no_grad), float32")
    rng = np.random.default_rng(0)
    for name, build, torch_args, shape in CASES:
        if args.only and args.only not in name:
            continue
        net, reference = _pair(build, torch_args)
        x = rng.standard_normal(shape).astype(np.float32)
        x_cl, x_th = convlab.tensor(x), torch.from_numpy(x)

        def run_convlab(net=net, x_cl=x_cl):
            with convlab.no_grad():
                return net(x_cl)

        def run_torch(reference=reference, x_th=x_th):
            with torch.no_grad():
                return reference(x_th)

        np.testing.assert_allclose(run_convlab().numpy(), run_torch().numpy(), rtol=1e-3, atol=1e-3)
        t_cl, t_th = timing.compare(run_convlab, run_torch, repeat=args.repeat, rounds=args.rounds)
        batch = shape[0]
        timing.report_row(name, t_cl, t_th, f"{batch / t_cl:.0f} vs {batch / t_th:.0f} images/s")
        if args.profile:
            print("    convlab " + _profile(net, x_cl), flush=True)


if __name__ == "__main__":
    main()
