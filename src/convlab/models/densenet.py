"""DenseNet (Huang et al., 2017, "Densely Connected Convolutional Networks"), as torchvision.

Inside a dense block every layer receives the concatenation of the block input and all earlier
layers' outputs and adds ``growth_rate`` new channels (BatchNorm - ReLU - 1x1 convolution to
``bn_size * growth_rate`` - BatchNorm - ReLU - 3x3 convolution); features are reused rather than
re-learned. Transitions between blocks halve the channels (1x1) and the map (2x2 average pool).

``densenet121``: growth 32, blocks (6, 12, 24, 16), 7,978,856 parameters; ``state_dict`` keys
equal torchvision's. torchvision's ImageNet file still uses the old key spelling
(``denselayer1.norm.1.weight``); :func:`densenet121` renames those keys when loading it, as
torchvision does.
"""

from __future__ import annotations

import collections
import re

from .. import functions, nn
from ..nn import functional as F
from ..nn import init
from ._registry import load_weights, register_model

__all__ = ["DenseNet", "densenet121"]

_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


class _DenseLayer(nn.Module):
    """BN - ReLU - 1x1 conv - BN - ReLU - 3x3 conv on the concatenation of all earlier features.

    Shape: a list of ``(N, C_i, H, W)`` (``sum C_i = num_input_features``) -> ``(N, growth_rate, H, W)``.
    """

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, inputs):
        features = functions.cat(inputs, 1) if isinstance(inputs, (list, tuple)) else inputs
        bottleneck = self.conv1(self.relu1(self.norm1(features)))
        new_features = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (``denselayer1``, ...); returns the block input and every
    layer's output concatenated: ``num_input_features + num_layers * growth_rate`` channels."""

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return functions.cat(features, 1)


class _Transition(nn.Sequential):
    """BN - ReLU - 1x1 conv (``num_output_features``) - 2x2 average pool."""

    def __init__(self, num_input_features: int, num_output_features: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC.

    Args:
        growth_rate: channels each dense layer adds.
        block_config: dense layers per block.
        num_init_features: channels of the stem convolution.
        bn_size: bottleneck width factor (1x1 convolution to ``bn_size * growth_rate``).
        drop_rate: dropout after each dense layer.
        num_classes: classifier outputs.

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (224x224 gives 7x7 maps before pooling).
    """

    def __init__(
        self,
        growth_rate=32,
        block_config=(6, 12, 24, 16),
        num_init_features=64,
        bn_size=4,
        drop_rate=0.0,
        num_classes=1000,
    ):
        super().__init__()
        self.features = nn.Sequential(
            collections.OrderedDict(
                [
                    ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                init.constant_(m.bias, 0)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1)).flatten(1)
        return self.classifier(out)


class _RenamedKeys(dict):
    """A state dict with torchvision's old DenseNet keys (``norm.1``) renamed (``norm1``)."""

    def __init__(self, state):
        super().__init__((_OLD_KEY.sub(lambda m: m.group(1) + m.group(2), key), value) for key, value in state.items())


@register_model()
def densenet121(*, weights=None, **kwargs) -> DenseNet:
    """DenseNet-121, 7,978,856 parameters (1000 classes).

    Args:
        weights: None or the path of a state dict file (torchvision's ``.pth`` - old-style keys
            are renamed - or convlab's ``.safetensors``), loaded with ``strict=True``.
        **kwargs: :class:`DenseNet` arguments (``num_classes``, ``drop_rate``, ...).
    """
    model = DenseNet(32, (6, 12, 24, 16), 64, **kwargs)
    return load_weights(model, weights, "densenet121()", rename=_RenamedKeys)


def _densenet(name, growth_rate, block_config, num_init_features, weights, **kwargs):
    model = DenseNet(growth_rate, block_config, num_init_features, **kwargs)
    return load_weights(model, weights, f"{name}()", rename=_RenamedKeys)


@register_model()
def densenet161(*, weights=None, **kwargs) -> DenseNet:
    """DenseNet-161 (growth 48, 96 initial features), 28,681,000 parameters; see :func:`densenet121`."""
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, weights, **kwargs)


@register_model()
def densenet169(*, weights=None, **kwargs) -> DenseNet:
    """DenseNet-169, 14,149,480 parameters; see :func:`densenet121`."""
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, weights, **kwargs)


@register_model()
def densenet201(*, weights=None, **kwargs) -> DenseNet:
    """DenseNet-201, 20,013,928 parameters; see :func:`densenet121`."""
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, weights, **kwargs)
