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


# ---------------------------------------------------------------------- in-place changes of saved tensors
_MODIFIED = "modified by an inplace operation: \\[convlab.{kind}Tensor \\[{shape}\\]\\], {what}, is at version {now}; expected version {then}"


def _modified(shape, what, now=1, then=0, kind="Float"):
    return _MODIFIED.format(kind=kind, shape=", ".join(map(str, shape)), what=what, now=now, then=then)


def _both_raise(build, ours_message):
    """``build(lib)`` runs forward, an in-place change and backward; torch and convlab both refuse."""
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        build(torch)
    with pytest.raises(RuntimeError, match=ours_message):
        build(convlab)


def test_changing_a_saved_input_in_place_raises_like_torch():
    def mul(lib):  # a * w saves a for w's gradient
        a, w = lib.randn(2, 3), lib.randn(2, 3, requires_grad=True)
        y = (a * w).sum()
        a.mul_(3)
        y.backward()

    _both_raise(mul, _modified((2, 3), "saved by MulBackward0"))

    def matmul(lib):
        a, w = lib.randn(2, 3), lib.randn(3, 4, requires_grad=True)
        y = (a @ w).sum()
        a[0, 0] = 5.0
        y.backward()

    _both_raise(matmul, _modified((2, 3), "saved by MatMulBackward0"))

    def conv2d(lib):  # the weight is saved for the input's gradient
        x, w = lib.randn(1, 2, 5, 5, requires_grad=True), lib.randn(3, 2, 3, 3, requires_grad=True)
        y = lib.nn.functional.conv2d(x, w, padding=1).sum()
        with lib.no_grad():
            w.mul_(0.5)
        y.backward()

    _both_raise(conv2d, _modified((3, 2, 3, 3), "saved by ConvNdBackward0"))

    def double_after_retain(lib):  # two in-place changes, float64, after a first backward kept the graph
        a, w = lib.randn(4, dtype=lib.float64), lib.randn(4, dtype=lib.float64, requires_grad=True)
        y = (a * w).sum()
        y.backward(retain_graph=True)
        a.add_(1)
        a.zero_()
        y.backward()

    _both_raise(double_after_retain, _modified((4,), "saved by MulBackward0", now=2, kind="Double"))


@pytest.mark.parametrize("change", ["setitem", "fill_", "uniform_", "normal_", "copy_", "relu_inplace", "dropout_inplace", "init"])
def test_every_in_place_writer_counts_as_a_change(change):
    def build(lib):
        a, w = lib.randn(2, 3), lib.randn(2, 3, requires_grad=True)
        y = (a * w).sum()
        F = lib.nn.functional
        {
            "setitem": lambda: a.__setitem__((0, 1), 2.0),
            "fill_": lambda: a.fill_(1.0),
            "uniform_": lambda: a.uniform_(),
            "normal_": lambda: a.normal_(),
            "copy_": lambda: a.copy_(lib.ones(2, 3)),
            "relu_inplace": lambda: F.relu(a, inplace=True),
            "dropout_inplace": lambda: F.dropout(a, 0.5, training=True, inplace=True),
            "init": lambda: lib.nn.init.kaiming_uniform_(a),
        }[change]()
        y.backward()

    _both_raise(build, _modified((2, 3), "saved by MulBackward0"))


def test_changing_an_output_that_its_op_saved_raises_like_torch():
    def build(lib):
        x = lib.randn(3, requires_grad=True)
        y = x.exp()  # Exp saves its output
        with lib.no_grad():
            y.mul_(2)
        y.sum().backward()

    _both_raise(build, _modified((3,), "output 0 of ExpBackward0"))


def _grads_after_change(lib, build, change_index, requires_grad):
    values = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(build.shapes)]
    ts = [lib.tensor(v.copy(), dtype=lib.float64, requires_grad=r) for v, r in zip(values, requires_grad)]
    out = build(lib, *ts)
    if change_index is not None:
        with lib.no_grad():
            ts[change_index].add_(0.25)
    try:
        out.backward()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
        return None
    return [None if t.grad is None else t.grad.detach().numpy().copy() for t in ts]


def _case(shapes, fn):
    fn.shapes = shapes
    return fn


