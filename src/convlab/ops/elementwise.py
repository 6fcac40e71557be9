"""Elementwise arithmetic and math with NumPy broadcasting and PyTorch's type promotion.

Broadcasting rule for gradients: if ``a`` of shape ``A`` was broadcast to the output shape
``O``, then dL/da is dL/dy summed over the broadcast axes (the leading extra axes and every
axis where ``A`` has size 1 but ``O`` does not), see :func:`convlab.autograd.function.unbroadcast`.

Type rule (PyTorch's, :func:`convlab.dtypes.result_type`): operands are converted to the
result dtype before NumPy sees them, so NumPy's own promotion never applies. Python scalars do
not change a tensor's dtype (float32 stays float32); an integer tensor with a float operand,
divided, or passed to ``exp``/``log``/``sqrt``/... gives the default float dtype (float32).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes
from ..autograd.function import Function, unbroadcast
from ..backend import array_module
from ..tensor import Tensor


def difference_grads(ctx, g):
    """Gradients of ``a - b`` (or of a function of it whose gradient is ``g``) for ``a`` (+g)
    and ``b`` (-g), each summed back to its shape in ``ctx.shapes``; None where not needed."""
    shape_a, shape_b = ctx.shapes
    return (
        unbroadcast(g, shape_a) if ctx.needs_input_grad[0] else None,
        unbroadcast(-g, shape_b) if ctx.needs_input_grad[1] else None,
    )


def _shape(x):
    return x.shape if hasattr(x, "shape") else ()


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
        return difference_grads(ctx, g)


class Mul(Function):
    """y = a * b;  da = g * b, db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        # Save only what the other input's gradient needs.
        ctx.a = a if ctx.needs_input_grad[1] else None
        ctx.b = b if ctx.needs_input_grad[0] else None
        ctx.shapes = _shape(a), _shape(b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return (
            unbroadcast(g * ctx.b, sa) if ctx.needs_input_grad[0] else None,
            unbroadcast(g * ctx.a, sb) if ctx.needs_input_grad[1] else None,
        )


class Div(Function):
    """y = a / b;  da = g / b, db = -g * a / b^2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a = a if ctx.needs_input_grad[1] else None
        ctx.b, ctx.shapes = b, (_shape(a), _shape(b))
        return a / b

    @staticmethod
    def backward(ctx, g):
        (sa, sb), b = ctx.shapes, ctx.b
        ga = unbroadcast(g / b, sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g * ctx.a / (b * b), sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  da = g * b * a^(b-1) (0 where b = 0), db = g * y * log(a) (0 where a = 0 and
    b >= 0), as PyTorch."""

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
            if isinstance(b, numbers.Number):
                ga = xp.zeros_like(g) if b == 0 else g * (b * a ** (b - 1))
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ga = xp.where(b == 0, 0, g * (b * a ** (b - 1))).astype(g.dtype, copy=False)
            ga = unbroadcast(ga, _shape(a))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = xp.where((a == 0) & (b >= 0), 0, g * (y * xp.log(a))).astype(g.dtype, copy=False)
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
    share_a = a_wins + (ctx.a == ctx.b) * g.dtype.type(0.5)  # 1 where a wins, 1/2 on ties, else 0
    return (
        unbroadcast(g * share_a, _shape(ctx.a)) if ctx.needs_input_grad[0] else None,
        unbroadcast(g * (1 - share_a), _shape(ctx.b)) if ctx.needs_input_grad[1] else None,
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


class Expm1(Function):
    """y = e^x - 1 (accurate near 0);  dx = g * (y + 1)."""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).expm1(x)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.y + 1)


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


class PiecewiseConstant(Function):
    """y = sign/floor/ceil/round/trunc of x;  dx = 0 (the derivative almost everywhere), as PyTorch."""

    @staticmethod
    def forward(ctx, x, name, decimals):
        xp = array_module(x)
        ctx.shape = x.shape
        if name == "round":
            return xp.round(x, decimals)
        return getattr(xp, name)(x)

    @staticmethod
    def backward(ctx, g):
        return array_module(g).zeros(ctx.shape, dtype=g.dtype)


