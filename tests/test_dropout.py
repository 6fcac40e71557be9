"""Dropout family (ops/dropout.py, nn.Dropout*/AlphaDropout/FeatureAlphaDropout). Masks come from
convlab's generator, not torch's, so the tests check statistics (keep rate, 1/(1-p) scaling,
whole-channel zeroing, alpha dropout's mean and variance), exact gradients given the mask,
determinism under manual_seed, identity in evaluation, reprs and errors against PyTorch."""

import math
import warnings

import numpy as np
import pytest
import torch
from parity import both_raise

import convlab
import convlab.nn.functional as F
from convlab import nn

TF = torch.nn.functional


def _keep_fraction_bounds(p, n):
    """A 6-sigma interval for the fraction of n Bernoulli(1 - p) draws."""
    sigma = math.sqrt(p * (1 - p) / n)
    return 1 - p - 6 * sigma, 1 - p + 6 * sigma


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keep_rate_scaling_and_gradient(p, dtype):
    x_np = np.random.default_rng(0).uniform(0.5, 1.5, (200, 500)).astype(dtype)
    x = convlab.tensor(x_np, requires_grad=True)
    y = F.dropout(x, p)
    assert y.dtype == dtype and y.shape == x.shape
    kept = y.detach().numpy() != 0
    low, high = _keep_fraction_bounds(p, kept.size)
    assert low < kept.mean() < high
    np.testing.assert_allclose(y.detach().numpy()[kept], x_np[kept] / (1 - p), rtol=1e-6)
    g = np.random.default_rng(1).standard_normal(x_np.shape).astype(dtype)
    y.backward(convlab.tensor(g))
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.numpy(), g * kept / (1 - p), rtol=1e-6)


@pytest.mark.parametrize("name, shape, per_channel", [
    ("dropout1d", (64, 40, 7), (64, 40)),
    ("dropout1d", (40, 7), (40,)),
    ("dropout2d", (32, 50, 3, 4), (32, 50)),
    ("dropout3d", (16, 40, 2, 3, 2), (16, 40)),
    ("dropout3d", (40, 2, 3, 2), (40,)),
    ("feature_alpha_dropout", (32, 50, 3, 4), (32, 50)),
])
def test_channel_dropout_zeroes_whole_channels(name, shape, per_channel):
    p = 0.4
    x_np = np.random.default_rng(2).uniform(0.5, 1.5, shape)
    x = convlab.tensor(x_np, requires_grad=True)
    y = getattr(F, name)(x, p, training=True)
    y.backward(convlab.ones(*shape, dtype=convlab.float64))
    # dy/dx is the channel's factor (mask times scale): one value per channel, 0 where dropped
    factor = x.grad.numpy().reshape(per_channel + (-1,))
    np.testing.assert_array_equal(factor, np.broadcast_to(factor[..., :1], factor.shape))
    kept = factor[..., 0] != 0
    low, high = _keep_fraction_bounds(p, kept.size)
    assert low < kept.mean() < high
    offset = (y.detach().numpy() - x_np * x.grad.numpy()).reshape(factor.shape)
    if name == "feature_alpha_dropout":  # y = a x + b per kept channel, the constant α' a (p - 1) + ... elsewhere
        np.testing.assert_allclose(offset, np.broadcast_to(offset[..., :1], offset.shape), atol=1e-12)
    else:
        np.testing.assert_allclose(factor[kept], 1 / (1 - p))
        np.testing.assert_array_equal(offset, 0)


@pytest.mark.parametrize("p", [0.1, 0.5])
@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_keeps_mean_and_variance_and_matches_torch_constants(name, p):
    x = convlab.tensor(np.random.default_rng(3).standard_normal((400, 250, 2)), requires_grad=True)
    y = getattr(F, name)(x, p, training=True)
    values = y.detach().numpy()
    assert abs(values.mean()) < 0.02 and abs(values.var() - 1) < 0.03
    # the affine constants: zeros map to PyTorch's two values (kept: alpha*a*p, dropped: alpha*a*(p-1))
    zeros = np.zeros((200, 100, 2))
    ours = np.unique(getattr(F, name)(convlab.tensor(zeros), p, training=True).numpy())
    theirs = np.unique(getattr(TF, name)(torch.from_numpy(zeros), p, training=True).numpy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    a = 1 / math.sqrt((1.7580993408473766**2 * p + 1) * (1 - p))
    dropped = np.isclose(values, theirs.min(), rtol=0, atol=1e-12)
    y.backward(convlab.ones(*x.shape, dtype=convlab.float64))
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0, a))


def test_identity_in_eval_and_for_p_zero_and_zeros_for_p_one():
    x = convlab.randn(4, 3, 5, 5, requires_grad=True)
    for fn in (F.dropout, F.dropout2d, F.dropout3d):
        assert fn(x, 0.5, training=False) is x
        assert fn(x, 0.0, training=True) is x
    assert F.alpha_dropout(x, 0.5) is x  # training=False by default, as torch's functional form
    for fn in (F.dropout, F.dropout2d, F.alpha_dropout, F.feature_alpha_dropout):
        y = fn(x, 1.0, training=True)
        assert not y.detach().numpy().any()
        y.sum().backward()
        assert not x.grad.numpy().any()
        x.grad = None
    for layer in (nn.Dropout(), nn.Dropout1d(), nn.Dropout2d(), nn.Dropout3d(), nn.AlphaDropout(), nn.FeatureAlphaDropout()):
        z = convlab.randn(*{nn.Dropout2d: (2, 3, 4, 4), nn.Dropout3d: (2, 3, 4, 4, 4)}.get(type(layer), (2, 3, 4)))
        assert layer.eval()(z) is z
        assert layer.train()(z).shape == z.shape


