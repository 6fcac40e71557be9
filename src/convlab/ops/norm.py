"""Normalisation layers' math: batch, layer, group, instance, local response and RMS normalisation.

Every op here normalises ``x`` with statistics taken over some axes and then applies a learned
per-feature affine map; each backward is the closed form of that chain, not a graph of
primitives. With ``x̂ = (x - μ) σ⁻¹`` over a set of ``M`` values and ``y = w x̂ + b``::

    dx = (w / σ) (g - mean(g) - x̂ mean(g x̂))        dw = Σ g x̂        db = Σ g

(the two means are reductions over the same ``M`` values; BatchNorm and LayerNorm compute both in
one pass over the data). ``σ = sqrt(var + eps)`` with the biased variance, as in PyTorch.

Layouts, all without transposing copies:

- batch norm: ``(N, C, *)`` viewed as ``(N, C, L)``, statistics per channel over axes (0, 2);
- layer norm / RMS norm: ``(*, D)`` viewed as ``(M, D)``, statistics per row;
- group norm (and instance norm, its ``num_groups = C`` case): ``(N, G, C/G * L)`` rows;
- local response norm: a window sum along the channel axis.

On the CPU (NumPy float32/float64) batch and layer norm run compiled one-pass-per-reduction
kernels (numba, through :mod:`convlab.backend.cpu_kernels`; compiled on first use and cached on disk, single-threaded so they never fight the
BLAS threads for the cores); every other case (CuPy, float16) runs the same math as array
expressions. Statistics are accumulated in float64 scalars inside the kernels and returned in the
input's dtype: float32 stays float32.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from ..autograd.function import Function
from ..backend import array_module, cpu_kernels
from ..tensor import Tensor

# ------------------------------------------------------------------------------- compiled kernels
# Plain Python loops compiled by numba. ``x`` is (N, C, L) for the channel kernels and (M, D) for
# the row kernels; per-channel / per-row statistics are float64 accumulators.


# With L == 1 (BatchNorm1d on (N, C)) the channel loop is the innermost one, so that it
# vectorises across channels instead of running a one-iteration loop per value.


def _channel_moments(x, mean, var, lo, hi):
    """Mean and biased variance of the channels ``lo..hi`` of x (N, C, L) into the float64
    ``mean`` and ``var``, two passes (no cancellation)."""
    n, _, length = x.shape
    count = n * length
    for j in range(lo, hi):
        mean[j] = 0.0
        var[j] = 0.0
    for i in range(n):
        if length == 1:
            for j in range(lo, hi):
                mean[j] += x[i, j, 0]
            continue
        for j in range(lo, hi):
            s = 0.0
            for k in range(length):
                s += x[i, j, k]
            mean[j] += s
    for j in range(lo, hi):
        mean[j] /= count
    for i in range(n):
        if length == 1:
            for j in range(lo, hi):
                d = x[i, j, 0] - mean[j]
                var[j] += d * d
            continue
        for j in range(lo, hi):
            m = mean[j]
            s = 0.0
            for k in range(length):
                d = x[i, j, k] - m
                s += d * d
            var[j] += s
    for j in range(lo, hi):
        var[j] /= count


def _channel_normalize(x, center, scale, shift, out, lo, hi):
    """out[n, c, l] = (x[n, c, l] - center[c]) * scale[c] + shift[c] for the channels ``lo..hi``."""
    n, _, length = x.shape
    for i in range(n):
        if length == 1:
            for j in range(lo, hi):
                out[i, j, 0] = (x[i, j, 0] - center[j]) * scale[j] + shift[j]
            continue
        for j in range(lo, hi):
            m = center[j]
            a = scale[j]
            b = shift[j]
            for k in range(length):
                out[i, j, k] = (x[i, j, k] - m) * a + b


def _channel_grad_sums(g, x, mean, sum_g, sum_gxc, lo, hi):
    """For the channels ``lo..hi``: sum_g = Σ g and sum_gxc = Σ g (x - mean), one pass over g and x."""
    n, _, length = x.shape
    for j in range(lo, hi):
        sum_g[j] = 0.0
        sum_gxc[j] = 0.0
    for i in range(n):
        if length == 1:
            for j in range(lo, hi):
                gv = g[i, j, 0]
                sum_g[j] += gv
                sum_gxc[j] += gv * (x[i, j, 0] - mean[j])
            continue
        for j in range(lo, hi):
            m = mean[j]
            s1 = 0.0
            s2 = 0.0
            for k in range(length):
                gv = g[i, j, k]
                s1 += gv
                s2 += gv * (x[i, j, k] - m)
            sum_g[j] += s1
            sum_gxc[j] += s2


def _channel_input_grad(g, x, gain, mean, mean_g, proj, scale, out, lo, hi):
    """out = (g gain[c] - mean_g[c] - (x - mean[c]) proj[c]) scale[c] for the channels ``lo..hi``:
    the closed-form dx of batch norm (gain 1, scale w / σ) and of group norm viewed per
    (sample, channel) (gain w)."""
    n, _, length = x.shape
    for i in range(n):
        if length == 1:
            for j in range(lo, hi):
                out[i, j, 0] = (g[i, j, 0] * gain[j] - mean_g[j] - (x[i, j, 0] - mean[j]) * proj[j]) * scale[j]
            continue
        for j in range(lo, hi):
            a = gain[j]
            m = mean[j]
            mg = mean_g[j]
            p = proj[j]
            s = scale[j]
            for k in range(length):
                out[i, j, k] = (g[i, j, k] * a - mg - (x[i, j, k] - m) * p) * s


def _row_norm(x, w, b, eps, y, mean, rstd, lo, hi):
    """Layer norm of the rows ``lo..hi`` of x (M, D): y = (x - mean) rstd w + b; keeps mean and rstd."""
    d = x.shape[1]
    for i in range(lo, hi):
        s = 0.0
        for k in range(d):
            s += x[i, k]
        mu = s / d
        q = 0.0
        for k in range(d):
            t = x[i, k] - mu
            q += t * t
        mean[i] = mu
        rstd[i] = 1.0 / np.sqrt(q / d + eps)
        m = mean[i]  # read back in x's dtype: the elementwise pass runs in x's precision
        r = rstd[i]
        for k in range(d):
            y[i, k] = (x[i, k] - m) * r * w[k] + b[k]


def _row_norm_grad(g, x, mean, rstd, w, dx, dw, db, need_dx, need_affine, lo, hi):
    """Layer norm's backward for the shares ``lo..hi`` of the rows (share ``s`` of ``S =
    len(dw)``: rows ``s M / S`` to ``(s + 1) M / S``): dx = rstd (gw - mean(gw) - x̂ mean(gw x̂)),
    gw = g w, per row; dw[s] += g x̂ and db[s] += g summed over the share's rows (float64
    accumulators, added up by the caller). One pass computes the row's two sums and the affine
    gradients, a second one dx (the row is in cache by then)."""
    rows, d = x.shape
    shares = dw.shape[0]
    coef = np.empty(2, x.dtype)  # the row's two means in x's dtype: the dx pass runs in x's precision
    for share in range(lo, hi):
        for i in range(share * rows // shares, (share + 1) * rows // shares):
            m = mean[i]
            r = rstd[i]
            s1 = 0.0
            s2 = 0.0
            for k in range(d):
                gv = g[i, k]
                xh = (x[i, k] - m) * r
                gw = gv * w[k]
                s1 += gw
                s2 += gw * xh
                if need_affine:
                    dw[share, k] += gv * xh
                    db[share, k] += gv
            if need_dx:
                coef[0] = s1 / d
                coef[1] = s2 / d
                a = coef[0]
                c = coef[1]
                for k in range(d):
                    dx[i, k] = (g[i, k] * w[k] - a - (x[i, k] - m) * r * c) * r


_KERNEL_SOURCES = {
    f.__name__: f
    for f in (
        _channel_moments, _channel_normalize, _channel_grad_sums, _channel_input_grad, _row_norm, _row_norm_grad
    )
}
_ROW_GRAD_SHARES = 8  # partial affine gradients of layer norm's backward (threads beyond this idle there)
# reassociation lets LLVM vectorise the sums; no 'nnan'/'ninf', so NaN and inf propagate as in PyTorch
_FASTMATH = {"reassoc", "contract"}


@functools.cache
def _driver(name):
    """The :func:`cpu_kernels.split` driver of the compiled ``_KERNEL_SOURCES[name]`` (compiled on first use)."""
    return cpu_kernels.split(cpu_kernels.jit(_KERNEL_SOURCES[name], fastmath=_FASTMATH))


def _run(name, args, count):
    """``_KERNEL_SOURCES[name](*args, lo, hi)`` over ``range(count)`` (channels, rows or columns),
    split over numba's threads when the first array is large."""
    _driver(name)(args, count, cpu_kernels.chunks(count, args[0].size))


