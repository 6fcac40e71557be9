"""unfold (im2col) and fold (col2im): functional forms and nn.Unfold / nn.Fold against PyTorch on
seeded random configurations, float64 gradchecks, the im2col identity with conv2d, reprs and
error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import both_raise, check, gradcheck

import convlab
import convlab.nn.functional as F
from convlab import nn


def block_case(seed):
    rng = np.random.default_rng(seed)
    kernel = tuple(int(k) for k in rng.integers(1, 4, 2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
    padding = tuple(int(p) for p in rng.integers(0, 3, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    size = tuple(
        max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 5)) for k, d, p in zip(kernel, dilation, padding)
    )
    as_int = rng.random() < 0.3  # ints instead of pairs
    args = {
        "kernel_size": kernel[0] if as_int else kernel,
        "dilation": dilation[0] if as_int else dilation,
        "padding": padding[0] if as_int else padding,
        "stride": stride[0] if as_int else stride,
    }
    if as_int:
        kernel, dilation, padding, stride = (kernel[0],) * 2, (dilation[0],) * 2, (padding[0],) * 2, (stride[0],) * 2
        size = tuple(max(s, d * (k - 1) + 1 - 2 * p) for s, k, d, p in zip(size, kernel, dilation, padding))
    batch = () if rng.random() < 0.2 else (int(rng.integers(1, 3)),)
    x = rng.standard_normal(batch + (int(rng.integers(1, 4)),) + size)
    return x, size, args


@pytest.mark.parametrize("seed", range(16))
def test_unfold_matches_torch(seed):
    x, _, args = block_case(seed)
    check(lambda x: F.unfold(x, **args), lambda x: TF.unfold(x, **args), x)


@pytest.mark.parametrize("seed", range(16))
def test_fold_matches_torch(seed):
    x, size, args = block_case(seed)
    cols = np.random.default_rng(seed).standard_normal(tuple(TF.unfold(torch.tensor(x), **args).shape))
    check(lambda c: F.fold(c, size, **args), lambda c: TF.fold(c, size, **args), cols)


@pytest.mark.parametrize("seed", range(4))
def test_float32(seed):
    x, size, args = block_case(seed)
    out = check(
        lambda x: F.fold(F.unfold(x, **args), size, **args),
        lambda x: TF.fold(TF.unfold(x, **args), size, **args),
        x.astype(np.float32),
    )
    assert out[0].dtype == np.float32


def test_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 4, 5))
    gradcheck(lambda x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), x)
    cols = rng.standard_normal((2, 2 * 4, 9))
    gradcheck(lambda c: F.fold(c, (4, 4), 2, padding=1, stride=(2, 2)), cols)


def test_unfold_gemm_is_conv2d():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 2))
    cols = F.unfold(convlab.tensor(x), (3, 2), padding=1, stride=2)
    y = (convlab.tensor(w.reshape(4, -1)) @ cols).reshape(2, 4, 3, 4)
    np.testing.assert_allclose(
        y.numpy(), TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1, stride=2).numpy(), rtol=1e-12, atol=1e-12
    )


def test_empty_batch_matches_torch():
    args = {"kernel_size": (2, 3), "padding": 1, "stride": 2}
    check(lambda x: F.unfold(x, **args), lambda x: TF.unfold(x, **args), np.zeros((0, 2, 5, 4)))
    check(lambda c: F.fold(c, (5, 4), **args), lambda c: TF.fold(c, (5, 4), **args), np.zeros((0, 12, 6)))
    check(lambda x: nn.Unfold(**args)(x), lambda x: torch.nn.Unfold(**args)(x), np.zeros((0, 2, 5, 4)))


@pytest.mark.parametrize("kernel_size", [1, (1, 4), 4])  # blocks that tile the input: a view would do
def test_unfold_returns_a_new_array(kernel_size):
    x = convlab.arange(16.0).reshape(1, 1, 4, 4)
    cols = F.unfold(x, kernel_size, stride=kernel_size)
    assert not np.shares_memory(cols.numpy(), x.numpy())
    cols.numpy()[...] = -1.0
    np.testing.assert_array_equal(x.numpy(), np.arange(16.0).reshape(1, 1, 4, 4))


def test_fold_counts_block_membership():
    out = F.fold(F.unfold(convlab.ones(1, 1, 4, 4), 2), (4, 4), 2)
    np.testing.assert_array_equal(out.numpy()[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


@pytest.mark.parametrize("seed", range(4))
def test_modules_match_torch(seed):
    x, size, args = block_case(seed)
    assert repr(nn.Unfold(**args)) == repr(torch.nn.Unfold(**args))
    assert repr(nn.Fold(size, **args)) == repr(torch.nn.Fold(size, **args))
    check(
        lambda x: nn.Fold(size, **args)(nn.Unfold(**args)(x)),
        lambda x: torch.nn.Fold(size, **args)(torch.nn.Unfold(**args)(x)),
        x,
    )


def test_errors():
    err = both_raise(lambda x: F.unfold(x, 2), lambda x: TF.unfold(x, 2), np.zeros((1, 3, 5, 5, 5)))
    assert (
        "unfold(): expected a 3-D (C, H, W) or 4-D (N, C, H, W) input with non-zero C, H, W, got shape (1, 3, 5, 5, 5)"
        in str(err)
    )
    err = both_raise(lambda x: F.unfold(x, 4), lambda x: TF.unfold(x, 4), np.zeros((1, 3, 3, 5)))
    assert "unfold(): kernel_size=(4, 4) with dilation=(1, 1) does not fit in the input of spatial size (3, 5)" in str(
        err
    )
    err = both_raise(lambda c: F.fold(c, (5, 5), 2), lambda c: TF.fold(c, (5, 5), 2), np.zeros((1, 13, 16)))
    assert (
        "fold(): expected input dimension 1 (size 13) to be divisible by the product of kernel_size=(2, 2) (4)"
        in str(err)
    )
    err = both_raise(lambda c: F.fold(c, (5, 5), 2), lambda c: TF.fold(c, (5, 5), 2), np.zeros((1, 12, 15)))
    assert "give 4 * 4 = 16 blocks, but the input has 15 (shape (1, 12, 15))" in str(err)
    err = both_raise(lambda c: F.fold(c, (5, 5), 2), lambda c: TF.fold(c, (5, 5), 2), np.zeros((1, 1, 12, 16)))
    assert "fold(): expected a 2-D (C*kH*kW, L) or 3-D (N, C*kH*kW, L) input, got shape (1, 1, 12, 16)" in str(err)
    with pytest.raises(
        ValueError, match=r"Unfold\(kernel_size=2, dilation=1, padding=-1, stride=1\): padding must be non-negative"
    ):
        nn.Unfold(2, padding=-1)(convlab.zeros(1, 1, 4, 4))
