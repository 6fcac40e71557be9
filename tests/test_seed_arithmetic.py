"""The seeds' size arithmetic: output sizes, parameter counts, dense-layer sizes, receptive fields.

Each number is a worked example of a lecture-note set, copied with its sentence into
``tests/fixtures/seed_worked_numbers.json``; the library must produce it from real layers.
"""

import json
import math
from pathlib import Path

import pytest

import convlab
from convlab import models, nn
from convlab.ops.conv import conv_output_size

NUMBERS = json.loads((Path(__file__).parent / "fixtures" / "seed_worked_numbers.json").read_text())


def _conv(options: dict) -> nn.Conv2d:
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return nn.Conv2d(**options)


def _parameter_count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("example", NUMBERS["output_sizes"], ids=lambda e: f"seed{e['seed']}-{e['input_shape']}")
def test_output_sizes(example):
    layer = _conv(example["layer"])
    assert list(layer(convlab.zeros(*example["input_shape"])).shape) == example["output_shape"]
    kernel, stride, padding = (layer.kernel_size, layer.stride, layer.padding)
    sizes = [conv_output_size(example["input_shape"][2 + i], kernel[i], stride[i], padding[i]) for i in range(2)]
    assert sizes == example["output_shape"][2:]


@pytest.mark.parametrize("example", NUMBERS["conv_parameters"], ids=lambda e: f"seed{e['seed']}-{e['parameters']}")
def test_conv_parameter_counts(example):
    layer = _conv(example["layer"])
    assert _parameter_count(layer) == example["parameters"]
    f, c_in, c_out = layer.kernel_size[0], layer.in_channels, layer.out_channels
    assert (f * f * c_in + (layer.bias is not None)) * c_out == example["parameters"]  # seed 003's formula


@pytest.mark.parametrize("example", NUMBERS["dense_sizes"], ids=lambda e: f"seed{e['seed']}-{e['image_shape']}")
def test_dense_layer_sizes(example):
    """A flattened image is the dense layer's input; its weight count is features x neurons."""
    features = nn.Flatten()(convlab.zeros(1, *example["image_shape"])).shape[1]
    assert features == example["features"]
    if "neurons" in example:  # small enough to build: the layer's own count
        assert _parameter_count(nn.Linear(features, example["neurons"], bias=False)) == example["weights"]
    elif "weights" in example:  # (256*256*3)^2 weights cannot be allocated; the count is features squared
        probe = nn.Linear(8, 8, bias=False)  # the same rule on a layer that fits: in x out weights
        assert _parameter_count(probe) == 8 * 8
        assert features * features == example["weights"]
        assert round(example["weights"] * 4 / 1e9, 1) == example["float32_gigabytes"]


def test_conv_versus_dense_layer():
    """Seed 004: nn.Conv2d(16, 32, 3, padding=1) on 16x64x64 has 4,640 parameters; a dense layer
    joining the same activations would have 8,590,065,664."""
    example = NUMBERS["conv_vs_dense"]
    layer = _conv(example["layer"])
    x = convlab.zeros(*example["input_shape"])
    ifm, ofm = x[0].numel(), layer(x)[0].numel()
    assert (ifm, ofm) == (example["ifm"], example["ofm"])
    assert (layer.weight.numel(), layer.bias.numel()) == (example["filter_weights"], example["biases"])
    assert _parameter_count(layer) == example["conv_parameters"]
    assert ifm * ofm + ofm == example["dense_parameters"]  # Linear(ifm, ofm): ifm*ofm weights + ofm biases
    assert _parameter_count(nn.Linear(16, 32)) == 16 * 32 + 32


@pytest.mark.parametrize("example", NUMBERS["receptive_fields"], ids=lambda e: f"{e['layers']}-layers")
def test_receptive_field_slides(example):
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, stride=2, padding=1) for _ in range(example["layers"])])
    size = example["input_size"]
    table = convlab.receptive_field(model, (1, size, size))
    assert len(table) == len(example["table"])
    for row, expected in zip(table, example["table"]):
        assert row["map_size"] == [expected["map_size"]] * 2
        assert (row["jump"], row["receptive_field"], row["start"]) == (
            expected["jump"], expected["receptive_field"], expected["start"])


def test_vgg16_receptive_field_of_every_layer():
    """Seed 003's VGG-16 figure: the field of every conv and pool layer, conv1_1 (3) to pool5 (212)."""
    expected = NUMBERS["vgg16_receptive_fields"]["layers"]
    table = convlab.receptive_field(models.vgg.make_layers(models.vgg.CFGS["D"]), (3, 32, 32))
    names, block, index = [], 1, 1
    for row in table[1:]:
        if row["type"] == "Conv2d":
            names.append((f"conv{block}_{index}", row))
            index += 1
        elif row["type"] == "MaxPool2d":
            names.append((f"pool{block}", row))
            block, index = block + 1, 1
    assert [name for name, _ in names] == list(expected)
    for name, row in names:
        assert row["receptive_field"] == expected[name], name
    assert math.isclose(table[-1]["jump"], 32.0)
