"""Tensor factories (convlab.creation) and the random state (convlab._random): PyTorch's dtype
inference, shapes and values, manual_seed reproducibility, rng state save/restore, errors."""

import numpy as np
import pytest
import torch

import convlab


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


DATA = [
    3.5, 2, True, [1, 2], [1, 2.5], [True, False], [True, 1], [[1.0, 2.0], [3.0, 4.0]], [], [[]],
    np.float64(1.0), np.float32(1.0), np.int32(3), np.array([1, 2], np.int32), np.array([1.0, 2.0]),
    np.array([1.0], np.float16), np.array([True]), np.zeros((2, 0)), np.array([1, 2], np.uint8),
]


@pytest.mark.parametrize("index", range(len(DATA)))
def test_tensor_infers_dtype_and_values_like_torch(index):
    data = DATA[index]
    ours, theirs = convlab.tensor(data), torch.tensor(data)
    assert str(ours.dtype) == _dtype_name(theirs) and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_tensor_copies_but_as_tensor_and_from_numpy_share_memory():
    array = np.arange(4.0)
    copied, shared, also_shared = convlab.tensor(array), convlab.as_tensor(array), convlab.from_numpy(array)
    array[0] = 9.0
    assert copied[0].item() == 0.0 and shared[0].item() == 9.0 and also_shared[0].item() == 9.0
    t = convlab.tensor([1.0, 2.0])
    assert convlab.as_tensor(t) is t and convlab.as_tensor(t, dtype=convlab.float64).dtype == np.float64
    assert convlab.tensor(t).data is not t.data and convlab.as_tensor([1, 2]).dtype == np.int64
    assert convlab.tensor([1, 2], dtype=convlab.float64).dtype == np.float64
    assert convlab.tensor([1.0], requires_grad=True).requires_grad


def test_constant_factories_match_torch():
    cases = [
        ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {}), ("zeros", ([4],), {"dtype": "int64"}), ("zeros", ((),), {}),
        ("ones", (3,), {"dtype": "float64"}), ("ones", (), {"size": (2, 2)}), ("empty", (2,), {}),
        ("full", ((2, 2), 7), {}), ("full", ((2,), 1.5), {}), ("full", ((3,), True), {}), ("full", ((2,), 4.0), {"dtype": "int64"}),
        ("eye", (3,), {}), ("eye", (2, 4), {"dtype": "float64"}),
        ("arange", (5,), {}), ("arange", (1, 2.5, 0.5), {}), ("arange", (0, 1, 0.1), {}), ("arange", (10, 0, -3), {}),
        ("arange", (5,), {"dtype": "float64"}), ("arange", (-1.5, 3), {}),
        ("linspace", (-1, 1, 5), {}), ("linspace", (0, 1, 1), {}), ("linspace", (2, 3, 0), {}), ("linspace", (0, 10, 7), {"dtype": "float64"}),
    ]
    for name, args, kwargs in cases:
        ours = getattr(convlab, name)(*args, **{k: getattr(convlab, v) if k == "dtype" else v for k, v in kwargs.items()})
        theirs = getattr(torch, name)(*args, **{k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()})
        assert str(ours.dtype) == _dtype_name(theirs) and ours.shape == tuple(theirs.shape), (name, args, kwargs)
        if name != "empty":  # uninitialised in torch
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7, err_msg=f"{name}{args}")
    assert convlab.zeros(2, requires_grad=True).requires_grad


def test_like_factories_match_torch():
    for data in ([1, 2], [[1.5, 2.5]], [True]):
        ours, theirs = convlab.tensor(data), torch.tensor(data)
        for name, extra in (("zeros_like", ()), ("ones_like", ()), ("full_like", (3,)), ("empty_like", ())):
            a, b = getattr(convlab, name)(ours, *extra), getattr(torch, name)(theirs, *extra)
            assert str(a.dtype) == _dtype_name(b) and a.shape == tuple(b.shape)
            if name != "empty_like":
                np.testing.assert_array_equal(a.numpy(), b.numpy())
    floats = convlab.tensor([[1.0, 2.0]])
    assert convlab.zeros_like(floats, dtype=convlab.int32).dtype == np.int32
    assert convlab.rand_like(floats).shape == (1, 2) and convlab.randn_like(floats, dtype=convlab.float64).dtype == np.float64


