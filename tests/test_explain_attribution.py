"""convlab.explain attribution against Captum 0.9 (the oracle), on the same float64 weights.

Two model pairs: a small CNN with BatchNorm (eval, random running statistics) and MaxPool, and
resnet18 at 64x64 (torchvision's structure in plain torch, tests/torch_reference.py), weights
copied from PyTorch into convlab. Every method's attributions must equal Captum's to 1e-6
(relative to the attributions' scale when it exceeds 1). Grad-CAM++, which Captum lacks, is
checked against the paper's formula written directly in torch. Then: completeness of integrated
gradients, error messages, and that no call (even one that raised) leaves a trace on the model.
"""

import warnings

import numpy as np
import pytest
import torch
from captum import attr as ca
from torch_reference import TorchResNet18

import convlab
from convlab import explain, models, nn

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# ---------------------------------------------------------------- model pairs
def _torch_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, padding=1),
        torch.nn.BatchNorm2d(6),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 4 * 4, 5),
    )


def _convlab_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 5),
    )


def _randomise_batchnorm(module, seed):
    """Non-trivial BatchNorm affine parameters and running statistics (torch's default init elsewhere)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return module


def _pair(torch_net, convlab_net, seed):
    torch.manual_seed(seed)
    t = _randomise_batchnorm(torch_net(), seed).double().eval()
    c = convlab_net().double()
    c.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, c.eval()


@pytest.fixture(scope="module")
def cnn():
    t, c = _pair(_torch_cnn, _convlab_cnn, 0)
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    return t, c, x


@pytest.fixture(scope="module")
def resnet():
    t, c = _pair(lambda: TorchResNet18(num_classes=10), lambda: models.resnet18(num_classes=10), 1)
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64))
    return t, c, x


def _close(got, expected, tol=1e-6):
    got = got.numpy() if isinstance(got, convlab.Tensor) else np.asarray(got)
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape} vs Captum's {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)
    assert np.abs(expected).max() > 0, "a comparison of all-zero attributions proves nothing"


def _both(case, fixture):
    """Run ``case(lib, model, x)`` with convlab and with Captum on the pair; compare."""
    t, c, x = fixture
    got = case(explain, c, convlab.tensor(x))
    expected = case(ca, t, torch.from_numpy(x.copy()))
    if isinstance(got, tuple):
        for g, e in zip(got, expected):
            _close(g, e)
    else:
        _close(got, expected)


IG_METHODS = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"]

# The cases are written once, with the library as an argument: the same call for both.
CNN_CASES = {
    "saliency": lambda lib, m, x: lib.Saliency(m).attribute(x, target=1),
    "saliency_signed_list_target": lambda lib, m, x: lib.Saliency(m).attribute(x, target=[4, 0], abs=False),
    "input_x_gradient_tensor_target": lambda lib, m, x: lib.InputXGradient(m).attribute(
        x, target=(convlab if lib is explain else torch).tensor([2, 3])
    ),
    "guided_backprop": lambda lib, m, x: lib.GuidedBackprop(m).attribute(x, target=2),
    "deconvolution": lambda lib, m, x: lib.Deconvolution(m).attribute(x, target=[1, 3]),
    "occlusion": lambda lib, m, x: lib.Occlusion(m).attribute(x, (3, 3, 3), strides=(3, 2, 2), target=4),
    "occlusion_batched_baseline": lambda lib, m, x: lib.Occlusion(m).attribute(
        x, (1, 3, 3), strides=(1, 3, 3), baselines=0.5, target=[0, 1], perturbations_per_eval=4
    ),
    "layer_activation": lambda lib, m, x: lib.LayerActivation(m, m[4]).attribute(x),
    "layer_activation_input": lambda lib, m, x: lib.LayerActivation(m, m[4]).attribute(x, attribute_to_layer_input=True),
    "grad_cam": lambda lib, m, x: lib.LayerGradCam(m, m[4]).attribute(x, target=[0, 2]),
    "grad_cam_relu": lambda lib, m, x: lib.LayerGradCam(m, m[1]).attribute(x, target=3, relu_attributions=True),
    "grad_cam_channels": lambda lib, m, x: lib.LayerGradCam(m, m[4]).attribute(x, target=3, attr_dim_summation=False),
    "grad_cam_layer_input": lambda lib, m, x: lib.LayerGradCam(m, m[4]).attribute(x, target=2, attribute_to_layer_input=True),
    "guided_grad_cam": lambda lib, m, x: lib.GuidedGradCam(m, m[4]).attribute(x, target=1),
    "guided_grad_cam_bilinear": lambda lib, m, x: lib.GuidedGradCam(m, m[4]).attribute(x, 1, None, "bilinear"),
}
for _method in IG_METHODS:
    CNN_CASES[f"ig_{_method}"] = lambda lib, m, x, method=_method: lib.IntegratedGradients(m).attribute(
        x, target=2, method=method, n_steps=20, return_convergence_delta=True
    )
    CNN_CASES[f"ig_{_method}_internal_batch"] = lambda lib, m, x, method=_method: lib.IntegratedGradients(m).attribute(
        x, baselines=0.25, target=[1, 4], method=method, n_steps=9, internal_batch_size=5, return_convergence_delta=True
    )


@pytest.mark.parametrize("case", sorted(CNN_CASES))
def test_small_cnn_equals_captum(cnn, case):
    _both(CNN_CASES[case], cnn)


RESNET_CASES = {
    "saliency": lambda lib, m, x: lib.Saliency(m).attribute(x, target=[3, 7]),
    "input_x_gradient": lambda lib, m, x: lib.InputXGradient(m).attribute(x, target=5),
    "ig_gausslegendre": lambda lib, m, x: lib.IntegratedGradients(m).attribute(x, target=[3, 7], n_steps=4),
    "ig_trapezoid_internal_batch": lambda lib, m, x: lib.IntegratedGradients(m).attribute(
        x, target=1, n_steps=3, method="riemann_trapezoid", internal_batch_size=4
    ),
    "guided_backprop": lambda lib, m, x: lib.GuidedBackprop(m).attribute(x, target=2),
    "deconvolution": lambda lib, m, x: lib.Deconvolution(m).attribute(x, target=2),
    "occlusion": lambda lib, m, x: lib.Occlusion(m).attribute(
        x, (3, 24, 24), strides=(3, 20, 20), target=[0, 9], perturbations_per_eval=5
    ),
    "layer_activation": lambda lib, m, x: lib.LayerActivation(m, m.layer3[1].conv2).attribute(x),
    "grad_cam_layer4": lambda lib, m, x: lib.LayerGradCam(m, m.layer4).attribute(x, target=[3, 7]),
    "grad_cam_conv_relu": lambda lib, m, x: lib.LayerGradCam(m, m.layer3[1].conv2).attribute(
        x, target=4, relu_attributions=True
    ),
    "guided_grad_cam": lambda lib, m, x: lib.GuidedGradCam(m, m.layer4).attribute(x, target=[3, 5]),
}


@pytest.mark.parametrize("case", sorted(RESNET_CASES))
def test_resnet18_equals_captum(resnet, case):
    _both(RESNET_CASES[case], resnet)


def test_layer_by_dotted_name_equals_layer_module(resnet):
    _, c, x = resnet
    x = convlab.tensor(x)
    by_name = explain.LayerGradCam(c, "layer4.1.conv2").attribute(x, target=3)
    by_module = explain.LayerGradCam(c, c.layer4[1].conv2).attribute(x, target=3)
    np.testing.assert_array_equal(by_name.numpy(), by_module.numpy())
    assert by_name.shape == (2, 1, 2, 2)


def test_tuple_target_on_a_3d_output(cnn):
    t, c, x = cnn
    got = explain.Saliency(lambda v: c(v).reshape(2, 5, 1)).attribute(convlab.tensor(x), target=(3, 0))
    expected = ca.Saliency(lambda v: t(v).reshape(2, 5, 1)).attribute(torch.from_numpy(x.copy()), target=(3, 0))
    _close(got, expected)


def test_interpolate_equals_captum():
    cam = np.random.default_rng(2).standard_normal((2, 1, 4, 4))
    for mode, size in [("nearest", (8, 8)), ("bilinear", (9, 7)), ("area", 2)]:
        got = explain.LayerAttribution.interpolate(convlab.tensor(cam), size, mode)
        _close(got, ca.LayerAttribution.interpolate(torch.from_numpy(cam), size, mode))


# ---------------------------------------------------------------- NoiseTunnel: same noise in both
@pytest.mark.parametrize("nt_type", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_noise_tunnel_equals_captum(cnn, monkeypatch, nt_type):
    """convlab draws the noise; Captum is handed the same draws (its own come from torch's generator)."""
    t, c, x = cnn
    from captum.attr._core.noise_tunnel import NoiseTunnel as CaptumNoiseTunnel

    from convlab.explain import attribution

    drawn = []
    original = attribution._gaussian_noise

    def recorded(shape, stdev, like):
        noise = original(shape, stdev, like)
        drawn.append(noise)
        return noise

    monkeypatch.setattr(attribution, "_gaussian_noise", recorded)
    replay = iter(drawn)
    monkeypatch.setattr(
        CaptumNoiseTunnel,
        "_add_noise_to_input",
        staticmethod(lambda inp, stdev, k: inp.repeat_interleave(k, dim=0) + torch.from_numpy(next(replay))),
    )
    baselines = np.random.default_rng(3).standard_normal((2, 3, 8, 8)) * 0.1
    for lib, model, xx, b in [
        (explain, c, convlab.tensor(x), convlab.tensor(baselines)),
        (ca, t, torch.from_numpy(x.copy()), torch.from_numpy(baselines)),
    ]:
        nt = lib.NoiseTunnel(lib.Saliency(model))
        sal = nt.attribute(xx, nt_type=nt_type, nt_samples=5, nt_samples_batch_size=2, stdevs=0.3, target=[1, 2])
        ig = lib.NoiseTunnel(lib.IntegratedGradients(model)).attribute(
            xx, nt_type=nt_type, nt_samples=3, stdevs=0.2, target=3, baselines=b, n_steps=5,
            return_convergence_delta=True,
        )  # fmt: skip
        if lib is explain:
            ours = (sal, *ig)
        else:
            theirs = (sal, *ig)
    assert len(drawn) == 4
    for got, expected in zip(ours, theirs):
        _close(got, expected)


def test_noise_tunnel_draws_baselines_from_the_distribution(cnn):
    """Baselines drawn from a distribution whose samples are all the same baseline give the
    result of that baseline (same seed, same noise)."""
    _, c, x = cnn
    x = convlab.tensor(x)
    b = np.random.default_rng(5).standard_normal((1, 3, 8, 8))
    results = []
    for baselines, draw in [(np.repeat(b, 3, 0), True), (b, False)]:
        convlab.manual_seed(7)
        results.append(
            explain.NoiseTunnel(explain.IntegratedGradients(c)).attribute(
                x, nt_samples=3, stdevs=0.1, target=1, baselines=convlab.tensor(baselines), n_steps=4,
                draw_baseline_from_distrib=draw,
            ).numpy()
        )  # fmt: skip
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- Grad-CAM++
def _torch_grad_cam_plus_plus(model, layer, x, target):
    """The Grad-CAM++ formula (Chattopadhay et al., 2018) written directly in torch."""
    saved = {}
    handle = layer.register_forward_hook(lambda m, i, o: saved.update(a=o))
    try:
        out = model(x)
    finally:
        handle.remove()
    a = saved["a"]
    (g,) = torch.autograd.grad(out[torch.arange(len(x)), target].sum(), a)
    g2, g3 = g**2, g**3
    denom = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g3
    alpha = torch.where(denom != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(g2))
    weights = (alpha * torch.relu(g)).sum(dim=(2, 3), keepdim=True)
    return torch.relu((weights * a).sum(dim=1, keepdim=True)).detach()


@pytest.mark.parametrize("which", ["cnn", "resnet"])
def test_grad_cam_plus_plus_equals_the_formula(request, which):
    t, c, x = request.getfixturevalue(which)
    layer_t, layer_c = (t[4], "4") if which == "cnn" else (t.layer4, "layer4")
    target = [1, 3]
    got = explain.LayerGradCamPlusPlus(c, layer_c).attribute(convlab.tensor(x), target=target, relu_attributions=True)
    _close(got, _torch_grad_cam_plus_plus(t, layer_t, torch.from_numpy(x.copy()), torch.tensor(target)))
    plain = explain.LayerGradCam(c, layer_c).attribute(convlab.tensor(x), target=target, relu_attributions=True)
    assert not np.allclose(got.numpy(), plain.numpy()), "Grad-CAM++ must differ from Grad-CAM"


# ---------------------------------------------------------------- completeness
def _outputs(model, x, target):
    with convlab.no_grad():
        return model(x).numpy()[np.arange(len(target)), target]


def test_integrated_gradients_completeness():
    """On a smooth network, 50 Gauss-Legendre steps make the attributions add up to
    f(x) - f(baseline) to machine precision, and the delta reported is exactly that error."""
    convlab.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.SiLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(128, 5),
    ).double().eval()  # fmt: skip
    x = convlab.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)))
    baseline = np.full((1, 3, 8, 8), 0.1)
    target = [0, 3]
    attr, delta = explain.IntegratedGradients(model).attribute(
        x, baselines=convlab.tensor(baseline), target=target, n_steps=50, return_convergence_delta=True
    )
    gap = _outputs(model, x, target) - _outputs(model, convlab.tensor(np.repeat(baseline, 2, 0)), target)
    sums = attr.numpy().reshape(2, -1).sum(1)
    np.testing.assert_allclose(delta.numpy(), sums - gap, atol=1e-15)
    assert np.all(np.abs(delta.numpy()) < 0.01 * np.abs(gap)), (delta, gap)
    np.testing.assert_allclose(sums, gap, rtol=1e-9)


