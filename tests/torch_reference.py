"""Reference networks written in plain ``torch.nn`` with torchvision's structure and
``state_dict`` keys (torchvision is not installed beside the oracle). Shared by
tests/test_models_torch.py and benchmarks/bench_models.py."""

import torch


class TorchBasicBlock(torch.nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.relu = torch.nn.ReLU(inplace=True)
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = torch.nn.Sequential(
                torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False), torch.nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class TorchResNet18(torch.nn.Module):
    """torchvision's resnet18 (or, with ``small_input``, the CIFAR variant)."""

    def __init__(self, num_classes=1000, small_input=False):
        super().__init__()
        if small_input:
            self.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        else:
            self.conv1 = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)
        self.relu = torch.nn.ReLU(inplace=True)
        self.maxpool = torch.nn.Identity() if small_input else torch.nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, planes in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            setattr(
                self,
                f"layer{i + 1}",
                torch.nn.Sequential(TorchBasicBlock(inplanes, planes, stride), TorchBasicBlock(planes, planes, 1)),
            )
            inplanes = planes
        self.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _conv_bn_relu6(inp, oup, stride=1, groups=1, kernel=3):
    """torchvision's Conv2dNormActivation: keys ``0`` (conv), ``1`` (BatchNorm)."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        torch.nn.BatchNorm2d(oup),
        torch.nn.ReLU6(inplace=True),
    )


class TorchInvertedResidual(torch.nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        layers = [] if expand_ratio == 1 else [_conv_bn_relu6(inp, hidden, kernel=1)]
        layers += [
            _conv_bn_relu6(hidden, hidden, stride, groups=hidden),
            torch.nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            torch.nn.BatchNorm2d(oup),
        ]
        self.conv = torch.nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class TorchMobileNetV2(torch.nn.Module):
    """torchvision's mobilenet_v2 (width 1.0)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        features, inp = [_conv_bn_relu6(3, 32, stride=2)], 32
        for t, c, n, s in settings:
            for i in range(n):
                features.append(TorchInvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        features.append(_conv_bn_relu6(inp, 1280, kernel=1))
        self.features = torch.nn.Sequential(*features)
        self.classifier = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(1280, num_classes))

    def forward(self, x):
        x = torch.nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def torch_fmnist_cnn(num_classes=10, in_channels=1):
    """Seed 004's CNN (convlab.models.fmnist_cnn) exactly as the seed-004 lecture writes it, in
    ``torch.nn``, same ``state_dict`` keys."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(64),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5),
        nn.Linear(512, num_classes),
    )  # fmt: skip


def torch_fmnist_cnn_fast(num_classes=10, in_channels=1):
    """convlab.models.fmnist_cnn_fast (the ``--recipe fast`` network) in ``torch.nn``, same
    ``state_dict`` keys."""

    def block(cin, cout):
        return [torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False), torch.nn.BatchNorm2d(cout), torch.nn.ReLU()]

    return torch.nn.Sequential(
        *block(in_channels, 32), *block(32, 32), torch.nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.BatchNorm1d(128), torch.nn.ReLU(),
        torch.nn.Linear(128, num_classes),
    )  # fmt: skip
