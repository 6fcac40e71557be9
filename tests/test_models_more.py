"""The rest of seed 004's torchvision list: deeper ResNets/DenseNets, ResNeXt and Wide ResNet,
with torchvision's published parameter counts and structure (keys as resnet50's / densenet121's)."""

import pytest

from convlab import models

# torchvision's published parameter counts (1000 classes)
PUBLISHED = {
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts(name):
    model = models.get_model(name)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name]


def test_resnext_and_wide_resnet_have_resnet50_keys_with_wider_bottlenecks():
    base = {k: tuple(v.shape) for k, v in models.resnet50(num_classes=10).state_dict().items()}
    for name, width in (("resnext50_32x4d", 128), ("wide_resnet50_2", 128)):
        state = {k: tuple(v.shape) for k, v in models.get_model(name, num_classes=10).state_dict().items()}
        assert list(state) == list(base)
        assert state["layer1.0.conv1.weight"] == (width, 64, 1, 1)
    assert models.resnext50_32x4d().layer1[0].conv2.groups == 32
