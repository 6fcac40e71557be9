"""Quantisation vs PyTorch: fake-quant forward and gradient, observers' qparams, the int8 conv and
linear vs fbgemm's quantised ops, folding, and post-training quantisation end to end."""

import numpy as np
import pytest
import torch
from torch.ao.quantization import observer as tobs

import convlab
from convlab import nn
from convlab import quantization as Q
from convlab.quantization import quantized as qm


# ------------------------------------------------------------------ fake quantisation
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fake_quantize_per_tensor_matches_torch(rng, dtype):
    for _ in range(30):
        shape = tuple(rng.integers(1, 6, rng.integers(1, 5)))
        x = (rng.standard_normal(shape) * rng.uniform(0.5, 5)).astype(dtype)
        scale = float(rng.uniform(0.005, 0.5))
        quant_min, quant_max = [(0, 255), (-128, 127), (0, 127), (-8, 7)][rng.integers(4)]
        zero_point = int(rng.integers(quant_min, quant_max + 1))
        x.flat[: min(x.size, 4)] = (np.arange(min(x.size, 4)) + 0.5) * np.float32(scale)  # ties: round half to even
        a, t = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y = convlab.fake_quantize_per_tensor_affine(a, scale, zero_point, quant_min, quant_max)
        ty = torch.fake_quantize_per_tensor_affine(t, scale, zero_point, quant_min, quant_max)
        g = rng.standard_normal(shape).astype(dtype)
        y.backward(convlab.tensor(g))
        ty.backward(torch.tensor(g))
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fake_quantize_per_channel_matches_torch(rng, dtype):
    for _ in range(30):
        shape = tuple(rng.integers(1, 6, rng.integers(1, 5)))
        axis = int(rng.integers(len(shape)))
        channels = shape[axis]
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        scale = rng.uniform(0.01, 0.5, channels).astype(np.float32)
        zero_point = rng.integers(-3, 4, channels).astype(np.int32)
        a, t = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y = convlab.fake_quantize_per_channel_affine(a, convlab.tensor(scale), convlab.tensor(zero_point), axis, -8, 7)
        ty = torch.fake_quantize_per_channel_affine(t, torch.tensor(scale), torch.tensor(zero_point), axis, -8, 7)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())


def test_fake_quantize_bad_input():
    x = convlab.randn(2, 3)
    with pytest.raises(ValueError, match=r"fake_quantize_per_tensor_affine\(\): quant_min \(5\) must be less"):
        convlab.fake_quantize_per_tensor_affine(x, 0.1, 0, 5, 3)
    with pytest.raises(ValueError, match=r"zero_point \(300\) must be between quant_min \(0\) and quant_max \(255\)"):
        convlab.fake_quantize_per_tensor_affine(x, 0.1, 300, 0, 255)
    with pytest.raises(ValueError, match="scale must be positive, got -0.1"):
        convlab.fake_quantize_per_tensor_affine(x, -0.1, 0, 0, 255)
    with pytest.raises(TypeError, match="expected a floating-point input, got dtype int64"):
        convlab.fake_quantize_per_tensor_affine(convlab.tensor([1, 2]), 0.1, 0, 0, 255)
    with pytest.raises(ValueError, match=r"must each have input.shape\[1\] = 3 elements, got 2 and 2"):
        convlab.fake_quantize_per_channel_affine(x, np.ones(2, np.float32), np.zeros(2, np.int32), 1, 0, 255)
    with pytest.raises(ValueError, match="axis must be between 0 and 1 .the input's dimensions., got -1"):
        convlab.fake_quantize_per_channel_affine(x, np.ones(3, np.float32), np.zeros(3, np.int32), -1, 0, 255)
    with pytest.raises(TypeError, match="zero_point must be a 1-D integer tensor"):
        convlab.fake_quantize_per_channel_affine(x, np.ones(3, np.float32), np.zeros(3, np.float32), 1, 0, 255)


