"""Shape ops (convlab.ops.shape): parity with PyTorch on random shapes and arguments, float64
gradchecks, dtype promotion in cat/stack, view(dtype), and the error messages."""

import numpy as np
import pytest
import torch

import convlab
from parity import both_raise, check, gradcheck
from random_cases import array, random_shape

DTYPES = [np.float64, np.float32]


def _reshape_target(rng, shape):
    """A random shape with the same number of elements, with one -1 half of the time."""
    n = int(np.prod(shape))
    factors, rest = [], n
    for p in (2, 3, 5, 7):
        while rest % p == 0:
            factors.append(p)
            rest //= p
    rng.shuffle(factors)
    target = [1] * int(rng.integers(1, 4))
    for f in factors:
        target[int(rng.integers(0, len(target)))] *= f
    if rng.random() < 0.5:
        target[int(rng.integers(0, len(target)))] = -1
    return tuple(target)


def _shape_cases(rng, shape):
    """(name, function) pairs applicable to a tensor of ``shape``, with random arguments."""
    ndim = len(shape)
    cases = [("reshape", lambda t: t.reshape(_target)), ("view", lambda t: t.view(*_target)), ("flatten", lambda t: t.flatten())]
    _target = _reshape_target(rng, shape)
    d = int(rng.integers(-ndim - 1, ndim + 1))
    cases.append(("unsqueeze", lambda t: t.unsqueeze(d)))
    cases.append(("squeeze", lambda t: t.squeeze()))
    if ndim:
        a, b = sorted(int(v) for v in rng.integers(0, ndim, 2))
        perm = tuple(int(v) for v in rng.permutation(ndim))
        k = int(rng.integers(-ndim, ndim))
        cases += [
            ("flatten_range", lambda t: t.flatten(a, b)),
            ("permute", lambda t: t.permute(*perm)),
            ("permute_tuple", lambda t: t.permute(perm)),
            ("transpose", lambda t: t.transpose(a - ndim, b)),
            ("squeeze_dim", lambda t: t.squeeze(k)),
            ("flip", lambda t: t.flip(k)),
            ("flip_many", lambda t: t.flip(list(range(ndim)))),
            ("expand", lambda t: t.expand(2, *[n if n != 1 else 3 for n in shape])),
            ("expand_minus1", lambda t: t.expand(*([-1] * ndim))),
            ("repeat", lambda t: t.repeat(*([2] + [1] * (ndim - 1)), 2) if ndim else t),
            ("unbind", lambda t: t.unbind(k)),
            ("narrow", lambda t: t.narrow(k, 0, max(1, shape[k] - 1))),
            ("chunk", lambda t: t.chunk(2, k)),
            ("split_size", lambda t: t.split(2, k)),
            ("split_sections", lambda t: t.split([1, shape[k] - 1], k)),
            ("unflatten", lambda t: t.unflatten(k, (1, shape[k], 1))),
            ("unflatten_minus1", lambda t: t.unflatten(k, (-1, 1))),
            ("squeeze_tuple", lambda t: t.squeeze((0, k) if k % ndim else (k,))),
            ("mT_or_T", lambda t: t.mT if ndim >= 2 else t.T),
        ]
    return cases


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", DTYPES)
def test_shape_ops_match_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 0, 4)
    x = array(rng, shape, dtype)
    for name, fn in _shape_cases(rng, shape):
        out = check(fn, fn, x)
        assert all(o.dtype == dtype for o in out), name


@pytest.mark.parametrize("seed", range(3))
def test_shape_ops_gradcheck(seed):
    rng = np.random.default_rng(20 + seed)
    shape = random_shape(rng, 1, 3)
    x = array(rng, shape)
    for name, fn in _shape_cases(rng, shape):
        gradcheck(fn, x)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_and_stack_match_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, 1, 3)
    d = int(rng.integers(-len(shape), len(shape)))
    pieces = []
    for _ in range(int(rng.integers(1, 4))):
        s = list(shape)
        s[d] = int(rng.integers(1, 4))
        pieces.append(array(rng, tuple(s), dtype))
    check(lambda *ts: convlab.cat(ts, d), lambda *ts: torch.cat(ts, d), *pieces)
    check(lambda *ts: convlab.concat(list(ts), dim=d), lambda *ts: torch.concat(list(ts), dim=d), *pieces)
    same = [array(rng, shape, dtype) for _ in range(3)]
    e = int(rng.integers(-len(shape) - 1, len(shape) + 1))
    check(lambda *ts: convlab.stack(ts, e), lambda *ts: torch.stack(ts, e), *same)
    gradcheck(lambda *ts: convlab.cat(ts, d), *[p.astype(np.float64) for p in pieces])
    gradcheck(lambda *ts: convlab.stack(ts, e), *[p.astype(np.float64) for p in same])


def test_cat_stack_promote_dtypes_like_torch():
    f32, i64, f64 = np.ones((2,), np.float32), np.arange(2), np.zeros((2,))
    for pair in [(f32, i64), (f32, f64), (i64, np.array([True, False]))]:
        check(lambda a, b: convlab.cat([a, b]), lambda a, b: torch.cat([a, b]), *pair)
        check(lambda a, b: convlab.stack([a, b], 1), lambda a, b: torch.stack([a, b], 1), *pair)