def test_integrated_gradients_delta_shrinks_on_a_relu_network(cnn):
    """ReLU and MaxPool make the path integrand piecewise constant: the quadrature converges
    slowly (a few percent at 50 steps on this random network), but it does converge."""
    _, c, x = cnn
    x = convlab.tensor(x)
    target = [0, 3]
    gap = np.abs(_outputs(c, x, target) - _outputs(c, convlab.zeros(2, 3, 8, 8, dtype=convlab.float64), target))
    errors = []
    for n_steps in (50, 1000):
        _, delta = explain.IntegratedGradients(c).attribute(x, target=target, n_steps=n_steps, return_convergence_delta=True)
        errors.append(np.abs(delta.numpy()) / gap)
    assert np.all(errors[0] < 0.05) and np.all(errors[1] < 0.01) and np.all(errors[1] < errors[0]), errors


# ---------------------------------------------------------------- errors
def test_errors_name_the_method_and_argument(cnn, resnet):
    _, c, x = cnn
    x = convlab.tensor(x)
    with pytest.raises(ValueError, match=r"no layer named 'conv9'; available layers: '0', '1', '2'"):
        explain.LayerGradCam(c, "conv9")
    with pytest.raises(ValueError, match=r"LayerGradCam.attribute\(\): layer '7' outputs shape \(2, 5\).*no spatial"):
        explain.LayerGradCam(c, "7").attribute(x, target=0)
    with pytest.raises(ValueError, match=r"Saliency.attribute\(\): .*target must pick one value per sample"):
        explain.Saliency(c).attribute(x)
    with pytest.raises(ValueError, match=r"target index 5 is out of range"):
        explain.Saliency(c).attribute(x, target=5)
    with pytest.raises(ValueError, match=r"target 7 is out of range for an output with 5 classes"):
        explain.GuidedBackprop(c).attribute(x, target=[0, 7])
    with pytest.raises(ValueError, match=r"target has 3 entries for 2 samples"):
        explain.InputXGradient(c).attribute(x, target=[0, 1, 2])
    with pytest.raises(TypeError, match=r"inputs must be a convlab Tensor, got ndarray"):
        explain.Saliency(c).attribute(x.numpy(), target=0)
    with pytest.raises(ValueError, match=r"method must be one of .*got 'simpson'"):
        explain.IntegratedGradients(c).attribute(x, target=0, method="simpson")
    with pytest.raises(ValueError, match=r"n_steps \(for a Riemann sum\) must be an int >= 2"):
        explain.IntegratedGradients(c).attribute(x, target=0, n_steps=1, method="riemann_left")
    with pytest.raises(ValueError, match=r"baselines\[0\] has shape \(3, 3, 8, 8\)"):
        explain.IntegratedGradients(c).attribute(x, baselines=convlab.zeros(3, 3, 8, 8, dtype=convlab.float64), target=0)
    with pytest.raises(ValueError, match=r"sliding window \(3, 9, 9\) is larger"):
        explain.Occlusion(c).attribute(x, (3, 9, 9), target=0)
    with pytest.raises(ValueError, match=r"stride \(4, 4, 4\) exceeds the sliding window \(1, 3, 3\)"):
        explain.Occlusion(c).attribute(x, (1, 3, 3), strides=4, target=0)
    with pytest.raises(TypeError, match=r"GuidedBackprop: model must be an nn.Module"):
        explain.GuidedBackprop(lambda v: c(v))
    with pytest.raises(ValueError, match=r"nt_type must be one of"):
        explain.NoiseTunnel(explain.Saliency(c)).attribute(x, nt_type="smooth", target=0)
    with pytest.raises(ValueError, match=r"layer Linear is not a submodule of the model"):
        explain.LayerGradCam(c, nn.Linear(2, 2))
    _, r, _ = resnet
    with pytest.raises(ValueError, match=r"'layer4.1.conv2'"):
        explain.LayerActivation(r, "layer4.1.conv3")