# ------------------------------------------------------------------ observers
@pytest.mark.parametrize("name", ["MinMaxObserver", "MovingAverageMinMaxObserver", "HistogramObserver"])
@pytest.mark.parametrize("kind", ["affine", "reduced", "symmetric_int8"])
def test_observer_qparams_match_torch(rng, name, kind):
    options = {"affine": ({}, {}), "reduced": ({"reduce_range": True}, {"reduce_range": True}),
               "symmetric_int8": ({"dtype": convlab.int8, "qscheme": Q.per_tensor_symmetric},
                                  {"dtype": torch.qint8, "qscheme": torch.per_tensor_symmetric})}[kind]
    ours, theirs = getattr(Q, name)(**options[0]), getattr(tobs, name)(**options[1])
    for i in range(4):  # growing ranges: the histogram is re-binned
        x = (rng.standard_normal((6, 40)) * (1 + i) + 0.3 * i).astype(np.float32)
        ours(convlab.tensor(x))
        theirs(torch.tensor(x))
    (scale, zero_point), (t_scale, t_zero_point) = ours.calculate_qparams(), theirs.calculate_qparams()
    np.testing.assert_array_equal(scale.numpy(), t_scale.numpy())
    np.testing.assert_array_equal(zero_point.numpy(), t_zero_point.numpy())


