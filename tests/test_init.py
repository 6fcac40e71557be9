"""Initialisers: fans and gains equal to PyTorch's, the distributions' bounds, means and standard
deviations (statistically, on large tensors), PyTorch's default layer initialisation, seeding,
and errors."""

import math

import numpy as np
import pytest
import torch

import convlab
import convlab.nn as nn
from convlab.nn import init

SHAPES = [(7, 3), (16, 8, 3, 3), (4, 6, 5), (2, 3, 2, 2, 2), (1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fan_in_and_fan_out_equal_torch(shape):
    assert init._calculate_fan_in_and_fan_out(convlab.empty(*shape)) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(*shape)
    )


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions, got shape \(5,\)"):
        init.xavier_uniform_(convlab.empty(5))


@pytest.mark.parametrize(
    "nonlinearity, param",
    [
        ("linear", None),
        ("conv2d", None),
        ("conv_transpose3d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", 1),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15
    )


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


# (initialiser, kwargs, expected bound or std as a function of fan_in, fan_out)
UNIFORM = [
    ("kaiming_uniform_", {}, lambda fi, fo: math.sqrt(2) * math.sqrt(3 / fi)),  # a=0: gain sqrt(2)
    ("kaiming_uniform_", {"a": math.sqrt(5)}, lambda fi, fo: 1 / math.sqrt(fi)),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, lambda fi, fo: math.sqrt(2) * math.sqrt(3 / fo)),
    ("xavier_uniform_", {}, lambda fi, fo: math.sqrt(6 / (fi + fo))),
    ("xavier_uniform_", {"gain": 5 / 3}, lambda fi, fo: 5 / 3 * math.sqrt(6 / (fi + fo))),
]
NORMAL = [
    ("kaiming_normal_", {}, lambda fi, fo: math.sqrt(2) / math.sqrt(fi)),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, lambda fi, fo: math.sqrt(2) / math.sqrt(fo)),
    ("kaiming_normal_", {"a": 0.2, "nonlinearity": "leaky_relu"}, lambda fi, fo: math.sqrt(2 / 1.04) / math.sqrt(fi)),
    ("xavier_normal_", {}, lambda fi, fo: math.sqrt(2 / (fi + fo))),
    ("xavier_normal_", {"gain": 2.0}, lambda fi, fo: 2 * math.sqrt(2 / (fi + fo))),
]


@pytest.mark.parametrize("name, kwargs, bound", UNIFORM)
def test_uniform_initialisers_fill_the_right_interval(name, kwargs, bound):
    shape = (256, 64, 3, 3)
    fan_in, fan_out = 64 * 9, 256 * 9
    b = bound(fan_in, fan_out)
    w = getattr(init, name)(convlab.empty(*shape), **kwargs).numpy()
    ref = getattr(torch.nn.init, name)(torch.empty(*shape), **kwargs).numpy()
    assert np.abs(w).max() <= b * (1 + 1e-6) and np.abs(ref).max() <= b * (1 + 1e-6)  # float32 rounding
    assert np.abs(w).max() > 0.999 * b  # the whole interval is used
    n = w.size
    assert abs(w.mean()) < 4 * b / math.sqrt(3 * n)  # mean 0 within 4 standard errors
    assert w.std() == pytest.approx(b / math.sqrt(3), rel=0.01)
    assert w.std() == pytest.approx(ref.std(), rel=0.01)
    assert w.dtype == np.float32


@pytest.mark.parametrize("name, kwargs, std", NORMAL)
def test_normal_initialisers_have_the_right_std(name, kwargs, std):
    shape = (128, 64, 5, 5)
    s = std(64 * 25, 128 * 25)
    w = getattr(init, name)(convlab.empty(*shape), **kwargs).numpy()
    ref = getattr(torch.nn.init, name)(torch.empty(*shape), **kwargs).numpy()
    assert abs(w.mean()) < 4 * s / math.sqrt(w.size)
    assert w.std() == pytest.approx(s, rel=0.01)
    assert w.std() == pytest.approx(ref.std(), rel=0.01)


def test_uniform_normal_constant_and_friends():
    u = init.uniform_(convlab.empty(200_000), -0.5, 2.0).numpy()
    assert u.min() >= -0.5 and u.max() < 2.0 and u.mean() == pytest.approx(0.75, abs=0.01)
    g = init.normal_(convlab.empty(200_000, dtype=convlab.float64), mean=3.0, std=0.5).numpy()
    assert (
        g.dtype == np.float64 and g.mean() == pytest.approx(3.0, abs=0.01) and g.std() == pytest.approx(0.5, rel=0.01)
    )
    assert (init.constant_(convlab.empty(3, 2), 0.3).numpy() == np.float32(0.3)).all()
    assert (init.zeros_(convlab.ones(4)).numpy() == 0).all() and (init.ones_(convlab.zeros(4)).numpy() == 1).all()
    t = init.trunc_normal_(convlab.empty(100_000), mean=0.5, std=1.0, a=-1.0, b=1.5).numpy()
    ref = torch.nn.init.trunc_normal_(torch.empty(100_000), mean=0.5, std=1.0, a=-1.0, b=1.5).numpy()
    assert t.min() >= -1.0 and t.max() <= 1.5
    assert t.mean() == pytest.approx(ref.mean(), abs=0.02) and t.std() == pytest.approx(ref.std(), rel=0.02)
    np.testing.assert_array_equal(init.eye_(convlab.empty(2, 3)).numpy(), torch.nn.init.eye_(torch.empty(2, 3)).numpy())


def test_initialisers_work_on_parameters_in_place_without_a_graph():
    w = nn.Parameter(convlab.zeros(8, 4))
    assert init.kaiming_normal_(w) is w
    assert w.requires_grad and w.grad_fn is None and w.detach().numpy().std() > 0


def test_initialisers_are_reproducible_from_the_seed():
    convlab.manual_seed(5)
    a = init.xavier_uniform_(convlab.empty(3, 4)).numpy().copy()
    convlab.manual_seed(5)
    b = init.xavier_uniform_(convlab.empty(3, 4)).numpy()
    np.testing.assert_array_equal(a, b)


def test_zero_element_tensors_are_a_no_op_with_torchs_warning():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(convlab.empty(0, 3))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(convlab.empty(2, 3), mode="fan_avg")


@pytest.mark.parametrize("in_features, out_features", [(3, 5), (784, 128), (1, 1)])
def test_default_linear_initialisation_matches_torch(in_features, out_features):
    bound = 1 / math.sqrt(in_features)
    layer = nn.Linear(in_features, out_features)
    for p in (layer.weight, layer.bias):
        values = p.detach().numpy()
        assert values.dtype == np.float32 and np.abs(values).max() <= bound * (1 + 1e-6)
    big = nn.Linear(in_features, 4096).weight.detach().numpy()
    ref = torch.nn.Linear(in_features, 4096).weight.detach().numpy()
    assert big.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert big.std() == pytest.approx(ref.std(), rel=0.05)
    assert np.abs(big).max() > 0.99 * bound
