"""F.interpolate (every mode), F.pixel_shuffle/unshuffle and the upsampling layers, against PyTorch."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from guides import python_examples
from parity import both_raise, check, gradcheck

import convlab
import convlab.nn.functional as F
from convlab import nn
from convlab.ops import upsample
from convlab.backend import cpu_kernels

MODES = ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area", "bilinear-aa", "bicubic-aa"]
MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
FACTORS = [2.0, 1.5, 0.7, 0.5, 1.3, 2.5, 3.0, 0.9, 1.1]


def _random_case(rng, mode):
    """Random (shape, kwargs) for ``mode``: sizes or (per-dim) scale factors, up and down,
    align_corners and recompute_scale_factor both ways."""
    antialias = mode.endswith("-aa")
    mode = mode.removesuffix("-aa")
    while True:
        n = MODE_DIMS.get(mode) or int(rng.integers(1, 4))
        spatial = tuple(int(s) for s in rng.integers(1, 9 if n < 3 else 6, size=n))
        kwargs = {"mode": mode}
        if rng.random() < 0.4:
            size = tuple(int(s) for s in rng.integers(1, 13 if n < 3 else 7, size=n))
            kwargs["size"] = size[0] if n == 1 and rng.random() < 0.5 else size
            out = size
        else:
            factors = tuple(float(rng.choice(FACTORS)) for _ in range(n))
            kwargs["scale_factor"] = factors if rng.random() < 0.6 else factors[0]
            out = tuple(
                int(s * f)
                for s, f in zip(spatial, factors if isinstance(kwargs["scale_factor"], tuple) else (factors[0],) * n)
            )
            kwargs["recompute_scale_factor"] = [None, True, False][int(rng.integers(3))]
        if min(out) < 1:
            continue
        if mode not in ("nearest", "nearest-exact", "area"):
            kwargs["align_corners"] = bool(rng.random() < 0.5)
        if antialias:
            if out[-1] == 1:
                continue  # PyTorch 2.13's anti-aliased kernel is wrong for an output width of 1 (see the docs)
            kwargs["antialias"] = True
        return (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + spatial, kwargs


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interpolate_matches_torch_on_random_cases(mode, dtype):
    rng = np.random.default_rng([MODES.index(mode), np.dtype(dtype).itemsize])
    for _ in range(10):
        shape, kwargs = _random_case(rng, mode)
        x = rng.standard_normal(shape).astype(dtype)
        check(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), x)


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        # PyTorch's nearest kernels round differently in rare cases; which one runs depends on
        # the output size (2-D: out_H + out_W <= 128), and the backward always uses the other rule.
        ((1, 2, 24), dict(size=148)),
        ((1, 2, 26), dict(size=142, mode="nearest-exact")),
        ((1, 1, 2, 24), dict(size=(2, 148))),
        ((1, 1, 3, 42), dict(size=(3, 133))),
        ((1, 1, 2, 2), dict(size=(2, 41), mode="nearest-exact")),
        ((1, 1, 2, 2), dict(size=(90, 41), mode="nearest-exact")),
        ((1, 1, 1, 2, 10), dict(size=(1, 3, 133), mode="nearest-exact")),
        # An axis whose size does not change under a scale factor != 1: linear copies it, bicubic
        # filters it forward but copies the gradient, anti-aliasing copies it but filters the gradient.
        ((2, 3, 4), dict(scale_factor=1.1, mode="linear")),
        ((1, 2, 3, 4), dict(scale_factor=(1.25, 1.2), mode="bicubic")),
        ((1, 2, 3, 4), dict(scale_factor=(1.25, 2.0), mode="bicubic")),
        ((1, 2, 8, 8), dict(scale_factor=(1.1, 0.6), mode="bilinear", antialias=True)),
        ((1, 2, 7, 9), dict(scale_factor=(0.5, 1.1), mode="bicubic", antialias=True)),
        # Output size 1, align_corners on a single output, downsampling with large windows.
        ((1, 2, 4, 5), dict(size=(1, 1), mode="bilinear")),
        ((1, 2, 4, 5), dict(size=(1, 3), mode="bicubic", align_corners=True)),
        ((1, 2, 16, 12), dict(scale_factor=0.25, mode="bilinear", antialias=True)),
        ((1, 2, 16, 12), dict(size=(5, 3), mode="bicubic", antialias=True, align_corners=True)),
        ((2, 3, 7, 5), dict(size=(3, 2), mode="area")),
        ((1, 1, 1, 5), dict(scale_factor=(3, 2), mode="bilinear")),
        ((0, 3, 4, 4), dict(scale_factor=2, mode="bilinear")),  # empty batch
        # Large enough for the CPU kernel to split the 21 planes over threads.
        ((3, 7, 33, 31), dict(scale_factor=2, mode="bilinear")),
        ((3, 7, 4, 20, 22), dict(size=(5, 17, 40), mode="trilinear", align_corners=True)),
    ],
)
def test_interpolate_edge_cases(shape, kwargs):
    x = np.random.default_rng(0).standard_normal(shape)
    check(lambda t: F.interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), x)


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 2, 5), dict(scale_factor=2.0)),
        ((1, 2, 3, 4), dict(size=(5, 7), mode="nearest-exact")),
        ((2, 2, 5), dict(size=8, mode="linear", align_corners=True)),
        ((1, 2, 4, 3), dict(scale_factor=(1.5, 2.0), mode="bilinear")),
        ((1, 2, 5, 4), dict(size=(3, 7), mode="bicubic")),
        ((1, 2, 3, 5), dict(size=(6, 4), mode="bicubic", align_corners=True)),
        ((1, 1, 2, 3, 3), dict(scale_factor=1.7, mode="trilinear")),
        ((1, 2, 6, 5), dict(size=(4, 3), mode="area")),
        ((1, 2, 9, 8), dict(size=(4, 3), mode="bilinear", antialias=True)),
        ((1, 2, 9, 8), dict(size=(4, 5), mode="bicubic", antialias=True)),
    ],
)
def test_interpolate_gradcheck(shape, kwargs):
    gradcheck(lambda t: F.interpolate(t, **kwargs), np.random.default_rng(1).standard_normal(shape))


def test_nearest_upsampling_is_nearest_neighbour_unpooling():
    """Seed 001: nearest-neighbour unpooling copies each value into its k x k block."""
    x = np.arange(4.0, dtype=np.float32).reshape(1, 1, 2, 2)
    y = F.interpolate(convlab.tensor(x), scale_factor=2).numpy()
    np.testing.assert_array_equal(y[0, 0], np.kron(x[0, 0], np.ones((2, 2))))
    np.testing.assert_array_equal(y, TF.interpolate(torch.from_numpy(x), scale_factor=2).numpy())


def test_interpolate_keeps_dtype_and_accepts_uint8_for_nearest():
    x = np.random.default_rng(2).integers(0, 255, size=(1, 3, 5, 4), dtype=np.uint8)
    got = F.interpolate(convlab.tensor(x), size=(7, 9)).numpy()
    expected = TF.interpolate(torch.from_numpy(x), size=(7, 9)).numpy()
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    for mode in ("bilinear", "bicubic", "nearest"):
        assert F.interpolate(convlab.zeros(1, 1, 3, 3), scale_factor=2, mode=mode).dtype == np.float32
    half = np.random.default_rng(3).standard_normal((1, 2, 4, 4)).astype(np.float16)
    got = F.interpolate(convlab.tensor(half), scale_factor=1.5, mode="bilinear").numpy()
    expected = TF.interpolate(torch.from_numpy(half), scale_factor=1.5, mode="bilinear").numpy()
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "bilinear-aa", "nearest"])
def test_gpu_formulation_matches_the_cpu_kernel(mode):
    """The dense-matrix path CuPy (and NumPy without the compiled kernels) takes gives the
    numba kernel's numbers."""
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 6))
    kwargs = dict(size=(4, 11), mode=mode.removesuffix("-aa"), antialias=mode.endswith("-aa"))
    y = F.interpolate(convlab.tensor(x, requires_grad=True), **kwargs)
    taps = y.grad_fn.taps
    g = np.random.default_rng(5).standard_normal(y.shape)
    with cpu_kernels.disabled():
        expected = upsample.resample(x, taps), upsample.resample_transpose(g, taps, x.shape[2:])
    np.testing.assert_allclose(upsample.resample(x, taps), expected[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(upsample.resample_transpose(g, taps, x.shape[2:]), expected[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "shape, kwargs, match",
    [
        ((1, 1, 4, 4), dict(size=2, scale_factor=2), "give either size or scale_factor, not both"),
        ((1, 1, 4, 4), dict(), "either size or scale_factor must be given, got neither"),
        (
            (1, 1, 4, 4),
            dict(scale_factor=2, align_corners=True),
            "align_corners can only be set with the interpolating modes",
        ),
        (
            (1, 1, 4, 4),
            dict(scale_factor=2, mode="area", align_corners=False),
            "got align_corners=False with mode='area'",
        ),
        (
            (1, 1, 4),
            dict(scale_factor=2, mode="bilinear"),
            "mode 'bilinear' expects a 4-D input (N, C, H, W), got a 3-D input",
        ),
        (
            (1, 1, 4, 4),
            dict(scale_factor=2, mode="linear"),
            "mode 'linear' expects a 3-D input (N, C, L), got a 4-D input",
        ),
        ((1, 1, 4, 4), dict(scale_factor=2, mode="trilinear"), "mode 'trilinear' expects a 5-D input"),
        ((1, 1, 4, 4, 4), dict(scale_factor=2, mode="bicubic"), "mode 'bicubic' expects a 4-D input"),
        ((1, 4), dict(scale_factor=2), "expected a 3-D, 4-D or 5-D input"),
        ((1, 1, 4, 4), dict(size=(2, 3, 4)), "size must have one entry per spatial dim of the input (4, 4) (2)"),
        ((1, 1, 4, 4), dict(scale_factor=(2, 3, 4)), "scale_factor must have one entry per spatial dim"),
        ((1, 1, 4, 4), dict(size=(2.5, 3)), "size must be an int or a tuple of 2 ints, got size=(2.5, 3)"),
        (
            (1, 1, 4, 4),
            dict(size=4, recompute_scale_factor=True),
            "recompute_scale_factor=True is only meaningful with scale_factor",
        ),
        ((1, 1, 4, 4), dict(scale_factor=0.2), "spatial sizes must be positive, got input (4, 4) and output (0, 0)"),
        ((1, 1, 4, 4), dict(size=(0, 2)), "got input (4, 4) and output (0, 2)"),
        (
            (1, 1, 4, 4),
            dict(size=(-1, 2), mode="area"),
            "input spatial sizes must be positive and output sizes non-negative, got input (4, 4) and output (-1, 2)",
        ),
        ((1, 1, 4, 4), dict(scale_factor=2, mode="linear-ish"), "unknown mode 'linear-ish'"),
        (
            (1, 1, 4),
            dict(scale_factor=0.5, mode="linear", antialias=True),
            "antialias=True needs mode 'bilinear' or 'bicubic'",
        ),
    ],
)
def test_interpolate_bad_input(shape, kwargs, match):
    err = both_raise(
        lambda t: F.interpolate(t, **kwargs),
        lambda t: TF.interpolate(t, **kwargs),
        np.zeros(shape, np.float32),
        match=match,
    )
    assert str(err).startswith("interpolate(): ")


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((1, 2, 5), dict(scale_factor=0.1)),
        ((1, 2, 5, 5), dict(scale_factor=0.1)),
        ((1, 2, 5, 5), dict(scale_factor=0.1, recompute_scale_factor=True)),
        ((1, 2, 5, 5), dict(size=(0, 3))),
        ((1, 2, 5, 4, 3), dict(scale_factor=(0.1, 1, 1))),
    ],
    ids=str,
)
def test_interpolate_area_to_zero_size_is_empty_like_torch(shape, kwargs):
    """'area' is adaptive average pooling, which PyTorch lets return an empty tensor (the other
    modes refuse a zero output size). PyTorch's backward of it raises; convlab's gradient is zero."""
    x = np.random.default_rng(0).standard_normal(shape)
    y = check(lambda t: F.interpolate(t, mode="area", **kwargs), lambda t: TF.interpolate(t, mode="area", **kwargs), x,
              grad=False)[0]
    assert 0 in y.shape
    t = convlab.tensor(x, requires_grad=True)
    F.interpolate(t, mode="area", **kwargs).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.zeros(shape))


def test_interpolate_rejects_integer_input_for_interpolating_modes():
    with pytest.raises(
        TypeError, match=r"interpolate\(\): mode 'bilinear' expects a floating-point input, got dtype int64"
    ):
        F.interpolate(convlab.zeros(1, 1, 2, 2, dtype=convlab.int64), scale_factor=2, mode="bilinear")


# ---------------------------------------------------------------------------------- pixel shuffle
@pytest.mark.parametrize("lead", [(), (2,), (2, 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pixel_shuffle_and_unshuffle_match_torch(lead, dtype):
    rng = np.random.default_rng(len(lead))
    for r in (1, 2, 3):
        c, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = rng.standard_normal(lead + (c * r * r, h, w)).astype(dtype)
        check(lambda t: F.pixel_shuffle(t, r), lambda t: TF.pixel_shuffle(t, r), x)
        z = rng.standard_normal(lead + (c, h * r, w * r)).astype(dtype)
        check(lambda t: F.pixel_unshuffle(t, r), lambda t: TF.pixel_unshuffle(t, r), z)
        np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(convlab.tensor(x), r), r).numpy(), x)


def test_pixel_shuffle_gradcheck():
    gradcheck(lambda t: F.pixel_shuffle(t, 2), np.random.default_rng(6).standard_normal((2, 8, 2, 3)))
    gradcheck(lambda t: F.pixel_unshuffle(t, 2), np.random.default_rng(7).standard_normal((2, 1, 4, 6)))


@pytest.mark.parametrize(
    "fn, torch_fn, shape, factor, match",
    [
        (
            F.pixel_shuffle,
            TF.pixel_shuffle,
            (1, 5, 2, 2),
            2,
            "channel dim (-3) must be divisible by upscale_factor^2 = 4, got 5",
        ),
        (
            F.pixel_shuffle,
            TF.pixel_shuffle,
            (4, 2),
            2,
            "expected an input with at least 3 dims (*, C, H, W), got shape (4, 2)",
        ),
        (F.pixel_shuffle, TF.pixel_shuffle, (1, 4, 2, 2), 0, "upscale_factor must be positive, got 0"),
        (
            F.pixel_unshuffle,
            TF.pixel_unshuffle,
            (1, 1, 5, 4),
            2,
            "height and width must be divisible by downscale_factor = 2, got (H, W) = (5, 4)",
        ),
        (F.pixel_unshuffle, TF.pixel_unshuffle, (1, 1, 4, 4), -1, "downscale_factor must be positive, got -1"),
    ],
)
def test_pixel_shuffle_bad_input(fn, torch_fn, shape, factor, match):
    both_raise(lambda t: fn(t, factor), lambda t: torch_fn(t, factor), np.zeros(shape), match=match)


def test_pixel_shuffle_rejects_a_float_factor():
    with pytest.raises(TypeError, match=r"pixel_shuffle\(\): upscale_factor must be an int, got float 2.0"):
        F.pixel_shuffle(convlab.zeros(1, 4, 2, 2), 2.0)


# ---------------------------------------------------------------------------------- layers
@pytest.mark.parametrize(
    "name, args, kwargs, shape",
    [
        ("Upsample", (), dict(scale_factor=2), (1, 2, 3, 3)),
        ("Upsample", (), dict(scale_factor=(2, 1.5), mode="bilinear", align_corners=True), (1, 2, 3, 4)),
        ("Upsample", ((5, 7),), dict(mode="bicubic"), (2, 1, 3, 4)),
        ("Upsample", (), dict(size=9, mode="linear"), (2, 3, 4)),
        ("Upsample", (), dict(scale_factor=1.5, mode="trilinear", recompute_scale_factor=True), (1, 1, 2, 3, 3)),
        ("Upsample", (), dict(scale_factor=0.5, mode="area"), (1, 2, 6, 4)),
        ("Upsample", (), dict(size=(4, 6), mode="nearest-exact"), (1, 2, 3, 3)),
        ("UpsamplingNearest2d", (), dict(scale_factor=3), (1, 2, 2, 3)),
        ("UpsamplingNearest2d", ((3, 5),), dict(), (1, 2, 2, 3)),
        ("UpsamplingBilinear2d", (), dict(scale_factor=2), (1, 2, 2, 3)),
        ("UpsamplingBilinear2d", (), dict(size=5), (1, 2, 2, 3)),
        ("PixelShuffle", (2,), dict(), (2, 8, 3, 2)),
        ("PixelUnshuffle", (3,), dict(), (2, 1, 6, 3)),
    ],
)
def test_upsampling_layer_repr_and_parity(name, args, kwargs, shape):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    check(ours, theirs, np.random.default_rng(8).standard_normal(shape))


def test_upsampling_layer_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Upsample\(\): unknown mode 'cubic'"):
        nn.Upsample(scale_factor=2, mode="cubic")
    with pytest.raises(
        ValueError, match=r"Upsample\(\): give exactly one of size and scale_factor, got size=None, scale_factor=None"
    ):
        nn.Upsample()
    with pytest.raises(ValueError, match=r"PixelShuffle\(\): upscale_factor must be positive, got 0"):
        nn.PixelShuffle(0)
    err = both_raise(
        nn.Upsample(scale_factor=2, mode="bilinear"),
        torch.nn.Upsample(scale_factor=2, mode="bilinear"),
        np.zeros((1, 2, 3)),
    )
    assert str(err).startswith("Upsample(scale_factor=2.0, mode='bilinear'): mode 'bilinear' expects a 4-D input")
    err = both_raise(nn.PixelShuffle(2), torch.nn.PixelShuffle(2), np.zeros((1, 6, 2, 2)))
    assert str(err).startswith(
        "PixelShuffle(upscale_factor=2): the channel dim (-3) must be divisible by upscale_factor^2 = 4"
    )


# ---------------------------------------------------------------------------------- the guide
def _guide_blocks():
    """The guide's Python examples, each with the F names its ``# requires:`` line lists."""
    blocks = python_examples("docs/padding_and_upsampling.md")
    assert len(blocks) >= 10, "docs/padding_and_upsampling.md lost its examples"
    required = [re.match(r"# requires: (.*)\n", b) for b in blocks]
    return [(b, [] if r is None else [n.strip() for n in r.group(1).split(",")]) for b, r in zip(blocks, required)]


def test_guide_examples_run():
    namespace = {}
    for i, (code, needs) in enumerate(_guide_blocks()):
        if not needs:
            exec(compile(code, f"docs/padding_and_upsampling.md (example {i + 1})", "exec"), namespace)


def test_guide_convolution_examples_run():
    blocks = _guide_blocks()
    missing = sorted({n for _, needs in blocks for n in needs if not hasattr(F, n)})
    if missing:
        pytest.skip(f"convlab.nn.functional has no {', '.join(missing)} yet")
    namespace = {}
    exec(blocks[0][0], namespace)  # the imports
    for i, (code, needs) in enumerate(blocks):
        if needs:
            exec(compile(code, f"docs/padding_and_upsampling.md (example {i + 1})", "exec"), namespace)


# ---------------------------------------------------------------------------------- GPU
@pytest.mark.parametrize("mode", MODES)
def test_interpolate_on_gpu_matches_cpu(mode):
    """CuPy takes the dense-matrix path: same values and gradients as the CPU kernel."""
    pytest.importorskip("cupy")
    if not convlab.backend.cuda_is_available():
        pytest.skip("CuPy is installed but no CUDA device is visible")
    rng = np.random.default_rng(MODES.index(mode) + 100)
    shape, kwargs = _random_case(rng, mode)
    x = rng.standard_normal(shape).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        t = convlab.tensor(x, device=device, requires_grad=True)
        y = F.interpolate(t, **kwargs)
        (y * y).sum().backward()
        results.append((y.detach().cpu().numpy(), t.grad.cpu().numpy()))
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-5)


def test_pixel_shuffle_on_gpu_matches_cpu():
    pytest.importorskip("cupy")
    if not convlab.backend.cuda_is_available():
        pytest.skip("CuPy is installed but no CUDA device is visible")
    x = np.random.default_rng(9).standard_normal((2, 8, 3, 4)).astype(np.float32)
    cpu = F.pixel_shuffle(convlab.tensor(x), 2).numpy()
    gpu = F.pixel_shuffle(convlab.tensor(x, device="cuda"), 2)
    np.testing.assert_array_equal(gpu.cpu().numpy(), cpu)
    np.testing.assert_array_equal(F.pixel_unshuffle(gpu, 2).cpu().numpy(), x)
