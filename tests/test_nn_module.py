"""nn.Module, containers, Linear, Identity, Flatten, Unflatten against PyTorch: state_dict keys and
loading (with PyTorch's error text), traversal and de-duplication, modes, hooks (forward and full
backward, compared call by call with PyTorch's), device/dtype moves, reprs, and Linear parity."""

import copy
import re
import warnings

import numpy as np
import pytest
import torch
from guides import run_examples
from parity import both_raise, check, gradcheck

import convlab
import convlab.nn as nn
import convlab.nn.functional as F


def _numpy_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _normalise_torch_text(text):
    """PyTorch prints shapes as ``torch.Size([4, 3])`` and dtypes as ``torch.float32``."""
    text = re.sub(
        r"torch\.Size\(\[([^\]]*)\]\)",
        lambda m: "(" + m.group(1) + ("," if "," not in m.group(1) and m.group(1) else "") + ")",
        text,
    )
    return text.replace("torch.", "convlab.")


def build_net(lib):
    """The same nested model in convlab (``lib=convlab``) or PyTorch (``lib=torch``)."""
    nn_ = lib.nn

    class Block(nn_.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = nn_.Linear(width, width)
            self.act = nn_.PReLU(width)
            self.register_buffer("running", lib.zeros(width))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.register_parameter("unused", None)
            self.scale = nn_.Parameter(lib.ones(1))

        def forward(self, x):
            return self.act(self.fc(x)) * self.scale + self.running

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.features = nn_.Sequential(nn_.Linear(3, 4), nn_.ReLU(), Block(4), nn_.Flatten())
            self.blocks = nn_.ModuleList([Block(4), Block(4)])
            self.heads = nn_.ModuleDict(
                {
                    "cls": nn_.Linear(4, 2),
                    "reg": nn_.Sequential(nn_.Linear(4, 4), nn_.Tanh(), nn_.Linear(4, 1, bias=False)),
                }
            )
            self.gain = nn_.ParameterList([nn_.Parameter(lib.ones(2))])
            self.register_buffer("steps", lib.zeros((), dtype=lib.int64))

        def forward(self, x):
            h = self.features(x)
            for block in self.blocks:
                h = block(h)
            return self.heads["cls"](h) * self.gain[0] + self.heads["reg"](h)

    return Net()


# ---------------------------------------------------------------------- state dict and traversal
def test_state_dict_keys_and_traversal_names_match_torch():
    cl, th = build_net(convlab), build_net(torch)
    assert list(cl.state_dict()) == list(th.state_dict())
    assert [n for n, _ in cl.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert [n for n, _ in cl.named_buffers()] == [n for n, _ in th.named_buffers()]
    assert [n for n, _ in cl.named_modules()] == [n for n, _ in th.named_modules()]
    assert [n for n, _ in cl.named_children()] == [n for n, _ in th.named_children()]
    assert [n for n, _ in cl.features.named_parameters(prefix="f", recurse=False)] == []
    assert [n for n, _ in cl.blocks[0].named_parameters(recurse=False)] == [
        n for n, _ in th.blocks[0].named_parameters(recurse=False)
    ]
    assert [tuple(p.shape) for p in cl.parameters()] == [tuple(p.shape) for p in th.parameters()]


def test_loading_torch_weights_gives_torch_outputs(rng):
    cl, th = build_net(convlab), build_net(torch)
    state = _numpy_state(th)
    state["features.2.running"] = rng.standard_normal(4).astype(np.float32)
    th.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    assert cl.load_state_dict(state) == ([], [])
    x = rng.standard_normal((5, 3)).astype(np.float32)
    check(cl, th, x)


def test_load_state_dict_accepts_tensors_and_arrays_and_casts():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.weight.detach().numpy(), a.weight.detach().numpy())
    b.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})  # float64 arrays into float32
    assert b.weight.dtype == np.float32 and b.weight.detach().numpy().sum() == 6
    weight_object = b.weight
    b.load_state_dict({"weight": np.full((2, 3), 2.0), "bias": convlab.ones(2)}, assign=True)
    assert b.weight is not weight_object and isinstance(b.weight, nn.Parameter) and b.weight.dtype == np.float32
    assert b.weight.requires_grad and b.weight.detach().numpy().sum() == 12


