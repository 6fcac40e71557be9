"""Elementwise arithmetic and math with NumPy broadcasting.

Broadcasting rule for gradients: if ``a`` of shape ``A`` was broadcast to the output shape
``O``, then dL/da is dL/dy summed over the broadcast axes (the leading extra axes and every
axis where ``A`` has size 1 but ``O`` does not), see :func:`unbroadcast`.

Type rule (PyTorch's): Python scalars do not change a tensor's dtype (float32 stays float32);
integer tensors combined with a Python float, or divided, give the default float dtype.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd.function import Function
from ..backend import array_module
from ..dtypes import get_default_dtype
from ..tensor import Tensor


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added to reach ``grad.shape`` from ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _shape(x):
    return x.shape if hasattr(x, "shape") else ()


def _binary(cls, a, b):
    """Apply a binary Function, fixing NumPy's dtype choices to PyTorch's."""
    if isinstance(a, np.generic):
        a = a.item()  # NumPy scalars act like Python scalars (weak dtype), as in PyTorch
    if isinstance(b, np.generic):
        b = b.item()
    out = cls.apply(a, b)
    if out.data.dtype == np.float64 and not (_is_float64(a) or _is_float64(b)):
        out.data = out.data.astype(get_default_dtype())
    return out


def _is_float64(x) -> bool:
    return getattr(x, "dtype", None) == np.float64


class Add(Function):
    """y = a + b;  da = g, db = g (each summed over its broadcast axes)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = _shape(a), _shape(b)
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (
            unbroadcast(g, sa) if ctx.needs_input_grad[0] else None,
            unbroadcast(g, sb) if ctx.needs_input_grad[1] else None,
        )


class Sub(Function):
    """y = a - b;  da = g, db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = _shape(a), _shape(b)
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (
            unbroadcast(g, sa) if ctx.needs_input_grad[0] else None,
            unbroadcast(-g, sb) if ctx.needs_input_grad[1] else None,
        )


class Mul(Function):
    """y = a * b;  da = g * b, db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        return (
            unbroadcast(g * b, _shape(a)) if ctx.needs_input_grad[0] else None,
            unbroadcast(g * a, _shape(b)) if ctx.needs_input_grad[1] else None,
        )


