"""Activation functions, each with its derivative beside it.

All are pointwise except softmax/log_softmax, which normalise along ``dim``, and PReLU, whose
learned slope is shared along the channel dim 1. The public functions carry PyTorch's
signatures; ``inplace=True`` writes the result into the input's storage when no gradient has to
flow through it (a leaf that requires grad is refused, as in PyTorch) and otherwise computes out
of place, since the ops before it may have saved that storage for their backward.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from ..autograd import grad_mode
from ..autograd.function import Function
from ..backend import array_module, cpu_kernels
from ..dtypes import as_dtype
from ..tensor import Tensor
from .reduce import normalize_dims


def _special(x, name):
    """``scipy.special.<name>`` (or CuPy's) applied to ``x``, keeping its dtype."""
    if array_module(x) is np:
        from scipy import special
    else:  # pragma: no cover - GPU only
        from cupyx.scipy import special
    return getattr(special, name)(x).astype(x.dtype, copy=False)


def sigmoid_array(x):
    """1 / (1 + e^-x) of an array (``expit``: one pass, no overflow for large |x|)."""
    return _special(x, "expit")


def log_sigmoid_array(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|) of an array, finite for every x."""
    xp = array_module(x)
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


# Compiled parallel passes for the activations of conv nets on large arrays (used through
# _flattened): NumPy's ufuncs run on one core, and SciPy's float32 erf is slow.
_SQRT_HALF, _INV_SQRT_2PI = math.sqrt(0.5), 1 / math.sqrt(2 * math.pi)


@functools.cache
def _kernels():
    """``(relu, relu_grad, gelu, gelu_grad)``, compiled on first use (parallel loops over flat arrays)."""
    prange = cpu_kernels.numba().prange

    @cpu_kernels.jit(parallel=True)
    def relu(x, out, passes):
        for i in prange(x.size):
            negative = x[i] <= 0
            out[i] = 0 if negative else x[i]  # not max(0, x), which would turn NaN into 0
            passes[i] = not negative

    @cpu_kernels.jit(parallel=True)
    def relu_grad(g, passes, out):
        for i in prange(g.size):
            out[i] = g[i] if passes[i] else 0

    @cpu_kernels.jit(parallel=True)
    def gelu(x, out):
        for i in prange(x.size):
            out[i] = 0.5 * x[i] * (1 + math.erf(x[i] * _SQRT_HALF))

    @cpu_kernels.jit(parallel=True)
    def gelu_grad(g, x, out):
        for i in prange(x.size):
            v = x[i]
            out[i] = g[i] * (0.5 * (1 + math.erf(v * _SQRT_HALF)) + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI)

    return relu, relu_grad, gelu, gelu_grad


_PARALLEL_MIN_SIZE = 1 << 16  # elements below which a parallel region costs more than it saves


def _flattened(*arrays):
    """The arrays as 1-D views when one compiled parallel pass over them applies (large NumPy
    arrays of one shape, float32/float64 dtype and C order); None otherwise."""
    if not cpu_kernels.accepts(*arrays, same_shape=True, contiguous=True, min_size=_PARALLEL_MIN_SIZE):
        return None
    return tuple(a.reshape(-1) for a in arrays)


class ReLU(Function):
    """y = max(x, 0);  dx = 0 where x <= 0, else g (so 0 even where g is inf or NaN, as in PyTorch).

    Backward keeps only where the input passed (a bool per element, not the float output): in a
    conv net the next convolution saves its own copy of its input, so keeping ``y`` too would
    hold each activation twice (resnet18_cifar at batch 128: 140 MiB more). Large float NumPy
    arrays take one compiled pass on all cores (NumPy's ufuncs run on one), output and mask
    together.
    """

    @staticmethod
    def forward(ctx, x):
        flat = _flattened(x)
        if flat is None:
            xp = array_module(x)
            y = xp.maximum(x, 0).astype(x.dtype, copy=False)
            passes = xp.less_equal(x, 0)
            xp.logical_not(passes, out=passes)  # not (x <= 0): NaN passes its gradient, as in PyTorch
        else:
            y, passes = np.empty_like(x), np.empty(x.shape, np.bool_)
            _kernels()[0](*flat, y.reshape(-1), passes.reshape(-1))
        ctx.passes = passes
        return y

    @staticmethod
    def backward(ctx, g):
        flat = _flattened(g)
        if flat is None or not ctx.passes.flags.c_contiguous:
            return array_module(g).where(ctx.passes, g, 0).astype(g.dtype, copy=False)
        out = np.empty_like(g)
        _kernels()[1](*flat, ctx.passes.reshape(-1), out.reshape(-1))
        return out


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dx = g * (1 if x > 0 else slope)."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        xp = array_module(x)
        slope = x.dtype.type(negative_slope)
        y = x * slope
        # max(x, slope x) is x for x > 0 and slope x below when slope <= 1 (min when slope > 1);
        # one pass, where np.where would take several
        (xp.maximum if negative_slope <= 1 else xp.minimum)(x, y, out=y)
        ctx.positive, ctx.slope = x > 0, slope
        return y

    @staticmethod
    def backward(ctx, g):
        slope = ctx.slope
        local = ctx.positive * (1 - slope)  # 1 where x > 0, slope elsewhere
        local += slope
        local *= g
        return local


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1);  dx = g * (1 if x > 0 else alpha e^x)."""

    @staticmethod
    def forward(ctx, x, alpha):
        xp = array_module(x)
        neg = xp.expm1(xp.minimum(x, 0))
        neg *= x.dtype.type(alpha)  # alpha (e^x - 1) for x <= 0, exactly 0 for x > 0
        ctx.positive, ctx.neg, ctx.alpha = x > 0, neg, x.dtype.type(alpha)
        return neg + xp.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.alpha
        local = ctx.positive * (1 - alpha)  # 1 where x > 0, alpha e^x = neg + alpha elsewhere
        local += ctx.neg
        local += alpha
        local *= g
        return local


def _normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 of an array, in its dtype."""
    return x.dtype.type(0.5) * (1 + _special(x * x.dtype.type(_SQRT_HALF), "erf"))


class GELU(Function):
    """y = x Phi(x) with Phi the standard normal CDF (``approximate='tanh'``: the tanh formula
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))));  dx = g (Phi(x) + x phi(x)).

    The exact form on large float NumPy arrays is one compiled parallel pass each way (SciPy's
    float32 ``erf`` alone takes ~4x as long), its backward recomputing Phi instead of saving it.
    """

    @staticmethod
    def forward(ctx, x, approximate):
        xp = array_module(x)
        ctx.x, ctx.approximate = x, approximate
        if approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            t = xp.tanh(k * (x + x.dtype.type(0.044715) * x**3))
            ctx.t = t
            return x.dtype.type(0.5) * x * (1 + t)
        flat = _flattened(x)
        if flat is not None:  # one compiled parallel pass; backward recomputes Phi the same way
            y = np.empty_like(x)
            _kernels()[2](*flat, y.reshape(-1))
            ctx.cdf = None
            return y
        cdf = _normal_cdf(x)
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
        flat = _flattened(g, x)
        if flat is not None:
            out = np.empty_like(g)
            _kernels()[3](*flat, out.reshape(-1))
            return out
        cdf = ctx.cdf
        if cdf is None:
            cdf = _normal_cdf(x)
        pdf = xp.exp(x * x * x.dtype.type(-0.5)) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return g * (cdf + x * pdf)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dx = g y (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        y = sigmoid_array(x)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx.y
        local = 1 - y
        local *= y
        local *= g
        return local


class SiLU(Function):
    """y = x sigmoid(x);  dx = g s (1 + x (1 - s)), s = sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        s = sigmoid_array(x)
        ctx.x, ctx.s = x, s
        return x * s

    @staticmethod
    def backward(ctx, g):
        s = ctx.s
        local = 1 - s
        local *= ctx.x
        local += 1
        local *= s
        local *= g
        return local


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
    """y = clamp(x, min_val, max_val);  dx = g strictly inside (min_val, max_val), as PyTorch.
    ReLU6 is Hardtanh(0, 6)."""

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.x, ctx.lo, ctx.hi = x, min_val, max_val
        return array_module(x).clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        return g * ((x > ctx.lo) & (x < ctx.hi))


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta, and y = x where beta x > threshold (linear, as PyTorch);
    dx = g sigmoid(beta x) (g above the threshold)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = array_module(x)
        bx = x * x.dtype.type(beta)
        ctx.bx, ctx.threshold = bx, threshold
        return xp.where(bx > threshold, x, xp.logaddexp(0, bx) / x.dtype.type(beta)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        bx = ctx.bx
        return array_module(g).where(bx > ctx.threshold, g, g * sigmoid_array(bx))


class Hardswish(Function):
    """y = x relu6(x + 3) / 6;  dx = g (0 for x <= -3, 1 for x >= 3, (2x + 3) / 6 between)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        y = x + x.dtype.type(3)
        array_module(x).clip(y, 0, 6, out=y)
        y *= x
        y *= x.dtype.type(1 / 6)
        return y

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        local = x * x.dtype.type(1 / 3)  # (2x + 3) / 6 strictly between the kinks
        local += x.dtype.type(0.5)
        local *= (x > -3) & (x < 3)
        local += x >= 3
        local *= g
        return local


class Hardsigmoid(Function):
    """y = relu6(x + 3) / 6;  dx = g / 6 for -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        y = x + x.dtype.type(3)
        array_module(x).clip(y, 0, 6, out=y)
        y *= x.dtype.type(1 / 6)
        return y

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        local = (x > -3) & (x < 3)
        return g * local * g.dtype.type(1 / 6)


class PReLU(Function):
    """y = x if x > 0 else a x, with a learned slope ``a`` per channel (dim 1) or one shared;
    dx = g (1 if x > 0 else a),  da = sum of g x where x <= 0 over all dims but the channel."""

    @staticmethod
    def forward(ctx, x, weight):
        slope = weight.reshape((1, -1) + (1,) * (x.ndim - 2)) if weight.size > 1 else weight.reshape(())
        ctx.x, ctx.slope, ctx.weight_shape = x, slope, weight.shape
        return array_module(x).where(x > 0, x, slope * x)

    @staticmethod
    def backward(ctx, g):
        x, slope = ctx.x, ctx.slope
        xp = array_module(g)
        positive = x > 0
        dx = xp.where(positive, g, slope * g) if ctx.needs_input_grad[0] else None
        dw = None
        if ctx.needs_input_grad[1]:
            negative_part = xp.where(positive, 0, g * x)
            axes = tuple(d for d in range(x.ndim) if d != 1) if slope.ndim else None
            dw = negative_part.sum(axis=axes).reshape(ctx.weight_shape)
        return dx, dw


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


# ---------------------------------------------------------------------- functional forms
def _check_input(name, input, floating=True):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, got {type(input).__name__}")
    if floating and input.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating point input, got dtype {input.dtype}")


def _apply(name, fn, input, inplace, *args, **options):
    """Run ``fn`` on ``input``; with ``inplace`` store the result in the input where that is safe."""
    if not inplace:
        return fn.apply(input, *args, **options)
    tracking = input.requires_grad and grad_mode.is_grad_enabled()
    if tracking and input.grad_fn is None:
        raise RuntimeError(
            f"{name}(inplace=True): a leaf tensor that requires grad can't be used in an in-place operation; "
            "use inplace=False"
        )
    out = fn.apply(input, *args, **options)
    if tracking:
        return out  # earlier ops may have saved the input's storage for their backward
    input._check_inplace(name)  # counts the change (Tensor._version)
    input.data[...] = out.data
    return input


def relu(input, inplace=False):
    """max(input, 0), elementwise.

    Example::

        >>> F.relu(convlab.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    _check_input("relu", input, floating=False)
    return _apply("relu", ReLU, input, inplace)


def relu6(input, inplace=False):
    """min(max(input, 0), 6), elementwise."""
    _check_input("relu6", input)
    return _apply("relu6", Hardtanh, input, inplace, min_val=0.0, max_val=6.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where positive, ``negative_slope * input`` elsewhere."""
    _check_input("leaky_relu", input)
    return _apply("leaky_relu", LeakyReLU, input, inplace, negative_slope=float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    """input where positive, ``alpha * (exp(input) - 1)`` elsewhere."""
    _check_input("elu", input)
    return _apply("elu", ELU, input, inplace, alpha=float(alpha))


def gelu(input, approximate="none"):
    """input * Phi(input) (Phi: the standard normal CDF); ``approximate='tanh'`` uses the tanh formula."""
    _check_input("gelu", input)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """input * sigmoid(input) (also called swish)."""
    _check_input("silu", input)
    return _apply("silu", SiLU, input, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """input clamped to [min_val, max_val]."""
    _check_input("hardtanh", input)
    if min_val > max_val:
        raise ValueError(
            f"hardtanh(): min_val cannot be greater than max_val, got min_val={min_val}, max_val={max_val}"
        )
    return _apply("hardtanh", Hardtanh, input, inplace, min_val=float(min_val), max_val=float(max_val))


def sigmoid(input):
    """1 / (1 + exp(-input)), computed without overflow."""
    _check_input("sigmoid", input)
    return Sigmoid.apply(input)


def tanh(input):
    """The hyperbolic tangent, elementwise."""
    _check_input("tanh", input)
    return Tanh.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * input)) / beta, reverting to the identity where beta * input > threshold."""
    _check_input("softplus", input)
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def hardswish(input, inplace=False):
    """input * relu6(input + 3) / 6 (MobileNetV3)."""
    _check_input("hardswish", input)
    return _apply("hardswish", Hardswish, input, inplace)


def hardsigmoid(input, inplace=False):
    """relu6(input + 3) / 6."""
    _check_input("hardsigmoid", input)
    return _apply("hardsigmoid", Hardsigmoid, input, inplace)


def prelu(input, weight):
    """input where positive, ``weight * input`` elsewhere, with one slope per channel (dim 1).

    Shape:
        input (N, C, *) (or any shape when ``weight`` has one element); weight (C,) or (1,).
    """
    _check_input("prelu", input)
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' must be a Tensor, got {type(weight).__name__}")
    if weight.dtype != input.dtype:
        raise TypeError(f"prelu(): expected weight of the input's dtype {input.dtype}, got {weight.dtype}")
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.ndim > 1 or weight.data.size not in (1, channels):
        raise ValueError(
            f"prelu(): expected weight of shape (1,) or ({channels},) (one slope per channel of input "
            f"{tuple(input.shape)}), got {tuple(weight.shape)}"
        )
    return PReLU.apply(input, weight)


def _softmax_args(name, input, dim, dtype, stacklevel):
    _check_input(name, input, floating=False)
    if dtype is not None:
        input = input.to(as_dtype(dtype))
    elif input.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating point input, got dtype {input.dtype}")
    if dim is None:  # PyTorch's legacy implicit choice
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            stacklevel=stacklevel,
        )
        dim = 0 if input.ndim in (0, 1, 3) else 1
    # a 0-d tensor normalises over its single element
    axis = normalize_dims(name, input.ndim, dim)[0] if input.ndim else None
    return input, axis


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(input) / sum(exp(input)) along ``dim``.

    Args:
        dim: the dimension that sums to 1 (omitting it is deprecated, as in PyTorch).
        dtype: cast the input to this dtype first.

    Example::

        >>> F.softmax(convlab.tensor([[1.0, 1.0]]), dim=1)
        tensor([[0.5000, 0.5000]])
    """
    input, axis = _softmax_args("softmax", input, dim, dtype, _stacklevel)
    return Softmax.apply(input, dim=axis)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(input)) along ``dim``, computed as input - logsumexp(input) (stable)."""
    input, axis = _softmax_args("log_softmax", input, dim, dtype, _stacklevel)
    return LogSoftmax.apply(input, dim=axis)
