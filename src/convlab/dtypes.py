"""Data types. convlab's dtypes are NumPy's (``convlab.float32 is numpy.dtype('float32')``),
so they compare, print and convert the way NumPy and CuPy expect."""

from __future__ import annotations

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
