"""Pooling (convlab.ops.pool): max / avg / lp / adaptive pooling over 1-3 spatial dims.

Forward, indices and input gradients against PyTorch on seeded random configurations of every
option (kernel, stride, padding, dilation, ceil_mode, return_indices, count_include_pad,
divisor_override, adaptive sizes with None and non-divisible sizes, unbatched inputs), float64
gradchecks, PyTorch's tie rules, the seed worked examples, and the error messages.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import both_raise, check, gradcheck
from seed_examples import SEED_EXAMPLES

import convlab
import convlab.nn.functional as F
from convlab import nn
from convlab.backend import cpu_kernels

DTYPES = [np.float64, np.float32]


def _distinct(rng, shape, dtype=np.float64):
    """Values with no ties closer than 0.05 (finite differences never swap a window's maximum)."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.05 + rng.uniform(0, 0.01, size)).reshape(shape).astype(dtype)


def _input(rng, n, spatial, dtype, ties=False):
    lead = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.75 else (int(rng.integers(1, 3)),)
    shape = lead + tuple(spatial)
    if ties:  # few distinct values: many ties inside windows
        return rng.integers(-2, 2, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _window_case(rng, n, max_pool):
    """Random kernel/stride/padding/dilation/ceil_mode and an input size they fit."""
    kernel = tuple(int(k) for k in rng.integers(1, 4, n))
    single = rng.random() < 0.3  # kernel_size given as one int
    if single:
        kernel = (kernel[0],) * n
    stride = tuple(int(s) for s in rng.integers(1, 4, n))
    dilation = tuple(int(d) for d in rng.integers(1, 3, n)) if max_pool else (1,) * n
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    # A dilated window on an input smaller than itself can see only padding (refused, tested below);
    # avg_pool3d also needs the unpadded input to be at least the kernel, as in PyTorch.
    spatial = [
        max(1, (k - 1) * d + 1 - (2 * p if d == 1 and (max_pool or n < 3) else 0) + int(rng.integers(0, 5)))
        for k, d, p in zip(kernel, dilation, padding)
    ]
    args = {"kernel_size": kernel[0] if single else kernel, "ceil_mode": bool(rng.random() < 0.5)}
    if rng.random() < 0.8:
        args["stride"] = stride
    if any(padding) or rng.random() < 0.3:
        args["padding"] = padding
    if max_pool and (any(d > 1 for d in dilation) or rng.random() < 0.3):
        args["dilation"] = dilation
    return args, spatial


# ------------------------------------------------------------------------------ max pooling
@pytest.fixture(params=["compiled", "array ops"])
def max_pool_path(request):
    """Run max pooling through the compiled CPU kernels or through the array-op path that CuPy
    arrays and other dtypes take."""
    if request.param == "array ops":
        with cpu_kernels.disabled():
            yield request.param
    else:
        yield request.param


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(12))
def test_max_pool_matches_torch(n, dtype, seed, max_pool_path):
    rng = np.random.default_rng(100 * n + seed)
    args, spatial = _window_case(rng, n, max_pool=True)
    x = _input(rng, n, spatial, dtype, ties=seed % 3 == 0)
    cl, th = getattr(F, f"max_pool{n}d"), getattr(TF, f"max_pool{n}d")
    check(lambda t: cl(t, return_indices=True, **args), lambda t: th(t, return_indices=True, **args), x)
    check(lambda t: cl(t, **args), lambda t: th(t, **args), x)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_large_kernels(n, strided, ties, max_pool_path):
    """Kernels with many elements (global pooling), with padding and ceil_mode."""
    rng = np.random.default_rng(n)
    k = {1: 20, 2: 5, 3: 3}[n]
    args = {"kernel_size": k, "stride": 2, "padding": k // 2, "ceil_mode": True} if strided else {"kernel_size": k}
    x = _input(rng, n, [k + 3] * n, np.float64, ties=ties)
    cl, th = getattr(F, f"max_pool{n}d"), getattr(TF, f"max_pool{n}d")
    check(lambda t: cl(t, return_indices=True, **args), lambda t: th(t, return_indices=True, **args), x)


@pytest.mark.parametrize("kernel", [2, 5])
@pytest.mark.parametrize("with_nan", [True, False])
def test_max_pool_nan_and_infinity_follow_torch(kernel, with_nan, max_pool_path):
    """A NaN wins its window (the last NaN when several); -inf real values beat padding."""
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    if with_nan:
        x[0, 0, 0, 0] = x[0, 0, 1, 1] = np.nan
    x[0, 1, :3, :3] = -np.inf
    x[1, 2] = -np.inf
    args = {"kernel_size": kernel, "stride": 2, "padding": kernel // 2}
    y, i = F.max_pool2d(convlab.tensor(x), return_indices=True, **args)
    ty, ti = TF.max_pool2d(torch.from_numpy(x), return_indices=True, **args)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    xt = convlab.tensor(x, requires_grad=True)
    F.max_pool2d(xt, **args).sum().backward()
    tt = torch.from_numpy(x).requires_grad_()
    TF.max_pool2d(tt, **args).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), tt.grad.numpy())


@pytest.mark.parametrize("args", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}])
def test_max_pool_split_over_threads_matches_torch(args, monkeypatch):
    """The compiled kernels split the planes into chunks (one per thread on a large call): every
    chunk, with NaN planes among plain ones and ties, gives PyTorch's values, indices and gradient."""
    if not cpu_kernels.enabled():
        pytest.skip("compiled CPU kernels unavailable or switched off")
    monkeypatch.setattr(cpu_kernels, "chunks", lambda count, size: min(3, count))
    rng = np.random.default_rng(5)
    x = rng.integers(-2, 3, (3, 5, 9, 9)).astype(np.float32)
    x[0, 1, 4, 4] = x[2, 3, 0, 0] = x[2, 3, 0, 1] = np.nan
    g = rng.standard_normal(TF.max_pool2d(torch.from_numpy(x), **args).shape).astype(np.float32)
    xc, xt = convlab.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    y, i = F.max_pool2d(xc, return_indices=True, **args)
    ty, ti = TF.max_pool2d(xt, return_indices=True, **args)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    y.backward(convlab.tensor(g))
    ty.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(xc.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
@pytest.mark.parametrize("size", [(8, 6), (7, 9)])
def test_max_pool_2x2_follows_torch(dtype, size, max_pool_path):
    """The 2 x 2, stride-2 window (its own compiled loop): ties (the first maximum), NaN (the
    last one), -inf, odd sizes (the last row / column unused), values, indices and gradient."""
    rng = np.random.default_rng(11)
    x = rng.integers(-2, 2, (2, 3, *size)).astype(dtype)
    if x.dtype.kind == "f":
        x[0, 0, :2, :2] = -np.inf
        x[0, 1, 0, 1] = x[0, 1, 1, 0] = x[1, 2, 3, 3] = np.nan
    y, i = F.max_pool2d(convlab.tensor(x), 2, return_indices=True)
    ty, ti = TF.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    if x.dtype.kind == "f":
        xc, xt = convlab.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
        F.max_pool2d(xc, 2).sum().backward()
        TF.max_pool2d(xt, 2).sum().backward()
        np.testing.assert_array_equal(xc.grad.numpy(), xt.grad.numpy())


def test_max_pool_integer_input(max_pool_path):
    x = np.random.default_rng(0).integers(-5, 5, (2, 3, 7, 7))
    for args in [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}]:
        y, i = F.max_pool2d(convlab.tensor(x), return_indices=True, **args)
        ty, ti = TF.max_pool2d(torch.from_numpy(x), return_indices=True, **args)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_max_pool_gradcheck(n, seed):
    rng = np.random.default_rng(10 * n + seed)
    args, spatial = _window_case(rng, n, max_pool=True)
    x = _distinct(rng, (2,) + tuple(spatial))
    gradcheck(lambda t: getattr(F, f"max_pool{n}d")(t, **args), x)


