"""nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils."""

import numpy as np
import pytest
import torch

import convlab
from convlab import nn

SHAPES = [(4, 3), (7,), (2, 2, 2), (1,)]


def make(rng, dtype, none_at=None, scale=1.0):
    cl, th = [], []
    for i, shape in enumerate(SHAPES):
        w = rng.standard_normal(shape).astype(dtype)
        c, t = nn.Parameter(convlab.tensor(w)), torch.nn.Parameter(torch.tensor(w))
        if i != none_at:
            g = (rng.standard_normal(shape) * scale).astype(dtype)
            c.grad, t.grad = convlab.tensor(g), torch.tensor(g)
        cl.append(c)
        th.append(t)
    return cl, th


def assert_grads_equal(cl, th, tol):
    for c, t in zip(cl, th):
        if t.grad is None:
            assert c.grad is None
        else:
            assert c.grad.dtype == np.dtype(str(t.grad.dtype).replace("torch.", ""))
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), "inf", 3.5, 0.5])
@pytest.mark.parametrize("max_norm", [0.3, 1e3])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    rng = np.random.default_rng(sum(map(ord, f"{norm_type}{max_norm}{np.dtype(dtype)}")))
    cl, th = make(rng, dtype, none_at=1)
    total = nn.utils.clip_grad_norm_(cl, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(th, max_norm, norm_type=norm_type)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    assert isinstance(total, convlab.Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.numpy(), expected.numpy(), **tol)
    assert_grads_equal(cl, th, tol)


def test_clip_grad_norm_accepts_a_generator_a_single_tensor_and_nothing():
    rng = np.random.default_rng(0)
    cl, th = make(rng, np.float64)
    model_like = (p for p in cl)
    total = nn.utils.clip_grad_norm_(model_like, 0.5)
    expected = torch.nn.utils.clip_grad_norm_((p for p in th), 0.5)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-12)
    assert_grads_equal(cl, th, dict(rtol=1e-12))
    single = nn.utils.clip_grad_norm_(cl[0], 0.1)
    np.testing.assert_allclose(single.numpy(), torch.nn.utils.clip_grad_norm_(th[0], 0.1).numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="empty generator"):
        empty = nn.utils.clip_grad_norm_((p for p in []), 1.0)
    assert empty.item() == 0.0 and empty.dtype == np.float32


def test_clip_grad_norm_on_a_model_after_backward():
    lin = nn.Linear(5, 3)
    th_lin = torch.nn.Linear(5, 3)
    with torch.no_grad():
        th_lin.weight.copy_(torch.tensor(lin.weight.detach().numpy()))
        th_lin.bias.copy_(torch.tensor(lin.bias.detach().numpy()))
    x = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32)
    (lin(convlab.tensor(x)) ** 2).sum().backward()
    (th_lin(torch.tensor(x)) ** 2).sum().backward()
    total = nn.utils.clip_grad_norm_(lin.parameters(), max_norm=1.0)
    expected = torch.nn.utils.clip_grad_norm_(th_lin.parameters(), max_norm=1.0)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(lin.weight.grad.numpy(), th_lin.weight.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert np.linalg.norm(np.concatenate([lin.weight.grad.numpy().ravel(), lin.bias.grad.numpy()])) <= 1.0 + 1e-5


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_norm(bad):
    rng = np.random.default_rng(2)
    cl, th = make(rng, np.float32)
    cl[0].grad.data[0, 0] = bad
    th[0].grad[0, 0] = bad
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(th, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_\(\): the total norm of order 2.0 of the gradients is non-finite"):
        nn.utils.clip_grad_norm_(cl, 1.0, error_if_nonfinite=True)
    total = nn.utils.clip_grad_norm_(cl, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(th, 1.0)
    np.testing.assert_array_equal(total.numpy(), expected.numpy())
    assert_grads_equal(cl, th, dict(rtol=1e-6, equal_nan=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip_value", [0.1, 0.7, 10.0])
def test_clip_grad_value_matches_torch(dtype, clip_value):
    rng = np.random.default_rng(3)
    cl, th = make(rng, dtype, none_at=2, scale=2.0)
    grad_objects = [p.grad for p in cl]
    assert nn.utils.clip_grad_value_(cl, clip_value) is None
    torch.nn.utils.clip_grad_value_(th, clip_value)
    assert_grads_equal(cl, th, dict(rtol=0, atol=0))
    assert all(a is b for a, b in zip(grad_objects, (p.grad for p in cl))), "clipping must work in place"


def test_get_total_norm_and_clip_grads_with_norm():
    rng = np.random.default_rng(4)
    cl, th = make(rng, np.float64)
    total = nn.utils.get_total_norm([p.grad for p in cl], norm_type=3.0)
    expected = torch.nn.utils.get_total_norm([p.grad for p in th], norm_type=3.0)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-12)
    nn.utils.clip_grads_with_norm_(cl, 0.5, total)
    torch.nn.utils.clip_grads_with_norm_(th, 0.5, expected)
    assert_grads_equal(cl, th, dict(rtol=1e-12))


def test_bad_arguments():
    p = nn.Parameter(convlab.ones(2))
    p.grad = convlab.ones(2)
    with pytest.raises(ValueError, match=r"norm_type must be a number or 'inf', got 'two'"):
        nn.utils.clip_grad_norm_([p], 1.0, norm_type="two")
    with pytest.raises(TypeError, match=r"clip_grad_norm_\(\): max_norm must be a real number, got str"):
        nn.utils.clip_grad_norm_([p], "1")
    with pytest.raises(TypeError, match=r"clip_grad_value_\(\): clip_value must be a real number, got NoneType"):
        nn.utils.clip_grad_value_([p], None)
