"""Normalisation layers that do not use batch statistics: ``LayerNorm``, ``GroupNorm``,
``LocalResponseNorm`` and ``RMSNorm``, with PyTorch's arguments, defaults and ``repr``; the math
lives in :mod:`convlab.ops.norm`."""

from __future__ import annotations

import numbers

from ... import creation
from ...ops import norm
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .module import Module


def _normalized_shape(name, normalized_shape) -> tuple:
    """An int or a sequence of positive ints, as a tuple (PyTorch accepts both in the layers)."""
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, (tuple, list)) or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in normalized_shape
    ):
        raise TypeError(f"{name}: normalized_shape must be an int or a tuple of positive ints, got {normalized_shape!r}")
    return tuple(int(n) for n in normalized_shape)


def _affine_parameters(module, shape, affine: bool, bias: bool, device, dtype) -> None:
    """Register ``weight`` and ``bias`` of ``shape`` (None when not ``affine``; ``bias`` None also
    when not ``bias``); their values come from :func:`_init_affine`."""
    for name, wanted in (("weight", affine), ("bias", affine and bias)):
        module.register_parameter(name, Parameter(creation.empty(shape, dtype=dtype, device=device)) if wanted else None)


def _init_affine(weight, bias) -> None:
    """PyTorch's initialisation of a normalisation's affine parameters: weight 1, bias 0."""
    init.ones_(weight)
    if bias is not None:
        init.zeros_(bias)


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016) over the last ``len(normalized_shape)`` dims:

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    the mean and biased variance taken over those dims of each sample, and ``weight``/``bias``
    elementwise over them. Unlike batch norm, the same computation runs in training and evaluation.

    Args:
        normalized_shape: the trailing shape to normalise over (an int means ``(int,)``).
        eps: added to the variance (default 1e-5).
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) (default True).
        bias: with ``elementwise_affine``, also learn the bias (default True).

    Shape:
        input (*, *normalized_shape) -> output of the same shape.

    Example::

        >>> ln = nn.LayerNorm(768)
        >>> ln
        LayerNorm((768,), eps=1e-05, elementwise_affine=True, bias=True)
        >>> ln(convlab.randn(4, 196, 768)).shape
        (4, 196, 768)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _normalized_shape("LayerNorm", normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            _init_affine(self.weight, self.bias)

    def forward(self, input):
        return norm._layer_norm(repr(self), input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): the channels are split into ``num_groups`` groups and
    each group of each sample is normalised over its channels and positions,

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    with per-channel ``weight``/``bias``. Independent of the batch size; ``num_groups=1`` is a layer
    norm over (C, *), ``num_groups=C`` an instance norm.

    Args:
        num_groups: number of groups; must divide ``num_channels``.
        num_channels: C.
        eps: added to the variance (default 1e-5).
        affine: learn per-channel ``weight`` (init 1) and ``bias`` (init 0) (default True).
        bias: with ``affine``, also learn the bias (keyword only, default True).

    Shape:
        input (N, C, *) -> output of the same shape.

    Example::

        >>> gn = nn.GroupNorm(4, 32)
        >>> gn(convlab.randn(2, 32, 8, 8)).shape
        (2, 32, 8, 8)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        for arg, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"GroupNorm: {arg} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        _affine_parameters(self, num_channels, affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            _init_affine(self.weight, self.bias)

    def forward(self, input):
        c = self.num_channels
        if self.affine and isinstance(input, Tensor) and input.ndim >= 2 and input.shape[1] != c:
            raise ValueError(f"{self!r}: expected input with {c} channels (N, {c}, *), got shape {tuple(input.shape)}")
        return norm._group_norm(repr(self), input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class LocalResponseNorm(Module):
    """Local response normalisation across channels (Krizhevsky et al., 2012, AlexNet): each
    value is divided by a power of the summed squares of its ``size`` neighbouring channels,

        y_c = x_c / (k + alpha / size * Σ_{j = c - size//2}^{c + (size-1)//2} x_j²) ** beta

    (channels outside 0..C-1 count as zero) — the "local normalisation" of lecture 000.

    Args:
        size: number of neighbouring channels in the window.
        alpha: multiplicative factor (default 1e-4).
        beta: exponent (default 0.75).
        k: additive factor (default 1.0).

    Shape:
        input (N, C, *) -> output of the same shape.

    Example::

        >>> lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
        >>> lrn(convlab.randn(2, 96, 55, 55)).shape
        (2, 96, 55, 55)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
            raise ValueError(f"LocalResponseNorm: size must be a positive int, got {size!r}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return norm._local_response_norm(repr(self), input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class RMSNorm(Module):
    """Root-mean-square normalisation (Zhang & Sennrich, 2019) over the last dims:

        y = x / sqrt(mean(x²) + eps) * weight

    (no centring, no bias).

    Args:
        normalized_shape: the trailing shape to normalise over (an int means ``(int,)``).
        eps: added to the mean square (default None: the machine epsilon of the input's dtype).
        elementwise_affine: learn ``weight`` (init 1) (default True).

    Shape:
        input (*, *normalized_shape) -> output of the same shape.

    Example::

        >>> nn.RMSNorm(16)(convlab.randn(2, 5, 16)).shape
        (2, 5, 16)
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _normalized_shape("RMSNorm", normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.empty(self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, input):
        return norm._rms_norm(repr(self), input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
