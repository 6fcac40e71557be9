"""Reductions over one, several or all dimensions: sum, mean, prod, max/min, var/std, logsumexp, norm.

Shape rule: reducing ``dim`` removes it from the shape (``keepdim=True`` keeps it with size 1).
Gradient rule: dL/dx is dL/dy re-expanded to x's shape (by restoring the reduced axes with size 1
and broadcasting), times the local derivative of the reduction.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from ..autograd.function import Function
from ..backend import array_module
from ..tensor import Tensor
from .elementwise import to_float

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "What ``max(dim)``/``min(dim)`` return, like ``torch.return_types.max``."


def normalize_dims(name, ndim, dim):
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes, checked against ``ndim``."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
        if not lo <= d <= hi:
            raise IndexError(f"{name}(): dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})")
        out.append(d % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}(): dim {dims} contains a repeated dimension")
    return tuple(sorted(out)) if ndim else ()


def _expand(g, x_shape, dims, keepdim):
    """Re-insert reduced axes into ``g`` and broadcast it back to ``x_shape``."""
    xp = array_module(g)
    if not keepdim:
        g = xp.expand_dims(g, dims) if dims else g
    return xp.broadcast_to(g, x_shape)


class Sum(Function):
    """y = sum of x over ``dims``;  dx = g broadcast back to x's shape."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        return x.sum(axis=dims, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand(g, ctx.shape, ctx.dims, ctx.keepdim)


