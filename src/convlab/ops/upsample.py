"""Resizing feature maps: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic,
trilinear, area, and anti-aliased bilinear/bicubic) and ``pixel_shuffle``/``pixel_unshuffle``.

Every mode except ``area`` is *separable*: along each spatial axis, output position ``i`` is a
weighted sum of a few input positions ``index[i, k]`` with weights ``weight[i, k]`` (a row of
"taps"), and a 2-D or 3-D resize applies the axes' taps as an outer product:
``y[i, j] = sum_{a,b} wH[i, a] wW[j, b] x[iH[i, a], iW[j, b]]``. The gradient is the transpose:
``dx[iH[i, a], iW[j, b]] += wH[i, a] wW[j, b] dy[i, j]``.

Coordinates, exactly PyTorch's (``in``/``out`` are one axis' sizes):

- the source scale is ``(in - 1) / (out - 1)`` with ``align_corners=True`` (0 when out = 1);
  otherwise ``1 / scale_factor`` when a scale factor was given and ``recompute_scale_factor``
  is not True, else ``in / out``;
- ``nearest``: ``src = floor(i * scale)``; ``nearest-exact``: ``src = floor((i + 0.5) * scale)``,
  both clamped to ``in - 1``. PyTorch evaluates these in float32, with two kernels that round
  differently in rare cases (which one depends on the output size), and its backward always uses
  one of them; convlab reproduces all three, see :func:`_nearest_index`;
- ``linear`` family: ``src = scale * i`` (align_corners) or ``max(scale * (i + 0.5) - 0.5, 0)``;
  taps ``floor(src)`` and the next position (clamped), weights ``1 - t`` and ``t`` with
  ``t = src - floor(src)``; an axis whose size does not change is copied;
- ``bicubic``: the same ``src`` without the clamp at 0, four taps ``floor(src) - 1 .. + 2``
  clamped to the border, Keys' cubic convolution weights with ``A = -0.75``;
- ``antialias=True`` (bilinear/bicubic, when downsampling): the filter (triangle, or cubic with
  ``A = -0.5``) is stretched by the scale to cover every input pixel, and each row of weights is
  normalised to sum to 1 (as PIL does);
- ``area``: adaptive average pooling (:func:`convlab.ops.pool.adaptive_avg_pool2d`).

How it is computed: the taps are small ``(out, K)`` tables built once per call. On the CPU a
numba kernel applies them one axis at a time within each ``H x W`` (or ``D x H x W``) plane, the
later axes as contiguous row updates that vectorise, with the planes split over threads; the
gradient runs the transposed passes in reverse order. On a GPU each axis' taps become a dense
``(out, in)`` matrix applied with one ``tensordot`` per axis. Nearest modes are a gather
(``take`` along each axis) in the forward pass, for any dtype.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ..autograd.function import Function
from ..backend import array_module, cpu_kernels
from ..tensor import Tensor
from .conv.geometry import _ntuple
from .pool import _apply_along_spatial, _check_input, adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_NEAREST_MODES = ("nearest", "nearest-exact")
# Modes tied to one number of spatial dims; the others work on 1, 2 and 3.
_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_SPATIAL = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_CUBIC_A = -0.75  # PyTorch's bicubic (Keys' kernel with a = -0.75, as OpenCV)
_CUBIC_A_ANTIALIAS = -0.5  # PyTorch's anti-aliased bicubic (as PIL)
# PyTorch's 2-D nearest forward uses its vectorised kernel (float32 index rule of the backward)
# when out_H + out_W is at most this, and its generic kernel otherwise.
_NEAREST_2D_VECTORISED_MAX = 128


class Taps(NamedTuple):
    """One axis of a separable resampling: ``out[i] = sum_k weight[i, k] * in[index[i, k]]``."""

    index: np.ndarray  # (out, K) int64
    weight: np.ndarray  # (out, K) float64


# ---------------------------------------------------------------------------------- coordinates
def _source_scale(in_size: int, out_size: int, scale_factor, align_corners: bool) -> float:
    """PyTorch's ``area_pixel_compute_scale``: the step in input coordinates per output step."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / scale_factor if scale_factor else in_size / out_size


