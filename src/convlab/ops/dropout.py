"""Dropout: random masking as a regulariser, identity in evaluation.

In training each element (``dropout``) or each whole channel (``dropout1d/2d/3d``, the "feature"
dropouts) is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, so the expected
output equals the input; ``alpha_dropout`` instead sets dropped units to SELU's negative
saturation and applies an affine correction that keeps a zero-mean, unit-variance input at zero
mean and unit variance. The mask is drawn from convlab's generator (``convlab.manual_seed`` makes
it reproducible); it differs from PyTorch's, whose random stream is its own.

All variants are one op: ``y = x * mask (+ offset)`` with the mask (and offset) drawn before the
call, so the gradient is exactly ``g * mask``.
"""

from __future__ import annotations

import math
import numbers
import warnings

from .. import _random
from ..autograd.function import Function
from ..backend import array_module
from ..tensor import Tensor
from .activation import _apply as _apply_maybe_inplace

# SELU's negative saturation value -scale * alpha (Klambauer et al., 2017), as in PyTorch
_SELU_SATURATION = 1.7580993408473766


class Dropout(Function):
    """y = x * mask + offset (offset optional); dx = g * mask.

    ``mask`` is the 0/1 keep mask already multiplied by its scale; it has the input's shape or,
    for channel dropout, (N, C, 1, ..., 1) and broadcasts. ``offset`` broadcasts the same way.

    Shape: input (*) -> output (*), same shape.
    """

    @staticmethod
    def forward(ctx, x, mask, offset):
        y = x * mask
        if offset is not None:
            y += offset
        ctx.mask = mask
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None, None


def check_p(prefix, p) -> None:
    """Refuse a dropout probability outside [0, 1]; ``prefix`` names the function or layer."""
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"{prefix}: dropout probability p must be a number, got {type(p).__name__}")
    if not 0 <= p <= 1:
        raise ValueError(f"{prefix}: dropout probability p has to be between 0 and 1, but got {p}")


def _check(name, input, p):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): expected input to be a convlab Tensor, got {type(input).__name__}")
    check_p(f"{name}()", p)
    if input.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating-point input, got dtype {input.dtype}")


def _mask_shape(name, shape, per_channel) -> tuple:
    """The input's shape (``per_channel`` None), or one draw per channel: (N, C, 1, ..., 1) for a
    batched input (``per_channel`` True), (C, 1, ..., 1) for an unbatched one (False)."""
    if per_channel is None:
        return tuple(shape)
    lead = 2 if per_channel else 1
    if len(shape) < lead:
        raise RuntimeError(
            f"{name}(): channel dropout requires at least {lead} dimensions "
            f"{'(N, C, *)' if per_channel else '(C, *)'}, got shape {tuple(shape)}"
        )
    return tuple(shape[:lead]) + (1,) * (len(shape) - lead)


def _dropout(name, input, p, training, inplace, per_channel=None):
    """Scale-and-zero dropout, per element or per channel (see :func:`_mask_shape`)."""
    if not training or p == 0:
        return input
    mask_shape = _mask_shape(name, input.shape, per_channel)
    mask = _random.bernoulli_mask(1.0 - p, mask_shape, input.dtype, array_module(input.data))
    mask *= mask.dtype.type(0.0 if p == 1 else 1.0 / (1.0 - p))
    return _apply_maybe_inplace(name, Dropout, input, inplace, mask, None)


