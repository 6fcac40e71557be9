"""Tensor factories: ``tensor``, ``from_numpy``, ``zeros``, ``ones``, ``full``, ``arange``,
``rand``, ``randn``, ``randint``, ... with PyTorch's signatures and dtype rules.

Dtype rules: a NumPy array keeps its dtype (float64 stays float64); Python floats become the
default float dtype (float32), Python ints int64, Python bools bool.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _random, backend, dtypes
from .tensor import Tensor


def _size(size, name="size") -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` as the tuple ``(2, 3)``, validated."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    if not all(isinstance(n, (numbers.Integral, Tensor)) and not isinstance(n, bool) for n in size):
        raise TypeError(f"{name}(): expected a size made of ints, got {tuple(size)!r}")
    size = tuple(int(n) for n in size)
    if any(n < 0 for n in size):
        raise ValueError(f"{name}(): sizes must be non-negative, got {size}")
    return size


def _size_arg(name, args, size):
    """The size given positionally (``zeros(2, 3)``) or as ``size=`` (``zeros(size=(2, 3))``)."""
    if size is not None:
        if args:
            raise TypeError(f"{name}(): give the size positionally or as size=, not both")
        args = (size,)
    return _size(args, name)


def _dtype_or_default(dtype):
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def _finish(array, device, requires_grad) -> Tensor:
    if device is not None and backend.device(device) != backend.device_of(array):
        array = backend.to_device(array, device)
    return Tensor(array, requires_grad=requires_grad)


def _infer_array(data):
    """A NumPy (or CuPy) array for ``data`` with PyTorch's dtype inference for Python values."""
    if isinstance(data, Tensor):
        return data.data
    if hasattr(data, "__cuda_array_interface__") or isinstance(data, np.ndarray):
        if data.dtype.kind not in "biufc":
            raise TypeError(f"tensor(): can't convert an array of dtype {data.dtype}; expected bool, integer or floating")
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    try:
        array = np.asarray(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"tensor(): expected a rectangular nested sequence of numbers ({e})") from None
    if array.dtype == np.float64:
        array = array.astype(dtypes.get_default_dtype())
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind not in "fbc":
        raise TypeError(f"tensor(): could not infer a numeric dtype from {type(data).__name__} (got NumPy dtype {array.dtype})")
    return array


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested list, NumPy/CuPy array or Tensor).

    Example::

        >>> convlab.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
        >>> convlab.tensor([0.5, 1.5], requires_grad=True)
        tensor([0.5000, 1.5000], requires_grad=True)
    """
    array = _infer_array(data)
    xp = backend.array_module(array)
    array = xp.array(array, dtype=None if dtype is None else dtypes.as_dtype(dtype), copy=True)
    return _finish(array, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor` but shares memory with ``data`` when dtype and device already match."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtypes.as_dtype(dtype)):
        return data if device is None or data.device == device else data.to(device)
    array = _infer_array(data)
    if dtype is not None:
        array = array.astype(dtypes.as_dtype(dtype), copy=False)
    return _finish(array, device, False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``array`` (dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy(): expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(_infer_array(array))


def _filled(fill, shape, dtype, device, requires_grad):
    xp = backend.module_for(device or "cpu")
    return Tensor(xp.full(shape, fill, dtype=_dtype_or_default(dtype)), requires_grad=requires_grad)


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros of shape ``size`` (default dtype float32).

    Example::

        >>> convlab.zeros(2, 3).shape
        (2, 3)
    """
    return _filled(0, _size_arg("zeros", args, size), dtype, device, requires_grad)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones of shape ``size`` (default dtype float32)."""
    return _filled(1, _size_arg("ones", args, size), dtype, device, requires_grad)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor of shape ``size`` (here: zeros, so results stay deterministic)."""
    return _filled(0, _size_arg("empty", args, size), dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``; the dtype is inferred from it as
    for :func:`tensor` (bool, int64 or float32) unless given."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()  # a number, typed like one (as PyTorch does)
    if dtype is None:
        dtype = _infer_array(fill_value).dtype
    shape = _size((size,) if isinstance(size, numbers.Integral) else tuple(size), "full")
    return _filled(fill_value, shape, dtype, device, requires_grad)


def _like(x, dtype, device):
    return x.shape, x.dtype if dtype is None else dtype, x.device if device is None else device


def zeros_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(x, dtype, device)
    return zeros(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(x, dtype, device)
    return ones(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros_like(x, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(x, dtype, device)
    return full(shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def _number(name, arg, value):
    if isinstance(value, Tensor):
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name}(): '{arg}' must be a number, got {type(value).__name__}")
    return value


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values ``start, start + step, ...`` below ``end`` (int64 if all arguments are ints, else
    the default float dtype). ``arange(n)`` is ``0, 1, ..., n - 1``.

    Example::

        >>> convlab.arange(0, 1, 0.25)
        tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number("arange", k, v) for k, v in (("start", start), ("end", end), ("step", step)))
    if step == 0:
        raise ValueError("arange(): step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange(): upper bound and larger bound inconsistent with step sign (start={start}, end={end}, step={step})")
    integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = np.int64 if dtype is None and integral else _dtype_or_default(dtype)
    xp = backend.module_for(device or "cpu")
    if integral:
        values = xp.arange(start, end, step, dtype=dtype)
    else:  # computed in float64 and rounded once, as PyTorch's CPU kernel does
        count = max(0, math.ceil((end - start) / step))
        values = (start + xp.arange(count, dtype=np.float64) * step).astype(dtype)
    return Tensor(values, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace(): number of steps must be a non-negative int, got {steps!r}")
    start, end = _number("linspace", "start", start), _number("linspace", "end", end)
    xp = backend.module_for(device or "cpu")
    return Tensor(xp.linspace(start, end, steps, dtype=np.float64).astype(_dtype_or_default(dtype)), requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    for arg, v in (("n", n), ("m", m)):
        if v is not None and (not isinstance(v, numbers.Integral) or v < 0):
            raise ValueError(f"eye(): {arg} must be a non-negative int, got {v!r}")
    xp = backend.module_for(device or "cpu")
    return Tensor(xp.eye(n, m, dtype=_dtype_or_default(dtype)), requires_grad=requires_grad)


def _float_dtype(name, dtype):
    dtype = _dtype_or_default(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating dtype, got {dtype}")
    return dtype


def rand(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1) from convlab's generator (see :func:`manual_seed`)."""
    shape = _size_arg("rand", args, size)
    return _finish(_random.uniform(0.0, 1.0, shape, _float_dtype("rand", dtype)), device, requires_grad)


def randn(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from convlab's generator (see :func:`manual_seed`)."""
    shape = _size_arg("randn", args, size)
    return _finish(_random.normal(0.0, 1.0, shape, _float_dtype("randn", dtype)), device, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Integers uniformly from [low, high); ``randint(high, size)`` means low = 0.

    Example::

        >>> convlab.randint(0, 10, (3,)).dtype
        dtype('int64')
    """
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint(): missing the 'size' argument (a tuple such as (3,))")
    if high is None or not low < high:
        raise ValueError(f"randint(): expected low < high, got low={low}, high={high}")
    shape = _size((size,), "randint")
    return _finish(_random.integers(low, high, shape, dtypes.as_dtype(dtype or np.int64)), device, requires_grad)


def randperm(n, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0..n-1 (int64 by default)."""
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm(): n must be a non-negative int, got {n!r}")
    return _finish(_random.permutation(n).astype(dtypes.as_dtype(dtype or np.int64)), device, requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(x, dtype, device)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(x, dtype, device)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad)
