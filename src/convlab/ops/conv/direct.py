"""The compiled path: direct convolution kernels (``ops/_conv_kernels.py``; NumPy float32/float64,
1-D and 2-D) and the choice of path for each pass of a call (:func:`conv_paths`).

Ungrouped convolutions with a multiple of 16 output channels run a direct convolution whose
register tiles read the zero-padded channels-last input in place - no column matrix, no BLAS.
The input gradient is the same forward kernel applied to the padded output gradient with the
reflected, channel-swapped kernel (seed 001): at stride 1 one call, at stride ``S`` one call per
input phase (residue class mod ``S``) with the taps that reach it (:func:`_phased_input_grad`).
Depthwise convolutions (one channel per group) run plane by plane on NCHW views with implicit
zero padding."""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

from ...backend import cpu_kernels
from .geometry import ConvGeometry
from .layout import _new_output


def _kernels():
    """``ops/_conv_kernels.py``, imported on first use (it needs numba: only once
    :func:`conv_paths` chose a compiled path)."""
    from .. import _conv_kernels

    return _conv_kernels


# The compiled kernels (ops/_conv_kernels.py) take every 1-D/2-D convolution of arrays that
# cpu_kernels.accepts (NumPy float32/float64, kernels enabled) that is either ungrouped with a
# multiple of 16 output channels ("dense": register tiles of 16 channels) or depthwise with one
# output per channel ("depthwise"); the GEMM and array-op paths (any array module, any dims and
# groups) take the rest.
_BLOCK = 16  # output channels per register tile block (_conv_kernels.BLOCK)


class ConvPaths(NamedTuple):
    """How each pass of one convolution call runs, chosen once per call (:func:`conv_paths`):
    ``"dense"`` or ``"depthwise"`` (the compiled kernels) or None (the GEMM / array-op path)."""

    forward: str | None
    input_grad: str | None
    weight_grad: str | None


def _compiled_kind(c_out, c_per_group, groups):
    """The compiled kernel of a convolution with ``c_out`` outputs and ``c_per_group`` inputs per group."""
    if groups == 1 and c_out % _BLOCK == 0:
        return "dense"
    if c_per_group == 1 and c_out == groups:
        return "depthwise"
    return None


