"""The GEMM path (any array module, any dims and groups; the fallback of the compiled kernels).

im2col is a strided *view* ``(N, *O, *K, C)`` of the zero-padded input (:func:`_windows`);
reshaping it to the GEMM's ``(N*O, K*C)`` matrix is the one copy, and the forward is a single
GEMM ``cols @ W`` (groups: one batched matmul over the groups, never a Python loop over them);
a 1x1 convolution at stride 1 needs no im2col at all. The weight gradient is one GEMM
``cols^T @ g`` over the columns saved by the forward; the input gradient at stride > 1 is
``g @ W^T`` followed by col2im, which adds the ``prod(K)`` strided slices back onto the padded
input (:func:`_col2im`; never ``np.add.at``)."""

from __future__ import annotations

import itertools
import math

from ...backend import array_module
from .geometry import ConvGeometry
from .layout import _pad_spatial


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


def _gemm_forward(xl, w, geom: ConvGeometry, groups, keep=False, bias=None):
    """The GEMM path's forward ``(N, *I, C) -> (N, *O, C_out)`` plus ``bias``: one GEMM
    ``cols @ W`` (groups: one batched matmul), or, depthwise, ``prod(K)`` multiply-adds of
    strided views. Returns ``(output, ("columns", cols) if keep else None)``."""
    xp = array_module(xl)
    n_batch = xl.shape[0]
    c_out = w.shape[0]
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


def _gemm_weight_grad(xl, gl, geom: ConvGeometry, groups, cols=None):
    """The GEMM path's weight gradient ``(G*Co, Cg, *K)``: one GEMM ``cols^T @ g`` (groups
    batched), from the forward's columns when given; depthwise, one reduction per offset."""
    xp = array_module(gl)
    c_out = gl.shape[-1]
    if cols is None and groups > 1 and xl.shape[-1] == groups:
        return _depthwise_weight_grad(xl, gl, geom, groups)
    if cols is None:
        cols = _columns(xl, geom, groups)
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
