"""Deploy with onnxruntime or run convlab? Inference time of convlab's own forward vs
onnxruntime on convlab's ONNX export of the same model, same run, same weights.

One timed call is a forward pass in evaluation mode (convlab under ``no_grad``), float32. The
outputs are compared before timing. The "torch ms" column of the shared harness holds
onnxruntime's time here (ratio = convlab / onnxruntime). The export time is printed too.

    python benchmarks/bench_onnx.py [--repeat 3] [--rounds 2] [--only resnet18] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(__file__))
import timing

import convlab
import convlab.onnx
from convlab import models

CASES = [
    # name, constructor, kwargs, input shape
    ("fmnist_cnn (256, 1, 28, 28)", models.fmnist_cnn, {}, (256, 1, 28, 28)),
    ("resnet18 (8, 3, 224, 224)", models.resnet18, {}, (8, 3, 224, 224)),
    ("mobilenet_v2 (8, 3, 224, 224)", models.mobilenet_v2, {}, (8, 3, 224, 224)),
    ("resnet18_cifar (128, 3, 32, 32)", models.resnet18_cifar, {}, (128, 3, 32, 32)),
]


def cpu_description() -> str:
    """The CPU model and its widest vector ISA (what both libraries' kernels can use)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name") and name in ("", platform.machine(), platform.processor()):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{name}, {isa}, {os.cpu_count()} logical CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per round (best is kept)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations between the libraries")
    parser.add_argument("--only", default=None, help="run only cases whose name contains this text")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="onnxruntime intra-op threads")
    args = parser.parse_args()
    print(f"# convlab forward vs onnxruntime {ort.__version__} on convlab's export (ratio = convlab / onnxruntime)")
    print(f"# CPU: {cpu_description()}; onnxruntime intra-op threads {args.threads}")
    print(f"{'case':<36} {'convlab ms':>11} {'ort ms':>10} {'ratio':>7}  export s, max |diff|", flush=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    for name, build, kwargs, shape in CASES:
        if args.only and args.only not in name:
            continue
        convlab.manual_seed(0)
        model = build(**kwargs).eval()
        x = convlab.randn(*shape)
        buffer = io.BytesIO()
        start = time.perf_counter()
        convlab.onnx.export(model, x, buffer, dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        export_s = time.perf_counter() - start
        session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        feed = {"input": x.numpy()}

        def run_convlab():
            with convlab.no_grad():
                return model(x).numpy()

        def run_ort():
            return session.run(None, feed)[0]

        diff = float(np.abs(run_convlab() - run_ort()).max())
        t_cl, t_ort = timing.compare(run_convlab, run_ort, repeat=args.repeat, rounds=args.rounds)
        print(f"{name:<36} {t_cl * 1e3:>11.2f} {t_ort * 1e3:>10.2f} {t_cl / t_ort:>7.2f}  {export_s:.2f}, {diff:.1e}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
