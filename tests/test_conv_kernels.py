"""The compiled convolution kernels (convlab.ops._conv_kernels) behind conv1d/conv2d: the dense
16-channel register-tile path and the depthwise path, forward and every gradient against PyTorch
in float64 and float32 on seeded random configurations, plus checks that those configurations
really run the compiled kernels (and that the others do not)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import check, gradcheck

import convlab
import convlab.nn.functional as F
from convlab.backend import cpu_kernels
from convlab.ops import conv

_conv_kernels = pytest.importorskip("convlab.ops._conv_kernels", reason="numba is not installed")

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using padding='same'"),
    pytest.mark.skipif(not cpu_kernels.enabled(), reason="compiled kernels unavailable or CONVLAB_KERNELS=0"),
]
CONV = {1: (F.conv1d, TF.conv1d), 2: (F.conv2d, TF.conv2d)}


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the calls of each compiled kernel."""
    calls = {}
    for name in ("conv2d_forward", "conv2d_weight_grad", "depthwise_forward", "depthwise_weight_grad"):
        original = getattr(_conv_kernels, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(_conv_kernels, name, spy)
    return calls


def compiled_case(seed, n, depthwise=False):
    rng = np.random.default_rng(100 * n + seed + (50 if depthwise else 0))
    if depthwise:
        c_in = c_out = groups = int(rng.choice([3, 8, 17]))
    else:
        c_in, c_out, groups = int(rng.choice([1, 3, 16, 20])), int(rng.choice([16, 32])), 1
    kernel = tuple(int(k) for k in rng.integers(1, 5, n))
    dilation = tuple(int(d) for d in rng.integers(1, 3, n))
    same = rng.random() < 0.3
    stride = 1 if same else tuple(int(s) for s in rng.integers(1, 3, n))
    padding = "same" if same else tuple(int(p) for p in rng.integers(0, 3, n))
    pads = (0,) * n if same else padding
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 9)) for k, d, p in zip(kernel, dilation, pads))
    x = rng.standard_normal((int(rng.integers(1, 4)), c_in) + size)
    w = rng.standard_normal((c_out, c_in // groups) + kernel)
    b = rng.standard_normal(c_out) if rng.random() < 0.7 else None
    return (x, w, b), {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _cast(arrays, dtype):
    return tuple(None if a is None else a.astype(dtype) for a in arrays)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("seed", range(5))
def test_compiled_paths_match_torch(seed, n, depthwise, dtype, kernel_calls):
    arrays, kw = compiled_case(seed, n, depthwise)
    ours, theirs = CONV[n]
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}
    out = check(
        lambda x, w, b: ours(x, w, b, **kw), lambda x, w, b: theirs(x, w, b, **kw), *_cast(arrays, dtype), **tol
    )
    assert out[0].dtype == dtype
    prefix = "depthwise" if depthwise else "conv2d"
    assert kernel_calls.get(f"{prefix}_forward", 0) >= 1 and kernel_calls.get(f"{prefix}_weight_grad") == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "size", "stride"), [(37, 4, 1), (5, 2, 1), (11, 7, 2)])
