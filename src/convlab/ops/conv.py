"""Convolution over 1, 2 or 3 spatial dimensions: conv, transposed conv, unfold (im2col), fold
(col2im), the explicit convolution matrix, and the output-size formulas.

Geometry, per spatial dimension of size ``I`` with kernel ``K``, stride ``S``, padding ``P``
(``P_lo`` before and ``P_hi`` after) and dilation ``D``: output position ``o`` reads the padded
input at ``o*S + k*D`` for ``k = 0..K-1`` (cross-correlation, as PyTorch), so there are

    O = floor((I + P_lo + P_hi - D*(K-1) - 1) / S) + 1

outputs (:func:`conv_output_size`). A transposed convolution maps ``I`` back to
``(I-1)*S - 2P + D*(K-1) + output_padding + 1`` (:func:`conv_transpose_output_size`).

How it is computed. Tensors are NCHW at the API (every output and gradient is C-contiguous
NCHW, like the other ops'); inside, arrays are handled *channels-last*, ``(N, *spatial, C)``,
reached by a free ``moveaxis`` view.

- Compiled path (``ops/_conv_kernels.py``; NumPy float32/float64, 1-D and 2-D): ungrouped
  convolutions with a multiple of 16 output channels run a direct convolution whose register
  tiles (float32: up to 14 pixels x 32 channels with AVX-512, 6 x 16 or 3 x 32 with AVX2; see
  ``_conv_kernels.TILE_ROWS``) read the zero-padded channels-last input in place - no column
  matrix, no BLAS. It runs when ``cpu_kernels.accepts`` the input (numba installed,
  ``CONVLAB_KERNELS`` not 0); the GEMM path below is the fallback. The input gradient is the same forward kernel applied to the padded
  output gradient with the reflected, channel-swapped kernel (seed 001): at stride 1 one call,
  at stride ``S`` one call per input phase (residue class mod ``S``) with the taps that reach
  it. The weight gradient tiles ``(c_in, 16 c_out)`` blocks of one kernel offset over every
  output pixel. Depthwise convolutions (one channel per group) run plane by plane on NCHW views
  with implicit zero padding.
- GEMM path (everything else: 3-D, grouped, other channel counts, CuPy on a GPU): im2col is a
  strided *view* ``(N, *O, *K, C)`` of the zero-padded input (:func:`_windows`); reshaping it to
  the GEMM's ``(N*O, K*C)`` matrix is the one copy, and the forward is a single GEMM
  ``cols @ W`` (groups: one batched matmul over the groups, never a Python loop over them); a
  1x1 convolution at stride 1 needs no im2col at all. The weight gradient is one GEMM
  ``cols^T @ g`` over the columns saved by the forward; the input gradient is the flipped-kernel
  correlation at stride 1, and ``g @ W^T`` followed by col2im at stride > 1, which adds the
  ``prod(K)`` strided slices back onto the padded input (:func:`_col2im`; never ``np.add.at``).

A transposed convolution *is* the input gradient of the convolution it transposes, and its
gradient is that convolution's forward (input) and weight gradient: the same routines.
``unfold``/``fold`` are the im2col/col2im of the GEMM path in PyTorch's ``(N, C*K, L)`` layout.
"""

from __future__ import annotations

import itertools
import math
import numbers
from typing import NamedTuple

import numpy as np

from ..autograd.function import Function
from ..backend import array_module, cpu_kernels
from ..tensor import Tensor
from .shape import cat

_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}
_KERNEL_NAMES = {1: "kL", 2: "kH, kW", 3: "kD, kH, kW"}
PADDING_STRINGS = ("valid", "same")