# ---------------------------------------------------------------- no trace
def _state(model):
    return {
        "hooks": [
            (name, tuple(m._forward_pre_hooks), tuple(m._forward_hooks), tuple(m._backward_hooks), tuple(m._backward_pre_hooks))
            for name, m in model.named_modules()
        ],
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "params": [p.detach().numpy().copy() for p in model.parameters()],
        "grads": [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()],
        "buffers": [b.detach().numpy().copy() for b in model.buffers()],
    }


def _assert_same_state(before, after):
    assert before["hooks"] == after["hooks"]
    assert before["training"] == after["training"]
    assert before["requires_grad"] == after["requires_grad"]
    for key in ("params", "buffers", "grads"):
        for b, a in zip(before[key], after[key]):
            assert (b is None) == (a is None)
            if b is not None:
                np.testing.assert_array_equal(a, b, err_msg=key)


NO_TRACE_CALLS = {
    "saliency": lambda m, x: explain.Saliency(m).attribute(x, target=1),
    "input_x_gradient": lambda m, x: explain.InputXGradient(m).attribute(x, target=1),
    "integrated_gradients": lambda m, x: explain.IntegratedGradients(m).attribute(
        x, target=1, n_steps=4, internal_batch_size=4, return_convergence_delta=True
    ),
    "noise_tunnel": lambda m, x: explain.NoiseTunnel(explain.Saliency(m)).attribute(x, nt_samples=2, target=1),
    "guided_backprop": lambda m, x: explain.GuidedBackprop(m).attribute(x, target=1),
    "deconvolution": lambda m, x: explain.Deconvolution(m).attribute(x, target=1),
    "occlusion": lambda m, x: explain.Occlusion(m).attribute(x, (3, 4, 4), strides=(3, 4, 4), target=1),
    "layer_activation": lambda m, x: explain.LayerActivation(m, ["1", "4"]).attribute(x),
    "grad_cam": lambda m, x: explain.LayerGradCam(m, "4").attribute(x, target=1),
    "grad_cam_plus_plus": lambda m, x: explain.LayerGradCamPlusPlus(m, "4").attribute(x, target=1),
    "guided_grad_cam": lambda m, x: explain.GuidedGradCam(m, "4").attribute(x, target=1),
}