def test_weight_gradient_over_several_whole_images(n, size, stride, dtype, kernel_calls):
    """Maps shorter than a weight-gradient strip: each tile's reduction spans several whole
    images (the last step of a share a ragged remainder); 37 images of 4 x 4 are enough work to
    be split into shares."""
    rng = np.random.default_rng(n)
    arrays = rng.standard_normal((n, 32, size, size)), rng.standard_normal((32, 32, 3, 3)), None
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}
    check(lambda x, w, b: F.conv2d(x, w, stride=stride, padding=1),
          lambda x, w, b: TF.conv2d(x, w, stride=stride, padding=1), *_cast(arrays, dtype), **tol)  # fmt: skip
    assert kernel_calls.get("conv2d_weight_grad") == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("size", "padding", "stride", "dilation", "c_in"),
    [(4, 1, 1, 1, 32), (1, 2, 1, 1, 16), (3, 3, 2, 1, 16), (2, 2, 1, 2, 20), (5, 2, 2, 2, 48), ((1, 6), (2, 1), 1, 1, 16)],
)
def test_taps_on_zero_padding_are_skipped_exactly(size, padding, stride, dilation, c_in, dtype, kernel_calls):
    """Small maps with wide padding: the kernel rows of the forward (and of the input gradient),
    and the output rows and columns of the weight gradient, that only meet zero padding are
    skipped; some outputs read nothing but padding (their value is the bias)."""
    size = size if isinstance(size, tuple) else (size, size)
    rng = np.random.default_rng(size[0] * 100 + c_in)
    arrays = rng.standard_normal((3, c_in) + size), rng.standard_normal((32, c_in, 3, 3)), rng.standard_normal(32)
    kw = {"stride": stride, "padding": padding, "dilation": dilation}
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}
    check(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), *_cast(arrays, dtype), **tol)
    input_grad_compiled = c_in % 16 == 0  # else the input gradient takes the GEMM path
    assert kernel_calls.get("conv2d_forward") >= 1 + input_grad_compiled and kernel_calls.get("conv2d_weight_grad") == 1


def test_padding_skip_gradcheck():
    """float64 finite differences through the skipped-padding paths: a 3 x 3 map with padding 2
    (some outputs read only padding), stride 1 and 2 (the phased input gradient)."""
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 16, 3, 3)), rng.standard_normal((16, 16, 3, 3)), rng.standard_normal(16)
    for stride in (1, 2):
        gradcheck(lambda x, w, b, s=stride: F.conv2d(x, w, b, stride=s, padding=2), x, w, b)