# ---------------------------------------------------------------------------------- shapes
def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one dimension.

    ``O = floor((I + 2P - D(K-1) - 1) / S) + 1``; ``padding`` may also be a ``(before, after)``
    pair, then ``2P`` is their sum. A result below 1 means the kernel does not fit.

    Example::

        >>> conv_output_size(28, 3, padding=1), conv_output_size(224, 7, stride=2, padding=3)
        (28, 112)
    """
    total = 2 * padding if isinstance(padding, numbers.Integral) else sum(padding)
    return (size + total - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a transposed convolution along one dimension.

    ``O = (I-1)S - 2P + D(K-1) + output_padding + 1``: the input length of the convolution it
    transposes (``output_padding`` picks among the ``S`` input lengths that convolve to ``I``).

    Example::

        >>> conv_transpose_output_size(14, 3, stride=2, padding=1, output_padding=1)
        28
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def conv_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1, transposed=False, output_padding=0):
    """Output spatial size of a convolution (or, with ``transposed=True``, a transposed one).

    Args:
        input_size: an int or a tuple of spatial sizes (e.g. ``(H, W)``).
        kernel_size, stride, padding, dilation, output_padding: ints or tuples of the same
            length; ``padding`` may be ``'valid'`` (0) or ``'same'`` (output = input, stride 1).
        transposed: use the transposed-convolution formula.

    Returns:
        an int for an int ``input_size``, else a tuple, from
        ``O = floor((I + 2P - D(K-1) - 1) / S) + 1`` or, transposed,
        ``O = (I-1)S - 2P + D(K-1) + output_padding + 1``.

    Example::

        >>> conv_output_shape((28, 28), 3, padding=1)
        (28, 28)
        >>> conv_output_shape(32, 4, stride=2, padding=1), conv_output_shape(16, 4, 2, 1, transposed=True)
        (16, 32)
    """
    scalar = isinstance(input_size, numbers.Integral)
    sizes = (int(input_size),) if scalar else tuple(input_size)
    n = len(sizes)
    who = "conv_output_shape()"
    kernel = _ntuple(who, "kernel_size", kernel_size, n)
    stride = _ntuple(who, "stride", stride, n)
    dilation = _ntuple(who, "dilation", dilation, n)
    if transposed:
        padding = _ntuple(who, "padding", padding, n)
        output_padding = _ntuple(who, "output_padding", output_padding, n)
        out = tuple(map(conv_transpose_output_size, sizes, kernel, stride, padding, output_padding, dilation))
    else:
        pads = _padding_pairs(who, padding, kernel, stride, dilation)
        out = tuple(map(conv_output_size, sizes, kernel, stride, pads, dilation))
    return out[0] if scalar else out


# ---------------------------------------------------------------------------------- arguments
def _ntuple(who, arg, value, n) -> tuple:
    """``value`` (an int or a sequence of 1 or ``n`` ints) as a tuple of ``n`` Python ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * n
    if (
        isinstance(value, (tuple, list))
        and len(value) in (1, n)
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        return tuple(int(v) for v in value) * (n if len(value) == 1 else 1)
    expected = "an int" if n == 1 else f"an int or a tuple of {n} ints"
    raise TypeError(f"{_name(who)}: {arg} must be {expected}, got {value!r}")


def _padding_pairs(who, padding, kernel, stride, dilation) -> tuple:
    """``padding`` (int, tuple, ``'valid'`` or ``'same'``) as ``((before, after), ...)`` per dim.

    ``'same'`` pads ``D(K-1)`` in total, the extra element of an odd total after (as PyTorch).
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ValueError(
                f"{_name(who)}: invalid padding string {padding!r}, expected one of {PADDING_STRINGS} or ints"
            )
        if padding == "valid":
            return ((0, 0),) * n
        if any(s != 1 for s in stride):
            raise ValueError(
                f"{_name(who)}: padding='same' is not supported for strided convolutions, got stride={stride}"
            )
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    pads = _ntuple(who, "padding", padding, n)
    if any(p < 0 for p in pads):
        raise ValueError(f"{_name(who)}: padding must be non-negative, got padding={pads}")
    return tuple((p, p) for p in pads)


def _positive(who, arg, values) -> None:
    if any(v <= 0 for v in values):
        raise ValueError(f"{_name(who)}: {arg} must be positive, got {arg}={values}")


def _name(who) -> str:
    """An error-message prefix: a function name as given, a layer by its repr."""
    return who if isinstance(who, str) else repr(who)


class ConvGeometry(NamedTuple):
    """Where the windows of a convolution lie; one entry per spatial dimension.

    ``in_size`` is the unpadded input, ``out_size`` the number of windows; the padded buffer
    the windows are read from holds the input at offset ``pad_lo`` and extends ``pad_hi``
    past it (``pad_hi`` may be larger than what the windows reach).
    """

    in_size: tuple
    out_size: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad_lo: tuple
    pad_hi: tuple

    @property
    def n_offsets(self) -> int:
        return math.prod(self.kernel)

    @property
    def unit_stride(self) -> bool:
        return all(s == 1 for s in self.stride)


def _check_tensor(who, arg, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{_name(who)}: expected {arg} to be a convlab Tensor, got {type(value).__name__}")
    if value.dtype.kind != "f":
        raise TypeError(f"{_name(who)}: expected a floating-point {arg}, got dtype {value.dtype}")


def _check_groups(who, groups) -> int:
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"{_name(who)}: groups must be an int, got {groups!r}")
    if groups <= 0:
        raise ValueError(f"{_name(who)}: groups must be a positive integer, got groups={groups}")
    return int(groups)


def _check_operands(who, n, input, weight, bias, groups, transposed):
    """Validate input/weight/bias of a (transposed) convolution; returns ``groups`` as an int."""
    for arg, value in (("input", input), ("weight", weight)):
        _check_tensor(who, arg, value)
    dims, kdims = _SPATIAL_NAMES[n], _KERNEL_NAMES[n]
    if weight.ndim != n + 2:
        layout = "in_channels, out_channels/groups" if transposed else "out_channels, in_channels/groups"
        raise ValueError(f"{_name(who)}: expected weight of shape ({layout}, {kdims}), got {tuple(weight.shape)}")
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(
            f"{_name(who)}: expected a {n + 1}-D (C, {dims}) or {n + 2}-D (N, C, {dims}) input, got shape {tuple(input.shape)}"
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"{_name(who)}: input dtype {input.dtype} does not match weight dtype {weight.dtype} (convert one with .to())"
        )
    groups = _check_groups(who, groups)
    if transposed:
        c_in, c_out = weight.shape[0], weight.shape[1] * groups
        if c_in % groups:
            raise ValueError(
                f"{_name(who)}: weight of shape {tuple(weight.shape)} has {c_in} input channels, not divisible by groups={groups}"
            )
    else:
        c_in, c_out = weight.shape[1] * groups, weight.shape[0]
        if c_out % groups:
            raise ValueError(
                f"{_name(who)}: weight of shape {tuple(weight.shape)} has {c_out} output channels, not divisible by groups={groups}"
            )
    channels = input.shape[-(n + 1)]
    if channels != c_in:
        batch = "N, " if input.ndim == n + 2 else ""
        raise ValueError(
            f"{_name(who)}: expected input with {c_in} channels ({batch}{c_in}, {dims}), got shape {tuple(input.shape)}"
            + (f" (weight {tuple(weight.shape)}, groups={groups})" if groups > 1 else "")
        )
    if any(s == 0 for s in input.shape[-(n + 1) :]):
        raise ValueError(
            f"{_name(who)}: expected non-zero channel and spatial sizes, got input shape {tuple(input.shape)}"
        )
    if bias is not None:
        _check_tensor(who, "bias", bias)
        if tuple(bias.shape) != (c_out,):
            raise ValueError(f"{_name(who)}: expected bias of shape ({c_out},), got {tuple(bias.shape)}")
        if bias.dtype != weight.dtype:
            raise TypeError(f"{_name(who)}: bias dtype {bias.dtype} does not match weight dtype {weight.dtype}")
    return groups


def _conv_geometry(who, in_size, kernel, stride, padding, dilation) -> ConvGeometry:
    n = len(in_size)
    stride = _ntuple(who, "stride", stride, n)
    dilation = _ntuple(who, "dilation", dilation, n)
    _positive(who, "stride", stride)
    _positive(who, "dilation", dilation)
    pads = _padding_pairs(who, padding, kernel, stride, dilation)
    out = tuple(map(conv_output_size, in_size, kernel, stride, pads, dilation))
    if any(o < 1 for o in out):
        padded = tuple(i + lo + hi for i, (lo, hi) in zip(in_size, pads))
        raise ValueError(
            f"{_name(who)}: kernel_size={tuple(kernel)} with dilation={dilation} does not fit in the input of spatial size "
            f"{tuple(in_size)} padded by {tuple(lo if lo == hi else (lo, hi) for lo, hi in pads)} (padded size {padded}): "
            f"the output size would be {out}, expected every size >= 1"
        )
    return ConvGeometry(
        tuple(in_size), out, tuple(kernel), stride, dilation, tuple(p[0] for p in pads), tuple(p[1] for p in pads)
    )


# ---------------------------------------------------------------------------------- layout and im2col
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


def _windows(padded, geom: ConvGeometry):
    """im2col as a view: ``(N, *E, *T) -> (N, *O, *K, *T)`` where ``[n, o, k]`` is padded
    position ``o*S + k*D`` (``E``: the padded size, ``T``: trailing channel axes)."""
    n = len(geom.kernel)
    st = padded.strides
    shape = (padded.shape[0],) + geom.out_size + geom.kernel + padded.shape[1 + n :]
    strides = (
        (st[0],)
        + tuple(st[1 + i] * s for i, s in enumerate(geom.stride))
        + tuple(st[1 + i] * d for i, d in enumerate(geom.dilation))
        + st[1 + n :]
    )
    return array_module(padded).lib.stride_tricks.as_strided(padded, shape, strides)


def _col2im(cols, geom: ConvGeometry):
    """The adjoint of :func:`_windows` on the unpadded input: ``(N, *O, *K, *T) -> (N, *I, *T)``.

    Each kernel offset ``k`` adds its slice of ``cols`` onto the strided positions
    ``k*D + o*S`` of a zero buffer (``prod(K)`` vectorised adds; overlapping windows sum).
    """
    xp = array_module(cols)
    n = len(geom.kernel)
    trailing = cols.shape[1 + 2 * n :]
    extent = tuple(
        max(lo + i, (o - 1) * s + (k - 1) * d + 1)
        for i, o, k, s, d, lo in zip(geom.in_size, geom.out_size, geom.kernel, geom.stride, geom.dilation, geom.pad_lo)
    )
    out = xp.zeros((cols.shape[0],) + extent + trailing, dtype=cols.dtype)
    lead = (slice(None),) * (1 + n)
    for k in itertools.product(*(range(kk) for kk in geom.kernel)):
        region = tuple(
            slice(ki * d, ki * d + s * (o - 1) + 1, s)
            for ki, d, s, o in zip(k, geom.dilation, geom.stride, geom.out_size)
        )
        out[(slice(None),) + region] += cols[lead + k]
    return out[(slice(None),) + tuple(slice(lo, lo + i) for lo, i in zip(geom.pad_lo, geom.in_size))]


# ---------------------------------------------------------------------------------- the three routines
def _weight_matrix(w, groups):
    """``(G*Co, Cg, *K) -> (G, K*Cg, Co)``: the GEMM's right operand, rows ordered (k, c)."""
    g_co, cg = w.shape[:2]
    co = g_co // groups
    kk = math.prod(w.shape[2:])
    wm = w.reshape(groups, co, cg, kk).transpose(0, 3, 2, 1)
    return wm.reshape(groups, kk * cg, co)


def _columns(xl, geom: ConvGeometry, groups):
    """The im2col matrix of a channels-last input, copied once into the GEMM's layout:
    ``(N*O, K*C)`` for one group, ``(G, N*O, K*Cg)`` for several."""
    xp = array_module(xl)
    rows = xl.shape[0] * math.prod(geom.out_size)
    c = xl.shape[-1]
    if (
        groups == 1
        and geom.n_offsets == 1
        and geom.unit_stride
        and not any(geom.pad_lo)
        and geom.out_size == xl.shape[1:-1]
        and xl.flags.c_contiguous
    ):
        return xl.reshape(rows, c)  # 1x1 at stride 1: the input already is the column matrix
    win = _windows(_pad_spatial(xl, geom.pad_lo, geom.pad_hi), geom)
    if groups == 1:
        return win.reshape(rows, geom.n_offsets * c)
    cg = c // groups
    win = win.reshape(win.shape[:-1] + (groups, cg))
    win = xp.moveaxis(win, -2, 0)  # (G, N, *O, *K, Cg)
    return xp.ascontiguousarray(win).reshape(groups, rows, geom.n_offsets * cg)


def _is_depthwise(w, groups) -> bool:
    return groups > 1 and w.shape[1] == 1


def _kernels():
    """``ops/_conv_kernels.py``, imported on first use (it needs numba: only once
    :func:`_compiled_path` chose a compiled path)."""
    from . import _conv_kernels

    return _conv_kernels


# The compiled kernels (ops/_conv_kernels.py) take every 1-D/2-D convolution of arrays that
# cpu_kernels.accepts (NumPy float32/float64, kernels enabled) that is either ungrouped with a
# multiple of 16 output channels ("dense": register tiles of 16 channels) or depthwise with one
# output per channel ("depthwise"); the GEMM and array-op paths (any array module, any dims and
# groups) take the rest.
_BLOCK = 16  # output channels per register tile block (_conv_kernels.BLOCK)


def _compiled_path(a, c_out, c_per_group, geom: ConvGeometry, groups):
    if len(geom.kernel) > 2 or not cpu_kernels.accepts(a):
        return None
    if groups == 1 and c_out % _BLOCK == 0:
        return "dense"
    if c_per_group == 1 and c_out == groups:
        return "depthwise"
    return None


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


def _direct_forward(padded, w, geom: ConvGeometry, bias=None):
    """Compiled forward (bias added in the kernel) on the padded input of :func:`_padded`."""
    y = _new_output((padded.shape[0],) + geom.out_size + (w.shape[0],), padded.dtype)
    w2 = w if w.ndim == 4 else w[:, :, None]
    _kernels().conv2d_forward(_planar(padded), _kernels().pack_weight(w2), bias, _planar(y), *_planar_steps(geom))
    return y


def _direct_weight_grad(padded, g_buffer, g_corner, geom: ConvGeometry):
    """Compiled weight gradient ``(C_out, C, *K)`` from the padded input and the channels-last
    output gradient, read from ``g_buffer`` at offset ``g_corner`` (e.g. inside a padded copy)."""
    fill = (1,) * (2 - len(geom.kernel))
    corner = (0,) * len(fill) + tuple(g_corner)
    dw = _kernels().conv2d_weight_grad(
        _planar(padded),
        _planar(g_buffer),
        *corner,
        *(fill + geom.out_size),
        *(fill + geom.kernel),
        *_planar_steps(geom),
    )
    return np.ascontiguousarray(dw.transpose(3, 2, 0, 1)).reshape((dw.shape[-1], dw.shape[-2]) + geom.kernel)


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


def _conv_forward(xl, w, geom: ConvGeometry, groups, keep=False, bias=None):
    """Channels-last convolution ``(N, *I, C) -> (N, *O, C_out)`` plus ``bias`` (a fresh
    C-contiguous array).

    Returns ``(output, saved)``: with ``keep``, what the weight gradient can reuse (the padded
    input of the compiled path, ``("padded", array)``, or the GEMM's ``("columns", array)``),
    else None.
    """
    xp = array_module(xl)
    n_batch = xl.shape[0]
    c_out = w.shape[0]
    path = _compiled_path(xl, c_out, w.shape[1], geom, groups)
    if path is not None:
        if path == "depthwise":
            return _depthwise_direct_forward(xl, w, geom, bias), None
        padded = _padded(xl, geom.pad_lo, geom.pad_hi, "any")
        return _direct_forward(padded, w, geom, bias), ("padded", padded) if keep else None
    if _is_depthwise(w, groups):
        y = _depthwise_forward(xl, w, geom, groups)
        if bias is not None:
            y += bias
        return y, None
    cols = _columns(xl, geom, groups)
    wm = _weight_matrix(w, groups)
    if groups == 1:
        y = cols @ wm[0]
    else:
        y = xp.matmul(cols, wm)  # (G, N*O, Co): one batched GEMM over the groups
        y = xp.ascontiguousarray(y.transpose(1, 0, 2)).reshape(-1, c_out)
    if bias is not None:
        y += bias
    return y.reshape((n_batch,) + geom.out_size + (c_out,)), ("columns", cols) if keep else None


def _depthwise_forward(xl, w, geom, groups):
    """Depthwise conv (``Cg = 1``, ``Co`` outputs per channel): ``prod(K)`` multiply-adds of
    strided views ``y[..., g, m] += x_window_k[..., g] * w[g, m, k]``."""
    xp = array_module(xl)
    win = _windows(_pad_spatial(xl, geom.pad_lo, geom.pad_hi), geom)  # (N, *O, *K, G)
    mult = w.shape[0] // groups
    wk = w.reshape(groups, mult, geom.n_offsets)
    n = len(geom.kernel)
    y = xp.zeros((xl.shape[0],) + geom.out_size + (groups, mult), dtype=xl.dtype)
    lead = (slice(None),) * (1 + n)
    for j, k in enumerate(itertools.product(*(range(kk) for kk in geom.kernel))):
        y += win[lead + k][..., None] * wk[:, :, j]
    return y.reshape(y.shape[:-2] + (groups * mult,))


def _flipped_weight(w, groups):
    """``(G*Co, Cg, *K) -> (G*Cg, Co, *K)`` reflected in every spatial dim: the kernel whose
    correlation with the output gradient is the input gradient (stride 1)."""
    g_co, cg = w.shape[:2]
    co = g_co // groups
    k = w.shape[2:]
    ws = w.reshape((groups, co, cg) + k).swapaxes(1, 2).reshape((groups * cg, co) + k)
    return array_module(w).ascontiguousarray(ws[(slice(None), slice(None)) + (slice(None, None, -1),) * len(k)])


def _flipped_geometry(geom: ConvGeometry) -> ConvGeometry:
    """The stride-1 input gradient as a forward convolution of the output gradient:
    ``dx[i] = sum_k g[i + lo - k*D] w[k]``, a correlation of ``g`` padded by ``D(K-1) - lo``
    before and ``I - O + lo`` after (negative amounts crop) with the reflected kernel."""
    lo = tuple(d * (k - 1) - p for k, d, p in zip(geom.kernel, geom.dilation, geom.pad_lo))
    hi = tuple(i - o + p for i, o, p in zip(geom.in_size, geom.out_size, geom.pad_lo))
    return ConvGeometry(geom.out_size, geom.in_size, geom.kernel, geom.stride, geom.dilation, lo, hi)


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
        )
    return dx, (g_padded if n == 2 else g_padded[:, 0], before[2 - n :])


