"""Pre-defined sparse layers (SparseConv2d, SparseLinear) and binarised layers (BinaryConv2d,
BinaryLinear: BinaryConnect and XNOR-Net): forward against torch's conv/linear on the masked or
binarised weights (float64), gradients against the explicit straight-through formulas and
gradcheck, masked weights exactly zero through training, and the zoo models under `convlab train`."""

from __future__ import annotations

import dataclasses
import gzip
import json
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import gradcheck

import convlab
from convlab import nn
from convlab.nn.modules.binary import sign_ste
from convlab.nn.modules.predefined_sparse import connection_mask
from convlab.nn.utils import prune


# ---------------------------------------------------------------------------------- patterns
def test_periodic_conv_pattern():
    mask = connection_mask((8, 4, 3, 3), 0.25)
    taps = mask.reshape(8, 4, 9)
    assert np.all(taps.sum(axis=2) == 2)  # round(0.25 * 9) taps per kernel
    for o in range(8):
        for c in range(4):  # two consecutive taps from (o + c) * 2, wrapping
            assert set(np.flatnonzero(taps[o, c])) == {(o + c) * 2 % 9, ((o + c) * 2 + 1) % 9}
    counts = taps.sum(axis=(0, 1))
    assert counts.max() - counts.min() <= 1  # every tap position used (almost) equally often
    np.testing.assert_array_equal(taps[0, 1], taps[1, 0])  # periodic across filters and channels


def test_periodic_linear_and_pointwise_patterns():
    mask = connection_mask((6, 8), 0.5)
    assert np.all(mask.sum(axis=1) == 4) and np.all(mask.sum(axis=0) == 3)  # fixed fan-in, balanced fan-out
    np.testing.assert_array_equal(np.flatnonzero(mask[1]), [4, 5, 6, 7])
    pointwise = connection_mask((4, 8, 1, 1), 0.25)[:, :, 0, 0]
    assert np.all(pointwise.sum(axis=1) == 2) and np.all(pointwise.sum(axis=0) == 1)


def test_random_pattern_is_seeded():
    a, b, c = (connection_mask((16, 8, 3, 3), 0.3, "random", seed) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and np.all(a.reshape(128, 9).sum(axis=1) == 3)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"density": 0.0}, r"SparseConv2d\(\): density must be a fraction in \(0, 1\], got density=0.0"),
        ({"density": 1.5}, "density must be a fraction in"),
        ({"pattern": "diagonal"}, r"pattern must be one of \('periodic', 'random'\), got pattern='diagonal'"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_sparse_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.SparseConv2d(2, 4, 3, **kwargs)
    with pytest.raises(ValueError, match=message.replace("SparseConv2d", "SparseLinear")):
        nn.SparseLinear(4, 3, **kwargs)


# ---------------------------------------------------------------------------------- sparse layers
def test_sparse_layers_match_torch_on_masked_weights(rng):
    conv = nn.SparseConv2d(3, 6, 3, padding=1, stride=2, density=0.3, pattern="random", seed=4).double()
    fc = nn.SparseLinear(12, 5, density=0.25).double()
    for layer, x, fn in (
        (conv, rng.standard_normal((2, 3, 7, 7)), lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1)),
        (fc, rng.standard_normal((4, 12)), TF.linear),
    ):
        mask = layer.mask.numpy()
        assert np.all(layer.weight.detach().numpy()[mask == 0] == 0)
        layer.weight.data[...] = rng.standard_normal(mask.shape)  # nonzero everywhere: the mask must act
        xt, w = torch.from_numpy(x).requires_grad_(), torch.from_numpy(layer.weight.detach().numpy()).requires_grad_()
        expected = fn(xt, w * torch.from_numpy(mask), torch.from_numpy(layer.bias.detach().numpy()))
        xc = convlab.tensor(x, requires_grad=True)
        out = layer(xc)
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(expected.shape)
        (out * convlab.tensor(g)).sum().backward()
        expected.backward(torch.from_numpy(g))
        np.testing.assert_allclose(layer.weight.grad.numpy(), w.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        assert np.all(layer.weight.grad.numpy()[mask == 0] == 0)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: convlab.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
        lambda p: convlab.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
        lambda p: convlab.optim.Adam(p, lr=1e-2, weight_decay=1e-3),
    ],
)
def test_masked_weights_stay_exactly_zero_through_training(make_optimizer, rng):
    net = nn.Sequential(
        nn.SparseConv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.SparseLinear(4 * 6 * 6, 3, density=0.1)
    )
    masks = [m.mask.numpy().copy() for m in (net[0], net[3])]
    optimizer = make_optimizer(net.parameters())
    for _ in range(4):
        x = convlab.tensor(rng.standard_normal((5, 1, 6, 6)).astype(np.float32))
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), convlab.tensor(rng.integers(0, 3, 5))).backward()
        optimizer.step()
    for layer, mask in zip((net[0], net[3]), masks):
        weight = layer.weight.detach().numpy()
        assert np.all(weight[mask == 0] == 0) and np.all(weight[mask == 1] != 0)
        np.testing.assert_array_equal(layer.mask.numpy(), mask)


