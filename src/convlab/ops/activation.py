"""Activation functions, each with its derivative beside it.

All are pointwise except softmax/log_softmax, which normalise along ``dim``.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..backend import array_module
from .reduce import normalize_dims


def _erf(x):
    xp = array_module(x)
    if xp is np:
        from scipy.special import erf
    else:  # pragma: no cover - GPU only
        from cupyx.scipy.special import erf
    return erf(x).astype(x.dtype, copy=False)


class ReLU(Function):
    """y = max(x, 0);  dx = g where x > 0."""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).maximum(x, 0)
        ctx.y = y
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.y > 0)


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dx = g * (1 if x > 0 else slope)."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.x, ctx.slope = x, negative_slope
        return array_module(x).where(x > 0, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, g):
        return array_module(g).where(ctx.x > 0, g, g * g.dtype.type(ctx.slope))


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1);  dx = g * (1 if x > 0 else alpha e^x)."""

    @staticmethod
    def forward(ctx, x, alpha):
        xp = array_module(x)
        neg = x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0))
        ctx.x, ctx.neg, ctx.alpha = x, neg, alpha
        return xp.where(x > 0, x, neg)

    @staticmethod
    def backward(ctx, g):
        return array_module(g).where(ctx.x > 0, g, g * (ctx.neg + g.dtype.type(ctx.alpha)))


class GELU(Function):
    """y = x Phi(x) with Phi the standard normal CDF (``approximate='tanh'``: the tanh formula);
    dx = g (Phi(x) + x phi(x))."""

    @staticmethod
    def forward(ctx, x, approximate):
        xp = array_module(x)
        ctx.x, ctx.approximate = x, approximate
        if approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            t = xp.tanh(k * (x + x.dtype.type(0.044715) * x**3))
            ctx.t = t
            return x.dtype.type(0.5) * x * (1 + t)
        cdf = x.dtype.type(0.5) * (1 + _erf(x * x.dtype.type(1 / math.sqrt(2))))
        ctx.cdf = cdf
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        xp = array_module(x)
        if ctx.approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            t = ctx.t
            dt = (1 - t * t) * k * (1 + x.dtype.type(3 * 0.044715) * x * x)
            return g * x.dtype.type(0.5) * (1 + t + x * dt)
        pdf = xp.exp(x * x * x.dtype.type(-0.5)) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return g * (ctx.cdf + x * pdf)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dx = g y (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        xp = array_module(x)
        # exp of a non-positive number only: stable for large |x|.
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.y
        return g * y * (1 - y)


class SiLU(Function):
    """y = x sigmoid(x);  dx = g s (1 + x (1 - s)), s = sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        s = Sigmoid.forward(ctx, x)
        ctx.x, ctx.s = x, s
        return x * s

    @staticmethod
    def backward(ctx, g):
        s = ctx.s
        return g * s * (1 + ctx.x * (1 - s))


class Tanh(Function):
    """y = tanh x;  dx = g (1 - y^2)."""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).tanh(x)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        return g * (1 - ctx.y * ctx.y)


class Hardtanh(Function):
    """y = clamp(x, min_val, max_val);  dx = g strictly inside (min_val, max_val), as PyTorch."""

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.x, ctx.lo, ctx.hi = x, min_val, max_val
        return array_module(x).clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        return g * ((x > ctx.lo) & (x < ctx.hi))


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta (linear above ``threshold``);  dx = g sigmoid(beta x)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = array_module(x)
        bx = x * x.dtype.type(beta)
        ctx.bx, ctx.threshold = bx, threshold
        return xp.where(bx > threshold, x, xp.logaddexp(0, bx) / x.dtype.type(beta)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        bx = ctx.bx
        s = Sigmoid.forward(ctx, bx)
        return xp.where(bx > ctx.threshold, g, g * s)


class Hardswish(Function):
    """y = x relu6(x + 3) / 6;  dx = g (0 for x < -3, 1 for x > 3, (2x + 3) / 6 between)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * array_module(x).clip(x + 3, 0, 6).astype(x.dtype, copy=False) / x.dtype.type(6)

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        xp = array_module(x)
        return g * xp.where(x < -3, 0, xp.where(x > 3, 1, (2 * x + 3) / x.dtype.type(6))).astype(g.dtype)


class Hardsigmoid(Function):
    """y = relu6(x + 3) / 6;  dx = g / 6 for -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return array_module(x).clip(x + 3, 0, 6).astype(x.dtype, copy=False) / x.dtype.type(6)

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        return g * ((x > -3) & (x < 3)) / g.dtype.type(6)


class Softmax(Function):
    """y = e^x / sum(e^x) along ``dim`` (shifted by the max for stability);
    dx = y (g - sum(g y))."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = array_module(x)
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        y = e / e.sum(axis=dim, keepdims=True)
        ctx.y, ctx.dim = y, dim
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.y
        return y * (g - (g * y).sum(axis=ctx.dim, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``dim``;  dx = g - softmax(x) sum(g)."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = array_module(x)
        shifted = x - x.max(axis=dim, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.y, ctx.dim = y, dim
        return y

    @staticmethod
    def backward(ctx, g):
        return g - array_module(g).exp(ctx.y) * g.sum(axis=ctx.dim, keepdims=True)


def _softmax_dim(name, x, dim):
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if x.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating point tensor, got dtype {x.dtype}")
    return normalize_dims(name, x.ndim, dim)[0] if x.ndim else 0


def softmax(x, dim=None):
    """Softmax along ``dim``."""
    d = _softmax_dim("softmax", x, dim)
    return Softmax.apply(x, dim=d) if x.ndim else x / x


def log_softmax(x, dim=None):
    """Log-softmax along ``dim``, computed without forming softmax (stable)."""
    d = _softmax_dim("log_softmax", x, dim)
    return LogSoftmax.apply(x, dim=d) if x.ndim else x - x
