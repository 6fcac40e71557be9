"""Binarised layers (seed 004: "find a set of binary weights that best approximate the trained
network behavior"): ``BinaryConv2d`` and ``BinaryLinear``.

- ``mode="binaryconnect"`` (Courbariaux et al., 2015): the layer computes with ``sign(W)``
  (+1 or -1; +1 at 0) while the optimiser updates the real-valued ``W``.
- ``mode="xnor"`` (Rastegari et al., 2016, XNOR-Net): weights ``alpha * sign(W)`` with one
  ``alpha = mean |W|`` per output filter (the L2-optimal scale of a binary filter), and the
  inputs binarised too, ``sign(x)``, so a dot product is XNOR + popcount on hardware.

``sign`` has a zero derivative almost everywhere; both methods train through it with the
straight-through estimator of Hubara et al. (the derivative of ``hardtanh``): the gradient passes
unchanged where ``|x| <= 1`` and is cancelled elsewhere. ``alpha`` is differentiated exactly, so
an XNOR weight's gradient is ``g_i alpha 1{|W_i| <= 1} + sign(W_i) / n * sum_j g_j sign(W_j)``
(the paper's ``1/n`` term in full).

The first and last layers of a network are usually kept in full precision (as in
``convlab.models.fmnist_cnn_binary``).
"""

from __future__ import annotations

from ...autograd.function import Function
from ...backend import array_module
from .conv import Conv2d
from .linear import Linear, _check_tensor_input

__all__ = ["BinaryConv2d", "BinaryLinear", "sign_ste"]

MODES = ("binaryconnect", "xnor")


class SignSTE(Function):
    """y = +1 where x >= 0, else -1;  dx = g where |x| <= 1 (straight-through, hardtanh's derivative)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        xp = array_module(x)
        return xp.where(x >= 0, x.dtype.type(1), x.dtype.type(-1))

    @staticmethod
    def backward(ctx, g):
        return g * (abs(ctx.x) <= 1)


def sign_ste(input):
    """``sign(input)`` in {-1, +1} (+1 at 0) with the straight-through gradient ``1{|input| <= 1}``.

    Example::

        >>> from convlab.nn.modules.binary import sign_ste
        >>> x = convlab.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
        >>> y = sign_ste(x); y.sum().backward(); y.tolist(), x.grad.tolist()
        ([-1.0, -1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0, 0.0])
    """
    return SignSTE.apply(input)


def _check_mode(layer, mode):
    if mode not in MODES:
        raise ValueError(f"{layer}(): mode must be one of {MODES}, got mode={mode!r}")
    return mode


class _Binarised:
    """What :class:`BinaryConv2d` and :class:`BinaryLinear` share, as the base listed before
    ``Conv2d`` / ``Linear``: the binarised operands and the repr."""

    def _binary_operands(self, input):
        """``(input, weight)`` as the layer computes with them: ``sign(input)`` in XNOR mode, and
        ``sign(W)`` (times ``alpha = mean |W|`` per output filter / unit in XNOR mode)."""
        _check_tensor_input(self, input)
        weight = self.weight
        binary = sign_ste(weight)
        if self.mode == "xnor":
            input = sign_ste(input)
            binary = binary * weight.abs().mean(dim=tuple(range(1, weight.ndim)), keepdim=True)
        return input, binary

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}"


class BinaryConv2d(_Binarised, Conv2d):
    """A 2-D convolution with binary weights (BinaryConnect) or binary weights and inputs
    (XNOR-Net), trained through the straight-through estimator.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode: as :class:`Conv2d`.
        mode: ``"binaryconnect"`` (``sign(W)``) or ``"xnor"`` (``alpha * sign(W)`` with
            ``alpha = mean |W|`` per filter, and ``sign(input)``).

    Shape: as :class:`Conv2d`.

    Example::

        >>> conv = nn.BinaryConv2d(32, 32, 3, padding=1, mode="xnor")
        >>> conv(convlab.randn(8, 32, 14, 14)).shape
        (8, 32, 14, 14)
    """

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
        mode="binaryconnect",
    ):
        mode = _check_mode("BinaryConv2d", mode)
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )
        self.mode = mode

    def forward(self, input):
        return self._conv_forward(*self._binary_operands(input), self.bias)


class BinaryLinear(_Binarised, Linear):
    """y = x sign(W)^T + b (BinaryConnect), or sign(x) (alpha sign(W))^T + b with
    ``alpha = mean |W|`` per output (XNOR-Net), trained through the straight-through estimator.

    Args:
        in_features, out_features, bias: as :class:`Linear`.
        mode: ``"binaryconnect"`` or ``"xnor"``.

    Shape: as :class:`Linear`.

    Example::

        >>> fc = nn.BinaryLinear(3136, 512)
        >>> fc(convlab.randn(8, 3136)).shape
        (8, 512)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None, mode="binaryconnect"
    ):
        mode = _check_mode("BinaryLinear", mode)
        super().__init__(in_features, out_features, bias, device, dtype)
        self.mode = mode

    def forward(self, input):
        return self._linear_forward(*self._binary_operands(input), self.bias)