def _conv_backward(gl, w, inl, geom: ConvGeometry, groups, need_input, need_weight, saved=None):
    """Channels-last gradients of ``y = conv(in, w)``: ``(dx (N, *I, C_in) or None, dw or None)``.

    ``inl`` is the channels-last input (may be None when ``saved`` holds what the forward kept).
    On the compiled path the padded copy of ``g`` made for the input gradient is also where the
    weight gradient reads ``g`` from.
    """
    dx = dw = None
    g_source = None
    if need_input:
        if geom.unit_stride:
            back = _flipped_geometry(geom)
            wf = _flipped_weight(w, groups)
            path = _compiled_path(gl, wf.shape[0], wf.shape[1], back, groups)
            if path == "depthwise":
                dx = _depthwise_direct_forward(gl, wf, back)
            elif path == "dense":
                g_padded = _padded(gl, back.pad_lo, back.pad_hi, "channels_last")
                dx = _direct_forward(g_padded, wf, back)
                if min(back.pad_lo) >= 0:
                    g_source = (g_padded, back.pad_lo)
            else:
                dx = _conv_forward(gl, wf, back, groups)[0]
        elif _compiled_path(gl, w.shape[1], 1, geom, groups) == "dense":  # C_in a multiple of 16
            dx, g_source = _phased_input_grad(gl, w, geom)
        else:
            dx = _conv_col2im_grad(gl, w, geom, groups)
    if need_weight:
        dw = _conv_weight_grad(inl, gl, geom, groups, saved, g_source)
    return dx, dw