def _acc_dtype(dtype):
    """The dtype array-path statistics accumulate in: float32 for half precision, else ``dtype``."""
    return np.dtype(np.float32) if np.dtype(dtype).itemsize < 4 else np.dtype(dtype)


# ------------------------------------------------------------- per-channel helpers (N, C, L)
def channel_moments(x3):
    """Per-channel mean and biased variance of ``x3`` (N, C, L), in float64 (kernels) or the
    accumulation dtype (array path)."""
    if cpu_kernels.accepts(x3):
        c = x3.shape[1]
        mean, var = np.empty(c), np.empty(c)
        _run("_channel_moments", (x3, mean, var), c)
        return mean, var
    acc = _acc_dtype(x3.dtype)
    return x3.mean(axis=(0, 2), dtype=acc), x3.var(axis=(0, 2), dtype=acc)


def channel_normalize(x3, center, scale, shift):
    """``(x3 - center[c]) * scale[c] + shift[c]`` for (N, C, L) ``x3`` and (C,) coefficients of
    x3's dtype (centring first: no cancellation when the mean is large against the spread)."""
    if cpu_kernels.accepts(x3):
        out = np.empty_like(x3)
        _run("_channel_normalize", (x3, center, scale, shift, out), x3.shape[1])
        return out
    out = x3 - center[:, None]
    out *= scale[:, None]
    out += shift[:, None]
    return out


