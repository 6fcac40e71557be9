"""Normalisation and dropout layers: convlab vs PyTorch, same run (target <= 2x).

One timed call is a forward and a backward (float32) of the layer in training mode on a fixed
random input with a fixed upstream gradient; the input's ``.grad`` is cleared first. Shapes:

- the seed-004 Fashion-MNIST CNN at batch 128: BatchNorm2d(32) at 28x28, BatchNorm2d(64) at
  14x14, BatchNorm1d(512), Dropout(0.25) after each pooling, Dropout(0.5) in the head;
- BatchNorm2d(64) on (128, 64, 28, 28) (the issue's target row) and in evaluation mode;
- LayerNorm(768) on (128, 196, 768) (ViT-B/16 tokens) and the other norms on a CNN feature map.

    python benchmarks/bench_norm.py [--repeat 5] [--rounds 3] [--only BatchNorm]
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import timing

import convlab
from convlab import nn


def _call(layer, x, g):
    def call():
        x.grad = None
        layer(x).backward(g)

    return call


def cases():
    fmnist = (128, 32, 28, 28)
    feature_map = (128, 64, 28, 28)
    return [
        ("BatchNorm2d(32) train (128, 32, 28, 28)", "BatchNorm2d", (32,), {}, fmnist),
        ("BatchNorm2d(64) train (128, 64, 14, 14)", "BatchNorm2d", (64,), {}, (128, 64, 14, 14)),
        ("BatchNorm1d(512) train (128, 512)", "BatchNorm1d", (512,), {}, (128, 512)),
        ("BatchNorm2d(64) train (128, 64, 28, 28)", "BatchNorm2d", (64,), {}, feature_map),
        ("BatchNorm2d(64) eval (128, 64, 28, 28)", "BatchNorm2d", (64,), {"eval": True}, feature_map),
        ("Dropout(0.25) (128, 32, 14, 14)", "Dropout", (0.25,), {}, (128, 32, 14, 14)),
        ("Dropout(0.5) (128, 512)", "Dropout", (0.5,), {}, (128, 512)),
        ("Dropout2d(0.25) (128, 64, 28, 28)", "Dropout2d", (0.25,), {}, feature_map),
        ("LayerNorm(768) (128, 196, 768)", "LayerNorm", (768,), {}, (128, 196, 768)),
        ("GroupNorm(8, 64) (128, 64, 28, 28)", "GroupNorm", (8, 64), {}, feature_map),
        ("InstanceNorm2d(64, affine) (128, 64, 28, 28)", "InstanceNorm2d", (64,), {"affine": True}, feature_map),
        ("LocalResponseNorm(5) (128, 64, 28, 28)", "LocalResponseNorm", (5,), {}, feature_map),
        ("RMSNorm(768) (128, 196, 768)", "RMSNorm", (768,), {}, (128, 196, 768)),
    ]


def main():
    args = timing.parse_args(__doc__.splitlines()[0])
    timing.report_header("normalisation and dropout: forward + backward, float32")
    rng = np.random.default_rng(0)
    for name, cls, layer_args, kwargs, shape in cases():
        if args.only and args.only not in name:
            continue
        kwargs = dict(kwargs)
        evaluation = kwargs.pop("eval", False)
        ours, theirs = getattr(nn, cls)(*layer_args, **kwargs), getattr(torch.nn, cls)(*layer_args, **kwargs)
        if evaluation:
            ours.eval(), theirs.eval()
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        xc, xt = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        t_cl, t_th = timing.compare(_call(ours, xc, convlab.tensor(g)), _call(theirs, xt, torch.from_numpy(g)),
                                    repeat=args.repeat, rounds=args.rounds)
        timing.report_row(name, t_cl, t_th, "OK" if t_cl <= 2 * t_th else "over the 2x target")


if __name__ == "__main__":
    main()