def _conv_input_grad(gl, w, geom: ConvGeometry, groups):
    """Channels-last gradient w.r.t. the input: ``(N, *O, C_out) -> (N, *I, C_in)``."""
    return _conv_backward(gl, w, None, geom, groups, True, False)[0]


def _conv_col2im_grad(gl, w, geom, groups):
    """Input gradient as ``dcols = g @ W^T`` followed by col2im (any stride)."""
    xp = array_module(gl)
    n_batch = gl.shape[0]
    c_out = gl.shape[-1]
    rows = n_batch * math.prod(geom.out_size)
    cg = w.shape[1]
    g2 = gl.reshape(rows, c_out)
    wm = _weight_matrix(w, groups)  # (G, K*Cg, Co)
    if groups == 1:
        dcols = (g2 @ wm[0].T).reshape((n_batch,) + geom.out_size + geom.kernel + (cg,))
        return _col2im(dcols, geom)
    gg = g2.reshape(rows, groups, c_out // groups).transpose(1, 0, 2)  # (G, N*O, Co)
    dcols = xp.matmul(gg, wm.transpose(0, 2, 1))  # (G, N*O, K*Cg)
    dcols = dcols.reshape((groups, n_batch) + geom.out_size + geom.kernel + (cg,))
    dcols = xp.moveaxis(dcols, 0, -2)  # (N, *O, *K, G, Cg)
    dx = _col2im(dcols, geom)
    return dx.reshape(dx.shape[:-2] + (groups * cg,))


def _conv_weight_grad(xl, gl, geom: ConvGeometry, groups, saved=None, g_source=None):
    """Gradient w.r.t. the weight ``(G*Co, Cg, *K)``.

    Compiled path: from the padded input (``saved`` or made here) and ``g`` (``g_source``:
    a buffer holding it and the offset of its first element, or ``gl`` itself). GEMM path: one
    GEMM ``cols^T @ g`` (groups batched), from the forward's columns when saved.
    """
    xp = array_module(gl)
    c_out = gl.shape[-1]
    kind, kept = saved if saved is not None else (None, None)
    c_in = (kept if kind == "padded" else xl).shape[-1] if kind != "columns" else None
    path = None if kind == "columns" else _compiled_path(gl, c_out, c_in // groups, geom, groups)
    if path == "depthwise":
        return _depthwise_direct_weight_grad(xl, gl, geom)
    if path == "dense":
        padded = kept if kind == "padded" else _padded(xl, geom.pad_lo, geom.pad_hi, "any")
        if g_source is None:
            no_padding = (0,) * len(geom.kernel)
            g_source = (_padded(gl, no_padding, no_padding, "channels_last"), no_padding)  # one parallel copy
        return _direct_weight_grad(padded, *g_source, geom)
    if kind is None and groups > 1 and xl.shape[-1] == groups:
        return _depthwise_weight_grad(xl, gl, geom, groups)
    cols = kept if kind == "columns" else _columns(xl, geom, groups)
    rows = gl.shape[0] * math.prod(geom.out_size)
    g2 = gl.reshape(rows, c_out)
    co = c_out // groups
    if groups == 1:
        dwm = (cols.T @ g2)[None]  # (1, K*C, Co)
    else:
        dwm = xp.matmul(cols.transpose(0, 2, 1), g2.reshape(rows, groups, co).transpose(1, 0, 2))
    cg = dwm.shape[1] // geom.n_offsets
    dw = dwm.reshape(groups, geom.n_offsets, cg, co).transpose(0, 3, 2, 1)
    return xp.ascontiguousarray(dw).reshape((c_out, cg) + geom.kernel)


def _depthwise_weight_grad(xl, gl, geom, groups):
    """``dw[g, m, k] = sum_{n,o} x_window_k[n, o, g] * g[n, o, g, m]``, one reduction per offset."""
    xp = array_module(gl)
    win = _windows(_pad_spatial(xl, geom.pad_lo, geom.pad_hi), geom)
    n = len(geom.kernel)
    mult = gl.shape[-1] // groups
    gg = gl.reshape(gl.shape[:-1] + (groups, mult))
    axes = tuple(range(1 + n))
    lead = (slice(None),) * (1 + n)
    dw = xp.empty((groups, mult, geom.n_offsets), dtype=gl.dtype)
    for j, k in enumerate(itertools.product(*(range(kk) for kk in geom.kernel))):
        dw[:, :, j] = (win[lead + k][..., None] * gg).sum(axis=axes)
    return dw.reshape((groups * mult, 1) + geom.kernel)


def _bias_grad(gl):
    return gl.sum(axis=tuple(range(gl.ndim - 1)))


# ---------------------------------------------------------------------------------- Functions
class ConvNd(Function):
    """Convolution (cross-correlation) over ``n`` spatial dims, with groups.

    ``y[n, g*Co + o, p] = b[g*Co + o] + sum_{c < Cg, k} w[g*Co + o, c, k] * x_pad[n, g*Cg + c, p*S + k*D]``

    Shapes: x ``(N, C_in, *I)`` or unbatched ``(C_in, *I)``, w ``(C_out, C_in/G, *K)``,
    b ``(C_out,)`` or None, y ``(N, C_out, *O)``.

    Gradients (seed 001): ``dw = sum_{n,p} g[n, o, p] * x_pad[n, c, p*S + k*D]`` (a correlation
    of the input with the output gradient); ``dx`` is the transposed convolution of ``g`` with
    ``w`` (the correlation of the padded ``g`` with the reflected kernel); ``db = sum_{n,p} g``.
    """

    @staticmethod
    def forward(ctx, x, w, b, *, geom, groups):
        unbatched = x.ndim == w.ndim - 1
        xl = _batched_channels_last(x, unbatched)
        needs = ctx.needs_input_grad
        y, saved = _conv_forward(xl, w, geom, groups, keep=needs[1], bias=b)
        if needs[0]:
            ctx.w = w
        if needs[1]:
            # the padded input or the columns when the forward made them, else the input itself
            ctx.xl, ctx.saved = (None, saved) if saved is not None else (xl, None)
        ctx.geom, ctx.groups, ctx.unbatched = geom, groups, unbatched
        return _unbatched_channels_first(y, unbatched)

    @staticmethod
    def backward(ctx, g):
        gl = _batched_channels_last(g, ctx.unbatched)
        needs = ctx.needs_input_grad
        dx, dw = _conv_backward(
            gl,
            ctx.__dict__.get("w"),
            ctx.__dict__.get("xl"),
            ctx.geom,
            ctx.groups,
            needs[0],
            needs[1],
            ctx.__dict__.get("saved"),
        )
        db = None
        if dx is not None:
            dx = _unbatched_channels_first(dx, ctx.unbatched)
        if needs[2]:
            db = _bias_grad(gl)
        return dx, dw, db


class ConvTransposeNd(Function):
    """Transposed convolution: the gradient of a convolution with respect to its input.

    ``geom`` describes the convolution being transposed: its input is this op's output
    ``(N, C_out, *Y)`` and its output this op's input ``(N, C_in, *I)``; ``w`` has shape
    ``(C_in, C_out/G, *K)``, as that convolution's weight. Forward: ``y = conv_x^T(x) + b``;
    backward: ``dx = conv(g, w)``, ``dw = conv_w^T(g, x)`` (the convolution's weight gradient
    with ``g`` as its input and ``x`` as its output gradient), ``db = sum_{n,p} g``.
    """

    @staticmethod
    def forward(ctx, x, w, b, *, geom, groups):
        unbatched = x.ndim == w.ndim - 1
        xl = _batched_channels_last(x, unbatched)
        y = _conv_input_grad(xl, w, geom, groups)
        if b is not None:
            y += b
        needs = ctx.needs_input_grad
        if needs[0]:
            ctx.w = w
        if needs[1]:
            ctx.xl = xl
        ctx.geom, ctx.groups, ctx.unbatched = geom, groups, unbatched
        return _unbatched_channels_first(y, unbatched)

    @staticmethod
    def backward(ctx, g):
        gl = _batched_channels_last(g, ctx.unbatched)
        needs = ctx.needs_input_grad
        dx = dw = db = None
        if needs[0]:
            dx = _unbatched_channels_first(_conv_forward(gl, ctx.w, ctx.geom, ctx.groups)[0], ctx.unbatched)
        if needs[1]:
            # this op's output gradient is the input of the convolution it transposes
            dw = _conv_weight_grad(gl, ctx.xl, ctx.geom, ctx.groups)
        if needs[2]:
            db = _bias_grad(gl)
        return dx, dw, db


def _blocks_to_columns(win):
    """``(N, *O, *K, C) -> (N, C*prod(K), prod(O))``: PyTorch's unfold layout, always a new
    array (one copy, even where the blocks tile the input and a view would do)."""
    n = (win.ndim - 2) // 2
    order = (0, win.ndim - 1) + tuple(range(1 + n, 1 + 2 * n)) + tuple(range(1, 1 + n))
    rows = win.shape[-1] * math.prod(win.shape[1 + n : 1 + 2 * n])
    return win.transpose(order).copy(order="C").reshape(win.shape[0], rows, math.prod(win.shape[1 : 1 + n]))


def _columns_to_blocks(cols, channels, geom):
    """``(N, C*prod(K), prod(O)) -> (N, *O, *K, C)`` view, the inverse of :func:`_blocks_to_columns`."""
    n = len(geom.kernel)
    blocks = cols.reshape((cols.shape[0], channels) + geom.kernel + geom.out_size)
    order = (0,) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n)) + (1,)
    return blocks.transpose(order)


