"""Unpooling (convlab.ops.pool): max_unpool1d/2d/3d against PyTorch, bed-of-nails and
nearest-neighbour unpooling, their gradients, and the error messages (output_size inconsistent
with the indices, ...)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import both_raise, check, gradcheck

import convlab
import convlab.nn.functional as F


def _pool_case(rng, n):
    kernel = tuple(int(k) for k in rng.integers(1, 4, n))
    stride = tuple(int(s) for s in rng.integers(1, 4, n))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    spatial = tuple(k + int(rng.integers(0, 5)) for k in kernel)
    return kernel, stride, padding, spatial


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(8))
def test_max_unpool_matches_torch(n, dtype, seed):
    """Unpool torch's own pooling indices (values and gradients), with and without output_size."""
    rng = np.random.default_rng(100 * n + seed)
    kernel, stride, padding, spatial = _pool_case(rng, n)
    lead = (3,) if seed % 3 == 2 else (2, 3)  # unbatched or batched
    x = rng.standard_normal(lead + spatial).astype(dtype)
    pooled, indices = getattr(TF, f"max_pool{n}d")(torch.from_numpy(x), kernel, stride, padding, return_indices=True)
    output_size = [x.shape if len(lead) == 2 else spatial, spatial, None][seed % 3]
    if output_size is None and any((o - 1) * s - 2 * p + k != m for o, s, p, k, m in zip(pooled.shape[-n:], stride, padding, kernel, spatial)):
        output_size = spatial  # the default size would not hold every index
    cl, th = getattr(F, f"max_unpool{n}d"), getattr(TF, f"max_unpool{n}d")
    check(
        lambda v, i: cl(v, i, kernel, stride, padding, output_size),
        lambda v, i: th(v, i, kernel, stride, padding, output_size),
        pooled.numpy(),
        indices.numpy(),
    )


def test_max_unpool_after_max_pool_keeps_the_maxima():
    """Seed 001's max-unpooling: the upsampled map holds each window's maximum where it was."""
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    y, i = F.max_pool2d(convlab.tensor(x), 2, return_indices=True)
    restored = F.max_unpool2d(y, i, 2).numpy()
    windows = x.reshape(2, 3, 3, 2, 3, 2)
    is_max = windows == windows.max(axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(restored, np.where(is_max, windows, 0).reshape(x.shape))


def test_max_unpool_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 5, 5))
    # non-overlapping windows: with overlapping ones an index can repeat, and only one of the
    # values written there survives (its gradient is then a subgradient, as in PyTorch)
    _, i = F.max_pool2d(convlab.tensor(x), 2, return_indices=True)
    gradcheck(lambda v: F.max_unpool2d(v, i, 2, output_size=(5, 5)), rng.standard_normal(i.shape))


def test_bed_of_nails_places_values_in_block_corners():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    y = F.bed_of_nails_unpool2d(convlab.tensor(x), (2, 3)).numpy()
    assert y.shape == (2, 3, 8, 15)
    blocks = y.reshape(2, 3, 4, 2, 5, 3)
    np.testing.assert_array_equal(blocks[:, :, :, 0, :, 0], x)
    blocks[:, :, :, 0, :, 0] = 0
    assert not blocks.any()


def test_bed_of_nails_is_max_unpool_with_top_left_indices():
    """Bed of nails = max unpooling as if every window's maximum sat in its top-left corner."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5))  # unbatched
    h, w = np.meshgrid(np.arange(4) * 2, np.arange(5) * 2, indexing="ij")
    corners = np.broadcast_to(h * 10 + w, x.shape).astype(np.int64)
    check(
        lambda v: F.bed_of_nails_unpool2d(v, 2),
        lambda v: TF.max_unpool2d(v, torch.from_numpy(corners), 2),
        x,
    )


def test_bed_of_nails_gradcheck():
    gradcheck(lambda t: F.bed_of_nails_unpool2d(t, (3, 2)), np.random.default_rng(0).standard_normal((1, 2, 3, 3)))


@pytest.mark.parametrize("kernel", [2, (3, 2)])
@pytest.mark.parametrize("batched", [True, False])
def test_nearest_unpool_repeats_each_value_over_its_block(kernel, batched):
    """Nearest-neighbour unpooling is PyTorch's interpolate(mode="nearest") with an integer scale."""
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5) if batched else (3, 4, 5))
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    y = check(
        lambda t: F.nearest_unpool2d(t, kernel),
        lambda t: TF.interpolate(t if batched else t[None], scale_factor=(kh, kw), mode="nearest").reshape(
            x.shape[:-2] + (4 * kh, 5 * kw)
        ),
        x,
    )[0]
    np.testing.assert_array_equal(y.detach().numpy(), np.repeat(np.repeat(x, kh, axis=-2), kw, axis=-1))


