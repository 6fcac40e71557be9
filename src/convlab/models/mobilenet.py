"""MobileNetV2 (Sandler et al., 2018), as torchvision builds it.

The building block is the inverted residual: a 1x1 convolution expands the channels ``t``-fold,
a 3x3 depth-wise convolution (``groups = channels``: one filter per channel, no mixing, seed 004)
filters each channel, and a 1x1 "linear bottleneck" projects back without an activation; the
block adds its input when the shape allows. Depth-wise plus point-wise convolutions cost a
fraction of a full convolution (seed 004: 688 parameters instead of 4,640 for 16 -> 32 channels).

3,504,872 parameters with 1000 classes; ``state_dict`` keys equal torchvision's
(``features.0.0.weight``, ``features.1.conv.0.0.weight``, ..., ``classifier.1.weight``).
"""

from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ..nn import init
from ._registry import load_weights, register_model

__all__ = ["Conv2dNormActivation", "InvertedResidual", "MobileNetV2", "make_divisible", "mobilenet_v2"]


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never more than
    10% below ``v`` - torchvision's ``_make_divisible`` for channel counts under ``width_mult``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """Convolution - normalisation - activation, as ``torchvision.ops.Conv2dNormActivation``
    (children ``0``, ``1``, ``2``; the convolution has a bias only without normalisation).

    Args:
        in_channels / out_channels / kernel_size / stride / groups / dilation: the convolution's.
        padding: default ``(kernel_size - 1) // 2 * dilation`` (keeps the size at stride 1).
        norm_layer: normalisation class (default ``nn.BatchNorm2d``; None for none).
        activation_layer: activation class (default ``nn.ReLU``; None for none).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=None,
        groups=1,
        norm_layer=nn.BatchNorm2d,
        activation_layer=nn.ReLU,
        dilation=1,
        inplace=True,
        bias=None,
    ):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [
            nn.Conv2d(
                in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=bias
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=inplace))
        super().__init__(*layers)
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """Expand (1x1, ReLU6) - depth-wise 3x3 (ReLU6) - project (1x1, linear), plus the input when
    ``stride == 1`` and the channels match.

    Shape: ``(N, inp, H, W) -> (N, oup, H/stride, W/stride)``.
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, norm_layer=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride should be 1 or 2, got {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.stride = stride
        hidden_dim = round(inp * expand_ratio)
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(
                Conv2dNormActivation(inp, hidden_dim, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.ReLU6)
            )
        layers += [
            Conv2dNormActivation(
                hidden_dim,
                hidden_dim,
                stride=stride,
                groups=hidden_dim,
                norm_layer=norm_layer,
                activation_layer=nn.ReLU6,
            ),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2.

    Args:
        num_classes: classifier outputs.
        width_mult: channel multiplier (channels rounded by :func:`make_divisible`).
        inverted_residual_setting: rows ``[t, c, n, s]`` (expansion, channels, repeats, stride).
        round_nearest: channel rounding multiple.
        block: the block class (default :class:`InvertedResidual`).
        norm_layer: normalisation class (default ``nn.BatchNorm2d``).
        dropout: dropout probability before the classifier.

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (224x224 gives 7x7 maps before pooling).
    """

    def __init__(
        self,
        num_classes=1000,
        width_mult=1.0,
        inverted_residual_setting=None,
        round_nearest=8,
        block=None,
        norm_layer=None,
        dropout=0.2,
    ):
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        input_channel, last_channel = 32, 1280
        if inverted_residual_setting is None:
            inverted_residual_setting = [
                [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
            ]  # fmt: skip
        if not inverted_residual_setting or any(len(row) != 4 for row in inverted_residual_setting):
            raise ValueError(
                f"MobileNetV2: inverted_residual_setting should be a non-empty list of [t, c, n, s] rows, "
                f"got {inverted_residual_setting}"
            )
        input_channel = make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer, activation_layer=nn.ReLU6)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(
                    block(input_channel, output_channel, s if i == 0 else 1, expand_ratio=t, norm_layer=norm_layer)
                )
                input_channel = output_channel
        features.append(
            Conv2dNormActivation(
                input_channel, self.last_channel, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.ReLU6
            )
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init.normal_(m.weight, 0, 0.01)
                init.zeros_(m.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


@register_model()
def mobilenet_v2(*, weights=None, **kwargs) -> MobileNetV2:
    """MobileNetV2, 3,504,872 parameters (1000 classes).

    Args:
        weights: None or the path of a state dict file (torchvision's ``.pth``, convlab's
            ``.safetensors``), loaded with ``strict=True``.
        **kwargs: :class:`MobileNetV2` arguments.
    """
    return load_weights(MobileNetV2(**kwargs), weights, "mobilenet_v2()")