class Unfold(Function):
    """im2col: every ``K`` block of the padded input as a column.

    ``cols[n, (c, k), p] = x_pad[n, c, p*S + k*D]``; shapes ``(N, C, *I) -> (N, C*prod(K), L)``
    with ``L = prod(O)`` blocks. Backward: col2im of the gradient (overlaps summed).
    """

    @staticmethod
    def forward(ctx, x, *, geom):
        unbatched = x.ndim == len(geom.kernel) + 1
        xl = _batched_channels_last(x, unbatched)
        win = _windows(_pad_spatial(xl, geom.pad_lo, geom.pad_hi), geom)
        ctx.geom, ctx.unbatched, ctx.channels = geom, unbatched, xl.shape[-1]
        cols = _blocks_to_columns(win)
        return cols[0] if unbatched else cols

    @staticmethod
    def backward(ctx, g):
        if ctx.unbatched:
            g = g[None]
        dx = _col2im(_columns_to_blocks(g, ctx.channels, ctx.geom), ctx.geom)
        return _unbatched_channels_first(dx, ctx.unbatched)


class Fold(Function):
    """col2im: sums each column back onto its ``K`` block of the output (the adjoint of
    :class:`Unfold`): ``(N, C*prod(K), L) -> (N, C, *output_size)``. Backward: unfold."""

    @staticmethod
    def forward(ctx, cols, *, geom, channels):
        unbatched = cols.ndim == 2
        if unbatched:
            cols = cols[None]
        ctx.geom, ctx.unbatched = geom, unbatched
        return _unbatched_channels_first(_col2im(_columns_to_blocks(cols, channels, geom), geom), unbatched)

    @staticmethod
    def backward(ctx, g):
        geom = ctx.geom
        gl = _batched_channels_last(g, ctx.unbatched)
        dcols = _blocks_to_columns(_windows(_pad_spatial(gl, geom.pad_lo, geom.pad_hi), geom))
        return dcols[0] if ctx.unbatched else dcols


