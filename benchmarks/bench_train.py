"""The main job's training speed: ``fmnist_cnn`` on Fashion-MNIST, convlab vs PyTorch CPU, same run.

One timed unit is a slice of an epoch: ``--batches`` (default 50) training steps of batch 128
(forward, cross-entropy, zero_grad, backward, Adam step) in train mode, on the same batches for
both libraries, the same initial weights. Two convlab variants are timed:

- ``steps``: the steps alone, on batches prepared beforehand (what PyTorch is timed on);
- ``loader``: the steps fed by convlab's ``DataLoader`` with the job's augmentation
  (random 2-px shifts and flips, built in the prefetch thread), i.e. what ``convlab train`` does.

convlab's steps run inside ``cpu_kernels.tuned()`` (BLAS on one thread, malloc keeping freed
memory), as the Trainer runs them; PyTorch keeps its own settings. ``CONVLAB_KERNELS=0`` times
convlab's NumPy path (no compiled kernels) instead.

Target: at most 2x PyTorch's time per step. Prints ms per step, images/s and the ratio; the
full epoch estimate is 430 steps.

    python benchmarks/bench_train.py [--batches 50] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import timing

import convlab
from convlab import models, optim
from convlab.backend import cpu_kernels
from convlab.data import DataLoader, Subset
from convlab.nn import functional as F
from convlab.recipes import RECIPES

BATCH = 128


def torch_fmnist_cnn() -> torch.nn.Sequential:
    """The same layers as ``convlab.models.fmnist_cnn`` (so the same ``state_dict`` keys)."""
    nn = torch.nn
    layers = []
    for block in (((1, 32), (32, 32)), ((32, 64), (64, 64))):
        for cin, cout in block:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(cout)]
        layers += [nn.MaxPool2d(2), nn.Dropout(0.25)]
    layers += [nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def fashion_batches(count: int):
    """``count`` augmented, normalised training batches (NumPy) and the loader that made them."""
    splits = RECIPES["fashion-mnist"].splits(seed=0)
    loader = DataLoader(Subset(splits["train"], np.arange(count * BATCH)), batch_size=BATCH, shuffle=True,
                        generator=np.random.default_rng(0))
    return [(x.numpy(), y.numpy()) for x, y in loader], loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50, help="training steps per timed slice")
    parser.add_argument("--rounds", type=int, default=2, help="alternations between the libraries")
    args = parser.parse_args()

    batches, loader = fashion_batches(args.batches)
    convlab.manual_seed(0)
    model = models.fmnist_cnn()
    reference = torch_fmnist_cnn()
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    opt = optim.Adam(model.parameters(), lr=1e-3)
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-3)
    model.train()
    reference.train()
    cl_batches = [(convlab.tensor(x), convlab.tensor(y)) for x, y in batches]
    th_batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

    def cl_step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.item())

    def th_step(x, y):
        loss = torch.nn.functional.cross_entropy(reference(x), y)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
        return float(loss.item())

    # convlab's steps run with the CPU runtime settings the Trainer applies (cpu_kernels.tuned)
    def run_convlab_steps():
        with cpu_kernels.tuned():
            for x, y in cl_batches:
                cl_step(x, y)

    def run_convlab_loader():
        with cpu_kernels.tuned():
            for x, y in loader:
                cl_step(x, y)

    def run_torch():
        for x, y in th_batches:
            th_step(x, y)

    timing.report_header(f"fmnist_cnn training, {args.batches} steps of batch {BATCH} (Adam), train mode")
    cl_step(*cl_batches[0]), th_step(*th_batches[0])  # warm-up: numba compilation, allocators, threads
    best = {"steps": float("inf"), "loader": float("inf"), "torch": float("inf")}
    for _ in range(args.rounds):
        for name, fn in (("steps", run_convlab_steps), ("loader", run_convlab_loader), ("torch", run_torch)):
            time.sleep(timing.PAUSE_S)
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    images = args.batches * BATCH
    for name in ("steps", "loader"):
        timing.report_row(f"fmnist_cnn train {name}", best[name] / args.batches, best["torch"] / args.batches,
                          f"{images / best[name]:.0f} img/s vs torch {images / best['torch']:.0f} img/s; "
                          f"epoch of 430 steps ~{best[name] / args.batches * 430:.0f} s vs "
                          f"{best['torch'] / args.batches * 430:.0f} s")


if __name__ == "__main__":
    main()
