"""The autograd engine (convlab.autograd): graph walk, gradient accumulation, retain_graph and
freeing, hooks and retain_grad, autograd.grad / backward(inputs=...), grad modes, custom
Functions, gradcheck itself, and the error messages."""

import gc
import threading
import weakref

import numpy as np
import pytest
import torch

import convlab
from convlab.autograd import Function
from convlab.autograd.gradcheck import GradcheckError


def _pair(values, requires_grad=True):
    values = np.asarray(values, dtype=np.float64)
    return convlab.tensor(values, requires_grad=requires_grad), torch.tensor(values, requires_grad=requires_grad)


def _close(cl, th):
    np.testing.assert_allclose(np.asarray(cl.detach().numpy()), th.detach().numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- accumulation and graph lifetime
def test_gradients_accumulate_over_backward_calls_like_torch():
    (a, ta), (b, tb) = _pair([1.0, 2.0, 3.0]), _pair([0.5, -1.0, 2.0])
    for x, y in ((a, b), (ta, tb)):
        (x * y).sum().backward()
        (x * x + y).sum().backward()
    _close(a.grad, ta.grad)
    _close(b.grad, tb.grad)


def test_grad_is_accumulated_in_place_and_keeps_its_identity():
    w = convlab.tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    first = w.grad
    (w * 2).sum().backward()
    assert w.grad is first
    np.testing.assert_array_equal(first.numpy(), [5.0, 5.0])


def test_leaf_grads_never_alias_each_other_or_the_seed():
    a, b = convlab.tensor([1.0, 2.0], requires_grad=True), convlab.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add hands the same array to both inputs
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    seed = convlab.tensor([5.0, 6.0])
    c = convlab.tensor([0.0, 0.0], requires_grad=True)
    c.backward(seed)
    c.grad.zero_()
    np.testing.assert_array_equal(seed.numpy(), [5.0, 6.0])
    d = convlab.tensor([[1.0, 2.0]], requires_grad=True)
    d.expand(3, 2).sum().backward()  # a broadcast (read-only) gradient is copied, not stored
    d.grad.add_(1.0)


def test_second_backward_raises_unless_retain_graph():
    x, tx = _pair([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    ty = (tx.exp() * tx).sum()
    ty.backward(retain_graph=True)
    ty.backward()
    _close(x.grad, tx.grad)
    z, tz = (x + 1).sum(), (tx + 1).sum()  # nodes that saved no arrays can be walked again, as in torch
    for out in (z, z, tz, tz):
        out.backward()
    _close(x.grad, tx.grad)
    with pytest.raises(RuntimeError, match="backward through the graph a second time \\(MulBackward0 has already freed.*retain_graph=True"):
        y.backward()


def test_graph_frees_saved_arrays_after_backward():
    x = convlab.randn(50, 50, dtype=convlab.float64, requires_grad=True)
    h = x * 2
    saved = weakref.ref(h.data)
    loss = (h * h).sum()
    del h
    loss.backward()
    gc.collect()
    assert saved() is None  # loss is still alive, the activation it saved is not
    mul_node = loss.grad_fn.next_edges[0][0]
    assert mul_node.released and not loss.grad_fn.released  # SumBackward0 saved only a shape


def test_ten_thousand_op_chain_has_no_recursion_limit():
    x, tx = _pair([0.5, 1.5])
    y, ty = x, tx
    for _ in range(10_000):
        y = y * 1.0001 + 0.0001
        ty = ty * 1.0001 + 0.0001
    y.sum().backward()
    ty.sum().backward()
    _close(y, ty)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9)
    del y, ty  # freeing a long chain must not overflow the stack either
    gc.collect()


def test_shared_subexpressions_sum_their_gradients():
    x, tx = _pair([0.3, -1.2, 2.0])
    outs = []
    for t in (x, tx):
        h = t * t
        outs.append((h.exp() + h * 3 - h.sin()).sum())
    for o in outs:
        o.backward()
    _close(x.grad, tx.grad)


# ---------------------------------------------------------------------- seeds and their errors
def test_backward_seed_rules_and_errors():
    x, tx = _pair([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[1.0, 0.5], [-1.0, 2.0]])
    (x * x).backward(convlab.tensor(g))
    (tx * tx).backward(torch.tensor(g))
    _close(x.grad, tx.grad)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs, got output 0 of shape \\(2, 2\\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="gradient 0 has shape \\(3,\\) but output 0 has shape \\(2, 2\\)"):
        (x * 2).backward(convlab.ones(3, dtype=convlab.float64))
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        convlab.tensor([1.0]).sum().backward()
    with pytest.raises(NotImplementedError, match="create_graph"):
        (x * 2).sum().backward(create_graph=True)
    one = convlab.tensor([2.0], requires_grad=True)
    (one * 3).backward()  # a one-element non-scalar needs no gradient either
    assert one.grad.item() == 3.0


# ---------------------------------------------------------------------- hooks and retain_grad
def test_tensor_hooks_on_leaf_and_non_leaf_like_torch():
    results = []
    for lib in (convlab, torch):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        calls = []
        x.register_hook(lambda g: calls.append(g.tolist()))  # observes the summed gradient once
        h = x * 2
        handle = h.register_hook(lambda g: g * 10)  # replaces the gradient flowing on
        removed = h.register_hook(lambda g: g * 1000)
        removed.remove()
        (h * h + h).sum().backward()
        handle.remove()
        results.append((x.grad.tolist(), calls))
    assert results[0] == results[1]


def test_retain_grad_keeps_and_accumulates_non_leaf_grads_like_torch():
    grads = []
    for lib in (convlab, torch):
        x = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        h = x * 3
        h.retain_grad()
        h.retain_grad()  # idempotent
        x.retain_grad()  # no-op on a leaf
        loss = (h * h).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        assert h.retains_grad and not x.retains_grad
        grads.append((h.grad.tolist(), x.grad.tolist()))
    assert grads[0] == grads[1]
    with pytest.raises(RuntimeError, match="retain_grad\\(\\): can't retain_grad on a Tensor that has requires_grad=False"):
        convlab.tensor([1.0]).retain_grad()
    with pytest.raises(RuntimeError, match="register_hook\\(\\): cannot register a hook on a tensor that doesn't require gradient"):
        convlab.tensor([1.0]).register_hook(lambda g: g)


# ---------------------------------------------------------------------- autograd.grad and backward(inputs=)
def test_autograd_grad_matches_torch_and_leaves_dot_grad_alone():
    (x, tx), (w, tw) = _pair([1.0, 2.0, 3.0]), _pair([0.5, 0.25, -1.0])
    h, th = x * w, tx * tw
    out, tout = (h.exp() * w).sum(), (th.exp() * tw).sum()
    gx, gh = convlab.autograd.grad(out, (x, h), retain_graph=True)
    tgx, tgh = torch.autograd.grad(tout, (tx, th), retain_graph=True)
    _close(gx, tgx)
    _close(gh, tgh)
    assert x.grad is None and w.grad is None
    (gw,) = convlab.autograd.grad([out], [w])
    (tgw,) = torch.autograd.grad([tout], [tw])
    _close(gw, tgw)


def test_autograd_grad_unused_inputs_and_errors():
    x, y = convlab.tensor([1.0], requires_grad=True), convlab.tensor([2.0], requires_grad=True)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="inputs\\[1\\] \\(shape \\(1,\\)\\) was not used in the graph; pass allow_unused=True"):
        convlab.autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = convlab.autograd.grad(out, [x, y], allow_unused=True, retain_graph=True)
    assert gx.item() == 2.0 and gy is None
    _, gy = convlab.autograd.grad(out, [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0]
    with pytest.raises(RuntimeError, match="inputs\\[0\\] does not require grad"):
        convlab.autograd.grad((x * 2).sum(), [convlab.tensor([1.0])])
    with pytest.raises(TypeError, match="inputs\\[0\\] must be a Tensor, got list"):
        convlab.autograd.grad((x * 2).sum(), [[1.0]])


def test_autograd_grad_with_several_outputs_and_grad_outputs():
    x, tx = _pair([[1.0, 2.0], [3.0, 4.0]])
    v1, v2 = np.array([1.0, -1.0]), np.array([[0.5, 2.0], [1.0, 0.0]])
    (g,) = convlab.autograd.grad([x.sum(0), x * x], [x], grad_outputs=[convlab.tensor(v1), convlab.tensor(v2)])
    (tg,) = torch.autograd.grad([tx.sum(0), tx * tx], [tx], grad_outputs=[torch.tensor(v1), torch.tensor(v2)])
    _close(g, tg)


def test_backward_with_inputs_accumulates_only_into_those_like_torch():
    grads = []
    for lib in (convlab, torch):
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([3.0, 4.0], dtype=lib.float64, requires_grad=True)
        h = a * b
        (h * h).sum().backward(inputs=[b, h])
        grads.append((a.grad, b.grad.tolist(), h.grad.tolist()))
    assert grads[0] == grads[1] and grads[0][0] is None


def test_autograd_grad_skips_branches_that_lead_to_no_wanted_input():
    seen = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.a, ctx.b = a, b
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return (g * ctx.b if ctx.needs_input_grad[0] else None, g * ctx.a if ctx.needs_input_grad[1] else None)

    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    w = convlab.tensor([3.0, 4.0], requires_grad=True)
    out = Spy.apply(x, w).sum()
    (gx,) = convlab.autograd.grad(out, [x], retain_graph=True)
    assert seen == [(True, False)] and gx.tolist() == [3.0, 4.0]
    out.backward()
    assert seen[-1] == (True, True)  # the narrowing was temporary


# ---------------------------------------------------------------------- requires_grad, leaves, detach
def test_requires_grad_propagation_and_leaves():
    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    c = convlab.tensor([3.0, 4.0])
    y = x * c
    assert y.requires_grad and not y.is_leaf and x.is_leaf and c.is_leaf and not (c * 2).requires_grad
    assert not (x > 1).requires_grad and not x.argmax().requires_grad  # integer / bool outputs
    values, indices = x.max(0)
    assert values.requires_grad and not indices.requires_grad
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.numpy(), y.detach().numpy())
    y.detach_()
    assert y.is_leaf and not y.requires_grad
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients, got dtype int64"):
        convlab.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="requires_grad_\\(False\\): only leaf tensors"):
        (x * 2).requires_grad_(False)
    x.requires_grad_(False)
    assert not (x * 2).requires_grad