# ---------------------------------------------------------------------------------- public API
def checked_conv(who, n, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv{n}d`` whose error messages start with ``who`` (a layer, or a function name)."""
    groups = _check_operands(who, n, input, weight, bias, groups, transposed=False)
    geom = _conv_geometry(who, input.shape[-n:], weight.shape[2:], stride, padding, dilation)
    return ConvNd.apply(input, weight, bias, geom=geom, groups=groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) over ``(N, C_in, L)`` or unbatched ``(C_in, L)``.

    Args:
        input: ``(N, C_in, L)`` or ``(C_in, L)``.
        weight: ``(C_out, C_in/groups, kL)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: an int or a 1-tuple.
        padding: an int, a 1-tuple, ``'valid'`` (none) or ``'same'`` (output length = input
            length; stride 1 only; an odd total ``D(K-1)`` puts the extra element at the end).
        groups: split the channels into this many independent convolutions.

    Shape:
        ``L_out = floor((L + 2P - D(K-1) - 1) / S) + 1``.

    Example::

        >>> F.conv1d(convlab.ones(1, 1, 5), convlab.tensor([[[1.0, 0.0, -1.0]]])).tolist()
        [[[0.0, 0.0, 0.0]]]
    """
    return checked_conv("conv1d()", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) over ``(N, C_in, H, W)`` or ``(C_in, H, W)``.

    ``out[n, o] = bias[o] + sum_c sum_{i,j} weight[o, c, i, j] * in_pad[n, c, y*S + i*D, x*S + j*D]``
    (input channels restricted to the output channel's group).

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: an int or an ``(sH, sW)`` tuple.
        padding: an int, a ``(pH, pW)`` tuple (zeros on both sides), ``'valid'`` (no padding) or
            ``'same'`` (output size = input size, stride 1 only; PyTorch's asymmetric rule for
            even kernels: the extra row/column goes at the end).
        groups: ``C_in`` and ``C_out`` are split into ``groups`` independent convolutions
            (``groups = C_in``: depthwise).

    Shape:
        ``H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1``, likewise ``W_out``
        (:func:`conv_output_shape`).

    Example::

        >>> x = convlab.arange(9.0).reshape(1, 1, 3, 3)
        >>> F.conv2d(x, convlab.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])).tolist()
        [[[[19.0, 25.0], [37.0, 43.0]]]]
    """
    return checked_conv("conv2d()", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``.

    Args:
        input: ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``.
        weight: ``(C_out, C_in/groups, kD, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: an int or a 3-tuple.
        padding: an int, a 3-tuple, ``'valid'`` or ``'same'`` (stride 1 only).
        groups: number of independent channel groups.

    Shape:
        each spatial size ``O = floor((I + 2P - D(K-1) - 1) / S) + 1``.

    Example::

        >>> F.conv3d(convlab.ones(2, 3, 4, 5, 6), convlab.ones(8, 3, 3, 3, 3), padding=1).shape
        (2, 8, 4, 5, 6)
    """
    return checked_conv("conv3d()", 3, input, weight, bias, stride, padding, dilation, groups)