_CHANGE_CASES = {
    "add": _case([(2, 3), (2, 3)], lambda lib, a, b: (a + b).sum()),
    "mul": _case([(2, 3), (2, 3)], lambda lib, a, b: (a * b).sum()),
    "div": _case([(2, 3), (2, 3)], lambda lib, a, b: (a / (b * b + 1)).sum()),
    "matmul": _case([(2, 3), (3, 4)], lambda lib, a, b: (a @ b).sum()),
    "matvec": _case([(2, 3), (3,)], lambda lib, a, b: (a @ b).sum()),
    "batched_matmul": _case([(2, 2, 3), (3, 4)], lambda lib, a, b: (a @ b).sum()),
    "linear": _case([(4, 3), (2, 3), (2,)], lambda lib, x, w, b: lib.nn.functional.linear(x, w, b).pow(2).sum()),
    "conv2d": _case([(1, 2, 5, 5), (3, 2, 3, 3)], lambda lib, x, w: lib.nn.functional.conv2d(x, w).sum()),
    "relu": _case([(2, 3)], lambda lib, x: (x.relu() * 3).sum()),
    "sigmoid": _case([(2, 3)], lambda lib, x: x.sigmoid().sum()),
    "softmax": _case([(2, 3), (2, 3)], lambda lib, x, w: (lib.softmax(x, 1) * w).sum()),
    "pow": _case([(2, 3)], lambda lib, x: (x**2).sum()),
    "mse_loss": _case([(2, 3), (2, 3)], lambda lib, a, b: lib.nn.functional.mse_loss(a, b)),
    "kl_div": _case([(2, 3), (2, 3)], lambda lib, a, b: lib.nn.functional.kl_div(a, b.exp(), reduction="sum")),
    "layer_norm": _case([(2, 3), (3,), (3,)], lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (3,), w, b).pow(2).sum()),
    "flip": _case([(2, 3)], lambda lib, x: (x.flip(0) ** 2).sum()),  # torch.flip copies, so must convlab's
}


@pytest.mark.parametrize("name", sorted(_CHANGE_CASES))
def test_in_place_changes_never_give_a_wrong_gradient_and_raise_only_where_torch_does(name):
    """Every input changed after forward, for every requires_grad pattern: where torch computes a
    gradient convlab computes the same one; where torch raises convlab raises or (when it saved a
    private copy) gives the gradient of the unchanged inputs; never a gradient of the new values."""
    build = _CHANGE_CASES[name]
    n = len(build.shapes)
    for mask in range(1, 2**n):
        requires_grad = [bool(mask >> i & 1) for i in range(n)]
        unchanged = _grads_after_change(torch, build, None, requires_grad)
        for i in range(n):
            theirs = _grads_after_change(torch, build, i, requires_grad)
            ours = _grads_after_change(convlab, build, i, requires_grad)
            where = f"{name}, requires_grad={requires_grad}, input {i} changed"
            if theirs is not None:
                assert ours is not None, f"{where}: torch computes a gradient but convlab raises"
            expected = theirs if theirs is not None else unchanged
            if ours is not None:
                for g_ours, g_expected in zip(ours, expected):
                    assert (g_ours is None) == (g_expected is None), where
                    if g_ours is not None:
                        np.testing.assert_allclose(g_ours, g_expected, rtol=1e-10, atol=1e-12, err_msg=where)


def test_changing_an_op_output_that_a_later_op_saved_raises_like_torch():
    def build(lib):
        x, w = lib.randn(3, requires_grad=True), lib.randn(3, requires_grad=True)
        y = x + 1  # Add saves nothing, but Mul saves y for w's gradient
        z = (y * w).sum()
        with lib.no_grad():
            y.zero_()
        z.backward()

    _both_raise(build, _modified((3,), "saved by MulBackward0"))

    def harmless(lib):  # the same change where nothing saved y
        x = lib.randn(3, requires_grad=True)
        y = x + 1
        z = (y * 2).sum()
        with lib.no_grad():
            y.zero_()
        z.backward()
        return x.grad.numpy().tolist()

    assert harmless(convlab) == harmless(torch) == [2.0, 2.0, 2.0]


def test_a_change_nothing_saved_passes_and_gives_torchs_gradient():
    grads = []
    for lib in (convlab, torch):
        a, w = lib.randn(2, 3), lib.randn(2, 3, requires_grad=True)
        y = (a + w).sum()  # Add saves nothing
        a.add_(1)
        a.mul_(2)
        y.backward()
        grads.append(w.grad.numpy().copy())
    np.testing.assert_array_equal(grads[0], grads[1])


def _two_layer(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))


