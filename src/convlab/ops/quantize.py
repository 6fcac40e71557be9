"""Fake quantisation: round to the int8 grid and back, with the straight-through gradient.

``fake_quantize(x) = (clamp(round(x / scale) + zero_point, quant_min, quant_max) - zero_point) * scale``
is what an integer layer sees of a float tensor, computed in floating point so a model can
train with it (quantisation-aware training) and so the integer path of
:mod:`convlab.quantization` has a float reference. As in PyTorch, ``round`` is round-half-to-even
(``nearbyint``) of ``x * (1 / scale)`` with ``1 / scale`` taken in float32, and the gradient is
the straight-through estimator: ``g`` where ``round(x / scale) + zero_point`` lies inside
``[quant_min, quant_max]``, zero where it was clamped.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd.function import Function
from ..backend import array_module, to_numpy
from ..tensor import Tensor


def _grid(xp, x, inv_scale, zero_point, quant_min, quant_max):
    """``(fake-quantised x, mask of the unclamped elements)``, all arrays broadcasting with ``x``."""
    q = xp.rint(x * inv_scale) + zero_point
    mask = (q >= quant_min) & (q <= quant_max)
    return q, mask


class FakeQuantize(Function):
    """y = (clamp(rint(x * inv_scale) + zp, qmin, qmax) - zp) * scale; dx = g where not clamped.

    ``inv_scale`` and ``zero_point`` are arrays of the input's dtype that broadcast with it
    (scalars for per-tensor, ``(C, 1, ..., 1)`` for per-channel quantisation); the product
    ``(q - zp) * scale`` is taken in ``scale``'s dtype (PyTorch's per-tensor kernel takes it in
    float32 even for a float64 input, its per-channel kernel in the input's dtype).

    Shape: input (*) -> output (*), same shape.
    """

    @staticmethod
    def forward(ctx, x, scale, inv_scale, zero_point, quant_min, quant_max):
        xp = array_module(x)
        q, mask = _grid(xp, x, inv_scale, zero_point, quant_min, quant_max)
        steps = (xp.clip(q, quant_min, quant_max) - zero_point).astype(scale.dtype, copy=False)
        y = (steps * scale).astype(x.dtype, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.mask = mask
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None, None, None, None, None


def _check_range(name, quant_min, quant_max):
    for arg, value in (("quant_min", quant_min), ("quant_max", quant_max)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{name}(): {arg} must be an int, got {type(value).__name__}")
    if quant_min > quant_max:
        raise ValueError(f"{name}(): quant_min ({quant_min}) must be less than or equal to quant_max ({quant_max})")


def _check_input(name, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): expected input to be a convlab Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating-point input, got dtype {input.dtype}")


def _as_vector(name, arg, value, kind):
    """A 1-D NumPy array of ``value`` (Tensor, array or sequence); ``kind`` 'f' or 'i'."""
    array = np.asarray(to_numpy(value.data) if isinstance(value, Tensor) else value)
    if array.ndim != 1 or (kind == "i" and array.dtype.kind not in "iu") or array.dtype.kind not in "iuf":
        expected = "a 1-D integer tensor" if kind == "i" else "a 1-D floating-point tensor"
        raise TypeError(f"{name}(): {arg} must be {expected}, got shape {array.shape} of dtype {array.dtype}")
    return array


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """Fake-quantise ``input`` with one ``scale`` and ``zero_point``, as ``torch.fake_quantize_per_tensor_affine``.

    ``out = (clamp(round(input / scale) + zero_point, quant_min, quant_max) - zero_point) * scale``,
    round-half-to-even; the gradient passes straight through inside the clamp range and is zero
    outside it.

    Args:
        input: floating-point tensor.
        scale: the step of the integer grid (a positive float or one-element tensor).
        zero_point: the integer that represents 0.0 (int or one-element tensor), within
            ``[quant_min, quant_max]``.
        quant_min, quant_max: the integer range, e.g. ``0, 255`` for quint8, ``-128, 127`` for qint8.

    Shape: input (*) -> output (*), same shape and dtype.

    Example::

        >>> x = convlab.tensor([-1.0, 0.26, 0.5, 3.0], requires_grad=True)
        >>> y = convlab.fake_quantize_per_tensor_affine(x, 0.1, 0, -128, 127)
        >>> y            # [-1.0, 0.3, 0.5, 3.0]
        >>> y.sum().backward(); x.grad   # ones: nothing was clamped
    """
    name = "fake_quantize_per_tensor_affine"
    _check_input(name, input)
    _check_range(name, quant_min, quant_max)
    if isinstance(scale, Tensor):
        if scale.numel() != 1:
            raise ValueError(f"{name}(): scale must be a float or a one-element tensor, got shape {tuple(scale.shape)}")
        scale = scale.item()
    if isinstance(zero_point, Tensor):
        if zero_point.numel() != 1:
            raise ValueError(
                f"{name}(): zero_point must be an int or a one-element tensor, got shape {tuple(zero_point.shape)}"
            )
        zero_point = zero_point.item()
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool):
        raise TypeError(f"{name}(): scale must be a float, got {type(scale).__name__}")
    if not isinstance(zero_point, numbers.Real) or isinstance(zero_point, bool) or zero_point != int(zero_point):
        raise TypeError(f"{name}(): zero_point must be an int, got {zero_point!r}")
    if not scale > 0:
        raise ValueError(f"{name}(): scale must be positive, got {scale}")
    if not quant_min <= zero_point <= quant_max:
        raise ValueError(
            f"{name}(): zero_point ({int(zero_point)}) must be between quant_min ({quant_min}) and "
            f"quant_max ({quant_max})"
        )
    dtype = input.dtype
    scale32 = np.float32(scale)
    inv_scale = np.float32(1) / scale32  # PyTorch divides in float32
    return FakeQuantize.apply(input, scale32, dtype.type(inv_scale), dtype.type(zero_point), quant_min, quant_max)


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """Fake-quantise ``input`` with one ``scale``/``zero_point`` per slice along ``axis``, as
    ``torch.fake_quantize_per_channel_affine``.

    ``out[..., c, ...] = (clamp(round(input[..., c, ...] / scale[c]) + zero_point[c], quant_min,
    quant_max) - zero_point[c]) * scale[c]``; straight-through gradient inside the clamp range.

    Args:
        input: floating-point tensor.
        scale: 1-D tensor of ``input.shape[axis]`` positive steps.
        zero_point: 1-D integer tensor of the same length, each within ``[quant_min, quant_max]``.
        axis: the channel dimension, ``0 <= axis < input.ndim``.
        quant_min, quant_max: the integer range.

    Shape: input (*) -> output (*), same shape and dtype.

    Example::

        >>> w = convlab.randn(16, 8, 3, 3)
        >>> scale = w.abs().amax(dim=(1, 2, 3)) / 127.5
        >>> wq = convlab.fake_quantize_per_channel_affine(w, scale, convlab.zeros(16, dtype=convlab.int32),
        ...                                               0, -128, 127)
    """
    name = "fake_quantize_per_channel_affine"
    _check_input(name, input)
    _check_range(name, quant_min, quant_max)
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{name}(): axis must be an int, got {type(axis).__name__}")
    if not 0 <= axis < input.ndim:  # PyTorch refuses negative axes too
        raise ValueError(f"{name}(): axis must be between 0 and {input.ndim - 1} (the input's dimensions), got {axis}")
    scale = _as_vector(name, "scale", scale, "f")
    zero_point = _as_vector(name, "zero_point", zero_point, "i")
    channels = input.shape[axis]
    if scale.shape != (channels,) or zero_point.shape != (channels,):
        raise ValueError(
            f"{name}(): scale and zero_point must each have input.shape[{axis}] = {channels} elements, got "
            f"{scale.shape[0]} and {zero_point.shape[0]}"
        )
    if not (scale > 0).all():
        raise ValueError(f"{name}(): every scale must be positive, got {scale.min()}")
    if ((zero_point < quant_min) | (zero_point > quant_max)).any():
        raise ValueError(
            f"{name}(): every zero_point must be between quant_min ({quant_min}) and quant_max ({quant_max}), got "
            f"values in [{zero_point.min()}, {zero_point.max()}]"
        )
    shape = [1] * input.ndim
    shape[axis] = channels
    xp = array_module(input.data)
    dtype = input.dtype
    scale32 = scale.astype(np.float32)
    inv_scale = np.float32(1) / scale32

    def column(values):
        return xp.asarray(values.astype(dtype).reshape(shape))

    return FakeQuantize.apply(input, column(scale32), column(inv_scale), column(zero_point), quant_min, quant_max)
