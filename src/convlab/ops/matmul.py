"""Matrix products: ``matmul`` (``@``, batched with broadcasting) and the fused ``linear``.

For Y = A B:  dA = dY B^T  and  dB = A^T dY  (summed over broadcast batch dims).
1-D operands follow PyTorch/NumPy: a vector on the left is a row (1, k), on the right a column
(k, 1), and that axis is dropped from the result.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..backend import array_module
from ..tensor import Tensor
from .elementwise import unbroadcast


class MatMul(Function):
    """Y = A @ B (batched);  dA = dY @ B^T,  dB = A^T @ dY."""

    @staticmethod
    def forward(ctx, a, b):
        # Save only what the other operand's gradient needs (as PyTorch does).
        ctx.a = a if ctx.needs_input_grad[1] else None
        ctx.b = b if ctx.needs_input_grad[0] else None
        ctx.shapes = a.shape, b.shape
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        sa, sb = ctx.shapes
        xp = array_module(g)
        sa2 = (1, *sa) if len(sa) == 1 else sa
        sb2 = (*sb, 1) if len(sb) == 1 else sb
        if len(sb) == 1:  # restore the dropped column axis first, then the dropped row axis
            g = xp.expand_dims(g, -1)
        if len(sa) == 1:
            g = xp.expand_dims(g, -2)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            b2 = b.reshape(sb2)
            ga = unbroadcast(g @ xp.swapaxes(b2, -1, -2), sa2).reshape(sa)
        if ctx.needs_input_grad[1]:
            a2 = a.reshape(sa2)
            if len(sb2) == 2 and len(sa2) > 2:
                # Shared right matrix: fold the batch into one large GEMM instead of summing a batch.
                gb = a2.reshape(-1, sa2[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g, sb2)
            gb = gb.reshape(sb)
        return ga, gb


class Linear(Function):
    """y = x W^T + b  (x: (*, in), W: (out, in), b: (out,));
    dx = g W,  dW = g^T x (over all leading dims),  db = sum of g over leading dims."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.x = x if ctx.needs_input_grad[1] else None  # dW = g^T x
        ctx.weight = weight if ctx.needs_input_grad[0] else None  # dx = g W
        y = x @ weight.T
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.x, ctx.weight
        need_x, need_w, need_b = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        gx = g @ w if need_x else None
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if need_w else None
        gb = g2.sum(axis=0) if need_b else None
        return gx, gw, gb


def _shape_error(name, a, b, detail):
    return RuntimeError(f"{name}(): {detail}; got shapes {tuple(a.shape)} and {tuple(b.shape)}")


def matmul(a, b):
    """Matrix product with PyTorch's rules for 1-D and batched (broadcast) operands."""
    if not isinstance(a, Tensor):
        a = Tensor(array_module(b.data).asarray(a))
    if not isinstance(b, Tensor):
        b = Tensor(array_module(a.data).asarray(b))
    if a.ndim == 0 or b.ndim == 0:
        raise _shape_error("matmul", a, b, "both arguments need at least 1 dimension")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise _shape_error(
            "matmul", a, b, f"the inner dimensions must match (a's last dim {k_a} vs b's {'first' if b.ndim == 1 else 'second-to-last'} dim {k_b})"
        )
    if a.dtype != b.dtype:
        raise TypeError(f"matmul(): expected both arguments to have the same dtype, got {a.dtype} and {b.dtype}")
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise _shape_error("matmul", a, b, "the batch dimensions cannot be broadcast together") from None


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias.

    Shapes: input (*, in_features), weight (out_features, in_features), bias (out_features,),
    output (*, out_features).
    """
    if weight.ndim != 2:
        raise ValueError(f"linear(): weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear(): expected input with last dimension in_features={weight.shape[1]}, got shape {tuple(input.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear(): bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if input.dtype != weight.dtype:
        raise TypeError(f"linear(): input dtype {input.dtype} does not match weight dtype {weight.dtype}")
    return Linear.apply(input, weight, bias)