def test_random_factories_shapes_dtypes_and_ranges():
    convlab.manual_seed(0)
    u, n = convlab.rand(1000), convlab.randn(100, 10, dtype=convlab.float64)
    assert u.dtype == np.float32 and u.shape == (1000,) and 0 <= u.min().item() and u.max().item() < 1
    assert n.dtype == np.float64 and abs(n.mean().item()) < 0.15 and abs(n.std().item() - 1) < 0.1
    i = convlab.randint(3, 7, (50,))
    assert i.dtype == np.int64 and i.min().item() >= 3 and i.max().item() < 7
    assert convlab.randint(5, (2, 3)).shape == (2, 3) and convlab.randint(0, 2, (4,), dtype=convlab.uint8).dtype == np.uint8
    p = convlab.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))
    assert convlab.rand(size=(2, 2)).shape == (2, 2) and convlab.randn((3,)).shape == (3,)
    assert convlab.rand(2, requires_grad=True).requires_grad


def test_manual_seed_makes_every_random_op_reproducible():
    def draw():
        return [convlab.rand(3).tolist(), convlab.randn(2, 2).tolist(), convlab.randint(0, 100, (4,)).tolist(),
                convlab.randperm(6).tolist(), convlab.zeros(3).uniform_(-1, 1).tolist(), convlab.zeros(3).normal_(0, 2).tolist()]

    convlab.manual_seed(123)
    first = draw()
    convlab.manual_seed(123)
    assert draw() == first
    convlab.manual_seed(124)
    assert draw() != first
    convlab.manual_seed(-1)  # negative seeds are accepted, as in torch
    assert convlab.rand(1).shape == (1,)


def test_rng_state_round_trip():
    convlab.manual_seed(7)
    state = convlab.get_rng_state()
    first = convlab.randn(5).tolist()
    convlab.randn(3)
    convlab.set_rng_state(state)
    assert convlab.randn(5).tolist() == first
    with pytest.raises(TypeError, match="set_rng_state\\(\\): expected a state dict"):
        convlab.set_rng_state([1, 2])
    with pytest.raises(TypeError, match="manual_seed\\(\\): seed must be an int, got float"):
        convlab.manual_seed(1.5)


def test_factory_errors_name_the_function_and_value():
    cases = [
        (lambda lib: lib.tensor([[1, 2], [3]]), ValueError, "tensor(): expected a rectangular nested sequence"),
        (lambda lib: lib.tensor("abc"), TypeError, "tensor(): could not infer a numeric dtype from str"),
        (lambda lib: lib.zeros(-1), ValueError, "zeros(): sizes must be non-negative, got (-1,)"),
        (lambda lib: lib.ones(2.5), TypeError, "ones(): expected a size made of ints, got (2.5,)"),
        (lambda lib: lib.arange(0, 5, -1), ValueError, "arange(): upper bound and larger bound inconsistent with step sign"),
        (lambda lib: lib.randint(5, 2, (3,)), ValueError, "randint(): expected low < high, got low=5, high=2"),
        (lambda lib: lib.rand(2, dtype=lib.int64), TypeError, "rand(): expected a floating dtype, got int64"),
        (lambda lib: lib.linspace(0, 1, -1), ValueError, "linspace(): number of steps must be a non-negative int, got -1"),
        (lambda lib: lib.eye(-1), ValueError, "eye(): n must be a non-negative int, got -1"),
        (lambda lib: lib.randperm(-1), ValueError, "randperm(): n must be a non-negative int, got -1"),
        (lambda lib: lib.tensor([1, 2], requires_grad=True), RuntimeError, "only floating point tensors can require gradients"),
    ]
    for fn, error, message in cases:
        with pytest.raises(Exception):
            fn(torch)
        with pytest.raises(error) as info:
            fn(convlab)
        assert message in str(info.value)
    with pytest.raises(TypeError, match="from_numpy\\(\\): expected a numpy.ndarray, got list"):
        convlab.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert an array of dtype object"):
        convlab.from_numpy(np.array([object()]))
    with pytest.raises(TypeError, match="zeros\\(\\): give the size positionally or as size=, not both"):
        convlab.zeros(2, size=(2,))


def test_default_dtype_and_version():
    assert convlab.get_default_dtype() == np.float32 and isinstance(convlab.__version__, str)
    convlab.set_default_dtype(convlab.float64)
    try:
        assert convlab.tensor([1.5]).dtype == np.float64 and convlab.zeros(1).dtype == np.float64
        assert (convlab.tensor([1, 2]) / 2).dtype == np.float64
    finally:
        convlab.set_default_dtype(convlab.float32)
    with pytest.raises(TypeError, match="only floating dtypes are allowed, got int64"):
        convlab.set_default_dtype(convlab.int64)
