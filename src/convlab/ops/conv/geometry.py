"""Convolution geometry, shared with pooling: output-size formulas, argument parsing
(ints/tuples, ``'same'``/``'valid'`` padding) and validation with PyTorch-style messages, and
:class:`ConvGeometry`, where a convolution's windows lie."""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from ...tensor import Tensor

_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}
_KERNEL_NAMES = {1: "kL", 2: "kH, kW", 3: "kD, kH, kW"}
PADDING_STRINGS = ("valid", "same")


# ---------------------------------------------------------------------------------- shapes
def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one dimension.

    ``O = floor((I + 2P - D(K-1) - 1) / S) + 1``; ``padding`` may also be a ``(before, after)``
    pair, then ``2P`` is their sum. A result below 1 means the kernel does not fit.

    Example::

        >>> conv_output_size(28, 3, padding=1), conv_output_size(224, 7, stride=2, padding=3)
        (28, 112)
    """
    total = 2 * padding if isinstance(padding, numbers.Integral) else sum(padding)
    return (size + total - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a transposed convolution along one dimension.

    ``O = (I-1)S - 2P + D(K-1) + output_padding + 1``: the input length of the convolution it
    transposes (``output_padding`` picks among the ``S`` input lengths that convolve to ``I``).

    Example::

        >>> conv_transpose_output_size(14, 3, stride=2, padding=1, output_padding=1)
        28
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def conv_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1, transposed=False, output_padding=0):
    """Output spatial size of a convolution (or, with ``transposed=True``, a transposed one).

    Args:
        input_size: an int or a tuple of spatial sizes (e.g. ``(H, W)``).
        kernel_size, stride, padding, dilation, output_padding: ints or tuples of the same
            length; ``padding`` may be ``'valid'`` (0) or ``'same'`` (output = input, stride 1).
        transposed: use the transposed-convolution formula.

    Returns:
        an int for an int ``input_size``, else a tuple, from
        ``O = floor((I + 2P - D(K-1) - 1) / S) + 1`` or, transposed,
        ``O = (I-1)S - 2P + D(K-1) + output_padding + 1``.

    Example::

        >>> conv_output_shape((28, 28), 3, padding=1)
        (28, 28)
        >>> conv_output_shape(32, 4, stride=2, padding=1), conv_output_shape(16, 4, 2, 1, transposed=True)
        (16, 32)
    """
    scalar = isinstance(input_size, numbers.Integral)
    sizes = (int(input_size),) if scalar else tuple(input_size)
    n = len(sizes)
    who = "conv_output_shape()"
    kernel = _ntuple(who, "kernel_size", kernel_size, n)
    stride = _ntuple(who, "stride", stride, n)
    dilation = _ntuple(who, "dilation", dilation, n)
    if transposed:
        padding = _ntuple(who, "padding", padding, n)
        output_padding = _ntuple(who, "output_padding", output_padding, n)
        out = tuple(map(conv_transpose_output_size, sizes, kernel, stride, padding, output_padding, dilation))
    else:
        pads = _padding_pairs(who, padding, kernel, stride, dilation)
        out = tuple(map(conv_output_size, sizes, kernel, stride, pads, dilation))
    return out[0] if scalar else out


# ---------------------------------------------------------------------------------- arguments
def _ntuple(who, arg, value, n) -> tuple:
    """``value`` (an int or a sequence of 1 or ``n`` ints) as a tuple of ``n`` Python ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * n
    if (
        isinstance(value, (tuple, list))
        and len(value) in (1, n)
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        return tuple(int(v) for v in value) * (n if len(value) == 1 else 1)
    expected = "an int" if n == 1 else f"an int or a tuple of {n} ints"
    raise TypeError(f"{_name(who)}: {arg} must be {expected}, got {value!r}")


def _padding_pairs(who, padding, kernel, stride, dilation) -> tuple:
    """``padding`` (int, tuple, ``'valid'`` or ``'same'``) as ``((before, after), ...)`` per dim.

    ``'same'`` pads ``D(K-1)`` in total, the extra element of an odd total after (as PyTorch).
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ValueError(
                f"{_name(who)}: invalid padding string {padding!r}, expected one of {PADDING_STRINGS} or ints"
            )
        if padding == "valid":
            return ((0, 0),) * n
        if any(s != 1 for s in stride):
            raise ValueError(
                f"{_name(who)}: padding='same' is not supported for strided convolutions, got stride={stride}"
            )
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    pads = _ntuple(who, "padding", padding, n)
    if any(p < 0 for p in pads):
        raise ValueError(f"{_name(who)}: padding must be non-negative, got padding={pads}")
    return tuple((p, p) for p in pads)


def _positive(who, arg, values) -> None:
    if any(v <= 0 for v in values):
        raise ValueError(f"{_name(who)}: {arg} must be positive, got {arg}={values}")


def _name(who) -> str:
    """An error-message prefix: a function name as given, a layer by its repr."""
    return who if isinstance(who, str) else repr(who)


class ConvGeometry(NamedTuple):
    """Where the windows of a convolution lie; one entry per spatial dimension.

    ``in_size`` is the unpadded input, ``out_size`` the number of windows; the padded buffer
    the windows are read from holds the input at offset ``pad_lo`` and extends ``pad_hi``
    past it (``pad_hi`` may be larger than what the windows reach).
    """

    in_size: tuple
    out_size: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad_lo: tuple
    pad_hi: tuple

    @property
    def n_offsets(self) -> int:
        return math.prod(self.kernel)

    @property
    def unit_stride(self) -> bool:
        return all(s == 1 for s in self.stride)


def _check_tensor(who, arg, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{_name(who)}: expected {arg} to be a convlab Tensor, got {type(value).__name__}")
    if value.dtype.kind != "f":
        raise TypeError(f"{_name(who)}: expected a floating-point {arg}, got dtype {value.dtype}")


def _check_groups(who, groups) -> int:
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"{_name(who)}: groups must be an int, got {groups!r}")
    if groups <= 0:
        raise ValueError(f"{_name(who)}: groups must be a positive integer, got groups={groups}")
    return int(groups)


def _check_operands(who, n, input, weight, bias, groups, transposed):
    """Validate input/weight/bias of a (transposed) convolution; returns ``groups`` as an int."""
    for arg, value in (("input", input), ("weight", weight)):
        _check_tensor(who, arg, value)
    dims, kdims = _SPATIAL_NAMES[n], _KERNEL_NAMES[n]
    if weight.ndim != n + 2:
        layout = "in_channels, out_channels/groups" if transposed else "out_channels, in_channels/groups"
        raise ValueError(f"{_name(who)}: expected weight of shape ({layout}, {kdims}), got {tuple(weight.shape)}")
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(
            f"{_name(who)}: expected a {n + 1}-D (C, {dims}) or {n + 2}-D (N, C, {dims}) input, got shape {tuple(input.shape)}"
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"{_name(who)}: input dtype {input.dtype} does not match weight dtype {weight.dtype} (convert one with .to())"
        )
    groups = _check_groups(who, groups)
    if transposed:
        c_in, c_out = weight.shape[0], weight.shape[1] * groups
        if c_in % groups:
            raise ValueError(
                f"{_name(who)}: weight of shape {tuple(weight.shape)} has {c_in} input channels, not divisible by groups={groups}"
            )
    else:
        c_in, c_out = weight.shape[1] * groups, weight.shape[0]
        if c_out % groups:
            raise ValueError(
                f"{_name(who)}: weight of shape {tuple(weight.shape)} has {c_out} output channels, not divisible by groups={groups}"
            )
    channels = input.shape[-(n + 1)]
    if channels != c_in:
        batch = "N, " if input.ndim == n + 2 else ""
        raise ValueError(
            f"{_name(who)}: expected input with {c_in} channels ({batch}{c_in}, {dims}), got shape {tuple(input.shape)}"
            + (f" (weight {tuple(weight.shape)}, groups={groups})" if groups > 1 else "")
        )
    if any(s == 0 for s in input.shape[-(n + 1) :]):
        raise ValueError(
            f"{_name(who)}: expected non-zero channel and spatial sizes, got input shape {tuple(input.shape)}"
        )
    if bias is not None:
        _check_tensor(who, "bias", bias)
        if tuple(bias.shape) != (c_out,):
            raise ValueError(f"{_name(who)}: expected bias of shape ({c_out},), got {tuple(bias.shape)}")
        if bias.dtype != weight.dtype:
            raise TypeError(f"{_name(who)}: bias dtype {bias.dtype} does not match weight dtype {weight.dtype}")
    return groups


def _conv_geometry(who, in_size, kernel, stride, padding, dilation) -> ConvGeometry:
    n = len(in_size)
    stride = _ntuple(who, "stride", stride, n)
    dilation = _ntuple(who, "dilation", dilation, n)
    _positive(who, "stride", stride)
    _positive(who, "dilation", dilation)
    pads = _padding_pairs(who, padding, kernel, stride, dilation)
    out = tuple(map(conv_output_size, in_size, kernel, stride, pads, dilation))
    if any(o < 1 for o in out):
        padded = tuple(i + lo + hi for i, (lo, hi) in zip(in_size, pads))
        raise ValueError(
            f"{_name(who)}: kernel_size={tuple(kernel)} with dilation={dilation} does not fit in the input of spatial size "
            f"{tuple(in_size)} padded by {tuple(lo if lo == hi else (lo, hi) for lo, hi in pads)} (padded size {padded}): "
            f"the output size would be {out}, expected every size >= 1"
        )
    return ConvGeometry(
        tuple(in_size), out, tuple(kernel), stride, dilation, tuple(p[0] for p in pads), tuple(p[1] for p in pads)
    )
