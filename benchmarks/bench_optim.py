"""Optimiser steps, gradient clipping and checkpoint save/load: convlab vs PyTorch, same run.

The parameters are those of the seed-004 Fashion-MNIST CNN (1,677,674 trainable values in 22
tensors, float32), each with a random gradient; one timed call is one ``optimizer.step()``
(or one clip / save / load).

    python benchmarks/bench_optim.py [--repeat 5] [--rounds 3] [--only adam]
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import timing  # noqa: E402

import convlab  # noqa: E402
from convlab import nn, optim  # noqa: E402

# (shape) of every trainable tensor of the seed-004 CNN, in state_dict order
SEED004_SHAPES = [
    (32, 1, 3, 3), (32,), (32,), (32,), (32, 32, 3, 3), (32,), (32,), (32,),
    (64, 32, 3, 3), (64,), (64,), (64,), (64, 64, 3, 3), (64,), (64,), (64,),
    (512, 3136), (512,), (512,), (512,), (10, 512), (10,),
]  # fmt: skip

OPTIMIZERS = {
    "SGD momentum": ("SGD", dict(lr=0.01, momentum=0.9)),
    "SGD nesterov + weight_decay": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    "Adam": ("Adam", dict(lr=1e-3)),
    "Adam amsgrad": ("Adam", dict(lr=1e-3, amsgrad=True)),
    "AdamW": ("AdamW", dict(lr=1e-3, weight_decay=0.01)),
    "RMSprop centered + momentum": ("RMSprop", dict(lr=1e-3, momentum=0.9, centered=True)),
    "Adagrad": ("Adagrad", dict(lr=1e-2)),
}


def make_params():
    rng = np.random.default_rng(0)
    cl, th = [], []
    for shape in SEED004_SHAPES:
        w = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32) * 1e-3
        c, t = nn.Parameter(convlab.tensor(w)), torch.nn.Parameter(torch.tensor(w))
        c.grad, t.grad = convlab.tensor(g), torch.tensor(g)
        cl.append(c)
        th.append(t)
    return cl, th


def main() -> None:
    args = timing.parse_args(__doc__.splitlines()[0])
    timing.report_header(f"optimiser step / clipping / checkpoints on the seed-004 CNN parameters ({sum(np.prod(s) for s in SEED004_SHAPES):,} floats)")
    cl, th = make_params()
    for case, (name, kwargs) in OPTIMIZERS.items():
        if args.only and args.only.lower() not in case.lower():
            continue
        cl_opt, th_opt = getattr(optim, name)(cl, **kwargs), getattr(torch.optim, name)(th, **kwargs)
        t_cl, t_th = timing.compare(cl_opt.step, th_opt.step, args.repeat, args.rounds)
        timing.report_row(f"{case} step", t_cl, t_th)

    if not args.only or "clip" in args.only:
        t_cl, t_th = timing.compare(
            lambda: nn.utils.clip_grad_norm_(cl, 1e9), lambda: torch.nn.utils.clip_grad_norm_(th, 1e9), args.repeat, args.rounds
        )
        timing.report_row("clip_grad_norm_ (L2)", t_cl, t_th)
        t_cl, t_th = timing.compare(
            lambda: nn.utils.clip_grad_value_(cl, 1e9), lambda: torch.nn.utils.clip_grad_value_(th, 1e9), args.repeat, args.rounds
        )
        timing.report_row("clip_grad_value_", t_cl, t_th)

    if not args.only or "save" in args.only or "load" in args.only:
        cl_sd = {f"p{i}": p.detach() for i, p in enumerate(cl)}
        th_sd = {f"p{i}": p.detach() for i, p in enumerate(th)}
        with tempfile.TemporaryDirectory() as tmp:
            cl_path, th_path = os.path.join(tmp, "cl.safetensors"), os.path.join(tmp, "th.pt")
            t_cl, t_th = timing.compare(lambda: convlab.save(cl_sd, cl_path), lambda: torch.save(th_sd, th_path), args.repeat, args.rounds)
            timing.report_row("save state_dict (vs torch.save)", t_cl, t_th, "atomic + fsync vs plain write")
            t_cl, t_th = timing.compare(lambda: convlab.load(cl_path), lambda: torch.load(th_path), args.repeat, args.rounds)
            timing.report_row("load state_dict (vs torch.load)", t_cl, t_th)


if __name__ == "__main__":
    main()
