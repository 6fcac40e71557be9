"""Pooling and unpooling layers.

PyTorch's: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``, ``LPPool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d``,
``AdaptiveMaxPool1d/2d/3d``, ``MaxUnpool1d/2d/3d``; and three the lecture notes draw but PyTorch
lacks: ``BedOfNailsUnpool2d``, ``StochasticPool2d`` and ``SpectralPool2d``.

Each layer stores its options (checked at construction, the error starting with the layer's
repr) and calls the op in ``convlab.ops.pool``, where the math and its gradient live. Pooling has
no parameters; ``repr`` is PyTorch's, e.g. ``MaxPool2d(kernel_size=2, stride=2, padding=0,
dilation=1, ceil_mode=False)``.
"""

from __future__ import annotations

from ...ops import pool
from .module import Module


def _tuple(value, n):
    """PyTorch's ``_single``/``_pair``/``_triple``: an int repeated n times, a sequence as a tuple."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _MaxPoolNd(Module):
    _n = 0

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode
        pool._window_args(repr(self), self._n, kernel_size, stride, padding, dilation, True)

    def forward(self, input):
        return pool._max_pool(
            repr(self), self._n, input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over ``(N, C, L)`` or ``(C, L)``; see :class:`MaxPool2d`."""

    _n = 1


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: each output is the maximum of a ``kernel_size`` window of its input plane.

    Args:
        kernel_size: window size, an int or ``(kH, kW)``.
        stride: window step (default ``kernel_size``: non-overlapping windows).
        padding: implicit ``-inf`` padding on both sides (at most half the kernel size).
        dilation: spacing between window elements.
        return_indices: also return the flat argmax indices, for :class:`MaxUnpool2d`.
        ceil_mode: round the output size up instead of down.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)`` (or without N), with
        ``H_out = floor((H + 2 padding - dilation (kH - 1) - 1) / stride + 1)``, same for W.

    Global max pooling (seed 004) is ``MaxPool2d(kernel_size=image_size)`` or
    ``AdaptiveMaxPool2d(1)``.

    Example::

        >>> pool = nn.MaxPool2d(2)
        >>> pool(convlab.randn(128, 32, 28, 28)).shape
        (128, 32, 14, 14)
    """

    _n = 2


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`MaxPool2d`."""

    _n = 3


class AvgPool1d(Module):
    """1-D average pooling over ``(N, C, L)`` or ``(C, L)``; see :class:`AvgPool2d`."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, 1)
        self.stride = _tuple(stride if stride is not None else kernel_size, 1)
        self.padding = _tuple(padding, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        pool._window_args(repr(self), 1, self.kernel_size, self.stride, self.padding, 1, True)

    def forward(self, input):
        return pool._avg_pool(
            repr(self), 1, input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad, None
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    _n = 0

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        pool._window_args(repr(self), self._n, kernel_size, stride, padding, 1, True)

    def forward(self, input):
        return pool._avg_pool(
            repr(self), self._n, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling: each output is the mean of a ``kernel_size`` window.

    Args:
        kernel_size, stride, padding, ceil_mode: as in :class:`MaxPool2d` (zero padding, no dilation).
        count_include_pad: count the zero padding in the divisor (default True).
        divisor_override: divide every window sum by this number instead.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``, ``H_out = floor((H + 2 padding - kH) / stride + 1)``.

    Example (seed 002: ``AvgPool2d(3, 2, 1)`` halves a 26x26 map)::

        >>> nn.AvgPool2d(3, 2, 1)(convlab.randn(16, 192, 26, 26)).shape
        (16, 192, 13, 13)
    """

    _n = 2


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`AvgPool2d`."""

    _n = 3


class _LPPoolNd(Module):
    _n = 0

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode
        pool._window_args(repr(self), self._n, kernel_size, stride, 0, 1, False)

    def forward(self, input):
        return pool._lp_pool(repr(self), self._n, input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, ceil_mode={self.ceil_mode}"


class LPPool1d(_LPPoolNd):
    """1-D power-average pooling over ``(N, C, L)`` or ``(C, L)``; see :class:`LPPool2d`."""

    _n = 1


class LPPool2d(_LPPoolNd):
    """2-D power-average pooling: ``(sum over the window of x^p)^(1/p)``, ``p = norm_type``.

    ``LPPool2d(2, k)`` is the L2 pooling of seed 001 (the L2 norm of each patch); large p
    approaches max pooling, ``p = float('inf')`` is max pooling of ``|x|``, p = 1 is sum pooling.
    No padding.

    Example::

        >>> nn.LPPool2d(2, 2)(convlab.tensor([[[[3.0, 4.0], [0.0, 0.0]]]]))
        tensor([[[[5.]]]])
    """

    _n = 2


class LPPool3d(_LPPoolNd):
    """3-D power-average pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; see :class:`LPPool2d`."""

    _n = 3


class _AdaptiveAvgPoolNd(Module):
    _n = 0

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size
        pool._output_size_arg(repr(self), output_size, (1,) * self._n)

    def forward(self, input):
        return pool._adaptive_avg_pool(repr(self), self._n, input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """1-D adaptive average pooling to ``output_size``; see :class:`AdaptiveAvgPool2d`."""

    _n = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output size, whatever the input size.

    ``AdaptiveAvgPool2d(1)`` is global average pooling, the layer seed 004 puts after the last
    conv block instead of a large dense layer (torchvision's ResNets, MobileNets, ...). Windows
    as in :func:`convlab.nn.functional.adaptive_avg_pool2d`; ``None`` keeps a dimension.

    Example::

        >>> gap = nn.AdaptiveAvgPool2d(1)
        >>> gap(convlab.randn(8, 512, 7, 7)).flatten(1).shape
        (8, 512)
    """

    _n = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-D adaptive average pooling to ``output_size``; see :class:`AdaptiveAvgPool2d`."""

    _n = 3


class _AdaptiveMaxPoolNd(Module):
    _n = 0

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices
        pool._output_size_arg(repr(self), output_size, (1,) * self._n)

    def forward(self, input):
        return pool._adaptive_max_pool(repr(self), self._n, input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1-D adaptive max pooling to ``output_size``; see :class:`AdaptiveMaxPool2d`."""

    _n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output size; ``AdaptiveMaxPool2d(1)`` is global max pooling.

    Example::

        >>> nn.AdaptiveMaxPool2d((2, None))(convlab.randn(1, 3, 5, 7)).shape
        (1, 3, 2, 7)
    """

    _n = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-D adaptive max pooling to ``output_size``; see :class:`AdaptiveMaxPool2d`."""

    _n = 3


