"""Convolution ops (convlab.ops.conv): conv1d/2d/3d and conv_transpose1d/2d/3d.

Forward and every gradient (input, weight, bias) against PyTorch on seeded random
configurations (dims 1-3, stride, padding ints/'same'/'valid' incl. even kernels with dilation,
dilation, groups incl. depthwise with multipliers, bias or none, unbatched and non-square
inputs, output_padding), float64 gradchecks, the seed worked examples, the output-shape
helpers, the explicit convolution matrix, and the error messages.
"""


import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import both_raise, check, gradcheck
from seed_examples import SEED_EXAMPLES

import convlab
import convlab.nn.functional as F
from convlab.ops import conv

# torch warns that 'same' with an even kernel pads a copy of the input; that is what we test
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
CONV = {1: (F.conv1d, TF.conv1d), 2: (F.conv2d, TF.conv2d), 3: (F.conv3d, TF.conv3d)}
CONV_T = {
    1: (F.conv_transpose1d, TF.conv_transpose1d),
    2: (F.conv_transpose2d, TF.conv_transpose2d),
    3: (F.conv_transpose3d, TF.conv_transpose3d),
}


def _ints(rng, low, high, n):
    return tuple(int(v) for v in rng.integers(low, high, n))


def _channels(rng):
    """(groups, in channels per group, out channels): dense, grouped, depthwise (x multiplier)."""
    kind = rng.choice(["dense", "grouped", "depthwise"], p=[0.5, 0.25, 0.25])
    if kind == "dense":
        return 1, int(rng.integers(1, 4)), int(rng.integers(1, 4))
    groups = int(rng.integers(2, 4))
    if kind == "depthwise":
        return groups, 1, groups * int(rng.integers(1, 3))
    return groups, int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))