@pytest.mark.parametrize("name", ["PerChannelMinMaxObserver", "MovingAveragePerChannelMinMaxObserver"])
@pytest.mark.parametrize("axis", [0, 1])
def test_per_channel_observer_matches_torch(rng, name, axis):
    ours = getattr(Q, name)(ch_axis=axis, dtype=convlab.int8, qscheme=Q.per_channel_symmetric)
    theirs = getattr(tobs, name)(ch_axis=axis, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    for i in range(3):
        x = (rng.standard_normal((5, 4, 3)) * (1 + i)).astype(np.float32)
        ours(convlab.tensor(x))
        theirs(torch.tensor(x))
    (scale, zero_point), (t_scale, t_zero_point) = ours.calculate_qparams(), theirs.calculate_qparams()
    np.testing.assert_array_equal(scale.numpy(), t_scale.numpy())
    np.testing.assert_array_equal(zero_point.numpy(), t_zero_point.numpy())


# ------------------------------------------------------------------ int8 layers vs fbgemm
def _codes(rng, shape, zero_point):
    codes = rng.integers(0, 128, shape).astype(np.uint8)
    codes.flat[:3] = zero_point
    return codes


def _activation(codes_nchw, scale, zero_point):
    n, c, h, w = codes_nchw.shape
    data = np.full((n, h, w, -(-c // 4) * 4), zero_point, np.uint8)
    data[..., :c] = codes_nchw.transpose(0, 2, 3, 1)
    return qm.QActivation(data, scale, zero_point, c)


def _torch_qweight(wq, w_scale):
    return torch._make_per_channel_quantized_tensor(torch.tensor(wq), torch.tensor(w_scale, dtype=torch.float64),
                                                    torch.zeros(len(w_scale), dtype=torch.int64), 0)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("geometry", [(3, 20, 3, 1, 1, 1), (5, 16, 3, 2, 0, 1), (8, 33, 2, 1, 2, 2)])
def test_quantized_conv2d_matches_fbgemm(rng, relu, geometry):
    c_in, c_out, k, stride, padding, dilation = geometry
    x_scale, x_zero, y_scale, y_zero = 0.05, 17, 0.08, 40
    codes = _codes(rng, (2, c_in, 9, 10), x_zero)
    w = rng.standard_normal((c_out, c_in, k, k)).astype(np.float32) * 0.3
    bias = rng.standard_normal(c_out).astype(np.float32)
    wq, w_scale = Q.quantize_weight(w)
    inf = np.full(c_out, np.inf, np.float32)
    layer = qm.QuantizedConv2d(wq, w_scale, bias, np.zeros(c_out) if relu else -inf, inf, y_scale, y_zero, stride,
                               padding, dilation)
    ours = layer(_activation(codes, x_scale, x_zero)).data.transpose(0, 3, 1, 2).astype(np.int64)
    qx = torch._make_per_tensor_quantized_tensor(torch.tensor(codes), x_scale, x_zero)
    packed = torch.ops.quantized.conv2d_prepack(_torch_qweight(wq, w_scale), torch.tensor(bias), [stride] * 2,
                                                [padding] * 2, [dilation] * 2, 1)
    op = torch.ops.quantized.conv2d_relu if relu else torch.ops.quantized.conv2d
    theirs = op(qx, packed, y_scale, y_zero).int_repr().numpy().astype(np.int64)
    theirs = np.minimum(theirs, 127)  # our activations are 7-bit (reduce_range)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1
    # and torch's fake-quant reference: float conv of the dequantised input and weight, fake-quantised
    x_float = torch.tensor((codes.astype(np.float32) - x_zero) * np.float32(x_scale))
    w_float = torch.fake_quantize_per_channel_affine(torch.tensor(w), torch.tensor(w_scale),
                                                     torch.zeros(c_out, dtype=torch.int32), 0, -128, 127)
    ref = torch.nn.functional.conv2d(x_float.double(), w_float.double(), torch.tensor(bias).double(), stride, padding,
                                     dilation)
    ref = torch.fake_quantize_per_tensor_affine((ref.relu() if relu else ref).float(), y_scale, y_zero, 0, 127)
    assert np.abs(ours - (ref.numpy() / np.float32(y_scale) + y_zero)).max() <= 1 + 1e-4


def test_quantized_linear_matches_fbgemm(rng):
    x_scale, x_zero, y_scale, y_zero = 0.04, 60, 0.1, 64
    codes = _codes(rng, (37, 50), x_zero)
    w = rng.standard_normal((21, 50)).astype(np.float32) * 0.2
    bias = rng.standard_normal(21).astype(np.float32)
    wq, w_scale = Q.quantize_weight(w)
    inf = np.full(21, np.inf, np.float32)
    layer = qm.QuantizedLinear(wq, w_scale, bias, -inf, inf, y_scale, y_zero)
    ours = layer(qm.QActivation(codes, x_scale, x_zero)).data.astype(np.int64)
    qx = torch._make_per_tensor_quantized_tensor(torch.tensor(codes), x_scale, x_zero)
    packed = torch.ops.quantized.linear_prepack(_torch_qweight(wq, w_scale), torch.tensor(bias))
    theirs = np.minimum(torch.ops.quantized.linear(qx, packed, y_scale, y_zero).int_repr().numpy(), 127)
    assert np.abs(ours - theirs).max() <= 1


def _model_in_channels(c_in=3):
    return nn.Sequential(
        nn.Conv2d(c_in, 16, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(16), nn.Conv2d(16, 20, 3, stride=2),
        nn.BatchNorm2d(20), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Dropout(0.2), nn.Flatten(),
        nn.Linear(20 * 3 * 3, 24), nn.ReLU(), nn.BatchNorm1d(24), nn.Linear(24, 5))


def _randomise_batchnorm(model, rng):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.load_state_dict({"weight": rng.standard_normal(c).astype(np.float32),
                               "bias": rng.standard_normal(c).astype(np.float32) * 0.1,
                               "running_mean": rng.standard_normal(c).astype(np.float32) * 0.1,
                               "running_var": rng.uniform(0.5, 1.5, c).astype(np.float32),
                               "num_batches_tracked": np.array(1)})
    return model


def test_fold_layer_is_exact_for_conv_relu_batchnorm(rng):
    """Conv-ReLU-BN (seed 004's order, negative BN factors included) folds into one conv + clamp."""
    model = _randomise_batchnorm(nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.BatchNorm2d(6), nn.ReLU(),
                                               nn.BatchNorm2d(6)), rng).to(convlab.float64).eval()
    x = convlab.tensor(rng.standard_normal((2, 3, 7, 7)))
    w, b, lo, hi = Q.fold_layer(model[0], list(model)[1:])
    folded = convlab.nn.functional.conv2d(x, convlab.tensor(w), convlab.tensor(b)).numpy()
    folded = np.clip(folded, lo.reshape(-1, 1, 1), hi.reshape(-1, 1, 1))
    with convlab.no_grad():
        np.testing.assert_allclose(folded, model(x).numpy(), rtol=1e-12, atol=1e-12)


def test_kernels_and_numpy_path_give_identical_codes(rng, monkeypatch):
    kernels = qm._kernels()
    if kernels is None:
        pytest.skip("no compiled int8 kernels on this machine")
    model = _randomise_batchnorm(_model_in_channels(), rng).eval()
    calibration = [convlab.tensor(rng.standard_normal((8, 3, 11, 11)).astype(np.float32)) for _ in range(2)]
    qmodel = Q.quantize(model, calibration)
    x = convlab.tensor(rng.standard_normal((30, 3, 11, 11)).astype(np.float32))
    compiled = qmodel(x).numpy()
    monkeypatch.setattr(qm, "_kernels", lambda: None)
    for m in qmodel.modules():
        if hasattr(m, "_plans"):
            m._plans = {}
    np.testing.assert_array_equal(qmodel(x).numpy(), compiled)


# ------------------------------------------------------------------ post-training quantisation
def _torch_twin(model):
    """The same Conv-BN-ReLU network in torch, quantised by torch.ao (fbgemm, same observers)."""
    from torch.ao import quantization as tq

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.conv, self.bn, self.relu = torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU()
            self.pool, self.flatten, self.fc = torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 5)

        def forward(self, x):
            x = self.pool(self.relu(self.bn(self.conv(self.quant(x)))))
            return self.dequant(self.fc(self.flatten(x)))

    net = Net().eval()
    names = ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
             "bn.num_batches_tracked", "fc.weight", "fc.bias"]
    state = dict(zip(names, [torch.tensor(v.numpy()) for v in model.state_dict().values()]))
    net.load_state_dict(state)
    net.qconfig = tq.QConfig(activation=tobs.MinMaxObserver.with_args(reduce_range=True),
                             weight=tobs.default_per_channel_weight_observer)
    torch.backends.quantized.engine = "fbgemm"
    tq.fuse_modules(net, [["conv", "bn", "relu"]], inplace=True)
    return tq.prepare(net)


def test_quantize_matches_torch_ao_quantization(rng):
    model = _randomise_batchnorm(nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                               nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 5)), rng).eval()
    calibration = [rng.standard_normal((16, 3, 8, 8)).astype(np.float32) for _ in range(3)]
    prepared = _torch_twin(model)
    for x in calibration:
        prepared(torch.tensor(x))
    tmodel = torch.ao.quantization.convert(prepared)
    qmodel = Q.quantize(model, [convlab.tensor(x) for x in calibration])
    x = rng.standard_normal((20, 3, 8, 8)).astype(np.float32)
    ours, theirs = qmodel(convlab.tensor(x)).numpy(), tmodel(torch.tensor(x)).numpy()
    out_scale = list(qmodel.children())[-2].scale.item()
    assert out_scale == pytest.approx(tmodel.fc.scale, rel=1e-6)
    # a 1-LSB difference in a hidden code moves an output by at most a few of its LSBs
    assert np.abs(ours - theirs).max() <= 3 * out_scale
    assert np.mean(np.abs(ours - theirs) < out_scale / 2) > 0.9