def channel_grad_sums(g3, x3, mean):
    """Per channel: ``(Σ g, Σ g (x - mean))`` over axes (0, 2) of (N, C, L) arrays."""
    if cpu_kernels.accepts(x3):
        c = x3.shape[1]
        sum_g, sum_gxc = np.empty(c), np.empty(c)
        _run("_channel_grad_sums", (g3, x3, mean, sum_g, sum_gxc), c)
        return sum_g, sum_gxc
    xp = array_module(x3)
    acc = _acc_dtype(x3.dtype)
    return g3.sum(axis=(0, 2), dtype=acc), xp.einsum("ncl,ncl->c", g3, x3 - mean[:, None]).astype(acc, copy=False)


def channel_input_grad(g3, x3, gain, mean, mean_g, proj, scale):
    """``(g3 gain[c] - mean_g[c] - (x3 - mean[c]) proj[c]) scale[c]`` for (N, C, L) arrays and
    (C,) coefficients of their dtype (see :func:`_channel_input_grad`)."""
    if cpu_kernels.accepts(x3):
        out = np.empty_like(x3)
        _run("_channel_input_grad", (g3, x3, gain, mean, mean_g, proj, scale, out), x3.shape[1])
        return out
    dx = x3 - mean[:, None]
    dx *= -proj[:, None]
    dx += g3 * gain[:, None]
    dx -= mean_g[:, None]
    dx *= scale[:, None]
    return dx


def _as_3d(shape) -> tuple:
    """(N, C, *) -> (N, C, L) with L = prod(*) (explicit, so empty batches reshape too)."""
    return shape[0], shape[1], math.prod(shape[2:])


def _as_rows(shape, normalized_ndim) -> tuple:
    """(*, *normalized) -> (M, D) with D = prod(normalized)."""
    split = len(shape) - normalized_ndim
    return math.prod(shape[:split]), math.prod(shape[split:])


def _contiguous(a):
    """``a`` as a C-contiguous array (the kernels' layout); a copy only when it is not already."""
    return array_module(a).ascontiguousarray(a)


# ----------------------------------------------------------------------------------- batch norm
class BatchNorm(Function):
    """Batch normalisation over (N, C, *): per channel c, over the M = N * prod(*) values,

        y = (x - μ_c) / sqrt(σ²_c + eps) * w_c + b_c

    with the batch mean and biased variance in training (the running statistics are updated in
    place: ``r = (1 - momentum) r + momentum s``, the variance unbiased by M / (M - 1)), and the
    running statistics in evaluation. Computed in one pass as ``(x - μ_c) α_c + b_c``, α = w / σ.

    Backward (training), with x̂ = (x - μ) / σ::

        dx = (w / σ) (g - mean(g) - x̂ mean(g x̂)),   dw = Σ g x̂,   db = Σ g

    the two sums taken in one pass over g and x. In evaluation μ and σ are constants:
    dx = g w / σ.

    Shape: input (N, C, *) -> output (N, C, *); weight, bias, running stats (C,).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, training, momentum, eps):
        xp = array_module(x)
        x3 = _contiguous(x.reshape(_as_3d(x.shape)))
        dtype = x.dtype.type
        if training:
            mean, var = channel_moments(x3)
            invstd = 1 / xp.sqrt(var + eps)
            if running_mean is not None:
                count = x3.shape[0] * x3.shape[2]
                running_mean[...] = (1 - momentum) * running_mean + momentum * mean
                running_var[...] = (1 - momentum) * running_var + momentum * (var * (count / (count - 1)))
        else:
            mean, invstd = running_mean, 1 / xp.sqrt(running_var + eps)
        mean, invstd = mean.astype(dtype, copy=False), invstd.astype(dtype, copy=False)
        scale = invstd if weight is None else invstd * weight
        shift = xp.zeros_like(scale) if bias is None else bias
        y = channel_normalize(x3, mean, scale, shift)
        ctx.mean, ctx.invstd = mean, invstd
        ctx.weight, ctx.training, ctx.shape = weight, training, x3.shape
        ctx.x3 = x3 if training or ctx.needs_input_grad[1] else None
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        g3 = _contiguous(g.reshape(ctx.shape))
        mean, invstd, weight, dtype = ctx.mean, ctx.invstd, ctx.weight, g.dtype.type
        gscale = invstd if weight is None else invstd * weight
        dx = dw = db = sum_g = sum_gxc = None
        if ctx.training or need_w:
            sum_g, sum_gxc = channel_grad_sums(g3, ctx.x3, mean)
        elif need_b:  # evaluation, only the bias gradient
            sum_g = g3.sum(axis=(0, 2), dtype=_acc_dtype(g3.dtype))
        if need_w:
            dw = (sum_gxc * invstd).astype(dtype, copy=False)
        if need_b:
            db = sum_g.astype(dtype, copy=False)
        if need_x:
            if ctx.training:
                count = ctx.shape[0] * ctx.shape[2]
                mean_g = (sum_g / count).astype(dtype, copy=False)
                proj = (sum_gxc * invstd * invstd / count).astype(dtype, copy=False)
                gain = array_module(g3).ones_like(gscale)
                dx = channel_input_grad(g3, ctx.x3, gain, mean, mean_g, proj, gscale)
            else:
                dx = g3 * gscale[:, None]
            dx = dx.reshape(g.shape)
        return dx, dw, db


class SyncBatchNorm(Function):
    """Batch normalisation in training with statistics over the batches of all processes.

    ``reduce(a)`` sums the float64 array ``a`` over the processes in place (an all-reduce). With
    each process's sums over its own M_r values, the global M = Σ M_r and::

        forward:   one all-reduce of (Σ x, Σ x², M) per channel ->  μ = Σx / M,  σ² = Σx² / M - μ²
        backward:  one all-reduce of (Σ g, Σ g (x - μ)) per channel, then
                   dx = (w / σ) (g - Σg / M - x̂ Σ g x̂ / M)       (the sums global)
                   dw = Σ g x̂,  db = Σ g                         (this process's sums)

    so dx is the gradient of the *sum* of all processes' losses w.r.t. this process's x (the
    statistics couple the batches), and dw, db are local: DistributedDataParallel averages them
    with the other parameters' gradients (PyTorch's split). The running statistics are updated
    with the global mean and the global variance unbiased by M / (M - 1).

    Shape: input (N, C, *) -> output (N, C, *); weight, bias, running stats (C,).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, momentum, eps, reduce):
        xp = array_module(x)
        x3 = _contiguous(x.reshape(_as_3d(x.shape)))
        dtype = x.dtype.type
        c, local = x3.shape[1], x3.shape[0] * x3.shape[2]
        local_mean, local_var = channel_moments(x3)
        stats = np.empty(2 * c + 1)
        stats[:c] = local_mean * local
        stats[c:2 * c] = (local_var + local_mean * local_mean) * local
        stats[2 * c] = local
        reduce(stats)
        count = stats[2 * c]
        mean = stats[:c] / count
        var = np.maximum(stats[c:2 * c] / count - mean * mean, 0.0)
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * (var * (count / (count - 1)))
        invstd = (1 / np.sqrt(var + eps)).astype(dtype)
        mean = mean.astype(dtype)
        scale = invstd if weight is None else invstd * weight
        shift = xp.zeros_like(scale) if bias is None else bias
        y = channel_normalize(x3, mean, scale, shift)
        ctx.mean, ctx.invstd, ctx.count, ctx.reduce = mean, invstd, count, reduce
        ctx.weight, ctx.x3 = weight, x3
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        g3 = _contiguous(g.reshape(ctx.x3.shape))
        mean, invstd, weight, dtype = ctx.mean, ctx.invstd, ctx.weight, g.dtype.type
        c = mean.shape[0]
        sum_g, sum_gxc = channel_grad_sums(g3, ctx.x3, mean)
        dw = (sum_gxc * invstd).astype(dtype, copy=False) if need_w else None
        db = sum_g.astype(dtype, copy=False) if need_b else None
        dx = None
        if need_x:
            sums = np.empty(2 * c)
            sums[:c], sums[c:] = sum_g, sum_gxc
            ctx.reduce(sums)
            mean_g = (sums[:c] / ctx.count).astype(dtype)
            proj = (sums[c:] * invstd * invstd / ctx.count).astype(dtype)
            gscale = invstd if weight is None else invstd * weight
            gain = array_module(g3).ones_like(gscale)
            dx = channel_input_grad(g3, ctx.x3, gain, mean, mean_g, proj, gscale).reshape(g.shape)
        return dx, dw, db