def checked_conv_transpose(
    who, n, input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """``conv_transpose{n}d`` whose error messages start with ``who`` (a layer, or a function name)."""
    groups = _check_operands(who, n, input, weight, bias, groups, transposed=True)
    kernel = tuple(weight.shape[2:])
    stride = _ntuple(who, "stride", stride, n)
    dilation = _ntuple(who, "dilation", dilation, n)
    padding = _ntuple(who, "padding", padding, n)
    output_padding = _ntuple(who, "output_padding", output_padding, n)
    _positive(who, "stride", stride)
    _positive(who, "dilation", dilation)
    if any(p < 0 for p in padding):
        raise ValueError(f"{_name(who)}: padding must be non-negative, got padding={padding}")
    if any(p < 0 or (p >= s and p >= d) for p, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{_name(who)}: output_padding must be non-negative and smaller than either stride or dilation, got "
            f"output_padding={output_padding} with stride={stride} and dilation={dilation}"
        )
    in_size = tuple(input.shape[-n:])
    out = tuple(map(conv_transpose_output_size, in_size, kernel, stride, padding, output_padding, dilation))
    if any(o < 1 for o in out):
        raise ValueError(
            f"{_name(who)}: input of spatial size {in_size} with kernel_size={kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation} and output_padding={output_padding} gives output size {out}, expected every size >= 1"
        )
    geom = ConvGeometry(out, in_size, kernel, stride, dilation, padding, padding)
    return ConvTransposeNd.apply(input, weight, bias, geom=geom, groups=groups)


_TRANSPOSE_DOC = """Transposed {n}-D convolution ("deconvolution"): the gradient of ``conv{n}d`` with
    respect to its input, used as a layer that upsamples.

    Each input element scatters ``weight[c_in]`` times itself onto the output, at stride ``S``;
    overlapping contributions sum, then ``padding`` is cropped from each side.

    Args:
        input: ``(N, C_in, {dims})`` or unbatched ``(C_in, {dims})``.
        weight: ``(C_in, C_out/groups, {kdims})`` (the weight of the convolution it transposes).
        bias: ``(C_out,)`` or None.
        stride, padding, dilation: those of the convolution it transposes (ints or tuples).
        output_padding: extra size added to one side of each output dim, to pick among the
            ``S`` input sizes that convolve to the same output size (``< stride`` or ``< dilation``).
        groups: number of independent channel groups.

    Shape:
        each spatial size ``O = (I-1)S - 2P + D(K-1) + output_padding + 1``
        (:func:`conv_transpose_output_size`).

    Example::

        >>> F.conv_transpose{n}d(convlab.ones({example_in}), convlab.ones({example_w}), stride=2).shape
        {example_out}
    """


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return checked_conv_transpose(
        "conv_transpose1d()", 1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return checked_conv_transpose(
        "conv_transpose2d()", 2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return checked_conv_transpose(
        "conv_transpose3d()", 3, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


conv_transpose1d.__doc__ = _TRANSPOSE_DOC.format(
    n=1, dims="L", kdims="kL", example_in="1, 4, 5", example_w="4, 2, 3", example_out="(1, 2, 11)"
)
conv_transpose2d.__doc__ = _TRANSPOSE_DOC.format(
    n=2, dims="H, W", kdims="kH, kW", example_in="1, 4, 5, 5", example_w="4, 2, 3, 3", example_out="(1, 2, 11, 11)"
)
conv_transpose3d.__doc__ = _TRANSPOSE_DOC.format(
    n=3,
    dims="D, H, W",
    kdims="kD, kH, kW",
    example_in="1, 4, 2, 2, 2",
    example_w="4, 2, 3, 3, 3",
    example_out="(1, 2, 5, 5, 5)",
)


def _block_geometry(who, size, kernel_size, dilation, padding, stride) -> ConvGeometry:
    """Geometry of unfold/fold (2-D, symmetric int padding, as PyTorch)."""
    kernel = _ntuple(who, "kernel_size", kernel_size, 2)
    _positive(who, "kernel_size", kernel)
    padding = _ntuple(who, "padding", padding, 2)
    return _conv_geometry(who, tuple(size), kernel, stride, padding, dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding local blocks (im2col): each ``kernel_size`` block of the zero-padded
    input becomes a column.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size, dilation, padding, stride: ints or pairs, as for :func:`conv2d`.

    Shape:
        ``(N, C, H, W) -> (N, C * kH * kW, L)`` with ``L = H_out * W_out`` blocks
        (:func:`conv_output_shape`); column ``l`` lists block ``l`` channel by channel, each in
        row-major order. ``conv2d(x, w)`` equals ``w.reshape(C_out, -1) @ unfold(x, K)``
        reshaped to ``(N, C_out, H_out, W_out)``.

    Example::

        >>> F.unfold(convlab.arange(16.0).reshape(1, 1, 4, 4), 3).shape
        (1, 9, 4)
    """
    return checked_unfold("unfold()", input, kernel_size, dilation, padding, stride)


def checked_unfold(who, input, kernel_size, dilation=1, padding=0, stride=1):
    """:func:`unfold` whose error messages start with ``who`` (a layer, or a function name)."""
    _check_tensor(who, "input", input)
    if input.ndim not in (3, 4) or 0 in input.shape[-3:]:
        raise ValueError(
            f"{_name(who)}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input with non-zero C, H, W, got shape {tuple(input.shape)}"
        )
    geom = _block_geometry(who, input.shape[-2:], kernel_size, dilation, padding, stride)
    return Unfold.apply(input, geom=geom)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding local blocks into a tensor (col2im): the adjoint of :func:`unfold`;
    values of overlapping blocks are summed.

    Args:
        input: ``(N, C * kH * kW, L)`` or unbatched ``(C * kH * kW, L)``.
        output_size: the spatial size ``(H, W)`` (an int means square).
        kernel_size, dilation, padding, stride: ints or pairs, as for :func:`unfold`.

    Shape:
        ``(N, C * kH * kW, L) -> (N, C, H, W)``; ``L`` must equal the number of blocks
        ``H_out * W_out`` that ``unfold`` would give for an ``(H, W)`` input.

    Example::

        >>> cols = F.unfold(convlab.ones(1, 1, 4, 4), 2)
        >>> F.fold(cols, (4, 4), 2)[0, 0].tolist()[0]   # corners belong to 1 block, edges to 2
        [1.0, 2.0, 2.0, 1.0]
    """
    return checked_fold("fold()", input, output_size, kernel_size, dilation, padding, stride)


def checked_fold(who, input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """:func:`fold` whose error messages start with ``who`` (a layer, or a function name)."""
    _check_tensor(who, "input", input)
    if input.ndim not in (2, 3) or 0 in input.shape[-2:-1]:
        raise ValueError(
            f"{_name(who)}: expected a 2-D (C*kH*kW, L) or 3-D (N, C*kH*kW, L) input, got shape {tuple(input.shape)}"
        )
    size = _ntuple(who, "output_size", output_size, 2)
    _positive(who, "output_size", size)
    geom = _block_geometry(who, size, kernel_size, dilation, padding, stride)
    rows, blocks = input.shape[-2:]
    if rows % geom.n_offsets:
        raise ValueError(
            f"{_name(who)}: expected input dimension {input.ndim - 2} (size {rows}) to be divisible by the product of "
            f"kernel_size={geom.kernel} ({geom.n_offsets}), got input shape {tuple(input.shape)}"
        )
    if blocks != math.prod(geom.out_size):
        raise ValueError(
            f"{_name(who)}: output_size={size}, kernel_size={geom.kernel}, dilation={geom.dilation}, padding={geom.pad_lo}, "
            f"stride={geom.stride} give {' * '.join(map(str, geom.out_size))} = {math.prod(geom.out_size)} blocks, "
            f"but the input has {blocks} (shape {tuple(input.shape)})"
        )
    return Fold.apply(input, geom=geom, channels=rows // geom.n_offsets)


def conv_matrix(weight, input_shape, stride=1, padding=0, dilation=1):
    """The convolution as an explicit matrix ``M`` (seed 001, "convolution as matrix
    multiplication"): ``conv(x, weight).flatten() == M @ x.flatten()`` for one sample.

    Each row holds the kernel, scattered to the input positions its window covers, with zeros
    elsewhere (most of ``M`` is zero). ``M.T`` is the transposed convolution:
    ``conv_transpose(y, weight).flatten() == M.T @ y.flatten()``. Differentiable in ``weight``.

    Args:
        weight: ``(C_out, C_in, *K)``, or a single-channel kernel ``K`` (e.g. ``(3, 3)``).
        input_shape: the spatial size of one input channel, e.g. ``(4, 4)``.
        stride, padding, dilation: as for :func:`conv2d` (``padding`` may be ``'same'``/``'valid'``).

    Shape:
        ``(C_out * prod(O), C_in * prod(input_shape))``: rows ordered ``(c_out, *O)``, columns
        ``(c_in, *input_shape)`` (row-major flattening of NCHW samples).

    Example (seed 001: a 3x3 kernel on a 4x4 input gives a 4x16 matrix)::

        >>> w = convlab.arange(1.0, 10.0).reshape(3, 3)
        >>> M = F.conv_matrix(w, (4, 4))
        >>> M.shape
        (4, 16)
        >>> M[0].tolist()
        [1.0, 2.0, 3.0, 0.0, 4.0, 5.0, 6.0, 0.0, 7.0, 8.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    who = "conv_matrix()"
    _check_tensor(who, "weight", weight)
    size = _ntuple(who, "input_shape", input_shape, len(input_shape) if isinstance(input_shape, (tuple, list)) else 1)
    n = len(size)
    if n not in (1, 2, 3):
        raise ValueError(f"{who}: expected input_shape with 1 to 3 spatial sizes, got {input_shape!r}")
    _positive(who, "input_shape", size)
    if weight.ndim == n:
        weight = weight.reshape((1, 1) + tuple(weight.shape))
    if weight.ndim != n + 2:
        raise ValueError(
            f"{who}: expected weight of shape (C_out, C_in, {_KERNEL_NAMES[n]}) or ({_KERNEL_NAMES[n]}) for a "
            f"{n}-D input_shape {size}, got {tuple(weight.shape)}"
        )
    geom = _conv_geometry(who, size, tuple(weight.shape[2:]), stride, padding, dilation)
    c_out, c_in = weight.shape[:2]
    n_off, n_out, n_in = geom.n_offsets, math.prod(geom.out_size), math.prod(size)
    # input position of every (output position, kernel offset) pair, and whether it is inside
    o = np.indices(geom.out_size).reshape(n, n_out, 1)
    k = np.indices(geom.kernel).reshape(n, 1, n_off)
    pos = o * np.array(geom.stride).reshape(n, 1, 1) + k * np.array(geom.dilation).reshape(n, 1, 1)
    pos -= np.array(geom.pad_lo).reshape(n, 1, 1)
    inside = np.all((pos >= 0) & (pos < np.array(size).reshape(n, 1, 1)), axis=0)
    p_idx, k_idx = np.nonzero(inside)
    flat_in = np.ravel_multi_index(tuple(pos[:, p_idx, k_idx]), size)
    # index into weight.flatten() followed by one zero: the zero fills every uncovered entry
    sentinel = c_out * c_in * n_off
    index = np.full((n_out, n_in, c_out, c_in), sentinel, dtype=np.int64)
    base = (np.arange(c_out)[:, None] * c_in + np.arange(c_in)) * n_off
    index[p_idx, flat_in] = base + k_idx[:, None, None]
    index = index.transpose(2, 0, 3, 1).reshape(c_out * n_out, c_in * n_in)
    padded = cat([weight.reshape(-1), weight.new_zeros(1)])
    return padded[index]
