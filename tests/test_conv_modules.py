"""Convolution layers (convlab.nn.Conv*, ConvTranspose*, SeparableConv2d) against torch.nn:
reprs, parameter shapes and state_dict keys, default initialisation, forward and gradients with
every padding_mode, ConvTranspose's output_size, the seed shape/parameter-count examples, a
small CNN built from convolutions and other layers, and the layers' error messages."""


import numpy as np
import pytest
import torch
from parity import both_raise
from seed_examples import SEED_EXAMPLES

import convlab
from convlab import nn

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

LAYER_CONFIGS = [
    ("Conv1d", (16, 33, 3), {"stride": 2}),
    ("Conv2d", (3, 16, 3), {}),
    ("Conv2d", (1, 32, 3), {"padding": 1}),
    ("Conv2d", (4, 8, (3, 5)), {"stride": (2, 1), "padding": (4, 2), "dilation": (3, 1), "groups": 2, "bias": False}),
    ("Conv2d", (3, 3, 4), {"padding": "same", "dilation": 2, "padding_mode": "reflect"}),
    ("Conv2d", (3, 6, 2), {"padding": "valid"}),
    ("Conv1d", (2, 2, 3), {"padding": 2, "padding_mode": "circular"}),
    ("Conv3d", (4, 8, 3), {"stride": 2, "padding": 1, "padding_mode": "replicate"}),
    ("ConvTranspose1d", (4, 2, 3), {"stride": 3, "output_padding": 2}),
    ("ConvTranspose2d", (3, 6, 3), {"stride": 2, "output_padding": 1, "groups": 3, "bias": False}),
    ("ConvTranspose2d", (4, 4, (2, 3)), {"padding": (1, 0), "dilation": 2, "output_padding": (1, 0)}),
    ("ConvTranspose3d", (2, 4, 2), {"stride": 2}),
]


def _pair(name, args, kwargs):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs, dtype=convlab.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("name, args, kwargs", LAYER_CONFIGS)
def test_repr_parameters_and_state_dict_keys(name, args, kwargs):
    ours, theirs = _pair(name, args, kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape), k


def _input_for(name, ours, rng, batched=True):
    n = int(name[-2])
    size = tuple(int(v) for v in rng.integers(5, 9, n))
    shape = (ours.in_channels,) + size
    return rng.standard_normal(((2,) + shape) if batched else shape)


@pytest.mark.parametrize("name, args, kwargs", LAYER_CONFIGS)
@pytest.mark.parametrize("batched", [True, False])
def test_forward_and_gradients_match_torch(name, args, kwargs, batched):
    ours, theirs = _pair(name, args, kwargs)
    rng = np.random.default_rng(len(name) + len(kwargs))
    x = _input_for(name, ours, rng, batched)
    xc, xt = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = ours(xc), theirs(xt)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(tuple(yt.shape))
    yc.backward(convlab.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_padding_modes_random(mode, n):
    rng = np.random.default_rng(n * 10 + len(mode))
    for _ in range(2):
        kernel = tuple(int(k) for k in rng.integers(1, 4, n))
        padding = "same" if rng.random() < 0.3 else tuple(int(p) for p in rng.integers(0, 3, n))
        stride = 1 if padding == "same" else tuple(int(s) for s in rng.integers(1, 3, n))
        kwargs = {
            "stride": stride,
            "padding": padding,
            "padding_mode": mode,
            "dilation": tuple(int(d) for d in rng.integers(1, 3, n)),
        }
        ours, theirs = _pair(f"Conv{n}d", (2, 4, kernel), kwargs)
        x = rng.standard_normal((2, 2) + tuple(int(v) for v in rng.integers(6, 9, n)))
        xc, xt = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yc, yt = ours(xc), theirs(xt)
        np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        yc.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "name, args",
    [("Conv2d", (16, 32, 3)), ("Conv1d", (4, 6, 5)), ("ConvTranspose2d", (32, 16, 3)), ("Conv3d", (2, 40, 3))],
)
def test_default_initialisation(name, args):
    layer = getattr(nn, name)(*args)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    bound = 1 / np.sqrt(fan_in)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): std bound/sqrt(3), like torch's layer
    reference = getattr(torch.nn, name)(*args).weight.detach().numpy()
    assert abs(w.std() - reference.std()) < 0.1 * reference.std()
    assert abs(w.std() - bound / np.sqrt(3)) < 0.1 * bound / np.sqrt(3)
    assert abs(w.mean()) < 0.1 * bound


def test_conv_transpose_output_size():
    ours, theirs = _pair("ConvTranspose2d", (3, 2, 3), {"stride": 2})
    x = np.random.default_rng(0).standard_normal((1, 3, 4, 4))
    for size in [(9, 9), (10, 9), (1, 2, 10, 10)]:
        np.testing.assert_allclose(
            ours(convlab.tensor(x), output_size=size).detach().numpy(),
            theirs(torch.tensor(x), output_size=size).detach().numpy(),
            rtol=1e-12,
            atol=1e-12,
        )
    with pytest.raises(
        ValueError, match=r"requested an output size of \(11, 11\), but valid sizes range from \(9, 9\) to \(10, 10\)"
    ):
        ours(convlab.tensor(x), output_size=(11, 11))
    with pytest.raises(ValueError, match=r"output_size must have 2 or 4 elements, got \(9, 9, 9\)"):
        ours(convlab.tensor(x), output_size=(9, 9, 9))


