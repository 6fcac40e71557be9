"""Optimisers against torch.optim: the same parameters and gradients, step by step."""

import itertools

import numpy as np
import pytest
import torch

import convlab
from convlab import nn, optim
from convlab.backend import cpu_kernels
from convlab.optim import _kernels

SHAPES = [(3, 4), (5,), (2, 1, 3)]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def make_params(rng, dtype, shapes=SHAPES):
    inits = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return [nn.Parameter(convlab.tensor(a)) for a in inits], [torch.nn.Parameter(torch.tensor(a)) for a in inits]


def set_grads(rng, cl_params, th_params, step):
    """The same random gradients for both; the last parameter gets none on every 4th step."""
    for i, (c, t) in enumerate(zip(cl_params, th_params)):
        if i == len(cl_params) - 1 and step % 4 == 3:
            c.grad, t.grad = None, None
            continue
        g = rng.standard_normal(c.shape).astype(c.dtype)
        c.grad, t.grad = convlab.tensor(g), torch.tensor(g)


def assert_params_equal(cl_params, th_params, dtype, msg=""):
    for i, (c, t) in enumerate(zip(cl_params, th_params)):
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), err_msg=f"{msg} param {i}", **TOL[dtype])


def assert_state_equal(cl_opt, th_opt, dtype):
    """Same state_dict structure (keys, group options, index layout) and the same buffers."""
    cl_sd, th_sd = cl_opt.state_dict(), th_opt.state_dict()
    assert cl_sd["param_groups"] == th_sd["param_groups"]
    assert cl_sd["state"].keys() == th_sd["state"].keys()
    for index, th_state in th_sd["state"].items():
        cl_state = cl_sd["state"][index]
        assert list(cl_state) == list(th_state), f"state keys of param {index}"
        for key, value in th_state.items():
            np.testing.assert_allclose(cl_state[key].numpy(), value.numpy(), err_msg=f"state {index}/{key}", **TOL[dtype])
            assert cl_state[key].dtype == np.dtype(str(value.dtype).replace("torch.", ""))


def run_parity(cl_cls, th_cls, kwargs, dtype=np.float64, steps=20, seed=0):
    rng = np.random.default_rng(seed)
    cl_params, th_params = make_params(rng, dtype)
    cl_opt, th_opt = cl_cls(cl_params, **kwargs), th_cls(th_params, **kwargs)
    for step in range(steps):
        set_grads(rng, cl_params, th_params, step)
        grads_before = [None if p.grad is None else p.grad.numpy().copy() for p in cl_params]
        cl_opt.step()
        th_opt.step()
        assert_params_equal(cl_params, th_params, dtype, f"step {step}")
        for p, g in zip(cl_params, grads_before):
            if g is not None:
                np.testing.assert_array_equal(p.grad.numpy(), g, err_msg="step() modified a gradient")
    assert_state_equal(cl_opt, th_opt, dtype)
    for p in cl_params:
        assert p.dtype == dtype
    return cl_opt, th_opt, cl_params, th_params


@pytest.fixture(params=["fused", "arrays"])
def update_path(request):
    """Run a test on the fused CPU kernels (the default) and on the array code (used for CuPy)."""
    if request.param == "arrays":
        with cpu_kernels.disabled():
            yield request.param
    else:
        yield request.param


# ------------------------------------------------------------------------------------ SGD
SGD_GRID = [
    dict(lr=0.05, momentum=m, dampening=d, nesterov=n, weight_decay=wd, maximize=mx)
    for m, d, n, wd, mx in itertools.product([0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.01], [False, True])
    if not (n and (m == 0 or d != 0))
]


@pytest.mark.parametrize("kwargs", SGD_GRID, ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items() if a != "lr"))
def test_sgd_matches_torch(kwargs, update_path):
    run_parity(optim.SGD, torch.optim.SGD, kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), dict(lr=0.01)])
def test_sgd_float32_stays_float32_and_matches(kwargs, update_path):
    run_parity(optim.SGD, torch.optim.SGD, kwargs, dtype=np.float32)


