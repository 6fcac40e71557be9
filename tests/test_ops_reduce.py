"""Reductions (convlab.ops.reduce): parity with PyTorch over random shapes, dims and keepdim,
float64 gradchecks, integer/bool result dtypes, ties, empty tensors and the error messages."""

import numpy as np
import pytest
import torch

import convlab
from parity import both_raise, check, gradcheck
from random_cases import array, random_shape

DTYPES = [np.float64, np.float32]


def _random_dims(rng, ndim, allow_tuple=True):
    """None, one dim (maybe negative) or a tuple of distinct dims."""
    if ndim == 0:
        return [None, 0, -1][int(rng.integers(0, 3))]
    choice = rng.random()
    if choice < 0.2:
        return None
    if choice < 0.6 or not allow_tuple:
        d = int(rng.integers(0, ndim))
        return d - ndim if rng.random() < 0.5 else d
    k = int(rng.integers(1, ndim + 1))
    return tuple(int(d) for d in rng.choice(ndim, size=k, replace=False))


REDUCTIONS = {
    "sum": lambda x, d, k: x.sum(d, keepdim=k) if d is not None else x.sum(),
    "mean": lambda x, d, k: x.mean(d, keepdim=k) if d is not None else x.mean(),
    "amax": lambda x, d, k: x.amax(() if d is None else d, keepdim=k),
    "amin": lambda x, d, k: x.amin(() if d is None else d, keepdim=k),
    "var": lambda x, d, k: x.var(d, keepdim=k),
    "var_biased": lambda x, d, k: x.var(d, unbiased=False, keepdim=k),
    "var_correction2": lambda x, d, k: x.var(d, keepdim=k, correction=2),
    "std": lambda x, d, k: x.std(d, keepdim=k),
    "std_biased": lambda x, d, k: x.std(d, correction=0, keepdim=k),
    "logsumexp": lambda x, d, k: x.logsumexp(tuple(range(x.ndim)) if d is None else d, keepdim=k),
    "norm2": lambda x, d, k: x.norm(2, d, keepdim=k),
    "norm1": lambda x, d, k: x.norm(1, d, keepdim=k),
    "norm3": lambda x, d, k: x.norm(3, d, keepdim=k),
}
SINGLE_DIM = {
    "prod": lambda x, d, k: x.prod(d, keepdim=k) if d is not None else x.prod(),
    "norm_inf": lambda x, d, k: x.norm(float("inf"), d, keepdim=k),
}


def _case(name, seed, dtype, max_ndim=4):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 0, max_ndim)
    fn = {**REDUCTIONS, **SINGLE_DIM}[name]
    dim = _random_dims(rng, len(shape), allow_tuple=name in REDUCTIONS)
    keepdim = bool(rng.random() < 0.5)
    low = 0.3 if name in ("prod",) else -2.0
    x = array(rng, shape, dtype, low, 2.0, away_from_zero=name.startswith("norm"))
    if name.startswith("var") or name.startswith("std"):
        n = np.prod([shape[d] for d in np.atleast_1d(range(len(shape)) if dim is None else dim)]) if shape else 1
        if n <= (2 if name == "var_correction2" else 1):
            x = array(rng, shape + (3,), dtype)  # enough elements for the correction
            dim = -1 if dim is None or len(shape) == 0 else dim
    return fn, x, dim, keepdim


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(REDUCTIONS) + list(SINGLE_DIM))
def test_reduction_matches_torch(name, dtype, seed):
    fn, x, dim, keepdim = _case(name, seed, dtype)
    out = check(lambda t: fn(t, dim, keepdim), lambda t: fn(t, dim, keepdim), x)
    assert out[0].dtype == dtype


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("name", list(REDUCTIONS) + list(SINGLE_DIM))
def test_reduction_gradcheck(name, seed):
    fn, x, dim, keepdim = _case(name, 50 + seed, np.float64, max_ndim=3)
    gradcheck(lambda t: fn(t, dim, keepdim), x)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim_return_values_and_indices(name, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 1, 4)
    d = int(rng.integers(-len(shape), len(shape)))
    keepdim = bool(seed % 2)
    x = rng.integers(-3, 4, shape).astype(dtype)  # small integers: ties along dim
    out = check(lambda t: getattr(t, name)(d, keepdim), lambda t: getattr(t, name)(d, keepdim), x)
    values, indices = getattr(convlab.tensor(x), name)(dim=d, keepdim=keepdim)
    assert indices.dtype == np.int64 and values.dtype == dtype
    assert out[0].shape == values.shape
    gradcheck(lambda t: getattr(t, name)(d, keepdim).values, x.astype(np.float64) + rng.random(shape) * 1e-2)
    gradcheck(lambda t: getattr(convlab, name)(t, d, keepdim)[0], x.astype(np.float64) + rng.random(shape) * 1e-2)


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_full_max_min_share_the_gradient_among_ties_like_torch(name):
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]])
    check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)
    if name.startswith("a"):
        check(lambda t: getattr(t, name)(1, True), lambda t: getattr(t, name)(1, True), x)