def test_max_pool_float32_stays_float32():
    x = convlab.randn(2, 3, 8, 8, requires_grad=True)
    y, i = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert y.dtype == np.float32 and i.dtype == np.int64
    y.sum().backward()
    assert x.grad.dtype == np.float32


# ------------------------------------------------------------------------------ average pooling
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(10))
def test_avg_pool_matches_torch(n, dtype, seed):
    rng = np.random.default_rng(1000 + 100 * n + seed)
    args, spatial = _window_case(rng, n, max_pool=False)
    args["count_include_pad"] = bool(rng.random() < 0.5)
    if n > 1 and rng.random() < 0.3:
        args["divisor_override"] = int(rng.integers(1, 7))
    x = _input(rng, n, spatial, dtype)
    cl, th = getattr(F, f"avg_pool{n}d"), getattr(TF, f"avg_pool{n}d")
    check(lambda t: cl(t, **args), lambda t: th(t, **args), x)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_avg_pool_gradcheck(n):
    rng = np.random.default_rng(n)
    args, spatial = _window_case(rng, n, max_pool=False)
    args.update(count_include_pad=False, ceil_mode=True)
    gradcheck(lambda t: getattr(F, f"avg_pool{n}d")(t, **args), rng.standard_normal((2,) + tuple(spatial)))