def test_sgd_defaults_match_torch():
    p = nn.Parameter(convlab.zeros(2))
    q = torch.nn.Parameter(torch.zeros(2))
    assert optim.SGD([p]).state_dict() == torch.optim.SGD([q]).state_dict()
    assert repr(optim.SGD([p], lr=0.1, momentum=0.9)) == repr(torch.optim.SGD([q], lr=0.1, momentum=0.9))


def test_param_groups_with_different_options():
    rng = np.random.default_rng(3)
    cl_params, th_params = make_params(rng, np.float64)
    groups = lambda ps: [{"params": ps[:2], "lr": 0.5, "momentum": 0.5}, {"params": ps[2:], "weight_decay": 0.1}]  # noqa: E731
    cl_opt = optim.SGD(groups(cl_params), lr=0.01, momentum=0.9)
    th_opt = torch.optim.SGD(groups(th_params), lr=0.01, momentum=0.9)
    assert cl_opt.param_groups[0]["lr"] == 0.5 and cl_opt.param_groups[1]["lr"] == 0.01
    for step in range(8):
        set_grads(rng, cl_params, th_params, step)
        if step == 4:  # schedulers and users edit group options between steps
            cl_opt.param_groups[1]["lr"] = th_opt.param_groups[1]["lr"] = 0.2
        cl_opt.step()
        th_opt.step()
        assert_params_equal(cl_params, th_params, np.float64, f"step {step}")
    assert_state_equal(cl_opt, th_opt, np.float64)


def test_add_param_group_and_named_params():
    rng = np.random.default_rng(4)
    cl_params, th_params = make_params(rng, np.float64)
    cl_opt = optim.SGD(cl_params[:1], lr=0.1, momentum=0.9)
    th_opt = torch.optim.SGD(th_params[:1], lr=0.1, momentum=0.9)
    cl_opt.add_param_group({"params": cl_params[1:], "lr": 0.3})
    th_opt.add_param_group({"params": th_params[1:], "lr": 0.3})
    for step in range(5):
        set_grads(rng, cl_params, th_params, step)
        cl_opt.step()
        th_opt.step()
    assert_params_equal(cl_params, th_params, np.float64)
    assert_state_equal(cl_opt, th_opt, np.float64)
    named = optim.SGD([("a", cl_params[0]), ("b", cl_params[1])], lr=0.1)
    assert named.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_closure_is_evaluated_with_grad_enabled():
    w = nn.Parameter(convlab.tensor([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with convlab.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -1.6], rtol=1e-6)


def test_zero_grad():
    a, b = nn.Parameter(convlab.ones(3)), nn.Parameter(convlab.ones(2))
    opt = optim.SGD([a, b], lr=0.1)
    (a.sum() * 2 + b.sum()).backward()
    grad = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad and not np.any(grad.numpy()) and not np.any(b.grad.numpy())
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_zeroed_grad_still_decays_but_none_grad_is_skipped():
    a, b = nn.Parameter(convlab.ones(2)), nn.Parameter(convlab.ones(2))
    opt = optim.SGD([a, b], lr=0.5, weight_decay=0.1)
    a.grad = convlab.zeros(2)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.95, 0.95])
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])