@pytest.mark.parametrize("name", ["max", "min"])
def test_full_max_min_gradcheck(name):
    x = np.random.default_rng(9).permutation(12).reshape(3, 4) * 0.1  # distinct values, no tie
    gradcheck(lambda t: getattr(t, name)(), x)
    gradcheck(lambda t: getattr(convlab, name)(t), x)


def test_max_with_a_tensor_is_elementwise_maximum():
    a, b = np.array([1.0, 5.0]), np.array([2.0, 3.0])
    check(lambda x, y: x.max(y), lambda x, y: x.max(y), a, b)
    check(lambda x, y: x.min(y), lambda x, y: x.min(y), a, b)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_match_torch(name, seed):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 0, 3)
    x = rng.integers(-2, 3, shape).astype(np.float32)  # ties: the first index wins in both
    for dim in [None] + list(range(-len(shape), len(shape))):
        for keepdim in (False, True):
            check(lambda t: getattr(t, name)(dim, keepdim), lambda t: getattr(t, name)(dim, keepdim), x, grad=False)


def test_nan_propagates_through_max_like_torch():
    x = np.array([[1.0, np.nan, 3.0], [0.0, 2.0, 1.0]])
    for fn in (lambda t: t.max(), lambda t: t.max(1), lambda t: t.argmax(1), lambda t: t.amax(0)):
        check(fn, fn, x, grad=False)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int32, np.int64])
def test_integer_and_bool_reductions_match_torch_dtypes(dtype):
    x = np.array([[1, 0, 2], [3, 1, 0]]).astype(dtype)
    for fn in (
        lambda t: t.sum(), lambda t: t.sum(0), lambda t: t.sum(1, keepdim=True), lambda t: t.prod(),
        lambda t: t.prod(1), lambda t: t.amax(1), lambda t: t.max(), lambda t: t.all(), lambda t: t.any(1),
        lambda t: t.all(0, keepdim=True), lambda t: t.mean(dtype=torch.float32 if isinstance(t, torch.Tensor) else np.float32),
    ):
        check(fn, fn, x, grad=False)


def test_prod_gradient_with_zeros_matches_torch():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    check(lambda t: t.prod(1), lambda t: t.prod(1), x)
    check(lambda t: t.prod(0, keepdim=True), lambda t: t.prod(0, keepdim=True), x)
    check(lambda t: t.prod(), lambda t: t.prod(), x[2:])
    gradcheck(lambda t: t.prod(1), x)


def test_reductions_of_empty_tensors_match_torch():
    x = np.zeros((0, 3))
    for fn in (lambda t: t.sum(0), lambda t: t.sum(), lambda t: t.amax(1), lambda t: t.prod(0)):
        check(fn, fn, x)
    err = both_raise(lambda t: t.max(), lambda t: t.max(), x)
    assert "max()" in str(err) and "(0, 3)" in str(err)
    err = both_raise(lambda t: t.amax(0), lambda t: t.amax(0), x)
    assert "amax()" in str(err)


def test_logsumexp_is_stable_for_large_values():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0]], dtype=np.float32)
    check(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), x)
    check(lambda t: convlab.logsumexp(t, dim=0), lambda t: torch.logsumexp(t, dim=0), x)


def test_top_level_reduction_functions_match_torch():
    x = array(np.random.default_rng(0), (3, 4))
    names = ["sum", "mean", "prod", "amax", "amin", "var", "std", "max", "min", "argmax", "argmin", "norm"]
    for name in names:
        fn_cl, fn_th = getattr(convlab, name), getattr(torch, name)
        check(lambda t: fn_cl(t), lambda t: fn_th(t), x, grad=name not in ("argmax", "argmin"))
    check(lambda t: convlab.sum(t, dim=1, keepdim=True), lambda t: torch.sum(t, dim=1, keepdim=True), x)
    check(lambda t: convlab.var(t, 0, unbiased=False), lambda t: torch.var(t, 0, unbiased=False), x)


# ---------------------------------------------------------------------- errors
def test_dim_out_of_range_names_function_and_range():
    x = np.zeros((2, 3))
    for name in ("sum", "mean", "amax", "var", "logsumexp", "argmax", "max", "prod"):
        err = both_raise(lambda t: getattr(t, name)(2), lambda t: getattr(t, name)(2), x)
        assert f"{name}()" in str(err) and "[-2, 1]" in str(err) and "got 2" in str(err)
    err = both_raise(lambda t: t.sum((0, 0)), lambda t: t.sum((0, 0)), x)
    assert "repeated" in str(err) or "appears multiple times" in str(err)


def test_floating_only_reductions_refuse_integers():
    x = np.array([1, 2, 3])
    for name in ("mean", "var", "std"):
        err = both_raise(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)
        assert f"{name}()" in str(err) and "int64" in str(err)
    with pytest.raises(ValueError, match="either 'unbiased' or 'correction'"):
        convlab.tensor([1.0, 2.0]).var(unbiased=True, correction=0)
    with pytest.raises(ValueError, match="norm\\(\\): p must be"):
        convlab.tensor([1.0, 2.0]).norm(0.5)
