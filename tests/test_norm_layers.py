"""LayerNorm, GroupNorm, InstanceNorm1d/2d/3d, LocalResponseNorm and RMSNorm against PyTorch:
functional forms on randomized shapes and options (values and gradients, float64 and float32),
float64 gradchecks, the layers' reprs, state_dict keys, running statistics of InstanceNorm, and
errors that name the layer or function, the argument and expected vs received."""

import warnings

import numpy as np
import pytest
import torch
from parity import both_raise, check, gradcheck

import convlab
import convlab.nn.functional as F
from convlab import nn
from convlab.backend import cpu_kernels

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


@pytest.fixture(params=["kernels", "arrays"])
def path(request):
    """Through the compiled CPU kernels and through the array (CuPy-style) code."""
    if request.param == "arrays":
        with cpu_kernels.disabled():
            yield request.param
    else:
        yield request.param


def _affine_args(rng, shape, dtype, weight, bias):
    return [rng.standard_normal(shape).astype(dtype) for flag in (weight, bias) if flag]


def _split(params, weight, bias):
    params = list(params)
    return (params.pop(0) if weight else None), (params.pop(0) if bias else None)


# ---------------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_matches_torch(seed, dtype, path):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 6, int(rng.integers(1, 5))))
    k = int(rng.integers(1, len(shape) + 1))
    normalized = shape[len(shape) - k:]
    weight, bias, eps = bool(rng.integers(0, 2)), bool(rng.integers(0, 2)), float(10.0 ** rng.uniform(-6, -2))
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    params = _affine_args(rng, normalized, dtype, weight, bias)
    check(lambda x, *p: F.layer_norm(x, normalized, *_split(p, weight, bias), eps=eps),
          lambda x, *p: TF.layer_norm(x, normalized, *_split(p, weight, bias), eps=eps), x, *params)


def test_layer_norm_gradcheck(path):
    rng = np.random.default_rng(0)
    gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)),
              rng.standard_normal((3, 4)))
    gradcheck(lambda x: F.layer_norm(x, [5]), rng.standard_normal((3, 5)))


def test_layer_norm_module():
    for args, kwargs in [((768,), {}), (((3, 4),), {"bias": False}), ((3,), {"elementwise_affine": False}), ((5,), {"eps": 1e-3})]:
        ours, theirs = nn.LayerNorm(*args, **kwargs), torch.nn.LayerNorm(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
    ours, theirs = nn.LayerNorm([4, 5]), torch.nn.LayerNorm([4, 5])
    with torch.no_grad():
        theirs.weight.normal_(), theirs.bias.normal_()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    check(ours, theirs, np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32))


def test_layer_norm_errors():
    x = np.zeros((2, 3, 4), np.float32)
    err = both_raise(nn.LayerNorm(5), torch.nn.LayerNorm(5), x)
    assert str(err) == (
        "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True): expected input with shape (*, 5) "
        "to match normalized_shape=(5,), got shape (2, 3, 4)"
    )
    err = both_raise(lambda t: F.layer_norm(t, (3, 4), convlab.ones(4)), lambda t: TF.layer_norm(t, (3, 4), torch.ones(4)), x)
    assert "layer_norm(): expected weight of shape (3, 4) (normalized_shape), got (4,)" in str(err)
    err = both_raise(lambda t: F.layer_norm(t, 4), lambda t: TF.layer_norm(t, 4), x)
    assert isinstance(err, TypeError) and "normalized_shape' must be a tuple of ints, got int" in str(err)
    with pytest.raises(TypeError, match="LayerNorm: normalized_shape must be an int or a tuple of positive ints"):
        nn.LayerNorm("4")