def test_grad_dtype_follows_the_leaf():
    x = convlab.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == np.float32
    h = convlab.tensor([1.0, 2.0], dtype=convlab.float16, requires_grad=True)
    (h.float() * 2).sum().backward()
    assert h.grad.dtype == np.float16


# ---------------------------------------------------------------------- grad modes
def test_no_grad_enable_grad_and_set_grad_enabled():
    x = convlab.tensor([1.0], requires_grad=True)
    with convlab.no_grad():
        assert not (x * 2).requires_grad and not convlab.is_grad_enabled()
        with convlab.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert convlab.is_grad_enabled()

    @convlab.no_grad()
    def infer(t):
        return t * 2

    @convlab.enable_grad()
    def train(t):
        return t * 2

    assert not infer(x).requires_grad
    with convlab.no_grad():
        assert train(x).requires_grad
    convlab.set_grad_enabled(False)
    try:
        assert not convlab.is_grad_enabled()
    finally:
        convlab.set_grad_enabled(True)
    with convlab.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert convlab.is_grad_enabled()

    @convlab.set_grad_enabled(False)
    def frozen(t):
        return t * 2

    assert convlab.is_grad_enabled() and not frozen(x).requires_grad
    with pytest.raises(TypeError, match="set_grad_enabled\\(\\): mode must be a bool"):
        convlab.set_grad_enabled("no")


