"""Dropout layers: ``Dropout``, ``Dropout1d/2d/3d`` (whole channels), ``AlphaDropout`` and
``FeatureAlphaDropout``. Active in training mode only (``model.eval()`` makes them the identity);
the math lives in :mod:`convlab.ops.dropout`."""

from __future__ import annotations

from ...ops import dropout as ops
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        ops.check_p(type(self).__name__, p)
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """During training, zero each element with probability ``p`` and scale the others by
    ``1 / (1 - p)`` (so the expected value is unchanged); the identity in evaluation. A regulariser
    (Srivastava et al., 2014): no unit can rely on any particular other unit being present.

    Args:
        p: probability of an element being zeroed (default 0.5).
        inplace: write the result into the input (default False).

    Shape:
        input (*) -> output of the same shape.

    Example::

        >>> drop = nn.Dropout(p=0.25)
        >>> drop
        Dropout(p=0.25, inplace=False)
        >>> drop.eval()(convlab.ones(3)).tolist()  # identity in evaluation
        [1.0, 1.0, 1.0]
    """

    def forward(self, input):
        return ops.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p`` (training only),
    scaling the others by ``1 / (1 - p)``; see :class:`Dropout2d`.

    Shape:
        input (N, C, L) or (C, L) -> output of the same shape.

    Example::

        >>> nn.Dropout1d(0.2)(convlab.randn(8, 16, 32)).shape
        (8, 16, 32)
    """

    def forward(self, input):
        return ops.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) of a (N, C, H, W) input with probability ``p`` (training
    only), scaling the others by ``1 / (1 - p)``. Adjacent pixels of a feature map are strongly
    correlated, so element-wise dropout barely regularises convolutional layers; dropping whole
    maps does (Tompson et al., 2015).

    Args:
        p: probability of a channel being zeroed (default 0.5).
        inplace: write the result into the input (default False).

    Shape:
        input (N, C, H, W) -> output of the same shape (a 3-D input is treated as (N, C, L), with
        PyTorch's warning).

    Example::

        >>> nn.Dropout2d(0.2)(convlab.randn(8, 16, 14, 14)).shape
        (8, 16, 14, 14)
    """

    def forward(self, input):
        return ops.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability ``p``
    (training only), scaling the others by ``1 / (1 - p)``; see :class:`Dropout2d`.

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> output of the same shape.

    Example::

        >>> nn.Dropout3d(0.2)(convlab.randn(2, 4, 3, 8, 8)).shape
        (2, 4, 3, 8, 8)
    """

    def forward(self, input):
        return ops.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for self-normalising networks (SELU activations, Klambauer et al., 2017): dropped
    elements are set to SELU's negative saturation and an affine correction keeps the mean and
    variance of a standardised input at 0 and 1. Training only.

    Args:
        p: probability of an element being dropped (default 0.5).
        inplace: accepted for PyTorch compatibility; PyTorch's layer also ignores it.

    Shape:
        input (*) -> output of the same shape.

    Example::

        >>> nn.AlphaDropout(0.2)(convlab.randn(4, 10)).shape
        (4, 10)
    """

    def forward(self, input):
        return ops.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """:class:`AlphaDropout` of whole channels of a (N, C, *) input. Training only; ``inplace`` is
    accepted and ignored, as in PyTorch.

    Shape:
        input (N, C, *) -> output of the same shape.

    Example::

        >>> nn.FeatureAlphaDropout(0.2)(convlab.randn(4, 8, 5, 5)).shape
        (4, 8, 5, 5)
    """

    def forward(self, input):
        return ops.feature_alpha_dropout(input, self.p, self.training)
