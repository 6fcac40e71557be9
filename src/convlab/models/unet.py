"""U-Net (Ronneberger et al., 2015): seed 000's encoder-decoder with skip connections.

The encoder halves the map and doubles the channels at each level (2x2 max-pool, then two 3x3
convolutions with BatchNorm and ReLU); the decoder upsamples back and, at each level,
concatenates the encoder's activations of the same size along the channels before its two
convolutions (seed 000: "U-nets do this by concatenating the activations from the prior layer to
the activations on the later layer, along the channel dimension"), so the bottleneck forces
abstraction while fine spatial detail still reaches the output. A 1x1 convolution gives the
per-pixel class scores (a segmentation map).

Two decoders: ``up_mode="transpose"`` upsamples with a learned 2x2 stride-2 transposed
convolution (halving the channels); ``up_mode="upsample"`` with fixed bilinear interpolation, the
bottleneck then producing half the channels so the concatenations keep their widths. With the
defaults (depth 4, 64 base channels, 3 input channels, 2 classes) this is the common PyTorch
U-Net: 31,037,698 parameters (transpose) / 17,267,778 (upsample).
"""

from __future__ import annotations

from .. import functions, nn
from ..nn import functional as F
from ._registry import load_weights, register_model

__all__ = ["DoubleConv", "UNet", "unet"]

UP_MODES = ("transpose", "upsample")


class DoubleConv(nn.Sequential):
    """(3x3 convolution, padding 1 - BatchNorm - ReLU) twice; with ``batch_norm=False`` the
    convolutions have biases and there is no BatchNorm.

    Shape: ``(N, in_channels, H, W) -> (N, out_channels, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None, batch_norm: bool = True):
        mid_channels = mid_channels or out_channels
        layers = []
        for c_in, c_out in ((in_channels, mid_channels), (mid_channels, out_channels)):
            layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _Down(nn.Sequential):
    """2x2 max-pool, then :class:`DoubleConv`."""

    def __init__(self, in_channels, out_channels, batch_norm):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, batch_norm=batch_norm))


class _Up(nn.Module):
    """Upsample ``x`` 2x, pad it to the skip's size (odd sizes), concatenate ``[skip, x]`` and
    apply :class:`DoubleConv`."""

    def __init__(self, in_channels, out_channels, up_mode, batch_norm):
        super().__init__()
        if up_mode == "upsample":
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2, batch_norm=batch_norm)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels, batch_norm=batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        if dy or dx:
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(functions.cat([skip, x], 1))


class UNet(nn.Module):
    """U-Net.

    Args:
        in_channels: image channels.
        num_classes: output channels (class scores per pixel).
        depth: number of 2x down-sampling steps (levels below the input resolution).
        base_channels: channels at the first level (doubled at each level down).
        up_mode: ``"transpose"`` (learned transposed convolution) or ``"upsample"`` (bilinear).
        batch_norm: BatchNorm after every 3x3 convolution.

    Shape: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``; ``H`` and ``W`` need not be
    multiples of ``2**depth`` (the decoder pads to the skip connections' sizes).

    Example::

        >>> net = convlab.models.unet(in_channels=1, num_classes=3, depth=2, base_channels=8)
        >>> net(convlab.randn(2, 1, 28, 28)).shape
        (2, 3, 28, 28)
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        depth: int = 4,
        base_channels: int = 64,
        up_mode: str = "transpose",
        batch_norm: bool = True,
    ):
        super().__init__()
        if up_mode not in UP_MODES:
            raise ValueError(f"UNet: up_mode must be one of {', '.join(map(repr, UP_MODES))}, got {up_mode!r}")
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"UNet: {name} must be a positive int, got {value!r}")
        if not isinstance(base_channels, int) or base_channels < 2 or base_channels % 2:
            raise ValueError(f"UNet: base_channels must be an even int >= 2, got {base_channels!r}")
        self.depth, self.up_mode = depth, up_mode
        factor = 2 if up_mode == "upsample" else 1
        channels = [base_channels * 2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, channels[0], batch_norm=batch_norm)
        self.downs = nn.ModuleList(
            _Down(channels[i], channels[i + 1] // (factor if i == depth - 1 else 1), batch_norm) for i in range(depth)
        )
        self.ups = nn.ModuleList(
            _Up(channels[i], channels[i - 1] // (factor if i > 1 else 1), up_mode, batch_norm)
            for i in range(depth, 0, -1)
        )
        self.outc = nn.Conv2d(channels[0], num_classes, kernel_size=1)

    def forward(self, x):
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)


@register_model(input_size=(3, 256, 256))
def unet(*, weights=None, **kwargs) -> UNet:
    """U-Net (seed 000); 31,037,698 parameters with the defaults.

    Args:
        weights: None or the path of a state dict file (``.pth`` or ``.safetensors``).
        **kwargs: :class:`UNet` arguments (``in_channels``, ``num_classes``, ``depth``,
            ``base_channels``, ``up_mode``, ``batch_norm``).
    """
    return load_weights(UNet(**kwargs), weights, "unet()")