def _load_errors(lib, state, strict):
    net = build_net(lib)
    if lib is torch:
        state = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in state.items()}
    try:
        return net.load_state_dict(state, strict=strict)
    except RuntimeError as e:
        return e


def test_load_state_dict_errors_list_every_key_like_torch():
    state = _numpy_state(build_net(torch))
    del state["features.0.bias"], state["blocks.1.scale"]
    state["features.9.weight"] = np.zeros(1, dtype=np.float32)
    state["heads.cls.extra"] = np.zeros(1, dtype=np.float32)
    state["blocks.0.fc.weight"] = np.zeros((4, 5), dtype=np.float32)
    state["top"] = np.zeros(1, dtype=np.float32)
    cl_err, th_err = _load_errors(convlab, dict(state), True), _load_errors(torch, dict(state), True)
    assert isinstance(cl_err, RuntimeError) and isinstance(th_err, RuntimeError)
    assert str(cl_err) == _normalise_torch_text(str(th_err))
    for key in ("features.0.bias", "blocks.1.scale", "features.9.weight", "heads.cls.extra", "top", "(4, 5)", "(4, 4)"):
        assert key in str(cl_err)
    # non-strict: a shape mismatch still raises; without it the incompatible keys are returned
    assert str(_load_errors(convlab, dict(state), False)) == _normalise_torch_text(
        str(_load_errors(torch, dict(state), False))
    )
    del state["blocks.0.fc.weight"]
    cl_keys, th_keys = _load_errors(convlab, dict(state), False), _load_errors(torch, dict(state), False)
    assert cl_keys.missing_keys == th_keys.missing_keys and cl_keys.unexpected_keys == th_keys.unexpected_keys
    with pytest.raises(RuntimeError, match='While copying the parameter named "0.bias"'):
        nn.Sequential(nn.Linear(3, 4)).load_state_dict({"0.weight": np.zeros((4, 3)), "0.bias": [0, 0, 0, 0]})
    with pytest.raises(TypeError, match="expected a mapping"):
        nn.Linear(2, 2).load_state_dict([1, 2])


def test_shared_parameters_and_modules_are_listed_once_like_torch():
    def tied(lib):
        net = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.ReLU(), lib.nn.Linear(3, 3))
        net[2].weight = net[0].weight
        shared = lib.nn.Linear(3, 3)
        return lib.nn.Sequential(net, shared, shared)

    cl, th = tied(convlab), tied(torch)
    for method in ("named_parameters", "named_modules"):
        assert [n for n, _ in getattr(cl, method)()] == [n for n, _ in getattr(th, method)()]
        assert [n for n, _ in getattr(cl, method)(remove_duplicate=False)] == [
            n for n, _ in getattr(th, method)(remove_duplicate=False)
        ]
    assert list(cl.state_dict()) == list(th.state_dict())
    assert len(list(cl.parameters())) == len(list(th.parameters())) == 5
    assert [n for n, _ in cl.named_children()] == [n for n, _ in th.named_children()]


def test_get_submodule_parameter_and_buffer():
    net = build_net(convlab)
    assert net.get_submodule("heads.reg.2") is net.heads["reg"][2]
    assert net.get_parameter("blocks.1.fc.bias") is net.blocks[1].fc.bias
    assert net.get_buffer("blocks.0.running") is net.blocks[0].running
    with pytest.raises(AttributeError, match="has no submodule 'nope'"):
        net.get_submodule("heads.nope")