class _MaxUnpoolNd(Module):
    _n = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, self._n)
        self.stride = _tuple(stride if stride is not None else kernel_size, self._n)
        self.padding = _tuple(padding, self._n)
        pool._window_args(repr(self), self._n, self.kernel_size, self.stride, self.padding, 1, False)

    def forward(self, input, indices, output_size=None):
        return pool._max_unpool(repr(self), self._n, input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """1-D max unpooling; see :class:`MaxUnpool2d`."""

    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Max unpooling (seed 001): put each value back at the position its max pooling took it
    from (``indices``), zeros elsewhere.

    ``forward(input, indices, output_size=None)``; pass ``output_size`` (the pooled map's size)
    when several sizes pool to the same one, e.g. 5x5 and 4x4 under 2x2 pooling.

    Example::

        >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
        >>> y, i = pool(x)
        >>> unpool(y, i, output_size=x.shape)     # x with its non-maxima zeroed
    """

    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """3-D max unpooling; see :class:`MaxUnpool2d`."""

    _n = 3


class BedOfNailsUnpool2d(Module):
    """Bed-of-nails unpooling (seed 001; not in PyTorch): each value in the top-left corner of a
    ``kernel_size`` block, zeros elsewhere. ``(N, C, H, W) -> (N, C, H kH, W kW)``.

    Example::

        >>> nn.BedOfNailsUnpool2d(2)(convlab.tensor([[[[1.0, 2.0]]]]))
        tensor([[[[1., 0., 2., 0.],
                  [0., 0., 0., 0.]]]])
    """

    def __init__(self, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        pool._window_args(repr(self), 2, kernel_size, None, 0, 1, False)

    def forward(self, input):
        return pool._bed_of_nails_unpool(repr(self), input, self.kernel_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"


class StochasticPool2d(Module):
    """Stochastic pooling (Zeiler & Fergus, "Stochastic Pooling for Regularization of Deep
    Convolutional Neural Networks", ICLR 2013; seed 003). Not in PyTorch.

    In training mode each window of the (non-negative, e.g. post-ReLU) input outputs one of its
    elements a_j, drawn with probability p_j = a_j / sum(a): a random pooling mask at each pass,
    regularising like dropout. In eval mode it outputs the probability-weighted average
    ``sum(p_j a_j) = sum(a^2) / sum(a)``. The gradient follows the sampled element (training)
    or the weighted average's derivative (eval).

    Args:
        kernel_size: window size (the paper uses 3x3 with stride 2).
        stride: window step, default ``kernel_size``.

    Example::

        >>> pool = nn.StochasticPool2d(3, 2)
        >>> pool(convlab.rand(8, 16, 28, 28)).shape
        (8, 16, 13, 13)
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        pool._window_args(repr(self), 2, kernel_size, stride, 0, 1, False)

    def forward(self, input):
        return pool._stochastic_pool(repr(self), input, self.kernel_size, self.stride, self.training)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class SpectralPool2d(Module):
    """Spectral pooling (Rippel, Snoek & Adams, "Spectral Representations for Convolutional
    Neural Networks", NIPS 2015; seed 003). Not in PyTorch.

    Pooling in the frequency domain: DFT of each plane, keep the ``output_size`` lowest
    frequencies, inverse DFT. It keeps far more information than max pooling at the same
    reduction and allows any output size (e.g. 28 -> 19). Linear, hence differentiable.

    Args:
        output_size: ``(H_out, W_out)`` or an int, at most the input size; ``None`` keeps a dim.

    Example::

        >>> nn.SpectralPool2d((19, 19))(convlab.randn(8, 16, 28, 28)).shape
        (8, 16, 19, 19)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size
        pool._output_size_arg(repr(self), output_size, (1, 1))

    def forward(self, input):
        return pool._spectral_pool(repr(self), input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
