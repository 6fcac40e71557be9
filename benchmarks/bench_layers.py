"""Pooling, normalisation and upsampling layers: convlab vs PyTorch, same run (target <= 2x).

One timed call is a forward and a backward (float32) of the layer on a fixed random input, with
a fixed upstream gradient; the input's ``.grad`` is cleared first so neither library pays for
accumulation. Shapes are those of a small CNN at batch 128:

- pooling: (128, 64, 28, 28), e.g. after the second conv block of the seed-004 CNN;
- BatchNorm2d(64), training mode (batch statistics + running-stat update), same input;
- LayerNorm(768) on (128, 196, 768): ViT-B/16 patch tokens, LayerNorm's most common use
  (normalising the last dim); a CNN's channels-last LayerNorm has the same structure;
- interpolate(scale_factor=2, mode="bilinear") on (32, 64, 56, 56), a U-Net/FPN decoder step.

A row whose layer convlab does not provide (yet) is printed as skipped.

    python benchmarks/bench_layers.py [--repeat 5] [--rounds 3] [--only MaxPool]
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import timing

import convlab
import convlab.nn.functional as F
from convlab import nn

TF = torch.nn.functional


def _forward_backward(fn, x, g):
    """A timed call: clear x.grad, forward, backward with the fixed gradient ``g``."""

    def call():
        x.grad = None
        fn(x).backward(g)

    return call


def _case(name, shape, make_convlab, make_torch, rng):
    """(name, convlab call, torch call) or (name, None, reason) when convlab lacks the layer."""
    try:
        cl_fn = make_convlab()
    except AttributeError as missing:
        return name, None, f"skipped: {missing}"
    th_fn = make_torch()
    x = rng.standard_normal(shape).astype(np.float32)
    xc, xt = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with torch.no_grad():
        out_shape = tuple(th_fn(xt).shape)
    g = rng.standard_normal(out_shape).astype(np.float32)
    return name, _forward_backward(cl_fn, xc, convlab.tensor(g)), _forward_backward(th_fn, xt, torch.from_numpy(g))


def cases(rng):
    image = (128, 64, 28, 28)
    return [
        _case("MaxPool2d(2) (128, 64, 28, 28)", image, lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), rng),
        _case("MaxPool2d(3, 2, 1) (128, 64, 28, 28)", image, lambda: nn.MaxPool2d(3, 2, 1), lambda: torch.nn.MaxPool2d(3, 2, 1), rng),
        _case("AvgPool2d(2) (128, 64, 28, 28)", image, lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2), rng),
        _case("AdaptiveAvgPool2d(1) (128, 64, 28, 28)", image, lambda: nn.AdaptiveAvgPool2d(1), lambda: torch.nn.AdaptiveAvgPool2d(1), rng),
        _case("BatchNorm2d(64) train (128, 64, 28, 28)", image, lambda: nn.BatchNorm2d(64), lambda: torch.nn.BatchNorm2d(64), rng),
        _case("LayerNorm(768) (128, 196, 768)", (128, 196, 768), lambda: nn.LayerNorm(768), lambda: torch.nn.LayerNorm(768), rng),
        _case(
            "interpolate(x2, bilinear) (32, 64, 56, 56)",
            (32, 64, 56, 56),
            lambda: (lambda t, f=F.interpolate: f(t, scale_factor=2, mode="bilinear")),
            lambda: (lambda t: TF.interpolate(t, scale_factor=2, mode="bilinear")),
            rng,
        ),
    ]


def main():
    args = timing.parse_args(__doc__.splitlines()[0])
    timing.report_header("layers: forward + backward, float32")
    for name, cl_call, th_call in cases(np.random.default_rng(0)):
        if args.only and args.only not in name:
            continue
        if cl_call is None:
            print(f"{name:<44} {th_call}", flush=True)
            continue
        t_cl, t_th = timing.compare(cl_call, th_call, repeat=args.repeat, rounds=args.rounds)
        timing.report_row(name, t_cl, t_th, "OK" if t_cl <= 2 * t_th else "over the 2x target")


if __name__ == "__main__":
    main()