class Clamp(Function):
    """y = min(max(x, lo), hi)  (hi wins when lo > hi);
    dx = g where lo <= x <= hi, dlo = g where x < lo < hi, dhi = g where x > hi or hi < lo (PyTorch)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = array_module(x)
        ctx.x, ctx.lo, ctx.hi = x, lo, hi
        y = x
        if lo is not None:
            y = xp.maximum(y, lo)
        if hi is not None:
            y = xp.minimum(y, hi)
        return y

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.x, ctx.lo, ctx.hi
        xp = array_module(g)
        gx = glo = ghi = None
        if ctx.needs_input_grad[0]:
            keep = True
            if lo is not None:
                keep = x >= lo
            if hi is not None:
                keep = keep & (x <= hi)
            gx = unbroadcast(xp.where(keep, g, 0), x.shape)
        if ctx.needs_input_grad[1]:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            glo = unbroadcast(xp.where(below, g, 0), _shape(lo))
        if ctx.needs_input_grad[2]:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            ghi = unbroadcast(xp.where(above, g, 0), _shape(hi))
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


# ---------------------------------------------------------------------- type promotion
def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _to_dtype(x, dtype):
    """``x`` converted to ``dtype``: a Tensor through a differentiable cast, a Python or NumPy
    scalar left as a (weakly typed) Python number, an array with ``astype``."""
    if isinstance(x, Tensor):
        return x if x.data.dtype == dtype else _cast(x, dtype)
    if isinstance(x, np.generic):
        return x.item()
    if hasattr(x, "dtype") and x.dtype != dtype:
        return x.astype(dtype)
    return x


def _cast(x, dtype):
    from .shape import Cast  # shape imports this module for unbroadcast

    return Cast.apply(x, dtype=dtype)


def to_float(x):
    """``x`` itself if floating, else converted to the default float dtype (as PyTorch's
    ``exp``/``log``/``sqrt``/``/`` do with integer tensors)."""
    return x if x.data.dtype.kind in "fc" else _cast(x, dtypes.get_default_dtype())


def _check_broadcast(name, a, b):
    sa, sb = _shape(a), _shape(b)
    if sa == sb:
        return
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(
            f"{name}(): shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast together "
            "(each dimension must match or be 1, aligned from the right)"
        ) from None


def is_operand(x) -> bool:
    """True for what elementwise ops accept: Tensors, arrays and real numbers."""
    return isinstance(x, (Tensor, numbers.Real, np.generic)) or hasattr(x, "dtype")


def _check_operand(name, x):
    if not is_operand(x):
        raise TypeError(f"{name}(): expected a Tensor or a number, got {type(x).__name__}")


def promote(name, a, b, floating=False):
    """``a`` and ``b`` converted to their common PyTorch result dtype (shapes checked);
    with ``floating=True`` an integer result dtype becomes the default float."""
    # Fast paths (most calls): a float tensor with a Python number, or two tensors of one dtype.
    if isinstance(a, Tensor):
        kind = a.data.dtype.kind
        tb = type(b)
        if (tb is float and kind in "fc") or (tb is int and (kind in "fc" or (kind in "iu" and not floating))):
            return a, b, a.data.dtype
        if isinstance(b, Tensor) and a.data.dtype == b.data.dtype and (kind in "fc" or not floating):
            if a.data.shape != b.data.shape:
                _check_broadcast(name, a, b)
            return a, b, a.data.dtype
    elif isinstance(b, Tensor) and type(a) in (float, int):
        kind = b.data.dtype.kind
        if kind in "fc" or (kind in "iu" and type(a) is int and not floating):
            return a, b, b.data.dtype
    _check_operand(name, a)
    _check_operand(name, b)
    _check_broadcast(name, a, b)
    dtype = dtypes.result_type(a, b)
    if floating and dtype.kind not in "fc":
        dtype = dtypes.get_default_dtype()
    return _to_dtype(a, dtype), _to_dtype(b, dtype), dtype


def _as_tensor_like(x, ref):
    """A Python scalar as a 0-d array on ``ref``'s device and of its dtype."""
    return array_module(ref.data).asarray(x, dtype=ref.dtype)


# ---------------------------------------------------------------------- functional forms
def add(a, b, alpha=1):
    """a + alpha * b, elementwise with broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    a, b, _ = promote("add", a, b)
    return Add.apply(a, b)


def sub(a, b, alpha=1):
    """a - alpha * b, elementwise with broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    a, b, dtype = promote("sub", a, b)
    if dtype.kind == "b":
        raise TypeError("sub(): subtraction of bool tensors is not supported; use logical_xor() instead")
    return Sub.apply(a, b)


def mul(a, b):
    """a * b, elementwise with broadcasting."""
    a, b, _ = promote("mul", a, b)
    return Mul.apply(a, b)


def div(a, b, rounding_mode=None):
    """a / b, elementwise with broadcasting.

    True division by default (integer inputs give the default float dtype); with
    ``rounding_mode='floor'`` or ``'trunc'`` the rounded quotient in the promoted dtype (not
    differentiable).
    """
    if rounding_mode is None:
        a, b, _ = promote("div", a, b, floating=True)
        return Div.apply(a, b)
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"div(): rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    x, y, dtype = promote("div", _data(a), _data(b))
    xp = array_module(x)
    if rounding_mode == "floor":
        return Tensor(xp.floor_divide(x, y))
    return Tensor(xp.trunc(xp.true_divide(x, y)).astype(dtype, copy=False))


def maximum(a, b):
    """Elementwise maximum (NaN propagates); ties split the gradient evenly."""
    a, b, _ = promote("maximum", a, b)
    return Maximum.apply(a, b)


