"""Padding layers: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``, ``ReplicationPad`` and
``CircularPad`` in 1, 2 and 3 dimensions, PyTorch's names, arguments and reprs.

Each layer stores ``padding`` as a tuple ``(left, right[, top, bottom[, front, back]])`` (an int
``p`` means ``p`` on every side) and calls :func:`convlab.nn.functional.pad`, where the math and
its gradient live (``convlab.ops.pad``). Negative amounts crop.
"""

from __future__ import annotations

import numbers

from ...ops.pad import checked_pad
from .module import Module

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _padding_tuple(layer: str, padding, n: int) -> tuple:
    """``padding`` as a tuple of ``2 n`` ints (an int is repeated), as PyTorch's ``_ntuple``."""

    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if is_int(padding):
        return (int(padding),) * (2 * n)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 * n and all(is_int(v) for v in padding):
        return tuple(int(v) for v in padding)
    raise TypeError(f"{layer}(): padding must be an int or a tuple of {2 * n} ints, got {padding!r}")


class _PadNd(Module):
    _n = 0
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding_tuple(type(self).__name__, padding, self._n)

    def forward(self, input):
        if self._mode != "constant" and hasattr(input, "ndim") and input.ndim not in (self._n + 1, self._n + 2):
            dims = _SPATIAL[self._n]
            raise ValueError(
                f"{self!r}: expected a {self._n + 1}-D (C, {dims}) or {self._n + 2}-D (N, C, {dims}) input, "
                f"got shape {tuple(input.shape)}"
            )
        return checked_pad(repr(self), input, self.padding, self._mode, getattr(self, "value", None))

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dimension with a constant ``value``.

    Args:
        padding: an int (both sides) or ``(left, right)``; negative amounts crop.
        value: the fill value.

    Shape: ``(*, L) -> (*, L + left + right)``.

    Example::

        >>> nn.ConstantPad1d((1, 2), 3.5)(convlab.zeros(1, 2, 3)).shape
        (1, 2, 6)
    """

    _n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dimensions with a constant ``value``.

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom)``; negative amounts crop.
        value: the fill value.

    Shape: ``(*, H, W) -> (*, H + top + bottom, W + left + right)``.

    Example::

        >>> nn.ConstantPad2d((1, 1, 2, 0), -1.0)(convlab.zeros(1, 3, 4, 4)).shape
        (1, 3, 6, 6)
    """

    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dimensions with a constant ``value``.

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom, front, back)``.
        value: the fill value.

    Shape: ``(*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right)``.

    Example::

        >>> nn.ConstantPad3d(1, 0.5)(convlab.zeros(1, 1, 2, 2, 2)).shape
        (1, 1, 4, 4, 4)
    """

    _n = 3


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dimension with zeros (``ConstantPad1d(padding, 0.0)``).

    Args:
        padding: an int (both sides) or ``(left, right)``; negative amounts crop.

    Shape: ``(*, L) -> (*, L + left + right)``.

    Example::

        >>> nn.ZeroPad1d(2)
        ZeroPad1d((2, 2))
    """

    _n = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last two dimensions with zeros: the "zero padding" that keeps a convolution's
    output the size of its input (a 3x3 kernel needs 1 on each side).

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom)``; negative amounts crop.

    Shape: ``(*, H, W) -> (*, H + top + bottom, W + left + right)``.

    Example::

        >>> pad = nn.ZeroPad2d((1, 1, 2, 0))
        >>> pad
        ZeroPad2d((1, 1, 2, 0))
        >>> pad(convlab.ones(1, 1, 3, 3)).shape
        (1, 1, 5, 5)
    """

    _n = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last three dimensions with zeros.

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom, front, back)``.

    Shape: ``(*, D, H, W) -> (*, D + front + back, H + top + bottom, W + left + right)``.

    Example::

        >>> nn.ZeroPad3d(1)(convlab.zeros(1, 1, 2, 2, 2)).shape
        (1, 1, 4, 4, 4)
    """

    _n = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dimension with its mirror image, the edge element not repeated:
    ``[a b c d]`` padded by 2 gives ``[c b a b c d c b]``.

    Args:
        padding: an int (both sides) or ``(left, right)``, each less than the input size.

    Shape: ``(N, C, L) or (C, L) -> (N, C, L + left + right)`` (or without N).

    Example::

        >>> nn.ReflectionPad1d(2)(convlab.arange(4.0).reshape(1, 1, 4))
        tensor([[[2., 1., 0., 1., 2., 3., 2., 1.]]])
    """

    _n, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pads the last two dimensions with their mirror image (edge not repeated).

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom)``, each less than the size.

    Shape: ``(N, C, H, W) -> (N, C, H + top + bottom, W + left + right)`` (or without N).

    Example::

        >>> nn.ReflectionPad2d(1)(convlab.zeros(1, 3, 8, 8)).shape
        (1, 3, 10, 10)
    """

    _n, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Pads the last three dimensions with their mirror image (edge not repeated).

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom, front, back)``.

    Shape: ``(N, C, D, H, W) -> (N, C, D + front + back, H + top + bottom, W + left + right)``.

    Example::

        >>> nn.ReflectionPad3d(1)(convlab.zeros(1, 1, 2, 2, 2)).shape
        (1, 1, 4, 4, 4)
    """

    _n, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dimension by repeating its edge elements: ``[a a a b c d d d]``.

    Args:
        padding: an int (both sides) or ``(left, right)``.

    Shape: ``(N, C, L) -> (N, C, L + left + right)`` (or without N).

    Example::

        >>> nn.ReplicationPad1d((1, 2))(convlab.arange(3.0).reshape(1, 1, 3))
        tensor([[[0., 0., 1., 2., 2., 2.]]])
    """

    _n, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pads the last two dimensions by repeating their edge elements.

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom)``.

    Shape: ``(N, C, H, W) -> (N, C, H + top + bottom, W + left + right)`` (or without N).

    Example::

        >>> nn.ReplicationPad2d(2)(convlab.zeros(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    _n, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Pads the last three dimensions by repeating their edge elements.

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom, front, back)``.

    Shape: ``(N, C, D, H, W) -> (N, C, D + front + back, H + top + bottom, W + left + right)``.

    Example::

        >>> nn.ReplicationPad3d(1)(convlab.zeros(1, 1, 2, 2, 2)).shape
        (1, 1, 4, 4, 4)
    """

    _n, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Pads the last dimension by wrapping around, as if the input were tiled: ``[c d a b c d a b]``.

    Args:
        padding: an int (both sides) or ``(left, right)``, each at most the input size.

    Shape: ``(N, C, L) -> (N, C, L + left + right)`` (or without N).

    Example::

        >>> nn.CircularPad1d(1)(convlab.arange(3.0).reshape(1, 1, 3))
        tensor([[[2., 0., 1., 2., 0.]]])
    """

    _n, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Pads the last two dimensions by wrapping around (periodic boundary).

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom)``, each at most the size.

    Shape: ``(N, C, H, W) -> (N, C, H + top + bottom, W + left + right)`` (or without N).

    Example::

        >>> nn.CircularPad2d(1)(convlab.zeros(1, 3, 4, 4)).shape
        (1, 3, 6, 6)
    """

    _n, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Pads the last three dimensions by wrapping around (periodic boundary).

    Args:
        padding: an int (all sides) or ``(left, right, top, bottom, front, back)``.

    Shape: ``(N, C, D, H, W) -> (N, C, D + front + back, H + top + bottom, W + left + right)``.

    Example::

        >>> nn.CircularPad3d(1)(convlab.zeros(1, 1, 2, 2, 2)).shape
        (1, 1, 4, 4, 4)
    """

    _n, _mode = 3, "circular"