def _nearest_index(in_size: int, out_size: int, scale_factor, exact: bool, vectorised: bool, opmath) -> np.ndarray:
    """Source index of every output position of a nearest(-exact) resize, bit-exact with PyTorch.

    PyTorch has two CPU kernels whose float rounding differs in rare cases (e.g. 24 -> 148):

    - ``vectorised`` (its backward, and the 2-D forward when out_H + out_W <= 128): copies when
      the size is unchanged, halves the index when it doubles, else ``floor(float32(i) * s)``
      (``floor(float32((i + 0.5) * s))`` for exact) with the scale ``s`` rounded to float32;
    - generic (every other forward): ``area_pixel_compute_source_index`` in ``opmath`` (float64
      for float64 inputs, else float32), rounded to float32 before the floor.
    """
    i = np.arange(out_size)
    if vectorised:
        if not exact and out_size == in_size:
            return i
        if not exact and out_size == 2 * in_size:
            return i >> 1
        opmath = np.float32
    scale = opmath(1.0 / scale_factor) if scale_factor else opmath(in_size) / opmath(out_size)
    if vectorised:
        src = ((i + 0.5) * np.float64(scale)).astype(np.float32) if exact else i.astype(np.float32) * scale
    elif exact:
        src = np.maximum((np.float64(scale) * (i + 0.5) - 0.5).astype(opmath), 0)
        src = (src.astype(np.float64) + 0.5).astype(np.float32)
    else:
        src = (scale * i.astype(opmath)).astype(np.float32)
    return np.minimum(np.floor(src).astype(np.int64), in_size - 1)


def _nearest_taps(index: np.ndarray) -> Taps:
    """One tap of weight 1 per output position: a gather of ``index``."""
    return Taps(index[:, None], np.ones((index.size, 1)))


def _identity_taps(size: int) -> Taps:
    """PyTorch's linear and anti-aliased kernels copy an axis whose size does not change
    (whatever the scale factor)."""
    return _nearest_taps(np.arange(size))


def _linear_taps(in_size: int, out_size: int, scale: float, align_corners: bool) -> Taps:
    """Two taps ``floor(src)`` and ``floor(src) + 1`` (clamped) with weights ``1 - t``, ``t``."""
    i = np.arange(out_size)
    src = scale * i if align_corners else np.maximum(scale * (i + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - i0, 0.0, 1.0)
    i1 = i0 + (i0 < in_size - 1)
    return Taps(np.stack([i0, i1], axis=1), np.stack([1.0 - t, t], axis=1))


def _cubic_conv1(x, a):
    """Keys' cubic kernel on |x| <= 1."""
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_conv2(x, a):
    """Keys' cubic kernel on 1 < |x| < 2."""
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _cubic_taps(in_size: int, out_size: int, scale: float, align_corners: bool) -> Taps:
    """Four taps ``floor(src) - 1 .. floor(src) + 2`` clamped to the border, cubic weights."""
    i = np.arange(out_size)
    src = scale * i if align_corners else scale * (i + 0.5) - 0.5
    i0 = np.floor(src).astype(np.int64)
    t = np.clip(src - i0, 0.0, 1.0)
    index = np.clip(i0[:, None] + np.arange(-1, 3), 0, in_size - 1)
    a = _CUBIC_A
    weight = np.stack(
        [_cubic_conv2(t + 1, a), _cubic_conv1(t, a), _cubic_conv1(1 - t, a), _cubic_conv2(2 - t, a)], axis=1
    )
    return Taps(index, weight)


def _triangle_filter(x):
    return np.maximum(1.0 - np.abs(x), 0.0)


def _cubic_filter(x):
    x = np.abs(x)
    a = _CUBIC_A_ANTIALIAS
    return np.where(x < 1.0, _cubic_conv1(x, a), np.where(x < 2.0, _cubic_conv2(x, a), 0.0))


def _antialias_taps(in_size: int, out_size: int, scale: float, cubic: bool) -> Taps:
    """PyTorch's anti-aliased taps: the filter widened by ``scale`` when downsampling, centred
    at ``scale * (i + 0.5)``, sampled at the input pixel centres and normalised per row."""
    interp_size = 4 if cubic else 2
    support = interp_size * 0.5 * scale if scale >= 1.0 else interp_size * 0.5
    width = math.ceil(support) * 2 + 1
    center = scale * (np.arange(out_size) + 0.5)
    xmin = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    xsize = np.clip(np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - xmin, 0, width)
    j = np.arange(width)
    inv_scale = 1.0 / scale if scale >= 1.0 else 1.0
    weight = (_cubic_filter if cubic else _triangle_filter)((j + xmin[:, None] - center[:, None] + 0.5) * inv_scale)
    weight = np.where(j < xsize[:, None], weight, 0.0)
    total = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, total, out=np.zeros_like(weight), where=total != 0)
    return Taps(np.minimum(xmin[:, None] + j, in_size - 1), weight)


