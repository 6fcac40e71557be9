"""Batch normalisation (ops/norm.py BatchNorm, nn.BatchNorm1d/2d/3d) against PyTorch: F.batch_norm
on randomized shapes and options (both the compiled-kernel and the array path), gradchecks in
training and evaluation, running statistics and num_batches_tracked over several steps (momentum
0.1 and None), state_dict keys and loading torch's, reprs, and errors naming the layer."""

import numpy as np
import pytest
import torch
from parity import both_raise, check, gradcheck

import convlab
import convlab.nn.functional as F
from convlab import nn
from convlab.backend import cpu_kernels

TF = torch.nn.functional


@pytest.fixture(params=["kernels", "arrays"])
def path(request):
    """Run a test through the compiled CPU kernels and through the array (CuPy-style) code."""
    if request.param == "arrays":
        with cpu_kernels.disabled():
            yield request.param
    else:
        yield request.param


def _random_config(seed):
    rng = np.random.default_rng(seed)
    ndim = int(rng.integers(2, 6))
    shape = (int(rng.integers(2, 5)), int(rng.integers(1, 5))) + tuple(int(n) for n in rng.integers(1, 5, ndim - 2))
    return rng, shape, {
        "training": bool(rng.integers(0, 2)),
        "affine": bool(rng.integers(0, 2)),
        "bias": bool(rng.integers(0, 2)),
        "stats": bool(rng.integers(0, 2)),
        "momentum": float(rng.uniform(0, 1)),
        "eps": float(10.0 ** rng.uniform(-6, -1)),
    }


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_functional_batch_norm_matches_torch(seed, dtype, path):
    rng, shape, cfg = _random_config(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)).astype(dtype)
    weight = rng.standard_normal(c).astype(dtype) if cfg["affine"] else None
    bias = rng.standard_normal(c).astype(dtype) if cfg["affine"] and cfg["bias"] else None
    use_stats = cfg["stats"] or not cfg["training"]
    mean0, var0 = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    ours = [convlab.tensor(mean0.copy()), convlab.tensor(var0.copy())] if use_stats else [None, None]
    theirs = [torch.tensor(mean0), torch.tensor(var0)] if use_stats else [None, None]
    arrays = [x] + [a for a in (weight, bias) if a is not None]

    def call(lib_fn, stats):
        def fn(x, *params):
            params = list(params)
            w = params.pop(0) if weight is not None else None
            b = params.pop(0) if bias is not None else None
            return lib_fn(x, stats[0], stats[1], w, b, cfg["training"], cfg["momentum"], cfg["eps"])
        return fn

    check(call(F.batch_norm, ours), call(TF.batch_norm, theirs), *arrays)
    if use_stats:
        tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.numpy(), t.numpy(), **tol)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training, path):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal(2), rng.standard_normal(2)
    mean, var = convlab.tensor(rng.standard_normal(2)), convlab.tensor(rng.uniform(0.5, 2, 2))
    gradcheck(lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=training), x, w, b)
    gradcheck(lambda x: F.batch_norm(x, None, None, training=True), rng.standard_normal((4, 3)))


def test_float32_large_offset_keeps_precision(path):
    """x = 1000 + N(0, 1) in float32: the mean itself carries ~ulp(1000) = 6e-5 of rounding, but a
    one-pass variance E[x²] - E[x]² would lose everything (errors ~0.1); two passes keep ~1e-4."""
    x = (1000 + np.random.default_rng(4).standard_normal((64, 8, 6, 6))).astype(np.float32)
    check(lambda t: F.batch_norm(t, None, None, training=True), lambda t: TF.batch_norm(t, None, None, training=True),
          x, rtol=1e-4, atol=5e-4)