def test_nearest_unpool_gradcheck_and_errors():
    gradcheck(lambda t: F.nearest_unpool2d(t, (2, 3)), np.random.default_rng(0).standard_normal((1, 2, 3, 2)))
    with pytest.raises(ValueError, match=r"nearest_unpool2d\(\): kernel_size must be positive, got kernel_size=\(2, 0\)"):
        F.nearest_unpool2d(convlab.zeros(1, 1, 2, 2), (2, 0))
    with pytest.raises(ValueError, match=r"nearest_unpool2d\(\): expected input of shape \(N, C, H, W\) or \(C, H, W\)"):
        F.nearest_unpool2d(convlab.zeros(4), 2)


# ------------------------------------------------------------------------------ errors
def _pooled():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    y, i = TF.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    return y.numpy(), i.numpy()


def test_output_size_outside_the_valid_range_raises_like_torch():
    y, i = _pooled()
    err = both_raise(
        lambda v, j: F.max_unpool2d(v, j, 2, output_size=(7, 7)), lambda v, j: TF.max_unpool2d(v, j, 2, output_size=(7, 7)), y, i
    )
    assert "max_unpool2d(): invalid output_size (7, 7): dim 0 must be between 2 and 6 (exclusive)" in str(err)


def test_output_size_inconsistent_with_indices_raises_like_torch():
    y, i = _pooled()  # pooled from 5x5: index 12 does not fit a 3x3 output
    err = both_raise(
        lambda v, j: F.max_unpool2d(v, j, 2, output_size=(3, 3)), lambda v, j: TF.max_unpool2d(v, j, 2, output_size=(3, 3)), y, i
    )
    assert "max_unpool2d(): found an invalid max index" in str(err)
    assert "for an output of spatial size (3, 3) (expected indices in [0, 9))" in str(err)


def test_indices_shape_and_dtype_errors():
    y, i = _pooled()
    err = both_raise(lambda v, j: F.max_unpool2d(v, j, 2), lambda v, j: TF.max_unpool2d(v, j, 2), y, i[..., :1])
    assert "expected indices of the input's shape (1, 2, 2, 2), got (1, 2, 2, 1)" in str(err)
    err = both_raise(lambda v, j: F.max_unpool2d(v, j, 2), lambda v, j: TF.max_unpool2d(v, j, 2), y, i.astype(np.int32))
    assert "expected indices of dtype int64 (as returned by max_pool2d), got int32" in str(err)
    with pytest.raises(ValueError, match=r"max_unpool2d\(\): output_size must have 2 or 4 elements, got \(5,\)"):
        F.max_unpool2d(convlab.tensor(y), convlab.tensor(i), 2, output_size=(5,))
    with pytest.raises(ValueError, match=r"max_unpool2d\(\): stride must be positive, got stride=\(0, 0\)"):
        F.max_unpool2d(convlab.tensor(y), convlab.tensor(i), 2, stride=0)


def test_bed_of_nails_errors():
    with pytest.raises(ValueError, match=r"bed_of_nails_unpool2d\(\): kernel_size must be positive, got kernel_size=\(0, 2\)"):
        F.bed_of_nails_unpool2d(convlab.zeros(1, 1, 2, 2), (0, 2))
    with pytest.raises(ValueError, match=r"bed_of_nails_unpool2d\(\): expected input of shape \(N, C, H, W\) or \(C, H, W\)"):
        F.bed_of_nails_unpool2d(convlab.zeros(2, 2), 2)
