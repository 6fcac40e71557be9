"""MNASNet (Tan et al., 2019) as torchvision builds it, and MobileNet v1 (Howard et al., 2017) as
Keras's application table lists it.

MNASNet 1.0: inverted residuals (1x1 expansion, k x k depth-wise, 1x1 linear projection) with
3x3 and 5x5 kernels found by architecture search; 4,383,312 parameters with 1000 classes and
torchvision's keys (``layers.0.weight``, ``layers.8.0.layers.0.weight``, ``classifier.1.weight``).

MobileNet v1: a 3x3 stride-2 convolution, then 13 depth-wise separable blocks (3x3 depth-wise,
1x1 point-wise, each with BatchNorm and ReLU6), global average pooling and a 1x1 convolution
as the classifier. Keras counts 4,253,864 parameters, BatchNorm's moving statistics included
(4,231,976 trainable); here those statistics are buffers, as in PyTorch.
"""

from __future__ import annotations

from .. import nn
from ._registry import load_weights, register_model

__all__ = ["MNASNet", "MobileNetV1", "mnasnet1_0", "mobilenet_v1"]

# torchvision: PyTorch's momentum for TensorFlow's 0.9997 decay
_BN_MOMENTUM = 1 - 0.9997


class _InvertedResidual(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, stride, expansion_factor, bn_momentum=0.1):
        super().__init__()
        mid = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid, 1, bias=False), nn.BatchNorm2d(mid, momentum=bn_momentum), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel_size, padding=kernel_size // 2, stride=stride, groups=mid, bias=False),
            nn.BatchNorm2d(mid, momentum=bn_momentum), nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch, momentum=bn_momentum),
        )  # fmt: skip

    def forward(self, x):
        return self.layers(x) + x if self.apply_residual else self.layers(x)


def _stack(in_ch, out_ch, kernel_size, stride, exp_factor, repeats, bn_momentum):
    first = _InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor, bn_momentum)
    rest = [_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor, bn_momentum) for _ in range(1, repeats)]
    return nn.Sequential(first, *rest)


class MNASNet(nn.Module):
    """MNASNet with depth multiplier ``alpha`` (1.0 only: torchvision's other widths round the
    channel counts differently).

    Args:
        alpha: the depth multiplier (1.0).
        num_classes: classifier outputs.
        dropout: dropout before the classifier.

    Shape: ``(N, 3, H, W) -> (N, num_classes)``.
    """

    def __init__(self, alpha: float = 1.0, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        if alpha != 1.0:
            raise ValueError(f"MNASNet(): only alpha=1.0 is implemented, got alpha={alpha}")
        m = _BN_MOMENTUM
        self.layers = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(32, momentum=m), nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, padding=1, stride=1, groups=32, bias=False), nn.BatchNorm2d(32, momentum=m),
            nn.ReLU(inplace=True), nn.Conv2d(32, 16, 1, bias=False), nn.BatchNorm2d(16, momentum=m),
            _stack(16, 24, 3, 2, 3, 3, m), _stack(24, 40, 5, 2, 3, 3, m), _stack(40, 80, 5, 2, 6, 3, m),
            _stack(80, 96, 3, 1, 6, 2, m), _stack(96, 192, 5, 2, 6, 4, m), _stack(192, 320, 3, 1, 6, 1, m),
            nn.Conv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280, momentum=m), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(1280, num_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, mode="fan_out", nonlinearity="sigmoid")
                nn.init.zeros_(module.bias)

    def forward(self, x):
        return self.classifier(self.layers(x).mean([2, 3]))


def _conv_bn(in_ch, out_ch, kernel_size, stride=1, groups=1):
    # Keras's BatchNormalization: epsilon 1e-3, moving averages with decay 0.99
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding=kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch, eps=1e-3, momentum=0.01),
        nn.ReLU6(inplace=True),
    )


class MobileNetV1(nn.Module):
    """MobileNet v1 (width 1.0), Keras's ``MobileNet`` layer by layer.

    Args:
        num_classes: classifier outputs.
        dropout: dropout before the 1x1 classifier convolution (Keras's default 1e-3).

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (logits; Keras ends with a softmax).
    """

    # (output channels, stride) of the 13 depth-wise separable blocks
    BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
              (512, 1), (1024, 2), (1024, 1))  # fmt: skip

    def __init__(self, num_classes: int = 1000, dropout: float = 1e-3):
        super().__init__()
        layers, channels = [_conv_bn(3, 32, 3, stride=2)], 32
        for out_ch, stride in self.BLOCKS:
            layers.append(
                nn.Sequential(_conv_bn(channels, channels, 3, stride, groups=channels), _conv_bn(channels, out_ch, 1))
            )
            channels = out_ch
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x):
        x = self.features(x).mean([2, 3], keepdim=True)
        return self.classifier(self.dropout(x)).flatten(1)


@register_model()
def mnasnet1_0(*, weights=None, **kwargs) -> MNASNet:
    """MNASNet 1.0, 4,383,312 parameters (1000 classes), torchvision's keys.

    Args:
        weights: None or the path of a state dict file (torchvision's ``.pth`` or convlab's
            ``.safetensors``), loaded with ``strict=True``.
        **kwargs: :class:`MNASNet` arguments (``num_classes``, ``dropout``).
    """
    return load_weights(MNASNet(1.0, **kwargs), weights, "mnasnet1_0()")


@register_model()
def mobilenet_v1(*, weights=None, **kwargs) -> MobileNetV1:
    """MobileNet v1 (Keras's table: 4,253,864 parameters with BatchNorm's moving statistics).

    Args:
        weights: None or the path of a convlab state dict file, loaded with ``strict=True``.
        **kwargs: :class:`MobileNetV1` arguments (``num_classes``, ``dropout``).
    """
    return load_weights(MobileNetV1(**kwargs), weights, "mobilenet_v1()")