@pytest.mark.parametrize("c_in", [16, 1])
@pytest.mark.parametrize("stride", [1, 2])
def test_non_finite_values_reach_the_padding_as_in_torch(stride, c_in):
    """PyTorch multiplies the zero padding too, so a NaN weight makes every output of its channel
    NaN, also those whose window holds the NaN tap over padding only, and an inf in the output gradient makes the weight gradient of the taps that met padding
    NaN (0 * inf); the kernels skip padding only when no such value is there (16 input
    channels), or not at all where the skip could not pay for that check (1 input channel: 9
    multiply-adds per gradient element)."""
    rng = np.random.default_rng(stride)
    x, w, g = rng.standard_normal((2, c_in, 4, 4)), rng.standard_normal((32, c_in, 3, 3)), None
    w[3, c_in // 3, 0, 2] = np.nan
    y = F.conv2d(convlab.tensor(x), convlab.tensor(w), stride=stride, padding=2)
    expected = TF.conv2d(torch.tensor(x), torch.tensor(w), stride=stride, padding=2).numpy()
    assert np.isnan(expected[:, 3]).all() and np.isnan(y.numpy()[:, 3]).all()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    w[3, c_in // 3, 0, 2] = 1.0
    xt, wt = convlab.tensor(x, requires_grad=True), convlab.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, stride=stride, padding=2)
    g = rng.standard_normal(y.shape)
    g[1, 7, 0, 0] = np.inf
    y.backward(convlab.tensor(g))
    xr, wr = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    TF.conv2d(xr, wr, stride=stride, padding=2).backward(torch.tensor(g))
    assert np.isnan(wr.grad.numpy()).any()
    np.testing.assert_allclose(wt.grad.numpy(), wr.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_padding_skip_only_where_it_pays_for_its_check():
    """The finiteness check of the weight gradient's multiplier (the output gradient) is a pass
    over it: a 1-channel first layer (9 multiply-adds per gradient element, 13% on padding) skips
    neither the check nor the padding; a 32-channel layer and every forward do both."""
    padded = np.zeros((2, 30, 30, 1), np.float32)
    g = np.ones((2, 28, 28, 32), np.float32)
    assert conv.direct._data_box(padded, (1, 1), (1, 1), g, 9) is None
    assert conv.direct._data_box(padded, (1, 1), (1, 1), g, 9 * 32) == (1, 29, 1, 29)
    g[0, 0, 0, 0] = np.inf
    assert conv.direct._data_box(padded, (1, 1), (1, 1), g, 9 * 32) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("x_shape", "c_out", "stride", "padding"),
    [((37, 1, 28, 28), 32, 1, 1), ((3, 1, 5, 23), 16, 1, 1), ((5, 3, 9, 6), 48, 2, 2), ((40, 2, 4, 4), 16, 1, 1)],
)
def test_weight_gradient_reads_an_nchw_gradient_in_place(x_shape, c_out, stride, padding, dtype, monkeypatch):
    """A first layer's output gradient arrives NCHW and no input gradient pads it: the weight
    gradient reads it a strip at a time through in-cache 8x8 transposes (fewer than 8 columns:
    element by element; maps shorter than a strip: several images per strip), with no
    channels-last copy of the whole gradient (the one ``pad`` call is the input's), summing the
    bias gradient in the same pass. The same gradient as a channels-last array or a strided view
    (copied first) gives the same bits, and all match PyTorch."""
    pads = []
    original_pad = _conv_kernels.pad
    monkeypatch.setattr(_conv_kernels, "pad", lambda x, *args: pads.append(x.shape) or original_pad(x, *args))
    rng = np.random.default_rng(x_shape[0])
    x, w, b = (rng.standard_normal(shape).astype(dtype) for shape in (x_shape, (c_out, x_shape[1], 3, 3), (c_out,)))
    kw = {"stride": stride, "padding": padding}
    wt, bt = convlab.tensor(w, requires_grad=True), convlab.tensor(b, requires_grad=True)
    y = F.conv2d(convlab.tensor(x), wt, bt, **kw)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(convlab.tensor(g))
    assert pads == [x_shape[:1] + x_shape[2:] + x_shape[1:2]]
    wr, br = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    TF.conv2d(torch.tensor(x), wr, br, **kw).backward(torch.tensor(g))
    tol = {"rtol": 1e-4, "atol": 1e-3} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(wt.grad.numpy(), wr.grad.numpy(), **tol)
    np.testing.assert_allclose(bt.grad.numpy(), br.grad.numpy(), **tol)
    padded = conv.direct._padded(np.moveaxis(x, 1, -1), (padding,) * 2, (padding,) * 2, "any")
    geometry = (0, 0) + g.shape[2:] + (3, 3, stride, stride, 1, 1)
    strided = np.zeros(g.shape[:3] + (2 * g.shape[3],), dtype)[..., ::2]
    strided[...] = g
    for layout in (np.ascontiguousarray(np.moveaxis(g, 1, -1)), np.moveaxis(strided, 1, -1)):
        dw, db = _conv_kernels.conv2d_weight_grad(padded, layout, *geometry, bias=True)
        np.testing.assert_array_equal(dw.transpose(3, 2, 0, 1), wt.grad.numpy())
        np.testing.assert_array_equal(db, bt.grad.numpy())


def test_fused_bias_gradient_stays_accurate_in_float32():
    """The bias gradient of a first layer sums 100,352 float32 values per channel (strip by
    strip, then the strips): its error against float64 stays within a few times PyTorch's."""
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((128, 1, 28, 28)), rng.standard_normal((32, 1, 3, 3)), rng.standard_normal(32)
    g = rng.standard_normal((128, 32, 28, 28)) + 1.0  # a sum of about 1e5: rounding shows
    exact = g.sum(axis=(0, 2, 3))
    bt = convlab.tensor(b.astype(np.float32), requires_grad=True)
    F.conv2d(convlab.tensor(x.astype(np.float32)), convlab.tensor(w.astype(np.float32), requires_grad=True), bt,
             padding=1).backward(convlab.tensor(g.astype(np.float32)))  # fmt: skip
    br = torch.tensor(b.astype(np.float32), requires_grad=True)
    TF.conv2d(torch.tensor(x.astype(np.float32)), torch.tensor(w.astype(np.float32), requires_grad=True), br,
              padding=1).backward(torch.tensor(g.astype(np.float32)))  # fmt: skip
    ours, theirs = np.abs(bt.grad.numpy() - exact).max(), np.abs(br.grad.numpy() - exact).max()
    assert ours <= 4 * max(theirs, 1e-6 * np.abs(exact).max()), (ours, theirs)


@pytest.mark.skipif(cpu_kernels.max_threads() < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize(
    ("x_shape", "c_out", "split"),
    [((16, 128, 4, 4), 256, "taps"), ((16, 16, 20, 20), 32, "images"), ((16, 1, 28, 28), 32, "images")],
)
def test_weight_gradient_split_is_the_same_on_any_thread_count(x_shape, c_out, split, monkeypatch):
    """Late layers (small maps, many channels) split the taps among the threads, early layers the
    images into a fixed number of shares: either way 1 and 2 threads give bit-identical weight
    and bias gradients (channels-last or, for a first layer, NCHW output gradients), and they
    match PyTorch."""
    chunks = []
    original = _conv_kernels._weight_grad_parallel

    def spy(*args):
        chunks.append(args[11].shape[0])  # ``out``: one gradient (taps split) or one per share
        return original(*args)

    monkeypatch.setattr(_conv_kernels, "_weight_grad_parallel", spy)
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal((c_out, x_shape[1], 3, 3)).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32)
    g = rng.standard_normal((x_shape[0], c_out) + x_shape[2:]).astype(np.float32)
    numba, before, grads = cpu_kernels.numba(), cpu_kernels.threads(), []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            wt, bt = convlab.tensor(w, requires_grad=True), convlab.tensor(b, requires_grad=True)
            F.conv2d(convlab.tensor(x), wt, bt, padding=1).backward(convlab.tensor(g))
            grads.append((wt.grad.numpy(), bt.grad.numpy()))
    finally:
        numba.set_num_threads(before)
    assert chunks == ([1, 1] if split == "taps" else [8, 8])
    for one, two in zip(*grads):
        np.testing.assert_array_equal(one, two)
    wr, br = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    TF.conv2d(torch.tensor(x), wr, br, padding=1).backward(torch.tensor(g))
    np.testing.assert_allclose(grads[0][0], wr.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(grads[0][1], br.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_input_gradient_runs_the_compiled_forward(kernel_calls):
    """Stride 1: the input gradient is a forward convolution with the flipped kernel (C_in = 16)."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 16, 6, 7)), rng.standard_normal((32, 16, 3, 3))
    check(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), x, w)
    assert kernel_calls == {"conv2d_forward": 2, "conv2d_weight_grad": 1}


def test_other_configurations_take_the_gemm_path(kernel_calls):
    rng = np.random.default_rng(2)
    for x_shape, w_shape, kw in [
        ((2, 4, 5, 5), (6, 4, 3, 3), {}),
        ((2, 4, 5, 5), (16, 2, 3, 3), {"groups": 2}),
        ((1, 2, 4, 4, 4), (16, 2, 2, 2, 2), {}),
    ]:
        fn = F.conv3d if len(x_shape) == 5 else F.conv2d
        fn(convlab.tensor(rng.standard_normal(x_shape)), convlab.tensor(rng.standard_normal(w_shape)), **kw)
    assert kernel_calls == {}


def test_compiled_gradcheck():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 16, 4, 5)), rng.standard_normal((16, 16, 3, 2)), rng.standard_normal(16)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=(1, 0), dilation=(1, 2)), x, w, b)
    x, w = rng.standard_normal((2, 5, 6, 5)), rng.standard_normal((5, 1, 3, 3))
    gradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=5), x, w)
    # one input channel: the weight and bias gradients read the NCHW output gradient in place
    x, w, b = rng.standard_normal((2, 1, 5, 9)), rng.standard_normal((16, 1, 3, 3)), rng.standard_normal(16)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), x, w, b)


def test_compiled_conv_transpose_matches_torch(kernel_calls):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 16, 5, 4)), rng.standard_normal((16, 16, 3, 3)), rng.standard_normal(16)
    check(
        lambda x, w, b: F.conv_transpose2d(x, w, b, padding=1),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, padding=1),
        x,
        w,
        b,
    )
    assert kernel_calls.get("conv2d_forward", 0) >= 2 and kernel_calls.get("conv2d_weight_grad") == 1


@pytest.mark.parametrize("layout", ["channels_last", "sliced"])
def test_any_input_layout(layout):
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, 9, 8, 16)).astype(np.float32)
    x = np.moveaxis(base, -1, 1) if layout == "channels_last" else base.transpose(0, 3, 1, 2)[:, ::2, 1:, ::-1]
    w = rng.standard_normal((16, x.shape[1], 3, 3)).astype(np.float32)
    check(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), x, w, rtol=1e-4, atol=1e-4)


def test_float32_results_close_to_float64():
    """The compiled float32 path accumulates in float32 like PyTorch; on a 64-channel 3x3 layer its
    error against float64 stays at float32 rounding level."""
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((4, 64, 10, 10)), rng.standard_normal((64, 64, 3, 3)) * 0.05
    exact = F.conv2d(convlab.tensor(x), convlab.tensor(w), padding=1).numpy()
    single = F.conv2d(convlab.tensor(x.astype(np.float32)), convlab.tensor(w.astype(np.float32)), padding=1).numpy()
    reference = TF.conv2d(torch.tensor(x, dtype=torch.float32), torch.tensor(w, dtype=torch.float32), padding=1).numpy()
    assert np.abs(single - exact).max() <= 4 * max(np.abs(reference - exact).max(), 1e-6)


@pytest.mark.parametrize("groups, c_out", [(1, 32), (16, 16), (2, 4)])
def test_outputs_are_contiguous_nchw(groups, c_out):
    """Every path returns C-contiguous NCHW outputs and input gradients (the layout the other ops
    expect), whatever the input's layout; the compiled paths' results own their memory."""
    rng = np.random.default_rng(7)
    x = convlab.tensor(np.moveaxis(rng.standard_normal((2, 9, 9, 16)).astype(np.float32), -1, 1), requires_grad=True)
    w = convlab.tensor(rng.standard_normal((c_out, 16 // groups, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1, groups=groups)
    y.backward(convlab.ones(*y.shape))
    for array in (y.data, x.grad.data, w.grad.data):
        assert array.flags.c_contiguous
    if groups != 2:
        assert y.data.base is None and x.grad.data.base is None


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_strided_input_gradient_phases(seed, n, kernel_calls, monkeypatch):
    """Stride > 1 with 16k input channels: the input gradient is computed phase by phase on the
    compiled kernel, never by col2im (strides, dilations and paddings that leave some phases
    without taps or without positions)."""
    monkeypatch.setattr(conv.gemm, "_conv_col2im_grad", None)
    rng = np.random.default_rng(300 + 10 * n + seed)
    kernel = tuple(int(k) for k in rng.integers(1, 6, n))
    stride = tuple(int(s) for s in rng.integers(2, 4, n))
    dilation = tuple(int(d) for d in rng.integers(1, 4, n))
    padding = tuple(int(p) for p in rng.integers(0, 4, n))
    size = tuple(
        max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 7)) for k, d, p in zip(kernel, dilation, padding)
    )
    x = rng.standard_normal((2, 16) + size)
    w = rng.standard_normal((16, 16) + kernel)
    kw = {"stride": stride, "padding": padding, "dilation": dilation}
    ours, theirs = CONV[n]
    check(lambda x, w: ours(x, w, **kw), lambda x, w: theirs(x, w, **kw), x, w)
    assert kernel_calls.get("conv2d_forward", 0) >= 1 and kernel_calls.get("conv2d_weight_grad") == 1


def test_strided_gradcheck_and_transposed_conv():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((1, 16, 5, 4)), rng.standard_normal((16, 16, 3, 2))
    gradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=(1, 0), dilation=(1, 2)), x, w)
    x, w, b = rng.standard_normal((2, 16, 4, 5)), rng.standard_normal((16, 16, 4, 4)), rng.standard_normal(16)
    kw = {"stride": 2, "padding": 1, "output_padding": (0, 1)}
    check(
        lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw), x, w, b
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("c_out", [16, 32, 48])
def test_every_tile_shape_matches_torch(c_out, dtype):
    """Widths 1..29 reach every (rows, blocks) tile the switch compiles, with a leftover single
    block when C_out is 48; the forward, the input gradient and the weight gradient (whose tile
    rows run over the (kw, c_in) taps) all agree with torch."""
    rng = np.random.default_rng(c_out)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {}
    for width in range(1, 30):
        c_in = int(rng.integers(1, 6))
        x = rng.standard_normal((2, c_in, 2, width)).astype(dtype)
        w = rng.standard_normal((c_out, c_in, 1, 3)).astype(dtype)
        check(lambda x, w: F.conv2d(x, w, padding=(0, 1)), lambda x, w: TF.conv2d(x, w, padding=(0, 1)), x, w, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tile_shape_keeps_the_most_accumulators(dtype):
    one, two = _conv_kernels.TILE_ROWS[np.dtype(dtype)]
    assert _conv_kernels.tile_shape(dtype, 1, 100) == (1, _conv_kernels._balanced(100, one))
    blocks, rows = _conv_kernels.tile_shape(dtype, 4, 28)
    assert 1 <= rows <= (one, two)[blocks - 1]
    assert rows * blocks >= max(_conv_kernels._balanced(28, one), 2 * _conv_kernels._balanced(28, two) if two else 0)
    if two >= 3:  # a width of 3 fills 3 rows either way: two blocks per tile do twice the work per load
        assert _conv_kernels.tile_shape(dtype, 2, 3) == (2, 3)
    # the accumulators, the weight vectors and the broadcast operand fit the vector registers
    # (AVX-512: 32, AVX2 and older: 16), so LLVM never spills an accumulator inside the reduction
    if _conv_kernels.VECTOR_BYTES == 64:
        assert _conv_kernels.TILE_ROWS[np.dtype(dtype)] == ((14, 14) if dtype == np.float32 else (14, 6))
    else:
        assert _conv_kernels.TILE_ROWS[np.dtype(dtype)] == ((6, 2) if dtype == np.float32 else (2, 0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, c, h, w", [(2, 64, 14, 14), (1, 19, 9, 13), (2, 8, 3, 8), (1, 5, 6, 9), (1, 16, 4, 7)])
def test_pad_turns_any_layout_into_padded_channels_last(n, c, h, w, dtype):
    """The one copy before a dense kernel: NCHW (8x8 vector transposes, the last blocks
    overlapping; fewer than 8 channels or columns element by element), channels-last and
    sliced sources, padding on any side, against NumPy."""
    rng = np.random.default_rng(c * h + w)
    nchw = rng.standard_normal((n, c, h, w)).astype(dtype)
    sources = {
        "nchw": np.moveaxis(nchw, 1, -1),
        "nhwc": np.ascontiguousarray(np.moveaxis(nchw, 1, -1)),
        "sliced": np.moveaxis(rng.standard_normal((n, c, h + 2, w)).astype(dtype), 1, -1)[:, 1:-1],
    }
    for source in sources.values():
        for top, left, bottom, right in [(1, 1, 1, 1), (0, 3, 2, 0)]:
            out = np.full((n, h + top + bottom, w + left + right, c), np.nan, dtype)
            _conv_kernels.pad(source, out, top, left)
            expected = np.pad(source, ((0, 0), (top, bottom), (left, right), (0, 0)))
            np.testing.assert_array_equal(out, expected)
