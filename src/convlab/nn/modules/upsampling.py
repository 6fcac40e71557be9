"""Upsampling layers: ``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``,
``PixelShuffle`` and ``PixelUnshuffle``, PyTorch's names, arguments and reprs.

The math and its gradient live in ``convlab.ops.upsample`` (:func:`convlab.nn.functional.interpolate`,
:func:`convlab.nn.functional.pixel_shuffle`); a layer stores its options, checks them at
construction and prefixes its errors with its repr.
"""

from __future__ import annotations

from ...ops.upsample import (
    INTERPOLATE_MODES,
    check_factor,
    checked_interpolate,
    checked_pixel_shuffle,
    checked_pixel_unshuffle,
)
from .module import Module


class Upsample(Module):
    """Resizes ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` inputs to ``size`` or by
    ``scale_factor``; see :func:`convlab.nn.functional.interpolate` for the modes and the exact
    coordinate rules.

    In an encoder-decoder (seed 000/001), ``Upsample(scale_factor=2)`` (nearest) undoes a 2x2
    pooling by copying each value into its 2x2 block ("nearest-neighbour unpooling"), and
    ``Upsample(scale_factor=2, mode='bilinear')`` followed by a convolution is the usual
    checkerboard-free alternative to a transposed convolution.

    Args:
        size: output spatial size, an int or a tuple (one per spatial dim).
        scale_factor: multiplier of the spatial size, a number or a tuple (stored as floats).
        mode: ``'nearest'`` (default), ``'nearest-exact'``, ``'linear'``, ``'bilinear'``,
            ``'bicubic'``, ``'trilinear'`` or ``'area'``.
        align_corners: linear/cubic modes: align the corner pixels' centres (default False).
        recompute_scale_factor: compute the kernels' scale from the output size rather than
            use ``1 / scale_factor``.

    Shape:
        ``(N, C, *in) -> (N, C, *out)`` with ``out = size`` or ``floor(in * scale_factor)``.

    Example::

        >>> up = nn.Upsample(scale_factor=2, mode="bilinear")
        >>> up
        Upsample(scale_factor=2.0, mode='bilinear')
        >>> up(convlab.zeros(1, 3, 8, 8)).shape
        (1, 3, 16, 16)
    """

    def __init__(
        self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None, recompute_scale_factor=None
    ):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor
        if mode not in INTERPOLATE_MODES:
            raise ValueError(f"{self.name}(): unknown mode {mode!r}; expected one of {INTERPOLATE_MODES}")
        if (size is None) == (self.scale_factor is None):
            raise ValueError(
                f"{self.name}(): give exactly one of size and scale_factor, "
                f"got size={size!r}, scale_factor={scale_factor!r}"
            )

    def forward(self, input):
        return checked_interpolate(
            repr(self),
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
            False,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """2-D nearest-neighbour upsampling, ``Upsample(size, scale_factor, mode='nearest')``.

    Args:
        size: output ``(H, W)`` (or an int for both).
        scale_factor: multiplier of H and W.

    Shape: ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Example::

        >>> nn.UpsamplingNearest2d(scale_factor=2)(convlab.zeros(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """2-D bilinear upsampling with ``align_corners=True`` (PyTorch's legacy layer), i.e.
    ``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``.

    Args:
        size: output ``(H, W)`` (or an int for both).
        scale_factor: multiplier of H and W.

    Shape: ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Example::

        >>> nn.UpsamplingBilinear2d(size=3)(convlab.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
        tensor([[[[1.0000, 1.5000, 2.0000],
                  [2.0000, 2.5000, 3.0000],
                  [3.0000, 3.5000, 4.0000]]]])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """Depth to space: ``(*, C r^2, H, W) -> (*, C, H r, W r)`` with ``r = upscale_factor``, the
    sub-pixel convolution upsampler (a convolution to ``C r^2`` channels, then this).

    Args:
        upscale_factor: ``r``, a positive int.

    Shape: ``(*, C r^2, H, W) -> (*, C, H r, W r)``.

    Example::

        >>> nn.PixelShuffle(3)(convlab.zeros(1, 9, 4, 4)).shape
        (1, 1, 12, 12)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = check_factor("PixelShuffle()", "upscale_factor", upscale_factor)

    def forward(self, input):
        return checked_pixel_shuffle(repr(self), input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Space to depth: ``(*, C, H r, W r) -> (*, C r^2, H, W)`` with ``r = downscale_factor``,
    the inverse of :class:`PixelShuffle`.

    Args:
        downscale_factor: ``r``, a positive int.

    Shape: ``(*, C, H r, W r) -> (*, C r^2, H, W)``.

    Example::

        >>> nn.PixelUnshuffle(2)(convlab.zeros(1, 1, 4, 4)).shape
        (1, 4, 2, 2)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = check_factor("PixelUnshuffle()", "downscale_factor", downscale_factor)

    def forward(self, input):
        return checked_pixel_unshuffle(repr(self), input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
