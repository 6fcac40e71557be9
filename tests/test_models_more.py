"""The rest of seed 004's tables: deeper ResNets/DenseNets, ResNeXt, Wide ResNet and MNASNet with
torchvision's published parameter counts and keys; MobileNet v1 and Xception with Keras's counts."""

import io

import numpy as np
import onnxruntime as ort
import pytest

import convlab
import convlab.onnx
from convlab import models

# torchvision's published parameter counts (1000 classes)
PUBLISHED = {
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts(name):
    model = models.get_model(name)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name]


def test_resnext_has_resnet50_keys_with_grouped_wider_bottlenecks():
    base = {k: tuple(v.shape) for k, v in models.resnet50(num_classes=10).state_dict().items()}
    model = models.resnext50_32x4d(num_classes=10)
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(state) == list(base)
    assert state["layer1.0.conv1.weight"] == (128, 64, 1, 1) and state["layer1.0.conv2.weight"] == (128, 4, 3, 3)
    assert model.layer1[0].conv2.groups == 32


@pytest.mark.parametrize(("name", "keras_total"), [("mobilenet_v1", 4_253_864), ("xception", 22_910_480)])
def test_keras_models_count_like_keras(name, keras_total):
    """Keras's table counts BatchNorm's moving mean and variance; here they are buffers."""
    model = models.get_model(name)
    params = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for key, b in model.named_buffers() if key.endswith(("running_mean", "running_var")))
    assert params + stats == keras_total


def test_mnasnet_has_torchvision_keys():
    state = models.mnasnet1_0().state_dict()
    assert sum(p.numel() for p in models.mnasnet1_0().parameters()) == 4_383_312
    assert list(state)[:3] == ["layers.0.weight", "layers.1.weight", "layers.1.bias"]
    assert "layers.8.0.layers.0.weight" in state and "layers.13.0.layers.7.running_var" in state
    assert list(state)[-2:] == ["classifier.1.weight", "classifier.1.bias"]


@pytest.mark.parametrize(("name", "size"), [("mnasnet1_0", 32), ("mobilenet_v1", 32), ("xception", 71), ("inception_v3", 75)])
def test_new_models_export_to_onnx(name, size):
    model = models.get_model(name, num_classes=10).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    buffer = io.BytesIO()
    convlab.onnx.export(model, convlab.tensor(x), buffer, dynamic_axes={"input": [0], "output": [0]})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    with convlab.no_grad():
        expected = model(convlab.tensor(x[:1])).numpy()
    np.testing.assert_allclose(session.run(None, {"input": x[:1]})[0], expected, rtol=1e-4, atol=1e-4)


def test_inception_v3_counts_aux_logits_and_transform_input():
    model = models.inception_v3(num_classes=10)
    assert sum(p.numel() for p in models.inception_v3().parameters()) == 27_161_264
    assert sum(p.numel() for p in models.inception_v3(aux_logits=False).parameters()) == 23_834_568
    out = model.train()(convlab.randn(2, 3, 299, 299))  # the auxiliary head needs Mixed_6e's 17x17 map
    assert type(out).__name__ == "InceptionOutputs" and out.logits.shape == out.aux_logits.shape == (2, 10)
    model.eval()
    x = convlab.randn(2, 3, 75, 75)
    moved = models.inception_v3(num_classes=10, transform_input=True).eval()
    moved.load_state_dict(model.state_dict())
    scale = convlab.tensor(np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1) / 0.5)
    shift = convlab.tensor((np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1) - 0.5) / 0.5)
    with convlab.no_grad():
        np.testing.assert_allclose(moved(x).numpy(), model(x * scale + shift).numpy(), rtol=1e-4, atol=1e-5)