def test_sparse_mask_is_saved_with_the_model(tmp_path):
    layer = nn.SparseConv2d(2, 4, 3, density=0.5, pattern="random", seed=7)
    assert list(layer.state_dict()) == ["weight", "bias", "mask"]
    convlab.save(layer.state_dict(), tmp_path / "sparse.safetensors")
    other = nn.SparseConv2d(2, 4, 3, density=0.5, pattern="random", seed=8)
    other.load_state_dict(convlab.load(tmp_path / "sparse.safetensors"))
    np.testing.assert_array_equal(other.mask.numpy(), layer.mask.numpy())
    x = convlab.randn(1, 2, 5, 5)
    np.testing.assert_array_equal(other(x).detach().numpy(), layer(x).detach().numpy())
    prune.l1_unstructured(other, "weight", 0.5)  # pruning composes with the fixed mask
    expected = nn.functional.conv2d(x, other.weight * other.mask, other.bias)
    np.testing.assert_array_equal(other(x).detach().numpy(), expected.detach().numpy())


# ---------------------------------------------------------------------------------- binary layers
def test_sign_ste_value_and_gradient():
    x = convlab.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5], dtype=convlab.float64, requires_grad=True)
    y = sign_ste(x)
    (y * convlab.tensor([1.0, 2, 3, 4, 5, 6, 7], dtype=convlab.float64)).sum().backward()
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1]
    assert x.grad.tolist() == [0, 2, 3, 4, 5, 6, 0]  # passed through where |x| <= 1


@pytest.mark.parametrize("mode", ["binaryconnect", "xnor"])
def test_binary_layers_forward_and_gradients(mode, rng):
    conv = nn.BinaryConv2d(3, 4, 3, padding=1, mode=mode).double()
    fc = nn.BinaryLinear(6, 3, mode=mode).double()
    for layer, x, fn in (
        (conv, rng.standard_normal((2, 3, 5, 5)), lambda x, w, b: TF.conv2d(x, w, b, padding=1)),
        (fc, rng.standard_normal((4, 6)), TF.linear),
    ):
        w = layer.weight.detach().numpy()
        w[0].flat[:2] = [1.5, -3.0]  # beyond the STE's range
        layer.weight.data[...] = w
        sign = np.where(w >= 0, 1.0, -1.0)
        axes = tuple(range(1, w.ndim))
        alpha = np.abs(w).mean(axis=axes, keepdims=True) if mode == "xnor" else 1.0
        x_in = np.where(x >= 0, 1.0, -1.0) if mode == "xnor" else x
        wt = torch.from_numpy(sign * alpha).requires_grad_()
        xt = torch.from_numpy(x_in).requires_grad_()
        expected = fn(xt, wt, torch.from_numpy(layer.bias.detach().numpy()))
        xc = convlab.tensor(x, requires_grad=True)
        out = layer(xc)
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(expected.shape)
        (out * convlab.tensor(g)).sum().backward()
        expected.backward(torch.from_numpy(g))
        g_w = wt.grad.numpy()  # dL/d(binary weight)
        inside = np.abs(w) <= 1
        if mode == "binaryconnect":
            expected_w = g_w * inside
            expected_x = xt.grad.numpy()
        else:  # d(alpha sign(W))/dW: STE through sign, exact through alpha = mean|W|
            n = np.prod([w.shape[a] for a in axes])
            expected_w = g_w * alpha * inside + sign / n * (g_w * sign).sum(axis=axes, keepdims=True)
            expected_x = xt.grad.numpy() * (np.abs(x) <= 1)
        np.testing.assert_allclose(layer.weight.grad.numpy(), expected_w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xc.grad.numpy(), expected_x, rtol=1e-10, atol=1e-12)
        assert layer.bias.grad is not None