def _alpha_dropout(name, input, p, training, inplace, per_channel=None):
    """Alpha dropout: y = a (x m + α' (1 - m)) + b with α' = -1.7581 and a, b chosen so that a
    zero-mean, unit-variance input keeps mean 0 and variance 1."""
    if not training or p == 0:
        return input
    mask_shape = _mask_shape(name, input.shape, per_channel)
    if p == 1:  # everything dropped: zeros, as in PyTorch
        return _apply_maybe_inplace(name, Dropout, input, inplace, input.dtype.type(0), None)
    keep = _random.bernoulli_mask(1.0 - p, mask_shape, input.dtype, array_module(input.data))
    a = 1.0 / math.sqrt((_SELU_SATURATION**2 * p + 1) * (1 - p))
    dtype = keep.dtype.type
    offset = keep - 1  # -1 where dropped, 0 where kept
    offset *= dtype(_SELU_SATURATION * a)
    offset += dtype(_SELU_SATURATION * a * p)
    keep *= dtype(a)
    return _apply_maybe_inplace(name, Dropout, input, inplace, keep, offset)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (training);
    identity when ``training`` is False.

    Args:
        input: any floating tensor.
        p: probability of an element being zeroed (0 <= p <= 1).
        training: apply dropout (default True).
        inplace: write the result into ``input`` (when no gradient has to flow through it).

    Shape:
        input (*) -> output (*), same shape.

    Example::

        >>> convlab.manual_seed(0)
        >>> y = F.dropout(convlab.ones(1000), p=0.25)
        >>> sorted(set(y.tolist()))  # kept elements are scaled by 1 / 0.75
        [0.0, 1.3333333730697632]
    """
    _check("dropout", input, p)
    return _dropout("dropout", input, p, training, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p``, scaling the rest
    by ``1 / (1 - p)``; identity when ``training`` is False.

    Args: as :func:`dropout2d`.

    Shape:
        input (N, C, L) or (C, L) -> same shape.

    Example::

        >>> F.dropout1d(convlab.ones(4, 8, 16)).shape
        (4, 8, 16)
    """
    _check("dropout1d", input, p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d(): expected 2D (C, L) or 3D (N, C, L) input, got {input.ndim}D input of shape {tuple(input.shape)}"
        )
    return _dropout("dropout1d", input, p, training, inplace, per_channel=input.ndim == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (2-D feature maps) with probability ``p``, scaling the rest by
    ``1 / (1 - p)``; identity when ``training`` is False. Neighbouring pixels of a feature map are
    strongly correlated, so dropping single pixels regularises little; dropping whole maps does.

    Args:
        input: (N, C, H, W). As in PyTorch, a 3-D input is treated as (N, C, L) and other ranks
            as (N, C, *), each with a warning.
        p: probability of a channel being zeroed (0 <= p <= 1).
        training: apply dropout (default True).
        inplace: write the result into ``input`` (when no gradient has to flow through it).

    Shape:
        input (N, C, H, W) -> same shape.

    Example::

        >>> y = F.dropout2d(convlab.ones(8, 16, 4, 4), p=0.5)
        >>> maps = y.sum(dim=(2, 3))  # each map is all zeros or all 2s
        >>> bool(((maps == 0) | (maps == 32)).all())
        True
    """
    _check("dropout2d", input, p)
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d(): received a {input.ndim}-D input; dropout2d is meant for (N, C, H, W) inputs "
            "(channel-wise dropout over 2 spatial dims), use dropout for other shapes",
            stacklevel=2,
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d(): received a 3D input and, as PyTorch, treats it as (N, C, L) with channel-wise 1D "
            "dropout; use dropout1d for that behaviour",
            stacklevel=2,
        )
    return _dropout("dropout2d", input, p, training, inplace, per_channel=True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (3-D feature maps) of a (N, C, D, H, W) or (C, D, H, W) input with
    probability ``p``, scaling the rest by ``1 / (1 - p)``; identity when ``training`` is False.

    Args: as :func:`dropout2d` (other ranks than 4 and 5 warn and are treated as unbatched).

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> same shape.

    Example::

        >>> F.dropout3d(convlab.ones(2, 4, 3, 8, 8)).shape
        (2, 4, 3, 8, 8)
    """
    _check("dropout3d", input, p)
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d(): received a {input.ndim}-D input; dropout3d is meant for (N, C, D, H, W) or "
            "(C, D, H, W) inputs, use dropout for other shapes",
            stacklevel=2,
        )
    return _dropout("dropout3d", input, p, training, inplace, per_channel=input.ndim == 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for self-normalising (SELU) networks: dropped elements take SELU's negative
    saturation value and an affine map restores zero mean and unit variance.

    Args:
        input: any floating tensor.
        p: probability of an element being dropped (0 <= p <= 1).
        training: apply dropout (default False, as in PyTorch's functional form).
        inplace: write the result into ``input`` (when no gradient has to flow through it).

    Shape:
        input (*) -> output (*), same shape.

    Example::

        >>> y = F.alpha_dropout(convlab.randn(100000), p=0.2, training=True)
        >>> abs(y.mean().item()) < 0.02 and abs(y.std().item() - 1) < 0.02
        True
    """
    _check("alpha_dropout", input, p)
    return _alpha_dropout("alpha_dropout", input, p, training, inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """:func:`alpha_dropout` of whole channels of a (N, C, *) input.

    Args: as :func:`alpha_dropout`.

    Shape:
        input (N, C, *) -> same shape.

    Example::

        >>> F.feature_alpha_dropout(convlab.randn(4, 8, 5, 5), 0.2, training=True).shape
        (4, 8, 5, 5)
    """
    _check("feature_alpha_dropout", input, p)
    return _alpha_dropout("feature_alpha_dropout", input, p, training, inplace, per_channel=True)
