"""Training step of a 784-512-512-10 MLP: convlab vs PyTorch, same run, same weights.

Model: Linear(784, 512) - ReLU - Linear(512, 512) - ReLU - Linear(512, 10), cross_entropy loss,
SGD (lr 0.01). One timed call is one full step: zero_grad, forward, loss, backward, step.
Also timed: the same step at batch 16 (where per-op Python overhead shows), inference at batch
128, and a chain of 1,000 small elementwise ops forward + backward (the engine's overhead per op).
Before timing, the losses of the two libraries are checked to agree over a few steps.

    python benchmarks/bench_mlp.py [--repeat 5] [--rounds 3] [--only step]
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
from convlab import nn, optim  # noqa: E402

SIZES = (784, 512, 512, 10)


def make_models():
    """The MLP in both libraries, torch's weights copied from convlab's."""
    cl = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    th = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    )
    with torch.no_grad():
        for (name, p_th), p_cl in zip(th.named_parameters(), cl.parameters()):
            p_th.copy_(torch.from_numpy(p_cl.detach().numpy().copy()))
    return cl, th


def make_batch(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], batch)
    return (convlab.tensor(x), convlab.tensor(y)), (torch.from_numpy(x), torch.from_numpy(y))


def step_fns(cl, th, cl_batch, th_batch):
    cl_opt, th_opt = optim.SGD(cl.parameters(), lr=0.01), torch.optim.SGD(th.parameters(), lr=0.01)

    def cl_step():
        cl_opt.zero_grad()
        loss = F.cross_entropy(cl(cl_batch[0]), cl_batch[1])
        loss.backward()
        cl_opt.step()
        return loss

    def th_step():
        th_opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(th(th_batch[0]), th_batch[1])
        loss.backward()
        th_opt.step()
        return loss

    return cl_step, th_step


def check_same_losses(steps: int = 3) -> None:
    cl, th = make_models()
    cl_batch, th_batch = make_batch(128, seed=1)
    cl_step, th_step = step_fns(cl, th, cl_batch, th_batch)
    for i in range(steps):
        a, b = cl_step().item(), th_step().item()
        if abs(a - b) > 1e-4 * max(1.0, abs(b)):
            raise SystemExit(f"step {i}: convlab loss {a:.6f} differs from torch loss {b:.6f}")


def chain_fns(length: int = 1000, size: int = 64):
    x0 = np.linspace(-1, 1, size, dtype=np.float32)

    def run(lib):
        x = lib.tensor(x0, requires_grad=True)
        y = x
        for _ in range(length // 2):
            y = y * 0.999 + 0.001
        y.sum().backward()

    return (lambda: run(convlab)), (lambda: run(torch))


def main() -> None:
    args = timing.parse_args(__doc__.splitlines()[0])
    timing.report_header("784-512-512-10 MLP (Linear-ReLU-Linear-ReLU-Linear), cross_entropy, SGD lr=0.01")
    check_same_losses()
    cases = []
    for batch in (128, 16):
        cl, th = make_models()
        cl_batch, th_batch = make_batch(batch)
        cases.append((f"train step (fwd+bwd+SGD), batch {batch}", *step_fns(cl, th, cl_batch, th_batch)))
    cl, th = make_models()
    cl_batch, th_batch = make_batch(128)

    def cl_infer():
        with convlab.no_grad():
            cl(cl_batch[0])

    def th_infer():
        with torch.no_grad():
            th(th_batch[0])

    cases.append(("inference (no_grad), batch 128", cl_infer, th_infer))
    cases.append(("engine overhead: 1000 small ops fwd+bwd", *chain_fns()))
    for name, cl_fn, th_fn in cases:
        if args.only and args.only.lower() not in name.lower():
            continue
        t_cl, t_th = timing.compare(cl_fn, th_fn, args.repeat, args.rounds)
        timing.report_row(name, t_cl, t_th)


if __name__ == "__main__":
    main()
