"""Shared timing harness for the benchmarks: the same work in convlab and PyTorch, same run.

Method (see docs/architecture.md): alternate the two libraries, take the best of several
repetitions, and pause briefly before each timed call so neither pays for the other's BLAS /
OpenMP threads still spinning from the previous block.
"""

from __future__ import annotations

import argparse
import os
import time

PAUSE_S = 0.15


def best_time(fn, repeat: int) -> float:
    """Best wall time of ``fn()`` over ``repeat`` calls, each after a short pause."""
    best = float("inf")
    for _ in range(repeat):
        time.sleep(PAUSE_S)
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compare(convlab_fn, torch_fn, repeat: int = 5, rounds: int = 3) -> tuple[float, float]:
    """Best times (seconds) of the two functions, alternating libraries round by round."""
    convlab_fn(), torch_fn()  # warm-up: JIT compilation, allocator, BLAS thread start
    t_cl = t_th = float("inf")
    for _ in range(rounds):
        t_cl = min(t_cl, best_time(convlab_fn, repeat))
        t_th = min(t_th, best_time(torch_fn, repeat))
    return t_cl, t_th


def cpu_description() -> str:
    """The CPU's model name and the vector ISA each library runs on (speed ratios depend on both)."""
    import platform

    import torch

    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    numba_cpu = os.environ.get("NUMBA_CPU_NAME", "host")
    return f"{model}, {isa}; numba target {numba_cpu}, torch {torch.backends.cpu.get_cpu_capability()}"


def report_header(title: str) -> None:
    import numpy
    import torch

    print(f"# {title}")
    print(f"# CPU: {cpu_description()}")
    print(f"# numpy {numpy.__version__}, torch {torch.__version__} (threads {torch.get_num_threads()})")
    print(f"{'case':<44} {'convlab ms':>11} {'torch ms':>10} {'ratio':>7}  extra")


def report_row(name: str, t_cl: float, t_th: float, extra: str = "") -> None:
    print(f"{name:<44} {t_cl * 1e3:>11.2f} {t_th * 1e3:>10.2f} {t_cl / t_th:>7.2f}  {extra}", flush=True)


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per round (best is kept)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations between the libraries")
    parser.add_argument("--only", default=None, help="run only cases whose name contains this text")
    return parser.parse_args()