# ----------------------------------------------------------------------------------- layer norm
class LayerNorm(Function):
    """Layer normalisation over the last ``normalized_ndim`` dims (D values per row):

        y = (x - μ) / sqrt(σ² + eps) * w + b      (μ, σ² the row's mean and biased variance)

    Backward, per row, with x̂ = (x - μ) / σ and gw = g w::

        dx = (gw - mean(gw) - x̂ mean(gw x̂)) / σ,   dw = Σ_rows g x̂,   db = Σ_rows g

    Shape: input (*, *normalized_shape) -> same; weight, bias normalized_shape.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, normalized_ndim, eps):
        xp = array_module(x)
        rows, d = _as_rows(x.shape, normalized_ndim)
        x2 = _contiguous(x.reshape(rows, d))
        w = None if weight is None else weight.reshape(d)
        b = None if bias is None else bias.reshape(d)
        if cpu_kernels.accepts(x2):
            y, mean, rstd = np.empty_like(x2), np.empty(rows, x2.dtype), np.empty(rows, x2.dtype)
            w_or_ones = np.ones(d, x2.dtype) if w is None else w
            b_or_zeros = np.zeros(d, x2.dtype) if b is None else b
            _run("_row_norm", (x2, w_or_ones, b_or_zeros, eps, y, mean, rstd), rows)
        else:
            acc = _acc_dtype(x2.dtype)
            mean = x2.mean(axis=1, dtype=acc)
            rstd = 1 / xp.sqrt(x2.var(axis=1, dtype=acc) + eps)
            mean, rstd = mean.astype(x2.dtype, copy=False), rstd.astype(x2.dtype, copy=False)
            y = x2 - mean[:, None]
            y *= rstd[:, None]
            if w is not None:
                y *= w
            if b is not None:
                y += b
        ctx.x2, ctx.mean, ctx.rstd, ctx.w = x2, mean, rstd, w
        ctx.shapes = x.shape, None if weight is None else weight.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        x2, mean, rstd, w = ctx.x2, ctx.mean, ctx.rstd, ctx.w
        x_shape, w_shape = ctx.shapes
        g2 = _contiguous(g.reshape(x2.shape))
        d = x2.shape[1]
        need_affine = need_w or need_b
        if cpu_kernels.accepts(x2):
            dx = np.empty_like(x2) if need_x else np.empty((0, 0), x2.dtype)
            # a fixed number of shares (not one per thread): the sums are the same on any thread count
            shares = max(1, min(_ROW_GRAD_SHARES, x2.shape[0]))
            dw_acc, db_acc = np.zeros((shares, d)), np.zeros((shares, d))
            w_or_ones = np.ones(d, x2.dtype) if w is None else w
            _run("_row_norm_grad", (g2, x2, mean, rstd, w_or_ones, dx, dw_acc, db_acc, need_x, need_affine), shares)
            dw = dw_acc.sum(axis=0).astype(x2.dtype) if need_w else None
            db = db_acc.sum(axis=0).astype(x2.dtype) if need_b else None
        else:
            acc = _acc_dtype(x2.dtype)
            xhat = (x2 - mean[:, None]) * rstd[:, None]
            dw = (g2 * xhat).sum(axis=0, dtype=acc).astype(x2.dtype) if need_w else None
            db = g2.sum(axis=0, dtype=acc).astype(x2.dtype) if need_b else None
            dx = None
            if need_x:
                gw = g2 if w is None else g2 * w
                dx = gw - gw.mean(axis=1, keepdims=True, dtype=acc).astype(x2.dtype, copy=False)
                dx -= xhat * (gw * xhat).mean(axis=1, keepdims=True, dtype=acc).astype(x2.dtype, copy=False)
                dx *= rstd[:, None]
        return (
            dx.reshape(x_shape) if need_x else None,
            dw.reshape(w_shape) if need_w else None,
            db.reshape(w_shape) if need_b else None,
        )


# ----------------------------------------------------------------------------------- group norm
class GroupNorm(Function):
    """Group normalisation: the C channels of (N, C, *) split into G groups of K = C/G channels;
    each (sample, group) is normalised over its K * L values, then a per-channel affine map:

        y[n, c] = (x[n, c] - μ[n, g]) / σ[n, g] * w[c] + b[c]

    Backward per (n, g), with x̂ = (x - μ) / σ and gw = g w[c]::

        dx = (gw - mean(gw) - x̂ mean(gw x̂)) / σ,   dw[c] = Σ_{n,l} g x̂,   db[c] = Σ_{n,l} g

    The data are only ever viewed, never transposed: (1, N*G, K*L) for the statistics and
    (1, N*C, L) for the elementwise passes, so the batch-norm channel kernels do the work with
    per-(sample, channel) coefficients. Instance norm is the case G = C.

    Shape: input (N, C, *) -> same; weight, bias (C,).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, num_groups, eps):
        xp = array_module(x)
        n, c, length = _as_3d(x.shape)
        k = c // num_groups
        dtype = x.dtype.type
        x1 = _contiguous(x.reshape(1, n * c, length))
        mean, var = channel_moments(x1.reshape(1, n * num_groups, k * length))
        rstd = (1 / xp.sqrt(var + eps)).astype(dtype, copy=False)  # (N*G,)
        mean = mean.astype(dtype, copy=False)
        scale = xp.repeat(rstd, k)
        if weight is not None:
            scale = (scale.reshape(n, c) * weight).reshape(-1)
        shift = xp.zeros(n * c, dtype) if bias is None else xp.tile(bias, n)
        y = channel_normalize(x1, xp.repeat(mean, k), scale, shift)
        ctx.x1, ctx.mean, ctx.rstd, ctx.weight, ctx.num_groups = x1, mean, rstd, weight, num_groups
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad
        xp = array_module(g)
        x1, mean, rstd, weight, groups = ctx.x1, ctx.mean, ctx.rstd, ctx.weight, ctx.num_groups
        n, c = g.shape[:2]
        k, length = c // groups, x1.shape[2]
        dtype = g.dtype.type
        g1 = _contiguous(g.reshape(x1.shape))
        center = xp.repeat(mean, k)
        sum_g, sum_gxc = channel_grad_sums(g1, x1, center)  # per (sample, channel)
        sum_g, sum_gxc = sum_g.reshape(n, c), sum_gxc.reshape(n, c)
        rstd_nc = xp.repeat(rstd, k).reshape(n, c)
        dw = (sum_gxc * rstd_nc).sum(axis=0).astype(dtype, copy=False) if need_w else None
        db = sum_g.sum(axis=0).astype(dtype, copy=False) if need_b else None
        dx = None
        if need_x:
            w = 1 if weight is None else weight
            count = k * length
            # per group: mean(gw), and mean(gw x̂) / σ = Σ gw (x - μ) σ⁻² / count
            mean_gw = (sum_g * w).reshape(n, groups, k).sum(axis=2).reshape(-1) / count
            proj = (sum_gxc * w).reshape(n, groups, k).sum(axis=2).reshape(-1) * rstd * rstd / count
            gain = xp.ones(n * c, dtype) if weight is None else xp.tile(weight, n)
            dx = channel_input_grad(
                g1, x1, gain, center,
                xp.repeat(mean_gw, k).astype(dtype, copy=False),
                xp.repeat(proj, k).astype(dtype, copy=False),
                xp.repeat(rstd, k),
            ).reshape(g.shape)
        return dx, dw, db


