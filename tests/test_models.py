"""convlab.models: torchvision's constructors with its exact parameter counts and state_dict keys.

The reference is tests/fixtures/torchvision_reference.json, written by torchvision 0.29.1 (see
make_torchvision_reference.py there): per constructor the parameter count, torchvision's
published figure and the ordered state_dict keys with shapes. When torchvision itself is
importable, the key lists are also checked against it live.
"""

import json
import pathlib

import numpy as np
import pytest
from seed_examples import SEED_EXAMPLES

import convlab
from convlab import models, nn

REFERENCE = json.loads((pathlib.Path(__file__).parent / "fixtures/torchvision_reference.json").read_text())["models"]


@pytest.fixture
def skip_random_init(monkeypatch):
    """Parameter counts and key names do not depend on the initial values: skip drawing them
    (the VGG classifiers alone are 120 M random numbers, seconds each on this machine)."""

    def zeros(_a, _b, shape, dtype, device=None):
        return np.zeros(shape, dtype)

    monkeypatch.setattr(convlab._random, "uniform", zeros)
    monkeypatch.setattr(convlab._random, "normal", zeros)


def _keys_and_shapes(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def _num_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_parameter_count_and_keys_equal_torchvision(case, skip_random_init):
    entry = REFERENCE[case]
    model = models.get_model(entry["constructor"], **entry["kwargs"])
    assert _num_params(model) == entry["num_params"]
    if entry["published"] is not None:
        assert _num_params(model) == entry["published"]
    assert _keys_and_shapes(model) == entry["state_dict"]


def test_every_torchvision_constructor_is_covered():
    torchvision_names = {e["constructor"] for e in REFERENCE.values()}
    assert torchvision_names <= set(models.list_models())
    assert {"lenet5", "resnet18_cifar", "unet", "cats_vs_dogs_cnn"} <= set(models.list_models())


@pytest.mark.parametrize("name", ["resnet18", "vgg16_bn", "mobilenet_v2"])
def test_keys_against_live_torchvision(name):
    torchvision = pytest.importorskip("torchvision")
    reference = getattr(torchvision.models, name)(weights=None)
    expected = [[k, list(v.shape)] for k, v in reference.state_dict().items()]
    assert _keys_and_shapes(models.get_model(name)) == expected


def test_seed_parameter_counts():
    """Published figures: seed 004's cats-vs-dogs CNN at 150x150, LeNet-5, the CIFAR ResNet-18."""
    assert _num_params(models.cats_vs_dogs_cnn()) == 23_214_017  # seed 004's "Total params: 23,214,017"
    assert _num_params(models.lenet5()) == 61_706  # LeCun et al. (1998)'s LeNet-5 with a 10-way output
    assert _num_params(models.resnet18_cifar()) == 11_173_962  # the common CIFAR ResNet-18 (10 classes)


def test_seed_cats_vs_dogs_table():
    """Seed 004's torchsummary table of the cats-vs-dogs CNN: per layer output shape and parameters."""
    seed_rows = [  # (type, output shape without batch, parameters) from the seed's table
        ("Conv2d", [32, 150, 150], 896), ("Conv2d", [64, 150, 150], 18_496), ("MaxPool2d", [64, 75, 75], 0),
        ("Conv2d", [128, 75, 75], 73_856), ("Conv2d", [128, 75, 75], 147_584), ("MaxPool2d", [128, 37, 37], 0),
        ("Conv2d", [256, 37, 37], 295_168), ("Conv2d", [512, 37, 37], 1_180_160), ("MaxPool2d", [512, 18, 18], 0),
        ("Conv2d", [512, 18, 18], 2_359_808), ("Conv2d", [512, 18, 18], 2_359_808), ("MaxPool2d", [512, 8, 8], 0),
        ("Dropout", [32768], 0), ("Linear", [512], 16_777_728), ("Linear", [1], 513),
    ]  # fmt: skip
    s = convlab.summary(models.cats_vs_dogs_cnn(), input_size=(1, 3, 150, 150), verbose=0, mode="eval")
    rows = [(r.type, r.output_size[1:], r.params) for r in s.layers if not r.children and r.type != "ReLU"]
    assert rows == seed_rows


def test_get_model_and_list_models():
    net = models.get_model("ResNet18", num_classes=7)
    assert isinstance(net, models.ResNet) and net.fc.out_features == 7
    assert models.list_models(include="vgg*_bn") == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
    assert "resnet18" not in models.list_models(exclude=["resnet*", "vgg*"])
    assert models.get_model_builder("alexnet") is models.alexnet
    with pytest.raises(ValueError) as info:
        models.get_model("resnet19")
    message = str(info.value)
    assert message.startswith("get_model(): unknown model 'resnet19'; valid names: alexnet, cats_vs_dogs_cnn")
    assert all(name in message for name in models.list_models())
    with pytest.raises(TypeError, match="the model name must be a string, got int"):
        models.get_model(18)


def test_constructor_options():
    googlenet = models.googlenet(aux_logits=True, num_classes=5)
    assert googlenet.aux1 is not None and googlenet.aux2.fc2.out_features == 5
    assert models.googlenet().aux1 is None
    assert isinstance(models.resnet18_cifar().maxpool, nn.Identity)
    assert models.resnet18_cifar().conv1.kernel_size == (3, 3)
    assert not models.resnet18(zero_init_residual=True).layer1[0].bn2.weight.detach().numpy().any()
    assert models.mobilenet_v2(width_mult=0.5).features[0][0].out_channels == 16
    with pytest.raises(ValueError, match="SqueezeNet: unsupported version '2_0'"):
        models.SqueezeNet("2_0")
    with pytest.raises(ValueError, match="up_mode must be one of 'transpose', 'upsample', got 'deconv'"):
        models.unet(up_mode="deconv")
    with pytest.raises(ValueError, match="base_channels must be an even int >= 2, got 3"):
        models.unet(base_channels=3)
    with pytest.raises(TypeError, match=r"resnet18\(\): weights must be None or the path of a state dict file"):
        models.resnet18(weights=1)
    with pytest.raises(FileNotFoundError, match=r"resnet18\(\): weights file 'missing.pth' not found"):
        models.resnet18(weights="missing.pth")
