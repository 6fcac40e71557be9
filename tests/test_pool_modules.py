"""Pooling layers (convlab.nn.modules.pooling): PyTorch's reprs and attributes, forward and
backward against torch.nn, return_indices, and errors that start with the layer's repr."""

import numpy as np
import pytest
import torch
from parity import check

import convlab
from convlab import nn

LAYERS = [
    ("MaxPool1d", (2,), {}),
    ("MaxPool1d", (3, 2, 1), {"dilation": 2, "ceil_mode": True}),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3, 2, 1), {}),
    ("MaxPool2d", ((2, 3),), {"stride": 1, "padding": (1, 0), "dilation": (1, 2)}),
    ("MaxPool3d", (2,), {"ceil_mode": True}),
    ("AvgPool1d", (3, 2, 1), {"count_include_pad": False}),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("AvgPool2d", (2,), {"divisor_override": 3}),
    ("AvgPool3d", ((1, 2, 2),), {"stride": (1, 1, 2)}),
    ("LPPool1d", (2, 3), {}),
    ("LPPool2d", (2, (2, 3)), {"stride": 1}),
    ("LPPool2d", (1.5, 2), {"ceil_mode": True}),
    ("LPPool3d", (2, 2), {}),
    ("LPPool2d", (float("inf"), 2), {"ceil_mode": True}),
    ("AdaptiveAvgPool1d", (3,), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("AdaptiveAvgPool2d", ((None, 3),), {}),
    ("AdaptiveAvgPool3d", ((2, 1, 3),), {}),
    ("AdaptiveMaxPool1d", (4,), {}),
    ("AdaptiveMaxPool2d", ((3, None),), {}),
    ("AdaptiveMaxPool3d", (2,), {}),
]
SPATIAL = {"1d": (9,), "2d": (7, 8), "3d": (4, 5, 6)}


@pytest.mark.parametrize("name, args, kwargs", LAYERS, ids=lambda v: str(v))
def test_layer_repr_and_output_match_torch(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == [] and not list(ours.parameters())
    x = np.random.default_rng(0).uniform(0.1, 2, (2, 3) + SPATIAL[name[-2:]])
    check(ours, theirs, x)
    check(ours, theirs, x[0].astype(np.float32))  # unbatched, float32


@pytest.mark.parametrize("name", ["MaxPool2d", "AdaptiveMaxPool2d"])
def test_return_indices_and_max_unpool_layers(name):
    arg = 2 if name == "MaxPool2d" else (3, 4)
    pool, tpool = getattr(nn, name)(arg, return_indices=True), getattr(torch.nn, name)(arg, return_indices=True)
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 8))
    check(pool, tpool, x)
    if name == "MaxPool2d":
        unpool, tunpool = nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
        assert repr(unpool) == repr(tunpool)
        check(lambda t: unpool(*pool(t), output_size=t.shape), lambda t: tunpool(*tpool(t), output_size=t.shape), x)


@pytest.mark.parametrize("n", [1, 3])
def test_max_unpool_layers_match_torch(n):
    pool, tpool = getattr(nn, f"MaxPool{n}d")(2, return_indices=True), getattr(torch.nn, f"MaxPool{n}d")(2, return_indices=True)
    unpool, tunpool = getattr(nn, f"MaxUnpool{n}d")(2), getattr(torch.nn, f"MaxUnpool{n}d")(2)
    assert repr(unpool) == repr(tunpool)
    x = np.random.default_rng(2).standard_normal((2, 2) + (4,) * n)
    check(lambda t: unpool(*pool(t)), lambda t: tunpool(*tpool(t)), x)


def test_layers_in_a_sequential_classifier_with_global_pooling():
    """Seed 000/004: conv features -> global average pooling -> flatten -> classifier input."""
    model = nn.Sequential(nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert model(convlab.randn(4, 8, 12, 12)).shape == (4, 8)


def test_bed_of_nails_layer():
    layer = nn.BedOfNailsUnpool2d(2)
    assert repr(layer) == "BedOfNailsUnpool2d(kernel_size=2)"
    y = layer(convlab.tensor([[[[1.0, 2.0]]]]))
    np.testing.assert_array_equal(y.numpy(), [[[[1, 0, 2, 0], [0, 0, 0, 0]]]])


def test_bad_layer_settings_raise_at_construction_naming_the_layer():
    with pytest.raises(ValueError, match=r"^MaxPool2d\(kernel_size=2, stride=0, padding=0, dilation=1, ceil_mode=False\): stride must be positive, got stride=\(0, 0\)"):
        nn.MaxPool2d(2, stride=0)
    with pytest.raises(ValueError, match=r"^AvgPool2d\(kernel_size=3, stride=3, padding=2\): padding must be at most half of the kernel size"):
        nn.AvgPool2d(3, padding=2)
    with pytest.raises(TypeError, match=r"^MaxPool1d\(.*\): kernel_size must be an int, got \(2, 2\)"):
        nn.MaxPool1d((2, 2))
    with pytest.raises(ValueError, match=r"^MaxUnpool2d\(kernel_size=\(0, 0\), .*\): kernel_size must be positive"):
        nn.MaxUnpool2d(0)
    with pytest.raises(TypeError, match=r"^AdaptiveAvgPool2d\(output_size=\(1, 2, 3\)\): output_size must be an int or a tuple of 2"):
        nn.AdaptiveAvgPool2d((1, 2, 3))


def test_bad_input_errors_start_with_the_layer_repr():
    with pytest.raises(ValueError, match=r"^MaxPool2d\(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False\): expected input of shape \(N, C, H, W\) or \(C, H, W\) .* got shape \(8, 28, 28, 1, 1\)"):
        nn.MaxPool2d(2)(convlab.zeros(8, 28, 28, 1, 1))
    with pytest.raises(ValueError, match=r"^AvgPool2d\(kernel_size=5, stride=5, padding=0\): kernel_size=\(5, 5\) .* does not fit in the input of spatial size \(3, 3\)"):
        nn.AvgPool2d(5)(convlab.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"^MaxUnpool2d\(kernel_size=\(2, 2\), stride=\(2, 2\), padding=\(0, 0\)\): found an invalid max index"):
        x = convlab.randn(1, 1, 5, 5)
        nn.MaxUnpool2d(2)(*nn.MaxPool2d(2, return_indices=True)(x), output_size=(3, 3))