# ---------------------------------------------------------------------- modes, grads, apply, to
def test_train_eval_propagate_through_children_train():
    calls = []

    class Frozen(nn.Linear):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(False)  # this layer always stays in eval mode

    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(Frozen(2, 2), nn.ReLU()))
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert [m.training for m in net.modules()] == [True, True, True, False, True]
    assert calls == [False, True]
    with pytest.raises(ValueError, match="mode is expected to be a bool"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    net(convlab.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first_like_torch():
    def order(lib):
        seen = []
        build_net(lib).apply(lambda m: seen.append(type(m).__name__))
        return seen

    assert order(convlab) == order(torch)


def test_to_casts_floating_parameters_buffers_and_grads():
    net = build_net(convlab)
    net(convlab.randn(2, 3)).sum().backward()
    assert net.to(convlab.float64) is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert all(p.grad.dtype == np.float64 for p in net.parameters() if p.grad is not None)
    assert net.blocks[0].running.dtype == np.float64 and net.steps.dtype == np.int64
    assert net(convlab.randn(2, 3, dtype=convlab.float64)).dtype == np.float64
    net.float()
    assert net.features[0].weight.dtype == np.float32
    net.to(convlab.zeros(1, dtype=convlab.float64))
    assert net.features[0].weight.dtype == np.float64
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        net.to(convlab.int64)
    assert net.to("cpu") is net


def test_deepcopy_gives_independent_parameters():
    net = build_net(convlab)
    clone = copy.deepcopy(net)
    assert list(clone.state_dict()) == list(net.state_dict())
    with convlab.no_grad():
        clone.features[0].weight.fill_(0.0)
    assert net.features[0].weight.detach().numpy().any()


# ---------------------------------------------------------------------- Parameter
def test_parameter_wraps_without_copy_and_prints_like_torch():
    array = np.zeros(3, dtype=np.float32)
    p = nn.Parameter(convlab.from_numpy(array))
    assert p.data is array and p.requires_grad and p.is_leaf
    for values, requires_grad in (([1.0, 2.0], True), ([[0.5], [-1.5]], False)):
        cl = nn.Parameter(convlab.tensor(values), requires_grad=requires_grad)
        assert repr(cl) == repr(torch.nn.Parameter(torch.tensor(values), requires_grad=requires_grad))
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients, got dtype int64"):
        nn.Parameter(convlab.tensor([1, 2]))


# ---------------------------------------------------------------------- registration errors
def test_attribute_registration_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        m.weight = convlab.zeros(2, 2)
    m.bias = None
    assert m.bias is None and "bias" not in m.state_dict()
    with pytest.raises(TypeError, match="cannot assign list as buffer"):
        m.register_buffer("buf", [1, 2])
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.register_buffer("a.b", convlab.zeros(1))
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_buffer("in_features", convlab.zeros(1))
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(AttributeError, match="before Broken.__init__"):

        class Broken(nn.Module):
            def __init__(self):
                self.fc = nn.Linear(1, 1)

        Broken()
    del m.weight
    assert "weight" not in dict(m.named_parameters())
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(convlab.zeros(1))


# ---------------------------------------------------------------------- forward hooks
def _hook_events(lib):
    events = []
    net = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
    layer = net[0]
    layer.register_forward_pre_hook(lambda m, args: events.append("pre1"))
    layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))  # doubles the input
    layer.register_forward_pre_hook(lambda m, args: events.append("pre0"), prepend=True)
    layer.register_forward_pre_hook(lambda m, args, kwargs: events.append(f"prekw{len(kwargs)}"), with_kwargs=True)
    layer.register_forward_hook(lambda m, args, out: events.append(f"post{tuple(out.shape)}"))
    layer.register_forward_hook(lambda m, args, kwargs, out: out + 1, with_kwargs=True)
    handle = layer.register_forward_hook(lambda m, args, out: events.append("removed"))
    handle.remove()
    with torch.no_grad() if lib is torch else convlab.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(0.0)
    out = net(lib.ones(1, 2))
    return events, out.detach().numpy()