def test_seed_shapes_and_parameter_counts():
    data = SEED_EXAMPLES
    (pointwise,) = [e for e in data["shapes"] if e["name"] == "pointwise_conv_shape"]
    layer = nn.Conv2d(128, 192, 1, 1)  # the entry's layer, Conv2d(128, 192, 1, 1)
    assert pointwise["layer"] == "Conv2d(128, 192, 1, 1)"
    assert layer(convlab.zeros(*pointwise["input_shape"])).shape == tuple(pointwise["output_shape"])
    counts = {e["name"]: e["trainable"] for e in data["parameter_counts"]}
    assert sum(p.numel() for p in nn.Conv2d(16, 32, 3).parameters()) == counts["conv2d_16_32_3"] == 4640
    separable = nn.Sequential(nn.Conv2d(16, 16, 3, groups=16, bias=False), nn.Conv2d(16, 32, 1))
    assert sum(p.numel() for p in separable.parameters()) == counts["depthwise_separable_16_32"] == 688
    assert sum(p.numel() for p in nn.SeparableConv2d(16, 32, 3).parameters()) == 688


def test_separable_conv_is_depthwise_then_pointwise():
    torch.manual_seed(0)
    sep = nn.SeparableConv2d(4, 6, 3, stride=2, padding=1, depth_multiplier=2, dtype=convlab.float64)
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(4, 8, 3, 2, 1, groups=4, bias=False), torch.nn.Conv2d(8, 6, 1)
    ).double()
    reference.load_state_dict(
        {
            k.replace("depthwise", "0").replace("pointwise", "1"): torch.tensor(v.detach().numpy())
            for k, v in sep.state_dict().items()
        }
    )
    x = np.random.default_rng(1).standard_normal((2, 4, 9, 8))
    xc, xt = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = sep(xc), reference(xt)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    yc.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert list(sep.state_dict()) == ["depthwise.weight", "pointwise.weight", "pointwise.bias"]


def test_small_cnn_with_other_layers_matches_torch():
    """Conv outputs (channels-last memory behind NCHW shapes) flow through BatchNorm, ReLU,
    MaxPool, Flatten and Linear exactly as torch's."""

    def build(lib):
        return lib.nn.Sequential(
            lib.nn.Conv2d(1, 4, 3, padding=1),
            lib.nn.ReLU(),
            lib.nn.BatchNorm2d(4),
            lib.nn.Conv2d(4, 4, 3, padding=1),
            lib.nn.ReLU(),
            lib.nn.MaxPool2d(2),
            lib.nn.Conv2d(4, 6, 3, padding=1, groups=2),
            lib.nn.ReLU(),
            lib.nn.MaxPool2d(2),
            lib.nn.Flatten(),
            lib.nn.Linear(6 * 2 * 2, 3),
        )

    torch.manual_seed(0)
    theirs = build(torch).double()
    ours = build(convlab).to(convlab.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((3, 1, 8, 8))
    xc, xt = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yc, yt = ours(xc), theirs(xt)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    yc.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=k)


# ---------------------------------------------------------------------------------- errors
def _message(fn, *args, **kwargs):
    with pytest.raises((ValueError, TypeError)) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_layer_error_names_layer_and_shapes():
    msg = _message(nn.Conv2d(3, 16, 3), convlab.zeros(8, 1, 28, 28))
    assert (
        msg
        == "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)): expected input with 3 channels (N, 3, H, W), got shape (8, 1, 28, 28)"
    )
    msg = _message(nn.Conv2d(3, 16, 3), convlab.zeros(3, 28))
    assert msg.startswith(
        "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)): expected a 3-D (C, H, W) or 4-D (N, C, H, W) input"
    )
    msg = _message(nn.Conv2d(3, 16, 5, padding=1), convlab.zeros(1, 3, 2, 2))
    assert msg.startswith(
        "Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1), padding=(1, 1)): kernel_size=(5, 5) with dilation=(1, 1)"
    )
    assert "input of spatial size (2, 2) padded by (1, 1)" in msg
    msg = _message(nn.Conv1d(2, 2, 3, padding=3, padding_mode="reflect"), convlab.zeros(1, 2, 3))
    assert msg.startswith(
        "Conv1d(2, 2, kernel_size=(3,), stride=(1,), padding=(3,), padding_mode=reflect): reflect padding"
    )
    msg = _message(nn.ConvTranspose2d(4, 2, 3), convlab.zeros(1, 3, 5, 5))
    assert msg.startswith("ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(1, 1)): expected input with 4 channels")
    msg = _message(nn.Fold((4, 4), 2), convlab.zeros(1, 12, 10))
    assert msg.startswith(
        "Fold(output_size=(4, 4), kernel_size=2, dilation=1, padding=0, stride=1): output_size=(4, 4)"
    )


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_kernel_too_large_error_describes_the_input_and_padding(mode):
    # the padding is applied by F.pad first; the error still describes the input as given
    err = both_raise(
        nn.Conv2d(3, 16, 5, padding=1, padding_mode=mode),
        torch.nn.Conv2d(3, 16, 5, padding=1, padding_mode=mode),
        np.zeros((1, 3, 2, 2), np.float32),
    )
    assert str(err) == (
        f"Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1), padding=(1, 1), padding_mode={mode}): kernel_size=(5, 5) "
        "with dilation=(1, 1) does not fit in the input of spatial size (2, 2) padded by (1, 1) (padded size (4, 4)): "
        "the output size would be (0, 0), expected every size >= 1"
    )


def test_separable_conv_errors_name_the_layer_and_the_step():
    ours = nn.SeparableConv2d(3, 4, 3)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, groups=3, bias=False), torch.nn.Conv2d(3, 4, 1))
    depthwise = "SeparableConv2d(): depthwise step: " + repr(ours.depthwise)
    assert depthwise.endswith("Conv2d(3, 3, kernel_size=(3, 3), stride=(1, 1), groups=3, bias=False)")
    err = both_raise(ours, theirs, np.zeros((1, 2, 8, 8), np.float32))
    assert str(err) == (
        f"{depthwise}: expected input with 3 channels (N, 3, H, W), got shape (1, 2, 8, 8)"
        " (weight (3, 1, 3, 3), groups=3)"
    )
    err = both_raise(ours, theirs, np.zeros((1, 3, 2, 2), np.float32))
    assert str(err).startswith(f"{depthwise}: kernel_size=(3, 3) with dilation=(1, 1) does not fit in the input")
    ours.pointwise.double()
    theirs[1].double()
    err = both_raise(ours, theirs, np.zeros((1, 3, 4, 4), np.float32))
    assert str(err).startswith(
        "SeparableConv2d(): pointwise step: Conv2d(3, 4, kernel_size=(1, 1), stride=(1, 1)): input dtype float32"
    )


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda: nn.Conv2d(3, 4, 3, groups=2),
            "Conv2d(): in_channels must be divisible by groups, got in_channels=3, groups=2",
        ),
        (lambda: nn.Conv2d(4, 3, 3, groups=2), "Conv2d(): out_channels must be divisible by groups"),
        (lambda: nn.Conv2d(4, 4, 3, groups=0), "Conv2d(): groups must be a positive integer, got groups=0"),
        (lambda: nn.Conv2d(3, 4, 3, padding="full"), "Conv2d(): invalid padding string 'full'"),
        (
            lambda: nn.Conv2d(3, 4, 3, padding="same", stride=2),
            "Conv2d(): padding='same' is not supported for strided convolutions",
        ),
        (lambda: nn.Conv2d(3, 4, 3, padding=-1), "Conv2d(): padding must be non-negative, got padding=(-1, -1)"),
        (
            lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"),
            "Conv2d(): padding_mode must be one of ('zeros', 'reflect', 'replicate', 'circular'), got padding_mode='mirror'",
        ),
        (lambda: nn.Conv2d(3, 4, 0), "Conv2d(): kernel_size must be positive, got kernel_size=(0, 0)"),
        (lambda: nn.Conv2d(0, 4, 3), "Conv2d(): in_channels must be a positive integer, got in_channels=0"),
        (lambda: nn.Conv3d(3, 4, (3, 3)), "Conv3d(): kernel_size must be an int or a tuple of 3 ints, got (3, 3)"),
        (
            lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"),
            'ConvTranspose2d(): only "zeros" padding mode is supported',
        ),
        (
            lambda: nn.SeparableConv2d(3, 4, 3, depth_multiplier=0),
            "SeparableConv2d(): depth_multiplier must be a positive integer",
        ),
        (
            lambda: nn.SeparableConv2d(3, 4, 0),
            "SeparableConv2d(): depthwise step: Conv2d(): kernel_size must be positive, got kernel_size=(0, 0)",
        ),
        (
            lambda: nn.SeparableConv2d(3, 4, 3, padding_mode="mirror"),
            "SeparableConv2d(): depthwise step: Conv2d(): padding_mode must be one of",
        ),
        (
            lambda: nn.SeparableConv2d(3, 0, 3),
            "SeparableConv2d(): pointwise step: Conv2d(): out_channels must be a positive integer, got out_channels=0",
        ),
    ],
)
def test_bad_settings_raise_at_construction(build, match):
    assert match in _message(build)


def test_torch_also_refuses_bad_settings():
    for args, kwargs in [
        ((3, 4, 3), {"groups": 2}),
        ((3, 4, 3), {"padding": "same", "stride": 2}),
        ((3, 4, 3), {"padding_mode": "mirror"}),
    ]:
        with pytest.raises(ValueError):
            torch.nn.Conv2d(*args, **kwargs)
        with pytest.raises(ValueError):
            nn.Conv2d(*args, **kwargs)