# ---------------------------------------------------------------------------------- group norm
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", DTYPES)
def test_group_norm_matches_torch(seed, dtype, path):
    rng = np.random.default_rng(seed)
    groups = int(rng.integers(1, 4))
    c = groups * int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 4)), c) + tuple(int(n) for n in rng.integers(2, 5, int(rng.integers(0, 3))))
    weight, bias, eps = bool(rng.integers(0, 2)), bool(rng.integers(0, 2)), float(10.0 ** rng.uniform(-6, -2))
    x = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
    params = _affine_args(rng, (c,), dtype, weight, bias)
    if shape[0] * c // groups * int(np.prod(shape[2:])) == 1:
        return
    def torch_group_norm(x, *p):
        w, b = _split(p, weight, bias)
        if w is None and b is not None:  # torch 2.13's backward fails for a bias without weight; w = 1 is the same
            w = torch.ones(c, dtype=x.dtype)
        return TF.group_norm(x, groups, w, b, eps=eps)

    check(lambda x, *p: F.group_norm(x, groups, *_split(p, weight, bias), eps=eps), torch_group_norm, x, *params)


def test_group_norm_gradcheck(path):
    rng = np.random.default_rng(2)
    gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4))


def test_group_norm_module_and_errors():
    for args, kwargs in [((2, 4), {}), ((1, 3), {"affine": False}), ((3, 6), {"eps": 1e-3, "bias": False})]:
        ours, theirs = nn.GroupNorm(*args, **kwargs), torch.nn.GroupNorm(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        check(ours, theirs, np.random.default_rng(3).standard_normal((2, args[1], 5)).astype(np.float32))
    with pytest.raises(ValueError, match=r"^GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)$"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(3, 4)
    err = both_raise(lambda t: F.group_norm(t, 2), lambda t: TF.group_norm(t, 2), np.zeros((2, 3, 4), np.float32))
    assert "group_norm(): expected the number of channels to be divisible by num_groups=2, got input of shape (2, 3, 4) (3 channels)" in str(err)
    err = both_raise(nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4), np.zeros((2, 6, 3), np.float32))
    assert str(err) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True): expected input with 4 channels (N, 4, *), got shape (2, 6, 3)"
    both_raise(lambda t: F.group_norm(t, 1), lambda t: TF.group_norm(t, 1), np.zeros(3, np.float32),
               match="group_norm(): expected input with at least 2 dimensions (N, C, *), got 1D input")


# ------------------------------------------------------------------------------- instance norm
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_instance_norm_matches_torch(seed, dtype, path):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 4)), c) + tuple(int(n) for n in rng.integers(2, 5, int(rng.integers(1, 4))))
    weight, bias = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    stats = bool(rng.integers(0, 2))
    use_input_stats = bool(rng.integers(0, 2)) or not stats  # without running stats only the input's exist
    momentum, eps = float(rng.uniform(0, 1)), float(10.0 ** rng.uniform(-6, -2))
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    params = _affine_args(rng, (c,), dtype, weight, bias)
    mean0, var0 = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    ours = (convlab.tensor(mean0.copy()), convlab.tensor(var0.copy())) if stats else (None, None)
    theirs = (torch.tensor(mean0), torch.tensor(var0)) if stats else (None, None)
    check(lambda x, *p: F.instance_norm(x, *ours, *_split(p, weight, bias), use_input_stats, momentum, eps),
          lambda x, *p: TF.instance_norm(x, *theirs, *_split(p, weight, bias), use_input_stats, momentum, eps), x, *params)
    if stats:
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


def test_instance_norm_gradcheck(path):
    rng = np.random.default_rng(4)
    gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), rng.standard_normal((2, 3, 4)), rng.standard_normal(3),
              rng.standard_normal(3))