def test_split_chunk_unbind_sizes_match_torch():
    x = array(np.random.default_rng(0), (7, 3))
    for fn in (lambda t: t.split(3), lambda t: t.split(10), lambda t: t.split([2, 5]), lambda t: t.chunk(3),
               lambda t: t.chunk(4), lambda t: t.chunk(10), lambda t: convlab.split(t, 2) if isinstance(t, convlab.Tensor) else torch.split(t, 2),
               lambda t: t.unbind(1), lambda t: t.narrow(0, -3, 2)):
        check(fn, fn, x)


def test_expand_is_a_view_and_repeat_a_copy_with_summed_gradients():
    x = np.array([[1.0], [2.0]])
    check(lambda t: t.expand(2, 3) * 2, lambda t: t.expand(2, 3) * 2, x)
    check(lambda t: t.expand(4, 2, 5), lambda t: t.expand(4, 2, 5), x)
    check(lambda t: t.repeat(3, 2, 2), lambda t: t.repeat(3, 2, 2), x)
    check(lambda t, o: t.expand_as(o), lambda t, o: t.expand_as(o), x, np.zeros((3, 2, 4)), grad_inputs=[0])
    check(lambda t: t.broadcast_to((2, 2)), lambda t: t.broadcast_to((2, 2)), x)


def test_view_dtype_reinterprets_bits_like_torch():
    x = np.array([1.0, -2.5], dtype=np.float32)
    got = convlab.tensor(x).view(convlab.int32)
    np.testing.assert_array_equal(got.numpy(), torch.from_numpy(x).view(torch.int32).numpy())
    np.testing.assert_array_equal(convlab.tensor(x).view(convlab.uint8).numpy(), torch.from_numpy(x).view(torch.uint8).numpy())
    with pytest.raises(RuntimeError, match="view\\(\\): can't view a tensor of dtype uint8 and shape \\(3,\\) as dtype float32"):
        convlab.tensor(np.zeros(3, np.uint8)).view(convlab.float32)


def test_to_dtype_is_differentiable_and_keeps_dtypes():
    x = np.array([1.5, -2.0], dtype=np.float32)
    out = check(lambda t: t.double() * 2, lambda t: t.double() * 2, x)
    assert out[0].dtype == np.float64
    t = convlab.tensor(x, requires_grad=True)
    (t.to(convlab.float64) ** 2).sum().backward()
    assert t.grad.dtype == np.float32  # the gradient comes back in the input's dtype
    check(lambda t: t.long(), lambda t: t.long(), x, grad=False)
    check(lambda t: t.half().float(), lambda t: t.half().float(), x)


# ---------------------------------------------------------------------- errors
def test_bad_reshape_names_shape_and_size():
    x = np.zeros((2, 3))
    for target in [(4, 2), (5,), (-1, -1), (4, -1), (0, -1)]:
        err = both_raise(lambda t: t.reshape(target), lambda t: t.reshape(target), x)
        assert "reshape()" in str(err) and str(list(target)) in str(err) and "(2, 3)" in str(err)
    err = both_raise(lambda t: t.view(7), lambda t: t.view(7), x)
    assert "size 6" in str(err)


def test_shape_op_errors_name_the_function_and_values():
    x = np.zeros((2, 3))
    cases = [
        (lambda t: t.permute(0), "permute()", "(2, 3)"),
        (lambda t: t.permute(0, 0), "permute()", "[0, 0]"),
        (lambda t: t.transpose(0, 2), "transpose()", "got 2"),
        (lambda t: t.unsqueeze(3), "unsqueeze()", "got 3"),
        (lambda t: t.squeeze(5), "squeeze()", "got 5"),
        (lambda t: t.expand(3, 3), "expand()", "[2, 3]"),
        (lambda t: t.expand(2), "expand()", "(2, 3)"),
        (lambda t: t.repeat(2), "repeat()", "(1)"),
        (lambda t: t.flatten(1, 0), "flatten()", "start_dim"),
        (lambda t: t.unflatten(1, (2, 2)), "unflatten()", "[2, 2]"),
        (lambda t: t.split([1, 1], 1), "split()", "[1, 1]"),
        (lambda t: t.split(0), "split()", "0"),
        (lambda t: t.chunk(0), "chunk()", "0"),
        (lambda t: t.narrow(1, 2, 2), "narrow()", "(3)"),
        (lambda t: t.flip(2), "flip()", "got 2"),
    ]
    for fn, name, detail in cases:
        err = both_raise(fn, fn, x)
        assert name in str(err) and detail in str(err), (name, str(err))


def test_cat_stack_errors_name_the_shapes():
    a, b = np.zeros((2, 3)), np.zeros((3, 2))
    err = both_raise(lambda x, y: convlab.cat([x, y]), lambda x, y: torch.cat([x, y]), a, b)
    assert "cat()" in str(err) and "(2, 3)" in str(err) and "(3, 2)" in str(err)
    err = both_raise(lambda x, y: convlab.stack([x, y]), lambda x, y: torch.stack([x, y]), a, b)
    assert "stack()" in str(err) and "(3, 2)" in str(err)
    with pytest.raises(ValueError, match="cat\\(\\): expected a non-empty list"):
        convlab.cat([])
    with pytest.raises(TypeError, match="cat\\(\\): expected a sequence of Tensors, got Tensor"):
        convlab.cat(convlab.zeros(2))
    with pytest.raises(TypeError, match="position 1"):
        convlab.stack([convlab.zeros(2), [1.0, 2.0]])


def test_flip_copies_like_torch():
    """torch.flip returns a copy: a later in-place change of the input does not show through."""
    results = []
    for lib in (convlab, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        y = x.flip(0)
        x.add_(10)
        results.append(y.tolist())
    assert results[0] == results[1] == [[3.0, 4.0], [1.0, 2.0]]