def conv_case(seed, n):
    """A random valid convolution: arrays (x, w, b-or-None) and keyword options."""
    rng = np.random.default_rng(1000 * n + seed)
    groups, cg, c_out = _channels(rng)
    kernel = _ints(rng, 1, 5 if n < 3 else 4, n)
    dilation = _ints(rng, 1, 3, n)
    style = rng.choice(["int", "tuple", "same", "valid"], p=[0.25, 0.35, 0.3, 0.1])
    stride = _ints(rng, 1, 4, n) if style != "same" else 1
    if style == "same":
        padding = "same"
    elif style == "valid":
        padding = "valid"
    elif style == "int":
        padding = int(rng.integers(0, 3))
    else:
        padding = _ints(rng, 0, 3, n)
    pads = (0,) * n if isinstance(padding, str) else (padding,) * n if isinstance(padding, int) else padding
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 5)) for k, d, p in zip(kernel, dilation, pads))
    batch = () if rng.random() < 0.15 else (int(rng.integers(1, 3)),)
    x = rng.standard_normal(batch + (groups * cg,) + size)
    w = rng.standard_normal((c_out, cg) + kernel)
    b = rng.standard_normal(c_out) if rng.random() < 0.7 else None
    return (x, w, b), {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def transpose_case(seed, n):
    rng = np.random.default_rng(5000 + 1000 * n + seed)
    groups, cg, c_out = _channels(rng)
    kernel = _ints(rng, 1, 5 if n < 3 else 4, n)
    stride, dilation, padding = _ints(rng, 1, 4, n), _ints(rng, 1, 3, n), _ints(rng, 0, 3, n)
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    size = _ints(rng, 1, 5, n)
    # the output must be non-empty: (I-1)S - 2P + D(K-1) + op + 1 >= 1
    size = tuple(
        max(i, -(-(2 * p - d * (k - 1) - op) // s) + 1)
        for i, p, d, k, op, s in zip(size, padding, dilation, kernel, output_padding, stride)
    )
    batch = () if rng.random() < 0.15 else (int(rng.integers(1, 3)),)
    x = rng.standard_normal(batch + (groups * cg,) + size)
    w = rng.standard_normal((groups * cg, c_out // groups) + kernel)
    b = rng.standard_normal(c_out) if rng.random() < 0.7 else None
    return (x, w, b), {
        "stride": stride,
        "padding": padding,
        "output_padding": output_padding,
        "groups": groups,
        "dilation": dilation,
    }


def _float32(arrays):
    return tuple(None if a is None else a.astype(np.float32) for a in arrays)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_conv_matches_torch(n, seed):
    arrays, kw = conv_case(seed, n)
    ours, theirs = CONV[n]
    check(lambda x, w, b: ours(x, w, b, **kw), lambda x, w, b: theirs(x, w, b, **kw), *arrays)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_conv_transpose_matches_torch(n, seed):
    arrays, kw = transpose_case(seed, n)
    ours, theirs = CONV_T[n]
    check(lambda x, w, b: ours(x, w, b, **kw), lambda x, w, b: theirs(x, w, b, **kw), *arrays)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_float32_stays_float32(n, seed):
    arrays, kw = conv_case(seed, n)
    ours, theirs = CONV[n]
    out = check(lambda x, w, b: ours(x, w, b, **kw), lambda x, w, b: theirs(x, w, b, **kw), *_float32(arrays))
    assert out[0].dtype == np.float32
    arrays, kw = transpose_case(seed, n)
    ours, theirs = CONV_T[n]
    out = check(lambda x, w, b: ours(x, w, b, **kw), lambda x, w, b: theirs(x, w, b, **kw), *_float32(arrays))
    assert out[0].dtype == np.float32


@pytest.mark.parametrize(
    "padding, kernel, dilation",
    [("same", (2, 4), (1, 1)), ("same", (4, 3), (3, 2)), ("same", (2, 2), (2, 1)), ("valid", (2, 3), (1, 2))],
)
def test_padding_strings_even_kernels(padding, kernel, dilation):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3) + kernel), rng.standard_normal(4)
    out = check(
        lambda x, w, b: F.conv2d(x, w, b, padding=padding, dilation=dilation),
        lambda x, w, b: TF.conv2d(x, w, b, padding=padding, dilation=dilation),
        x,
        w,
        b,
    )
    if padding == "same":
        assert out[0].shape[-2:] == (7, 6)


@pytest.mark.parametrize(
    "name, fn, args",
    [
        ("conv2d", F.conv2d, {"stride": (2, 1), "padding": 1, "groups": 2}),
        ("conv2d depthwise", F.conv2d, {"padding": 1, "groups": 4, "dilation": 2}),
        ("conv1d", F.conv1d, {"padding": "same", "dilation": 2}),
        ("conv3d", F.conv3d, {"stride": 2, "padding": 1}),
    ],
)
def test_conv_gradcheck(name, fn, args):
    rng = np.random.default_rng(3)
    n = {"conv1d": 1, "conv3d": 3}.get(name, 2)
    groups = args.get("groups", 1)
    size = (5, 4, 5)[:n] if n < 3 else (4, 3, 4)
    x = rng.standard_normal((2, 4) + size)
    w = rng.standard_normal((4, 4 // groups) + (3,) * n if n < 3 else (2, 4 // groups, 2, 3, 2))
    b = rng.standard_normal(w.shape[0])
    gradcheck(lambda x, w, b: fn(x, w, b, **args), x, w, b)


@pytest.mark.parametrize(
    "fn, x_shape, w_shape, args",
    [
        (F.conv_transpose2d, (2, 4, 3, 4), (4, 3, 3, 2), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 1}),
        (F.conv_transpose2d, (1, 4, 3, 3), (4, 1, 2, 3), {"stride": (1, 2), "groups": 2, "dilation": 2}),
        (F.conv_transpose1d, (2, 2, 5), (2, 3, 3), {"stride": 3, "padding": 2, "output_padding": 2}),
        (F.conv_transpose3d, (1, 2, 2, 3, 2), (2, 2, 2, 2, 3), {"stride": 2, "padding": (0, 1, 1)}),
    ],
)
def test_conv_transpose_gradcheck(fn, x_shape, w_shape, args):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * args.get("groups", 1))
    gradcheck(lambda x, w, b: fn(x, w, b, **args), x, w, b)


def test_conv_transpose_is_the_input_gradient_of_conv():
    rng = np.random.default_rng(5)
    x, w, g = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3)), None
    xt = convlab.tensor(x, requires_grad=True)
    y = F.conv2d(xt, convlab.tensor(w), stride=2, padding=1, groups=2)
    g = rng.standard_normal(y.shape)
    y.backward(convlab.tensor(g))
    up = F.conv_transpose2d(convlab.tensor(g), convlab.tensor(w), stride=2, padding=1, output_padding=(0, 1), groups=2)
    np.testing.assert_allclose(up.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_only_needed_gradients_are_computed():
    rng = np.random.default_rng(6)
    x = convlab.tensor(rng.standard_normal((2, 3, 5, 5)))  # first layer: no input gradient
    w = convlab.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = convlab.tensor(rng.standard_normal(4))
    F.conv2d(x, w, b, padding=1).sum().backward()
    assert x.grad is None and b.grad is None and w.grad.shape == (4, 3, 3, 3)


def test_channels_last_and_strided_inputs():
    """Inputs of any memory layout (e.g. another conv's channels-last output, a sliced view) work."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 7, 9))
    w1, w2 = rng.standard_normal((5, 3, 3, 3)), rng.standard_normal((4, 5, 2, 2))
    check(
        lambda x, w1, w2: F.conv2d(F.conv2d(x[:, ::2, :, 1:], w1, padding=1).relu(), w2, stride=2),
        lambda x, w1, w2: TF.conv2d(TF.conv2d(x[:, ::2, :, 1:], w1, padding=1).relu(), w2, stride=2),
        x,
        w1,
        w2,
    )


def test_empty_batch():
    out = F.conv2d(convlab.zeros(0, 3, 5, 5), convlab.ones(4, 3, 3, 3), convlab.ones(4))
    assert out.shape == tuple(TF.conv2d(torch.zeros(0, 3, 5, 5), torch.ones(4, 3, 3, 3)).shape)


# ---------------------------------------------------------------------------------- seed examples
def _seed_entries(op):
    return [e for e in SEED_EXAMPLES["ops"] if e["op"] == op]


@pytest.mark.parametrize("entry", _seed_entries("conv2d"), ids=lambda e: e["name"])
def test_seed_conv2d_examples(entry):
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in entry["args"].items()}
    x = convlab.tensor(np.array(entry["input"], dtype=np.float32))
    w = convlab.tensor(np.array(entry["weight"], dtype=np.float32))
    out = F.conv2d(x, w, **args)
    np.testing.assert_array_equal(out.numpy(), np.array(entry["expected"], dtype=np.float32))


# ---------------------------------------------------------------------------------- output shapes
@pytest.mark.parametrize("seed", range(20))
def test_output_shape_helpers_match_torch(seed):
    rng = np.random.default_rng(seed)
    k, s, p, d = (int(v) for v in (rng.integers(1, 6), rng.integers(1, 4), rng.integers(0, 3), rng.integers(1, 3)))
    size = int(rng.integers(d * (k - 1) + 1, 20))
    expected = TF.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1]
    assert conv.conv_output_size(size, k, s, p, d) == expected
    assert F.conv_output_shape((size, size + 1), k, s, p, d) == (expected, conv.conv_output_size(size + 1, k, s, p, d))
    op = int(rng.integers(0, max(s, d)))
    expected_t = TF.conv_transpose1d(
        torch.zeros(1, 1, size), torch.zeros(1, 1, k), stride=s, padding=p, output_padding=op, dilation=d
    )
    assert F.conv_output_shape(size, k, s, p, d, transposed=True, output_padding=op) == expected_t.shape[-1]


def test_output_shape_examples():
    assert F.conv_output_shape((28, 28), 3, padding=1) == (28, 28)
    assert F.conv_output_shape((224, 224), 7, stride=2, padding=3) == (112, 112)
    assert F.conv_output_shape(16, 4, 2, 1, transposed=True) == 32
    assert F.conv_output_shape((7, 6), (2, 4), padding="same", dilation=(3, 1)) == (7, 6)
    assert F.conv_output_shape(10, 3, padding="valid", dilation=2) == 6


# ---------------------------------------------------------------------------------- conv as a matrix
def test_conv_matrix_seed_example():
    """Seed 001: a 3x3 kernel on a 4x4 input is a 4x16 matrix, one shifted kernel per row."""
    w = convlab.arange(1.0, 10.0).reshape(3, 3)
    m = F.conv_matrix(w, (4, 4)).numpy()
    assert m.shape == (4, 16)
    rows = np.zeros((4, 4, 4))
    for r, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        rows[r, i : i + 3, j : j + 3] = w.numpy()
    np.testing.assert_array_equal(m, rows.reshape(4, 16))


@pytest.mark.parametrize(
    "n, args", [(2, {"stride": (2, 1), "padding": 1, "dilation": (1, 2)}), (1, {"padding": "same"}), (3, {"stride": 2})]
)
def test_conv_matrix_is_the_convolution_and_its_transpose(n, args):
    rng = np.random.default_rng(9)
    size = (5, 6, 4)[:n]
    x = rng.standard_normal((2, 3) + size)
    w = rng.standard_normal((4, 3) + (3, 2, 2)[:n])
    m = F.conv_matrix(convlab.tensor(w), size, **args).numpy()
    y = CONV[n][1](torch.tensor(x), torch.tensor(w), **args).numpy()
    np.testing.assert_allclose(x.reshape(2, -1) @ m.T, y.reshape(2, -1), rtol=1e-12, atol=1e-12)
    if args.get("padding") != "same":
        op = tuple(
            i
            - conv.conv_transpose_output_size(
                o, k, **{kk: (v if isinstance(v, int) else v[a]) for kk, v in args.items()}
            )
            for a, (i, o, k) in enumerate(zip(size, y.shape[2:], w.shape[2:]))
        )
        up = CONV_T[n][1](torch.tensor(y), torch.tensor(w), output_padding=op, **args).numpy()
        np.testing.assert_allclose(y.reshape(2, -1) @ m, up.reshape(2, -1), rtol=1e-12, atol=1e-12)


def test_conv_matrix_gradcheck():
    w = np.random.default_rng(10).standard_normal((2, 1, 2, 2))
    gradcheck(lambda w: F.conv_matrix(w, (3, 3), padding=1), w)


# ---------------------------------------------------------------------------------- errors
def _raise(fn, *args, **kw):
    with pytest.raises((ValueError, TypeError)) as info:
        fn(*args, **kw)
    return str(info.value)


def test_error_wrong_channels():
    x, w = np.zeros((8, 1, 28, 28)), np.zeros((16, 3, 3, 3))
    err = both_raise(lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), x, w)
    assert "conv2d(): expected input with 3 channels (N, 3, H, W), got shape (8, 1, 28, 28)" in str(err)


def test_error_wrong_ndim():
    err = both_raise(
        lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), np.zeros((2, 2, 3, 5, 5)), np.zeros((4, 3, 3, 3))
    )
    assert "expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape (2, 2, 3, 5, 5)" in str(err)
    msg = _raise(F.conv2d, convlab.zeros(1, 3, 5, 5), convlab.zeros(4, 3, 3))
    assert "expected weight of shape (out_channels, in_channels/groups, kH, kW), got (4, 3, 3)" in msg


def test_error_groups():
    err = both_raise(
        lambda x, w: F.conv2d(x, w, groups=2),
        lambda x, w: TF.conv2d(x, w, groups=2),
        np.zeros((1, 4, 5, 5)),
        np.zeros((3, 2, 3, 3)),
    )
    assert "has 3 output channels, not divisible by groups=2" in str(err)
    err = both_raise(
        lambda x, w: F.conv2d(x, w, groups=0),
        lambda x, w: TF.conv2d(x, w, groups=0),
        np.zeros((1, 4, 5, 5)),
        np.zeros((4, 4, 3, 3)),
    )
    assert "groups must be a positive integer, got groups=0" in str(err)
    err = both_raise(
        lambda x, w: F.conv2d(x, w, groups=2),
        lambda x, w: TF.conv2d(x, w, groups=2),
        np.zeros((1, 3, 5, 5)),
        np.zeros((4, 1, 3, 3)),
    )
    assert "expected input with 2 channels (N, 2, H, W), got shape (1, 3, 5, 5)" in str(err)


def test_error_kernel_larger_than_padded_input():
    err = both_raise(
        lambda x, w: F.conv2d(x, w, padding=1),
        lambda x, w: TF.conv2d(x, w, padding=1),
        np.zeros((1, 3, 4, 5)),
        np.zeros((2, 3, 7, 7)),
    )
    msg = str(err)
    assert (
        "kernel_size=(7, 7) with dilation=(1, 1) does not fit in the input of spatial size (4, 5) padded by (1, 1)"
        in msg
    )
    assert "output size would be (0, 1)" in msg


def test_error_negative_padding_and_bad_strings():
    x, w = np.zeros((1, 3, 5, 5)), np.zeros((2, 3, 3, 3))
    err = both_raise(lambda x, w: F.conv2d(x, w, padding=-1), lambda x, w: TF.conv2d(x, w, padding=-1), x, w)
    assert "padding must be non-negative, got padding=(-1, -1)" in str(err)
    err = both_raise(lambda x, w: F.conv2d(x, w, padding="full"), lambda x, w: TF.conv2d(x, w, padding="full"), x, w)
    assert "invalid padding string 'full'" in str(err)
    err = both_raise(
        lambda x, w: F.conv2d(x, w, padding="same", stride=2),
        lambda x, w: TF.conv2d(x, w, padding="same", stride=2),
        x,
        w,
    )
    assert "padding='same' is not supported for strided convolutions, got stride=(2, 2)" in str(err)
    assert "stride must be positive, got stride=(0, 1)" in _raise(
        F.conv2d, convlab.zeros(1, 3, 5, 5), convlab.zeros(2, 3, 3, 3), stride=(0, 1)
    )
    assert "stride must be an int or a tuple of 2 ints, got (1, 2, 3)" in _raise(
        F.conv2d, convlab.zeros(1, 3, 5, 5), convlab.zeros(2, 3, 3, 3), stride=(1, 2, 3)
    )


def test_error_dtypes_and_types():
    x, w = np.zeros((1, 3, 5, 5), dtype=np.float64), np.zeros((2, 3, 3, 3), dtype=np.float32)
    err = both_raise(lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), x, w)
    assert "input dtype float64 does not match weight dtype float32" in str(err)
    assert "expected input to be a convlab Tensor, got ndarray" in _raise(
        F.conv2d, np.zeros((1, 3, 5, 5)), convlab.zeros(2, 3, 3, 3)
    )
    assert "expected a floating-point input, got dtype int64" in _raise(
        F.conv1d, convlab.zeros(1, 3, 5, dtype=convlab.int64), convlab.zeros(2, 3, 3)
    )
    assert "expected bias of shape (2,), got (3,)" in _raise(
        F.conv2d, convlab.zeros(1, 3, 5, 5), convlab.zeros(2, 3, 3, 3), convlab.zeros(3)
    )


def test_error_conv_transpose():
    x, w = np.zeros((1, 3, 5, 5)), np.zeros((3, 2, 3, 3))
    err = both_raise(
        lambda x, w: F.conv_transpose2d(x, w, output_padding=1),
        lambda x, w: TF.conv_transpose2d(x, w, output_padding=1),
        x,
        w,
    )
    assert (
        "output_padding must be non-negative and smaller than either stride or dilation, got output_padding=(1, 1)"
        in str(err)
    )
    err = both_raise(
        lambda x, w: F.conv_transpose2d(x, w, padding=-1), lambda x, w: TF.conv_transpose2d(x, w, padding=-1), x, w
    )
    assert "padding must be non-negative" in str(err)
    err = both_raise(
        lambda x, w: F.conv_transpose2d(x, w, padding=5), lambda x, w: TF.conv_transpose2d(x, w, padding=5), x, w
    )
    assert "gives output size (-3, -3), expected every size >= 1" in str(err)
    err = both_raise(
        lambda x, w: F.conv_transpose2d(x, w), lambda x, w: TF.conv_transpose2d(x, w), np.zeros((1, 2, 5, 5)), w
    )
    assert "conv_transpose2d(): expected input with 3 channels (N, 3, H, W), got shape (1, 2, 5, 5)" in str(err)
    assert "expected weight of shape (in_channels, out_channels/groups, kH, kW)" in _raise(
        F.conv_transpose2d, convlab.zeros(1, 3, 5, 5), convlab.zeros(3, 2, 3)
    )


@pytest.mark.parametrize("c_out, groups", [(16, 1), (16, 16), (4, 2)])
def test_empty_batch_gradients(c_out, groups):
    x = convlab.zeros(0, 16 if groups != 2 else 4, 5, 5, requires_grad=True)
    w = convlab.ones(c_out, x.shape[1] // groups, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1, stride=2, groups=groups)
    y.sum().backward()
    assert y.shape == (0, c_out, 3, 3) and x.grad.shape == x.shape and not w.grad.numpy().any()


def test_cuda_matches_cpu():
    """The GEMM/array path on CuPy arrays gives the CPU results (skipped without a GPU)."""
    cupy = pytest.importorskip("cupy")
    if not convlab.backend.cuda_is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    outs = []
    for device in ("cpu", "cuda"):
        xt = convlab.tensor(x, requires_grad=True, device=device)
        wt = convlab.tensor(w, requires_grad=True, device=device)
        y = F.conv2d(xt, wt, convlab.tensor(b, device=device), stride=(2, 1), padding=1, groups=2)
        y.sum().backward()
        outs.append([cupy.asnumpy(a.data) if device == "cuda" else a.data for a in (y, xt.grad, wt.grad)])
    for cpu, gpu in zip(*outs):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-10)
