"""Convolution speed: convlab vs PyTorch, forward and forward+backward, in the same run.

Each case is timed with benchmarks/timing.py (alternating libraries, best of several, a pause
before each timed call). Forward runs under no_grad; forward+backward back-propagates a fixed
output gradient into the weight, the bias and (except for first layers, whose input is data)
the input. GFLOP/s counts the multiply-adds of the convolution (2 flops each) in the GEMMs
actually needed: forward, plus weight gradient, plus input gradient where computed.

    python benchmarks/bench_conv.py [--only depthwise] [--repeat 5] [--rounds 3]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from timing import compare, parse_args, report_header, report_row

import convlab
import convlab.nn.functional as F


class Case(NamedTuple):
    name: str
    batch: int
    c_in: int
    c_out: int
    size: int
    kernel: int
    stride: int = 1
    padding: int = 1
    groups: int = 1
    input_grad: bool = True  # False for a first layer: its input is data
    kind: str = "dense"


CASES = [
    Case("fmnist conv1 128x1->32 @28 k3", 128, 1, 32, 28, 3, input_grad=False),
    Case("fmnist conv2 128x32->32 @28 k3", 128, 32, 32, 28, 3),
    Case("fmnist conv3 128x32->64 @14 k3", 128, 32, 64, 14, 3),
    Case("fmnist conv4 128x64->64 @14 k3", 128, 64, 64, 14, 3),
    Case("64x64->64 @32 k3", 64, 64, 64, 32, 3),
    Case("64x256->256 @8 k3", 64, 256, 256, 8, 3),
    Case("depthwise 64x128 @32 k3 g128", 64, 128, 128, 32, 3, groups=128, kind="depthwise"),
    Case("1x1 64x256->64 @16", 64, 256, 64, 16, 1, padding=0),
    Case("stem 32x3->64 @224 k7 s2", 32, 3, 64, 224, 7, stride=2, padding=3, input_grad=False),
]


def gflops(case: Case, backward: bool) -> float:
    out = (case.size + 2 * case.padding - case.kernel) // case.stride + 1
    macs = case.batch * case.c_out * out * out * (case.c_in // case.groups) * case.kernel**2
    passes = 1 + (1 + case.input_grad if backward else 0)
    return 2 * macs * passes / 1e9


def run(case: Case, repeat: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case.batch, case.c_in, case.size, case.size)).astype(np.float32)
    w = (rng.standard_normal((case.c_out, case.c_in // case.groups, case.kernel, case.kernel)) * 0.1).astype(np.float32)
    b = rng.standard_normal(case.c_out).astype(np.float32)
    args = {"stride": case.stride, "padding": case.padding, "groups": case.groups}

    xc = convlab.tensor(x, requires_grad=case.input_grad)
    wc, bc = convlab.tensor(w, requires_grad=True), convlab.tensor(b, requires_grad=True)
    xt = torch.tensor(x, requires_grad=case.input_grad)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = F.conv_output_shape((case.size, case.size), case.kernel, case.stride, case.padding)
    grad = rng.standard_normal((case.batch, case.c_out) + out).astype(np.float32)
    gc, g = convlab.tensor(grad), torch.tensor(grad)

    def cl_forward():
        with convlab.no_grad():
            F.conv2d(xc, wc, bc, **args)

    def th_forward():
        with torch.no_grad():
            torch.nn.functional.conv2d(xt, wt, bt, **args)

    def cl_train():
        wc.grad = bc.grad = xc.grad = None
        F.conv2d(xc, wc, bc, **args).backward(gc)

    def th_train():
        wt.grad = bt.grad = xt.grad = None
        torch.nn.functional.conv2d(xt, wt, bt, **args).backward(g)

    for label, fns, backward in (("fwd", (cl_forward, th_forward), False), ("fwd+bwd", (cl_train, th_train), True)):
        t_cl, t_th = compare(*fns, repeat=repeat, rounds=rounds)
        work = gflops(case, backward)
        report_row(f"{case.name} {label}", t_cl, t_th, f"GFLOP/s convlab {work / t_cl:6.1f}  torch {work / t_th:6.1f}")


def main() -> None:
    args = parse_args(__doc__)
    report_header("conv2d: convlab vs PyTorch (float32, CPU)")
    for case in CASES:
        if args.only is None or args.only in case.name:
            run(case, args.repeat, args.rounds)


if __name__ == "__main__":
    main()