def conv_paths(a, weight_shape, geom: ConvGeometry, groups) -> ConvPaths:
    """The paths of ``y = conv(x, w)`` for ``x`` like the array ``a`` and ``w`` of ``weight_shape``
    ``(C_out, C_in/G, *K)``. The input gradient is a convolution of ``g`` with the reflected,
    channel-swapped kernel (``C_in`` outputs): at stride 1 any compiled kind, at stride > 1 the
    phased dense kernel only (else col2im). The weight gradient runs where the forward does."""
    if len(geom.kernel) > 2 or not cpu_kernels.accepts(a):
        return ConvPaths(None, None, None)
    c_out, c_per_group = weight_shape[0], weight_shape[1]
    c_in = c_per_group * groups
    forward = _compiled_kind(c_out, c_per_group, groups)
    if geom.unit_stride:
        input_grad = _compiled_kind(c_in, c_out // groups, groups)
    else:
        input_grad = "dense" if groups == 1 and c_in % _BLOCK == 0 else None
    return ConvPaths(forward, input_grad, forward)


def _padded(al, lo, hi, layout):
    """The zero-padded (negative amounts: cropped) input of the dense kernels, a C-contiguous
    channels-last ``(N, *spatial, C)`` buffer made in one parallel pass from any layout of
    ``al``. With ``layout="any"`` (the forward reads any layout through strides) an input that
    needs no padding and already is one contiguous block is used as is."""
    crop = tuple(slice(max(-l, 0), n - max(-h, 0)) for l, h, n in zip(lo, hi, al.shape[1:-1]))
    al = al[(slice(None),) + crop]
    lo, hi = tuple(max(l, 0) for l in lo), tuple(max(h, 0) for h in hi)
    reusable = al.flags.c_contiguous or (layout == "any" and _kernels().flat_strides(_planar(al)) is not None)
    if not any(lo) and not any(hi) and reusable:
        return al
    out = np.empty(
        al.shape[:1] + tuple(n + l + h for n, l, h in zip(al.shape[1:-1], lo, hi)) + al.shape[-1:], dtype=al.dtype
    )
    _kernels().pad(_planar(al), _planar(out), *((0,) * (2 - len(lo)) + lo))
    return out


def _planar(a):
    """A channels-last 1-D or 2-D array as 2-D spatial ``(N, H, W, C)`` (1-D: ``H = 1``)."""
    return a if a.ndim == 4 else a[:, None]


def _planar_steps(geom: ConvGeometry):
    """``(stride_h, stride_w, dilation_h, dilation_w)`` of the 2-D view."""
    stride, dilation = geom.stride, geom.dilation
    if len(geom.kernel) == 1:
        stride, dilation = (1,) + stride, (1,) + dilation
    return stride + dilation


_SUM_WORK = 8  # summing an element of a large array costs about as much time as this many multiply-adds


def _data_box(padded, pad_lo, pad_hi, multiplier, uses):
    """``(row_lo, row_hi, col_lo, col_hi)``: the rows and columns of the 2-D view of
    :func:`_padded`'s output (made with ``pad_lo``/``pad_hi``; a 1-D one's height is never
    padded) that hold data; the kernels skip the others, its zero padding. Not where
    ``multiplier`` (what the padding is multiplied with: the weight, or the output gradient for
    the weight gradient) holds an inf or NaN: PyTorch multiplies the padding too, and
    ``0 * inf`` is NaN (then the whole buffer is data, None). One sum tells: it is finite only if
    every element is (an overflowing sum only costs the skip). That sum is a pass over
    ``multiplier``, whose elements each take part in ``uses`` multiply-adds: where the padding's
    share of those is too small to pay for it (a first layer's weight gradient: 9 multiply-adds
    per gradient element, 13% of them on the padding of a 28 x 28 map) there is no skip (None;
    the kernels then multiply the zeros, as PyTorch does)."""
    (h, w), fill = _planar(padded).shape[1:3], (0,) * (2 - len(pad_lo))
    (top, left), (bottom, right) = (max(p, 0) for p in fill + tuple(pad_lo)), (max(p, 0) for p in fill + tuple(pad_hi))
    padding_share = 1 - (h - top - bottom) * (w - left - right) / (h * w)
    if uses * padding_share < _SUM_WORK or not np.isfinite(multiplier.sum()):
        return None
    return top, h - bottom, left, w - right


def _direct_forward(padded, w, geom: ConvGeometry, bias=None):
    """Compiled forward (bias added in the kernel) on the padded input of :func:`_padded`."""
    y = _new_output((padded.shape[0],) + geom.out_size + (w.shape[0],), padded.dtype)
    w2 = w if w.ndim == 4 else w[:, :, None]
    _kernels().conv2d_forward(
        _planar(padded),
        _kernels().pack_weight(w2),
        bias,
        _planar(y),
        *_planar_steps(geom),
        data=_data_box(padded, geom.pad_lo, geom.pad_hi, w, padded.shape[0] * math.prod(geom.out_size)),
    )
    return y


def _direct_weight_grad(padded, g_buffer, g_corner, geom: ConvGeometry, bias=False):
    """Compiled weight gradient ``(C_out, C, *K)`` from the padded input and the channels-last
    view of the output gradient (any memory layout: an NCHW one is read in place), read from
    ``g_buffer`` at offset ``g_corner`` (e.g. inside a padded copy). Returns ``(dw, db)``: with
    ``bias`` the bias gradient, summed in the same pass over the gradient, else None."""
    fill = (1,) * (2 - len(geom.kernel))
    corner = (0,) * len(fill) + tuple(g_corner)
    dw, db = _kernels().conv2d_weight_grad(
        _planar(padded),
        _planar(g_buffer),
        *corner,
        *(fill + geom.out_size),
        *(fill + geom.kernel),
        *_planar_steps(geom),
        data=_data_box(padded, geom.pad_lo, geom.pad_hi, g_buffer, math.prod(geom.kernel) * padded.shape[-1]),
        bias=bias,
    )
    return np.ascontiguousarray(dw.transpose(3, 2, 0, 1)).reshape((dw.shape[-1], dw.shape[-2]) + geom.kernel), db


def _planes(a):
    """A channels-last array as NCHW planes ``(N, C, H, W)`` (a view; 1-D inputs get ``H = 1``)."""
    return np.moveaxis(_planar(a), -1, 1)


def _depthwise_direct_forward(xl, w, geom: ConvGeometry, bias=None):
    """Compiled depthwise forward, plane by plane, reading the (unpadded) input in place."""
    y = _new_output((xl.shape[0],) + geom.out_size + (w.shape[0],), xl.dtype)
    taps = np.ascontiguousarray(w[:, 0] if w.ndim == 4 else w)  # (C, KH, KW); 1-D: (C, 1, K)
    corner = ((0,) + geom.pad_lo)[-2:]
    _kernels().depthwise_forward(_planes(xl), taps, bias, _planes(y), *corner, *_planar_steps(geom))
    return y


def _depthwise_direct_weight_grad(xl, gl, geom: ConvGeometry):
    """Compiled depthwise weight gradient ``(C, 1, *K)`` from the unpadded input and ``g``."""
    kernel = (1,) * (2 - len(geom.kernel)) + geom.kernel
    corner = ((0,) + geom.pad_lo)[-2:]
    dw = _kernels().depthwise_weight_grad(_planes(xl), _planes(gl), *kernel, *corner, *_planar_steps(geom))
    return dw.reshape((dw.shape[0], 1) + geom.kernel)


class _Phase(NamedTuple):
    """One residue class ``r`` (mod the stride) of input positions along one dimension, and
    the kernel taps that reach it: ``dx[r + S*m] = sum_u g[m + u*D' - lo] * w[taps[u]]``."""

    start: int  # r
    count: int  # number of positions m
    taps: tuple  # kernel offsets, in correlation order
    dilation: int  # D' = D / gcd(S, D)
    lo: int  # zero padding of g before position 0


def _phases(size, out, kernel, stride, dilation, pad_lo):
    """The ``stride`` phases of one dimension of a strided input gradient.

    Input position ``i`` receives ``g[o] w[k]`` for ``i + lo = o*S + k*D``; for ``i = r + S*m``
    the valid taps are every ``S/gcd(S, D)``-th ``k`` from the first ``k0`` with
    ``(r + lo - k0*D) % S == 0``, and ``o = m - (k*D - r - lo)/S``: a stride-1 correlation of
    ``g`` with those taps, reversed, at dilation ``D/gcd(S, D)``.
    """
    common = math.gcd(stride, dilation)
    phases = []
    for r in range(stride):
        count = -(-(size - r) // stride)
        first = next((k for k in range(kernel) if (r + pad_lo - k * dilation) % stride == 0), None)
        taps = () if first is None else tuple(range(first, kernel, stride // common))[::-1]
        lo = 0
        if taps:
            lo = (first * dilation - r - pad_lo) // stride + (len(taps) - 1) * (dilation // common)
        phases.append(_Phase(r, count, taps, dilation // common, lo))
    return phases


def _phased_input_grad(gl, w, geom: ConvGeometry):
    """Compiled input gradient of a strided dense convolution: for each of the ``S_h * S_w``
    phases of the input, a stride-1 forward convolution of the (once) padded output gradient
    with the kernel taps that reach that phase, written straight into the phase's positions.

    Returns ``(dx, (g_padded, corner))``: the padded gradient is where the weight gradient then
    reads ``g``.
    """
    n = len(geom.kernel)
    fill = (1,) * (2 - n)  # a 1-D convolution is a 2-D one of height 1
    size, out, kernel = fill + geom.in_size, fill + geom.out_size, fill + geom.kernel
    stride, dilation, pad_lo = fill + geom.stride, fill + geom.dilation, (0,) * (2 - n) + geom.pad_lo
    per_dim = [_phases(*args) for args in zip(size, out, kernel, stride, dilation, pad_lo)]
    before = tuple(max([0] + [p.lo for p in ph if p.taps]) for ph in per_dim)
    after = tuple(
        max([0] + [p.count + (len(p.taps) - 1) * p.dilation - p.lo - o for p in ph if p.taps and p.count > 0])
        for ph, o in zip(per_dim, out)
    )
    g_padded = _padded(_planar(gl), before, after, "channels_last")
    dx = _new_output((gl.shape[0],) + geom.in_size + (w.shape[1],), gl.dtype)
    dx2 = _planar(dx)
    swapped = (w if n == 2 else w[:, :, None]).swapaxes(0, 1)  # (C_in, C_out, KH, KW)
    data = _data_box(g_padded, before, after, w, gl.shape[0] * math.prod(geom.in_size))
    for ph_h, ph_w in itertools.product(*per_dim):
        if ph_h.count <= 0 or ph_w.count <= 0:
            continue
        if not ph_h.taps or not ph_w.taps:
            dx2[:, ph_h.start :: stride[0], ph_w.start :: stride[1]] = 0
            continue
        taps = swapped[:, :, list(ph_h.taps)][:, :, :, list(ph_w.taps)]
        _kernels().conv2d_forward(
            g_padded,
            _kernels().pack_weight(taps),
            None,
            dx2,
            1,
            1,
            ph_h.dilation,
            ph_w.dilation,
            x_corner=(before[0] - ph_h.lo, before[1] - ph_w.lo),
            y_corner=(ph_h.start, ph_w.start),
            y_step=stride,
            out_size=(ph_h.count, ph_w.count),
            data=data,
        )
    return dx, (g_padded if n == 2 else g_padded[:, 0], before[2 - n :])