# ---------------------------------------------------------------------------------- kernels
@functools.cache
def _numba_kernels():
    """The CPU kernels over ``(planes, D, H, W)`` arrays (compiled on first use, cached on disk).

    Per plane, the separable sum runs one axis at a time, W, then H, then D, so the H and D
    passes are contiguous row updates (``row_out += w * row_in``) that vectorise; two small
    buffers hold the partial results. The transpose runs the same passes in reverse order.
    They release the GIL, so :func:`_run_on_planes` splits the planes over threads.
    """
    @cpu_kernels.jit(error_model="python")
    def resample(x, d_index, d_weight, h_index, h_weight, w_index, w_weight, out):
        planes, in_d, in_h = x.shape[0], x.shape[1], x.shape[2]
        out_d, out_h, out_w = out.shape[1], out.shape[2], out.shape[3]
        kd, kh, kw = d_index.shape[1], h_index.shape[1], w_index.shape[1]
        rows = np.empty((in_d, in_h, out_w), dtype=out.dtype)  # after the W pass
        cols = np.empty((in_d, out_h, out_w), dtype=out.dtype)  # after the H pass
        no_depth = in_d == 1 and out_d == 1
        for p in range(planes):
            for d in range(in_d):
                for h in range(in_h):
                    for ow in range(out_w):
                        acc = out.dtype.type(0)
                        for c in range(kw):
                            acc += w_weight[ow, c] * x[p, d, h, w_index[ow, c]]
                        rows[d, h, ow] = acc
            target = out[p] if no_depth else cols
            for d in range(in_d):
                for oh in range(out_h):
                    t = target[d, oh]
                    for ow in range(out_w):
                        t[ow] = 0
                    for b in range(kh):
                        r, wgt = rows[d, h_index[oh, b]], h_weight[oh, b]
                        for ow in range(out_w):
                            t[ow] += wgt * r[ow]
            if not no_depth:
                for od in range(out_d):
                    for oh in range(out_h):
                        t = out[p, od, oh]
                        for ow in range(out_w):
                            t[ow] = 0
                        for a in range(kd):
                            r, wgt = cols[d_index[od, a], oh], d_weight[od, a]
                            for ow in range(out_w):
                                t[ow] += wgt * r[ow]

    @cpu_kernels.jit(error_model="python")
    def resample_transpose(g, d_index, d_weight, h_index, h_weight, w_index, w_weight, gx):
        planes, out_d, out_h, out_w = g.shape
        in_d, in_h = gx.shape[1], gx.shape[2]
        kd, kh, kw = d_index.shape[1], h_index.shape[1], w_index.shape[1]
        rows = np.empty((in_d, in_h, out_w), dtype=g.dtype)
        cols = np.empty((in_d, out_h, out_w), dtype=g.dtype)
        no_depth = in_d == 1 and out_d == 1
        for p in range(planes):
            source = g[p] if no_depth else cols
            if not no_depth:
                cols[:] = 0
                for od in range(out_d):
                    for a in range(kd):
                        wgt = d_weight[od, a]
                        for oh in range(out_h):
                            t, r = cols[d_index[od, a], oh], g[p, od, oh]
                            for ow in range(out_w):
                                t[ow] += wgt * r[ow]
            rows[:] = 0
            for d in range(in_d):
                for oh in range(out_h):
                    r = source[d, oh]
                    for b in range(kh):
                        t, wgt = rows[d, h_index[oh, b]], h_weight[oh, b]
                        for ow in range(out_w):
                            t[ow] += wgt * r[ow]
            gx[p] = 0
            for d in range(in_d):
                for h in range(in_h):
                    t, r = gx[p, d, h], rows[d, h]
                    for ow in range(out_w):
                        v = r[ow]
                        for c in range(kw):
                            t[w_index[ow, c]] += w_weight[ow, c] * v

    return resample, resample_transpose


