"""Xception (Chollet, 2017) as Keras's application table lists it.

Depth-wise separable convolutions throughout: an entry flow (two plain 3x3 convolutions, then
three blocks that halve the resolution, each with a strided 1x1 convolution on the shortcut), a
middle flow of eight residual blocks of three separable convolutions at 728 channels, and an
exit flow (one more down-sampling block, two separable convolutions to 2048 channels, global
average pooling, the classifier). Keras counts 22,910,480 parameters with BatchNorm's moving
statistics (22,855,952 trainable); here those statistics are buffers, as in PyTorch. Pooling and
convolutions use TensorFlow's ``"same"``/``"valid"`` padding, so the feature maps match Keras's
at any input size (299x299 by default).
"""

from __future__ import annotations

import math

from .. import nn
from ..nn import functional as F
from ._registry import load_weights, register_model

__all__ = ["Xception", "xception"]


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # Keras's epsilon and 0.99 decay


class SeparableConv2d(nn.Sequential):
    """Keras's ``SeparableConv2D`` without bias: a 3x3 depth-wise then a 1x1 point-wise convolution."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)


class _SamePool(nn.Module):
    """3x3 stride-2 max pooling with TensorFlow's ``"same"`` padding (any extra row at the end)."""

    def forward(self, x):
        pads = []
        for n in reversed(x.shape[2:]):
            total = max((math.ceil(n / 2) - 1) * 2 + 3 - n, 0)
            pads += [total // 2, total - total // 2]
        return F.max_pool2d(F.pad(x, pads, value=-math.inf), 3, 2)


class _Block(nn.Module):
    """``reps`` x (ReLU, separable conv, BN) plus a shortcut; ``down`` ends it with the strided
    pool and gives the shortcut a strided 1x1 convolution. ``first_relu=False`` (block 2 of the
    entry flow) starts with the separable convolution; ``grow_first=False`` (the exit block)
    keeps the input width until the last convolution."""

    def __init__(self, in_channels, out_channels, reps, down, first_relu=True, grow_first=True):
        super().__init__()
        layers, channels = [], in_channels
        for i in range(reps):
            out = out_channels if grow_first or i == reps - 1 else in_channels
            if i > 0 or first_relu:
                layers.append(nn.ReLU())
            layers += [SeparableConv2d(channels, out), _bn(out)]
            channels = out
        if down:
            layers.append(_SamePool())
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False), _bn(out_channels)
            )
        else:
            self.shortcut = None
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class Xception(nn.Module):
    """Xception.

    Args:
        num_classes: classifier outputs.

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (logits; Keras ends with a softmax); H, W >= 71.
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, bias=False), _bn(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, bias=False), _bn(64), nn.ReLU(),
        )  # fmt: skip
        self.entry = nn.Sequential(
            _Block(64, 128, 2, down=True, first_relu=False),
            _Block(128, 256, 2, down=True),
            _Block(256, 728, 2, down=True),
        )
        self.middle = nn.Sequential(*[_Block(728, 728, 3, down=False) for _ in range(8)])
        self.exit = nn.Sequential(
            _Block(728, 1024, 2, down=True, grow_first=False),
            SeparableConv2d(1024, 1536), _bn(1536), nn.ReLU(),
            SeparableConv2d(1536, 2048), _bn(2048), nn.ReLU(),
        )  # fmt: skip
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = self.exit(self.middle(self.entry(self.stem(x))))
        return self.fc(x.mean([2, 3]))


@register_model(input_size=(3, 299, 299))
def xception(*, weights=None, **kwargs) -> Xception:
    """Xception (Keras's table: 22,910,480 parameters with BatchNorm's moving statistics).

    Args:
        weights: None or the path of a convlab state dict file, loaded with ``strict=True``.
        **kwargs: :class:`Xception` arguments (``num_classes``).
    """
    return load_weights(Xception(**kwargs), weights, "xception()")