def test_only_the_needed_gradients_are_computed():
    x = convlab.randn(4, 3, 5)
    w = convlab.ones(3, requires_grad=True)
    F.batch_norm(x, None, None, w, None, training=True).sum().backward()
    assert x.grad is None and w.grad is not None and w.grad.dtype == np.float32


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("n, shape", [(1, (16, 5)), (1, (8, 5, 7)), (2, (8, 5, 4, 6)), (3, (4, 5, 2, 3, 4))])
def test_module_running_stats_then_eval_match_torch(n, shape, momentum):
    ours, theirs = getattr(nn, f"BatchNorm{n}d")(5, momentum=momentum), getattr(torch.nn, f"BatchNorm{n}d")(5, momentum=momentum)
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(5)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(rng.standard_normal(5).astype(np.float32)))
        theirs.bias.copy_(torch.from_numpy(rng.standard_normal(5).astype(np.float32)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        check(ours, theirs, x)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    assert ours.num_batches_tracked.item() == 4 and ours.num_batches_tracked.dtype == np.int64
    ours.eval(), theirs.eval()
    check(ours, theirs, rng.standard_normal(shape).astype(np.float32))
    assert ours.num_batches_tracked.item() == 4


@pytest.mark.parametrize("momentum", [0.1, None, 0.7])
@pytest.mark.parametrize("n, shape", [(1, (6, 3)), (1, (4, 3, 5)), (2, (4, 3, 5, 6)), (3, (2, 3, 2, 3, 4))])
def test_running_stats_after_float64_training_steps_equal_torch(n, shape, momentum):
    """Several SGD steps in float64 (batches of growing mean and spread): running_mean, the
    unbiased running_var, num_batches_tracked and the affine parameters equal PyTorch's to 1e-12."""
    ours = getattr(nn, f"BatchNorm{n}d")(3, momentum=momentum).double()
    theirs = getattr(torch.nn, f"BatchNorm{n}d")(3, momentum=momentum).double()
    opt, topt = convlab.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    rng = np.random.default_rng(11)
    for step in range(6):
        x = rng.standard_normal(shape) * (step + 1) + 2 * step
        opt.zero_grad(), topt.zero_grad()
        check(ours, theirs, x)  # output and input gradient; the same output gradient reaches both weights and biases
        opt.step(), topt.step()
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12, atol=1e-12, err_msg=key)
    assert ours.num_batches_tracked.item() == 6 and ours.running_var.dtype == np.float64


@pytest.mark.parametrize(
    "kwargs",
    [{"affine": False}, {"track_running_stats": False}, {"affine": False, "track_running_stats": False}, {"bias": False},
     {"eps": 1e-3, "momentum": 0.3}],
    ids=str,
)
def test_module_options_match_torch(kwargs):
    ours, theirs = nn.BatchNorm2d(3, **kwargs), torch.nn.BatchNorm2d(3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    x = np.random.default_rng(6).standard_normal((4, 3, 5, 5))
    ours.double(), theirs.double()
    check(ours, theirs, x)
    ours.eval(), theirs.eval()
    check(ours, theirs, x)  # without running stats evaluation uses the batch statistics


def test_state_dict_keys_and_loading_torch_state_dict():
    torch_bn = torch.nn.BatchNorm2d(4)
    torch_bn(torch.randn(8, 4, 3, 3) * 2 + 1)  # non-trivial running stats, num_batches_tracked = 1
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == list(torch_bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    bn.load_state_dict({k: v.numpy() for k, v in torch_bn.state_dict().items()})
    assert bn.num_batches_tracked.item() == 1
    bn.eval(), torch_bn.eval()
    check(bn, torch_bn, np.random.default_rng(7).standard_normal((2, 4, 3, 3)).astype(np.float32))
    # a checkpoint from before num_batches_tracked existed still loads (as in PyTorch)
    legacy = {k: v.numpy() for k, v in torch_bn.state_dict().items() if k != "num_batches_tracked"}
    nn.BatchNorm2d(4).load_state_dict(legacy)
    bn.reset_parameters()
    assert bn.num_batches_tracked.item() == 0 and (bn.running_var.numpy() == 1).all() and (bn.weight.detach().numpy() == 1).all()


def test_seed_004_batch_norm_parameter_counts():
    """Seed 004's Keras summary lists 4 values per channel for each BatchNormalization layer
    (gamma, beta, moving mean, moving variance) and 1,408 non-trainable values in all."""
    layers = [nn.BatchNorm2d(32), nn.BatchNorm2d(32), nn.BatchNorm2d(64), nn.BatchNorm2d(64), nn.BatchNorm1d(512)]
    per_layer = [sum(p.numel() for p in bn.parameters()) + bn.running_mean.numel() + bn.running_var.numel() for bn in layers]
    assert per_layer == [128, 128, 256, 256, 2048]
    assert sum(bn.running_mean.numel() + bn.running_var.numel() for bn in layers) == 1408


def test_module_in_training_then_eval_in_a_model():
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    x = convlab.randn(16, 6)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), model(x).detach().numpy())  # deterministic in evaluation


# ---------------------------------------------------------------------------------------- errors
def test_one_value_per_channel_in_training():
    err = both_raise(nn.BatchNorm1d(512), torch.nn.BatchNorm1d(512), np.zeros((1, 512), np.float32))
    assert str(err) == (
        "BatchNorm1d(512, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True): "
        "Expected more than 1 value per channel when training, got input size (1, 512)"
    )
    both_raise(lambda t: F.batch_norm(t, None, None, training=True), lambda t: TF.batch_norm(t, None, None, training=True),
               np.zeros((1, 3, 1, 1), np.float32), match="batch_norm(): Expected more than 1 value per channel")
    bn = nn.BatchNorm1d(512)
    with pytest.raises(ValueError):
        bn(convlab.zeros(1, 512))
    assert bn.num_batches_tracked.item() == 0  # a refused batch is not counted
    assert bn.eval()(convlab.zeros(1, 512)).shape == (1, 512)  # fine in evaluation


@pytest.mark.parametrize("n, shape, expected", [
    (1, (2, 3, 4, 5), "expected 2D (N, C) or 3D (N, C, L) input, got 4D input of shape (2, 3, 4, 5)"),
    (2, (2, 3, 4), "expected 4D (N, C, H, W) input, got 3D input of shape (2, 3, 4)"),
    (3, (2, 3, 4, 5), "expected 5D (N, C, D, H, W) input, got 4D input of shape (2, 3, 4, 5)"),
])
def test_wrong_ndim(n, shape, expected):
    err = both_raise(getattr(nn, f"BatchNorm{n}d")(3), getattr(torch.nn, f"BatchNorm{n}d")(3), np.zeros(shape, np.float32))
    assert isinstance(err, ValueError) and str(err).startswith(f"BatchNorm{n}d(3, eps=") and expected in str(err)


def test_wrong_channel_count():
    err = both_raise(nn.BatchNorm2d(64), torch.nn.BatchNorm2d(64), np.zeros((8, 32, 4, 4), np.float32))
    assert isinstance(err, ValueError)
    assert "BatchNorm2d(64, " in str(err) and "expected input with 64 channels (N, 64, H, W), got shape (8, 32, 4, 4)" in str(err)
    err = both_raise(nn.BatchNorm1d(10), torch.nn.BatchNorm1d(10), np.zeros((4, 5), np.float32))
    assert "expected input with 10 channels (N, 10), got shape (4, 5)" in str(err)


def test_functional_argument_errors():
    x = np.zeros((4, 3, 2), np.float32)
    err = both_raise(lambda t: F.batch_norm(t, convlab.zeros(4), convlab.ones(4), training=True),
                     lambda t: TF.batch_norm(t, torch.zeros(4), torch.ones(4), training=True), x)
    assert "batch_norm(): expected running_mean of shape (3,)" in str(err) and "got (4,)" in str(err)
    err = both_raise(lambda t: F.batch_norm(t, None, None), lambda t: TF.batch_norm(t, None, None), x)
    assert "running_mean must be defined in evaluation mode" in str(err)
    err = both_raise(lambda t: F.batch_norm(t, None, None, training=True, eps=0.0),
                     lambda t: TF.batch_norm(t, None, None, training=True, eps=0.0), x)
    assert "eps must be positive during training, but got 0.0" in str(err)
    err = both_raise(lambda t: F.batch_norm(t, None, None, convlab.ones(3, dtype=convlab.float64), training=True),
                     lambda t: TF.batch_norm(t, None, None, torch.ones(3, dtype=torch.float64), training=True), x)
    assert isinstance(err, TypeError) and "expected weight of the input's dtype float32, got float64" in str(err)
    with pytest.raises(TypeError, match="expected a floating-point input, got dtype int64"):
        F.batch_norm(convlab.zeros(4, 3, dtype=convlab.int64), None, None, training=True)
    with pytest.raises(ValueError, match=r"expected input with at least 2 dimensions \(N, C, \*\), got 1D input"):
        F.batch_norm(convlab.zeros(4), None, None, training=True)
    with pytest.raises(ValueError, match="BatchNorm2d: num_features must be a positive int, got 0"):
        nn.BatchNorm2d(0)


def test_dtype_mismatch_names_the_layer():
    err = both_raise(nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), np.zeros((4, 3)))  # float64 input, float32 layer
    assert str(err).startswith("BatchNorm1d(3, ") and "float32" in str(err) and "float64" in str(err)


def test_empty_batch_leaves_running_stats_unchanged():
    mean, var = convlab.zeros(3), convlab.ones(3)
    y = F.batch_norm(convlab.zeros(0, 3, 2), mean, var, training=True)
    assert y.shape == (0, 3, 2) and (mean.numpy() == 0).all() and (var.numpy() == 1).all()



def test_checkpoint_round_trip_keeps_running_stats(tmp_path):
    bn = nn.BatchNorm2d(4)
    bn(convlab.randn(3, 4, 2, 2) * 2 + 1)
    convlab.save(bn.state_dict(), tmp_path / "bn.safetensors")
    restored = nn.BatchNorm2d(4)
    restored.load_state_dict(convlab.load(tmp_path / "bn.safetensors"))
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    assert restored.num_batches_tracked.dtype == np.int64 and restored.num_batches_tracked.item() == 1