# ------------------------------------------------------------------------------------- RMS norm
class RMSNorm(Function):
    """Root-mean-square normalisation over the last dims (D values per row):

        y = x / sqrt(mean(x²) + eps) * w

    Backward, per row, with r = 1 / sqrt(mean(x²) + eps) and gw = g w::

        dx = r (gw - x r² mean(gw x)),   dw = Σ_rows g x r

    Shape: input (*, *normalized_shape) -> same; weight normalized_shape.
    """

    @staticmethod
    def forward(ctx, x, weight, *, normalized_ndim, eps):
        xp = array_module(x)
        rows, d = _as_rows(x.shape, normalized_ndim)
        x2 = x.reshape(rows, d)
        acc = _acc_dtype(x.dtype)
        rrms = (1 / xp.sqrt(xp.einsum("md,md->m", x2, x2).astype(acc, copy=False) / d + eps)).astype(x.dtype, copy=False)
        y = x2 * rrms[:, None]
        w = None if weight is None else weight.reshape(d)
        if w is not None:
            y *= w
        ctx.x2, ctx.rrms, ctx.w, ctx.shapes = x2, rrms, w, (x.shape, None if weight is None else weight.shape)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w = ctx.needs_input_grad
        xp = array_module(g)
        x2, rrms, w = ctx.x2, ctx.rrms, ctx.w
        x_shape, w_shape = ctx.shapes
        g2 = g.reshape(x2.shape)
        dx = dw = None
        if need_w:
            dw = xp.einsum("md,md,m->d", g2, x2, rrms).reshape(w_shape)
        if need_x:
            gw = g2 if w is None else g2 * w
            proj = xp.einsum("md,md->m", gw, x2) * rrms * rrms / x2.shape[1]
            dx = x2 * -proj[:, None]
            dx += gw
            dx *= rrms[:, None]
            dx = dx.reshape(x_shape)
        return dx, dw