@pytest.mark.parametrize("n, batched, unbatched", [(1, (2, 3, 6), (3, 6)), (2, (2, 3, 4, 5), (3, 4, 5)), (3, (2, 3, 2, 3, 4), (3, 2, 3, 4))])
def test_instance_norm_modules_match_torch(n, batched, unbatched):
    rng = np.random.default_rng(5)
    for kwargs in [{}, {"affine": True}, {"track_running_stats": True, "momentum": 0.2}, {"affine": True, "track_running_stats": True}]:
        ours, theirs = getattr(nn, f"InstanceNorm{n}d")(3, **kwargs), getattr(torch.nn, f"InstanceNorm{n}d")(3, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for _ in range(2):
            check(ours, theirs, rng.standard_normal(batched).astype(np.float32))
        check(ours, theirs, rng.standard_normal(unbatched).astype(np.float32))
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
        ours.eval(), theirs.eval()
        check(ours, theirs, rng.standard_normal(batched).astype(np.float32))


def test_instance_norm_errors():
    err = both_raise(nn.InstanceNorm2d(3), torch.nn.InstanceNorm2d(3), np.zeros((2, 3), np.float32))
    assert "InstanceNorm2d(3, " in str(err) and "expected 3D (C, H, W) or 4D (N, C, H, W) input, got 2D input of shape (2, 3)" in str(err)
    err = both_raise(nn.InstanceNorm1d(4, affine=True), torch.nn.InstanceNorm1d(4, affine=True), np.zeros((2, 3, 5), np.float32))
    assert "expected input's size at dim=1 to match num_features (4), got 3" in str(err)
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(4)(convlab.zeros(2, 3, 5))
    both_raise(lambda t: F.instance_norm(t), lambda t: TF.instance_norm(t), np.zeros((2, 3, 1), np.float32),
               match="instance_norm(): Expected more than 1 spatial element when training, got input size (2, 3, 1)")
    both_raise(lambda t: F.instance_norm(t, use_input_stats=False), lambda t: TF.instance_norm(t, use_input_stats=False),
               np.zeros((2, 3, 4), np.float32), match="running_mean and running_var must be defined when use_input_stats=False")


# ------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_local_response_norm_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 9))
    shape = (int(rng.integers(1, 3)), c) + tuple(int(n) for n in rng.integers(1, 5, int(rng.integers(1, 4))))
    size = int(rng.integers(1, c + 3))
    alpha, beta, k = float(rng.uniform(0.01, 1)), float(rng.uniform(0.2, 1.5)), float(rng.uniform(0.5, 2))
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    check(lambda t: F.local_response_norm(t, size, alpha, beta, k), lambda t: TF.local_response_norm(t, size, alpha, beta, k), x)


def test_local_response_norm_gradcheck():
    x = np.random.default_rng(6).standard_normal((2, 6, 3))
    gradcheck(lambda t: F.local_response_norm(t, 3, alpha=0.5, beta=0.75, k=1.0), x)
    gradcheck(lambda t: F.local_response_norm(t, 4, alpha=0.3, beta=1.2, k=2.0), x.reshape(2, 6, 3, 1))


def test_local_response_norm_alexnet_layer():
    """Seed 000's local normalisation as AlexNet used it: LocalResponseNorm(5, 1e-4, 0.75, 2) after conv1."""
    ours, theirs = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    assert repr(ours) == repr(theirs) == "LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2.0)"
    check(ours, theirs, np.maximum(np.random.default_rng(7).standard_normal((2, 96, 9, 9)) * 20, 0).astype(np.float32))


def test_local_response_norm_errors():
    err = both_raise(lambda t: F.local_response_norm(t, 2), lambda t: TF.local_response_norm(t, 2), np.zeros((2, 3), np.float32))
    assert "local_response_norm(): expected 3D or higher dimensionality input (N, C, *), got 2 dimensions (shape (2, 3))" in str(err)
    err = both_raise(lambda t: F.local_response_norm(t, 0), lambda t: TF.local_response_norm(t, 0), np.zeros((2, 3, 4), np.float32))
    assert "size must be a positive int, got 0" in str(err)
    with pytest.raises(ValueError, match="LocalResponseNorm: size must be a positive int, got 2.5"):
        nn.LocalResponseNorm(2.5)
    empty = convlab.zeros(0, 3, 4)
    assert F.local_response_norm(empty, 2) is empty


# ------------------------------------------------------------------------------------ RMS norm
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 6, int(rng.integers(1, 5))))
    normalized = shape[len(shape) - int(rng.integers(1, len(shape) + 1)):]
    weight = bool(rng.integers(0, 2))
    eps = None if rng.integers(0, 2) else float(10.0 ** rng.uniform(-6, -2))
    x = rng.standard_normal(shape).astype(dtype)
    params = _affine_args(rng, normalized, dtype, weight, False)
    check(lambda x, *p: F.rms_norm(x, normalized, *p, eps=eps), lambda x, *p: TF.rms_norm(x, normalized, *p, eps=eps), x, *params)


