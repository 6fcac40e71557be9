"""ShuffleNetV2 (Ma et al., 2018), as torchvision builds it.

Grouped and depth-wise convolutions keep each group's information inside the group; a *channel
shuffle* (reshape ``(N, g, C/g, H, W)``, swap the two channel axes, flatten back) lets the next
layer see every group (seed 004: "group-wise convolutions with shuffling"). A stride-1 unit splits
the channels in two halves, transforms one (1x1 - depth-wise 3x3 - 1x1) and concatenates it with
the untouched other; a stride-2 unit transforms both copies of the input.

``shufflenet_v2_x1_0``: 2,278,604 parameters; ``state_dict`` keys equal torchvision's.
"""

from __future__ import annotations

from .. import functions, nn
from ._registry import load_weights, register_model

__all__ = ["InvertedResidual", "ShuffleNetV2", "channel_shuffle", "shufflenet_v2_x1_0"]


def channel_shuffle(x, groups: int):
    """Interleave the channels of ``groups`` groups: ``(N, C, H, W)`` with channel ``g * C/g + i``
    moved to ``i * groups + g``."""
    n, channels, height, width = x.shape
    x = x.view(n, groups, channels // groups, height, width).transpose(1, 2).contiguous()
    return x.view(n, -1, height, width)


def _depthwise_conv(channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, kernel_size, stride, padding, bias=False, groups=channels)


class InvertedResidual(nn.Module):
    """ShuffleNetV2 unit (stride 1: split, transform half, concatenate, shuffle; stride 2: two
    transformed branches, concatenate, shuffle).

    Shape: ``(N, inp, H, W) -> (N, oup, H/stride, W/stride)``.
    """

    def __init__(self, inp: int, oup: int, stride: int):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError(f"ShuffleNetV2 InvertedResidual: stride must be 1, 2 or 3, got {stride}")
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features << 1:
            raise ValueError(
                f"ShuffleNetV2 InvertedResidual: with stride 1, inp ({inp}) must be twice oup // 2 ({branch_features})"
            )
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise_conv(inp, 3, stride=stride, padding=1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, 1, 1, 0, bias=False),
                nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch_features, branch_features, 1, 1, 0, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
            _depthwise_conv(branch_features, 3, stride=stride, padding=1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, 1, 1, 0, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, 1)
            out = functions.cat([x1, self.branch2(x2)], 1)
        else:
            out = functions.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2.

    Args:
        stages_repeats: units in stages 2, 3, 4 (3 ints).
        stages_out_channels: channels of conv1, stages 2-4 and conv5 (5 ints).
        num_classes: classifier outputs.

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (224x224 gives 7x7 maps before the global mean).
    """

    def __init__(
        self, stages_repeats, stages_out_channels, num_classes: int = 1000, inverted_residual=InvertedResidual
    ):
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError(
                f"ShuffleNetV2: expected stages_repeats as a list of 3 positive ints, got {stages_repeats}"
            )
        if len(stages_out_channels) != 5:
            raise ValueError(
                f"ShuffleNetV2: expected stages_out_channels as a list of 5 positive ints, got {stages_out_channels}"
            )
        self._stage_out_channels = stages_out_channels
        input_channels, output_channels = 3, stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, output_channels in zip(
            ("stage2", "stage3", "stage4"), stages_repeats, stages_out_channels[1:]
        ):
            units = [inverted_residual(input_channels, output_channels, 2)]
            units += [inverted_residual(output_channels, output_channels, 1) for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*units))
            input_channels = output_channels
        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(output_channels, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))  # global average pooling


@register_model()
def shufflenet_v2_x1_0(*, weights=None, **kwargs) -> ShuffleNetV2:
    """ShuffleNetV2 with 1.0x output channels, 2,278,604 parameters (1000 classes).

    Args:
        weights: None or the path of a state dict file (torchvision's ``.pth``, convlab's
            ``.safetensors``), loaded with ``strict=True``.
        **kwargs: :class:`ShuffleNetV2` arguments (``num_classes``).
    """
    return load_weights(ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], **kwargs), weights, "shufflenet_v2_x1_0()")