def minimum(a, b):
    """Elementwise minimum (NaN propagates); ties split the gradient evenly."""
    a, b, _ = promote("minimum", a, b)
    return Minimum.apply(a, b)


def pow(a, b):
    """a ** b with broadcasting (either may be a scalar)."""
    if isinstance(a, (numbers.Number, np.generic)) and isinstance(b, Tensor):
        dtype = dtypes.result_type(a, b)
        b = _to_dtype(b, dtype)
        return Pow.apply(_as_tensor_like(a, b), b)
    a, b, _ = promote("pow", a, b)
    return Pow.apply(a, b)


def neg(x):
    """-x (not defined for bool tensors, as in PyTorch)."""
    if x.data.dtype.kind == "b":
        raise TypeError("neg(): negation of a bool tensor is not supported; use logical_not() or ~ to invert a mask")
    return Neg.apply(x)


def unary(cls, x):
    """Apply a floating pointwise op (exp, log, sqrt, ...) to ``x``, converting integers first."""
    return cls.apply(to_float(x))


def piecewise_constant(name, x, decimals=0):
    """sign/floor/ceil/round/trunc: values from NumPy, gradient zero; integers pass through."""
    if x.data.dtype.kind in "iub" and name != "sign":
        return x
    if x.data.dtype.kind == "b":
        return Tensor(x.data.copy())
    return PiecewiseConstant.apply(x, name=name, decimals=decimals)


def floor_divide(a, b):
    """Elementwise floor(a / b) (rounds toward -inf, like Python's //; not differentiable)."""
    a, b, _ = promote("floor_divide", _data(a), _data(b))
    return Tensor(array_module(a).floor_divide(a, b))


def remainder(a, b):
    """Elementwise remainder with the sign of the divisor, like Python's % (not differentiable)."""
    a, b, _ = promote("remainder", _data(a), _data(b))
    return Tensor(array_module(a).remainder(a, b))


_COMPARE = {
    "eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
    "logical_and": "logical_and", "logical_or": "logical_or", "logical_xor": "logical_xor",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
}


def compare(op, a, b):
    """Elementwise comparison (``eq``, ``lt``, ...), logical op (``logical_and``, ...) or bitwise
    op (``and``/``or``/``xor``: logical for bool tensors); no gradient."""
    x, y, dtype = promote(op, _data(a), _data(b))
    if op in ("and", "or", "xor") and dtype.kind not in "biu":
        raise TypeError(f"bitwise_{op}(): only integer and bool tensors are supported, got dtype {dtype}")
    return Tensor(getattr(array_module(x), _COMPARE[op])(x, y))


def logical_not(x):
    """Elementwise not (True where x is zero/False); a bool tensor."""
    return Tensor(array_module(x.data).logical_not(x.data))


def nondiff(name, x):
    """A NumPy predicate applied elementwise (isnan, isinf, isfinite); a bool tensor."""
    return Tensor(getattr(array_module(x.data), name)(x.data))


def clamp(x, min=None, max=None):
    """Clamp to [min, max]; either bound may be a number, a tensor or None (not both None)."""
    if min is None and max is None:
        raise ValueError("clamp(): at least one of 'min' and 'max' must be given")
    bounds = [v for v in (min, max) if v is not None]
    for v in bounds:
        _check_operand("clamp", v)
        _check_broadcast("clamp", x, v)
    dtype = dtypes.result_type(x, *bounds)
    lo = None if min is None else _to_dtype(min, dtype)
    hi = None if max is None else _to_dtype(max, dtype)
    return Clamp.apply(_to_dtype(x, dtype), lo, hi)


def where(condition, a, b):
    """Pick from ``a`` where ``condition`` is true and from ``b`` elsewhere (broadcasting all
    three). ``a`` and ``b`` may be tensors or numbers; the result has their promoted dtype."""
    cond = _data(condition)
    if not hasattr(cond, "dtype") or cond.dtype != np.bool_:
        raise TypeError(f"where(): expected a bool condition tensor, got {getattr(cond, 'dtype', type(cond).__name__)}")
    _check_operand("where", a)
    _check_operand("where", b)
    try:
        np.broadcast_shapes(cond.shape, _shape(a), _shape(b))
    except ValueError:
        raise ValueError(
            f"where(): condition of shape {tuple(cond.shape)}, input of shape {tuple(_shape(a))} and other of shape "
            f"{tuple(_shape(b))} cannot be broadcast together"
        ) from None
    dtype = dtypes.result_type(a, b)
    xp = array_module(cond)
    a, b = _to_dtype(a, dtype), _to_dtype(b, dtype)
    if not isinstance(a, Tensor):
        a = xp.asarray(a, dtype=dtype)
    if not isinstance(b, Tensor):
        b = xp.asarray(b, dtype=dtype)
    return Where.apply(cond, a, b)