class Div(Function):
    """y = a / b;  da = g / b, db = -g * a / b^2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        ga = unbroadcast(g / b, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  da = g * b * a^(b-1), db = g * y * log(a) (0 where a = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        y = a**b
        ctx.a, ctx.b, ctx.y = a, b, y
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.a, ctx.b, ctx.y
        xp = array_module(g)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if isinstance(b, numbers.Number) and b == 0:
                ga = xp.zeros_like(g)
            else:
                ga = unbroadcast(g * b * a ** (b - 1), _shape(a))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * xp.where(a == 0, 0, y * xp.log(xp.where(a == 0, 1, a)))
            gb = unbroadcast(gb, _shape(b))
        return ga, gb


class Maximum(Function):
    """y = max(a, b);  the gradient goes to the larger input, split half/half on ties (PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return array_module(a).maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _select_grads(ctx, g, ctx.a > ctx.b)


class Minimum(Function):
    """y = min(a, b);  the gradient goes to the smaller input, split half/half on ties."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return array_module(a).minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _select_grads(ctx, g, ctx.a < ctx.b)


def _select_grads(ctx, g, a_wins):
    tie = ctx.a == ctx.b
    wa = (a_wins + 0.5 * tie).astype(g.dtype)
    return (
        unbroadcast(g * wa, _shape(ctx.a)) if ctx.needs_input_grad[0] else None,
        unbroadcast(g * (1 - wa), _shape(ctx.b)) if ctx.needs_input_grad[1] else None,
    )


class Neg(Function):
    """y = -x;  dx = -g."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """y = e^x;  dx = g * y."""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).exp(x)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.y


class Log(Function):
    """y = ln x;  dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return array_module(x).log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.x


class Log1p(Function):
    """y = ln(1 + x);  dx = g / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return array_module(x).log1p(x)

    @staticmethod
    def backward(ctx, g):
        return g / (1 + ctx.x)


class Sqrt(Function):
    """y = sqrt(x);  dx = g / (2 y)."""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).sqrt(x)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.y)


class Abs(Function):
    """y = |x|;  dx = g * sign(x) (0 at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return array_module(x).abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * array_module(g).sign(ctx.x)


class Sin(Function):
    """y = sin x;  dx = g cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return array_module(x).sin(x)

    @staticmethod
    def backward(ctx, g):
        return g * array_module(g).cos(ctx.x)


class Cos(Function):
    """y = cos x;  dx = -g sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return array_module(x).cos(x)

    @staticmethod
    def backward(ctx, g):
        return -g * array_module(g).sin(ctx.x)


class Clamp(Function):
    """y = min(max(x, lo), hi);  dx = g where lo <= x <= hi, else 0 (PyTorch passes at the bounds)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = array_module(x)
        ctx.x, ctx.lo, ctx.hi = x, lo, hi
        y = x
        if lo is not None:
            y = xp.maximum(y, lo)
        if hi is not None:
            y = xp.minimum(y, hi)
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.x, ctx.lo, ctx.hi
        keep = True
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = keep & (x <= hi)
        gx = g * keep if ctx.needs_input_grad[0] else None
        glo = unbroadcast(g * (x < lo), _shape(lo)) if ctx.needs_input_grad[1] else None
        ghi = unbroadcast(g * (x > hi), _shape(hi)) if ctx.needs_input_grad[2] else None
        return gx, glo, ghi


class Where(Function):
    """y = cond ? a : b;  da = g where cond, db = g where not cond."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond, ctx.shapes = cond, (_shape(a), _shape(b))
        return array_module(cond).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond, (sa, sb) = ctx.cond, ctx.shapes
        xp = array_module(g)
        return (
            None,
            unbroadcast(xp.where(cond, g, 0), sa) if ctx.needs_input_grad[1] else None,
            unbroadcast(xp.where(cond, 0, g), sb) if ctx.needs_input_grad[2] else None,
        )


# ---------------------------------------------------------------------- functional forms
def _check_broadcast(name, a, b):
    sa, sb = _shape(a), _shape(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(
            f"{name}(): shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast together "
            "(each dimension must match or be 1, aligned from the right)"
        ) from None


def _arith(cls, name):
    def op(a, b):
        if hasattr(a, "shape") and hasattr(b, "shape") and a.shape != b.shape:
            _check_broadcast(name, a, b)
        return _binary(cls, a, b)

    op.__name__ = name
    op.__doc__ = f"Elementwise {name} with broadcasting; see :class:`{cls.__name__}`."
    return op


add = _arith(Add, "add")
sub = _arith(Sub, "sub")
mul = _arith(Mul, "mul")
div = _arith(Div, "div")
maximum = _arith(Maximum, "maximum")
minimum = _arith(Minimum, "minimum")


def pow(a, b):
    """a ** b with broadcasting (either may be a scalar)."""
    if isinstance(b, numbers.Number) and not isinstance(a, numbers.Number):
        return _binary(Pow, a, b)  # keep the exponent a Python scalar: no dtype change
    if isinstance(a, numbers.Number):
        a = Tensor(array_module(b.data).asarray(a, dtype=b.dtype))
    return _binary(Pow, a, b)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def floor_divide(a, b):
    """Elementwise floor division (not differentiable)."""
    return Tensor(array_module(_data(a)).floor_divide(_data(a), _data(b)))


def remainder(a, b):
    """Elementwise remainder with the sign of the divisor, like Python's % (not differentiable)."""
    return Tensor(array_module(_data(a)).remainder(_data(a), _data(b)))


_COMPARE = {
    "eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
    "ge": "greater_equal", "and": "logical_and", "or": "logical_or", "xor": "logical_xor",
}


def compare(op, a, b):
    """Elementwise comparison or logic op; returns a bool tensor (no gradient)."""
    x = _data(a)
    xp = array_module(x)
    if op in ("and", "or", "xor") and x.dtype.kind != "b":
        fn = {"and": xp.bitwise_and, "or": xp.bitwise_or, "xor": xp.bitwise_xor}[op]
        return Tensor(fn(x, _data(b)))
    return Tensor(getattr(xp, _COMPARE[op])(x, _data(b)))


def logical_not(x):
    return Tensor(array_module(x.data).logical_not(x.data))


def nondiff(name, x):
    """A pointwise op with zero gradient almost everywhere (sign, floor, isnan, ...)."""
    return Tensor(getattr(array_module(x.data), name)(x.data))


def clamp(x, min=None, max=None):
    """Clamp to [min, max]; either bound may be a number, a tensor or None."""
    if min is None and max is None:
        raise ValueError("clamp(): at least one of 'min' and 'max' must be given")
    return Clamp.apply(x, min, max)


def where(condition, a, b):
    """Pick from ``a`` where ``condition`` is true and from ``b`` elsewhere (broadcasting)."""
    cond = _data(condition)
    if not hasattr(cond, "dtype") or cond.dtype != np.bool_:
        raise TypeError(f"where(): expected a bool condition, got {getattr(cond, 'dtype', type(cond).__name__)}")
    ref = a if isinstance(a, Tensor) else b
    if isinstance(ref, Tensor):
        xp = array_module(ref.data)
        if not isinstance(a, Tensor):
            a = xp.asarray(a, dtype=ref.dtype)
        if not isinstance(b, Tensor):
            b = xp.asarray(b, dtype=ref.dtype)
    return Where.apply(cond, a, b)
