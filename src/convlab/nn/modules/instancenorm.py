"""Instance normalisation layers: ``InstanceNorm1d``, ``InstanceNorm2d``, ``InstanceNorm3d``.

Each channel of each sample is normalised over its own positions (style transfer's contrast
normalisation). PyTorch's defaults differ from batch norm's: ``affine=False`` and
``track_running_stats=False``; unbatched inputs ((C, L), (C, H, W), (C, D, H, W)) are accepted.
"""

from __future__ import annotations

import warnings

from ...ops import norm
from .batchnorm import _NormBase


class _InstanceNorm(_NormBase):
    _no_batch_ndim = 0

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def _apply_instance_norm(self, input):
        return norm._instance_norm(
            repr(self),
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )

    def forward(self, input):
        self._check_input_dim(input)
        feature_dim = input.ndim - self._no_batch_ndim
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"{self!r}: expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), got {input.shape[feature_dim]} (input shape {tuple(input.shape)})"
                )
            warnings.warn(
                f"{self!r}: input's size at dim={feature_dim} does not match num_features. You can silence this "
                "warning by not passing in num_features, which is not used because affine=False",
                stacklevel=2,
            )
        if input.ndim == self._no_batch_ndim:
            return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of a (N, C, L) or (C, L) input: each channel of each sample is
    normalised over its L positions,

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    with optional learned per-channel ``weight``/``bias`` and optional running estimates (used in
    evaluation when ``track_running_stats=True``; updated with the batch average of the instance
    statistics).

    Args:
        num_features: C, the number of channels.
        eps: added to the variance (default 1e-5).
        momentum: weight of each new batch in the running estimates (default 0.1).
        affine: learn ``weight`` and ``bias`` (default False).
        track_running_stats: keep running estimates and use them in evaluation (default False).

    Shape:
        input (N, C, L) or (C, L) -> output of the same shape.

    Example::

        >>> nn.InstanceNorm1d(4)(convlab.randn(2, 4, 10)).shape
        (2, 4, 10)
    """

    _layouts = ((2, "({c}, L)"), (3, "(N, {c}, L)"))
    _no_batch_ndim = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of each channel of a (N, C, H, W) or (C, H, W) input over H and W;
    see :class:`InstanceNorm1d` for the formula and the arguments.

    Shape:
        input (N, C, H, W) or (C, H, W) -> output of the same shape.

    Example::

        >>> nn.InstanceNorm2d(3)
        InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)
    """

    _layouts = ((3, "({c}, H, W)"), (4, "(N, {c}, H, W)"))
    _no_batch_ndim = 3


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of each channel of a (N, C, D, H, W) or (C, D, H, W) input over D, H
    and W; see :class:`InstanceNorm1d` for the formula and the arguments.

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> output of the same shape.

    Example::

        >>> nn.InstanceNorm3d(2, affine=True)(convlab.randn(2, 2, 3, 4, 4)).shape
        (2, 2, 3, 4, 4)
    """

    _layouts = ((4, "({c}, D, H, W)"), (5, "(N, {c}, D, H, W)"))
    _no_batch_ndim = 4