@functools.cache
def _thread_pool():
    """``(executor, threads)`` for the kernels (``NUMBA_NUM_THREADS``, default: all cores), or None."""
    threads = cpu_kernels.max_threads()
    return (ThreadPoolExecutor(threads, thread_name_prefix="convlab-resample"), threads) if threads > 1 else None


# Below this many output elements a call runs on the calling thread (thread start-up would dominate).
_MIN_PARALLEL_ELEMENTS = 1 << 16


def _run_on_planes(kernel, source, args, target):
    """``kernel(source, *args, target)`` with the planes (axis 0) split over the thread pool."""
    pool = _thread_pool()
    planes = source.shape[0]
    if pool is None or planes < 2 or max(source.size, target.size) < _MIN_PARALLEL_ELEMENTS:
        kernel(source, *args, target)
        return
    pool, threads = pool
    chunks = min(threads, planes)
    bounds = [planes * k // chunks for k in range(chunks + 1)]
    futures = [pool.submit(kernel, source[lo:hi], *args, target[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
    for future in futures:
        future.result()


_IDENTITY_TAPS = Taps(np.zeros((1, 1), dtype=np.int64), np.ones((1, 1)))


def _kernel_args(taps, dtype) -> list:
    """The three (index, weight) pairs of the (D, H, W) kernels, identity for missing axes."""
    taps = (_IDENTITY_TAPS,) * (3 - len(taps)) + tuple(taps)
    args = []
    for t in taps:
        args += [t.index, t.weight.astype(dtype)]
    return args


_INPUT_DTYPES = (*cpu_kernels.FLOAT_DTYPES, np.dtype(np.float16))  # float16 computed in float32


def _compute_dtype(dtype):
    """Kernels run in float32 or float64 (float16 is computed in float32, as PyTorch's opmath)."""
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _taps_matrix(t: Taps, in_size: int):
    """Dense ``(out, in)`` NumPy matrix of one axis' taps (repeated indices add up)."""
    onehot = t.index[:, :, None] == np.arange(in_size)
    return (onehot * t.weight[:, :, None]).sum(axis=1)


def _resample_matrices(a, matrices):
    """The array-op path (CuPy; NumPy without the compiled kernels): one contraction per axis
    with the taps' dense matrices, in the kernels' compute dtype on NumPy (float16 in float32)."""
    xp = array_module(a)
    dtype = a.dtype if xp is not np else _compute_dtype(a.dtype)
    out = _apply_along_spatial(a.astype(dtype, copy=False), [xp.asarray(m, dtype=dtype) for m in matrices])
    return out.astype(a.dtype, copy=False)


def resample(x, taps):
    """``x`` (any leading dims) resampled along its last ``len(taps)`` axes by ``taps``."""
    n = len(taps)
    lead, in_spatial = x.shape[:-n], x.shape[-n:]
    out_spatial = tuple(t.index.shape[0] for t in taps)
    if not cpu_kernels.accepts(x, dtypes=_INPUT_DTYPES):
        return _resample_matrices(x, [_taps_matrix(t, s) for t, s in zip(taps, in_spatial)])
    dtype = _compute_dtype(x.dtype)
    planes = math.prod(lead)
    x4 = np.ascontiguousarray(x, dtype=dtype).reshape((planes,) + (1,) * (3 - n) + in_spatial)
    out = np.empty((planes,) + (1,) * (3 - n) + out_spatial, dtype=dtype)
    if planes:
        _run_on_planes(_numba_kernels()[0], x4, _kernel_args(taps, dtype), out)
    return out.reshape(lead + out_spatial).astype(x.dtype, copy=False)


def resample_transpose(g, taps, in_spatial):
    """The transpose of :func:`resample`: ``g`` (the output's gradient) scattered back onto an
    array with spatial shape ``in_spatial``."""
    n = len(taps)
    lead = g.shape[:-n]
    if not cpu_kernels.accepts(g, dtypes=_INPUT_DTYPES):
        return _resample_matrices(g, [_taps_matrix(t, s).T for t, s in zip(taps, in_spatial)])
    dtype = _compute_dtype(g.dtype)
    planes = math.prod(lead)
    g4 = np.ascontiguousarray(g, dtype=dtype).reshape((planes,) + (1,) * (3 - n) + g.shape[-n:])
    gx = np.empty((planes,) + (1,) * (3 - n) + tuple(in_spatial), dtype=dtype)
    if planes:
        _run_on_planes(_numba_kernels()[1], g4, _kernel_args(taps, dtype), gx)
    return gx.reshape(lead + tuple(in_spatial)).astype(g.dtype, copy=False)


# ---------------------------------------------------------------------------------- ops
class Resample(Function):
    """Separable resampling of the last ``len(taps)`` axes (every mode but ``area``).

    Shape: ``(N, C, *in_spatial) -> (N, C, *out_spatial)``, ``out_spatial[a] = len(taps[a].index)``.

    ``y[i, j, ...] = sum_{a, b, ...} w0[i, a] w1[j, b] ... x[i0[i, a], i1[j, b], ...]``; with one
    tap of weight 1 per axis (nearest modes) this is a gather, done with ``take`` (any dtype).
    ``dx`` is the transpose: each ``dy`` element is added back to its taps with their weights.
    The gradient uses ``backward_taps``, equal to ``taps`` except where PyTorch's backward kernel
    differs from its forward (see :func:`interpolate`).
    """

    @staticmethod
    def forward(ctx, x, *, taps, backward_taps):
        n = len(taps)
        ctx.taps, ctx.in_spatial = backward_taps, x.shape[-n:]
        if all(t.index.shape[1] == 1 and (t.weight == 1).all() for t in taps):
            xp = array_module(x)
            for k, t in enumerate(taps):
                x = xp.take(x, xp.asarray(t.index[:, 0]), axis=x.ndim - n + k)
            return x
        return resample(x, taps)

    @staticmethod
    def backward(ctx, g):
        return resample_transpose(g, ctx.taps, ctx.in_spatial)


class PixelShuffle(Function):
    """Depth to space: ``(*, C r^2, H, W) -> (*, C, H r, W r)``,
    ``y[..., c, h r + i, w r + j] = x[..., c r^2 + i r + j, h, w]``; the gradient is
    :class:`PixelUnshuffle` of ``dy`` (a permutation, so its own transpose)."""

    @staticmethod
    def forward(ctx, x, *, factor):
        ctx.factor = factor
        return _depth_to_space(x, factor)

    @staticmethod
    def backward(ctx, g):
        return _space_to_depth(g, ctx.factor)


class PixelUnshuffle(Function):
    """Space to depth: ``(*, C, H r, W r) -> (*, C r^2, H, W)``, the inverse of
    :class:`PixelShuffle`; its gradient is the pixel shuffle of ``dy``."""

    @staticmethod
    def forward(ctx, x, *, factor):
        ctx.factor = factor
        return _space_to_depth(x, factor)

    @staticmethod
    def backward(ctx, g):
        return _depth_to_space(g, ctx.factor)


def _depth_to_space(x, r):
    *lead, c, h, w = x.shape
    n = len(lead)
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return array_module(x).ascontiguousarray(y).reshape(*lead, c // (r * r), h * r, w * r)


def _space_to_depth(x, r):
    *lead, c, h, w = x.shape
    n = len(lead)
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    y = y.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return array_module(x).ascontiguousarray(y).reshape(*lead, c * r * r, h // r, w // r)


# ---------------------------------------------------------------------------------- public API
def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _output_geometry(who, input, size, scale_factor, recompute_scale_factor, mode):
    """``(output_size, scale_factors)`` per spatial dim, PyTorch's rules; ``scale_factors`` entries
    are None when the kernels must use ``in / out``."""
    n = input.ndim - 2
    spatial = tuple(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError(
            f"{who}: give either size or scale_factor, not both (got size={size!r}, scale_factor={scale_factor!r})"
        )
    if size is None and scale_factor is None:
        raise ValueError(f"{who}: either size or scale_factor must be given, got neither")
    if recompute_scale_factor and size is not None:
        raise ValueError(
            f"{who}: recompute_scale_factor=True is only meaningful with scale_factor, not with an explicit size"
        )
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * n
        if len(sizes) != n:
            raise ValueError(
                f"{who}: size must have one entry per spatial dim of the input {spatial} ({n}), got size={size!r}"
            )
        if not all(_is_int(s) for s in sizes):
            raise TypeError(f"{who}: size must be an int or a tuple of {n} ints, got size={size!r}")
        out_size, scales = tuple(int(s) for s in sizes), (None,) * n
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
        if len(factors) != n:
            raise ValueError(
                f"{who}: scale_factor must have one entry per spatial dim of the input {spatial} ({n}), "
                f"got scale_factor={scale_factor!r}"
            )
        if not all(isinstance(f, numbers.Real) and not isinstance(f, bool) for f in factors):
            raise TypeError(
                f"{who}: scale_factor must be a number or a tuple of {n} numbers, got scale_factor={scale_factor!r}"
            )
        factors = tuple(float(f) for f in factors)
        out_size = tuple(math.floor(s * f) for s, f in zip(spatial, factors))
        # area always works from sizes; otherwise the kernels use 1/scale_factor unless told to recompute.
        scales = (None,) * n if recompute_scale_factor or mode == "area" else factors
    empty_ok = mode == "area"  # adaptive average pooling, which PyTorch lets return an empty tensor
    if 0 in spatial or any(o < 0 or (o == 0 and not empty_ok) for o in out_size):
        sizes = (
            "input spatial sizes must be positive and output sizes non-negative"
            if empty_ok
            else "input and output spatial sizes must be positive"
        )
        raise ValueError(
            f"{who}: {sizes}, got input {spatial} and output {out_size}"
            + (f" (from scale_factor={scale_factor!r})" if scale_factor is not None else "")
        )
    return out_size, scales


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    """Resize the spatial dims of ``input`` (upsampling or downsampling), PyTorch's
    ``torch.nn.functional.interpolate``.

    ``mode='nearest'`` copies the nearest input pixel: this is the "nearest-neighbour unpooling"
    of encoder-decoder networks (seed 001); ``bilinear`` is the smooth alternative used before a
    convolution instead of a transposed convolution.

    Args:
        input: ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        size: output spatial size, an int or a tuple with one int per spatial dim.
        scale_factor: multiplier of the spatial size, a number or one per spatial dim; the
            output size is ``floor(in * scale_factor)``.
        mode: ``'nearest'`` (index ``floor(i * scale)``), ``'nearest-exact'`` (pixel centres,
            ``floor((i + 0.5) * scale)``), ``'linear'`` (3-D input), ``'bilinear'`` and
            ``'bicubic'`` (4-D), ``'trilinear'`` (5-D) or ``'area'`` (adaptive average pooling;
            the only mode that accepts an output size of 0, giving an empty tensor, as PyTorch).
        align_corners: linear/cubic modes only: map the corner pixels' centres onto each other
            (scale ``(in - 1) / (out - 1)``) instead of the corners of the grids (default False).
        recompute_scale_factor: with ``scale_factor``, True makes the kernels use the computed
            ``in / out`` instead of ``1 / scale_factor`` (they differ when ``in * scale_factor``
            is not an integer).
        antialias: bilinear/bicubic on 4-D input only: low-pass filter when downsampling (the
            filter covers every input pixel), like PIL's resize.

    Shape:
        ``(N, C, *in) -> (N, C, *out)`` with ``out = size`` or ``floor(in * scale_factor)``.

    Matching PyTorch 2.13 bit for bit includes its backward kernels where they are not the exact
    transpose of its forward: nearest modes' rare float32 rounding differences (see
    :func:`_nearest_index`), and an axis whose size a scale factor leaves unchanged (bicubic
    copies the gradient when no size changes; anti-aliased modes filter the gradient along an
    axis they copied forward). One PyTorch bug is not reproduced: its anti-aliased kernels
    return the first input row everywhere when the output width is 1.

    Example::

        >>> x = convlab.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        >>> F.interpolate(x, scale_factor=2, mode="nearest")
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.],
                  [3., 3., 4., 4.],
                  [3., 3., 4., 4.]]]])
        >>> F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=True)
        tensor([[[[1.0000, 1.5000, 2.0000],
                  [2.0000, 2.5000, 3.0000],
                  [3.0000, 3.5000, 4.0000]]]])
    """
    return checked_interpolate(
        "interpolate()", input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
    )


def checked_interpolate(who, input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """:func:`interpolate` whose error messages start with ``who`` (a layer's repr, or a function name)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected input to be a convlab Tensor, got {type(input).__name__}")
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"{who}: unknown mode {mode!r}; expected one of {INTERPOLATE_MODES}")
    if mode in _NEAREST_MODES + ("area",):
        if align_corners is not None:
            raise ValueError(
                f"{who}: align_corners can only be set with the interpolating modes linear, bilinear, bicubic "
                f"and trilinear, got align_corners={align_corners!r} with mode={mode!r}"
            )
    elif align_corners is None:
        align_corners = False
    n = input.ndim - 2
    if mode in _MODE_DIMS and n != _MODE_DIMS[mode]:
        want = _MODE_DIMS[mode]
        raise ValueError(
            f"{who}: mode {mode!r} expects a {want + 2}-D input {_SPATIAL[want]}, got a {input.ndim}-D input of "
            f"shape {tuple(input.shape)}"
        )
    if n not in (1, 2, 3):
        raise ValueError(
            f"{who}: expected a 3-D, 4-D or 5-D input (N, C, *spatial) with 1 to 3 spatial dims, "
            f"got shape {tuple(input.shape)}"
        )
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"{who}: antialias=True needs mode 'bilinear' or 'bicubic' and a 4-D input, got mode={mode!r}")
    kind = input.dtype.kind
    if not (kind == "f" or (mode in _NEAREST_MODES and input.dtype == np.uint8)):
        raise TypeError(
            f"{who}: mode {mode!r} expects a floating-point input{' (or uint8)' if mode in _NEAREST_MODES else ''}, "
            f"got dtype {input.dtype}"
        )
    out_size, scales = _output_geometry(who, input, size, scale_factor, recompute_scale_factor, mode)
    in_size = tuple(input.shape[2:])
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n - 1](input, out_size)
    geometry = tuple(zip(in_size, out_size, scales))
    if mode in _NEAREST_MODES:
        exact = mode == "nearest-exact"
        opmath = np.float64 if input.dtype == np.float64 else np.float32
        vectorised = n == 2 and sum(out_size) <= _NEAREST_2D_VECTORISED_MAX
        taps = tuple(_nearest_taps(_nearest_index(i, o, s, exact, vectorised, opmath)) for i, o, s in geometry)
        backward_taps = tuple(_nearest_taps(_nearest_index(i, o, s, exact, True, opmath)) for i, o, s in geometry)
    elif antialias:
        cubic = mode == "bicubic"
        # PyTorch's anti-aliased backward filters every axis, even one whose size is unchanged.
        backward_taps = tuple(
            _antialias_taps(i, o, _source_scale(i, o, s, align_corners), cubic) for i, o, s in geometry
        )
        taps = tuple(_identity_taps(o) if i == o else t for (i, o, _), t in zip(geometry, backward_taps))
    elif mode == "bicubic":
        taps = tuple(_cubic_taps(i, o, _source_scale(i, o, s, align_corners), align_corners) for i, o, s in geometry)
        # PyTorch's bicubic backward copies the gradient when no size changes, whatever the scale.
        backward_taps = tuple(_identity_taps(o) for o in out_size) if out_size == in_size else taps
    else:
        taps = tuple(
            _identity_taps(o) if i == o else _linear_taps(i, o, _source_scale(i, o, s, align_corners), align_corners)
            for i, o, s in geometry
        )
        backward_taps = taps
    return Resample.apply(input, taps=taps, backward_taps=backward_taps)


def check_factor(who, arg, factor):
    """``factor`` as a positive int, else a TypeError/ValueError naming ``who`` and ``arg``."""
    if not _is_int(factor):
        raise TypeError(f"{who}: {arg} must be an int, got {type(factor).__name__} {factor!r}")
    if factor <= 0:
        raise ValueError(f"{who}: {arg} must be positive, got {factor}")
    return int(factor)


def pixel_shuffle(input, upscale_factor):
    """Rearrange ``(*, C r^2, H, W)`` into ``(*, C, H r, W r)`` (depth to space, ``r = upscale_factor``):
    the sub-pixel convolution upsampler of ESPCN (Shi et al. 2016).

    Args:
        input: a tensor with at least 3 dims whose channel dim (``-3``) is divisible by ``r^2``.
        upscale_factor: ``r``, a positive int.

    Shape: ``(*, C r^2, H, W) -> (*, C, H r, W r)``.

    Example::

        >>> F.pixel_shuffle(convlab.zeros(1, 9, 4, 4), 3).shape
        (1, 1, 12, 12)
    """
    return checked_pixel_shuffle("pixel_shuffle()", input, upscale_factor)


def checked_pixel_shuffle(who, input, upscale_factor):
    """:func:`pixel_shuffle` whose error messages start with ``who``."""
    r = check_factor(who, "upscale_factor", upscale_factor)
    _check_shuffle_input(who, input)
    if input.shape[-3] % (r * r):
        raise ValueError(
            f"{who}: the channel dim (-3) must be divisible by upscale_factor^2 = {r * r}, "
            f"got {input.shape[-3]} channels (input shape {tuple(input.shape)})"
        )
    return PixelShuffle.apply(input, factor=r)


def pixel_unshuffle(input, downscale_factor):
    """Rearrange ``(*, C, H r, W r)`` into ``(*, C r^2, H, W)`` (space to depth, ``r = downscale_factor``),
    the inverse of :func:`pixel_shuffle`.

    Args:
        input: a tensor with at least 3 dims whose height and width are divisible by ``r``.
        downscale_factor: ``r``, a positive int.

    Shape: ``(*, C, H r, W r) -> (*, C r^2, H, W)``.

    Example::

        >>> F.pixel_unshuffle(convlab.zeros(1, 1, 12, 12), 3).shape
        (1, 9, 4, 4)
    """
    return checked_pixel_unshuffle("pixel_unshuffle()", input, downscale_factor)


def checked_pixel_unshuffle(who, input, downscale_factor):
    """:func:`pixel_unshuffle` whose error messages start with ``who``."""
    r = check_factor(who, "downscale_factor", downscale_factor)
    _check_shuffle_input(who, input)
    h, w = input.shape[-2:]
    if h % r or w % r:
        raise ValueError(
            f"{who}: height and width must be divisible by downscale_factor = {r}, "
            f"got (H, W) = ({h}, {w}) (input shape {tuple(input.shape)})"
        )
    return PixelUnshuffle.apply(input, factor=r)


def _check_shuffle_input(who, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected input to be a convlab Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(f"{who}: expected an input with at least 3 dims (*, C, H, W), got shape {tuple(input.shape)}")


def nearest_unpool2d(input, kernel_size):
    """Nearest-neighbour unpooling (seed 001): each value repeated over a ``kernel_size`` block.

    The same as ``F.interpolate(input, scale_factor=kernel_size, mode="nearest")`` (and
    ``nn.Upsample``), which computes it; this alias names the lecture's third unpooling next to
    :func:`max_unpool2d` and :func:`bed_of_nails_unpool2d`. Not in PyTorch.

    Shape: ``(N, C, H, W) -> (N, C, H kH, W kW)`` (or unbatched).

    Example::

        >>> F.nearest_unpool2d(convlab.tensor([[[[1.0, 2.0]]]]), 2)
        tensor([[[[1., 1., 2., 2.],
                  [1., 1., 2., 2.]]]])
    """
    who = "nearest_unpool2d()"
    x = _check_input(who, input, 2)
    kernel = _ntuple(who, "kernel_size", kernel_size, 2)
    if any(k <= 0 for k in kernel):
        raise ValueError(f"{who}: kernel_size must be positive, got kernel_size={kernel}")
    if x.ndim == 3:  # interpolate wants a batch dim
        return interpolate(x.unsqueeze(0), scale_factor=kernel, mode="nearest").squeeze(0)
    return interpolate(x, scale_factor=kernel, mode="nearest")