def test_no_grad_and_enable_grad_decorate_without_parentheses_like_torch():
    @convlab.no_grad
    def infer(t):
        return t * 2

    @convlab.enable_grad
    def train(t):
        return t * 2

    @torch.no_grad
    def torch_infer(t):
        return t * 2

    x, tx = _pair([1.0, 2.0])
    assert infer.__name__ == "infer"
    assert not infer(x).requires_grad and not torch_infer(tx).requires_grad
    assert convlab.is_grad_enabled()
    with convlab.no_grad():
        assert train(x).requires_grad
        assert not convlab.is_grad_enabled()


def test_grad_mode_is_per_thread_like_torch():
    seen = {}

    def worker():
        seen["enabled"] = convlab.is_grad_enabled()

    with convlab.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen["enabled"] is True


# ---------------------------------------------------------------------- custom Functions
class _Square(Function):
    """y = x^2; dx = 2 x g."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * x

    @staticmethod
    def backward(ctx, g):
        return 2 * ctx.x * g


class _SplitSigns(Function):
    """Two outputs: (max(x, 0), min(x, 0))."""

    @staticmethod
    def forward(ctx, x):
        ctx.positive = x > 0
        return np.where(ctx.positive, x, 0.0), np.where(ctx.positive, 0.0, x)

    @staticmethod
    def backward(ctx, g_pos, g_neg):
        out = np.zeros(ctx.positive.shape)
        if g_pos is not None:
            out = out + np.where(ctx.positive, g_pos, 0.0)
        if g_neg is not None:
            out = out + np.where(ctx.positive, 0.0, g_neg)
        return out


def test_custom_functions_single_and_multi_output():
    x = convlab.tensor([-1.0, 2.0, -3.0], dtype=convlab.float64, requires_grad=True)
    y = _Square.apply(x)
    assert repr(y.grad_fn) == "<_SquareBackward0>"
    assert convlab.autograd.gradcheck(_Square.apply, (x,))
    pos, neg = _SplitSigns.apply(x)
    (pos * 2).sum().backward()  # only one output receives a gradient
    assert x.grad.tolist() == [0.0, 2.0, 0.0]
    assert convlab.autograd.gradcheck(lambda t: _SplitSigns.apply(t), (x,))


def test_wrong_gradient_shape_from_an_op_is_a_clear_error():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:1]

    class Broadcasting(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum(axis=0)

        @staticmethod
        def backward(ctx, g):
            return np.broadcast_to(g, (2, 3, 3))  # an extra broadcast dim is summed away

    x = convlab.tensor(np.ones((3, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="BadBackward0 returned a gradient of shape \\(1, 3\\) for an input of shape \\(3, 3\\)"):
        Bad.apply(x).sum().backward()
    Broadcasting.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 3), 2.0))


def test_gradcheck_catches_a_wrong_derivative():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x**3

        @staticmethod
        def backward(ctx, g):
            return 2 * ctx.x**2 * g  # should be 3 x^2

    x = convlab.tensor([0.5, 1.0, 2.0], dtype=convlab.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match="gradient of input 0 \\(shape \\(3,\\)\\) disagrees at 3 of 3 elements"):
        convlab.autograd.gradcheck(Wrong.apply, (x,))
    assert convlab.autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.raises(TypeError, match="should be float64"):
        convlab.autograd.gradcheck(Wrong.apply, (convlab.tensor([1.0], requires_grad=True),))
    with pytest.raises(ValueError, match="at least one input must be a Tensor with requires_grad=True"):
        convlab.autograd.gradcheck(Wrong.apply, (convlab.tensor([1.0], dtype=convlab.float64),))
    assert x.grad is None  # gradcheck leaves .grad untouched
