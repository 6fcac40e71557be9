"""``Unfold`` (im2col) and ``Fold`` (col2im) layers, PyTorch's arguments and reprs; the math is
:func:`convlab.nn.functional.unfold` / :func:`~convlab.nn.functional.fold` (``convlab.ops.conv``)."""

from __future__ import annotations

from ...ops import conv as ops_conv
from .module import Module


class Unfold(Module):
    """Extracts sliding local blocks of a batched input (im2col): each ``kernel_size`` block of
    the zero-padded input becomes one column.

    Args:
        kernel_size: block size, an int or a pair.
        dilation: spacing between block elements (default 1).
        padding: zeros added on both sides (default 0).
        stride: step between blocks (default 1).

    Shape:
        ``(N, C, H, W) -> (N, C * kH * kW, L)``, ``L`` = number of blocks
        (:func:`convlab.nn.functional.conv_output_shape` per spatial dim, multiplied).

    Example::

        >>> nn.Unfold(kernel_size=(2, 3))(convlab.randn(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return ops_conv.checked_unfold(self, input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


class Fold(Module):
    """Combines an array of sliding local blocks into a tensor (col2im), summing overlaps: the
    adjoint of :class:`Unfold` (``fold(unfold(x))`` multiplies each pixel by the number of blocks
    containing it).

    Args:
        output_size: spatial size ``(H, W)`` of the output (an int means square).
        kernel_size, dilation, padding, stride: as :class:`Unfold`.

    Shape:
        ``(N, C * kH * kW, L) -> (N, C, H, W)``.

    Example::

        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(convlab.randn(1, 12, 12)).shape
        (1, 3, 4, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return ops_conv.checked_fold(
            self, input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )
