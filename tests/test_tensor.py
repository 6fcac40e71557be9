"""The Tensor class (convlab.tensor.Tensor): repr, conversions, dtype/device moves, Python
protocols, new_* factories, in-place ops and their errors, compared with PyTorch."""

import numpy as np
import pytest
import torch

import convlab
from parity import check


def _repr_cases():
    return [
        np.array([1.0, 2.0], np.float32), np.array([[1.5, -2.25], [3.0, 4.0]], np.float32), np.array(3.0, np.float32),
        np.array([1e-5, 1.0], np.float32), np.array([1e10, 1.0], np.float32), np.arange(12).reshape(3, 4),
        np.array([True, False]), np.zeros((0, 3), np.float32), np.array([], np.int64), np.array([1.0, 2.0]),
        np.arange(2000.0, dtype=np.float32), np.arange(3000).reshape(30, 100), np.array([np.nan, 1.5, np.inf], np.float32),
        np.array([0.0, 0.0], np.float32), np.array([-0.5, 100.25], np.float32), np.array([1, 2], np.uint8),
        np.zeros((2, 3, 2), np.float16), np.linspace(0, 1, 30, dtype=np.float32), np.array([[1e-3, 12345.6789]], np.float32),
        np.array(7), np.array([-1, 2], np.int32),
    ]


@pytest.mark.parametrize("index", range(len(_repr_cases())))
def test_repr_matches_torch(index):
    values = _repr_cases()[index]
    expected = repr(torch.from_numpy(values.copy())).replace("torch.", "convlab.")
    assert repr(convlab.tensor(values)) == expected


def test_repr_shows_requires_grad_and_grad_fn():
    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(convlab.tensor([1.0], dtype=convlab.float64, requires_grad=True)) == "tensor([1.], dtype=convlab.float64, requires_grad=True)"
    assert str(convlab.tensor(0.5)) == "tensor(0.5000)"
    assert f"{convlab.tensor(3.14159):.2f}" == "3.14"


def test_item_tolist_numpy_like_torch():
    x = convlab.tensor([[1.5, 2.0]])
    assert x.tolist() == [[1.5, 2.0]] and convlab.tensor(2).item() == 2 and isinstance(convlab.tensor(2).item(), int)
    assert convlab.tensor([True]).item() is True and float(convlab.tensor([2.5])) == 2.5 and int(convlab.tensor(3.7)) == 3
    assert convlab.tensor(1.0).tolist() == 1.0
    arr = x.numpy()
    arr[0, 0] = 9.0  # numpy() shares memory, as in torch
    assert x[0, 0].item() == 9.0
    with pytest.raises(RuntimeError, match="item\\(\\): a Tensor with 2 elements cannot be converted .*\\(1, 2\\)"):
        x.item()
    w = convlab.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="numpy\\(\\): can't call numpy\\(\\) on a Tensor that requires grad; use tensor.detach\\(\\).numpy\\(\\)"):
        w.numpy()
    with convlab.no_grad():
        assert w.numpy().tolist() == [1.0]  # torch allows it under no_grad too
    assert np.asarray(x).shape == (1, 2) and np.asarray(x, dtype=np.float64).dtype == np.float64