@pytest.mark.parametrize("observer", ["minmax", "histogram"])
def test_quantize_follows_the_float_model_and_leaves_it_unchanged(rng, observer):
    model = _randomise_batchnorm(_model_in_channels(), rng)
    model.train()
    handle = model[0].register_forward_hook(lambda module, args, output: None)
    hooks_before = dict(model[0]._forward_hooks)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    calibration = [(convlab.tensor(rng.standard_normal((16, 3, 11, 11)).astype(np.float32)), None) for _ in range(3)]
    qmodel = Q.quantize(model, calibration, observer=observer, per_channel=observer == "minmax")
    assert model.training and all(m.training for m in model.modules())
    assert model[0]._forward_hooks == hooks_before
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())
    x = convlab.tensor(rng.standard_normal((40, 3, 11, 11)).astype(np.float32))
    model.eval()
    with convlab.no_grad():
        expected = model(x).numpy()
    got = qmodel(x).numpy()
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < 0.1 * np.abs(expected).max()
    handle.remove()


def test_quantize_refuses_unsupported_layers_and_leaves_no_trace(rng):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 2))
    model.train()
    with pytest.raises(ValueError, match=r"quantize\(\): layer '2' \(AvgPool2d\(.*\)\) is not supported"):
        Q.quantize(model, [convlab.randn(2, 1, 6, 6)])
    assert model.training
    with pytest.raises(ValueError, match=r"layer '1' \(BatchNorm2d\(4.*\)\) is not supported \(a BatchNorm must follow"):
        Q.quantize(nn.Sequential(nn.ReLU(), nn.BatchNorm2d(4)), [convlab.randn(2, 4, 3, 3)])
    with pytest.raises(ValueError, match=r"layer '0' \(Conv2d\(4, 4.*groups=4.*\)\) is not supported \(only groups=1"):
        Q.quantize(nn.Sequential(nn.Conv2d(4, 4, 3, groups=4)), [convlab.randn(2, 4, 3, 3)])
    with pytest.raises(TypeError, match=r"quantize\(\): expected an nn.Sequential"):
        Q.quantize(nn.Linear(2, 2), [convlab.randn(2, 2)])
    with pytest.raises(ValueError, match="observer must be one of 'minmax', 'histogram', got 'kl'"):
        Q.quantize(nn.Sequential(nn.Linear(2, 2)), [convlab.randn(2, 2)], observer="kl")
    with pytest.raises(ValueError, match="the calibration loader yielded no batch"):
        Q.quantize(nn.Sequential(nn.Linear(2, 2)), [])


