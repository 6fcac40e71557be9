"""SqueezeNet (Iandola et al., 2016), as torchvision builds it.

A Fire module squeezes the channels with 1x1 convolutions, then expands them with parallel 1x1
and 3x3 convolutions whose outputs are concatenated. The classifier is a 1x1 convolution to the
classes followed by global average pooling - no linear layer (seed 004: global pooling "reduces
the complexity of the dense classification network"). AlexNet-level accuracy with 1.2 M
parameters: squeezenet1_0 has 1,248,424, squeezenet1_1 (cheaper stem) 1,235,496.
``state_dict`` keys equal torchvision's.
"""

from __future__ import annotations

from .. import functions, nn
from ..nn import init
from ._registry import load_weights, register_model

__all__ = ["Fire", "SqueezeNet", "squeezenet1_0", "squeezenet1_1"]


class Fire(nn.Module):
    """1x1 squeeze (ReLU), then 1x1 and 3x3 expansions (ReLU) concatenated.

    Shape: ``(N, inplanes, H, W) -> (N, expand1x1_planes + expand3x3_planes, H, W)``.
    """

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return functions.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


class SqueezeNet(nn.Module):
    """SqueezeNet.

    Args:
        version: ``"1_0"`` or ``"1_1"``.
        num_classes: outputs of the final 1x1 convolution.
        dropout: dropout probability before it.

    Shape: ``(N, 3, H, W) -> (N, num_classes)``.
    """

    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(96, 16, 64, 64),
                Fire(128, 16, 64, 64),
                Fire(128, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(256, 32, 128, 128),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(512, 64, 256, 256),
            )
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(64, 16, 64, 64),
                Fire(128, 16, 64, 64),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(128, 32, 128, 128),
                Fire(256, 32, 128, 128),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"SqueezeNet: unsupported version {version!r}: '1_0' or '1_1' expected")
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)  # initialised differently from the rest
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


@register_model()
def squeezenet1_0(*, weights=None, **kwargs) -> SqueezeNet:
    """SqueezeNet 1.0, 1,248,424 parameters (1000 classes).

    Args:
        weights: None or the path of a state dict file (torchvision's ``.pth``, convlab's
            ``.safetensors``), loaded with ``strict=True``.
        **kwargs: :class:`SqueezeNet` arguments (``num_classes``, ``dropout``).
    """
    return load_weights(SqueezeNet("1_0", **kwargs), weights, "squeezenet1_0()")


@register_model()
def squeezenet1_1(*, weights=None, **kwargs) -> SqueezeNet:
    """SqueezeNet 1.1 (2.4x cheaper stem, same accuracy), 1,235,496 parameters; see :func:`squeezenet1_0`."""
    return load_weights(SqueezeNet("1_1", **kwargs), weights, "squeezenet1_1()")
