"""Losses, activations, Linear and module-call overhead: convlab vs PyTorch, same run.

One timed call is a forward and a backward (float32) of the named op on fixed random inputs;
"module call" cases time the Python overhead of ``Module.__call__`` on a tiny Sequential.

    python benchmarks/bench_nn.py [--repeat 5] [--rounds 3] [--only cross_entropy]
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import timing  # noqa: E402

import convlab  # noqa: E402
import convlab.nn.functional as F  # noqa: E402
from convlab import nn  # noqa: E402

TF = torch.nn.functional


def _inputs(shape, rng, scale=1.0):
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    return convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


_GRADIENTS: dict = {}


def _step(out, seed):
    """Backward of a non-scalar output with a fixed upstream gradient (made once per shape,
    outside the timing)."""
    key = (tuple(out.shape), seed, isinstance(out, convlab.Tensor))
    if key not in _GRADIENTS:
        g = np.random.default_rng(seed).standard_normal(key[0]).astype(np.float32)
        _GRADIENTS[key] = convlab.tensor(g) if key[2] else torch.from_numpy(g)
    out.backward(_GRADIENTS[key])


def loss_cases(rng):
    """(name, convlab fn, torch fn) for the losses, each a forward + backward."""
    cases = []
    for n, c, extra in [
        (128, 10, {}),
        (512, 1000, {}),
        (128, 10, {"label_smoothing": 0.1}),
        (512, 1000, {"label_smoothing": 0.1, "weight": True}),
    ]:
        xc, xt = _inputs((n, c), rng, 3.0)
        target = rng.integers(0, c, n)
        tc, tt = convlab.tensor(target), torch.from_numpy(target)
        kw_c, kw_t = dict(extra), dict(extra)
        if extra.get("weight"):
            w = rng.random(c).astype(np.float32)
            kw_c["weight"], kw_t["weight"] = convlab.tensor(w), torch.from_numpy(w)
        label = (
            f"cross_entropy ({n}, {c})"
            + (" smoothing" if "label_smoothing" in extra else "")
            + (" weight" if "weight" in extra else "")
        )
        cases.append(
            (
                label,
                lambda xc=xc, tc=tc, k=kw_c: F.cross_entropy(xc, tc, **k).backward(),
                lambda xt=xt, tt=tt, k=kw_t: TF.cross_entropy(xt, tt, **k).backward(),
            )
        )
    xc, xt = _inputs((8, 21, 64, 64), rng, 3.0)
    seg = rng.integers(0, 21, (8, 64, 64))
    seg[:, :4] = 255
    sc, st = convlab.tensor(seg), torch.from_numpy(seg)
    cases.append(
        (
            "cross_entropy (8, 21, 64, 64) ignore_index",
            lambda: F.cross_entropy(xc, sc, ignore_index=255).backward(),
            lambda: TF.cross_entropy(xt, st, ignore_index=255).backward(),
        )
    )
    pc, pt = _inputs((256, 100), rng)
    probs = np.random.default_rng(1).dirichlet(np.ones(100), 256).astype(np.float32)
    cases.append(
        (
            "cross_entropy probs (256, 100)",
            lambda: F.cross_entropy(pc, convlab.tensor(probs)).backward(),
            lambda: TF.cross_entropy(pt, torch.from_numpy(probs)).backward(),
        )
    )
    yc, yt = _inputs((128, 512), rng)
    target = rng.standard_normal((128, 512)).astype(np.float32)
    binary = (rng.random((128, 512)) < 0.3).astype(np.float32)
    for name in ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]:
        cases.append(
            (
                f"{name} (128, 512)",
                lambda f=getattr(F, name): f(yc, convlab.tensor(target)).backward(),
                lambda f=getattr(TF, name): f(yt, torch.from_numpy(target)).backward(),
            )
        )
    cases.append(
        (
            "binary_cross_entropy_with_logits (128, 512)",
            lambda: F.binary_cross_entropy_with_logits(yc, convlab.tensor(binary)).backward(),
            lambda: TF.binary_cross_entropy_with_logits(yt, torch.from_numpy(binary)).backward(),
        )
    )
    return cases


def activation_cases(rng):
    cases = []
    xc, xt = _inputs((128, 32, 28, 28), rng)
    for name in ["relu", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "elu", "hardswish"]:
        cases.append(
            (
                f"{name} (128, 32, 28, 28)",
                lambda f=getattr(F, name): _step(f(xc), 0),
                lambda f=getattr(TF, name): _step(f(xt), 0),
            )
        )
    sc, st = _inputs((256, 1000), rng)
    for name in ["softmax", "log_softmax"]:
        cases.append(
            (
                f"{name} (256, 1000) dim=1",
                lambda f=getattr(F, name): _step(f(sc, dim=1), 1),
                lambda f=getattr(TF, name): _step(f(st, dim=1), 1),
            )
        )
    return cases


def layer_cases(rng):
    cases = []
    cl, th = nn.Linear(3136, 512), torch.nn.Linear(3136, 512)
    cl.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    xc, xt = _inputs((128, 3136), rng)
    cases.append(("Linear(3136, 512) batch 128", lambda: _step(cl(xc), 2), lambda: _step(th(xt), 2)))
    small_c = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    small_t = torch.nn.Sequential(
        torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    vc, vt = convlab.randn(4, 8), torch.randn(4, 8)

    def many(fn, x):
        for _ in range(200):
            fn(x)

    with_grad = "module call x200, 5-layer MLP, batch 4 (no grad)"
    cases.append((with_grad, lambda: convlab.no_grad()(many)(small_c, vc), lambda: torch.no_grad()(many)(small_t, vt)))
    return cases


def main() -> None:
    args = timing.parse_args(__doc__.splitlines()[0])
    timing.report_header("losses, activations and Linear: forward + backward, float32")
    rng = np.random.default_rng(0)
    for name, fn_cl, fn_th in loss_cases(rng) + activation_cases(rng) + layer_cases(rng):
        if args.only and args.only not in name:
            continue
        t_cl, t_th = timing.compare(fn_cl, fn_th, repeat=args.repeat, rounds=args.rounds)
        timing.report_row(name, t_cl, t_th)


if __name__ == "__main__":
    main()
