"""Pooling and unpooling over 1, 2 or 3 spatial dimensions.

- max / average / power-average (Lp) pooling, with PyTorch's kernel, stride, padding, dilation
  and ``ceil_mode`` semantics, ``return_indices``, ``count_include_pad`` and ``divisor_override``;
- adaptive average and max pooling (output size given, windows computed from it);
- max-unpooling from the indices of max-pooling, and bed-of-nails unpooling;
- two pooling methods from the literature that PyTorch lacks: stochastic pooling
  (Zeiler & Fergus 2013) and spectral pooling (Rippel, Snoek & Adams 2015).

Layout: input ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; every plane is pooled on its
own (the ops accept any number of leading dimensions).

Window geometry, per spatial dimension of size ``L`` with kernel ``k``, stride ``s``, padding
``p`` and dilation ``d``: window ``i`` reads positions ``i*s - p + j*d`` for ``j = 0..k-1``, and
there are ``out = floor((L + 2p - d(k-1) - 1) / s) + 1`` windows (``ceil`` with ``ceil_mode``,
dropping a last window that would start in the right padding); see :func:`pool_output_size`.

How it is computed (never a Python loop over output positions):

- average pooling loops over the ``k1*k2*k3`` kernel offsets; offset ``j`` is one strided view
  of the padded input holding element ``j`` of every window of the whole batch, so each step is
  one vectorised array operation (its gradient adds the views back the same way);
- max pooling needs each window's argmax, and array operations need several passes per offset
  for it; on the CPU one compiled (numba) loop finds maximum and argmax in a single pass over
  the unpadded input (NaN included), and the gradient is a compiled scatter-add through the
  argmax, both split over the planes on numba's threads (the 2 x 2, stride-2 window has its own
  loop, which vectorises). CuPy arrays (and other dtypes) unfold
  the windows into a ``(..., *out, K)`` array and take its first argmax instead;
- adaptive average pooling is separable: one small averaging matrix (a GEMM) per dimension.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
from typing import NamedTuple

import numpy as np

from .. import _random
from ..autograd.function import Function
from ..backend import array_module, cpu_kernels, scatter_add
from ..tensor import Tensor
from .conv.geometry import _SPATIAL_NAMES, _ntuple, conv_output_size

# dtypes the compiled CPU kernels handle; others (float16, CuPy arrays) take the array-op path
_KERNEL_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))


# ---------------------------------------------------------------------------------- geometry
def pool_output_size(size, kernel_size, stride, padding=0, dilation=1, ceil_mode=False) -> int:
    """Number of pooling windows along one dimension (PyTorch's ``pooling_output_shape``).

    ``floor((size + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``, the convolution
    formula (:func:`convlab.ops.conv.conv_output_size`, which computes it); with ``ceil_mode``
    the division rounds up, but the last window must start inside the input or the left
    padding, never in the right padding.

    Example::

        >>> pool_output_size(5, 2, 2), pool_output_size(5, 2, 2, ceil_mode=True)
        (2, 3)
    """
    if not ceil_mode:
        return conv_output_size(size, kernel_size, stride, padding, dilation)
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


class PoolGeometry(NamedTuple):
    """Where the windows of a pooling op lie; one entry per spatial dimension."""

    in_size: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_size: tuple

    @property
    def n_offsets(self) -> int:
        return math.prod(self.kernel)

    @property
    def extent(self) -> tuple:
        """Length of the padded buffer that holds every window (padding and ceil-mode overhang)."""
        return tuple(
            max(p + n, (o - 1) * s + (k - 1) * d + 1)
            for n, k, s, p, d, o in zip(self.in_size, self.kernel, self.stride, self.padding, self.dilation, self.out_size)
        )

    @property
    def overlapping(self) -> bool:
        """Whether some input position belongs to two windows (then gradients must be summed)."""
        return any(k > 1 and s < (k - 1) * d + 1 for k, s, d in zip(self.kernel, self.stride, self.dilation))

    @property
    def tiles_exactly(self) -> bool:
        """Windows side by side, covering the padded buffer exactly once (e.g. 2x2 stride 2 on 28x28)."""
        return all(
            d == 1 and s == k and o * k == e for k, s, d, o, e in zip(self.kernel, self.stride, self.dilation, self.out_size, self.extent)
        )


def _window_args(who, n, kernel_size, stride, padding, dilation, limit_padding) -> tuple:
    """Checked ``(kernel, stride, padding, dilation)`` tuples of a pooling layer.

    ``limit_padding``: padding must be at most half the kernel size (PyTorch's rule for max and
    average pooling, whatever the dilation).
    """
    kernel = _ntuple(who, "kernel_size", kernel_size, n)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _ntuple(who, "stride", stride, n)
    padding = _ntuple(who, "padding", padding, n)
    dilation = _ntuple(who, "dilation", dilation, n)
    if any(k <= 0 for k in kernel):
        raise ValueError(f"{who}: kernel_size must be positive, got kernel_size={kernel}")
    if any(s <= 0 for s in stride):
        raise ValueError(f"{who}: stride must be positive, got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise ValueError(f"{who}: dilation must be positive, got dilation={dilation}")
    if any(p < 0 for p in padding):
        raise ValueError(f"{who}: padding must be non-negative, got padding={padding}")
    if limit_padding:
        limit = tuple(k // 2 for k in kernel)
        if any(p > m for p, m in zip(padding, limit)):
            raise ValueError(
                f"{who}: padding must be at most half of the kernel size, i.e. <= {limit}, "
                f"got padding={padding} for kernel_size={kernel}"
            )
    return kernel, stride, padding, dilation


def _geometry(who, in_size, kernel_size, stride, padding, dilation, ceil_mode, limit_padding) -> PoolGeometry:
    kernel, stride, padding, dilation = _window_args(who, len(in_size), kernel_size, stride, padding, dilation, limit_padding)
    out = tuple(pool_output_size(*a, ceil_mode) for a in zip(in_size, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        raise ValueError(
            f"{who}: kernel_size={kernel} with dilation={dilation} does not fit in the input of spatial size "
            f"{tuple(in_size)} padded by {padding}: the output size would be {out}, expected every size >= 1"
        )
    geom = PoolGeometry(tuple(in_size), kernel, stride, padding, dilation, out)
    if any(d > 1 for d in dilation):
        # A dilated window can step over a small input and see only padding; PyTorch then returns
        # -inf with an index outside the window, so refuse instead of computing nonsense.
        positions = _unfolded_positions(np, geom)
        for a, (pos, size) in enumerate(zip(positions, in_size)):
            if not ((pos >= 0) & (pos < size)).any(axis=len(in_size) + a).all():
                raise ValueError(
                    f"{who}: with kernel_size={kernel}, dilation={dilation} and padding={padding}, some windows along "
                    f"spatial dim {a} (size {size}) contain only padding; expected every window to overlap the input"
                )
    return geom


def _check_input(who, input, n, arg="input", integer_ok=False):
    """``input`` as a Tensor of shape ``(N, C, *spatial)`` or ``(C, *spatial)`` with a usable dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected {arg} to be a convlab Tensor, got {type(input).__name__}")
    dims = _SPATIAL_NAMES[n]
    if input.ndim not in (n + 1, n + 2) or 0 in input.shape[-(n + 1):]:
        raise ValueError(
            f"{who}: expected {arg} of shape (N, C, {dims}) or (C, {dims}) with non-zero C, {dims}, "
            f"got shape {tuple(input.shape)}"
        )
    kind = input.dtype.kind
    if kind != "f" and not (integer_ok and kind in "iu"):
        wanted = "a floating-point or integer" if integer_ok else "a floating-point"
        raise TypeError(f"{who}: expected {wanted} {arg}, got dtype {input.dtype}")
    return input


def _output_size_arg(who, output_size, in_size):
    """Adaptive pooling's ``output_size``: an int or a tuple whose ``None`` entries keep the input
    size (2-d and 3-d only, as in PyTorch)."""
    n = len(in_size)
    if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
        values = (output_size,) * n
    elif isinstance(output_size, (tuple, list)) and len(output_size) == n:
        values = tuple(output_size)
    else:
        expected = "an int" if n == 1 else f"an int or a tuple of {n} entries, each an int or None"
        raise TypeError(f"{who}: output_size must be {expected}, got {output_size!r}")
    out = []
    for v, size in zip(values, in_size):
        if v is None and n == 1:  # PyTorch's 1-d adaptive pooling has no None
            raise TypeError(f"{who}: output_size must be an int, got {output_size!r}")
        if v is None:
            out.append(size)
        elif isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0:
            out.append(int(v))
        else:
            raise ValueError(f"{who}: output_size entries must be non-negative ints or None, got output_size={output_size!r}")
    return tuple(out)


# ---------------------------------------------------------------------------------- windows
def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _offsets(geom):
    """The kernel offsets in PyTorch's window scan order (row-major)."""
    return itertools.product(*(range(k) for k in geom.kernel))


def _window_view(a, geom, offset):
    """Element ``offset`` of every window at once: a strided view of ``a``, shape ``(..., *out)``."""
    return a[(Ellipsis, *(
        slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in zip(offset, geom.dilation, geom.stride, geom.out_size)
    ))]


def _pad(x, geom, fill):
    """``x`` inside a buffer of length ``geom.extent`` filled with ``fill`` (``x`` itself if none is needed)."""
    extent = geom.extent
    if extent == geom.in_size:
        return x
    n = len(extent)
    buf = array_module(x).full(x.shape[:-n] + extent, fill, dtype=x.dtype)
    buf[(Ellipsis, *(slice(p, p + m) for p, m in zip(geom.padding, geom.in_size)))] = x
    return buf


def _crop(a, geom):
    """The input-sized part of a padded buffer (a view)."""
    if a.shape[-len(geom.in_size):] == geom.in_size:
        return a
    return a[(Ellipsis, *(slice(p, p + m) for p, m in zip(geom.padding, geom.in_size)))]


def _broadcast_axes(vectors):
    """1-D arrays, one per spatial dim, reshaped to broadcast against each other: (o1,1,1), (o2,1), (o3,)."""
    n = len(vectors)
    return [v.reshape((-1,) + (1,) * (n - 1 - a)) for a, v in enumerate(vectors)]


def _flat_index(positions, in_size):
    """Row-major flat index into one input plane of the given per-dimension positions."""
    flat = positions[0]
    for pos, size in zip(positions[1:], in_size[1:]):
        flat = flat * size + pos
    return flat


def _fold(per_offset, geom, lead_shape, like):
    """Adjoint of taking the window views: add each offset's array back at its window positions.

    ``per_offset`` yields, in scan order, one array (broadcastable to ``(..., *out)``) per kernel
    offset. Returns the gradient with respect to the unpadded input.
    """
    xp = array_module(like)
    shape = lead_shape + geom.extent
    overlap = geom.overlapping
    buf = xp.empty(shape, dtype=like.dtype) if geom.tiles_exactly else xp.zeros(shape, dtype=like.dtype)
    for offset, values in zip(_offsets(geom), per_offset):
        view = _window_view(buf, geom, offset)
        if overlap:
            view += values
        else:
            view[...] = values
    return _crop(buf, geom)


def _unfold(xpad, geom):
    """Every window as a row: a ``(..., *out, K)`` copy of the strided windows of ``xpad``."""
    xp = array_module(xpad)
    n = len(geom.kernel)
    lead = xpad.shape[:-n]
    st = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad,
        lead + geom.out_size + geom.kernel,
        st[:-n] + tuple(t * s for t, s in zip(st[-n:], geom.stride)) + tuple(t * d for t, d in zip(st[-n:], geom.dilation)),
    )
    return view.reshape(lead + geom.out_size + (geom.n_offsets,))


def _unfolded_positions(xp, geom):
    """Per spatial dim, the positions of all window elements, broadcastable to ``(*out, *kernel)``."""
    n = len(geom.kernel)
    out = []
    for a, (k, s, p, d, m) in enumerate(zip(geom.kernel, geom.stride, geom.padding, geom.dilation, geom.out_size)):
        pos = (xp.arange(m) * s - p)[:, None] + xp.arange(k) * d
        shape = [1] * (2 * n)
        shape[a], shape[n + a] = m, k
        out.append(pos.reshape(shape))
    return out


def _first_argmax(w, valid=None):
    """Index along the last axis of each row's maximum, with PyTorch's tie rules.

    The first maximum wins; a NaN beats everything and the last NaN wins; positions where
    ``valid`` (a callable returning a mask broadcastable to ``w``) is False - padding - never win,
    even against a row whose real entries are all ``-inf``.
    """
    xp = array_module(w)
    arg = w.argmax(axis=-1)
    if w.dtype.kind != "f" and valid is None:
        return arg
    best = xp.take_along_axis(w, arg[..., None], axis=-1)[..., 0]
    if w.dtype.kind == "f":
        nan_rows = xp.isnan(best)
        if bool(nan_rows.any()):
            arg[nan_rows] = w.shape[-1] - 1 - xp.isnan(w[nan_rows][:, ::-1]).argmax(axis=-1)
    if valid is not None:
        lowest_rows = best == _lowest(w.dtype)
        if bool(lowest_rows.any()):
            arg[lowest_rows] = xp.broadcast_to(valid(), w.shape)[lowest_rows].argmax(axis=-1)
    return arg


def _scatter_add_planes(g, flat, in_size):
    """Gradient of ``y = x_plane.flat[flat]``: ``g`` summed into the flat positions of each plane
    (several outputs may pick the same input)."""
    xp = array_module(g)
    plane = math.prod(in_size)
    lead = g.shape[: g.ndim - len(in_size)]
    n_planes, n_outputs = math.prod(lead), math.prod(g.shape[len(lead):])
    if cpu_kernels.accepts(g, dtypes=_KERNEL_DTYPES):
        summed = np.empty((n_planes, plane), dtype=g.dtype)
        args = (np.ascontiguousarray(g).reshape(n_planes, n_outputs), np.ascontiguousarray(flat).reshape(n_planes, n_outputs), summed)
        _, scatter_add_planes = _kernels()
        scatter_add_planes(args, n_planes, cpu_kernels.chunks(n_planes, summed.size))
        return summed.reshape(lead + tuple(in_size))
    summed = xp.zeros(n_planes * plane, dtype=g.dtype)
    scatter_add(summed, (flat.reshape(n_planes, n_outputs) + (xp.arange(n_planes) * plane)[:, None]).ravel(), g.reshape(-1))
    return summed.reshape(lead + tuple(in_size))


# ---------------------------------------------------------------------------------- CPU kernels
# Max pooling's hot loops, compiled with numba on first use (cached on disk): plain Python loops
# over each window of a plane, PyTorch's CPU algorithm. A large call splits the planes over
# numba's threads (cpu_kernels.split; planes are independent, so the result does not depend on
# the thread count), a small one runs on the calling thread.
def _max_pool_plane(plane, y, flat, windows, sizes, lowest, nan_aware):
    """Max pooling of one flattened, unpadded D x H x W plane into ``y`` and ``flat`` (OD x OH x OW
    outputs, flattened; ``flat`` indexes the plane); ``sizes`` is ``[(D, H, W), (OD, OH, OW)]``.

    ``windows[axis, i] = (start, first, stop, dilation)``: window ``i`` along ``axis`` reads
    positions ``start + j * dilation`` for taps ``first <= j < stop``, those inside the input
    (padding is never read). PyTorch's rule: start from ``lowest`` at the first tap inside the
    input and take an element when it is larger (or, with ``nan_aware``, NaN), taps in scan
    order, so the first maximum wins, the last NaN wins over everything, and padding never does.
    """
    H, W = sizes[0, 1], sizes[0, 2]
    OD, OH, OW = sizes[1, 0], sizes[1, 1], sizes[1, 2]
    o = 0
    for od in range(OD):
        d_start, a0, a1, dd = windows[0, od, 0], windows[0, od, 1], windows[0, od, 2], windows[0, od, 3]
        for oh in range(OH):
            h_start, b0, b1, dh = windows[1, oh, 0], windows[1, oh, 1], windows[1, oh, 2], windows[1, oh, 3]
            for ow in range(OW):
                w_start, c0, c1, dw = windows[2, ow, 0], windows[2, ow, 1], windows[2, ow, 2], windows[2, ow, 3]
                best = lowest
                where = ((d_start + a0 * dd) * H + h_start + b0 * dh) * W + w_start + c0 * dw
                for a in range(a0, a1):
                    for b in range(b0, b1):
                        row = ((d_start + a * dd) * H + h_start + b * dh) * W + w_start
                        for c in range(c0, c1):
                            i = row + c * dw
                            v = plane[np.uint64(i)]  # unsigned: no negative-index wraparound check
                            take = v > best  # selects, not branches: maxima are unpredictable
                            if nan_aware:
                                take |= v != v  # noqa: PLR0124  (the NaN test, inlined)
                            best = v if take else best
                            where = i if take else where
                y[o] = best
                flat[o] = where
                o += 1


def _max_pool_plane_2x2(plane, y, flat, W, OH, OW, nan_aware):
    """:func:`_max_pool_plane` for the commonest window, 2 x 2 with stride 2 on a 2-d plane of
    width ``W``, every window inside it: the four taps in scan order with fixed bounds, which
    LLVM vectorises along the output row."""
    for oh in range(OH):
        top = 2 * oh * W
        bottom = top + W
        out = oh * OW
        for ow in range(OW):
            i = top + 2 * ow
            best = plane[i]  # the first tap: larger than the start value lowest, or equal and at the same index
            where = i
            for j in (i + 1, bottom + 2 * ow, bottom + 2 * ow + 1):
                v = plane[j]
                take = v > best
                if nan_aware:
                    take |= v != v  # noqa: PLR0124  (the NaN test, inlined)
                best = v if take else best
                where = j if take else where
            y[out + ow] = best
            flat[out + ow] = where


def _scatter_add_rows(g, flat, out, lo, hi):
    """out[p] = 0, then out[p, flat[p, o]] += g[p, o] in output order (PyTorch's summation
    order), for planes ``lo..hi``."""
    for p in range(lo, hi):
        out[p, :] = 0
        for o in range(g.shape[1]):
            out[p, flat[p, o]] += g[p, o]


@functools.cache
def _kernels():
    """``(max_pool, scatter_add)``, compiled on first use: :func:`cpu_kernels.split` drivers
    (``run(args, planes, chunks)``) of the per-plane kernels above."""
    max_pool_plane = cpu_kernels.jit(_max_pool_plane)
    max_pool_plane_2x2 = cpu_kernels.jit(_max_pool_plane_2x2)

    @cpu_kernels.jit
    def max_pool_planes(x, y, flat, windows, sizes, lowest, two_by_two, lo, hi):
        # The NaN test doubles a window's time, so a plane gets it only when it holds a NaN
        # (told by a vectorised pass over the plane, which leaves it in cache for the pooling).
        for p in range(lo, hi):
            plane = x[p]
            has_nan = False
            for i in range(plane.size):
                has_nan |= plane[i] != plane[i]
            if two_by_two:
                max_pool_plane_2x2(plane, y[p], flat[p], sizes[0, 2], sizes[1, 1], sizes[1, 2], has_nan)
            else:
                max_pool_plane(plane, y[p], flat[p], windows, sizes, lowest, has_nan)

    return cpu_kernels.split(max_pool_planes), cpu_kernels.split(cpu_kernels.jit(_scatter_add_rows))


# ---------------------------------------------------------------------------------- max pooling
def _windows(geom):
    """``(3, max out size, 4)`` int64 table of :func:`_max_pool_plane`'s window bounds per axis
    (1-d and 2-d pooling run as 3-d, the missing leading axes one window of one tap at 0):
    ``(start, first tap inside the input, stop, dilation)``."""
    n = len(geom.kernel)
    table = np.zeros((3, max(geom.out_size), 4), dtype=np.int64)
    table[:, :, 2:] = 1
    for a, (size, k, s, p, d, m) in enumerate(zip(geom.in_size, geom.kernel, geom.stride, geom.padding, geom.dilation, geom.out_size)):
        start = np.arange(m) * s - p
        first, stop = np.maximum(0, (-start + d - 1) // d), np.minimum(k, (size - start + d - 1) // d)
        table[3 - n + a, :m] = np.stack([start, first, stop, np.full(m, d)], axis=1)
    return table


def _max_pool_compiled(x, geom):
    """Max pooling on the CPU with the compiled kernel: ``(y, flat indices)``."""
    n = len(geom.kernel)
    lead = x.shape[:-n]
    rows = math.prod(lead)
    planes = np.ascontiguousarray(x).reshape(rows, math.prod(geom.in_size))
    y = np.empty((rows, math.prod(geom.out_size)), dtype=x.dtype)
    flat = np.empty(y.shape, dtype=np.int64)
    as3d = (1,) * (3 - n)
    sizes = np.array([as3d + geom.in_size, as3d + geom.out_size])  # an array: parallel drivers take no nested tuples
    two_by_two = geom.kernel == geom.stride == (2, 2) and geom.padding == (0, 0) and geom.dilation == (1, 1) and geom.extent == geom.in_size
    args = (planes, y, flat, _windows(geom), sizes, x.dtype.type(_lowest(x.dtype)), two_by_two)
    max_pool_planes, _ = _kernels()
    max_pool_planes(args, rows, cpu_kernels.chunks(rows, x.size))
    shape = lead + geom.out_size
    return y.reshape(shape), flat.reshape(shape)


def _max_pool_unfolded(x, geom):
    """Max pooling with array ops (any backend, any dtype): unfold the windows, first argmax."""
    xp = array_module(x)
    w = _unfold(_pad(x, geom, _lowest(x.dtype)), geom)
    positions = _unfolded_positions(xp, geom)

    def valid():
        mask = True
        for pos, size in zip(positions, geom.in_size):
            mask = mask & (pos >= 0) & (pos < size)
        return mask.reshape(geom.out_size + (-1,))

    arg = _first_argmax(w, valid if geom.extent != geom.in_size else None)
    y = xp.take_along_axis(w, arg[..., None], axis=-1)[..., 0]
    flat_table = _flat_index(positions, geom.in_size).reshape(geom.out_size + (-1,))
    flat = xp.take_along_axis(xp.broadcast_to(flat_table, w.shape), arg[..., None], axis=-1)[..., 0]
    return y, flat


def _max_pool_arrays(x, geom):
    """``(y, flat argmax indices)`` of max pooling: compiled on the CPU, array ops elsewhere."""
    if cpu_kernels.accepts(x, dtypes=_KERNEL_DTYPES):
        return _max_pool_compiled(x, geom)
    return _max_pool_unfolded(x, geom)


class MaxPool(Function):
    """y[..., i] = max over window i of x (padding counts as -inf).

    Shape: ``(..., *in_size) -> (..., *out_size)`` with ``out_size`` from :func:`pool_output_size`.
    Forward also finds each window's argmax as a flat index into its input plane (PyTorch's
    rule: the first maximum in scan order; a NaN wins, the last NaN among several).
    Gradient: dL/dx is dL/dy routed to each window's argmax and summed where windows share one.
    """

    @staticmethod
    def forward(ctx, x, geom, return_indices):
        y, flat = _max_pool_arrays(x, geom)
        ctx.flat, ctx.in_size = flat, geom.in_size
        return (y, flat) if return_indices else y

    @staticmethod
    def backward(ctx, g, *unused_index_grad):
        return _scatter_add_planes(g, ctx.flat, ctx.in_size)


# ---------------------------------------------------------------------------------- average pooling
def _avg_divisor(geom, count_include_pad, divisor_override, xp, dtype):
    """What each window's sum is divided by: a Python number or an array broadcastable to ``out``."""
    if divisor_override:
        return divisor_override
    counts = []
    for n, k, s, p, m in zip(geom.in_size, geom.kernel, geom.stride, geom.padding, geom.out_size):
        start = np.arange(m) * s - p
        if count_include_pad:
            count = np.minimum(start + k, n + p) - start
        else:
            count = np.minimum(start + k, n) - np.maximum(start, 0)
        counts.append(count)
    if all(bool((c == k).all()) for c, k in zip(counts, geom.kernel)):
        return geom.n_offsets
    divisor = math.prod(_broadcast_axes([xp.asarray(c, dtype=dtype) for c in counts]))
    return divisor


def _axis_window_view(a, axis, offset, stride, dilation, out):
    """Element ``offset`` of every window along one axis: a strided view of ``a``."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(offset * dilation, offset * dilation + stride * (out - 1) + 1, stride)
    return a[tuple(index)]


def _window_sums(xpad, geom):
    """The sum of every window of the padded input; a box sum is separable, so it is taken
    along one spatial dim at a time (k - 1 additions per dim instead of K - 1 in all)."""
    n = len(geom.kernel)
    a = xpad
    for axis, k, s, d, m in zip(range(xpad.ndim - n, xpad.ndim), geom.kernel, geom.stride, geom.dilation, geom.out_size):
        if k == 1 and s == 1 and m == a.shape[axis]:
            continue  # a 1-wide window along this dim: nothing to sum
        views = (_axis_window_view(a, axis, o, s, d, m) for o in range(k))
        total = next(views).copy()
        for v in views:
            total += v
        a = total
    return a.copy() if a is xpad else a


def _window_sums_adjoint(g, geom):
    """Gradient of :func:`_window_sums` with respect to the unpadded input: each output's
    gradient spread over its window, one spatial dim at a time (the stages in reverse)."""
    xp = array_module(g)
    n = len(geom.kernel)
    lead = g.shape[: g.ndim - n]
    for a in reversed(range(n)):
        k, s, d, m = geom.kernel[a], geom.stride[a], geom.dilation[a], geom.out_size[a]
        if k == 1 and s == 1 and m == geom.extent[a]:
            continue
        overlap = k > 1 and s < (k - 1) * d + 1
        tiles = d == 1 and s == k and m * k == geom.extent[a]
        shape = lead + geom.out_size[:a] + geom.extent[a:]
        spread = xp.empty(shape, dtype=g.dtype) if tiles else xp.zeros(shape, dtype=g.dtype)
        for o in range(k):
            view = _axis_window_view(spread, len(lead) + a, o, s, d, m)
            if overlap:
                view += g
            else:
                view[...] = g
        g = spread
    return _crop(g, geom)


def _avg_pool_forward(x, geom, divisor):
    y = _window_sums(_pad(x, geom, 0), geom)
    y /= divisor
    return y


def _avg_pool_backward(g, geom, divisor):
    return _window_sums_adjoint(g / divisor, geom)


class AvgPool(Function):
    """y[..., i] = (sum over window i of x) / divisor_i.

    ``divisor_i`` is the window's size counting padding but not the ceil-mode overhang
    (``count_include_pad=True``), the number of real input elements in it (False), or
    ``divisor_override``. Gradient: dL/dx[j] = sum over the windows i containing j of dL/dy[i] / divisor_i.
    """

    @staticmethod
    def forward(ctx, x, geom, count_include_pad, divisor_override):
        divisor = _avg_divisor(geom, count_include_pad, divisor_override, array_module(x), x.dtype)
        ctx.geom, ctx.divisor = geom, divisor
        return _avg_pool_forward(x, geom, divisor)

    @staticmethod
    def backward(ctx, g):
        return _avg_pool_backward(g, ctx.geom, ctx.divisor)


class LPPool(Function):
    """Power-average pooling, PyTorch's formula: y = (K * avg_pool(x^p))^(1/p), K = kernel volume.

    Without ``ceil_mode`` this is ``(sum over the window of x^p)^(1/p)``: p = 2 is the L2 pooling
    of the lecture, p -> inf tends to max pooling of |x| (which :func:`lp_pool2d` computes for
    p = inf, as PyTorch), p = 1 is sum pooling. A negative x to a fractional power, or a negative
    window sum under an odd p, is NaN (silently, as in PyTorch).
    Gradient, with s = K * avg_pool(x^p): dL/dx = avg_pool_backward(dL/dy * K * y / (p s)) * p x^(p-1),
    and 0 for windows where s = 0 (as PyTorch, whose relu(|s|) blocks it there).
    """

    @staticmethod
    def forward(ctx, x, geom, norm_type):
        divisor = _avg_divisor(geom, True, None, array_module(x), x.dtype)
        with np.errstate(invalid="ignore"):
            s = _avg_pool_forward(x**norm_type, geom, divisor) * geom.n_offsets
            y = s ** (1.0 / norm_type)
        if ctx.needs_input_grad[0]:
            ctx.x, ctx.s, ctx.y, ctx.geom, ctx.divisor, ctx.norm_type = x, s, y, geom, divisor, norm_type
        return y

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        s, p = ctx.s, ctx.norm_type
        nonzero = s != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ds = g * xp.where(nonzero, ctx.y / xp.where(nonzero, s, 1), 0) * (ctx.geom.n_offsets / p)
            return _avg_pool_backward(ds, ctx.geom, ctx.divisor) * (p * ctx.x ** (p - 1))


# ---------------------------------------------------------------------------------- adaptive pooling
def _adaptive_bounds(in_size, out_size):
    """PyTorch's adaptive windows: window i spans [floor(i*n/m), ceil((i+1)*n/m))."""
    i = np.arange(out_size)
    return (i * in_size) // out_size, ((i + 1) * in_size + out_size - 1) // out_size


def _adaptive_as_regular(in_size, out_size):
    """The equivalent regular pooling geometry when every output size divides its input size."""
    if not all(m and n % m == 0 for n, m in zip(in_size, out_size)):
        return None
    kernel = tuple(n // m for n, m in zip(in_size, out_size))
    return PoolGeometry(tuple(in_size), kernel, kernel, (0,) * len(kernel), (1,) * len(kernel), tuple(out_size))


def _adaptive_matrix(xp, dtype, in_size, out_size):
    """(out, in) matrix whose row i averages adaptive window i."""
    start, end = _adaptive_bounds(in_size, out_size)
    j = np.arange(in_size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return xp.asarray(inside / (end - start)[:, None], dtype=dtype)


def _apply_along_spatial(a, matrices):
    """Contract each of the last ``len(matrices)`` axes of ``a`` with the matching matrix's columns."""
    xp = array_module(a)
    n = len(matrices)
    for k, m in enumerate(matrices):
        axis = a.ndim - n + k
        a = xp.moveaxis(xp.tensordot(a, m, axes=([axis], [1])), -1, axis)
    return a


class AdaptiveAvgPool(Function):
    """y[..., i] = mean of x over adaptive window i, window i = [floor(i n/m), ceil((i+1) n/m)) per dim.

    Averaging over a box is separable, so y = x contracted with one (m, n) averaging matrix per
    spatial dim (a GEMM each); output size 1 everywhere (global average pooling) is a plain mean.
    Gradient: the transposed contraction, dL/dx = dL/dy contracted with each matrix's rows.
    """

    @staticmethod
    def forward(ctx, x, out_size):
        n = len(out_size)
        in_size = x.shape[-n:]
        xp = array_module(x)
        ctx.in_size = in_size
        if all(m == 1 for m in out_size):
            ctx.matrices = None
            return x.mean(axis=tuple(range(x.ndim - n, x.ndim)), keepdims=True)
        ctx.matrices = [_adaptive_matrix(xp, x.dtype, s, m) for s, m in zip(in_size, out_size)]
        return xp.ascontiguousarray(_apply_along_spatial(x, ctx.matrices))

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        if ctx.matrices is None:
            return xp.broadcast_to(g / math.prod(ctx.in_size), g.shape[: g.ndim - len(ctx.in_size)] + tuple(ctx.in_size))
        return _apply_along_spatial(g, [m.T for m in ctx.matrices])


def _adaptive_max_gathered(x, out_size):
    """Adaptive max pooling of windows of unequal size, ``(y, flat indices)``: gather the windows
    (each padded to the longest by repeating its last element, which never changes the argmax)."""
    xp = array_module(x)
    n = len(out_size)
    in_size = x.shape[-n:]
    tables = []
    for a, (size, m) in enumerate(zip(in_size, out_size)):
        start, end = _adaptive_bounds(size, m)
        longest = int((end - start).max()) if m else 1
        table = np.minimum(start[:, None] + np.arange(longest), end[:, None] - 1)
        shape = [1] * (2 * n)
        shape[a], shape[n + a] = m, longest
        tables.append(xp.asarray(table.reshape(shape)))
    n_offsets = math.prod(t.shape[n + a] for a, t in enumerate(tables))
    w = x[(Ellipsis, *tables)].reshape(x.shape[:-n] + tuple(out_size) + (n_offsets,))
    arg = _first_argmax(w)
    y = xp.take_along_axis(w, arg[..., None], axis=-1)[..., 0]
    flat_table = _flat_index(tables, in_size).reshape(tuple(out_size) + (n_offsets,))
    flat = xp.take_along_axis(xp.broadcast_to(flat_table, w.shape), arg[..., None], axis=-1)[..., 0]
    return y, flat


class AdaptiveMaxPool(Function):
    """y[..., i] = max of x over adaptive window i (see :class:`AdaptiveAvgPool` for the windows).

    When every output size divides its input size the windows are regular (kernel = stride =
    n/m) and this is :class:`MaxPool`. Gradient: dL/dy routed to each window's argmax.
    """

    @staticmethod
    def forward(ctx, x, out_size, return_indices):
        in_size = x.shape[-len(out_size):]
        geom = _adaptive_as_regular(in_size, out_size)
        y, flat = _adaptive_max_gathered(x, out_size) if geom is None else _max_pool_arrays(x, geom)
        ctx.flat, ctx.in_size = flat, in_size
        return (y, flat) if return_indices else y

    @staticmethod
    def backward(ctx, g, *unused_index_grad):
        return _scatter_add_planes(g, ctx.flat, ctx.in_size)


# ---------------------------------------------------------------------------------- unpooling
class MaxUnpool(Function):
    """Partial inverse of max pooling: out.flat[indices[..., i]] = x[..., i] per plane, zeros elsewhere.

    Shape: ``(..., *in) -> (..., *out_size)``; where several inputs share an index the last one is
    kept (PyTorch leaves this unspecified). Gradient: dL/dx[..., i] = dL/dout.flat[indices[..., i]].
    """

    @staticmethod
    def forward(ctx, x, indices, out_size):
        xp = array_module(x)
        n = len(out_size)
        lead = x.shape[:-n]
        plane = math.prod(out_size)
        n_planes = math.prod(lead)
        where = (indices.reshape(n_planes, math.prod(x.shape[-n:])) + (xp.arange(n_planes) * plane)[:, None]).ravel()
        out = xp.zeros(n_planes * plane, dtype=x.dtype)
        out[where] = x.reshape(-1)
        ctx.where, ctx.x_shape = where, x.shape
        return out.reshape(lead + tuple(out_size))

    @staticmethod
    def backward(ctx, g):
        gx = array_module(g).take(g.reshape(-1), ctx.where).reshape(ctx.x_shape) if ctx.needs_input_grad[0] else None
        return gx, None


class BedOfNailsUnpool(Function):
    """Bed-of-nails unpooling: each value goes to the top-left corner of its ``kernel`` block, zeros elsewhere.

    Shape: ``(..., *in) -> (..., *(in * kernel))``. Gradient: dL/dx = dL/dy at the block corners,
    i.e. dL/dy[..., ::k1, ::k2].
    """

    @staticmethod
    def forward(ctx, x, kernel):
        xp = array_module(x)
        n = len(kernel)
        corners = (Ellipsis, *(slice(None, None, k) for k in kernel))
        out = xp.zeros(x.shape[:-n] + tuple(m * k for m, k in zip(x.shape[-n:], kernel)), dtype=x.dtype)
        out[corners] = x
        ctx.corners = corners
        return out

    @staticmethod
    def backward(ctx, g):
        return g[ctx.corners]


# ---------------------------------------------------------------------------------- stochastic pooling
class StochasticPool(Function):
    """Stochastic pooling (Zeiler & Fergus 2013) of non-negative activations a.

    In window i the probabilities are p_j = a_j / S_i with S_i = sum_j a_j.
    Training (``uniform`` given: one U[0, 1) number per window): y_i = a_J, with J the first j
    whose cumulative sum a_1 + .. + a_j exceeds uniform_i * S_i, so P(J = j) = p_j; the gradient
    goes to a_J as for max pooling. An all-zero window gives 0.
    Evaluation (``uniform`` None): the probability-weighted average y_i = sum_j p_j a_j =
    (sum_j a_j^2) / S_i, with dy_i/da_j = (2 a_j - y_i) / S_i (0 for all-zero windows).
    """

    @staticmethod
    def forward(ctx, x, geom, uniform):
        xp = array_module(x)
        w = _unfold(x, geom)
        ctx.geom, ctx.sampled = geom, uniform is not None
        if uniform is None:
            total = w.sum(axis=-1)
            safe = xp.where(total > 0, total, 1)
            y = (w * w).sum(axis=-1) / safe
            if ctx.needs_input_grad[0]:
                ctx.w, ctx.y, ctx.safe = w, y, safe
            return y
        cumulative = xp.cumsum(w, axis=-1)
        threshold = uniform * cumulative[..., -1]
        chosen = xp.minimum((cumulative <= threshold[..., None]).sum(axis=-1), w.shape[-1] - 1)
        y = xp.take_along_axis(w, chosen[..., None], axis=-1)[..., 0]
        if ctx.needs_input_grad[0]:
            flat_table = _flat_index(_unfolded_positions(xp, geom), geom.in_size).reshape(geom.out_size + (-1,))
            ctx.flat = xp.take_along_axis(xp.broadcast_to(flat_table, w.shape), chosen[..., None], axis=-1)[..., 0]
        return y

    @staticmethod
    def backward(ctx, g):
        geom = ctx.geom
        if ctx.sampled:
            return _scatter_add_planes(g, ctx.flat, geom.in_size)
        dw = (g / ctx.safe)[..., None] * (2 * ctx.w - ctx.y[..., None])
        return _fold((dw[..., k] for k in range(geom.n_offsets)), geom, g.shape[: g.ndim - len(geom.kernel)], g)


# ---------------------------------------------------------------------------------- spectral pooling
def _low_frequencies(xp, n, m):
    """Indices of the m lowest frequencies of an n-point DFT, in the order of an m-point DFT:
    0, 1, .., ceil(m/2)-1, then -floor(m/2), .., -1 (taken modulo n)."""
    return xp.concatenate([xp.arange((m + 1) // 2), xp.arange(n - m // 2, n)])


class SpectralPool(Function):
    """Spectral pooling (Rippel, Snoek & Adams 2015): keep the lowest frequencies.

    y = Re(IDFT_m(crop_m(DFT_n(x) / n))) over the last two axes, where crop keeps the m lowest
    frequencies (see :func:`_low_frequencies`); the 1/n scaling (``norm="forward"``) makes a
    band-limited signal come out as its samples on the coarser grid. Taking the real part makes
    the kept spectrum conjugate-symmetric: it turns the unpaired Nyquist terms of an even m (the
    paper's "corner cases") into their real parts.
    Gradient (the adjoint of this linear map): dL/dx = Re(IDFT_n(zero_pad_n(DFT_m(dL/dy)))).
    """

    @staticmethod
    def forward(ctx, x, out_size):
        xp = array_module(x)
        rows, cols = (_low_frequencies(xp, n, m) for n, m in zip(x.shape[-2:], out_size))
        spectrum = xp.fft.fft2(x, norm="forward")
        kept = spectrum[..., rows[:, None], cols]
        ctx.rows, ctx.cols, ctx.in_size = rows, cols, x.shape[-2:]
        return xp.fft.ifft2(kept, norm="forward").real.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        spectrum = xp.fft.fft2(g)
        padded = xp.zeros(g.shape[:-2] + tuple(ctx.in_size), dtype=spectrum.dtype)
        padded[..., ctx.rows[:, None], ctx.cols] = spectrum
        return xp.fft.ifft2(padded).real.astype(g.dtype, copy=False)


# ================================================================================== public functions
def _max_pool(who, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x = _check_input(who, input, n, integer_ok=True)
    geom = _geometry(who, x.shape[-n:], kernel_size, stride, padding, dilation, ceil_mode, True)
    return MaxPool.apply(x, geom=geom, return_indices=bool(return_indices))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling; see :func:`max_pool2d`. Input ``(N, C, L)`` or ``(C, L)``."""
    return _max_pool("max_pool1d()", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling: the maximum of each ``kernel_size`` window.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``; floating point or integer.
        kernel_size: window size, an int or ``(kH, kW)``.
        stride: window step (default: ``kernel_size``).
        padding: implicit ``-inf`` padding on both sides, at most half the kernel size.
        dilation: spacing between the elements of a window.
        ceil_mode: round the output size up (a last, partial window), see :func:`pool_output_size`.
        return_indices: also return the argmax of each window as a flat index into its input
            plane (``h * W + w``), for :func:`max_unpool2d`.

    Shape:
        ``H_out = floor((H + 2 padding - dilation (kH - 1) - 1) / stride + 1)``, same for W.

    Ties go to the first maximum in row-major window order, a NaN wins; the gradient flows
    only to the argmax (seed 001: "the gradient only flows through this maximum element").

    Example::

        >>> x = convlab.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return _max_pool("max_pool2d()", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-D max pooling; see :func:`max_pool2d`. Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``;
    indices are flat into each ``D*H*W`` volume."""
    return _max_pool("max_pool3d()", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _check_avg_pool3d_input(who, geom):
    """PyTorch's avg_pool3d (and so lp_pool3d) also wants the unpadded input to hold the kernel."""
    if len(geom.kernel) == 3 and any(m < k for m, k in zip(geom.in_size, geom.kernel)):
        raise ValueError(f"{who}: input of spatial size {geom.in_size} is smaller than kernel_size={geom.kernel}")


def _avg_pool(who, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x = _check_input(who, input, n)
    geom = _geometry(who, x.shape[-n:], kernel_size, stride, padding, 1, ceil_mode, True)
    _check_avg_pool3d_input(who, geom)
    if divisor_override is not None and (
        not isinstance(divisor_override, numbers.Integral) or isinstance(divisor_override, bool) or divisor_override == 0
    ):
        raise ValueError(f"{who}: divisor_override must be a non-zero int or None, got {divisor_override!r}")
    return AvgPool.apply(x, geom=geom, count_include_pad=bool(count_include_pad), divisor_override=divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling; see :func:`avg_pool2d` (no ``divisor_override``, as in PyTorch)."""
    return _avg_pool("avg_pool1d()", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """2-D average pooling: the mean of each ``kernel_size`` window.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``, floating point.
        kernel_size, stride, padding, ceil_mode: as in :func:`max_pool2d` (zero padding, at most
            half the kernel size; no dilation).
        count_include_pad: divide by the window size including the zero padding (default) or by
            the number of real input elements in the window.
        divisor_override: divide every window's sum by this number instead.

    Shape:
        ``H_out = floor((H + 2 padding - kH) / stride + 1)``, same for W.

    The gradient of each output spreads evenly, 1/Q each, over its window's Q elements (seed 004).

    Example::

        >>> F.avg_pool2d(convlab.arange(9.0).reshape(1, 1, 3, 3), 2, stride=1)
        tensor([[[[2., 3.],
                  [5., 6.]]]])
    """
    return _avg_pool("avg_pool2d()", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """3-D average pooling; see :func:`avg_pool2d`. Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _avg_pool("avg_pool3d()", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _lp_pool(who, n, input, norm_type, kernel_size, stride, ceil_mode):
    x = _check_input(who, input, n)
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool) or not norm_type > 0:
        raise ValueError(f"{who}: norm_type must be a positive number, got {norm_type!r}")
    geom = _geometry(who, x.shape[-n:], kernel_size, stride, 0, 1, ceil_mode, False)
    if norm_type == math.inf:  # the limit p -> inf, computed as PyTorch does: max pooling of |x|
        return MaxPool.apply(x.abs(), geom=geom, return_indices=False)
    _check_avg_pool3d_input(who, geom)
    return LPPool.apply(x, geom=geom, norm_type=float(norm_type))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1-D power-average pooling; see :func:`lp_pool2d`."""
    return _lp_pool("lp_pool1d()", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-D power-average pooling: ``(sum over the window of x^p)^(1/p)`` with ``p = norm_type``.

    ``norm_type=2`` is L2 pooling (the L2 norm of each patch, seed 001); ``norm_type=float('inf')``
    is the limit, max pooling of ``|x|`` (its gradient routed through the argmax, as PyTorch).
    No padding; with ``ceil_mode`` a partial window's sum is scaled by kernel volume / its element
    count (PyTorch computes ``(K * avg_pool2d(x^p))^(1/p)``). Fractional powers of negative
    inputs are NaN, as in PyTorch.

    Example::

        >>> F.lp_pool2d(convlab.tensor([[[[3.0, 4.0], [0.0, 0.0]]]]), 2, 2)
        tensor([[[[5.]]]])
    """
    return _lp_pool("lp_pool2d()", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-D power-average pooling; see :func:`lp_pool2d`."""
    return _lp_pool("lp_pool3d()", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _adaptive_avg_pool(who, n, input, output_size):
    x = _check_input(who, input, n)
    out_size = _output_size_arg(who, output_size, x.shape[-n:])
    return AdaptiveAvgPool.apply(x, out_size=out_size)


def adaptive_avg_pool1d(input, output_size):
    """1-D adaptive average pooling; see :func:`adaptive_avg_pool2d`."""
    return _adaptive_avg_pool("adaptive_avg_pool1d()", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a given output size; ``output_size=1`` is global average pooling.

    Output window i along a dimension of size n pooled to m spans
    ``[floor(i n / m), ceil((i + 1) n / m))``: windows may differ in size and overlap when m
    does not divide n. ``None`` in ``output_size`` keeps that dimension's size.

    Example::

        >>> F.adaptive_avg_pool2d(convlab.ones(8, 512, 7, 7), 1).shape
        (8, 512, 1, 1)
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d()", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """3-D adaptive average pooling; see :func:`adaptive_avg_pool2d`."""
    return _adaptive_avg_pool("adaptive_avg_pool3d()", 3, input, output_size)


def _adaptive_max_pool(who, n, input, output_size, return_indices):
    x = _check_input(who, input, n)
    out_size = _output_size_arg(who, output_size, x.shape[-n:])
    return AdaptiveMaxPool.apply(x, out_size=out_size, return_indices=bool(return_indices))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-D adaptive max pooling; see :func:`adaptive_max_pool2d`."""
    return _adaptive_max_pool("adaptive_max_pool1d()", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a given output size (windows as in :func:`adaptive_avg_pool2d`);
    ``return_indices`` gives flat indices into each input plane, as :func:`max_pool2d`.

    Example::

        >>> F.adaptive_max_pool2d(convlab.arange(25.0).reshape(1, 1, 5, 5), 2)
        tensor([[[[12., 14.],
                  [22., 24.]]]])
    """
    return _adaptive_max_pool("adaptive_max_pool2d()", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3-D adaptive max pooling; see :func:`adaptive_max_pool2d`."""
    return _adaptive_max_pool("adaptive_max_pool3d()", 3, input, output_size, return_indices)


def _unpool_output_size(who, in_size, kernel, stride, padding, output_size):
    """PyTorch's rule: default (in - 1) * stride - 2 padding + kernel; an explicit size (spatial,
    or with the batch and channel dims) must lie strictly within stride of the default."""
    n = len(in_size)
    default = tuple((m - 1) * s - 2 * p + k for m, k, s, p in zip(in_size, kernel, stride, padding))
    if output_size is None:
        size = default
    else:
        size = tuple(int(v) for v in output_size)
        if len(size) == n + 2:
            size = size[2:]
        if len(size) != n:
            raise ValueError(f"{who}: output_size must have {n} or {n + 2} elements, got {tuple(output_size)}")
        for d, (v, m, s) in enumerate(zip(size, default, stride)):
            if not m - s < v < m + s:
                raise ValueError(
                    f"{who}: invalid output_size {tuple(output_size)}: dim {d} must be between {m - s} and {m + s} "
                    f"(exclusive) for an input of spatial size {tuple(in_size)}, kernel_size={kernel}, stride={stride}, "
                    f"padding={padding}"
                )
    if any(v < 1 for v in size):
        raise ValueError(f"{who}: the output size would be {size}, expected every size >= 1")
    return size


def _max_unpool(who, n, input, indices, kernel_size, stride, padding, output_size):
    x = _check_input(who, input, n)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{who}: expected indices to be a convlab Tensor, got {type(indices).__name__}")
    if indices.dtype != np.int64:
        raise TypeError(f"{who}: expected indices of dtype int64 (as returned by max_pool{n}d), got {indices.dtype}")
    if tuple(indices.shape) != tuple(x.shape):
        raise ValueError(f"{who}: expected indices of the input's shape {tuple(x.shape)}, got {tuple(indices.shape)}")
    kernel, stride, padding, _ = _window_args(who, n, kernel_size, stride, padding, 1, False)
    size = _unpool_output_size(who, x.shape[-n:], kernel, stride, padding, output_size)
    plane = math.prod(size)
    if indices.data.size:
        low, high = int(indices.data.min()), int(indices.data.max())
        if low < 0 or high >= plane:
            bad = low if low < 0 else high
            raise ValueError(
                f"{who}: found an invalid max index {bad} for an output of spatial size {size} (expected indices in "
                f"[0, {plane})); the indices do not match this output_size"
            )
    return MaxUnpool.apply(x, indices, out_size=size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """1-D max unpooling; see :func:`max_unpool2d`."""
    return _max_unpool("max_unpool1d()", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Max unpooling: put each value back where :func:`max_pool2d` found it, zeros elsewhere.

    Args:
        input: pooled values ``(N, C, H, W)`` or ``(C, H, W)``.
        indices: the ``return_indices`` output of the max pooling (int64, same shape).
        kernel_size, stride, padding: those of the max pooling.
        output_size: the pooled input's size (spatial, or with N and C), needed when several
            input sizes pool to the same output size; default ``(H - 1) stride - 2 padding + kH``.

    Example::

        >>> y, i = F.max_pool2d(x, 2, return_indices=True)
        >>> F.max_unpool2d(y, i, 2, output_size=x.shape)   # x with non-maxima zeroed
    """
    return _max_unpool("max_unpool2d()", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """3-D max unpooling; see :func:`max_unpool2d`."""
    return _max_unpool("max_unpool3d()", 3, input, indices, kernel_size, stride, padding, output_size)


def _bed_of_nails_unpool(who, input, kernel_size):
    x = _check_input(who, input, 2)
    kernel = _ntuple(who, "kernel_size", kernel_size, 2)
    if any(k <= 0 for k in kernel):
        raise ValueError(f"{who}: kernel_size must be positive, got kernel_size={kernel}")
    return BedOfNailsUnpool.apply(x, kernel=kernel)


def bed_of_nails_unpool2d(input, kernel_size):
    """Bed-of-nails unpooling (seed 001): each value in the top-left corner of a ``kernel_size``
    block, zeros elsewhere. Not in PyTorch.

    Shape: ``(N, C, H, W) -> (N, C, H kH, W kW)`` (or unbatched).

    Example::

        >>> F.bed_of_nails_unpool2d(convlab.tensor([[[[1.0, 2.0]]]]), 2)
        tensor([[[[1., 0., 2., 0.],
                  [0., 0., 0., 0.]]]])
    """
    return _bed_of_nails_unpool("bed_of_nails_unpool2d()", input, kernel_size)


def _stochastic_pool(who, input, kernel_size, stride, training):
    x = _check_input(who, input, 2)
    geom = _geometry(who, x.shape[-2:], kernel_size, stride, 0, 1, False, False)
    if bool((x.data < 0).any()):
        raise ValueError(
            f"{who}: expected a non-negative input (activations after ReLU: the sampling probabilities are "
            f"a / window sum), got a minimum of {float(x.data.min())}"
        )
    uniform = None
    if training:
        uniform = _random.uniform(0.0, 1.0, x.shape[:-2] + geom.out_size, x.dtype, x.device)
    return StochasticPool.apply(x, geom=geom, uniform=uniform)


def stochastic_pool2d(input, kernel_size, stride=None, training=True):
    """Stochastic pooling (Zeiler & Fergus, "Stochastic Pooling for Regularization of Deep
    Convolutional Neural Networks", ICLR 2013). Not in PyTorch.

    In training, each window outputs one of its elements, drawn with probability proportional
    to its value (so large activations are likely but not certain: a regulariser like dropout);
    at evaluation it outputs the probability-weighted average ``sum(a^2) / sum(a)``.

    Args:
        input: non-negative activations ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size, stride: the windows (stride defaults to ``kernel_size``; no padding).
        training: sample (True) or take the expectation-like weighted average (False).

    Uses convlab's random generator (:func:`convlab.manual_seed`).
    """
    return _stochastic_pool("stochastic_pool2d()", input, kernel_size, stride, training)


def _spectral_pool(who, input, output_size):
    x = _check_input(who, input, 2)
    out_size = _output_size_arg(who, output_size, x.shape[-2:])
    if any(not 1 <= m <= n for m, n in zip(out_size, x.shape[-2:])):
        raise ValueError(
            f"{who}: output_size must be between 1 and the input size {tuple(x.shape[-2:])} in each dim, got {out_size}"
        )
    return SpectralPool.apply(x, out_size=out_size)


def spectral_pool2d(input, output_size):
    """Spectral pooling (Rippel, Snoek & Adams, "Spectral Representations for Convolutional
    Neural Networks", NIPS 2015). Not in PyTorch.

    Transforms each plane with the 2-D DFT, keeps the ``output_size`` lowest frequencies and
    transforms back: the best approximation of the map by one of the smaller size in the least-
    squares sense, for any output size (no integer factor needed). Differentiable (it is linear).

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``, floating point.
        output_size: ``(H_out, W_out)`` or an int, at most the input size; ``None`` keeps a dim.

    Example::

        >>> F.spectral_pool2d(convlab.ones(1, 1, 8, 8), 3)     # constants stay constant
        tensor([[[[1., 1., 1.], ...
    """
    return _spectral_pool("spectral_pool2d()", input, output_size)