def test_python_protocols():
    x = convlab.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert len(x) == 2 and [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    assert bool(convlab.tensor([1.0])) and not bool(convlab.tensor(0))
    assert x.size() == (2, 2) and x.size(1) == 2 and x.size(-1) == 2 and x.dim() == 2 and x.numel() == 4
    assert x.element_size() == 4 and x.is_floating_point() and not convlab.tensor([1]).is_floating_point()
    assert [1, 2, 3][convlab.tensor(1)] == 2  # __index__
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(convlab.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(convlab.tensor(1.0))
    with pytest.raises(RuntimeError, match="bool\\(\\): the truth value of a tensor with 4 elements is ambiguous"):
        bool(x)
    with pytest.raises(TypeError, match="only integer tensors can be used as an index"):
        [1, 2][convlab.tensor(1.0)]
    assert {x: 1}[x] == 1  # hashable by identity


def test_dtype_conversions_match_torch():
    x = np.array([1.7, -2.2], dtype=np.float32)
    for name in ("float", "double", "half", "long", "int", "bool", "byte"):
        check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, grad=name in ("float", "double", "half"))
    t = convlab.tensor(x)
    assert t.float() is t and t.to(convlab.float32) is t and t.to("cpu") is t  # no-op moves return self
    assert t.to(convlab.float32, copy=True) is not t
    assert t.to(convlab.tensor([1], dtype=convlab.int64)).dtype == np.int64
    assert t.to("cpu", convlab.float64).dtype == np.float64 and t.to(dtype=convlab.float16).dtype == np.float16
    assert t.type() == "convlab.FloatTensor" and t.type(convlab.float64).dtype == np.float64
    assert t.type_as(convlab.tensor([1])).dtype == np.int64
    assert t.cpu() is t and t.device == "cpu" and str(t.device) == "cpu" and not t.is_cuda
    with pytest.raises(TypeError, match="to\\(\\): unexpected keyword arguments \\['memory_format'\\]"):
        t.to(memory_format=None)


def test_new_factories_follow_the_tensor_like_torch():
    for lib in (convlab, torch):
        t = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        results = [
            t.new_zeros(2, 3), t.new_ones((2,)), t.new_full((2,), 7), t.new_empty(1),
            t.new_tensor([1, 2]), t.new_zeros(2, dtype=lib.int64),
        ]
        if lib is convlab:
            ours = [(r.shape, str(r.dtype), r.requires_grad) for r in results]
        else:
            theirs = [(tuple(r.shape), str(r.dtype).split(".")[1], r.requires_grad) for r in results]
    assert ours == theirs


# ---------------------------------------------------------------------- in-place ops
def _inplace_cases():
    rng = np.random.default_rng(0)
    other = rng.standard_normal((3, 4)).astype(np.float32)
    row = rng.standard_normal(4).astype(np.float32)
    return [
        lambda t, lib: t.zero_(), lambda t, lib: t.fill_(2.5), lambda t, lib: t.add_(lib.from_numpy(other)),
        lambda t, lib: t.add_(lib.from_numpy(row), alpha=-2), lambda t, lib: t.sub_(1.5), lambda t, lib: t.mul_(lib.from_numpy(row)),
        lambda t, lib: t.div_(4.0), lambda t, lib: t.copy_(lib.from_numpy(row)), lambda t, lib: t.clamp_(-0.5, 0.5),
        lambda t, lib: t.abs().sqrt_(), lambda t, lib: t.neg_(), lambda t, lib: t.pow_(2),
        lambda t, lib: t.addcmul_(lib.from_numpy(other), lib.from_numpy(row), value=0.5),
        lambda t, lib: t.addcdiv_(lib.from_numpy(other), lib.from_numpy(row * 0 + 2), value=-1),
        lambda t, lib: t.lerp_(lib.from_numpy(other), 0.25),
    ]


@pytest.mark.parametrize("index", range(len(_inplace_cases())))
def test_inplace_ops_match_torch(index):
    fn = _inplace_cases()[index]
    base = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    ours, theirs = convlab.tensor(base), torch.from_numpy(base.copy())
    out_ours, out_theirs = fn(ours, convlab), fn(theirs, torch)
    np.testing.assert_allclose(out_ours.numpy(), out_theirs.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    assert out_ours.dtype == np.float32


def test_inplace_ops_on_parameters_under_no_grad():
    w = convlab.tensor([1.0, 2.0], requires_grad=True)
    data = w.data
    with convlab.no_grad():
        w.mul_(2).add_(1.0)
        w -= 1.0
    assert w.data is data and w.tolist() == [2.0, 4.0] and w.is_leaf and w.requires_grad


def test_inplace_errors_where_torch_raises_and_where_convlab_cannot_record():
    w = convlab.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.fill_(0), lambda: w.mul_(2), lambda: w.copy_(w * 0)):
        with pytest.raises(RuntimeError, match="a leaf tensor that requires grad \\(shape \\(2,\\)\\) is being used in an in-place operation"):
            op()
    with pytest.raises(RuntimeError, match="add_\\(\\): a leaf tensor"):
        w += 1  # torch refuses this too
    h = w * 2
    with pytest.raises(RuntimeError, match="mul_\\(\\): in-place operation on a tensor that is part of the autograd graph \\(grad_fn=<MulBackward0>"):
        h.mul_(3)
    with pytest.raises(RuntimeError, match="copy_\\(\\): the value requires grad but the tensor being modified"):
        convlab.zeros(2).copy_(h)
    with pytest.raises(RuntimeError, match="add_\\(\\): a value of shape \\(3,\\) cannot be broadcast to the tensor's shape \\(2,\\)"):
        convlab.zeros(2).add_(convlab.zeros(3))
    with pytest.raises(RuntimeError, match="add_\\(\\): a value of shape \\(2, 2\\) cannot be broadcast"):
        convlab.zeros(2).add_(convlab.zeros(2, 2))
    with pytest.raises(RuntimeError, match="add_\\(\\): result of dtype float64 can't be written into a tensor of dtype int64"):
        convlab.tensor([1, 2]).add_(np.array([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="fill_\\(\\): the value must be a number or a one-element tensor, got a tensor of shape \\(2,\\)"):
        convlab.zeros(2).fill_(convlab.ones(2))
    with pytest.raises(RuntimeError, match="fill_"):
        torch.zeros(2).fill_(torch.ones(2))
    assert convlab.zeros(2).fill_(convlab.tensor(1.5)).tolist() == torch.zeros(2).fill_(torch.tensor(1.5)).tolist()


def test_augmented_assignment_in_the_graph_falls_back_to_out_of_place():
    ours, theirs = [], []
    for lib, store in ((convlab, ours), (torch, theirs)):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        out = x * 2
        out += x  # a residual connection: torch records it in place, convlab rebinds the name
        out *= 3
        buffer = lib.zeros(2, dtype=lib.float64)
        buffer += out  # a tensor without grad picks up the graph
        buffer.sum().backward()
        store.extend([buffer.tolist(), x.grad.tolist()])
    assert ours == theirs