# ------------------------------------------------------------------------------ power-average pooling
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5])
@pytest.mark.parametrize("seed", range(3))
def test_lp_pool_matches_torch(n, norm_type, seed):
    rng = np.random.default_rng(2000 + 100 * n + seed)
    args, spatial = _window_case(rng, n, max_pool=False)
    args.pop("padding", None)
    if n == 1:  # PyTorch's lp_pool1d multiplies by kernel_size, which must be an int
        args["kernel_size"] = np.ravel(args["kernel_size"])[0].item()
    spatial = [s + 2 for s in spatial]
    x = _input(rng, n, spatial, np.float64)
    if norm_type != 2:  # odd or fractional powers of negative numbers are NaN in both libraries
        x = np.abs(x) + 0.1
    cl, th = getattr(F, f"lp_pool{n}d"), getattr(TF, f"lp_pool{n}d")
    check(lambda t: cl(t, norm_type, **args), lambda t: th(t, norm_type, **args), x)
    check(lambda t: cl(t, norm_type, **args), lambda t: th(t, norm_type, **args), x.astype(np.float32))
    gradcheck(lambda t: cl(t, norm_type, **args), x[:1])


def test_lp_pool_all_zero_window_has_zero_gradient_like_torch():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[1.0, -2.0], [0.5, 3.0]]
    check(lambda t: F.lp_pool2d(t, 2, 2), lambda t: TF.lp_pool2d(t, 2, 2), x)


