"""The compiled CPU kernels' one switchboard: whether they run, on which arrays, on how many threads.

convlab's hot loops (convolution, pooling, normalisation, activations, resampling, the optimiser
steps) have two implementations: NumPy array code, which runs everywhere (and on CuPy), and
kernels compiled with numba on first use. This module is the only place that decides between
them and the only place that imports numba:

- :func:`available`: numba and llvmlite import (they are default dependencies, but a platform
  or Python version may have no wheel yet). Without them convlab still imports and every op
  runs on the NumPy path; one warning says so, and what it costs.
- :func:`enabled` / :func:`disabled`: the environment variable ``CONVLAB_KERNELS=0`` or the
  context manager ``with cpu_kernels.disabled():`` force the NumPy path (to test it, or to
  compare the two).
- :func:`accepts`: the one predicate "can the compiled kernels take these arrays" (NumPy arrays
  of one supported dtype, optionally of one shape, C-contiguous, writable, large enough).
- :func:`jit`: a kernel compiled with convlab's options (cached on disk, GIL released, NumPy's
  division semantics); :func:`numba` for the kernels that need more of its API.
- :func:`cpu_features` and :func:`has_avx512`: what the kernels are compiled for, as numba
  itself decides it (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` when set, else the host's
  features with numba's own fallbacks).
- :func:`threads`: how many threads a parallel kernel may use (numba's, or 1 without numba);
  :func:`chunks` and :func:`split`: a kernel over independent items run on them.
- :func:`tuned`: the CPU runtime settings for a training loop (the BLAS on one thread, glibc
  keeping freed memory), applied for the duration of a ``with`` block, never at import.

Example::

    >>> from convlab.backend import cpu_kernels
    >>> with cpu_kernels.disabled():       # every op on its NumPy path
    ...     y = F.conv2d(x, w, padding=1)
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import warnings

import numpy as np
from threadpoolctl import ThreadpoolController

#: The dtypes the compiled kernels are written for (numba has no float16).
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: How much slower a training step is on the NumPy path (fmnist_cnn, batch 128, measured on
#: an AMD EPYC Zen 5 with AVX-512, 2 cores: see docs/architecture.md).
NUMPY_PATH_SLOWDOWN = "about 3x"

_ENV = "CONVLAB_KERNELS"
_disabled_depth = 0  # open disabled() blocks


@functools.cache
def numba():
    """The ``numba`` module, imported on first use; None when numba or llvmlite cannot be
    imported (then a single warning says the NumPy path is used and what it costs)."""
    try:
        import llvmlite  # noqa: F401  (numba's compiler; checked so a broken install is caught here)
        import numba
    except ImportError as error:  # an ImportError of numba itself or of one of its dependencies
        warnings.warn(
            f"convlab: the compiled CPU kernels are unavailable ({error}); every op runs on its NumPy "
            f"path, {NUMPY_PATH_SLOWDOWN} slower for training a CNN. Install numba to get the speed "
            "back: pip install numba",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return numba


def available() -> bool:
    """True when numba and llvmlite import (the kernels can be compiled)."""
    return numba() is not None


@functools.cache
def _switch(raw: str) -> bool:
    if raw not in ("", "0", "1"):
        raise ValueError(f"{_ENV}: expected 0 (NumPy path only) or 1 (compiled kernels), got {raw!r}")
    return raw != "0"


def enabled() -> bool:
    """True when the compiled kernels run: numba is available, ``CONVLAB_KERNELS`` is not ``0``
    and no :func:`disabled` block is open."""
    return _disabled_depth == 0 and _switch(os.environ.get(_ENV, "")) and available()


@contextlib.contextmanager
def disabled():
    """Force the NumPy path inside the ``with`` block (every op, every thread), as
    ``CONVLAB_KERNELS=0`` does for the whole process. Blocks nest.

    Example::

        >>> with cpu_kernels.disabled():
        ...     loss = F.cross_entropy(model(x), y)
        ...     loss.backward()
    """
    global _disabled_depth
    _disabled_depth += 1
    try:
        yield
    finally:
        _disabled_depth -= 1


def accepts(
    first, *others, dtypes=FLOAT_DTYPES, same_shape=False, contiguous=False, writable=False, min_size=0
) -> bool:
    """Whether the compiled kernels can take these arrays: they are enabled, every array is a
    NumPy ``ndarray`` of the first one's dtype, which is one of ``dtypes``; with ``same_shape``
    all have the first one's shape, with ``contiguous`` all are C-contiguous, with ``writable``
    all are writable, and the first has at least ``min_size`` elements."""
    if type(first) is not np.ndarray or first.dtype not in dtypes or first.size < min_size:
        return False
    for a in (first, *others):
        if type(a) is not np.ndarray or a.dtype != first.dtype:
            return False
        if (same_shape and a.shape != first.shape) or (contiguous and not a.flags.c_contiguous):
            return False
        if writable and not a.flags.writeable:
            return False
    return enabled()


def jit(function=None, **options):
    """``numba.njit`` with convlab's defaults (``cache=True``: compiled once per machine and
    kept on disk; ``nogil=True``; ``error_model="numpy"``: division as NumPy does it, no
    ZeroDivisionError checks in the loops); ``options`` override them. Compiles lazily, on the
    first call. Usable as ``jit(f, parallel=True)`` or as a decorator. Requires numba: call it
    only once :func:`accepts` (or :func:`available`) said yes."""
    if function is None:
        return functools.partial(jit, **options)
    return numba().njit(**{"cache": True, "nogil": True, "error_model": "numpy", **options})(function)


# ---------------------------------------------------------------------------------- the CPU
@functools.cache
def cpu_features() -> frozenset:
    """The features the kernels are compiled for, as numba decides them: ``NUMBA_CPU_FEATURES``
    when set, else the host's features as LLVM reports them (numba's own reading, which
    honours ``NUMBA_ENABLE_AVX=0`` and falls back to none when LLVM cannot tell). Names without
    the ``+``, e.g. ``{"avx2", "fma", "avx512f", ...}``; empty without numba."""
    if not available():
        return frozenset()
    from numba.core import codegen, config

    flat = config.CPU_FEATURES if config.CPU_FEATURES is not None else codegen.get_host_cpu_features()
    return frozenset(f[1:] for f in flat.split(",") if f.startswith("+"))


def has_avx512() -> bool:
    """Whether the kernels are compiled for 512-bit vector registers (AVX-512F)."""
    return "avx512f" in cpu_features()


def threads() -> int:
    """Threads a parallel kernel may use now (``numba.get_num_threads()``; 1 without numba)."""
    return numba().get_num_threads() if available() else 1


def max_threads() -> int:
    """The size of numba's thread pool (``NUMBA_NUM_THREADS``, default: every core; 1 without numba)."""
    return numba().config.NUMBA_NUM_THREADS if available() else 1


