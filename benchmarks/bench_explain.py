"""Attribution speed: convlab.explain vs Captum 0.9 on PyTorch CPU, same run, same weights
(target <= 1.5x Captum's time).

The model is ``resnet18_cifar`` (float32, eval) on a batch of 16 images of 32x32, each explained
for its own class:

- Grad-CAM at ``layer4`` (one forward and one backward pass);
- 50-step integrated gradients (Gauss-Legendre), ``--internal-batch-size`` (sample, step)
  pairs per pass for both libraries (default 128: the whole 800-image path would hold several
  GB of activations per library on a shared machine);
- occlusion with a 3x8x8 window and stride 4 (49 windows, one forward pass of 16 each);
- saliency (one forward and one backward pass, for reference).

The PyTorch network is a plain ``torch.nn`` ResNet-18 with torchvision's structure
(tests/torch_reference.py) holding convlab's weights; the attributions are compared before
timing (relative L2 error below 1%: float32). Both libraries alternate, best of several calls (benchmarks/timing.py).

    python benchmarks/bench_explain.py [--repeat 2] [--rounds 2] [--only grad]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import torch
from captum import attr as ca

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import timing
from torch_reference import TorchResNet18

import convlab
from convlab import explain, models


def _cases(ibs: int):
    """name -> call(library, model, x, target); the same call for convlab.explain and captum.attr."""
    return {
        "grad_cam layer4": lambda lib, m, x, t: lib.LayerGradCam(m, m.layer4).attribute(x, target=t),
        f"integrated_gradients 50 steps (ibs {ibs})": lambda lib, m, x, t: lib.IntegratedGradients(m).attribute(
            x, target=t, n_steps=50, internal_batch_size=ibs
        ),
        "occlusion 3x8x8 stride 4": lambda lib, m, x, t: lib.Occlusion(m).attribute(
            x, (3, 8, 8), strides=(3, 4, 4), target=t
        ),
        "saliency": lambda lib, m, x, t: lib.Saliency(m).attribute(x, target=t),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="timed calls per round (best is kept)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations between the libraries")
    parser.add_argument("--only", default=None, help="run only cases whose name contains this text")
    parser.add_argument("--batch", type=int, default=16, help="images explained per call")
    parser.add_argument("--internal-batch-size", type=int, default=128, help="integrated gradients' pass size")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="captum")
    timing.report_header(f"attribution, resnet18_cifar, batch {args.batch} of 32x32, float32")
    convlab.manual_seed(0)
    net = models.resnet18_cifar().eval()
    reference = TorchResNet18(num_classes=10, small_input=True).eval()
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 3, 32, 32)).astype(np.float32)
    target = rng.integers(0, 10, args.batch).tolist()
    x_cl, x_th = convlab.tensor(x), torch.from_numpy(x)
    for name, case in _cases(args.internal_batch_size).items():
        if args.only and args.only not in name:
            continue

        def run_convlab(case=case):
            return case(explain, net, x_cl, target)

        def run_captum(case=case):
            return case(ca, reference, x_th, target)

        got, expected = run_convlab().numpy(), run_captum().detach().numpy()
        # float32: a pre-activation within rounding of 0 can switch a ReLU in one library and not
        # the other, which moves a few gradients a lot; the maps as a whole must agree.
        error = float(np.linalg.norm(got - expected) / np.linalg.norm(expected))
        assert error < 1e-2, f"{name}: convlab and Captum differ (relative L2 error {error:.2e})"
        t_cl, t_th = timing.compare(run_convlab, run_captum, repeat=args.repeat, rounds=args.rounds)
        timing.report_row(name, t_cl, t_th, f"{args.batch / t_cl:.1f} vs {args.batch / t_th:.1f} images/s")


if __name__ == "__main__":
    main()
