"""VGG (Simonyan & Zisserman, 2014) and AlexNet (Krizhevsky et al., 2012), as torchvision builds them.

VGG stacks 3x3 convolutions (padding 1) in five blocks separated by 2x2 max-pooling, doubling
the channels 64 -> 512 ("doubling the number of channels is common", seed 004); two 3x3 layers
see a 5x5 window with fewer parameters than one 5x5. Configurations A, B, D, E are VGG-11, 13,
16 and 19; the ``_bn`` variants put a BatchNorm after every convolution. The classifier
(25088 -> 4096 -> 4096 -> classes) holds most of the parameters: vgg16 has 138,357,544.

AlexNet: five convolutions (11x11 stride 4 first), three max-pools, three linear layers;
61,100,840 parameters. Parameter counts and ``state_dict`` keys equal torchvision's.
"""

from __future__ import annotations

from .. import nn
from ..nn import init
from ._registry import load_weights, register_model

__all__ = [
    "VGG", "AlexNet", "alexnet", "make_layers", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
    "vgg19", "vgg19_bn",
]  # fmt: skip

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """``features`` (the convolution blocks), ``avgpool`` to 7x7 and a three-layer ``classifier``.

    Args:
        features: the convolutional part (see :func:`make_layers`).
        num_classes: classifier outputs.
        init_weights: torchvision's initialisation (Kaiming-normal fan-out convolutions,
            N(0, 0.01) linear weights, zero biases); False keeps the layers' defaults.
        dropout: dropout probability in the classifier.

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (224x224 inputs give 7x7 maps; other sizes are
    pooled to 7x7 adaptively).
    """

    def __init__(self, features, num_classes: int = 1000, init_weights: bool = True, dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    init.constant_(m.weight, 1)
                    init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    init.normal_(m.weight, 0, 0.01)
                    init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def make_layers(cfg, batch_norm: bool = False) -> nn.Sequential:
    """VGG's convolutional part from a configuration: an int is a 3x3 convolution (padding 1) with
    that many output channels, followed by ReLU (BatchNorm + ReLU with ``batch_norm``); ``"M"``
    is a 2x2 max-pool."""
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            conv = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else [conv, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


def _vgg(name, cfg, batch_norm, weights, **kwargs):
    return load_weights(VGG(make_layers(CFGS[cfg], batch_norm=batch_norm), **kwargs), weights, f"{name}()")


@register_model()
def vgg11(*, weights=None, **kwargs) -> VGG:
    """VGG-11 (configuration A), 132,863,336 parameters.

    Args:
        weights: None or the path of a state dict file (torchvision's ``.pth``, convlab's
            ``.safetensors``), loaded with ``strict=True``.
        **kwargs: :class:`VGG` arguments (``num_classes``, ``dropout``, ``init_weights``).
    """
    return _vgg("vgg11", "A", False, weights, **kwargs)


@register_model()
def vgg11_bn(*, weights=None, **kwargs) -> VGG:
    """VGG-11 with BatchNorm, 132,868,840 parameters; see :func:`vgg11`."""
    return _vgg("vgg11_bn", "A", True, weights, **kwargs)


@register_model()
def vgg13(*, weights=None, **kwargs) -> VGG:
    """VGG-13 (configuration B), 133,047,848 parameters; see :func:`vgg11`."""
    return _vgg("vgg13", "B", False, weights, **kwargs)


@register_model()
def vgg13_bn(*, weights=None, **kwargs) -> VGG:
    """VGG-13 with BatchNorm, 133,053,736 parameters; see :func:`vgg11`."""
    return _vgg("vgg13_bn", "B", True, weights, **kwargs)


@register_model()
def vgg16(*, weights=None, **kwargs) -> VGG:
    """VGG-16 (configuration D), 138,357,544 parameters; see :func:`vgg11`."""
    return _vgg("vgg16", "D", False, weights, **kwargs)


@register_model()
def vgg16_bn(*, weights=None, **kwargs) -> VGG:
    """VGG-16 with BatchNorm, 138,365,992 parameters; see :func:`vgg11`."""
    return _vgg("vgg16_bn", "D", True, weights, **kwargs)


@register_model()
def vgg19(*, weights=None, **kwargs) -> VGG:
    """VGG-19 (configuration E), 143,667,240 parameters; see :func:`vgg11`."""
    return _vgg("vgg19", "E", False, weights, **kwargs)


@register_model()
def vgg19_bn(*, weights=None, **kwargs) -> VGG:
    """VGG-19 with BatchNorm, 143,678,248 parameters; see :func:`vgg11`."""
    return _vgg("vgg19_bn", "E", True, weights, **kwargs)


class AlexNet(nn.Module):
    """AlexNet as torchvision builds it (the single-GPU variant of "one weird trick").

    Args:
        num_classes: classifier outputs.
        dropout: dropout probability before the first two linear layers.

    Shape: ``(N, 3, H, W) -> (N, num_classes)``; 224x224 gives 6x6 maps before the classifier.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@register_model()
def alexnet(*, weights=None, **kwargs) -> AlexNet:
    """AlexNet, 61,100,840 parameters; see :func:`vgg11` for ``weights``; ``**kwargs`` go to
    :class:`AlexNet`."""
    return load_weights(AlexNet(**kwargs), weights, "alexnet()")