class Mean(Function):
    """y = mean of x over ``dims``;  dx = g / n broadcast back (n = number of elements averaged)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        ctx.n = math.prod(x.shape[d] for d in dims)
        return x.mean(axis=dims, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand(g / ctx.n, ctx.shape, ctx.dims, ctx.keepdim)


class Prod(Function):
    """y = product of x over ``dims``;  dx_i = g * prod_{j != i} x_j (exact when some x_j = 0)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        y = x.prod(axis=dims, keepdims=keepdim, dtype=dtype)
        ctx.x, ctx.dims, ctx.keepdim = x, dims, keepdim
        return y

    @staticmethod
    def backward(ctx, g):
        x, dims = ctx.x, ctx.dims
        xp = array_module(x)
        if x.size == 0:
            return xp.zeros(x.shape, dtype=g.dtype)
        # Move the reduced axes to the end and flatten them: prod over the last axis.
        rest = [d for d in range(x.ndim) if d not in dims]
        xt = x.transpose(rest + list(dims)).reshape([x.shape[d] for d in rest] + [math.prod(x.shape[d] for d in dims)])
        ones = xp.ones(xt.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, xt[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(xt, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = (left * right).reshape([x.shape[d] for d in rest] + [x.shape[d] for d in dims])
        others = others.transpose(np.argsort(rest + list(dims)))
        return _expand(g, x.shape, dims, ctx.keepdim) * others


class Extreme(Function):
    """y = max (or min) of all elements;  dx = g / k on each of the k elements equal to y."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, largest):
        y = x.max(axis=dims, keepdims=True) if largest else x.min(axis=dims, keepdims=True)
        ctx.x, ctx.y, ctx.dims, ctx.keepdim = x, y, dims, keepdim
        return y if keepdim else y.reshape([n for d, n in enumerate(x.shape) if d not in dims])

    @staticmethod
    def backward(ctx, g):
        hit = (ctx.x == ctx.y).astype(g.dtype)
        share = hit / hit.sum(axis=ctx.dims, keepdims=True)
        return _expand(g, ctx.x.shape, ctx.dims, ctx.keepdim) * share


class ExtremeAlongDim(Function):
    """(values, indices) of max (or min) along one dim;  dx = g at the returned index, 0 elsewhere."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest):
        xp = array_module(x)
        idx = xp.expand_dims((x.argmax if largest else x.argmin)(axis=dim), dim)
        values = xp.take_along_axis(x, idx, axis=dim)
        ctx.shape, ctx.idx, ctx.dim = x.shape, idx, dim
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g, _g_indices=None):
        xp = array_module(g)
        dim, idx = ctx.dim, ctx.idx
        positions = xp.arange(ctx.shape[dim]).reshape((-1,) + (1,) * (len(ctx.shape) - dim - 1))
        return xp.where(positions == idx, g.reshape(idx.shape), g.dtype.type(0))


class Var(Function):
    """y = sum((x - mean)^2) / (n - correction);  dx = g * 2 (x - mean) / (n - correction)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, correction):
        centered = x - x.mean(axis=dims, keepdims=True)
        denom = max(math.prod(x.shape[d] for d in dims) - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction gives nan, as in PyTorch
            y = (centered * centered).sum(axis=dims, keepdims=keepdim) / x.dtype.type(denom)
        ctx.centered, ctx.dims, ctx.keepdim, ctx.denom = centered, dims, keepdim, denom
        return y

    @staticmethod
    def backward(ctx, g):
        c = ctx.centered
        return _expand(g, c.shape, ctx.dims, ctx.keepdim) * (2 * c / c.dtype.type(ctx.denom))


class LogSumExp(Function):
    """y = log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m = max;  dx = g * exp(x - y)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        xp = array_module(x)
        m = x.max(axis=dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x - m).sum(axis=dims, keepdims=True)) + m
        ctx.x, ctx.y, ctx.dims, ctx.keepdim = x, y, dims, keepdim
        return y if keepdim else y.reshape([n for d, n in enumerate(x.shape) if d not in dims])

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        return _expand(g, ctx.x.shape, ctx.dims, ctx.keepdim) * xp.exp(ctx.x - ctx.y)


class Norm(Function):
    """y = (sum |x|^p)^(1/p) (p = inf: max |x|);  dx = g * sign(x) |x|^(p-1) / y^(p-1) (0 where y = 0)."""

    @staticmethod
    def forward(ctx, x, p, dims, keepdim):
        xp = array_module(x)
        a = xp.abs(x)
        if p == math.inf:
            y = a.max(axis=dims, keepdims=True)
        elif p == 2:
            y = xp.sqrt((x * x).sum(axis=dims, keepdims=True))
        else:
            y = (a**p).sum(axis=dims, keepdims=True) ** (1.0 / p)
        ctx.x, ctx.y, ctx.p, ctx.dims, ctx.keepdim = x, y, p, dims, keepdim
        return y if keepdim else y.reshape([n for d, n in enumerate(x.shape) if d not in dims])

    @staticmethod
    def backward(ctx, g):
        x, y, p = ctx.x, ctx.y, ctx.p
        xp = array_module(x)
        g = _expand(g, x.shape, ctx.dims, ctx.keepdim)
        safe_y = xp.where(y == 0, 1, y)
        if p == math.inf:
            hit = xp.abs(x) == y
            local = xp.sign(x) * hit / hit.sum(axis=ctx.dims, keepdims=True)
        elif p == 1:
            local = xp.sign(x)
        else:
            local = xp.sign(x) * xp.abs(x) ** (p - 1) / safe_y ** (p - 1)
        return g * xp.where(y == 0, 0, local).astype(x.dtype)


# ---------------------------------------------------------------------- functional forms
def _require_float(name, x):
    if x.dtype.kind not in "fc":
        raise TypeError(f"{name}(): expected a floating point tensor, got dtype {x.dtype}")


def sum(x, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (all dims when None). Bool and integer sums are int64, as in PyTorch."""
    dims = normalize_dims("sum", x.ndim, dim)
    if dtype is None and x.dtype.kind in "biu":
        dtype = np.int64
    return Sum.apply(x, dims=dims, keepdim=keepdim, dtype=dtype)


def mean(x, dim=None, keepdim=False, dtype=None):
    """Mean over ``dim`` (all dims when None); floating tensors only, as in PyTorch."""
    if dtype is None:
        _require_float("mean", x)
    dims = normalize_dims("mean", x.ndim, dim)
    return Mean.apply(x, dims=dims, keepdim=keepdim, dtype=dtype)


def prod(x, dim=None, keepdim=False, dtype=None):
    """Product over ``dim`` (all dims when None). Bool and integer products are int64."""
    if dtype is None and x.dtype.kind in "biu":
        dtype = np.int64
    return Prod.apply(x, dims=normalize_dims("prod", x.ndim, dim), keepdim=keepdim, dtype=dtype)


def _check_nonempty(name, x, dims):
    if any(x.shape[d] == 0 for d in dims) or (not dims and x.data.size == 0):
        raise RuntimeError(f"{name}(): expected a non-empty tensor over the reduced dims {dims}, got shape {tuple(x.shape)}")


def extreme(name, x, dim=None, keepdim=False):
    """``max``/``min``: the value over all elements (dim None) or ``(values, indices)`` along ``dim``."""
    largest = name == "max"
    if dim is None:
        dims = normalize_dims(name, x.ndim, None)
        _check_nonempty(name, x, dims)
        return Extreme.apply(x, dims=dims, keepdim=False, largest=largest)
    (d,) = normalize_dims(name, x.ndim, dim) or (0,)
    _check_nonempty(name, x, (d,) if x.ndim else ())
    if x.ndim == 0:
        return ValuesIndices(x, Tensor(array_module(x.data).zeros((), dtype=np.int64)))
    return ValuesIndices(*ExtremeAlongDim.apply(x, dim=d, keepdim=keepdim, largest=largest))


def amax(x, dim=(), keepdim=False):
    """Maximum over ``dim`` (all when empty); ties share the gradient evenly."""
    dims = normalize_dims("amax", x.ndim, dim)
    _check_nonempty("amax", x, dims)
    return Extreme.apply(x, dims=dims, keepdim=keepdim, largest=True)


def amin(x, dim=(), keepdim=False):
    """Minimum over ``dim`` (all when empty); ties share the gradient evenly."""
    dims = normalize_dims("amin", x.ndim, dim)
    _check_nonempty("amin", x, dims)
    return Extreme.apply(x, dims=dims, keepdim=keepdim, largest=False)


def arg_extreme(name, x, dim=None, keepdim=False):
    """``argmax``/``argmin`` as int64 (over the flattened tensor when ``dim`` is None)."""
    data = x.data
    fn = data.argmax if name == "argmax" else data.argmin
    if dim is None:
        out = fn()
        if keepdim:
            out = out.reshape((1,) * data.ndim)
    else:
        (d,) = normalize_dims(name, data.ndim, dim) or (0,)
        out = fn(axis=d, keepdims=keepdim) if data.ndim else fn()
    return Tensor(array_module(data).asarray(out, dtype=np.int64))


def _correction(name, unbiased, correction):
    if unbiased is not None and correction is not None:
        raise ValueError(f"{name}(): give either 'unbiased' or 'correction', not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance over ``dim``; unbiased (divides by n - 1) by default, as in PyTorch."""
    _require_float("var", x)
    dims = normalize_dims("var", x.ndim, dim)
    return Var.apply(x, dims=dims, keepdim=keepdim, correction=_correction("var", unbiased, correction))


def std(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation: ``sqrt(var(...))``; unbiased by default."""
    _require_float("std", x)
    return var(x, dim, unbiased, keepdim, correction).sqrt()


def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed stably (integer inputs give the default float)."""
    return LogSumExp.apply(to_float(x), dims=normalize_dims("logsumexp", x.ndim, dim), keepdim=keepdim)


def norm(x, p=2, dim=None, keepdim=False):
    """The p-norm over ``dim`` (all elements when None); ``p`` a number >= 1 or ``inf``."""
    _require_float("norm", x)
    if p in ("fro",):
        p = 2
    if not isinstance(p, (int, float)) or p < 1:
        raise ValueError(f"norm(): p must be a number >= 1 or inf, got {p!r}")
    return Norm.apply(x, p=p, dims=normalize_dims("norm", x.ndim, dim), keepdim=keepdim)


def logical(name, x, dim=None, keepdim=False):
    """``all``/``any`` over ``dim`` as a bool tensor (uint8 for uint8 input); no gradient."""
    dims = normalize_dims(name, x.ndim, dim)
    out = getattr(x.data.astype(bool, copy=False), name)(axis=dims, keepdims=keepdim)
    return Tensor(out.astype(np.uint8) if x.dtype == np.uint8 else out)  # uint8 stays uint8, as in PyTorch