def test_plain_leaf_tensors_and_requires_grad_false_params_are_accepted():
    x = convlab.tensor([1.0, 2.0])  # a leaf that does not require grad
    opt = optim.SGD([x], lr=1.0)
    x.grad = convlab.tensor([0.5, 0.5])
    opt.step()
    np.testing.assert_allclose(x.numpy(), [0.5, 1.5])


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(5)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(12)]

    def run(opt, params, steps):
        for gs in steps:
            for p, g in zip(params, gs):
                p.grad = convlab.tensor(g)
            opt.step()

    params = [nn.Parameter(convlab.tensor(a)) for a in inits]
    opt = optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)
    run(opt, params, grads[:6])
    saved = opt.state_dict()
    resumed_params = [nn.Parameter(convlab.tensor(p.detach().numpy().copy())) for p in params]
    resumed = optim.SGD(resumed_params, lr=1.0)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.05 and resumed.param_groups[0]["nesterov"]
    assert resumed.param_groups[0]["params"][0] is resumed_params[0]
    # the loaded buffers are copies: the two optimisers no longer share state
    assert resumed.state[resumed_params[0]]["momentum_buffer"].data is not opt.state[params[0]]["momentum_buffer"].data
    run(opt, params, grads[6:])
    run(resumed, resumed_params, grads[6:])
    for a, b in zip(params, resumed_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_state_dict_loads_into_torch_and_back():
    """Our state_dict, converted tensor by tensor, drives torch's optimiser to the same place."""
    rng = np.random.default_rng(6)
    cl_params, th_params = make_params(rng, np.float64)
    cl_opt = optim.SGD(cl_params, lr=0.05, momentum=0.8, dampening=0.1)
    th_opt = torch.optim.SGD(th_params, lr=0.9)
    for step in range(3):
        set_grads(rng, cl_params, th_params, step)
        cl_opt.step()
    for c, t in zip(cl_params, th_params):
        t.data = torch.tensor(c.detach().numpy().copy())
    sd = cl_opt.state_dict()
    th_opt.load_state_dict(
        {"state": {k: {n: torch.tensor(v.numpy()) for n, v in s.items()} for k, s in sd["state"].items()}, "param_groups": sd["param_groups"]}
    )
    for step in range(3, 8):
        set_grads(rng, cl_params, th_params, step)
        cl_opt.step()
        th_opt.step()
    assert_params_equal(cl_params, th_params, np.float64)
    back = optim.SGD(cl_params, lr=0.3)
    th_sd = th_opt.state_dict()
    back.load_state_dict({"state": {k: {n: v.numpy() for n, v in s.items()} for k, s in th_sd["state"].items()}, "param_groups": th_sd["param_groups"]})
    assert_state_equal(back, th_opt, np.float64)


def test_load_state_dict_casts_buffers_to_param_dtype():
    p = nn.Parameter(convlab.zeros(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict({"state": {0: {"momentum_buffer": np.ones(3)}}, "param_groups": [{"lr": 0.2, "momentum": 0.9, "params": [0]}]})
    assert opt.state[p]["momentum_buffer"].dtype == np.float32
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["dampening"] == 0  # defaults fill missing keys


# ------------------------------------------------------------------------------------ errors
def test_bad_arguments_raise_clear_errors():
    p = nn.Parameter(convlab.zeros(2))
    with pytest.raises(ValueError, match=r"SGD\(\): invalid lr value -0.1, expected >= 0"):
        optim.SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="invalid momentum value -1"):
        optim.SGD([p], momentum=-1)
    with pytest.raises(ValueError, match="invalid weight_decay"):
        optim.SGD([{"params": [p], "weight_decay": -1.0}])
    with pytest.raises(ValueError, match="nesterov=True requires momentum > 0 and dampening = 0, got momentum=0"):
        optim.SGD([p], nesterov=True)
    with pytest.raises(TypeError, match="lr must be a real number, got str"):
        optim.SGD([p], lr="0.1")
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="got a single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\] is a ndarray"):
        optim.SGD([p, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf Tensor"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {p}}])
    with pytest.raises(ValueError, match="differentiable=True"):
        optim.SGD([p], differentiable=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(TypeError, match="param_group must be a dict, got list"):
        opt.add_param_group([p])
    with pytest.raises(ValueError, match="has 2 parameter groups, the optimizer has 1"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters in the loaded state dict but 1"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"lr": 0.1})
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)


# ------------------------------------------------------------------------------------ Adam / AdamW
ADAM_GRID = [
    dict(lr=0.01, betas=b, weight_decay=wd, amsgrad=ams, maximize=mx)
    for b, wd, ams, mx in itertools.product([(0.9, 0.999), (0.6, 0.9)], [0.0, 0.05], [False, True], [False, True])
]


@pytest.mark.parametrize("kwargs", ADAM_GRID, ids=str)
def test_adam_matches_torch(kwargs, update_path):
    run_parity(optim.Adam, torch.optim.Adam, kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=0.01), dict(lr=0.02, weight_decay=0.1, amsgrad=True), dict(lr=0.01, betas=(0.5, 0.9), maximize=True)], ids=str)
def test_adamw_matches_torch(kwargs, update_path):
    run_parity(optim.AdamW, torch.optim.AdamW, kwargs)


def test_adam_decoupled_weight_decay_matches_torch(update_path):
    run_parity(optim.Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True))


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_adam_float32(cls, update_path):
    run_parity(getattr(optim, cls), getattr(torch.optim, cls), dict(lr=1e-2, weight_decay=1e-2, amsgrad=True), dtype=np.float32)


def test_adamw_keeps_decoupled_after_loading_an_adam_state():
    p = nn.Parameter(convlab.zeros(2))
    adam_state = optim.Adam([p], weight_decay=0.1).state_dict()
    opt = optim.AdamW([p])
    opt.load_state_dict(adam_state)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ------------------------------------------------------------------------------------ RMSprop
RMSPROP_GRID = [
    dict(lr=0.01, alpha=a, momentum=m, centered=c, weight_decay=wd, maximize=mx)
    for a, m, c, wd, mx in itertools.product([0.99, 0.3], [0.0, 0.9], [False, True], [0.0, 0.05], [False, True])
]


@pytest.mark.parametrize("kwargs", RMSPROP_GRID, ids=str)
def test_rmsprop_matches_torch(kwargs, update_path):
    run_parity(optim.RMSprop, torch.optim.RMSprop, kwargs)


def test_rmsprop_float32(update_path):
    run_parity(optim.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, momentum=0.9, centered=True, weight_decay=1e-3), dtype=np.float32)


