"""Pre-defined sparsity (seed 004): ``SparseConv2d`` and ``SparseLinear``, layers whose
connection pattern is fixed when they are built and held through training and inference.

Unlike pruning, nothing is learned about which weights to drop: a ``mask`` buffer (saved in the
``state_dict`` with the weights) is chosen at construction, the layer computes with
``weight * mask``, so the masked weights receive a zero gradient; they start at zero and stay
exactly zero under any optimiser whose update is zero for a zero weight with a zero gradient
(SGD with momentum, weight decay or Nesterov, Adam, AdamW, RMSprop).

Patterns (``k`` = kept connections per row, ``round(density * length)``, at least 1):

- ``"periodic"``: the pre-defined sparse kernels of Kundu et al. ("Pre-defined sparse kernel
  based convolution for deep CNNs", 2020, the figure of seed 004) and the clash-free structured
  junctions of Dey et al. (2019). A convolution kernel of ``K`` taps keeps ``k`` consecutive taps
  (row-major, wrapping), starting at tap ``(o + c) * k mod K`` for filter ``o``, input channel
  ``c``: the pattern shifts by ``k`` from one channel to the next and repeats with period
  ``K / gcd(K, k)``, so every tap position is used equally often. A linear layer (and a 1x1
  convolution, over its input channels) keeps inputs ``o * k .. o * k + k - 1 (mod in)`` for
  output ``o``: every output has the same fan-in ``k`` and the inputs' fan-outs differ by at most one.
- ``"random"``: ``k`` positions per row drawn without replacement (``numpy`` generator of
  ``seed``): the same fan-in, random fan-out.

The surviving weights start from the dense layer's distribution scaled by ``1/sqrt(density)``
(the bound ``1/sqrt(fan_in)`` of PyTorch's default with the real fan-in).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ... import backend
from ...tensor import Tensor
from .conv import Conv2d
from .linear import Linear

__all__ = ["SparseConv2d", "SparseLinear", "connection_mask"]

PATTERNS = ("periodic", "random")


def _kept(rows, length, density, pattern, rng, start):
    """A ``(rows, length)`` 0/1 array with ``k = max(1, round(density * length))`` ones per row:
    consecutive from ``start[row]`` (wrapping) for ``"periodic"``, drawn from ``rng`` for ``"random"``."""
    k = max(1, round(density * length))
    if pattern == "periodic":
        columns = (np.asarray(start)[:, None] + np.arange(k)[None, :]) % length
    else:
        columns = np.argsort(rng.random((rows, length)), axis=1)[:, :k]
    mask = np.zeros((rows, length), dtype=np.float32)
    np.put_along_axis(mask, columns, 1.0, axis=1)
    return mask


def connection_mask(shape, density: float, pattern: str = "periodic", seed: int = 0, who: str = "connection_mask()"):
    """The fixed 0/1 mask of a weight of ``shape`` (``(out, in)`` or ``(out, in/groups, kH, kW)``),
    as :class:`SparseConv2d` and :class:`SparseLinear` build it (see the module docstring).

    Example::

        >>> from convlab.nn.modules.predefined_sparse import connection_mask
        >>> connection_mask((2, 2, 2, 2), 0.5).reshape(2, 2, 4).tolist()
        [[[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]]]
    """
    if not isinstance(density, numbers.Real) or isinstance(density, bool) or not 0 < density <= 1:
        raise ValueError(f"{who}: density must be a fraction in (0, 1], got density={density!r}")
    if pattern not in PATTERNS:
        raise ValueError(f"{who}: pattern must be one of {PATTERNS}, got pattern={pattern!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{who}: seed must be a non-negative integer, got seed={seed!r}")
    rng = np.random.default_rng(int(seed))
    out = shape[0]
    taps = math.prod(shape[2:])
    if len(shape) == 2 or taps == 1:  # per output: over its inputs (channels of a 1x1 conv)
        length = shape[1]
        mask = _kept(out, length, density, pattern, rng, np.arange(out) * max(1, round(density * length)))
        return mask.reshape(shape)
    channels = shape[1]
    k = max(1, round(density * taps))
    start = ((np.arange(out)[:, None] + np.arange(channels)[None, :]) * k).reshape(-1)
    return _kept(out * channels, taps, density, pattern, rng, start).reshape(shape)


def _register_mask(layer, density, pattern, seed):
    weight = layer.weight
    mask = connection_mask(tuple(weight.shape), density, pattern, seed, who=f"{type(layer).__name__}()")
    layer.density, layer.pattern, layer.seed = float(density), pattern, int(seed)
    layer.register_buffer("mask", Tensor(backend.to_device(mask.astype(weight.dtype), weight.device)))
    _mask_weight(layer)


def _mask_weight(layer):
    """Zero the masked weights and scale the kept ones for the real fan-in."""
    mask = layer.mask.data
    kept = float(mask.mean())
    layer.weight.data[...] = layer.weight.data * mask * layer.weight.data.dtype.type(1 / math.sqrt(kept))


class _PredefinedSparse:
    """What :class:`SparseConv2d` and :class:`SparseLinear` share, as the base listed before
    ``Conv2d`` / ``Linear``: a re-initialised weight is masked again, and the repr."""

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if "mask" in self._buffers:  # absent while the dense layer's __init__ initialises the weight
            _mask_weight(self)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, density={self.density}, pattern={self.pattern}"


class SparseConv2d(_PredefinedSparse, Conv2d):
    """A 2-D convolution with a pre-defined sparse connection pattern, fixed at construction.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode: as :class:`Conv2d`.
        density: the fraction of each kernel's taps kept (of each filter's input channels for
            a 1x1 kernel), rounded to a whole number of taps, at least one (default 0.25: 2 of 9).
        pattern: ``"periodic"`` (shifted patterns repeating across channels) or ``"random"``.
        seed: the random pattern's seed.

    Attributes:
        mask: the 0/1 buffer of ``weight``'s shape (saved in the ``state_dict``).

    Shape: as :class:`Conv2d`.

    Example::

        >>> conv = nn.SparseConv2d(32, 64, 3, padding=1, density=0.25)
        >>> round(float(conv.mask.mean()), 4)   # 2 of every 9 taps
        0.2222
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
        density=0.25,
        pattern="periodic",
        seed=0,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )
        _register_mask(self, density, pattern, seed)

    def forward(self, input):
        return self._conv_forward(input, self.weight * self.mask, self.bias)


class SparseLinear(_PredefinedSparse, Linear):
    """y = x (W * M)^T + b with a pre-defined sparse 0/1 mask ``M`` fixed at construction.

    Args:
        in_features, out_features, bias: as :class:`Linear`.
        density: the fraction of each output's inputs kept, at least one (default 0.25).
        pattern: ``"periodic"`` (output ``o`` reads a window of inputs starting at
            ``o * k``) or ``"random"``.
        seed: the random pattern's seed.

    Attributes:
        mask: the 0/1 buffer of ``weight``'s shape (saved in the ``state_dict``).

    Shape: as :class:`Linear`.

    Example::

        >>> fc = nn.SparseLinear(3136, 512, density=0.25)
        >>> int(fc.mask.sum()) == 512 * 784
        True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        density: float = 0.25,
        bias: bool = True,
        pattern: str = "periodic",
        seed: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__(in_features, out_features, bias, device, dtype)
        _register_mask(self, density, pattern, seed)

    def forward(self, input):
        return self._linear_forward(input, self.weight * self.mask, self.bias)
