"""Activations: forward and backward parity with PyTorch on randomized shapes and options,
the derivative conventions at the kinks, float64 gradchecks, module reprs, in-place semantics
and errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from convlab.backend import cpu_kernels
from parity import both_raise, check, gradcheck

# name, options drawn per case (functional keyword arguments)
POINTWISE = [
    ("relu", lambda rng: {}),
    ("relu6", lambda rng: {}),
    ("leaky_relu", lambda rng: {"negative_slope": float(rng.choice([0.01, 0.2, -0.5]))}),
    ("elu", lambda rng: {"alpha": float(rng.choice([1.0, 0.5, 2.3]))}),
    ("gelu", lambda rng: {"approximate": str(rng.choice(["none", "tanh"]))}),
    ("silu", lambda rng: {}),
    ("hardtanh", lambda rng: {"min_val": float(rng.choice([-1.0, -2.5])), "max_val": float(rng.choice([1.0, 0.5]))}),
    ("sigmoid", lambda rng: {}),
    ("tanh", lambda rng: {}),
    ("softplus", lambda rng: {"beta": float(rng.choice([1.0, 2.0, 0.5])), "threshold": float(rng.choice([20.0, 1.0]))}),
    ("hardswish", lambda rng: {}),
    ("hardsigmoid", lambda rng: {}),
]


def _random_input(rng, dtype):
    shape = tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(0, 4))))
    return (rng.standard_normal(shape) * 4).astype(dtype)


@pytest.mark.parametrize("name, options", POINTWISE, ids=[p[0] for p in POINTWISE])
@pytest.mark.parametrize("seed", range(3))
def test_pointwise_activation_matches_torch(name, options, seed):
    rng = np.random.default_rng(seed)
    dtype = [np.float64, np.float32][seed % 2]
    x = _random_input(rng, dtype)
    kwargs = options(rng)
    check(lambda a: getattr(F, name)(a, **kwargs), lambda a: getattr(TF, name)(a, **kwargs), x)


@pytest.mark.parametrize("name, options", POINTWISE, ids=[p[0] for p in POINTWISE])
def test_pointwise_activation_gradcheck(name, options):
    rng = np.random.default_rng(42)
    kwargs = options(rng)
    gradcheck(lambda a: getattr(F, name)(a, **kwargs), rng.standard_normal((3, 4)) * 3)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("relu", {}),
        ("relu6", {}),
        ("leaky_relu", {}),
        ("elu", {}),
        ("hardtanh", {}),
        ("hardswish", {}),
        ("hardsigmoid", {}),
        ("softplus", {"beta": 2.0, "threshold": 4.0}),
        ("gelu", {}),
        ("silu", {}),
    ],
)
def test_derivative_at_the_kinks_matches_torch(name, kwargs):
    # the exact points where the derivative is one-sided: each library picks a convention
    x = np.array([-6.0, -3.0, -1.0, 0.0, 1.0, 2.0, 3.0, 6.0, 30.0], dtype=np.float32)
    check(lambda a: getattr(F, name)(a, **kwargs), lambda a: getattr(TF, name)(a, **kwargs), x)


def test_activations_are_stable_for_extreme_inputs():
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32)
    for name in ["sigmoid", "silu", "softplus", "elu", "tanh", "gelu"]:
        out = check(lambda a: getattr(F, name)(a), lambda a: getattr(TF, name)(a), x)
        assert np.all(np.isfinite(out[0].detach().numpy()))


def test_activations_keep_float32():
    x = convlab.randn(3, requires_grad=True)
    for name, _ in POINTWISE:
        y = getattr(F, name)(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32, name
        x.grad = None


# ---------------------------------------------------------------------- softmax family
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("seed", range(3))
def test_softmax_matches_torch(fn, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((2, 3, 4)) * 5).astype([np.float64, np.float32][seed % 2])
    for dim in range(-3, 3):
        check(lambda a: getattr(F, fn)(a, dim=dim), lambda a: getattr(TF, fn)(a, dim=dim), x)
    gradcheck(lambda a: getattr(F, fn)(a, dim=seed - 1), x.astype(np.float64))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_dtype_zero_dim_and_implicit_dim_like_torch(fn):
    x = np.array([[1.0, 2.0, 1000.0]], dtype=np.float32)
    check(
        lambda a: getattr(F, fn)(a, 1, dtype=convlab.float64), lambda a: getattr(TF, fn)(a, 1, dtype=torch.float64), x
    )
    check(lambda a: getattr(F, fn)(a, 0), lambda a: getattr(TF, fn)(a, 0), np.array(3.0))
    ints = np.array([1, 2, 3])
    check(
        lambda a: getattr(F, fn)(a, 0, dtype=convlab.float32),
        lambda a: getattr(TF, fn)(a, 0, dtype=torch.float32),
        ints,
    )
    for shape in [(4,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        arr = np.random.default_rng(0).standard_normal(shape)
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            got = getattr(F, fn)(convlab.tensor(arr)).numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = getattr(TF, fn)(torch.from_numpy(arr)).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-12)


# ---------------------------------------------------------------------- PReLU
@pytest.mark.parametrize("shape, n_weights", [((3, 4, 2, 2), 4), ((5, 3), 3), ((2, 3, 4), 1), ((4,), 1), ((), 1)])
def test_prelu_matches_torch(shape, n_weights, rng):
    x = rng.standard_normal(shape)
    w = rng.random(n_weights) * 0.5
    check(F.prelu, TF.prelu, x, w)
    check(F.prelu, TF.prelu, x.astype(np.float32), w.astype(np.float32))
    gradcheck(F.prelu, x, w)


def test_prelu_module_matches_torch(rng):
    cl, th = nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert repr(cl) == repr(th) and list(cl.state_dict()) == list(th.state_dict())
    np.testing.assert_array_equal(cl.weight.detach().numpy(), th.weight.detach().numpy())
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    xc, xt = convlab.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    cl(xc).sum().backward()
    th(xt).sum().backward()
    np.testing.assert_allclose(cl.weight.grad.numpy(), th.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


# ---------------------------------------------------------------------- modules
def _module_pairs():
    return [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
        (nn.ReLU6(), torch.nn.ReLU6()),
        (nn.ReLU6(True), torch.nn.ReLU6(True)),
        (nn.LeakyReLU(), torch.nn.LeakyReLU()),
        (nn.LeakyReLU(0.2, True), torch.nn.LeakyReLU(0.2, True)),
        (nn.ELU(), torch.nn.ELU()),
        (nn.ELU(alpha=0.5, inplace=True), torch.nn.ELU(alpha=0.5, inplace=True)),
        (nn.GELU(), torch.nn.GELU()),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.Hardtanh(), torch.nn.Hardtanh()),
        (nn.Hardtanh(-2, 3, True), torch.nn.Hardtanh(-2, 3, True)),
        (nn.Softplus(), torch.nn.Softplus()),
        (nn.Softplus(beta=2, threshold=10), torch.nn.Softplus(beta=2, threshold=10)),
        (nn.Hardswish(), torch.nn.Hardswish()),
        (nn.Hardswish(True), torch.nn.Hardswish(True)),
        (nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
        (nn.PReLU(), torch.nn.PReLU()),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.Softmax(), torch.nn.Softmax()),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
    ]


def test_activation_modules_repr_and_output_match_torch(rng):
    x = (rng.standard_normal((2, 4, 3)) * 3).astype(np.float32)
    for cl, th in _module_pairs():
        assert repr(cl) == repr(th)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Softmax() without dim warns in both
            check(lambda a: cl(a * 1), lambda a: th(a * 1), x)  # a non-leaf, so inplace=True is allowed


def test_hardtanh_deprecated_keywords_warn_like_torch():
    with pytest.warns(FutureWarning, match="min_value"):
        assert repr(nn.Hardtanh(min_value=-2.0)) == repr(torch.nn.Hardtanh(min_val=-2.0))


# ---------------------------------------------------------------------- in place
def test_inplace_overwrites_input_without_grad():
    x = convlab.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    y = convlab.tensor([-1.0, 2.0])
    nn.LeakyReLU(0.5, inplace=True)(y)
    np.testing.assert_array_equal(y.numpy(), [-0.5, 2.0])


def test_inplace_in_a_graph_is_computed_out_of_place_with_correct_gradients():
    x = np.array([-1.5, 0.5, 2.0])
    check(lambda a: F.elu(a * 2, inplace=True) * 3, lambda a: TF.elu(a * 2, inplace=True) * 3, x)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 1))
    out = net(convlab.randn(2, 3))
    out.sum().backward()
    assert net[0].weight.grad is not None


def test_inplace_on_leaf_requiring_grad_raises_like_torch():
    x = np.array([1.0, -2.0])
    err = both_raise(
        lambda a: F.relu(a.requires_grad_(), inplace=True), lambda a: TF.relu(a.requires_grad_(), inplace=True), x
    )
    assert "relu(inplace=True)" in str(err) and "leaf" in str(err)


# ---------------------------------------------------------------------- errors
def test_activation_errors_name_the_argument():
    x = np.zeros(3, dtype=np.float32)
    err = both_raise(lambda a: F.gelu(a, approximate="fast"), lambda a: TF.gelu(a, approximate="fast"), x)
    assert "gelu()" in str(err) and "'fast'" in str(err)
    err = both_raise(lambda a: F.hardtanh(a, 1.0, -1.0), lambda a: TF.hardtanh(a, 1.0, -1.0), x)
    assert "min_val=1.0" in str(err) and "max_val=-1.0" in str(err)
    err = both_raise(F.elu, TF.elu, np.array([1, -2]))
    assert "elu()" in str(err) and "int64" in str(err)
    err = both_raise(F.prelu, TF.prelu, np.zeros((2, 3), dtype=np.float32), np.ones(2, dtype=np.float32))
    assert "prelu()" in str(err) and "(3,)" in str(err) and "(2,)" in str(err)
    err = both_raise(lambda a: F.softmax(a, dim=2), lambda a: TF.softmax(a, dim=2), np.zeros((2, 2)))
    assert "softmax()" in str(err) and "dimension out of range" in str(err)
    with pytest.raises(TypeError, match=r"sigmoid\(\): argument 'input' must be a Tensor, got list"):
        F.sigmoid([1.0, 2.0])
    with pytest.raises(ValueError, match="Hardtanh"):
        nn.Hardtanh(1.0, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (2, 16, 48, 48)])  # the NumPy path and the compiled parallel pass
def test_relu_non_finite_values_like_torch(shape, dtype):
    """relu(NaN) = NaN, and the gradient is 0 wherever the output is <= 0 even when the incoming
    gradient is inf or NaN (PyTorch's threshold_backward), not inf * 0 = NaN."""
    rng = np.random.default_rng(3)
    x, g = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    x.flat[:4] = [np.nan, -np.inf, np.inf, -1.0]
    g.flat[:4] = [1.0, np.inf, 2.0, np.nan]
    ours = convlab.tensor(x, requires_grad=True)
    y = F.relu(ours)
    y.backward(convlab.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    torch.relu(theirs).backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), torch.relu(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    assert y.dtype == dtype and ours.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["relu", "gelu", "sigmoid", "silu"])
def test_compiled_activation_passes_match_torch(name, dtype):
    """Arrays of at least 2**16 elements take the compiled parallel passes; forward and backward
    still equal torch's (values far in both tails included)."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 16, 48, 48)) * 4).astype(dtype)
    x.flat[:4] = [-100.0, 100.0, -30.0, 0.0]
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {}
    check(getattr(F, name), getattr(TF, name), x, **tol)


@pytest.mark.skipif(not cpu_kernels.enabled(), reason="compiled kernels unavailable or CONVLAB_KERNELS=0")
@pytest.mark.parametrize("name", ["relu", "gelu"])
def test_compiled_activation_passes_gradcheck(name, monkeypatch):
    """The compiled passes on a small float64 input (the size threshold lowered so they run)."""
    from convlab.ops import activation

    monkeypatch.setattr(activation, "_PARALLEL_MIN_SIZE", 1)
    calls = []
    relu, relu_grad, gelu, gelu_grad = activation._kernels()
    spies = [lambda *a, _f=f: calls.append(_f) or _f(*a) for f in (relu_grad, gelu_grad)]
    monkeypatch.setattr(activation, "_kernels", lambda: (relu, spies[0], gelu, spies[1]))
    x = np.random.default_rng(2).standard_normal((3, 4, 5))
    x[np.abs(x) < 0.05] = 0.3  # away from ReLU's kink
    gradcheck(getattr(F, name), x)
    assert calls  # the compiled backward ran