def test_l2_pooling_is_the_patch_norm():
    """Seed 001: "taking the L2-norm of the patch"."""
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    y = F.lp_pool2d(convlab.tensor(x), 2, 3).numpy()
    patches = x.reshape(2, 3, 2, 3, 2, 3)
    np.testing.assert_allclose(y, np.sqrt((patches**2).sum(axis=(3, 5))), rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lp_pool_inf_norm_is_max_pool_of_abs_like_torch(n, ceil_mode, dtype):
    """PyTorch computes norm_type=inf as max_pool(|x|): gradient sign(x) at each window's argmax of |x|."""
    rng = np.random.default_rng(2500 + n)
    shape = (2, 3) + (5, 4, 5)[:n]
    signs = rng.choice([-1.0, 1.0], shape)
    x = _distinct(rng, shape) * signs  # distinct |x|: no ties, so finite differences agree
    cl, th = getattr(F, f"lp_pool{n}d"), getattr(TF, f"lp_pool{n}d")
    args = dict(norm_type=float("inf"), kernel_size=2, stride=(1, 2, 2)[:n] if n > 1 else 2, ceil_mode=ceil_mode)
    check(lambda t: cl(t, **args), lambda t: th(t, **args), x.astype(dtype))
    gradcheck(lambda t: cl(t, **args), x[:1])
    ties = rng.integers(-2, 3, shape).astype(dtype)  # equal |x| of both signs, zeros: first argmax, sign(0) = 0
    check(lambda t: cl(t, float("inf"), 2), lambda t: th(t, float("inf"), 2), ties)


@pytest.mark.parametrize("norm_type", [1.5, 3])
def test_lp_pool_negative_input_is_nan_like_torch_without_warning(norm_type):
    """A negative x to a fractional power (or a negative window sum to the 1/3) is NaN in both
    libraries, forward and backward; NumPy's 'invalid value' warning must not leak."""
    x = np.array([[[-1.0, 2.0, 3.0, 4.0, -0.5, -0.25], [0.0, -3.0, 1.0, 1.0, 2.0, -2.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = check(lambda t: F.lp_pool1d(t, norm_type, 2), lambda t: TF.lp_pool1d(t, norm_type, 2), x)[0]
        check(lambda t: F.lp_pool2d(t, norm_type, 2), lambda t: TF.lp_pool2d(t, norm_type, 2), x[None])
    assert np.isnan(y.detach().numpy()).any()


# ------------------------------------------------------------------------------ adaptive pooling
def _adaptive_case(rng, n):
    spatial = [int(s) for s in rng.integers(1, 10, n)]
    out = [int(rng.integers(1, s + 3)) for s in spatial]
    output_size = tuple(None if n > 1 and rng.random() < 0.2 else o for o in out)
    if rng.random() < 0.25:
        output_size = out[0]
    return output_size, spatial


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(8))
def test_adaptive_pool_matches_torch(kind, n, dtype, seed):
    rng = np.random.default_rng(3000 + 100 * n + seed)
    output_size, spatial = _adaptive_case(rng, n)
    x = _input(rng, n, spatial, dtype, ties=kind == "max" and seed % 3 == 0)
    cl, th = getattr(F, f"adaptive_{kind}_pool{n}d"), getattr(TF, f"adaptive_{kind}_pool{n}d")
    check(lambda t: cl(t, output_size), lambda t: th(t, output_size), x)
    if kind == "max":
        check(lambda t: cl(t, output_size, return_indices=True), lambda t: th(t, output_size, return_indices=True), x)


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_global_pooling_matches_torch(kind):
    """Seed 004's global pooling: AdaptiveXPool2d(1) over whole planes."""
    x = np.random.default_rng(0).standard_normal((4, 8, 7, 7)).astype(np.float32)
    cl, th = getattr(F, f"adaptive_{kind}_pool2d"), getattr(TF, f"adaptive_{kind}_pool2d")
    check(lambda t: cl(t, 1), lambda t: th(t, 1), x)


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_pool_gradcheck(kind, n):
    rng = np.random.default_rng(n)
    spatial = [5, 4, 3][:n]
    output_size = [3, 3, 2][:n]  # non-divisible: unequal, overlapping windows
    gradcheck(lambda t: getattr(F, f"adaptive_{kind}_pool{n}d")(t, output_size), _distinct(rng, (2,) + tuple(spatial)))


def test_adaptive_pool_zero_output_size_is_empty_like_torch():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    for kind in ("avg", "max"):
        y = getattr(F, f"adaptive_{kind}_pool2d")(convlab.tensor(x), (0, 3))
        assert y.shape == getattr(TF, f"adaptive_{kind}_pool2d")(torch.from_numpy(x), (0, 3)).shape == (1, 2, 0, 3)


@pytest.mark.parametrize(
    "case",
    [
        lambda f, t: f.max_pool2d(t, 2),
        lambda f, t: f.avg_pool2d(t, 3, 2, 1),
        lambda f, t: f.lp_pool2d(t, 2, 2),
        lambda f, t: f.adaptive_avg_pool2d(t, 4),
        lambda f, t: f.adaptive_max_pool2d(t, 4),
        lambda f, t: f.max_unpool2d(*f.max_pool2d(t, 2, return_indices=True), 2),
    ],
)
def test_empty_batch_like_torch(case):
    """A batch of zero samples pools to a batch of zero samples (PyTorch allows it)."""
    check(lambda t: case(F, t), lambda t: case(TF, t), np.zeros((0, 2, 6, 6), dtype=np.float32))


# ------------------------------------------------------------------------------ seed worked examples
def _seed_entries(key):
    return SEED_EXAMPLES[key]


@pytest.mark.parametrize("entry", [e for e in _seed_entries("ops") if "pool" in e["op"]], ids=lambda e: e["name"])
def test_seed_pooling_examples(entry):
    x = convlab.tensor(np.array(entry["input"], dtype=np.float32))
    y = getattr(F, entry["op"])(x, **entry["args"])
    np.testing.assert_array_equal(y.numpy(), np.array(entry["expected"], dtype=np.float32))


@pytest.mark.parametrize(
    "entry", [e for e in _seed_entries("shapes") if "Pool" in e["layer"]], ids=lambda e: e["name"]
)
def test_seed_pooling_shapes(entry):
    layer = eval(entry["layer"], {}, vars(nn))  # e.g. "AvgPool2d(3, 2, 1)"
    assert layer(convlab.zeros(*entry["input_shape"])).shape == tuple(entry["output_shape"])


def test_seed_004_global_pooling_by_kernel_size():
    """Seed 004: MaxPool2d/AvgPool2d(kernel_size=image_size), then squeeze -> (batch, channels)."""
    x = np.random.default_rng(0).standard_normal((4, 16, 7, 7)).astype(np.float32)
    for name in ("MaxPool2d", "AvgPool2d"):
        y = getattr(nn, name)(kernel_size=7)(convlab.tensor(x)).squeeze()
        assert y.shape == (4, 16)
        ref = x.max(axis=(2, 3)) if name == "MaxPool2d" else x.mean(axis=(2, 3))
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------ errors
X4 = np.zeros((1, 2, 5, 5), dtype=np.float32)


@pytest.mark.parametrize(
    "cl, th, match",
    [
        (lambda t: F.max_pool2d(t, 7), lambda t: TF.max_pool2d(t, 7), "does not fit in the input of spatial size (5, 5)"),
        (lambda t: F.avg_pool2d(t, 7), lambda t: TF.avg_pool2d(t, 7), "the output size would be (0, 0)"),
        (lambda t: F.max_pool2d(t, 3, padding=2), lambda t: TF.max_pool2d(t, 3, padding=2), "padding must be at most half"),
        (lambda t: F.avg_pool2d(t, 3, padding=2), lambda t: TF.avg_pool2d(t, 3, padding=2), "got padding=(2, 2) for kernel_size=(3, 3)"),
        (lambda t: F.max_pool2d(t, 2, stride=0), lambda t: TF.max_pool2d(t, 2, stride=0), "stride must be positive, got stride=(0, 0)"),
        (lambda t: F.max_pool2d(t, 2, stride=-1), lambda t: TF.max_pool2d(t, 2, stride=-1), "stride must be positive"),
        (lambda t: F.avg_pool2d(t, 2, stride=(1, 0)), lambda t: TF.avg_pool2d(t, 2, stride=(1, 0)), "got stride=(1, 0)"),
        (lambda t: F.max_pool2d(t, 0), lambda t: TF.max_pool2d(t, 0), "kernel_size must be positive"),
        (lambda t: F.max_pool1d(t, 2), lambda t: TF.max_pool1d(t, 2), "expected input of shape (N, C, L) or (C, L)"),
        (lambda t: F.max_pool2d(t[0, 0], 2), lambda t: TF.max_pool2d(t[0, 0], 2), "got shape (5, 5)"),
        (lambda t: F.max_pool2d(t, (2, 2, 2)), lambda t: TF.max_pool2d(t, (2, 2, 2)), "kernel_size must be an int or a tuple of 2 ints"),
        (lambda t: F.adaptive_avg_pool2d(t, (2, 3, 4)), lambda t: TF.adaptive_avg_pool2d(t, (2, 3, 4)), "output_size must be an int or a tuple of 2"),
        (lambda t: F.lp_pool2d(t, 2, 7), lambda t: TF.lp_pool2d(t, 2, 7), "lp_pool2d(): kernel_size=(7, 7)"),
        (lambda t: F.adaptive_max_pool1d(t[0], None), lambda t: TF.adaptive_max_pool1d(t[0], None), "output_size must be an int, got None"),
    ],
)
def test_bad_arguments_raise_like_torch(cl, th, match):
    err = both_raise(cl, th, X4, match=match)
    assert str(err).split(":")[0].endswith("()")  # names the function


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_pool_output_size_none_is_a_type_error_like_torch(kind, n):
    """output_size=None itself (not a None entry, which keeps a dim) is refused, as by PyTorch."""
    name = f"adaptive_{kind}_pool{n}d"
    expected = "an int" if n == 1 else f"an int or a tuple of {n} entries, each an int or None"
    x = np.zeros((1, 2) + (4,) * n, np.float32)
    err = both_raise(lambda t: getattr(F, name)(t, None), lambda t: getattr(TF, name)(t, None), x,
                     match=f"{name}(): output_size must be {expected}, got None")
    assert isinstance(err, TypeError)
    layer = f"Adaptive{kind.capitalize()}Pool{n}d"
    with pytest.raises(TypeError, match=rf"{layer}\(output_size=None\): output_size must be"):
        getattr(nn, layer)(None)


def test_errors_name_function_argument_expected_and_received():
    with pytest.raises(ValueError, match=r"max_pool2d\(\): expected input of shape \(N, C, H, W\) or \(C, H, W\).*got shape \(8, 1, 1, 28, 28\)"):
        F.max_pool2d(convlab.zeros(8, 1, 1, 28, 28), 2)
    with pytest.raises(ValueError, match=r"got shape \(1, 0, 5, 5\)"):
        F.avg_pool2d(convlab.zeros(1, 0, 5, 5), 2)
    with pytest.raises(TypeError, match=r"avg_pool2d\(\): expected a floating-point input, got dtype int64"):
        F.avg_pool2d(convlab.zeros(1, 1, 4, 4, dtype=convlab.int64), 2)
    with pytest.raises(TypeError, match=r"max_pool2d\(\): expected input to be a convlab Tensor, got ndarray"):
        F.max_pool2d(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"max_pool2d\(\): dilation must be positive, got dilation=\(0, 0\)"):
        F.max_pool2d(convlab.zeros(1, 1, 4, 4), 2, dilation=0)
    with pytest.raises(ValueError, match=r"lp_pool2d\(\): norm_type must be a positive number, got 0"):
        F.lp_pool2d(convlab.zeros(1, 1, 4, 4), 0, 2)
    with pytest.raises(ValueError, match=r"avg_pool2d\(\): divisor_override must be a non-zero int or None, got 0"):
        F.avg_pool2d(convlab.zeros(1, 1, 4, 4), 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"max_pool2d\(\): with kernel_size=\(2, 2\), dilation=\(3, 1\) and padding=\(1, 0\), some windows along spatial dim 0 \(size 2\) contain only padding"):
        F.max_pool2d(convlab.zeros(1, 1, 2, 4), 2, padding=(1, 0), dilation=(3, 1))
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d\(\): output_size entries must be non-negative ints or None"):
        F.adaptive_max_pool2d(convlab.zeros(1, 1, 4, 4), (2, -1))