def test_save_and_load_quantized_is_4x_smaller(rng, tmp_path):
    model = _randomise_batchnorm(nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32),
                                               nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10)),
                                 rng).eval()
    qmodel = Q.quantize(model, [convlab.tensor(rng.standard_normal((8, 3, 8, 8)).astype(np.float32))])
    Q.save_quantized(qmodel, tmp_path / "int8.safetensors")
    convlab.save(model.state_dict(), tmp_path / "float.safetensors")
    ratio = (tmp_path / "float.safetensors").stat().st_size / (tmp_path / "int8.safetensors").stat().st_size
    assert 3.5 < ratio < 4.1
    loaded = Q.load_quantized(tmp_path / "int8.safetensors")
    assert loaded.state_dict()["0.weight"].dtype == np.int8
    x = convlab.tensor(rng.standard_normal((5, 3, 8, 8)).astype(np.float32))
    np.testing.assert_array_equal(loaded(x).numpy(), qmodel(x).numpy())
    with pytest.raises(ValueError, match="was not written by convlab.quantization.save_quantized"):
        Q.load_quantized(tmp_path / "float.safetensors")


# ------------------------------------------------------------------ quantisation-aware training
@pytest.mark.parametrize("per_channel", [False, True])
def test_fake_quantize_module_matches_torch(rng, per_channel):
    from torch.ao.quantization import fake_quantize as tfq

    if per_channel:
        ours = Q.FakeQuantize(Q.MovingAveragePerChannelMinMaxObserver, -128, 127, dtype=convlab.int8,
                              qscheme=Q.per_channel_symmetric)
        theirs = tfq.FakeQuantize(tobs.MovingAveragePerChannelMinMaxObserver, -128, 127, dtype=torch.qint8,
                                  qscheme=torch.per_channel_symmetric)
    else:
        ours = Q.FakeQuantize(quant_min=0, quant_max=255, reduce_range=True)
        theirs = tfq.FakeQuantize(quant_min=0, quant_max=255, reduce_range=True)
    for step in range(4):
        if step == 3:
            ours.disable_observer()
            theirs.disable_observer()
        x = (rng.standard_normal((4, 6)) * (1 + step)).astype(np.float32)
        a, t = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(a), theirs(t)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
        np.testing.assert_array_equal(ours.scale.numpy(), theirs.scale.numpy())
        np.testing.assert_array_equal(ours.zero_point.numpy(), theirs.zero_point.numpy())


