"""Indexing (convlab.ops.indexing): x[index] with ints, slices, None, Ellipsis, lists, NumPy and
convlab int/bool arrays, repeated indices accumulating gradients; gather and index_select;
__setitem__ under no_grad; parity with PyTorch and float64 gradchecks."""

import numpy as np
import pytest
import torch

import convlab
from parity import both_raise, check, gradcheck
from random_cases import array

DTYPES = [np.float64, np.float32]


def _random_index(rng, shape):
    """A random basic or advanced index for a tensor of ``shape`` (at most one advanced part,
    so NumPy's and PyTorch's placement rules for the advanced dims agree)."""
    parts, advanced_used = [], False
    for n in shape:
        kind = rng.choice(["int", "slice", "full", "array", "neg", "step"])
        if kind == "int":
            parts.append(int(rng.integers(0, n)))
        elif kind == "neg":
            parts.append(-int(rng.integers(1, n + 1)))
        elif kind == "slice":
            a = int(rng.integers(0, n))
            parts.append(slice(a, int(rng.integers(a, n + 1))))
        elif kind == "step":
            parts.append(slice(None, None, int(rng.integers(1, 3))))
        elif kind == "array" and not advanced_used:
            advanced_used = True
            parts.append(rng.integers(-n, n, size=int(rng.integers(1, 5))))  # may repeat
        else:
            parts.append(slice(None))
    if parts and rng.random() < 0.3:
        parts.insert(int(rng.integers(0, len(parts) + 1)), None)
    if len(parts) > 1 and rng.random() < 0.3:
        parts = [Ellipsis] + parts[1:]
    return tuple(parts)


def _to_lib(index, lib):
    def convert(p):
        if isinstance(p, np.ndarray):
            return convlab.tensor(p) if lib == "cl" else torch.from_numpy(p)
        return p

    return tuple(convert(p) for p in index)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", DTYPES)
def test_getitem_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    x = array(rng, shape, dtype)
    index = _random_index(rng, shape)
    check(lambda t: t[_to_lib(index, "cl")], lambda t: t[_to_lib(index, "th")], x)
    # NumPy index arrays work in convlab too (torch needs its own tensors)
    check(lambda t: t[index], lambda t: t[_to_lib(index, "th")], x)
    if dtype == np.float64:
        gradcheck(lambda t: t[index], x)


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence for multidimensional indexing")
def test_repeated_integer_indices_accumulate_gradients():
    x = np.arange(5.0)
    idx = np.array([0, 2, 2, 4, 0, 0])
    check(lambda t: t[convlab.tensor(idx)], lambda t: t[torch.from_numpy(idx)], x)
    check(lambda t: t[idx.tolist()], lambda t: t[idx.tolist()], x)
    m = np.arange(12.0).reshape(3, 4)
    rows, cols = np.array([0, 0, 2]), np.array([1, 1, 3])
    check(lambda t: t[convlab.tensor(rows), convlab.tensor(cols)], lambda t: t[torch.from_numpy(rows), torch.from_numpy(cols)], m)
    check(lambda t: t[:, [3, 3, 0]], lambda t: t[:, [3, 3, 0]], m)
    check(lambda t: t[[[0, 0], [1, 2]]], lambda t: t[[[0, 0], [1, 2]]], m)
    gradcheck(lambda t: t[idx], x)


def test_boolean_masks_match_torch():
    rng = np.random.default_rng(0)
    x = array(rng, (3, 4))
    mask2 = rng.random((3, 4)) < 0.5
    mask1 = np.array([True, False, True])
    for lib_index in [
        (lambda lib: convlab.tensor(mask2) if lib == "cl" else torch.from_numpy(mask2)),
        (lambda lib: (convlab.tensor(mask1) if lib == "cl" else torch.from_numpy(mask1), slice(1, 3))),
        (lambda lib: (Ellipsis, convlab.tensor(mask2[0]) if lib == "cl" else torch.from_numpy(mask2[0]))),
    ]:
        check(lambda t: t[lib_index("cl")], lambda t: t[lib_index("th")], x)
    check(lambda t: t[t > 0], lambda t: t[t > 0], x)
    check(lambda t: t[mask1.tolist()], lambda t: t[mask1.tolist()], x)
    gradcheck(lambda t: t[t > 0.1], x)


def test_none_ellipsis_and_scalar_tensor_indices():
    x = array(np.random.default_rng(1), (2, 3, 4))
    for index in [(None,), (Ellipsis, None), (0, Ellipsis, 1), (None, 1, None, slice(None, None, 2)), (Ellipsis,), ()]:
        check(lambda t: t[index], lambda t: t[index], x)
    check(lambda t: t[convlab.tensor(1)], lambda t: t[torch.tensor(1)], x)
    check(lambda t: t[1][2][3], lambda t: t[1][2][3], x)
    check(lambda t: t[[]], lambda t: t[[]], x)