# ------------------------------------------------------------------------------------ Adagrad
ADAGRAD_GRID = [
    dict(lr=0.1, lr_decay=d, weight_decay=wd, initial_accumulator_value=init, eps=1e-10, maximize=mx)
    for d, wd, init, mx in itertools.product([0.0, 0.05], [0.0, 0.05], [0.0, 0.5], [False, True])
]


@pytest.mark.parametrize("kwargs", ADAGRAD_GRID, ids=str)
def test_adagrad_matches_torch(kwargs, update_path):
    run_parity(optim.Adagrad, torch.optim.Adagrad, kwargs)


def test_adagrad_float32_and_state_created_eagerly(update_path):
    run_parity(optim.Adagrad, torch.optim.Adagrad, dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1), dtype=np.float32)
    p, q = nn.Parameter(convlab.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    assert optim.Adagrad([p]).state_dict()["state"].keys() == torch.optim.Adagrad([q]).state_dict()["state"].keys() == {0}


@pytest.mark.parametrize(
    "name, kwargs",
    [("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)), ("RMSprop", dict(momentum=0.5, centered=True)), ("Adagrad", dict(lr_decay=0.1))],
)
def test_state_dict_round_trip_through_torch(name, kwargs):
    """Each optimiser's state_dict has torch's layout: loaded into torch mid-run, both continue alike."""
    rng = np.random.default_rng(7)
    cl_params, th_params = make_params(rng, np.float64)
    cl_opt = getattr(optim, name)(cl_params, **kwargs)
    th_opt = getattr(torch.optim, name)(th_params, **kwargs)
    for step in range(4):
        set_grads(rng, cl_params, th_params, step)
        cl_opt.step()
        th_opt.step()
    sd = cl_opt.state_dict()
    fresh = getattr(torch.optim, name)(th_params, lr=0.5)
    fresh.load_state_dict(
        {"state": {k: {n: torch.tensor(v.numpy()) for n, v in s.items()} for k, s in sd["state"].items()}, "param_groups": sd["param_groups"]}
    )
    resumed = getattr(optim, name)(cl_params, lr=0.5)
    resumed.load_state_dict(sd)
    for step in range(4, 10):
        set_grads(rng, cl_params, th_params, step)
        resumed.step()
        fresh.step()
        assert_params_equal(cl_params, th_params, np.float64, f"step {step}")
    assert_state_equal(resumed, fresh, np.float64)


def test_other_optimisers_reject_bad_arguments():
    p = nn.Parameter(convlab.zeros(2))
    with pytest.raises(ValueError, match=r"Adam\(\): invalid betas\[0\] value 1.0, expected >= 0.0 and < 1.0"):
        optim.Adam([p], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match=r"AdamW\(\): invalid betas\[1\] value -0.1"):
        optim.AdamW([p], betas=(0.9, -0.1))
    with pytest.raises(TypeError, match=r"betas must be a pair of floats \(beta1, beta2\), got 0.9"):
        optim.Adam([p], betas=0.9)
    with pytest.raises(ValueError, match=r"Adam\(\): invalid eps value -1e-08"):
        optim.Adam([p], eps=-1e-8)
    with pytest.raises(ValueError, match=r"RMSprop\(\): invalid alpha value -0.5"):
        optim.RMSprop([p], alpha=-0.5)
    with pytest.raises(ValueError, match=r"RMSprop\(\): invalid momentum value nan"):
        optim.RMSprop([p], momentum=float("nan"))
    with pytest.raises(ValueError, match=r"Adagrad\(\): invalid lr_decay value -1"):
        optim.Adagrad([p], lr_decay=-1)
    with pytest.raises(ValueError, match=r"Adagrad\(\): invalid initial_accumulator_value value -0.1"):
        optim.Adagrad([p], initial_accumulator_value=-0.1)


# ------------------------------------------------------------------------------------ fused kernels
FUSED_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(momentum=0.9, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(alpha=0.2, centered=True, maximize=True)),
    ("Adagrad", dict(lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", FUSED_CASES, ids=str)
def test_fused_kernels_equal_the_array_code_bit_for_bit(name, kwargs, dtype, monkeypatch):
    """Same operations in the same order and dtype: the one-pass kernel and the array code agree exactly."""
    rng = np.random.default_rng(8)
    inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(6)]
    results = []
    for fused in (True, False):
        monkeypatch.setattr(_kernels, "fusable", _kernels.fusable if fused else (lambda *arrays: False))
        params = [nn.Parameter(convlab.tensor(a)) for a in inits]
        opt = getattr(optim, name)(params, **kwargs)
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = convlab.tensor(g)
            opt.step()
        results.append([p.detach().numpy() for p in params] + [v.numpy() for s in opt.state_dict()["state"].values() for v in s.values()])
        monkeypatch.undo()
    for fused_value, array_value in zip(*results):
        assert fused_value.dtype == array_value.dtype
        np.testing.assert_array_equal(fused_value, array_value)


@pytest.mark.skipif(not cpu_kernels.enabled(), reason="compiled kernels unavailable or CONVLAB_KERNELS=0")
def test_fused_kernel_is_used_for_contiguous_cpu_params_only(monkeypatch):
    calls = []
    real_get = _kernels.get
    monkeypatch.setattr(_kernels, "get", lambda name: (calls.append(name), real_get(name))[1])
    p = nn.Parameter(convlab.ones(4, 3))
    opt = optim.Adam([p])
    p.grad = convlab.ones(4, 3)
    opt.step()
    assert calls == ["adam"]
    q = nn.Parameter(convlab.tensor(np.ones((3, 4), np.float32).T))  # a non-contiguous view: array code
    opt = optim.Adam([q])
    q.grad = convlab.ones(4, 3)
    opt.step()
    assert calls == ["adam"]
    np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy())
    h = nn.Parameter(convlab.ones(3, dtype=convlab.float16))  # float16: array code, stays float16
    opt = optim.SGD([h], lr=0.5, momentum=0.9)
    h.grad = convlab.ones(3, dtype=convlab.float16)
    opt.step()
    assert calls == ["adam"] and h.dtype == np.float16 and h.detach().numpy().tolist() == [0.5, 0.5, 0.5]


def test_gradient_of_the_wrong_shape_is_a_clear_error():
    p = nn.Parameter(convlab.zeros(2, 3))
    for opt in (optim.SGD([p], lr=0.1), optim.Adam([p]), optim.RMSprop([p]), optim.Adagrad([p])):
        p.grad = convlab.ones(3, 2)
        with pytest.raises(RuntimeError, match=r"\.step\(\): params\[0\] of its group has shape \(2, 3\) but its \.grad has shape \(3, 2\)"):
            opt.step()
