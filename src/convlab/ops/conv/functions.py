"""The autograd Functions (convolution, transposed convolution, unfold, fold) and the dispatch
of each pass to the compiled or the GEMM path, chosen once per call (:func:`conv_paths`).

A transposed convolution *is* the input gradient of the convolution it transposes, and its
gradient is that convolution's forward (input) and weight gradient: the same routines.
``unfold``/``fold`` are the im2col/col2im of the GEMM path in PyTorch's ``(N, C*K, L)`` layout."""

from __future__ import annotations

import math

from ...autograd.function import Function
from ...backend import array_module
from . import gemm
from .direct import (
    _depthwise_direct_forward,
    _depthwise_direct_weight_grad,
    _direct_forward,
    _direct_weight_grad,
    _padded,
    _phased_input_grad,
    conv_paths,
)
from .gemm import _col2im, _gemm_forward, _gemm_weight_grad, _windows
from .geometry import ConvGeometry
from .layout import _batched_channels_last, _pad_spatial, _unbatched_channels_first


def _conv_forward(xl, w, geom: ConvGeometry, groups, path, keep=False, bias=None):
    """Channels-last convolution ``(N, *I, C) -> (N, *O, C_out)`` plus ``bias`` (a fresh
    C-contiguous array) on ``path`` (a :class:`ConvPaths` entry).

    Returns ``(output, saved)``: with ``keep``, what the weight gradient can reuse (the padded
    input of the compiled path, ``("padded", array)``, or the GEMM's ``("columns", array)``),
    else None.
    """
    if path == "depthwise":
        return _depthwise_direct_forward(xl, w, geom, bias), None
    if path == "dense":
        padded = _padded(xl, geom.pad_lo, geom.pad_hi, "any")
        return _direct_forward(padded, w, geom, bias), ("padded", padded) if keep else None
    return _gemm_forward(xl, w, geom, groups, keep, bias)

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

def _conv_backward(
    gl, w, inl, geom: ConvGeometry, groups, paths, need_input, need_weight, saved=None, need_bias=False
):
    """Channels-last gradients of ``y = conv(in, w) + b``: ``(dx (N, *I, C_in), dw, db)``, each
    None where not needed, each on its path of ``paths`` (:class:`ConvPaths`, chosen by the
    forward); the compiled weight gradient sums ``db`` in its own pass over ``g``.

    ``inl`` is the channels-last input (may be None when ``saved`` holds what the forward kept).
    On the compiled path the padded copy of ``g`` made for the input gradient is also where the
    weight gradient reads ``g`` from.
    """
    dx = dw = db = None
    g_source = None
    if need_input:
        if geom.unit_stride:
            back = _flipped_geometry(geom)
            wf = _flipped_weight(w, groups)
            if paths.input_grad == "dense":
                g_padded = _padded(gl, back.pad_lo, back.pad_hi, "channels_last")
                dx = _direct_forward(g_padded, wf, back)
                if min(back.pad_lo) >= 0:
                    g_source = (g_padded, back.pad_lo)
            else:
                dx = _conv_forward(gl, wf, back, groups, paths.input_grad)[0]
        elif paths.input_grad == "dense":  # C_in a multiple of 16
            dx, g_source = _phased_input_grad(gl, w, geom)
        else:
            dx = gemm._conv_col2im_grad(gl, w, geom, groups)
    if need_weight:
        dw, db = _conv_weight_grad(inl, gl, geom, groups, paths.weight_grad, saved, g_source, need_bias)
    elif need_bias:
        db = _bias_grad(gl)
    return dx, dw, db


def _conv_input_grad(gl, w, geom: ConvGeometry, groups, paths):
    """Channels-last gradient w.r.t. the input: ``(N, *O, C_out) -> (N, *I, C_in)``."""
    return _conv_backward(gl, w, None, geom, groups, paths, True, False)[0]


def _conv_weight_grad(xl, gl, geom: ConvGeometry, groups, path, saved=None, g_source=None, bias=False):
    """Gradient w.r.t. the weight ``(G*Co, Cg, *K)`` on ``path``, and with ``bias`` the bias's:
    ``(dw, db or None)``.

    Compiled path: from the padded input (``saved`` or made here) and ``g`` (``g_source``:
    a buffer holding it and the offset of its first element, or ``gl`` itself). GEMM path: one
    GEMM ``cols^T @ g`` (groups batched), from the forward's columns when saved.
    """
    kind, kept = saved if saved is not None else (None, None)
    if path == "dense" and kind != "columns":
        padded = kept if kind == "padded" else _padded(xl, geom.pad_lo, geom.pad_hi, "any")
        if g_source is None:  # the kernel reads g in its own layout (NCHW: through in-cache transposes)
            g_source = (gl, (0,) * len(geom.kernel))
        return _direct_weight_grad(padded, *g_source, geom, bias)
    db = _bias_grad(gl) if bias else None
    if path == "depthwise":
        return _depthwise_direct_weight_grad(xl, gl, geom), db
    return _gemm_weight_grad(xl, gl, geom, groups, kept if kind == "columns" else None), db


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
        paths = conv_paths(xl, w.shape, geom, groups)
        y, saved = _conv_forward(xl, w, geom, groups, paths.forward, keep=needs[1], bias=b)
        if needs[0]:
            ctx.w = w
        if needs[1]:
            # the padded input or the columns when the forward made them, else the input itself
            ctx.xl, ctx.saved = (None, saved) if saved is not None else (xl, None)
        ctx.geom, ctx.groups, ctx.unbatched, ctx.paths = geom, groups, unbatched, paths
        return _unbatched_channels_first(y, unbatched)

    @staticmethod
    def backward(ctx, g):
        gl = _batched_channels_last(g, ctx.unbatched)
        needs = ctx.needs_input_grad
        dx, dw, db = _conv_backward(
            gl,
            ctx.__dict__.get("w"),
            ctx.__dict__.get("xl"),
            ctx.geom,
            ctx.groups,
            ctx.paths,
            needs[0],
            needs[1],
            ctx.__dict__.get("saved"),
            needs[2],
        )
        if dx is not None:
            dx = _unbatched_channels_first(dx, ctx.unbatched)
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
        paths = conv_paths(xl, w.shape, geom, groups)
        y = _conv_input_grad(xl, w, geom, groups, paths)
        if b is not None:
            y += b
        needs = ctx.needs_input_grad
        if needs[0]:
            ctx.w = w
        if needs[1]:
            ctx.xl = xl
        ctx.geom, ctx.groups, ctx.unbatched, ctx.paths = geom, groups, unbatched, paths
        return _unbatched_channels_first(y, unbatched)

    @staticmethod
    def backward(ctx, g):
        gl = _batched_channels_last(g, ctx.unbatched)
        needs = ctx.needs_input_grad
        dx = dw = db = None
        if needs[0]:
            dx = _conv_forward(gl, ctx.w, ctx.geom, ctx.groups, ctx.paths.forward)[0]
            dx = _unbatched_channels_first(dx, ctx.unbatched)
        if needs[1]:
            # this op's output gradient is the input of the convolution it transposes
            dw = _conv_weight_grad(gl, ctx.xl, ctx.geom, ctx.groups, ctx.paths.weight_grad)[0]
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