@pytest.mark.parametrize("name, shape", [
    ("dropout", (3, 4)), ("dropout2d", (2, 3, 2, 2)), ("alpha_dropout", (3, 4)), ("feature_alpha_dropout", (2, 3, 2, 2)),
])
def test_dropout_gradcheck_with_a_fixed_mask(name, shape):
    def fn(t):
        convlab.manual_seed(3)  # the same mask on every call of the finite differences
        return getattr(F, name)(t, 0.4, training=True)

    x = convlab.tensor(np.random.default_rng(5).standard_normal(shape), requires_grad=True)
    assert convlab.autograd.gradcheck(fn, (x,))


def test_deterministic_under_manual_seed():
    x = convlab.ones(1000)
    convlab.manual_seed(7)
    first = F.dropout(x, 0.3).numpy()
    convlab.manual_seed(7)
    np.testing.assert_array_equal(first, F.dropout(x, 0.3).numpy())
    assert (F.dropout(x, 0.3).numpy() != first).any()  # the stream moves on


def test_inplace():
    x = convlab.ones(100, 10)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    leaf = convlab.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="inplace"):
        F.dropout(leaf, 0.5, inplace=True)
    # on a tensor in the graph the result is computed out of place, and the gradient is exact
    h = leaf * 2
    out = nn.Dropout(0.5, inplace=True)(h)
    out.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), 2 * (out.detach().numpy() != 0) * 2)


@pytest.mark.parametrize("cls", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_reprs_and_no_state(cls):
    for args in [(), (0.25,), (0.1, True)]:
        ours, theirs = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == [] == list(theirs.state_dict())


def test_seed_004_dropout_layers_in_the_classifier_head():
    """Seed 004's head: Linear(3136, 512) - ReLU - BatchNorm1d(512) - Dropout(0.5) - Linear(512, 10)."""
    head = nn.Sequential(nn.Linear(3136, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, 10))
    out = head(convlab.randn(8, 3136))
    assert out.shape == (8, 10)
    head.eval()
    x = convlab.randn(8, 3136)
    np.testing.assert_array_equal(head(x).detach().numpy(), head(x).detach().numpy())


# ---------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_probability_out_of_range(p):
    x = np.ones(3, np.float32)
    for name in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"):
        ours, theirs = getattr(F, name), getattr(TF, name)
        err = both_raise(lambda t, fn=ours: fn(t, p), lambda t, fn=theirs: fn(t, p), x)
        assert isinstance(err, ValueError)
        assert str(err) == f"{name}(): dropout probability p has to be between 0 and 1, but got {p}"
    with pytest.raises(ValueError, match=rf"^Dropout2d: dropout probability p has to be between 0 and 1, but got {p}$"):
        nn.Dropout2d(p)
    with pytest.raises(ValueError):
        torch.nn.Dropout2d(p)
    with pytest.raises(TypeError, match="dropout probability p must be a number, got str"):
        nn.Dropout("0.5")


def test_input_errors():
    err = both_raise(lambda t: F.dropout1d(t), lambda t: TF.dropout1d(t), np.ones((2, 3, 4, 5), np.float32))
    assert isinstance(err, RuntimeError) and "dropout1d(): expected 2D (C, L) or 3D (N, C, L) input, got 4D input" in str(err)
    err = both_raise(lambda t: F.feature_alpha_dropout(t, 0.5, True), lambda t: TF.feature_alpha_dropout(t, 0.5, True),
                     np.ones(3, np.float32))
    assert "channel dropout requires at least 2 dimensions (N, C, *), got shape (3,)" in str(err)
    with pytest.raises(TypeError, match="dropout\\(\\): expected a floating-point input, got dtype int64"):
        F.dropout(convlab.ones(3, dtype=convlab.int64))
    with pytest.raises(TypeError, match="expected input to be a convlab Tensor, got list"):
        F.dropout([1.0, 2.0])


def test_dropout2d_layer_on_3d_input_drops_rows_like_torch():
    """PyTorch 2.13 does not treat a 3-D input to Dropout2d as unbatched (C, H, W): it warns and
    reads it as (N, C, L), so the unit dropped together is x[i, j, :], not the map x[i]."""
    shape, p = (8, 50, 6), 0.5
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="interpreted as shape \\(N, C, L\\)"):
        theirs = torch.nn.Dropout2d(p)(torch.ones(shape, dtype=torch.float64)).numpy()
    x = convlab.ones(*shape, dtype=convlab.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="treats it as \\(N, C, L\\)"):
        ours = nn.Dropout2d(p)(x)
    ours.backward(convlab.ones(*shape, dtype=convlab.float64))
    for y in (theirs, ours.detach().numpy(), x.grad.numpy()):
        np.testing.assert_array_equal(y, np.broadcast_to(y[..., :1], shape))  # row x[i, j, :] kept or dropped
        assert set(np.unique(y)) == {0.0, 1 / (1 - p)}
        assert all(len(np.unique(y[i])) == 2 for i in range(shape[0]))  # rows of one map x[i] differ
    low, high = _keep_fraction_bounds(p, shape[0] * shape[1])
    assert low < (ours.detach().numpy()[..., 0] != 0).mean() < high


def test_dropout2d_warns_like_torch_for_3d_input():
    x = convlab.ones(2, 3, 4)
    with pytest.warns(UserWarning, match="treats it as \\(N, C, L\\)"):
        y = F.dropout2d(x, 0.5)
    assert y.shape == (2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(convlab.ones(2, 3, 4, 4), 0.5)  # the intended rank: silent