def test_gradchecks_where_differentiable(rng):
    # a sparse layer is differentiable in its input and weight, a BinaryConnect layer in its input
    # (XNOR's gradients, through sign's straight-through estimator, are checked above by formula)
    sparse = nn.SparseConv2d(2, 3, 3, density=0.5, pattern="random").double()
    binary = nn.BinaryConv2d(2, 3, 3, padding=1).double()
    x = rng.standard_normal((1, 2, 4, 4))

    def sparse_fn(inputs, weight):
        return sparse._conv_forward(inputs, weight * sparse.mask, sparse.bias)

    gradcheck(sparse_fn, x, rng.standard_normal((3, 2, 3, 3)))
    gradcheck(binary, x)


def test_binary_bad_mode():
    with pytest.raises(
        ValueError, match=r"BinaryConv2d\(\): mode must be one of \('binaryconnect', 'xnor'\), got mode='xor'"
    ):
        nn.BinaryConv2d(1, 2, 3, mode="xor")
    with pytest.raises(ValueError, match=r"BinaryLinear\(\): mode must be one of"):
        nn.BinaryLinear(2, 3, mode="ternary")
    with pytest.raises(TypeError, match=r"BinaryLinear\(in_features=2.*expected a Tensor input"):
        nn.BinaryLinear(2, 3, mode="xnor")(np.zeros((1, 2)))


# ---------------------------------------------------------------------------------- the zoo models
def write_fake_fashion(folder, n_train, n_test, rng):
    """Fashion-MNIST's four IDX files (gzip) with random images, as the dataset reads them."""
    folder.mkdir(parents=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for kind, array, code in (("images-idx3", images, 3), ("labels-idx1", labels, 1)):
            header = struct.pack(">HBB", 0, 0x08, code) + struct.pack(f">{array.ndim}I", *array.shape)
            (folder / f"{split}-{kind}-ubyte.gz").write_bytes(gzip.compress(header + array.tobytes()))


@pytest.mark.parametrize("name", ["fmnist_cnn_sparse", "fmnist_cnn_binary", "fmnist_cnn_xnor"])
def test_zoo_models_train_with_convlab_train(name, tmp_path, monkeypatch, rng):
    from convlab import recipes
    from convlab.cli import main

    write_fake_fashion(tmp_path / "data", 60, 20, rng)
    small = dataclasses.replace(recipes.RECIPES["fashion-mnist"], val_size=20)  # a quick run
    monkeypatch.setitem(recipes.RECIPES, "fashion-mnist", small)
    out = tmp_path / "run"
    argv = ["train", "--model", name, "--epochs", "1", "--batch-size", "20", "--data-root", str(tmp_path / "data"),
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((out / "results.json").read_text())["model"] == name
    state = convlab.load(out / "best.safetensors")["model"]
    net = convlab.models.get_model(name)
    net.load_state_dict(state)
    if name == "fmnist_cnn_sparse":
        assert "0.mask" in state and "17.mask" in state
        for layer in (net[0], net[17]):
            assert np.all(layer.weight.detach().numpy()[layer.mask.numpy() == 0] == 0)
    else:
        assert isinstance(net[3], nn.BinaryConv2d) and isinstance(net[17], nn.BinaryLinear)
        assert net[3].mode == ("xnor" if name.endswith("xnor") else "binaryconnect")
        assert type(net[0]) is nn.Conv2d and type(net[21]) is nn.Linear  # first and last in full precision