#: Elements below which :func:`chunks` keeps a call on the calling thread: starting a parallel
#: region costs more than it saves on a smaller array (and tests run many small calls at once).
PARALLEL_MIN_SIZE = 1 << 16


def chunks(count: int, size: int) -> int:
    """How many parts a kernel call over ``count`` independent items (planes, channels, rows)
    touching ``size`` elements in all is split into: one per thread (at most ``count``) when
    ``size`` reaches :data:`PARALLEL_MIN_SIZE`, else 1."""
    return max(1, min(threads(), count)) if size >= PARALLEL_MIN_SIZE else 1


def split(kernel):
    """A driver for the compiled ``kernel(*args, lo, hi)``, which handles items ``lo <= i < hi``
    of some range: ``run(args, count, parts)`` calls it on ``range(count)`` on the calling
    thread when ``parts`` is 1, else cut into ``parts`` contiguous pieces run on numba's
    threads (so the result does not depend on the thread count when each item is computed on
    its own). Requires numba: call it once :func:`accepts` said yes.

    Example::

        >>> run = cpu_kernels.split(scale_rows)        # scale_rows(x, out, lo, hi), compiled
        >>> run((x, out), len(x), cpu_kernels.chunks(len(x), x.size))
    """
    prange = numba().prange

    @jit(parallel=True)
    def parallel(args, count, parts):
        for t in prange(parts):
            kernel(*args, t * count // parts, (t + 1) * count // parts)

    def run(args, count, parts):
        if parts == 1:
            kernel(*args, 0, count)
        else:
            parallel(args, count, parts)

    return run


# ---------------------------------------------------------------------------------- runtime tuning
# Three process-wide settings, measured on the training steps of fmnist_cnn (docs/architecture.md)
# and resnet18_cifar (docs/performance.md), applied by tuned() for the duration of a training
# loop, never by ``import convlab``:
#
# - The BLAS on one thread. The heavy work runs in numba's parallel kernels; OpenBLAS's own
#   threads, after each GEMM, spin for a while waiting for the next one and take the cores
#   from numba's threads. The GEMMs left on the BLAS (Linear layers, 1x1 and grouped
#   convolutions) are small. CONVLAB_BLAS_THREADS=N gives it N threads instead.
# - glibc keeps freed memory. Each step allocates and frees the same large activations; by
#   default glibc returns blocks over 128 KiB to the kernel at once and the next step may pay
#   for the page faults again. Raising the mmap and trim thresholds keeps them in the heap.
# - NumPy's huge pages off. NumPy asks Linux for transparent huge pages on every array of 4 MiB
#   or more (madvise); where the kernel then compacts memory to find a free 2 MiB page on the
#   first touch ("defrag: madvise", a common default), the step stalls. Arrays over 32 MiB
#   (resnet18_cifar's first-stage activations at batch 128) are always fresh mmaps, so they pay
#   it on every step: 4.3 s per step with, 3.5 s without, on the 2-core test VM.
#   CONVLAB_MALLOC_TUNING=0 leaves glibc's and NumPy's defaults.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
_GLIBC_DEFAULTS = {_M_TRIM_THRESHOLD: 128 << 10, _M_MMAP_THRESHOLD: 128 << 10}
_KEPT = {_M_TRIM_THRESHOLD: 1 << 30, _M_MMAP_THRESHOLD: 32 << 20}


def blas_threads() -> int:
    """The BLAS thread count :func:`tuned` applies: ``CONVLAB_BLAS_THREADS`` (default 1)."""
    raw = os.environ.get("CONVLAB_BLAS_THREADS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CONVLAB_BLAS_THREADS: expected a positive integer, got {raw!r}")
    return int(raw)


@functools.cache
def _mallopt():
    """glibc's ``mallopt``, or None (macOS, Windows, musl, or ``CONVLAB_MALLOC_TUNING=0``)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return None


def _memory_tuning() -> bool:
    return os.environ.get("CONVLAB_MALLOC_TUNING", "1") != "0"


def _set_malloc(values) -> bool:
    mallopt = _mallopt()
    if mallopt is None or not _memory_tuning():
        return False
    return all([bool(mallopt(param, value)) for param, value in values.items()])  # noqa: C419  (set both, even if one fails)


def _set_numpy_hugepages(enabled):
    """Turn NumPy's madvise(MADV_HUGEPAGE) of large arrays on or off; returns the previous
    setting, or None where this NumPy has no such switch or memory tuning is off
    (``CONVLAB_MALLOC_TUNING=0``). The switch only acts on Linux."""
    multiarray = (np._core if hasattr(np, "_core") else np.core).multiarray
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is None or not _memory_tuning():
        return None
    return switch(enabled)


_tuned_depth = 0


@contextlib.contextmanager
def tuned():
    """The CPU runtime settings for a training loop, inside the ``with`` block only: the BLAS
    on :func:`blas_threads` threads, glibc's malloc keeping freed blocks of up to 32 MiB (and up
    to 1 GiB of free heap), NumPy not asking for transparent huge pages. All are undone on exit:
    the BLAS gets its thread counts back, glibc its default thresholds (128 KiB; no longer
    adjusted dynamically), NumPy its huge-page setting; blocks nest.
    The Trainer and the ``convlab`` command run inside one; user code may too.

    Example::

        >>> with cpu_kernels.tuned():
        ...     for x, y in loader:
        ...         ...  # forward, backward, step
    """
    global _tuned_depth
    if _tuned_depth:
        _tuned_depth += 1
        try:
            yield
        finally:
            _tuned_depth -= 1
        return
    # a fresh controller each time: it sees the BLAS libraries loaded by then (e.g. after torch)
    limits = ThreadpoolController().limit(limits=blas_threads(), user_api="blas")
    malloc = _set_malloc(_KEPT)
    hugepages = _set_numpy_hugepages(False)
    _tuned_depth = 1
    try:
        yield
    finally:
        _tuned_depth = 0
        if hugepages is not None:
            _set_numpy_hugepages(hugepages)
        if malloc:
            _set_malloc(_GLIBC_DEFAULTS)
        limits.restore_original_limits()
