"""ResNet (He et al., 2016, "Deep Residual Learning for Image Recognition"), as torchvision builds it.

Each residual block computes ``relu(F(x) + shortcut(x))``: the block learns a correction to the
identity, which keeps gradients flowing through deep stacks (seed 004: "residual connections aid
in gradient flow"). ``BasicBlock`` (two 3x3 convolutions) makes ResNet-18/34, ``Bottleneck``
(1x1 reduce, 3x3, 1x1 expand by 4) ResNet-50/101. Where the shape changes (stride 2 or more
channels) the shortcut is a 1x1 convolution + BatchNorm (``downsample``).

Parameter counts and ``state_dict`` keys equal torchvision's (resnet18: 11,689,512), so
torchvision weights load with ``strict=True``; initialisation is torchvision's (Kaiming-normal
fan-out convolutions, BatchNorm weight 1 and bias 0, default Linear).
"""

from __future__ import annotations

from .. import nn
from ..nn import init
from ._registry import load_weights, register_model

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet18_cifar", "resnet34", "resnet50", "resnet101"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding (no bias: a BatchNorm follows)."""
    return nn.Conv2d(
        in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups, bias=False, dilation=dilation
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution (no bias)."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + x)``.

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of the first convolution (2 halves the map).
        downsample: the shortcut module when the shape changes (else the identity).
        norm_layer: the normalisation layer class (default ``nn.BatchNorm2d``).

    Shape: ``(N, inplanes, H, W) -> (N, planes, H/stride, W/stride)``.
    """

    expansion = 1

    def __init__(
        self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, norm_layer=None
    ):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(
                f"BasicBlock: only groups=1 and base_width=64 are supported, got {groups} and {base_width}"
            )
        if dilation > 1:
            raise ValueError(f"BasicBlock: dilation > 1 is not supported, got {dilation}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce to ``width``) - 3x3 (stride) - 1x1 (expand to ``4 * planes``) convolutions with
    BatchNorm, plus the shortcut; the stride sits on the 3x3 convolution (ResNet v1.5, as torchvision).

    Shape: ``(N, inplanes, H, W) -> (N, 4 planes, H/stride, W/stride)``.
    """

    expansion = 4

    def __init__(
        self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1, norm_layer=None
    ):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A stem, four stages of residual blocks, global average pooling and a linear classifier.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]`` for ResNet-18.
        num_classes: classifier outputs.
        zero_init_residual: start each block's last BatchNorm at weight 0 (the block starts as
            the identity).
        groups / width_per_group: grouped (ResNeXt) and wide bottlenecks.
        replace_stride_with_dilation: per stage 2-4, dilate instead of striding.
        norm_layer: the normalisation layer class.
        small_input: the CIFAR stem (3x3 stride-1 ``conv1``, no max-pool) for 32x32 images.

    Shape: ``(N, 3, H, W) -> (N, num_classes)``; 224x224 gives 7x7 maps before pooling (32x32 with
    ``small_input`` gives 4x4).

    Example::

        >>> net = convlab.models.resnet18(num_classes=10)
        >>> net(convlab.randn(2, 3, 224, 224)).shape
        (2, 10)
    """

    def __init__(
        self,
        block,
        layers,
        num_classes=1000,
        zero_init_residual=False,
        groups=1,
        width_per_group=64,
        replace_stride_with_dilation=None,
        norm_layer=None,
        small_input=False,
    ):
        super().__init__()
        self._norm_layer = norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes, self.dilation = 64, 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                "ResNet: replace_stride_with_dilation should be None or a 3-element tuple, "
                f"got {replace_stride_with_dilation}"
            )
        self.groups, self.base_width = groups, width_per_group
        if small_input:
            self.conv1 = nn.Conv2d(3, self.inplanes, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, self.inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride), norm_layer(planes * block.expansion)
            )
        layers = [
            block(
                self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation, norm_layer
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=norm_layer,
                )
            )
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(name, block, layers, weights, **kwargs):
    return load_weights(ResNet(block, layers, **kwargs), weights, f"{name}()")


@register_model()
def resnet18(*, weights=None, **kwargs) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11,689,512 parameters (1000 classes).

    Args:
        weights: None (random initialisation) or the path of a state dict file (torchvision's
            ``.pth`` or a convlab ``.safetensors``), loaded with ``strict=True``.
        **kwargs: :class:`ResNet` arguments, e.g. ``num_classes=10``.
    """
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, **kwargs)


@register_model()
def resnet34(*, weights=None, **kwargs) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3], 21,797,672 parameters; see :func:`resnet18`."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, **kwargs)


@register_model()
def resnet50(*, weights=None, **kwargs) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25,557,032 parameters; see :func:`resnet18`."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, **kwargs)


@register_model()
def resnet101(*, weights=None, **kwargs) -> ResNet:
    """ResNet-101: Bottlenecks [3, 4, 23, 3], 44,549,160 parameters; see :func:`resnet18`."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], weights, **kwargs)


@register_model()
def resnet152(*, weights=None, **kwargs) -> ResNet:
    """ResNet-152: Bottlenecks [3, 8, 36, 3], 60,192,808 parameters; see :func:`resnet18`."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], weights, **kwargs)


@register_model()
def resnext50_32x4d(*, weights=None, **kwargs) -> ResNet:
    """ResNeXt-50 32x4d: resnet50 with 32-group 3x3 convolutions 4 channels wide per group,
    25,028,904 parameters; see :func:`resnet18`."""
    return _resnet("resnext50_32x4d", Bottleneck, [3, 4, 6, 3], weights, groups=32, width_per_group=4, **kwargs)


@register_model()
def wide_resnet50_2(*, weights=None, **kwargs) -> ResNet:
    """Wide ResNet-50-2: resnet50 with bottlenecks twice as wide, 68,883,240 parameters; see
    :func:`resnet18`."""
    return _resnet("wide_resnet50_2", Bottleneck, [3, 4, 6, 3], weights, width_per_group=128, **kwargs)


@register_model(input_size=(3, 32, 32))
def resnet18_cifar(*, weights=None, num_classes: int = 10, **kwargs) -> ResNet:
    """ResNet-18 for 32x32 images (CIFAR): a 3x3 stride-1 stem and no max-pool, so the stages see
    32, 16, 8 and 4 pixel maps; 11,173,962 parameters with 10 classes. The ``state_dict`` keys are
    resnet18's (``maxpool`` is an ``Identity``)."""
    return _resnet(
        "resnet18_cifar", BasicBlock, [2, 2, 2, 2], weights, num_classes=num_classes, small_input=True, **kwargs
    )