# ------------------------------------------------------------------------- local response norm
def _channel_window_sum(a, before, after):
    """s[:, c] = Σ a[:, c - before .. c + after] along axis 1, zero outside [0, C)."""
    xp = array_module(a)
    c = a.shape[1]
    padded = xp.zeros((a.shape[0], c + before + after) + a.shape[2:], a.dtype)
    padded[:, before:before + c] = a
    s = padded[:, 0:c].copy()
    for j in range(1, before + after + 1):
        s += padded[:, j:j + c]
    return s


class LocalResponseNorm(Function):
    """Local response normalisation across channels (AlexNet), PyTorch's formula:

        base_c = k + alpha / size * Σ_{j = c - ⌊size/2⌋}^{c + ⌊(size-1)/2⌋} x_j²   (zero outside 0..C-1)
        y_c = x_c / base_c^beta

    Backward: each x_i enters its own y_i and, squared, every base_c whose window holds i::

        dx_i = g_i / base_i^beta - (2 alpha beta / size) x_i Σ_{c: i in window(c)} g_c y_c / base_c

    the last sum being the same window sum with the two sides swapped.

    Shape: input (N, C, *) -> same.
    """

    @staticmethod
    def forward(ctx, x, *, size, alpha, beta, k):
        xp = array_module(x)
        dtype = x.dtype.type
        base = _channel_window_sum(x * x, size // 2, (size - 1) // 2)
        base *= dtype(alpha / size)
        base += dtype(k)
        denom = xp.power(base, dtype(beta))
        y = x / denom
        ctx.x, ctx.base, ctx.denom, ctx.y, ctx.options = x, base, denom, y, (size, alpha, beta)
        return y

    @staticmethod
    def backward(ctx, g):
        size, alpha, beta = ctx.options
        dtype = g.dtype.type
        t = g * ctx.y
        t /= ctx.base
        spread = _channel_window_sum(t, (size - 1) // 2, size // 2)
        spread *= ctx.x
        spread *= dtype(-2 * alpha * beta / size)
        spread += g / ctx.denom
        return spread


# --------------------------------------------------------------------------- argument checking
def _shape_str(shape) -> str:
    return str(tuple(shape))


def _check_input(who, input, min_ndim=0, layout=None):
    """``input`` must be a floating Tensor with at least ``min_ndim`` dims."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected input to be a convlab Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{who}: expected a floating-point input, got dtype {input.dtype}")
    if input.ndim < min_ndim:
        raise ValueError(
            f"{who}: expected input with at least {min_ndim} dimensions {layout or ''}".rstrip()
            + f", got {input.ndim}D input of shape {_shape_str(input.shape)}"
        )


def _check_vector(who, name, t, shape, input, what):
    """Optional per-feature tensor ``name`` must have ``shape`` and the input's dtype."""
    if t is None:
        return None
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: expected {name} to be a convlab Tensor or None, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{who}: expected {name} of shape {_shape_str(shape)} ({what}), got {_shape_str(t.shape)}")
    if t.dtype != input.dtype:
        raise TypeError(f"{who}: expected {name} of the input's dtype {input.dtype}, got {t.dtype}")
    return t


def _check_eps(who, eps, positive):
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool):
        raise TypeError(f"{who}: expected eps to be a number, got {type(eps).__name__}")
    if positive and eps <= 0:
        raise ValueError(f"{who}: eps must be positive during training, but got {eps}")
    if eps < 0:
        raise ValueError(f"{who}: eps must be non-negative, but got {eps}")


def _check_momentum(who, momentum):
    if not isinstance(momentum, numbers.Real) or isinstance(momentum, bool):
        raise TypeError(f"{who}: expected momentum to be a number, got {type(momentum).__name__}")


def _values_per_channel(input) -> int:
    return input.shape[0] * math.prod(input.shape[2:])


def _normalized_shape_arg(who, normalized_shape) -> tuple:
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        raise TypeError(
            f"{who}: argument 'normalized_shape' must be a tuple of ints, got int "
            f"(write ({normalized_shape},))"
        )
    if not isinstance(normalized_shape, (tuple, list)) or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in normalized_shape
    ):
        raise TypeError(f"{who}: argument 'normalized_shape' must be a tuple of ints, got {normalized_shape!r}")
    if len(normalized_shape) == 0:
        raise ValueError(f"{who}: normalized_shape must have at least one dimension, got ()")
    return tuple(int(n) for n in normalized_shape)


