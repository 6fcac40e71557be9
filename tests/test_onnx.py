"""convlab.onnx: export checked by onnx.checker and onnxruntime, import checked against the
original model and against PyTorch's own ONNX export."""

import io
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch_reference import TorchMobileNetV2, TorchResNet18

import convlab
import convlab.onnx
from convlab import models, nn
from convlab.nn import functional as F

DYNAMIC = {"input": {0: "batch"}, "output": {0: "batch"}}


def _randomise(model, seed=0):
    """Weights scaled by 1/sqrt(fan-in) and random BatchNorm statistics, so every parameter and
    buffer moves the eval output, which stays of order one through deep networks."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, t in model.state_dict().items():
        a = t.numpy()
        if a.dtype.kind != "f":
            state[name] = a
        elif name.endswith("running_var"):
            state[name] = rng.uniform(0.5, 1.5, a.shape).astype(a.dtype)
        elif a.ndim > 1:
            state[name] = (rng.standard_normal(a.shape) / np.sqrt(np.prod(a.shape[1:]))).astype(a.dtype)
        elif name.endswith("weight"):
            state[name] = rng.uniform(0.5, 1.5, a.shape).astype(a.dtype)
        else:
            state[name] = (0.1 * rng.standard_normal(a.shape)).astype(a.dtype)
    model.load_state_dict(state)
    return model.eval()


def _forward(model, x):
    with convlab.no_grad():
        return model(convlab.tensor(x)).numpy()


def _check_export(model, shape, batches=(2, 3), atol=1e-4):
    """Export with a dynamic batch; onnx.checker, onnxruntime at two batch sizes and the
    round trip through convlab.onnx.load all agree with the model."""
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    convlab.onnx.export(model, convlab.tensor(rng.standard_normal((batches[0],) + shape).astype(np.float32)), buffer,
                        dynamic_axes=DYNAMIC)  # fmt: skip
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    loaded = convlab.onnx.load(proto)
    for n in batches:
        x = rng.standard_normal((n,) + shape).astype(np.float32)
        expected = _forward(model, x)
        scale = max(1.0, float(np.abs(expected).max()))
        (got,) = session.run(None, {"input": x})
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=atol * scale)
        np.testing.assert_allclose(_forward(loaded, x), expected, rtol=1e-5, atol=1e-5 * scale)
    return proto


ZOO = [
    ("fmnist_cnn", {}, (1, 28, 28)),
    ("lenet5", {}, (1, 28, 28)),
    ("resnet18", {"num_classes": 10}, (3, 32, 32)),
    ("mobilenet_v2", {"num_classes": 10}, (3, 32, 32)),
    ("shufflenet_v2_x1_0", {"num_classes": 10}, (3, 64, 64)),
    ("squeezenet1_1", {"num_classes": 10}, (3, 64, 64)),
    ("densenet121", {"num_classes": 10}, (3, 32, 32)),
    ("googlenet", {"num_classes": 10, "aux_logits": False}, (3, 64, 64)),
    ("vgg11_bn", {"num_classes": 10, "init_weights": False}, (3, 32, 32)),
    ("unet", {"num_classes": 2, "base_channels": 16}, (3, 32, 32)),
    ("unet", {"num_classes": 2, "base_channels": 8, "up_mode": "upsample"}, (3, 36, 36)),
]


@pytest.mark.parametrize("name,kwargs,shape", ZOO, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(ZOO)])
def test_zoo_model_exports_and_round_trips(name, kwargs, shape):
    model = models.get_model(name, **kwargs)
    if name == "vgg11_bn":  # the same layers with a 64-wide classifier: 4096 wide, the file alone is 0.5 GB
        model.classifier[0], model.classifier[3], model.classifier[6] = (
            nn.Linear(512 * 7 * 7, 64),
            nn.Linear(64, 64),
            nn.Linear(64, 10),
        )
    model = _randomise(model)
    proto = _check_export(model, shape)
    names = {i.name for i in proto.graph.initializer}
    assert {k for k, _ in model.named_parameters()} <= names  # parameters keep their state_dict keys


class _Shuffle(nn.Module):
    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class _Everything(nn.Module):
    """One of each layer with an ONNX counterpart (and the options that change the mapping)."""

    def __init__(self):
        super().__init__()
        self.reflect = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
        self.replicate = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, padding_mode="replicate", bias=False)
        self.same = nn.Conv2d(8, 8, 4, padding="same")
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.avg = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)
        self.avg_excl = nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
        self.up = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.gn = nn.GroupNorm(3, 6)
        self.inorm = nn.InstanceNorm2d(6, affine=True)
        self.ln = nn.LayerNorm([6])
        self.shuffle = _Shuffle()
        self.near = nn.Upsample(scale_factor=2, mode="nearest")
        self.bil = nn.Upsample(size=(7, 9), mode="bilinear")
        self.bic = nn.Upsample(scale_factor=1.5, mode="bicubic", align_corners=True)
        self.acts = nn.Sequential(nn.LeakyReLU(0.1), nn.ELU(), nn.GELU(), nn.SiLU(), nn.Hardswish(), nn.Hardsigmoid(),
                                  nn.Softplus(beta=2.0), nn.PReLU(6), nn.Tanh(), nn.Sigmoid(), nn.ReLU6())  # fmt: skip
        self.adapt = nn.AdaptiveAvgPool2d((3, 5))
        self.ps = nn.PixelShuffle(2)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(90, 8)
        self.fc3 = nn.Linear(5, 4)

    def forward(self, x):
        x = self.replicate(self.reflect(x)) + self.same(self.reflect(x))
        a = self.avg(self.pool(x)) * 0.5
        b = self.avg_excl(x)
        x = F.relu(self.up(a + b[..., : a.shape[2], : a.shape[3]]))
        x = self.ln(self.inorm(self.gn(x)).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        x = self.acts(self.shuffle(x))
        x = self.bic(self.bil(self.near(x)))
        y = self.adapt(x)
        z = self.fc3(y)  # a Linear over the last axis of a 4-D tensor (MatMul)
        x = self.fc(self.drop(y.flatten(1)))
        x = convlab.cat([x, F.softmax(x, dim=1), z.mean([1, 2]) - z.amax((1, 2))], 1)
        return self.ps(x.reshape(x.shape[0], 4, 5, 1)), F.log_softmax(x, dim=1)


def test_every_layer_maps_and_round_trips():
    model = _randomise(_Everything())
    rng = np.random.default_rng(2)
    buffer = io.BytesIO()
    convlab.onnx.export(model, convlab.tensor(rng.standard_normal((2, 3, 19, 17)).astype(np.float32)), buffer,
                        output_names=["a", "b"], dynamic_axes={"input": [0], "a": [0], "b": [0]})  # fmt: skip
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Pad", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "InstanceNormalization", "LayerNormalization",
            "Resize", "Gemm", "MatMul", "Flatten", "Concat", "DepthToSpace", "Softmax", "Transpose"} <= ops  # fmt: skip
    assert "Dropout" not in ops
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    loaded = convlab.onnx.load(proto)
    for n in (2, 5):
        x = rng.standard_normal((n, 3, 19, 17)).astype(np.float32)
        with convlab.no_grad():
            expected = [t.numpy() for t in model(convlab.tensor(x))]
            round_trip = [t.numpy() for t in loaded(convlab.tensor(x))]
        for got, rt, want in zip(session.run(None, {"input": x}), round_trip, expected):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(rt, want, rtol=1e-5, atol=1e-5)


class _Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.unfold = nn.Unfold(2)
        self.pool = nn.MaxPool2d(2, return_indices=True)

    def forward(self, x):
        return self.unfold(x).sum() + self.pool(x)[0].sum()


def test_unsupported_ops_are_all_named_with_their_module_and_export_leaves_no_trace():
    model = _Unsupported().train()
    hooks_before = [(m._forward_hooks.copy(), m._forward_pre_hooks.copy()) for m in model.modules()]
    with pytest.raises(convlab.onnx.UnsupportedOperatorError) as info:
        convlab.onnx.export(model, convlab.randn(1, 2, 4, 4), io.BytesIO())
    message = str(info.value)
    assert "unfold (Unfold): op Unfold" in message and "pool (MaxPool2d): op MaxPool: return_indices" in message
    assert [(m._forward_hooks, m._forward_pre_hooks) for m in model.modules()] == hooks_before
    assert all(m.training for m in model.modules())
    assert convlab.autograd.Function.apply.__func__.__qualname__ == "Function.apply"


def test_export_restores_mode_and_flags():
    model = models.lenet5().train()
    next(model.parameters()).requires_grad_(False)
    convlab.onnx.export(model, convlab.randn(1, 1, 28, 28), io.BytesIO())
    assert all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == [False] + [True] * (len(list(model.parameters())) - 1)


def test_load_lists_every_unsupported_operator():
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Einsum", ["x", "x"], ["a"], equation="ij,ij->ij"),
         onnx.helper.make_node("Relu", ["a"], ["b"]), onnx.helper.make_node("Hardmax", ["b"], ["y"])],
        "g", [x], [y],
    )  # fmt: skip
    with pytest.raises(convlab.onnx.UnsupportedOperatorError, match="2 operator.*Einsum, Hardmax"):
        convlab.onnx.load(onnx.helper.make_model(graph))


def test_bad_arguments():
    with pytest.raises(ValueError, match="opset_version"):
        convlab.onnx.export(models.lenet5(), convlab.randn(1, 1, 28, 28), io.BytesIO(), opset_version=11)
    with pytest.raises(TypeError, match="args must be a Tensor"):
        convlab.onnx.export(models.lenet5(), np.zeros((1, 1, 28, 28)), io.BytesIO())
    with pytest.raises(FileNotFoundError, match="no file"):
        convlab.onnx.load("missing.onnx")


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning")
@pytest.mark.parametrize("make", [TorchResNet18, TorchMobileNetV2], ids=["resnet18", "mobilenet_v2"])
def test_pytorch_export_loads_and_gives_pytorch_outputs(make, tmp_path):
    torch.manual_seed(0)
    reference = make(num_classes=10).eval()
    with torch.no_grad():
        for name, t in reference.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif name.endswith(("running_mean", "bias")):
                t.normal_(0, 0.1)
    path = tmp_path / "model.onnx"
    torch.onnx.export(reference, (torch.randn(2, 3, 64, 64),), path, dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["output"], dynamic_axes=DYNAMIC)  # fmt: skip
    net = convlab.onnx.load(path)
    for n in (1, 3):
        x = np.random.default_rng(n).standard_normal((n, 3, 64, 64)).astype(np.float32)
        with torch.no_grad():
            expected = reference(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(_forward(net, x), expected, rtol=1e-4, atol=1e-4)


def test_loaded_model_trains():
    model = _randomise(models.lenet5())
    buffer = io.BytesIO()
    convlab.onnx.export(model, convlab.randn(2, 1, 28, 28), buffer)
    net = convlab.onnx.load(buffer.getvalue()).train()
    assert {k for k, _ in net.named_parameters()} == {k for k, _ in model.named_parameters()}
    net.load_state_dict(model.state_dict())  # same keys: the original's weights load
    loss = net(convlab.randn(4, 1, 28, 28)).square().mean()
    loss.backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in net.parameters())


def test_resnet18_export_under_10_seconds():
    model = models.resnet18().eval()
    start = time.perf_counter()
    convlab.onnx.export(model, convlab.randn(1, 3, 224, 224), io.BytesIO(), dynamic_axes={"input": [0]})
    assert time.perf_counter() - start < 10


def test_cli_export(tmp_path):
    model = models.fmnist_cnn()
    config = {"model": "fmnist_cnn", "dataset": "fashion-mnist", "epochs": 1, "batch_size": 64, "lr": 1e-3,
              "optimizer": "adam", "scheduler": "none", "weight_decay": 0.0, "augment": False, "patience": 0,
              "limit": None, "seed": 0}  # fmt: skip
    convlab.save({"model": model.state_dict(), "config": config}, tmp_path / "best.safetensors")
    out = tmp_path / "model.onnx"
    run = subprocess.run(
        [sys.executable, "-m", "convlab", "export", str(tmp_path / "best.safetensors"), "--format", "onnx", "--out",
         str(out)], check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], _forward(model.eval(), x), rtol=1e-4, atol=1e-4)
    bad = subprocess.run([sys.executable, "-m", "convlab", "export", str(out), "--out", str(tmp_path / "x.onnx")],
                         check=False, capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "convlab export:" in bad.stderr