def _copy_weights(src, dst):
    with torch.no_grad():
        for p_src, p_dst in zip(src.parameters(), dst.parameters()):
            p_dst.copy_(torch.from_numpy(p_src.detach().numpy().copy()))


def test_optimizer_step_between_forward_and_backward_raises_like_torch():
    for optimizer in ("SGD", "Adam"):
        def build(lib, optimizer=optimizer):
            model = _two_layer(lib)
            opt = getattr(lib.optim, optimizer)(model.parameters(), lr=0.1)
            x = lib.randn(5, 3)
            model(x).pow(2).sum().backward()
            loss = model(x).pow(2).sum()
            opt.step()  # updates the parameters in place; the second Linear saved its weight
            loss.backward()

        _both_raise(build, _modified((2, 4), "saved by LinearBackward0", now=2, then=1))


def test_load_state_dict_between_forward_and_backward_raises_like_torch():
    def build(lib):
        lin = lib.nn.Linear(3, 2)
        y = lin(lib.randn(4, 3, requires_grad=True)).sum()  # saves the weight for the input's gradient
        lin.load_state_dict(lib.nn.Linear(3, 2).state_dict())
        y.backward()

    _both_raise(build, _modified((2, 3), "saved by LinearBackward0", now=2, then=1))


def test_optimizer_step_before_backward_passes_where_torch_does():
    """A single Linear on an input that needs no gradient saves only that input (as torch's does),
    so a step before backward is harmless in both libraries."""
    grads = []
    layers = {convlab: convlab.nn.Linear(3, 2), torch: torch.nn.Linear(3, 2)}
    _copy_weights(layers[convlab], layers[torch])
    for lib, lin in layers.items():
        opt = lib.optim.SGD(lin.parameters(), lr=0.1)
        x = lib.tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3))
        lin(x).sum().backward()
        loss = lin(x).sum()
        opt.step()
        opt.zero_grad()
        loss.backward()
        grads.append(lin.weight.grad.numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_in_place_changes_after_backward_are_fine():
    a, w = convlab.randn(2, 3), convlab.randn(2, 3, requires_grad=True)
    y = (a * w).sum()
    y.backward()
    expected = a.numpy().copy()
    with convlab.no_grad():
        w.mul_(3)
    a.mul_(3)
    np.testing.assert_array_equal(w.grad.numpy(), expected)
    ((a * w).sum()).backward()  # a new graph sees the new values
    np.testing.assert_allclose(w.grad.numpy(), expected + 3 * expected, rtol=1e-6)


def test_training_loop_with_step_after_backward_matches_torch():
    losses = {}
    models = {convlab: _two_layer(convlab), torch: _two_layer(torch)}
    _copy_weights(models[convlab], models[torch])
    x0 = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    for lib, model in models.items():
        opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x = lib.tensor(x0)
        losses[lib] = []
        for _ in range(5):
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            losses[lib].append(loss.item())
    np.testing.assert_allclose(losses[convlab], losses[torch], rtol=1e-5)
    assert losses[convlab][-1] < losses[convlab][0]


def test_version_counter_counts_in_place_changes_like_torch():
    for lib in (convlab, torch):
        t = lib.zeros(3)
        assert t._version == 0
        t.add_(1)
        t[0] = 2.0
        t.zero_()
        t.addcmul_(lib.ones(3), lib.ones(3))
        assert t._version == 4, lib
        assert (t + 1)._version == 0
        w = lib.zeros(2, requires_grad=True)
        w.grad = lib.ones(2)
        lib.optim.SGD([w], lr=0.1).step()
        assert w._version == 1, lib


def test_version_bookkeeping_keeps_no_input_tensor_alive():
    w = convlab.randn(2, 3, requires_grad=True)
    x = convlab.randn(2, 3)  # needs no gradient: held weakly
    h = w * 2  # an op's output: reached through its producer, not held
    y = (x * h).sum()
    refs = [weakref.ref(x), weakref.ref(h)]
    del x, h
    gc.collect()
    assert [r() for r in refs] == [None, None]
    y.backward()  # the saved arrays are still there; nothing changed them
    assert w.grad is not None


def test_autograd_grad_checks_versions_too():
    a, w = convlab.randn(2, 3), convlab.randn(2, 3, requires_grad=True)
    y = (a * w).sum()
    a.zero_()
    with pytest.raises(RuntimeError, match=_modified((2, 3), "saved by MulBackward0")):
        convlab.autograd.grad(y, [w])
