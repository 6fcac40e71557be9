"""Data types. convlab's dtypes are NumPy's (``convlab.float32 is numpy.dtype('float32')``),
so they compare, print and convert the way NumPy and CuPy expect.

Type promotion follows PyTorch, not NumPy (see :func:`result_type`): an integer tensor combined
with a float tensor takes the float tensor's dtype (NumPy would give float64), Python numbers
never widen a tensor of their own kind (``float32_tensor * 0.5`` stays float32), and a 0-d
tensor only matters when its kind is higher than the dimensioned operands'.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

float16 = half = np.dtype("float16")
float32 = float = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
int16 = short = np.dtype("int16")
int32 = int = np.dtype("int32")
int64 = long = np.dtype("int64")
uint8 = np.dtype("uint8")
bool = np.dtype("bool")

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The floating dtype used for Python floats and random factories (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype (float32 or float64), like ``torch.set_default_dtype``."""
    global _default_float
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype(): only floating dtypes are allowed, got {dtype}")
    _default_float = dtype


def as_dtype(dtype) -> np.dtype:
    """Normalise anything NumPy understands as a dtype (``convlab.float32``, ``'float32'``,
    ``numpy.float32``) to a ``numpy.dtype``. Python ``float`` means float64, as in PyTorch."""
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"expected a dtype such as convlab.float32, got {dtype!r}") from None


def is_floating(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def promote_types(a, b) -> np.dtype:
    """PyTorch's ``promote_types``: the smallest dtype both ``a`` and ``b`` convert to safely,
    except that any float beats any integer (int64 with float32 is float32)."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    a_float, b_float = a.kind == "f", b.kind == "f"
    if a_float != b_float:
        return a if a_float else b
    return np.promote_types(a, b)


def _combine_categories(higher, lower):
    """PyTorch's rule for merging a higher-priority result with a lower-priority one: the lower
    one counts only if it is of a higher kind (bool < integer < float)."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def _scalar_dtype(value):
    """The dtype a Python (or NumPy) scalar contributes: bool, int64, or the default float."""
    if isinstance(value, (builtins.bool, np.bool_)):
        return bool
    if isinstance(value, (numbers.Integral, np.integer)):
        return int64
    if isinstance(value, (numbers.Real, np.floating)):
        return _default_float
    raise TypeError(f"expected a Tensor, array or real number, got {type(value).__name__}")


def result_type(*operands) -> np.dtype:
    """The dtype of an elementwise op on ``operands`` (tensors, arrays or Python scalars), by
    PyTorch's rules: dimensioned tensors first, then 0-d tensors, then Python scalars; each
    later group counts only if it is of a higher kind (bool < integer < float).

    Example::

        >>> convlab.dtypes.result_type(convlab.tensor([1, 2]), 0.5)
        dtype('float32')
    """
    dim = zero = scalar = None
    for x in operands:
        if isinstance(x, np.generic) or not hasattr(x, "dtype"):
            dt = _scalar_dtype(x)
            scalar = dt if scalar is None else promote_types(scalar, dt)
        elif x.ndim:
            dim = x.dtype if dim is None else promote_types(dim, x.dtype)
        else:
            zero = x.dtype if zero is None else promote_types(zero, x.dtype)
    return _combine_categories(dim, _combine_categories(zero, scalar))
