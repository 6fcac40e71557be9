"""Memory layout: NCHW at the API, channels-last ``(N, *spatial, C)`` inside (a free
``moveaxis`` view), and back to C-contiguous NCHW for every output; zero padding."""

from __future__ import annotations

import numpy as np

from ...backend import array_module


def _channels_last(a):
    """``(N, C, *spatial)`` -> ``(N, *spatial, C)`` view."""
    return array_module(a).moveaxis(a, 1, -1)


def _channels_first(a):
    """``(N, *spatial, C)`` -> C-contiguous ``(N, C, *spatial)``, the layout every op returns:
    the owning array of a compiled kernel's output (:func:`_new_output`), else a copy."""
    owner = a.base
    if (
        type(owner) is np.ndarray
        and owner.flags.c_contiguous
        and owner.shape == (a.shape[0], a.shape[-1]) + a.shape[1:-1]
        and (
            np.moveaxis(owner, 1, -1).strides == a.strides
            and owner.__array_interface__["data"][0] == a.__array_interface__["data"][0]
        )
    ):
        return owner
    xp = array_module(a)
    return xp.ascontiguousarray(xp.moveaxis(a, -1, 1))


def _batched_channels_last(a, unbatched):
    """:func:`_channels_last` of ``a``, given a batch of one first when it is ``unbatched``."""
    return _channels_last(a[None] if unbatched else a)


def _unbatched_channels_first(a, unbatched):
    """:func:`_channels_first` of ``a``, its batch of one dropped again when ``unbatched``."""
    a = _channels_first(a)
    return a[0] if unbatched else a


def _new_output(shape, dtype):
    """A compiled kernel's output: an uninitialised C-contiguous ``(N, C, *spatial)`` NumPy
    array, returned as the channels-last ``(N, *spatial, C)`` view the kernels index
    (:func:`_channels_first` turns it back into the array itself, at no cost)."""
    return np.moveaxis(np.empty((shape[0], shape[-1]) + tuple(shape[1:-1]), dtype=dtype), 1, -1)


def _pad_spatial(a, lo, hi):
    """Zero-pad (negative amounts: crop) axes ``1..n`` of a channels-last array ``(N, *S, *T)``."""
    if not any(lo) and not any(hi):
        return a
    n = len(lo)
    crop = tuple(slice(max(-l, 0), a.shape[1 + i] - max(-h, 0)) for i, (l, h) in enumerate(zip(lo, hi)))
    a = a[(slice(None),) + crop]
    if all(l <= 0 and h <= 0 for l, h in zip(lo, hi)):
        return a
    xp = array_module(a)
    shape = (a.shape[0],) + tuple(a.shape[1 + i] + max(l, 0) + max(h, 0) for i, (l, h) in enumerate(zip(lo, hi)))
    out = xp.zeros(shape + a.shape[1 + n :], dtype=a.dtype)
    out[(slice(None),) + tuple(slice(max(l, 0), max(l, 0) + a.shape[1 + i]) for i, l in enumerate(lo))] = a
    return out