def test_forward_hooks_run_in_torch_order_and_replace_values():
    cl_events, cl_out = _hook_events(convlab)
    th_events, th_out = _hook_events(torch)
    assert cl_events == th_events
    np.testing.assert_array_equal(cl_out, th_out)
    np.testing.assert_array_equal(cl_out, [[5.0, 5.0]])


def test_always_call_forward_hook_runs_when_forward_raises():
    seen = []
    layer = nn.Linear(2, 2)
    layer.register_forward_hook(lambda m, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="last dimension 2"):
        layer(convlab.zeros(1, 3))
    assert seen == [None]


# ---------------------------------------------------------------------- full backward hooks
class _TwoInputs:
    """forward(x, y, scale): x * y * scale and a second, unused output; y needs no gradient."""

    @staticmethod
    def make(lib):
        class TwoInputs(lib.nn.Module):
            def forward(self, x, y, scale):
                return x * y * scale, x + 1

        return TwoInputs()


def _backward_hook_record(lib, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    arrays = [rng.standard_normal(s) for s in [(4, 3), (2, 3), (3, 4), (2, 3)]]
    as_t = lambda a: torch.from_numpy(a.copy()) if lib is torch else convlab.tensor(a.copy())  # noqa: E731
    first = lib.nn.Linear(3, 4).double()
    second = lib.nn.Linear(4, 3).double()
    two = _TwoInputs.make(lib)
    first.load_state_dict({"weight": as_t(arrays[0]), "bias": as_t(arrays[0][:, 0])})
    second.load_state_dict({"weight": as_t(arrays[2]), "bias": as_t(arrays[2][:, 0])})
    record = []

    def hook(m, grad_input, grad_output):
        record.append(
            (
                type(m).__name__,
                [None if g is None else g.detach().numpy().copy() for g in grad_input],
                [None if g is None else g.detach().numpy().copy() for g in grad_output],
            )
        )

    def halve_input_grad(m, grad_input, grad_output):
        return tuple(None if g is None else g * 0.5 for g in grad_input)

    def pre_hook(m, grad_output):
        record.append(("pre", [None if g is None else g.detach().numpy().copy() for g in grad_output]))
        return (grad_output[0] * 3,)

    for m in (first, second, two):
        m.register_full_backward_hook(hook)
    second.register_full_backward_hook(halve_input_grad)
    second.register_full_backward_pre_hook(pre_hook)
    x = as_t(arrays[1]).requires_grad_()
    y = as_t(arrays[3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first layer's input needs no grad: both libraries warn
        h = first(as_t(arrays[1]))  # input without grad: hook sees grad_input (None,)
        out, unused = two(second(h) + x, y, 2.0)
        out.sum().backward()
    return record, x.grad.numpy(), first.weight.grad.numpy()


def test_full_backward_hooks_receive_the_same_tuples_as_torch():
    cl_record, cl_xgrad, cl_wgrad = _backward_hook_record(convlab)
    th_record, th_xgrad, th_wgrad = _backward_hook_record(torch)
    assert [r[0] for r in cl_record] == [r[0] for r in th_record]
    for (name, *cl_parts), (_, *th_parts) in zip(cl_record, th_record):
        for cl_grads, th_grads in zip(cl_parts, th_parts):
            assert len(cl_grads) == len(th_grads), name
            for c, t in zip(cl_grads, th_grads):
                assert (c is None) == (t is None), name
                if c is not None:
                    np.testing.assert_allclose(c, t, rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(cl_xgrad, th_xgrad, rtol=1e-12)
    np.testing.assert_allclose(cl_wgrad, th_wgrad, rtol=1e-12)  # the hooks' replacements took effect


def _multi_io_hook_record(lib, use_first):
    class MultiIO(lib.nn.Module):
        def forward(self, x, y, z, scale):  # z requires grad but is unused; y needs no grad
            return x * y * scale, x + 1

    record = []
    module = MultiIO()
    module.register_full_backward_hook(
        lambda m, gi, go: record.append([None if g is None else g.numpy().tolist() for g in gi + go])
    )
    x, z = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
    a, b = module(x, lib.full((2,), 3.0), z, 2.0)
    (a if use_first else b).sum().backward()
    return record


@pytest.mark.parametrize("use_first", [True, False])
def test_backward_hook_gradient_placeholders_match_torch(use_first):
    # tensors without a gradient get zeros in grad_input; outputs no gradient reached get None
    assert _multi_io_hook_record(convlab, use_first) == _multi_io_hook_record(torch, use_first)


def test_backward_hook_with_wrong_number_of_gradients_raises():
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="returned 2 gradients, expected 1"):
        layer(convlab.randn(3, 2, requires_grad=True)).sum().backward()


# ---------------------------------------------------------------------- containers
def test_sequential_editing_matches_torch():
    def edit(lib):
        n = lib.nn
        seq = n.Sequential(n.Linear(1, 2), n.ReLU(), n.Linear(2, 3), n.Tanh())
        seq.insert(-1, n.Sigmoid())
        del seq[0]
        seq.append(n.Linear(3, 3))
        seq.pop(1)
        seq[0] = n.Hardtanh()
        seq += n.Sequential(n.ELU())
        seq = seq + n.Sequential(n.GELU())
        seq.extend([n.SiLU()])
        return seq, seq[1:3], seq * 2

    for cl, th in zip(edit(convlab), edit(torch)):
        assert repr(cl) == repr(th)
        assert list(cl.state_dict()) == list(th.state_dict())
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    with pytest.raises(ValueError, match="Non-positive multiplication factor"):
        seq * 0


def test_sequential_from_ordered_dict_and_forward():
    import collections

    seq = nn.Sequential(collections.OrderedDict([("fc", nn.Linear(3, 2)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"] and seq.act is seq[1]
    out = seq(convlab.randn(4, 3))
    assert out.shape == (4, 2) and (out.detach().numpy() >= 0).all()


def test_module_list_and_dict_editing_match_torch():
    def edit(lib):
        n = lib.nn
        ml = n.ModuleList([n.Linear(2, 2) for _ in range(3)])
        ml.append(n.ReLU()).extend([n.ReLU(), n.Tanh()])
        ml.insert(1, n.Sigmoid())
        del ml[0]
        ml += [n.ReLU()]
        ml2 = ml + n.ModuleList([n.ELU()])
        md = n.ModuleDict({"b": n.Linear(2, 2), "a": n.ReLU()})
        md.update([("c", n.Tanh())])
        md["d"] = n.Linear(1, 1)
        md.pop("a")
        return ml, ml2, ml[1:3], md, n.ModuleList()

    for cl, th in zip(edit(convlab), edit(torch)):
        assert repr(cl) == repr(th)
        assert list(cl.state_dict()) == list(th.state_dict())
    md = edit(convlab)[3]
    assert list(md.keys()) == ["b", "c", "d"] and "c" in md and len(md) == 3


def test_parameter_list_matches_torch_up_to_the_dtype_name():
    def make(lib):
        pl = lib.nn.ParameterList([lib.nn.Parameter(lib.zeros(2, 3)), lib.zeros(4)])
        pl.append(lib.nn.Parameter(lib.ones(1)))
        return pl

    cl, th = make(convlab), make(torch)
    assert repr(cl) == _normalise_torch_text(repr(th))
    assert [n for n, _ in cl.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert isinstance(cl[1], nn.Parameter) and cl[1].requires_grad


# ---------------------------------------------------------------------- reprs
def test_nested_repr_matches_torch_for_every_owned_module():
    def make(lib):
        n = lib.nn
        return n.Sequential(
            n.Flatten(),
            n.Unflatten(1, (2, 6)),
            n.Flatten(0, -1),
            n.Identity(54, unused=1),
            n.Linear(12, 8),
            n.Linear(8, 8, bias=False),
            n.ReLU(),
            n.ReLU(True),
            n.ReLU6(),
            n.LeakyReLU(0.1),
            n.ELU(alpha=0.3),
            n.GELU(approximate="tanh"),
            n.SiLU(),
            n.Sigmoid(),
            n.Tanh(),
            n.Hardtanh(-3.0, 3.0),
            n.Softplus(beta=2.0),
            n.Hardswish(),
            n.Hardsigmoid(),
            n.PReLU(8),
            n.Softmax(dim=-1),
            n.LogSoftmax(1),
            n.Sequential(n.Linear(8, 4), n.ModuleList([n.ReLU(), n.ReLU()]), n.ModuleDict({"x": n.Tanh()})),
            n.CrossEntropyLoss(),
            n.NLLLoss(),
            n.MSELoss(),
            n.L1Loss(),
            n.SmoothL1Loss(),
            n.HuberLoss(),
            n.BCELoss(),
            n.BCEWithLogitsLoss(),
            n.KLDivLoss(),
        )

    assert repr(make(convlab)) == repr(make(torch))


# ---------------------------------------------------------------------- Linear, Flatten, Unflatten
@pytest.mark.parametrize("seed", range(4))
def test_linear_matches_torch_with_copied_weights(seed):
    rng = np.random.default_rng(seed)
    dtype = [np.float32, np.float64][seed % 2]
    in_f, out_f = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    bias = seed != 2
    lead = tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    th = torch.nn.Linear(in_f, out_f, bias=bias, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    cl = nn.Linear(in_f, out_f, bias=bias, dtype=dtype)
    cl.load_state_dict(_numpy_state(th))
    x = rng.standard_normal(lead + (in_f,)).astype(dtype)
    xc, xt = convlab.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    g = rng.standard_normal(lead + (out_f,)).astype(dtype)
    yc, yt = cl(xc), th(xt)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), **tol)
    (yc * convlab.tensor(g)).sum().backward()
    (yt * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **tol)
    for name, p in th.named_parameters():
        np.testing.assert_allclose(cl.get_parameter(name).grad.numpy(), p.grad.numpy(), **tol)


def test_functional_linear_parity_and_gradcheck(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    check(F.linear, torch.nn.functional.linear, x, w, b)
    check(F.linear, torch.nn.functional.linear, x.astype(np.float32), w.astype(np.float32))
    gradcheck(F.linear, x, w, b)


def test_linear_errors_name_the_layer():
    layer = nn.Linear(4, 2)
    err = both_raise(layer, torch.nn.Linear(4, 2), np.zeros((3, 5), dtype=np.float32))
    assert str(err).startswith("Linear(in_features=4, out_features=2, bias=True): ") and "(3, 5)" in str(err)
    err = both_raise(layer, torch.nn.Linear(4, 2), np.zeros((3, 4), dtype=np.float64))
    assert "float32" in str(err) and "float64" in str(err)
    with pytest.raises(TypeError, match="expected a Tensor input, got list"):
        layer([1.0, 2.0, 3.0, 4.0])


def test_flatten_unflatten_match_torch(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    for cl, th in [
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
        (nn.Flatten(-2), torch.nn.Flatten(-2)),
        (nn.Unflatten(2, (2, 2)), torch.nn.Unflatten(2, (2, 2))),
        (nn.Unflatten(-1, [5, 1]), torch.nn.Unflatten(-1, [5, 1])),
    ]:
        assert repr(cl) == repr(th)
        check(cl, th, x)
    err = both_raise(nn.Unflatten(1, (2, 2)), torch.nn.Unflatten(1, (2, 2)), x)
    assert "(2, 2)" in str(err) or "[2, 2]" in str(err)
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints"):
        nn.Unflatten(1, 5)
    with pytest.raises(TypeError, match="position 1"):
        nn.Unflatten(1, (2, "a"))


# ---------------------------------------------------------------------- the user guide's examples
def test_user_guide_examples_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_examples("docs/nn_modules_and_losses.md", min_examples=5)