def _check_trailing(who, input, normalized_shape):
    k = len(normalized_shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        trailing = ", ".join(str(n) for n in normalized_shape)
        raise ValueError(
            f"{who}: expected input with shape (*, {trailing}) to match normalized_shape={normalized_shape}, "
            f"got shape {_shape_str(input.shape)}"
        )


def _check_per_channel_args(who, input, running_mean, running_var, weight, bias, momentum, eps, eps_positive):
    """Batch/instance norm arguments: an ``(N, C, *)`` input, per-channel vectors of length ``C``
    (or None), ``eps`` (> 0 when ``eps_positive``, else >= 0) and ``momentum``."""
    _check_input(who, input, 2, "(N, C, *)")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_vector(who, name, t, (c,), input, f"one value per channel of the input's {c}")
    _check_eps(who, eps, positive=eps_positive)
    _check_momentum(who, momentum)


# ------------------------------------------------------------------------------ functional forms
def _batch_norm(who, input, running_mean, running_var, weight, bias, training, momentum, eps):
    """:func:`batch_norm` with errors prefixed by ``who`` (the function or the calling layer)."""
    _check_per_channel_args(who, input, running_mean, running_var, weight, bias, momentum, eps, training)
    if training:
        if _values_per_channel(input) == 1:
            raise ValueError(
                f"{who}: Expected more than 1 value per channel when training, got input size {_shape_str(input.shape)}"
            )
        if (running_mean is None) != (running_var is None):
            raise ValueError(f"{who}: running_mean and running_var must both be given or both be None")
    else:
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is None:
                raise RuntimeError(f"{who}: {name} must be defined in evaluation mode (training=False)")
    if input.numel() == 0:  # nothing to normalise, running statistics unchanged (as PyTorch)
        return BatchNorm.apply(input, weight, bias, running_mean=None, running_var=None, training=True, momentum=0.0, eps=eps)
    return BatchNorm.apply(
        input,
        weight,
        bias,
        running_mean=None if running_mean is None else running_mean.data,
        running_var=None if running_var is None else running_var.data,
        training=bool(training),
        momentum=float(momentum),
        eps=float(eps),
    )


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation of each channel over the batch (and spatial dims).

    Args:
        input: (N, C, *) tensor.
        running_mean, running_var: (C,) running statistics; used in evaluation
            (``training=False``, then required), updated in place in training when given (may be
            None in training).
        weight, bias: optional (C,) affine parameters.
        training: use the batch statistics (and update the running ones).
        momentum: weight of the new batch statistics in the running average.
        eps: added to the variance before the square root.

    Shape:
        input (N, C, *) -> output (N, C, *).

    Example::

        >>> x = convlab.randn(8, 3, 4, 4)
        >>> y = F.batch_norm(x, None, None, training=True)
        >>> y.shape
        (8, 3, 4, 4)
    """
    return _batch_norm("batch_norm()", input, running_mean, running_var, weight, bias, training, momentum, eps)


def _layer_norm(who, input, normalized_shape, weight, bias, eps):
    _check_input(who, input)
    normalized_shape = _normalized_shape_arg(who, normalized_shape)
    _check_trailing(who, input, normalized_shape)
    for name, t in (("weight", weight), ("bias", bias)):
        _check_vector(who, name, t, normalized_shape, input, "normalized_shape")
    _check_eps(who, eps, positive=False)
    return LayerNorm.apply(input, weight, bias, normalized_ndim=len(normalized_shape), eps=float(eps))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the last ``len(normalized_shape)`` dims.

    Args:
        input: (*, *normalized_shape) tensor.
        normalized_shape: the trailing shape to normalise over, a tuple or list of ints.
        weight, bias: optional affine parameters of shape ``normalized_shape``.
        eps: added to the variance before the square root.

    Shape:
        input (*, *normalized_shape) -> same shape.

    Example::

        >>> F.layer_norm(convlab.randn(2, 5, 10), (10,)).shape
        (2, 5, 10)
    """
    return _layer_norm("layer_norm()", input, normalized_shape, weight, bias, eps)


def _group_norm(who, input, num_groups, weight, bias, eps):
    _check_input(who, input, 2, "(N, C, *)")
    if not isinstance(num_groups, numbers.Integral) or isinstance(num_groups, bool) or num_groups <= 0:
        raise ValueError(f"{who}: num_groups must be a positive int, got {num_groups!r}")
    c = input.shape[1]
    if c % num_groups:
        raise ValueError(
            f"{who}: expected the number of channels to be divisible by num_groups={num_groups}, "
            f"got input of shape {_shape_str(input.shape)} ({c} channels)"
        )
    if input.shape[0] * c // num_groups * math.prod(input.shape[2:]) == 1:
        raise ValueError(f"{who}: Expected more than 1 value per channel when training, got input size {_shape_str(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_vector(who, name, t, (c,), input, f"one value per channel of the input's {c}")
    _check_eps(who, eps, positive=False)
    return GroupNorm.apply(input, weight, bias, num_groups=int(num_groups), eps=float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation: channels split into ``num_groups`` groups, each (sample, group)
    normalised over its channels and positions, then a per-channel affine map.

    Args:
        input: (N, C, *) tensor, C divisible by ``num_groups``.
        num_groups: number of channel groups.
        weight, bias: optional (C,) affine parameters.
        eps: added to the variance before the square root.

    Shape:
        input (N, C, *) -> same shape.

    Example::

        >>> F.group_norm(convlab.randn(2, 6, 4, 4), 3).shape
        (2, 6, 4, 4)
    """
    return _group_norm("group_norm()", input, num_groups, weight, bias, eps)


def _instance_norm(who, input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    _check_per_channel_args(who, input, running_mean, running_var, weight, bias, momentum, eps, False)
    c = input.shape[1]
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{who}: running_mean and running_var must both be given or both be None")
    if not use_input_stats:
        if running_mean is None:
            raise RuntimeError(f"{who}: running_mean and running_var must be defined when use_input_stats=False")
        return BatchNorm.apply(
            input, weight, bias, running_mean=running_mean.data, running_var=running_var.data,
            training=False, momentum=0.0, eps=float(eps),
        )
    spatial = math.prod(input.shape[2:])
    if spatial == 1:
        raise ValueError(f"{who}: Expected more than 1 spatial element when training, got input size {_shape_str(input.shape)}")
    if running_mean is not None and input.numel():
        # the per-(sample, channel) statistics, averaged over the batch, feed the running averages
        n = input.shape[0]
        mean, var = channel_moments(_contiguous(input.data.reshape(1, n * c, spatial)))
        running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean.reshape(n, c).mean(axis=0)
        unbiased = var.reshape(n, c) * (spatial / (spatial - 1))
        running_var.data[...] = (1 - momentum) * running_var.data + momentum * unbiased.mean(axis=0)
    return GroupNorm.apply(input, weight, bias, num_groups=c, eps=float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation: each channel of each sample normalised over its positions.

    Args:
        input: (N, C, *) tensor.
        running_mean, running_var: optional (C,) running statistics, updated in place (averaged
            over the batch) when ``use_input_stats``, used instead of the input's otherwise.
        weight, bias: optional (C,) affine parameters.
        use_input_stats: normalise with each instance's own statistics (default True).
        momentum: weight of the new statistics in the running average.
        eps: added to the variance before the square root.

    Shape:
        input (N, C, *) -> same shape.

    Example::

        >>> F.instance_norm(convlab.randn(2, 3, 8, 8)).shape
        (2, 3, 8, 8)
    """
    return _instance_norm("instance_norm()", input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def _rms_norm(who, input, normalized_shape, weight, eps):
    _check_input(who, input)
    normalized_shape = _normalized_shape_arg(who, normalized_shape)
    _check_trailing(who, input, normalized_shape)
    _check_vector(who, "weight", weight, normalized_shape, input, "normalized_shape")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    _check_eps(who, eps, positive=False)
    return RMSNorm.apply(input, weight, normalized_ndim=len(normalized_shape), eps=float(eps))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the last ``len(normalized_shape)`` dims:
    ``x / sqrt(mean(x²) + eps) * weight``.

    Args:
        input: (*, *normalized_shape) tensor.
        normalized_shape: the trailing shape to normalise over, a tuple or list of ints.
        weight: optional scale of shape ``normalized_shape``.
        eps: added to the mean square; None means the machine epsilon of the input's dtype.

    Shape:
        input (*, *normalized_shape) -> same shape.

    Example::

        >>> F.rms_norm(convlab.randn(2, 5, 10), (10,)).shape
        (2, 5, 10)
    """
    return _rms_norm("rms_norm()", input, normalized_shape, weight, eps)


def _local_response_norm(who, input, size, alpha, beta, k):
    _check_input(who, input)
    if input.ndim < 3:
        raise ValueError(
            f"{who}: expected 3D or higher dimensionality input (N, C, *), got {input.ndim} dimensions "
            f"(shape {_shape_str(input.shape)})"
        )
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{who}: size must be a positive int, got {size!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"{who}: expected {name} to be a number, got {type(value).__name__}")
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, size=int(size), alpha=float(alpha), beta=float(beta), k=float(k))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels (AlexNet):
    ``x_c / (k + alpha/size * Σ_{window of size channels around c} x_j²)^beta``.

    Args:
        input: (N, C, *) tensor with at least one spatial dim.
        size: number of neighbouring channels in the window.
        alpha: multiplicative factor.
        beta: exponent.
        k: additive factor.

    Shape:
        input (N, C, *) -> same shape.

    Example::

        >>> F.local_response_norm(convlab.randn(2, 16, 8, 8), size=5).shape
        (2, 16, 8, 8)
    """
    return _local_response_norm("local_response_norm()", input, size, alpha, beta, k)
