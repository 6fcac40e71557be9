"""Tensor factories: ``tensor``, ``from_numpy``, ``zeros``, ``ones``, ``full``, ``arange``,
``rand``, ``randn``, ``randint``, ... with PyTorch's signatures and dtype rules.

Dtype rules: a NumPy array keeps its dtype (float64 stays float64); Python floats become the
default float dtype (float32), Python ints int64, Python bools bool.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _random, backend, dtypes
from .tensor import Tensor


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    if not all(isinstance(n, (numbers.Integral, Tensor)) for n in size):
        raise TypeError(f"expected a size made of ints, got {size!r}")
    size = tuple(int(n) for n in size)
    if any(n < 0 for n in size):
        raise ValueError(f"sizes must be non-negative, got {size}")
    return size


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
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    array = np.asarray(data)
    if array.dtype == np.float64:
        array = array.astype(dtypes.get_default_dtype())
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64)
    elif array.dtype.kind not in "fb":
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
    return Tensor(array)


def _filled(fill, size, dtype, device, requires_grad):
    xp = backend.module_for(device or "cpu")
    return Tensor(xp.full(_size(size), fill, dtype=_dtype_or_default(dtype)), requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros of shape ``size``."""
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones of shape ``size``."""
    return _filled(1, size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor of shape ``size`` (here: zeros, so results stay deterministic)."""
    return _filled(0, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    if dtype is None:
        dtype = _infer_array(fill_value).dtype
    return _filled(fill_value, (size,) if isinstance(size, int) else size, dtype, device, requires_grad)


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


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values ``start, start + step, ...`` below ``end`` (int64 if all arguments are ints)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange(): step must be nonzero")
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, numbers.Integral) for v in (start, end, step)) else dtypes.get_default_dtype()
    xp = backend.module_for(device or "cpu")
    return Tensor(xp.arange(start, end, step, dtype=dtypes.as_dtype(dtype)), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    xp = backend.module_for(device or "cpu")
    return Tensor(xp.linspace(start, end, steps, dtype=_dtype_or_default(dtype)), requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix."""
    xp = backend.module_for(device or "cpu")
    return Tensor(xp.eye(n, m, dtype=_dtype_or_default(dtype)), requires_grad=requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1) from convlab's generator (see :func:`manual_seed`)."""
    return _finish(_random.uniform(0.0, 1.0, _size(size), _dtype_or_default(dtype)), device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from convlab's generator."""
    return _finish(_random.normal(0.0, 1.0, _size(size), _dtype_or_default(dtype)), device, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None) -> Tensor:
    """Integers uniformly from [low, high) (``randint(high, size)`` means low = 0)."""
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint(): missing the 'size' argument")
    return _finish(_random.integers(low, high, _size((size,)), dtypes.as_dtype(dtype or np.int64)), device, False)


def randperm(n, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1."""
    return _finish(_random.permutation(n).astype(dtypes.as_dtype(dtype or np.int64)), device, False)


def rand_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(x, dtype, device)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(x, dtype, device)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad)