@pytest.mark.parametrize("call", sorted(NO_TRACE_CALLS))
def test_no_trace_even_when_raising(call):
    """The model is in training mode (BatchNorm would update its statistics), has a frozen
    parameter, stale gradients and a user hook; an explain call, and one that a hook makes raise
    half-way through the forward pass, leave all of it as it was."""
    convlab.manual_seed(0)
    model = _convlab_cnn().double().train()
    model[0].bias.requires_grad_(False)
    model[4].weight.grad = convlab.ones(*model[4].weight.shape, dtype=convlab.float64)
    armed = {"on": False}

    def bomb(module, args, output):
        if armed["on"]:
            raise RuntimeError("boom")

    model[5].register_forward_hook(bomb)
    x = convlab.tensor(np.random.default_rng(4).standard_normal((2, 3, 8, 8)))
    x_before = x.numpy().copy()
    before = _state(model)
    NO_TRACE_CALLS[call](model, x)
    _assert_same_state(before, _state(model))
    armed["on"] = True
    with pytest.raises(RuntimeError, match="boom"):
        NO_TRACE_CALLS[call](model, x)
    _assert_same_state(before, _state(model))
    np.testing.assert_array_equal(x.numpy(), x_before)
    assert not x.requires_grad and x.grad is None


def test_no_trace_after_a_bad_target_and_a_non_spatial_layer(cnn):
    _, c, x = cnn
    x = convlab.tensor(x)
    before = _state(c)
    with pytest.raises(ValueError):
        explain.GuidedBackprop(c).attribute(x, target=[0, 9])
    with pytest.raises(ValueError):
        explain.LayerGradCam(c, "7").attribute(x, target=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explain.IntegratedGradients(c).attribute(x, target=0, n_steps=3, internal_batch_size=1)
    _assert_same_state(before, _state(c))
