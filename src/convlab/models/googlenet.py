"""GoogLeNet / Inception v1 (Szegedy et al., 2015, "Going deeper with convolutions"), as torchvision.

An Inception module runs four branches on the same input and concatenates them along the
channels: a 1x1 convolution, a 1x1 reduction then 3x3, a 1x1 reduction then a second 3x3 (5x5 in
the paper; torchvision keeps a 3x3 there for its weights), and a 3x3 max-pool then a 1x1
projection (seed 004: "Inception module with dimensionality reduction"). Every convolution is
``BasicConv2d``: convolution without bias, BatchNorm (eps 0.001), ReLU.

The two auxiliary classifiers (on inception4a and 4d) are off by default - ``aux_logits=False``,
6,624,904 parameters, torchvision's published figure; ``aux_logits=True`` adds them (13,004,888)
and, in training mode, ``forward`` returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``.
``state_dict`` keys equal torchvision's.
"""

from __future__ import annotations

import collections

from .. import functions, nn
from ..nn import functional as F
from ..nn import init
from ._registry import read_state_dict, register_model

__all__ = ["BasicConv2d", "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "googlenet"]

GoogLeNetOutputs = collections.namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = "GoogLeNet's training-mode output with auxiliary classifiers, as torchvision's."


def _transform_imagenet_input(x):
    """Inputs normalised with ImageNet's mean and std, rescaled to the ``(x - 0.5) / 0.5`` of
    torchvision's ImageNet weights for GoogLeNet and Inception v3 (their ``transform_input``)."""
    channels = [
        x[:, c : c + 1] * (std / 0.5) + (mean - 0.5) / 0.5
        for c, (mean, std) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
    ]
    return functions.cat(channels, 1)


def _init_weights(model, std):
    """torchvision's initialisation of GoogLeNet and Inception v3: Conv2d and Linear weights from a
    normal of ``std`` (or the layer's own ``stddev`` attribute) truncated to [-2, 2], BatchNorm2d
    weights 1 and biases 0; other biases keep their layer's default."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            init.trunc_normal_(m.weight, mean=0.0, std=float(getattr(m, "stddev", std)), a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            init.constant_(m.weight, 1)
            init.constant_(m.bias, 0)


class BasicConv2d(nn.Module):
    """Conv2d (no bias) - BatchNorm2d(eps=0.001) - ReLU; ``**kwargs`` go to ``nn.Conv2d``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches concatenated along the channels.

    Shape: ``(N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)``.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1), BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1), BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return functions.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 adaptive average pool, 1x1 convolution to 128, two linear layers."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


class GoogLeNet(nn.Module):
    """GoogLeNet.

    Args:
        num_classes: classifier outputs.
        aux_logits: build the two auxiliary classifiers (used in training mode only).
        transform_input: map inputs normalised with ImageNet's mean/std to the (x - 0.5) / 0.5
            scaling the original weights were trained with (torchvision's option).
        init_weights: torchvision's initialisation (truncated N(0, 0.01) on [-2, 2] for
            convolution and linear weights, BatchNorm 1 and 0); False keeps the layers' defaults.
        dropout / dropout_aux: dropout before the classifier / in the auxiliary classifiers.

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (224x224 gives 7x7 maps before pooling).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = False,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
    ):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            _init_weights(self, std=0.01)

    def _transform_input(self, x):
        return _transform_imagenet_input(x) if self.transform_input else x

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


@register_model()
def googlenet(*, weights=None, aux_logits: bool = False, **kwargs) -> GoogLeNet:
    """GoogLeNet (Inception v1), 6,624,904 parameters without the auxiliary classifiers.

    Args:
        weights: None or the path of a state dict file, loaded with ``strict=True``. A file that
            holds the auxiliary classifiers (torchvision's ImageNet weights do) loads with them,
            and they are dropped again unless ``aux_logits=True``, as torchvision does. For
            torchvision's ImageNet file also pass ``transform_input=True`` (torchvision sets it
            for those weights, which expect inputs scaled as (x - 0.5) / 0.5).
        aux_logits: keep the auxiliary classifiers (off by default, like torchvision's
            ``aux_logits=False`` for a fresh model).
        **kwargs: :class:`GoogLeNet` arguments.
    """
    if weights is None:
        return GoogLeNet(aux_logits=aux_logits, **kwargs)
    state = read_state_dict(weights, "googlenet()")
    stored_aux = any(key.startswith("aux1.") for key in state)
    kwargs.setdefault("init_weights", False)  # every value is about to be overwritten
    model = GoogLeNet(aux_logits=aux_logits or stored_aux, **kwargs)
    model.load_state_dict(state, strict=True)
    if stored_aux and not aux_logits:
        model.aux_logits = False
        model.aux1 = model.aux2 = None
    return model