def test_rms_norm_gradcheck_and_module():
    rng = np.random.default_rng(8)
    gradcheck(lambda x, w: F.rms_norm(x, (3, 4), w, eps=1e-3), rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)))
    for args, kwargs in [((4,), {}), (([3, 4],), {"eps": 1e-3, "elementwise_affine": False})]:
        ours, theirs = nn.RMSNorm(*args, **kwargs), torch.nn.RMSNorm(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        check(ours, theirs, rng.standard_normal((2, 3, 4)).astype(np.float32))
    err = both_raise(nn.RMSNorm(5), torch.nn.RMSNorm(5), np.zeros((2, 4), np.float32))
    assert str(err).startswith("RMSNorm((5,), eps=None, elementwise_affine=True): expected input with shape (*, 5)")


def test_norm_layers_keep_float32_and_warn_nothing():
    x = convlab.randn(2, 4, 3, 3, requires_grad=True)
    layers = [nn.LayerNorm([3, 3]), nn.GroupNorm(2, 4), nn.InstanceNorm2d(4), nn.LocalResponseNorm(3), nn.RMSNorm(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for layer in layers:
            y = layer(x)
            y.sum().backward()
            assert y.dtype == np.float32 and x.grad.dtype == np.float32
            x.grad = None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda lib: lib.nn.BatchNorm2d(5), (4, 5, 6, 7)),
        (lambda lib: lib.nn.BatchNorm1d(7), (9, 7)),
        (lambda lib: lib.nn.LayerNorm((3, 8)), (5, 4, 3, 8)),
        (lambda lib: lib.nn.GroupNorm(2, 6), (3, 6, 5, 4)),
    ],
    ids=["BatchNorm2d", "BatchNorm1d", "LayerNorm", "GroupNorm"],
)
def test_kernels_split_over_threads_give_the_same_bits(make, shape, dtype, monkeypatch):
    """The compiled kernels cut the channels / rows / columns into chunks (one per thread on a
    large call); each is summed in the same order as on one thread, so the values and gradients
    are bit for bit those of a single chunk, and match PyTorch's."""
    if not cpu_kernels.enabled():
        pytest.skip("compiled CPU kernels unavailable or switched off")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)

    def run(parts):
        monkeypatch.setattr(cpu_kernels, "chunks", lambda count, size: min(parts, count))
        layer = make(convlab).double() if dtype == np.float64 else make(convlab)
        state = layer.state_dict()
        layer.load_state_dict({
            k: v.numpy() + (0.1 * np.arange(v.numel(), dtype=dtype).reshape(v.shape) if k in ("weight", "bias") else 0)
            for k, v in state.items()
        })  # fmt: skip
        xc = convlab.tensor(x, requires_grad=True)
        y = layer(xc)
        y.backward(convlab.tensor(g))
        return [y.detach().numpy(), xc.grad.numpy(), *(p.grad.numpy() for p in layer.parameters())], layer

    (one, layer), (split, _) = run(1), run(3)
    for a, b in zip(one, split):
        np.testing.assert_array_equal(a, b)
    reference = make(torch).double()
    reference.load_state_dict({k: torch.from_numpy(np.asarray(v.numpy(), dtype=np.float64)) for k, v in layer.state_dict().items()})
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    yt = reference(xt)
    yt.backward(torch.from_numpy(g.astype(np.float64)))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(split[0], yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(split[1], xt.grad.numpy(), rtol=tol, atol=tol)
    for ours, theirs in zip(split[2:], reference.parameters()):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=tol, atol=tol)
