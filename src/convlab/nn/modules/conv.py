"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` and ``SeparableConv2d``.

Names, arguments, defaults, initialisation, ``state_dict`` keys (``weight``, ``bias``) and
reprs are PyTorch's; the math and its gradients live in :mod:`convlab.ops.conv`. A layer checks
its settings when it is built and its input when it is called; every message starts with the
layer's repr, e.g. ``Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)): expected input with 3
channels (N, 3, H, W), got shape (8, 1, 28, 28)``.
"""

from __future__ import annotations

import contextlib
import numbers

from ...ops import conv as ops_conv
from ...ops.pad import checked_pad
from .linear import _init_weight_and_bias, _weight_and_bias
from .module import Module

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(layer, arg, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer}: {arg} must be a positive integer, got {arg}={value!r}")
    return int(value)


class _ConvNd(Module):
    """What the convolution and transposed-convolution layers share: settings, parameters,
    PyTorch's initialisation and repr."""

    _n = 0
    _transposed = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        output_padding,
        groups,
        bias,
        padding_mode,
        device=None,
        dtype=None,
    ):
        super().__init__()
        layer, n = f"{type(self).__name__}()", self._n
        in_channels = _positive_int(layer, "in_channels", in_channels)
        out_channels = _positive_int(layer, "out_channels", out_channels)
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"{layer}: groups must be a positive integer, got groups={groups!r}")
        if in_channels % groups:
            raise ValueError(
                f"{layer}: in_channels must be divisible by groups, got in_channels={in_channels}, groups={groups}"
            )
        if out_channels % groups:
            raise ValueError(
                f"{layer}: out_channels must be divisible by groups, got out_channels={out_channels}, groups={groups}"
            )
        kernel_size = ops_conv._ntuple(layer, "kernel_size", kernel_size, n)
        stride = ops_conv._ntuple(layer, "stride", stride, n)
        dilation = ops_conv._ntuple(layer, "dilation", dilation, n)
        for arg, values in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
            ops_conv._positive(layer, arg, values)
        if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {PADDING_MODES}, got padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{layer}: only "zeros" padding mode is supported, got padding_mode={padding_mode!r}')
        if isinstance(padding, str) and not self._transposed:
            pairs = ops_conv._padding_pairs(layer, padding, kernel_size, stride, dilation)
        else:
            padding = ops_conv._ntuple(layer, "padding", padding, n)
            if any(p < 0 for p in padding):
                raise ValueError(f"{layer}: padding must be non-negative, got padding={padding}")
            pairs = tuple((p, p) for p in padding)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.transposed, self.output_padding, self.groups = self._transposed, output_padding, int(groups)
        self.padding_mode = padding_mode
        # F.pad's (left, right) amounts, last dimension first
        self._reversed_padding_repeated_twice = tuple(v for pair in reversed(pairs) for v in pair)
        if self._transposed:
            shape = (in_channels, out_channels // groups) + kernel_size
        else:
            shape = (out_channels, in_channels // groups) + kernel_size
        _weight_and_bias(self, shape, out_channels, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = weight.shape[1] * prod(kernel_size)``."""
        _init_weight_and_bias(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def _document(layer, template, example_args, example_in, example_out):
    """Fill ``template`` for the ``layer._n``-D layer: dimension names and its docstring example."""
    n = layer._n
    dims = ops_conv._SPATIAL_NAMES[n]
    layer.__doc__ = template.format(
        n=n,
        dims=dims,
        out_dims=", ".join(f"{d}_out" for d in dims.split(", ")),
        kdims=ops_conv._KERNEL_NAMES[n],
        example_args=example_args,
        example_in=example_in,
        example_out=example_out,
    )


class _Conv(_ConvNd):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            (0,) * self._n,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)

    def _conv_forward(self, input, weight, bias):
        """The convolution with these ``weight`` and ``bias`` (PyTorch's hook for layers that
        transform their weight first, and where a pruned ``weight`` attribute is read)."""
        if self.padding_mode == "zeros":
            return ops_conv.checked_conv(
                self, self._n, input, weight, bias, self.stride, self.padding, self.dilation, self.groups
            )
        n = self._n
        ops_conv._check_operands(self, n, input, weight, bias, self.groups, transposed=False)
        padded = input
        if any(self._reversed_padding_repeated_twice):
            padded = checked_pad(repr(self), input, self._reversed_padding_repeated_twice, self.padding_mode)
        # the kernel must fit in the padded input: checked on the input as given, so that an error
        # names its size and the padding (as for padding_mode='zeros'), not the padded size alone
        ops_conv._conv_geometry(self, input.shape[-n:], weight.shape[2:], self.stride, self.padding, self.dilation)
        return ops_conv.checked_conv(self, n, padded, weight, bias, self.stride, 0, self.dilation, self.groups)


_CONV_DOC = """Applies a {n}-D convolution (cross-correlation, as PyTorch) over an input of
    ``in_channels`` planes.

    ``out(N_i, C_out_j) = bias(C_out_j) + sum_k weight(C_out_j, k) * input(N_i, k)`` where ``*``
    is the {n}-D cross-correlation (the kernel slides over the input without being reflected).

    Args:
        in_channels: channels of the input.
        out_channels: channels produced (one kernel each).
        kernel_size: an int or a {n}-tuple.
        stride: step between windows (default 1).
        padding: added on both sides: an int, a {n}-tuple, ``'valid'`` (none) or ``'same'``
            (output size = input size; stride 1 only; an odd total padding ``D(K-1)`` puts the
            extra element at the end, as PyTorch). Default 0.
        dilation: spacing between kernel elements (default 1).
        groups: split input and output channels into this many independent convolutions;
            ``groups = in_channels`` is a depthwise convolution (default 1).
        bias: learn an additive bias (default True).
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Shape:
        input ``(N, C_in, {dims})`` or ``(C_in, {dims})`` -> output ``(N, C_out, {out_dims})``
        with each ``O = floor((I + 2P - D(K-1) - 1) / S) + 1``
        (:func:`convlab.nn.functional.conv_output_shape`).

    Attributes:
        weight: ``(out_channels, in_channels/groups, {kdims})``, initialised from
            ``U(-sqrt(k), sqrt(k))`` with ``k = groups / (C_in * prod(kernel_size))``.
        bias: ``(out_channels,)``, same distribution.

    Example::

        >>> conv = nn.Conv{n}d({example_args})
        >>> conv(convlab.randn({example_in})).shape
        {example_out}
    """


class Conv1d(_Conv):
    _n = 1


class Conv2d(_Conv):
    _n = 2


class Conv3d(_Conv):
    _n = 3


_document(Conv1d, _CONV_DOC, "16, 33, 3, stride=2", "20, 16, 50", "(20, 33, 24)")
_document(Conv2d, _CONV_DOC, "1, 32, 3, padding=1", "128, 1, 28, 28", "(128, 32, 28, 28)")
_document(Conv3d, _CONV_DOC, "4, 8, 3, stride=2", "2, 4, 9, 9, 9", "(2, 8, 4, 4, 4)")


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        layer = f"{type(self).__name__}()"
        output_padding = ops_conv._ntuple(layer, "output_padding", output_padding, self._n)
        if isinstance(padding, str):
            raise TypeError(f"{layer}: padding must be an int or a tuple of {self._n} ints, got {padding!r}")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            output_padding,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(self, input, output_size):
        """``output_padding``, or the one that gives ``output_size`` (spatial, or with batch/channel dims)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        if not isinstance(output_size, (tuple, list)) or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in output_size
        ):
            raise TypeError(f"{self!r}: output_size must be a tuple of ints, got {output_size!r}")
        lead = input.ndim - n
        if len(output_size) == lead + n:
            output_size = output_size[lead:]
        if len(output_size) != n:
            raise ValueError(
                f"{self!r}: for a {input.ndim}-D input, output_size must have {n} or {lead + n} elements, got {tuple(output_size)}"
            )
        in_size = input.shape[-n:]
        smallest = [
            ops_conv.conv_transpose_output_size(i, k, s, p, 0, d)
            for i, k, s, p, d in zip(in_size, self.kernel_size, self.stride, self.padding, self.dilation)
        ]
        largest = [m + s - 1 for m, s in zip(smallest, self.stride)]
        if any(not lo <= o <= hi for o, lo, hi in zip(output_size, smallest, largest)):
            raise ValueError(
                f"{self!r}: requested an output size of {tuple(output_size)}, but valid sizes range from "
                f"{tuple(smallest)} to {tuple(largest)} (for an input of spatial size {tuple(in_size)})"
            )
        return tuple(o - m for o, m in zip(output_size, smallest))

    def forward(self, input, output_size=None):
        weight, bias = self.weight, self.bias  # attributes, not _parameters: a pruned weight is one
        if output_size is not None:
            ops_conv._check_operands(self, self._n, input, weight, bias, self.groups, transposed=True)
        output_padding = self._output_padding(input, output_size)
        return ops_conv.checked_conv_transpose(
            self,
            self._n,
            input,
            weight,
            bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


_CONV_T_DOC = """Applies a {n}-D transposed convolution: the gradient of ``Conv{n}d`` with respect
    to its input, used as an upsampling layer ("deconvolution", seed 001).

    Args:
        in_channels, out_channels, kernel_size: as ``Conv{n}d``.
        stride, padding, dilation: those of the convolution being transposed (``padding``
            crops that many elements from each side of the full output).
        output_padding: added to one side of each output dim (``< stride`` or ``< dilation``),
            to choose among the ``stride`` sizes that a strided convolution maps to the same size.
        groups: independent channel groups; bias: learn an additive bias.
        padding_mode: only ``'zeros'``.

    ``forward(input, output_size=None)``: ``output_size`` (spatial, or with the leading batch
    and channel dims) picks ``output_padding`` for you.

    Shape:
        input ``(N, C_in, {dims})`` or ``(C_in, {dims})`` -> output ``(N, C_out, {out_dims})`` with
        each ``O = (I-1)S - 2P + D(K-1) + output_padding + 1``.

    Attributes:
        weight: ``(in_channels, out_channels/groups, {kdims})``, initialised as PyTorch
            (``fan_in = out_channels/groups * prod(kernel_size)``).
        bias: ``(out_channels,)``.

    Example::

        >>> up = nn.ConvTranspose{n}d({example_args})
        >>> up(convlab.randn({example_in})).shape
        {example_out}
    """


class ConvTranspose1d(_ConvTranspose):
    _n = 1


class ConvTranspose2d(_ConvTranspose):
    _n = 2


class ConvTranspose3d(_ConvTranspose):
    _n = 3


_document(ConvTranspose1d, _CONV_T_DOC, "8, 4, 4, stride=2, padding=1", "2, 8, 16", "(2, 4, 32)")
_document(ConvTranspose2d, _CONV_T_DOC, "64, 32, 4, stride=2, padding=1", "8, 64, 14, 14", "(8, 32, 28, 28)")
_document(ConvTranspose3d, _CONV_T_DOC, "4, 2, 2, stride=2", "1, 4, 3, 3, 3", "(1, 2, 6, 6, 6)")


@contextlib.contextmanager
def _separable_step(step):
    """Bad-argument errors raised by a step (``'depthwise'`` or ``'pointwise'``) of a
    :class:`SeparableConv2d` name the layer and the step before the inner ``Conv2d``'s message."""
    try:
        yield
    except (TypeError, ValueError) as error:
        error.args = (f"SeparableConv2d(): {step} step: {error}",) + error.args[1:]
        raise


class SeparableConv2d(Module):
    """Depthwise-separable 2-D convolution (MobileNet; seed 004): a depthwise ``kernel_size``
    convolution filtering each input channel on its own (``groups = in_channels``, no bias),
    then a pointwise 1x1 convolution mixing the channels.

    It replaces ``C_out * C_in * kH * kW`` weights by ``C_in * depth_multiplier * kH * kW +
    C_out * C_in * depth_multiplier`` (+ ``C_out`` biases): for 16 -> 32 channels with 3x3
    kernels, 688 parameters instead of 4,640.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, padding_mode: as
            :class:`Conv2d` (stride, padding and dilation belong to the depthwise step).
        bias: learn the pointwise convolution's bias (default True).
        depth_multiplier: depthwise outputs per input channel (default 1).

    Bad settings and inputs raise :class:`Conv2d`'s errors, prefixed with the layer and the step:
    ``SeparableConv2d(): depthwise step: Conv2d(3, 3, kernel_size=(3, 3), ...): expected input
    with 3 channels ...``.

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``, sizes as :class:`Conv2d`.

    Attributes:
        depthwise: ``Conv2d(in_channels, in_channels * depth_multiplier, kernel_size, groups=in_channels, bias=False)``.
        pointwise: ``Conv2d(in_channels * depth_multiplier, out_channels, 1, bias=bias)``.

    Example::

        >>> sep = nn.SeparableConv2d(16, 32, 3)
        >>> sum(p.numel() for p in sep.parameters())
        688
        >>> sep(convlab.randn(1, 16, 64, 64)).shape
        (1, 32, 62, 62)
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        padding_mode="zeros",
        depth_multiplier=1,
        device=None,
        dtype=None,
    ):
        super().__init__()
        depth_multiplier = _positive_int("SeparableConv2d()", "depth_multiplier", depth_multiplier)
        in_channels = _positive_int("SeparableConv2d()", "in_channels", in_channels)
        mid = in_channels * depth_multiplier
        with _separable_step("depthwise"):
            self.depthwise = Conv2d(
                in_channels,
                mid,
                kernel_size,
                stride,
                padding,
                dilation,
                groups=in_channels,
                bias=False,
                padding_mode=padding_mode,
                device=device,
                dtype=dtype,
            )
        with _separable_step("pointwise"):
            self.pointwise = Conv2d(mid, out_channels, 1, bias=bias, device=device, dtype=dtype)

    def forward(self, input):
        with _separable_step("depthwise"):
            hidden = self.depthwise(input)
        with _separable_step("pointwise"):
            return self.pointwise(hidden)
