"""The compiled convolution tiles (convlab.ops._conv_kernels) on other CPUs than this one, and
their guards: the tile tests of test_conv_kernels.py rerun in interpreters where numba compiles
for a forced target (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``: an AVX2-only Haswell and a
generic x86-64 without AVX), so the 256-bit tiles are checked on an AVX-512 machine; the
``switch`` on the tile shape traps on a shape it was not compiled for; the intrinsic refuses
operands of the wrong type when a caller is compiled."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from convlab.backend import cpu_kernels

pytestmark = pytest.mark.skipif(not cpu_kernels.available(), reason="numba is not installed")

TESTS = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(TESTS), "src")
HASWELL = "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fxsr,+lzcnt,+mmx,+movbe,+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave"  # fmt: skip
TARGETS = {"haswell (AVX2)": ("haswell", HASWELL), "generic x86-64": ("generic", "")}


def _run(args, env=None, timeout=600):
    environ = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    environ.pop("CONVLAB_KERNELS", None)  # these tests are about the compiled tiles, even in a run that forces NumPy
    return subprocess.run([sys.executable, *args], env=environ, capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 targets")
@pytest.mark.parametrize("target", list(TARGETS))
def test_tile_tests_pass_on_a_forced_cpu(target, tmp_path):
    name, features = TARGETS[target]
    host = cpu_kernels.cpu_features()
    if not {f[1:] for f in features.split(",") if f} <= host | {"64bit"}:
        pytest.skip(f"this CPU cannot run code compiled for {target}")
    # a private cache: machine code compiled for this target must not mix with the host's
    env = {"NUMBA_CPU_NAME": name, "NUMBA_CPU_FEATURES": features, "NUMBA_CACHE_DIR": str(tmp_path)}
    probe = _run(
        ["-c", "from convlab.backend import cpu_kernels; from convlab.ops import _conv_kernels as k; "
               "print(cpu_kernels.has_avx512(), k.VECTOR_BYTES, k._FMA)"],
        env,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["False", "32", "fma" if "+fma" in features else "fmuladd"]
    done = _run(
        ["-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", os.path.join(TESTS, "test_conv_kernels.py"),
         "-k", "tile_shape or float32-False-2-0 or float64-False-2-0 or pad_turns or every_tile_shape"],
        env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.strip().splitlines()[-1]


_TILE_CALL = """
import numpy as np
from numba import njit
from convlab.ops._conv_kernels import _tile

@njit
def call(rows, a, rows_at, c):
    _tile(rows, 1, a, 0, rows_at, 1, 0, 0, a, 0, 16, 16, 0, 0, c, 0, 16, c, 0, 16, 1, 1, 1)

a, c = np.ones(64, {dtype}), np.zeros(64 * 16, np.float32)
call({rows}, a, np.arange(64, dtype={offsets}), c)
print("returned")
"""


def test_unexpected_tile_shape_traps():
    """A (rows, blocks) the switch was not compiled for stops the process, never returns with
    the output unwritten; a compiled shape runs."""
    ok = _run(["-c", _TILE_CALL.format(dtype="np.float32", rows=1, offsets="np.int64")])
    assert ok.returncode == 0 and "returned" in ok.stdout, ok.stderr
    bad = _run(["-c", _TILE_CALL.format(dtype="np.float32", rows=99, offsets="np.int64")])
    assert bad.returncode < 0 and "returned" not in bad.stdout  # killed by a signal (SIGILL from ud2)


@pytest.mark.parametrize(
    "dtype, offsets, message",
    [
        ("np.float64", "np.int64", "a, b, c and z must share one dtype, float32 or float64; got a float64, b float64, c float32"),
        ("np.int32", "np.int64", "a, b, c and z must share one dtype"),
        ("np.float32", "np.int32", "a_rows must hold int64 offsets, got int32"),
    ],
)  # fmt: skip
def test_tile_operands_are_type_checked(dtype, offsets, message):
    done = _run(["-c", _TILE_CALL.format(dtype=dtype, rows=1, offsets=offsets)])
    assert done.returncode != 0 and "TypingError" in done.stderr and message in done.stderr, done.stderr[-2000:]