def test_prepare_qat_train_convert(rng):
    model = _randomise_batchnorm(_model_in_channels(), rng)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    qat = Q.prepare_qat(model)
    assert all(np.array_equal(state[k], v.numpy()) for k, v in model.state_dict().items())  # a copy was changed
    assert isinstance(qat[0], Q.QATConv2d) and isinstance(qat[9], Q.QATLinear)
    assert "0.weight_fake_quant.scale" in qat.state_dict() and "2.activation_post_process.scale" in qat.state_dict()
    x = convlab.tensor(rng.standard_normal((32, 3, 11, 11)).astype(np.float32))
    target = convlab.tensor(rng.integers(0, 5, 32))
    optimizer = convlab.optim.SGD(qat.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(qat(x), target)
        loss.backward()
        optimizer.step()
    assert qat[0].weight.grad is not None and np.abs(qat[0].weight.grad.numpy()).sum() > 0
    qat.eval()
    int8 = Q.convert(qat)
    with convlab.no_grad():
        simulated = qat(x).numpy()
    out_scale = qat[12].activation_post_process.scale.item()
    # the int8 model computes what QAT simulated, up to the rounding of the intermediate codes
    assert np.abs(int8(x).numpy() - simulated).max() <= 6 * out_scale
    with pytest.raises(ValueError, match="was not prepared by convlab.quantization.prepare_qat"):
        Q.convert(model)


# ------------------------------------------------------------------ incremental network quantisation
def test_power_of_two_rule():
    n1, n2 = Q.power_of_two_levels(1.0, bits=5)  # the INQ paper's formulas
    assert (n1, n2) == (0, -7)
    w = np.array([1.0, 0.76, 0.74, -0.3, 0.01, 0.005, 0.0038, 0.0])
    np.testing.assert_array_equal(Q.quantize_power_of_two(w, n1, n2),
                                  [1.0, 1.0, 0.5, -0.25, 2.0**-7, 2.0**-7, 0.0, 0.0])
    with pytest.raises(ValueError, match="bits must be an int >= 2"):
        Q.power_of_two_levels(1.0, bits=1)


def test_inq_quantises_in_groups_and_freezes_them(rng):
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    data = [(convlab.tensor(rng.standard_normal((8, 12)).astype(np.float32)), convlab.tensor(rng.integers(0, 3, 8)))
            for _ in range(3)]
    model.eval()
    snapshots = []

    def on_step(index, fraction, m):
        w = m[1].weight.detach().numpy().copy()
        snapshots.append(w)
        exponents = np.log2(np.abs(w[w != 0]))
        on_grid = np.isclose(exponents, np.round(exponents))
        assert on_grid.mean() >= fraction - 1e-9  # at least this fraction are powers of two
        if index:  # what an earlier step quantised did not move
            earlier = snapshots[index - 1]
            frozen = np.isclose(np.log2(np.abs(earlier) + 1e-30), np.round(np.log2(np.abs(earlier) + 1e-30)))
            np.testing.assert_array_equal(w[frozen], earlier[frozen])

    Q.inq(model, data, steps=(0.5, 0.75, 1.0), bits=5, lr=0.05, on_step=on_step)
    assert len(snapshots) == 3 and not model.training
    for layer in (model[1], model[3]):
        w = layer.weight.detach().numpy()
        n1, n2 = Q.power_of_two_levels(float(np.abs(w).max()), 5)
        nonzero = np.abs(w[w != 0])
        assert np.all(np.exp2(np.round(np.log2(nonzero))) == nonzero)
        assert np.log2(nonzero).max() <= n1 and np.log2(nonzero).min() >= n2
    with pytest.raises(ValueError, match=r"inq\(\): steps must be increasing fractions in \(0, 1\] ending at 1.0"):
        Q.inq(model, data, steps=(0.5, 0.4, 1.0))


def test_compress_quantize_command(tmp_path, capsys):
    from convlab.cli import main

    run = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--limit", "300", "--out", str(run),
                 "--no-progress"]) == 0  # fmt: skip
    out = tmp_path / "int8.safetensors"
    assert main(["compress", "quantize", str(run / "best.safetensors"), "--calibration", "64", "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "int8" in printed and f"{out.stat().st_size:,} bytes" in printed
    qmodel = Q.load_quantized(out)
    assert qmodel.state_dict()["1.weight"].dtype == np.int8  # mlp: Flatten, Linear, ...
    assert main(["compress", "quantize", str(tmp_path / "missing.safetensors")]) == 2
    assert "convlab compress quantize:" in capsys.readouterr().err
