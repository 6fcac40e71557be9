"""Top-level tensor functions, as in the ``torch`` namespace (``convlab.cat``, ``convlab.exp``, ...).

Each is a one-line alias of the op or Tensor method that implements it.
"""

from __future__ import annotations

import numpy as np

from .backend import to_numpy
from .dtypes import promote_types, result_type
from .ops import activation, elementwise, indexing, reduce, shape
from .ops import matmul as _matmul
from .ops.quantize import fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine
from .tensor import Tensor

cat = concat = concatenate = shape.cat
stack = shape.stack
split = shape.split
chunk = shape.chunk
unbind = shape.unbind
narrow = shape.narrow
reshape = shape.reshape
flatten = shape.flatten
unflatten = shape.unflatten
permute = shape.permute
transpose = swapaxes = shape.transpose
squeeze = shape.squeeze
unsqueeze = shape.unsqueeze
flip = shape.flip
gather = indexing.gather
index_select = indexing.index_select
where = elementwise.where
clamp = clip = elementwise.clamp
maximum = elementwise.maximum
minimum = elementwise.minimum
add = elementwise.add
sub = subtract = elementwise.sub
mul = multiply = elementwise.mul
div = divide = elementwise.div
floor_divide = elementwise.floor_divide
remainder = elementwise.remainder
pow = elementwise.pow
matmul = mm = bmm = _matmul.matmul
sum = reduce.sum
mean = reduce.mean
prod = reduce.prod
amax = reduce.amax
amin = reduce.amin
var = reduce.var
std = reduce.std
logsumexp = reduce.logsumexp
norm = reduce.norm
softmax = activation.softmax
log_softmax = activation.log_softmax


def _method(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"Same as ``Tensor.{name}``."
    return fn


exp, log, log1p, sqrt, rsqrt, abs, sin, cos, neg, sign, floor, ceil, round = map(
    _method, ["exp", "log", "log1p", "sqrt", "rsqrt", "abs", "sin", "cos", "neg", "sign", "floor", "ceil", "round"]
)
expm1, log2, log10, trunc, negative = map(_method, ["expm1", "log2", "log10", "trunc", "negative"])
logical_and, logical_or, logical_xor = map(_method, ["logical_and", "logical_or", "logical_xor"])
relu, sigmoid, tanh, square, reciprocal = map(_method, ["relu", "sigmoid", "tanh", "square", "reciprocal"])
max, min, argmax, argmin, all, any = map(_method, ["max", "min", "argmax", "argmin", "all", "any"])
isnan, isinf, isfinite, logical_not = map(_method, ["isnan", "isinf", "isfinite", "logical_not"])
eq, ne, lt, le, gt, ge = map(_method, ["eq", "ne", "lt", "le", "gt", "ge"])
clone, detach, numel, t = map(_method, ["clone", "detach", "numel", "t"])


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True if ``|a - b| <= atol + rtol |b|`` everywhere."""
    return bool(np.allclose(to_numpy(a.data), to_numpy(b.data), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b) -> bool:
    """True if ``a`` and ``b`` have the same shape and elements."""
    return a.shape == b.shape and bool((to_numpy(a.data) == to_numpy(b.data)).all())


__all__ = [
    "abs", "add", "all", "allclose", "amax", "amin", "any", "argmax", "argmin", "bmm", "cat", "ceil", "chunk",
    "clamp", "clip", "clone", "concat", "concatenate", "cos", "detach", "div", "divide", "eq", "equal", "exp",
    "expm1", "fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine", "flatten", "flip", "floor", "floor_divide", "gather", "ge", "gt", "index_select", "is_tensor",
    "isfinite", "isinf", "isnan", "le", "log", "log1p", "log2", "log10", "log_softmax", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logsumexp", "lt", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mm", "mul", "multiply", "narrow", "ne", "neg", "negative", "norm", "numel", "permute", "pow",
    "prod", "promote_types", "reciprocal", "relu", "remainder", "reshape", "result_type", "round", "rsqrt",
    "sigmoid", "sign", "sin", "softmax", "split", "sqrt", "square", "squeeze", "stack", "std", "sub", "subtract",
    "sum", "swapaxes", "t", "tanh", "transpose", "trunc", "unbind", "unflatten", "unsqueeze", "var", "where",
]
