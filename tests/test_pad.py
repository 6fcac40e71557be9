"""F.pad (all modes, negative amounts) and the padding layers, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import both_raise, check, gradcheck

import convlab
import convlab.nn.functional as F
from convlab import nn


def _random_pad_case(rng, mode):
    """A random (shape, pad) that PyTorch accepts for ``mode`` (negative amounts included)."""
    while True:
        if mode == "constant":
            ndim = int(rng.integers(1, 6))
            k = int(rng.integers(1, ndim + 1))
        else:
            k = int(rng.integers(1, 4))
            ndim = k + int(rng.integers(1, 3))
        shape = tuple(int(n) for n in rng.integers(1, 5, size=ndim))
        amounts = tuple(int(a) for a in rng.integers(-2, 5, size=2 * k))
        try:
            TF.pad(torch.zeros(shape), amounts, mode=mode)
        except (RuntimeError, NotImplementedError):
            continue
        if mode == "circular" and _wraps_cropped_input_twice(shape, amounts):
            continue  # PyTorch reads uninitialised memory there; convlab refuses (tested below)
        return shape, amounts


def _wraps_cropped_input_twice(shape, amounts):
    k = len(amounts) // 2
    for i, n in enumerate(shape[len(shape) - k :]):
        left, right = amounts[2 * (k - 1 - i)], amounts[2 * (k - 1 - i) + 1]
        if max(left, right) > n - max(-left, 0) - max(-right, 0):
            return True
    return False


MODES = ["constant", "reflect", "replicate", "circular"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_matches_torch_on_random_cases(mode, dtype):
    rng = np.random.default_rng([MODES.index(mode), np.dtype(dtype).itemsize])
    for _ in range(12):
        shape, amounts = _random_pad_case(rng, mode)
        x = rng.standard_normal(shape).astype(dtype)
        value = float(rng.uniform(-2, 2)) if mode == "constant" else None
        check(
            lambda t: F.pad(t, amounts, mode=mode, value=value), lambda t: TF.pad(t, amounts, mode=mode, value=value), x
        )


@pytest.mark.parametrize(
    "shape, amounts, mode",
    [
        ((1, 1, 5), (-2, 3), "reflect"),  # the right border reflects elements that the left crop removed
        ((1, 1, 5), (-6, 2), "reflect"),
        ((1, 1, 5), (-2, 3), "replicate"),
        ((1, 1, 5), (7, 0), "replicate"),  # replicate has no limit on the amount
        ((1, 1, 5), (-1, 2), "circular"),  # wraps around the cropped input
        ((1, 1, 5), (5, 5), "circular"),
        ((2, 3, 4, 5), (3, 4, 3, 3), "reflect"),
        ((2, 3, 5), (2, -1, 3, 0), "circular"),
        ((2, 2, 2, 3, 4), (1, 2, 2, 0, 1, 1), "reflect"),
        ((2, 2, 2, 3, 4), (3, -1, 4, 2, -1, 2), "replicate"),
        ((2, 3, 3, 4), (1, 1, -1, 2, 1, 0), "circular"),
        ((3, 4), (-1, -2, 2, 0), "constant"),
        ((2, 3), (-1, -2), "constant"),  # empty output
        ((2, 3, 4, 1, 2), (1, 0, 1, 1, 0, 2, 1, 1, 2, 0), "constant"),
        ((0, 2, 4), (1, 2), "reflect"),  # empty batch
        ((1, 1, 4), (-3, -1), "constant"),  # cropped to size 0: the largest crop allowed
        ((1, 2, 4), (-1, -3), "circular"),
        ((1, 1, 5), (2, -6), "reflect"),  # crops more than the input, but not more than the padded input
        ((1, 2, 3, 3), (0, 0, 1, -4), "replicate"),  # one empty dim
    ],
)
def test_pad_edge_cases(shape, amounts, mode):
    x = np.random.default_rng(0).standard_normal(shape)
    check(lambda t: F.pad(t, amounts, mode=mode), lambda t: TF.pad(t, amounts, mode=mode), x)


@pytest.mark.parametrize(
    "shape, amounts, mode",
    [
        ((2, 3, 4), (2, -1), "constant"),
        ((2, 3, 4), (3, 2, -1, 1), "reflect"),
        ((1, 2, 3, 3), (2, 1, 1, 3), "replicate"),
        ((2, 4, 3), (-1, 2, 3, 1), "circular"),
        ((1, 1, 3, 2, 3), (1, 2, 1, 0, 2, 1), "reflect"),
    ],
)
def test_pad_gradcheck(shape, amounts, mode):
    x = np.random.default_rng(1).standard_normal(shape)
    gradcheck(lambda t: F.pad(t, amounts, mode=mode), x)


def test_pad_keeps_dtype_and_fills_integer_tensors_like_torch():
    x = np.arange(5, dtype=np.float32).reshape(1, 1, 5)
    assert F.pad(convlab.tensor(x), (1, 1), mode="reflect").dtype == np.float32
    ints = np.arange(10).reshape(2, 5)
    for mode, value in [("constant", 2.7), ("reflect", None), ("replicate", None), ("circular", None)]:
        got = F.pad(convlab.tensor(ints), (2, 1), mode=mode, value=value).numpy()
        expected = TF.pad(torch.from_numpy(ints), (2, 1), mode=mode, value=value).numpy()
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_pad_does_not_modify_the_incoming_gradient():
    x = convlab.tensor(np.ones((1, 2, 3)), requires_grad=True)
    y = F.pad(x, (2, 2), mode="replicate")
    g = np.ones(y.shape)
    y.backward(convlab.tensor(g))
    np.testing.assert_array_equal(g, np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.numpy(), [[[3.0, 1.0, 3.0]] * 2])


@pytest.mark.parametrize(
    "shape, amounts, kwargs, match",
    [
        ((1, 1, 5), (1,), {}, "even length"),
        ((1, 1, 5), (1, 1, 1, 1, 1, 1, 1, 1), {}, "takes at most 6"),
        ((1, 1, 5), (-3, -3), {}, "padding (-3, -3) of dimension 2 crops 6 elements from a dimension of size 5"),
        ((1, 1, 4), (-5, 2), {}, "padding (-5, 2) of dimension 2 crops 5 elements from a dimension of size 4"),
        ((1, 1, 4), (3, -5), {}, "padding (3, -5) of dimension 2 crops 5 elements from a dimension of size 4"),
        ((1, 1, 3), (0, -4), {"mode": "circular"}, "padding (0, -4) of dimension 2 crops 4 elements from a dimension"),
        ((1, 1, 3), (-5, -5), {"mode": "circular"}, "crops 10 elements from a dimension of size 3; expected at most 3"),
        ((1, 1, 3), (0, -4), {"mode": "reflect"}, "reflect padding (0, -4) of dimension 2 (size 3) gives a negative"),
        ((1, 1, 3), (1, -5), {"mode": "replicate"}, "(1, -5) of dimension 2 (size 3) gives a negative output size -1"),
        ((1, 3, 3), (1, 0, -4, 0), {"mode": "replicate"}, "(-4, 0) of dimension 1 (size 3) gives a negative output"),
        ((1, 1, 3, 3, 3), (-4, 0, 0, 0, 0, 0), {"mode": "reflect"}, "(-4, 0) of dimension 4 (size 3) gives a negative"),
        ((1, 1, 3, 3), (-4, 0, -3, 0), {"mode": "reflect"}, "gives a negative output size -1"),
        ((1, 1, 5), (5, 0), {"mode": "reflect"}, "padding (5, 0) for dimension 2 of size 5"),
        ((1, 1, 3, 5), (1, 1, 3, 0), {"mode": "reflect"}, "padding (3, 0) for dimension 2 of size 3"),
        ((1, 1, 5), (6, 0), {"mode": "circular"}, "more than once; expected padding <= 5"),
        ((1, 1, 3, 5), (1, 1), {"mode": "reflect"}, "length 2 is not supported for a 4-D input"),
        ((5,), (1, 1), {"mode": "replicate"}, "length 2 is not supported for a 1-D input"),
        ((1, 3, 3), (1, 1, 1, 1, 1, 1), {"mode": "circular"}, "length 6 is not supported for a 3-D input"),
        ((1, 0, 5), (1, 1), {"mode": "reflect"}, "non-zero C and spatial sizes"),
        ((1, 1, 5), (-3, -2), {"mode": "replicate"}, "leaves no element"),
        ((1, 1, 5), (1, 1), {"mode": "reflect", "value": 1.0}, "does not take a fill value"),
        ((1, 1, 5), (1, 1), {"mode": "wrap"}, "unknown padding mode 'wrap'"),
        ((1, 1, 5), (1.0, 1), {}, "tuple of ints, got float at position 0"),
    ],
)
def test_pad_bad_input(shape, amounts, kwargs, match):
    both_raise(
        lambda t: F.pad(t, amounts, **kwargs), lambda t: TF.pad(t, amounts, **kwargs), np.zeros(shape), match=match
    )


def test_circular_pad_refuses_to_wrap_a_cropped_input_twice():
    # PyTorch copies overlapping memory here (an error or uninitialised values, depending on the batch).
    with pytest.raises(
        ValueError, match="wrap around the cropped input \\(size 2\\) more than once; expected padding <= 2"
    ):
        F.pad(convlab.zeros(2, 1, 4), (3, -2), mode="circular")
    # a crop of more than the size, padded back to a non-negative size: PyTorch returns uninitialised values
    with pytest.raises(
        ValueError, match="padding \\(-5, 2\\) of dimension 2 crops 5 elements from a dimension of size 4"
    ):
        F.pad(convlab.zeros(2, 1, 4), (-5, 2), mode="circular")


def test_pad_rejects_non_tensor_input():
    with pytest.raises(TypeError, match="pad\\(\\): expected input to be a convlab Tensor, got ndarray"):
        F.pad(np.zeros((1, 1, 3)), (1, 1))


# ---------------------------------------------------------------------------------- layers
PAD_LAYERS = [
    f"{kind}Pad{n}d" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular") for n in (1, 2, 3)
]


def _layer_args(name, padding):
    return (padding, 1.5) if name.startswith("Constant") else (padding,)


@pytest.mark.parametrize("name", PAD_LAYERS)
def test_padding_layer_repr_and_parity(name):
    n = int(name[-2])
    rng = np.random.default_rng(PAD_LAYERS.index(name))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2 * n))
    for arg in (2 if name.startswith(("Zero", "Constant")) else 1, padding, list(padding)):
        ours, theirs = getattr(nn, name)(*_layer_args(name, arg)), getattr(torch.nn, name)(*_layer_args(name, arg))
        assert repr(ours) == repr(theirs)
        assert ours.padding == theirs.padding
    batched = tuple(int(s) for s in rng.integers(3, 5, size=n + 2))
    for shape in (batched, batched[1:]):
        x = rng.standard_normal(shape)
        check(ours, theirs, x)


def test_padding_layer_errors_name_the_layer():
    with pytest.raises(
        TypeError, match=r"ReflectionPad2d\(\): padding must be an int or a tuple of 4 ints, got \(1, 2\)"
    ):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(TypeError, match=r"ZeroPad1d\(\): padding must be an int or a tuple of 2 ints, got 1.5"):
        nn.ZeroPad1d(1.5)
    err = both_raise(nn.CircularPad2d(1), torch.nn.CircularPad2d(1), np.zeros((1, 1, 1, 3, 3)))
    assert str(err) == (
        "CircularPad2d((1, 1, 1, 1)): expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape (1, 1, 1, 3, 3)"
    )
    err = both_raise(nn.ReflectionPad1d(3), torch.nn.ReflectionPad1d(3), np.zeros((2, 1, 3)))
    assert str(err).startswith(
        "ReflectionPad1d((3, 3)): reflect padding must be less than the input size, got padding (3, 3)"
    )
    err = both_raise(nn.ZeroPad2d(-2), torch.nn.ZeroPad2d(-2), np.zeros((2, 1, 3, 3)))
    assert str(err).startswith(
        "ZeroPad2d((-2, -2, -2, -2)): padding (-2, -2) of dimension 2 crops 4 elements from a dimension of size 3"
    )


# ---------------------------------------------------------------------------------- GPU
@pytest.mark.parametrize("mode", MODES)
def test_pad_on_gpu_matches_cpu(mode):
    pytest.importorskip("cupy")
    if not convlab.backend.cuda_is_available():
        pytest.skip("CuPy is installed but no CUDA device is visible")
    rng = np.random.default_rng(MODES.index(mode))
    shape, amounts = _random_pad_case(rng, mode)
    x = rng.standard_normal(shape).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        t = convlab.tensor(x, device=device, requires_grad=True)
        y = F.pad(t, amounts, mode=mode, value=0.5 if mode == "constant" else None)
        (y * y).sum().backward()
        results.append((y.detach().cpu().numpy(), t.grad.cpu().numpy()))
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-5)