def test_iteration_and_unbind_backprop_like_torch():
    x = array(np.random.default_rng(2), (3, 2))
    check(lambda t: [row * (i + 1) for i, row in enumerate(t)], lambda t: [row * (i + 1) for i, row in enumerate(t)], x)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    d = int(rng.integers(-len(shape), len(shape)))
    index_shape = tuple(int(rng.integers(1, n + 1)) if k != d % len(shape) else int(rng.integers(1, 6)) for k, n in enumerate(shape))
    index = rng.integers(0, shape[d], index_shape)
    x = array(rng, shape, dtype)
    check(lambda t, i: t.gather(d, i), lambda t, i: t.gather(d, i), x, index)
    check(lambda t, i: convlab.gather(t, d, i), lambda t, i: torch.gather(t, d, i), x, index)
    gradcheck(lambda t: t.gather(d, convlab.tensor(index)), x.astype(np.float64))


@pytest.mark.parametrize("seed", range(6))
def test_index_select_matches_torch(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    d = int(rng.integers(-len(shape), len(shape)))
    index = rng.integers(0, shape[d], int(rng.integers(1, 6)))  # repeats accumulate
    x = array(rng, shape)
    check(lambda t, i: t.index_select(d, i), lambda t, i: t.index_select(d, i), x, index)
    gradcheck(lambda t: convlab.index_select(t, d, convlab.tensor(index)), x)


# ---------------------------------------------------------------------- __setitem__
def test_setitem_on_tensors_without_grad_matches_torch():
    rng = np.random.default_rng(3)
    base = array(rng, (3, 4))
    cases = [
        ((0,), 5.0), ((slice(None), 1), np.array([1.0, 2.0, 3.0])), ((Ellipsis, -1), 0.0),
        ((np.array([0, 2]),), np.zeros(4)), ((base > 0,), -1.0), ((1, slice(0, 2)), np.array([7.0, 8.0])),
    ]
    for index, value in cases:
        cl, th = convlab.tensor(base), torch.from_numpy(base.copy())
        cl[_to_lib(index, "cl")] = convlab.tensor(value) if isinstance(value, np.ndarray) else value
        th[_to_lib(index, "th")] = torch.from_numpy(value) if isinstance(value, np.ndarray) else value
        np.testing.assert_array_equal(cl.numpy(), th.numpy())


def test_setitem_under_no_grad_on_a_leaf_that_requires_grad():
    w = convlab.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with convlab.no_grad():
        w[1] = 0.0
        w[convlab.tensor([True, False, False])] = convlab.tensor(5.0)
    assert w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(w.detach().numpy(), [5.0, 0.0, 3.0])


def test_setitem_refuses_what_would_need_a_graph():
    w = convlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="__setitem__\\(\\): a leaf tensor that requires grad"):
        w[0] = 1.0
    with pytest.raises(RuntimeError, match="__setitem__\\(\\): in-place operation on a tensor that is part of the autograd graph"):
        y = w * 2
        y[0] = 1.0
    with pytest.raises(RuntimeError, match="__setitem__\\(\\): the value requires grad"):
        buffer = convlab.zeros(2)
        buffer[0] = w[0]
    with pytest.raises(RuntimeError, match="__setitem__\\(\\): can't assign a value of shape \\(3,\\) to tensor of shape \\(2,\\)"):
        convlab.zeros(2)[:] = convlab.zeros(3)


# ---------------------------------------------------------------------- errors
def test_index_errors_name_the_problem_and_the_shape():
    x = np.zeros((2, 3))
    err = both_raise(lambda t: t[5], lambda t: t[5], x)
    assert "__getitem__()" in str(err) and "(2, 3)" in str(err)
    err = both_raise(lambda t: t[0, 0, 0], lambda t: t[0, 0, 0], x)
    assert "(2, 3)" in str(err)
    err = both_raise(lambda t: t[np.array([True])], lambda t: t[torch.tensor([True])], x)
    assert "boolean" in str(err)
    with pytest.raises(IndexError, match="must be long, int or bool, got dtype float32"):
        convlab.zeros(3)[convlab.tensor([0.5])]
    with pytest.raises(IndexError, match="got float 0.5"):
        convlab.zeros(3)[0.5]
    err = both_raise(lambda t, i: t.gather(1, i), lambda t, i: t.gather(1, i), x, np.array([[3]]))
    assert "gather()" in str(err)
    err = both_raise(lambda t, i: t.gather(0, i), lambda t, i: t.gather(0, i), x, np.array([0]))
    assert "gather()" in str(err) and "(1,)" in str(err)
    err = both_raise(lambda t, i: t.index_select(0, i), lambda t, i: t.index_select(0, i), x, np.array([2]))
    assert "index_select()" in str(err) and "size 2" in str(err)
    with pytest.raises(TypeError, match="index_select\\(\\): expected an int64 index tensor, got dtype float64"):
        convlab.zeros(3).index_select(0, convlab.tensor([0.0]).double())
