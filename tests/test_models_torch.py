"""convlab.models against PyTorch: torchvision-format weights load and give torch's outputs.

torchvision is not installed beside the oracle, so the reference networks are written (here and
in torch_reference.py) in plain torch.nn with torchvision's structure (their state_dict keys are
checked against the torchvision fixture), given random weights and running statistics, saved
with ``torch.save`` and read back by convlab without torch.
"""

import json
import pathlib

import numpy as np
import pytest
import torch
from torch_reference import TorchResNet18

import convlab
from convlab import models
from convlab.io import load_torch_state_dict

REFERENCE = json.loads((pathlib.Path(__file__).parent / "fixtures/torchvision_reference.json").read_text())["models"]


# ---------------------------------------------------------------- reference networks in torch.nn


def _double_conv(c_in, c_out, mid=None):
    mid = mid or c_out
    return torch.nn.Sequential(
        torch.nn.Conv2d(c_in, mid, 3, padding=1, bias=False), torch.nn.BatchNorm2d(mid), torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(mid, c_out, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c_out), torch.nn.ReLU(inplace=True),
    )  # fmt: skip


class TorchUp(torch.nn.Module):
    def __init__(self, c_in, c_out, bilinear):
        super().__init__()
        if bilinear:
            self.up = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = _double_conv(c_in, c_out, c_in // 2)
        else:
            self.up = torch.nn.ConvTranspose2d(c_in, c_in // 2, 2, stride=2)
            self.conv = _double_conv(c_in, c_out)

    def forward(self, x, skip):
        x = self.up(x)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = torch.nn.functional.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], 1))


class TorchUNet(torch.nn.Module):
    """The common PyTorch U-Net (double 3x3 conv + BN blocks, max-pool down, transposed-conv or
    bilinear up with concatenated skips), generalised to any depth and width."""

    def __init__(self, in_channels, num_classes, depth, base, bilinear):
        super().__init__()
        factor = 2 if bilinear else 1
        c = [base * 2**i for i in range(depth + 1)]
        self.inc = _double_conv(in_channels, c[0])
        self.downs = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.MaxPool2d(2), _double_conv(c[i], c[i + 1] // (factor if i == depth - 1 else 1))
            )
            for i in range(depth)
        )
        self.ups = torch.nn.ModuleList(
            TorchUp(c[i], c[i - 1] // (factor if i > 1 else 1), bilinear) for i in range(depth, 0, -1)
        )
        self.outc = torch.nn.Conv2d(c[0], num_classes, 1)

    def forward(self, x):
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)


def _randomise(module, seed):
    """Random weights and BatchNorm running statistics (eval outputs then depend on all of them)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) * (0.1 if t.ndim > 1 else 0.3))
    return module


def _save(module, path):
    torch.save(module.state_dict(), path)
    return path


# ---------------------------------------------------------------- resnet18


def test_torch_reference_resnet18_has_torchvision_keys():
    keys = [[k, list(v.shape)] for k, v in TorchResNet18().state_dict().items()]
    assert keys == REFERENCE["resnet18"]["state_dict"]


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_resnet18_torch_weights_give_torch_outputs(tmp_path, zip_format):
    reference = _randomise(TorchResNet18(), seed=1).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path, _use_new_zipfile_serialization=zip_format)
    net = models.resnet18(weights=path).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    with convlab.no_grad():
        got = net(convlab.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_resnet18_cifar_train_step_matches_torch(tmp_path):
    """Training mode: outputs, BatchNorm running statistics and every parameter gradient."""
    reference = _randomise(TorchResNet18(num_classes=10, small_input=True), seed=2).train()
    net = models.resnet18_cifar()
    net.load_state_dict(load_torch_state_dict(_save(reference, tmp_path / "r.pth")))
    x = np.random.default_rng(1).standard_normal((4, 3, 16, 16)).astype(np.float32)
    y = np.array([1, 7, 3, 3])
    torch_loss = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    loss = convlab.nn.functional.cross_entropy(net(convlab.tensor(x)), convlab.tensor(y))
    loss.backward()
    np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=1e-5)
    torch_params = dict(reference.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), torch_params[name].grad.numpy(), rtol=1e-3, atol=2e-5, err_msg=name)
    torch_buffers = dict(reference.named_buffers())
    for name, b in net.named_buffers():
        np.testing.assert_allclose(b.numpy(), torch_buffers[name].numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_bad_state_dict_lists_every_problem():
    reference = TorchResNet18()
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    del state["fc.bias"], state["layer1.0.bn1.running_mean"]
    state["fc.extra"] = np.zeros(3, np.float32)
    state["conv1.weight"] = np.zeros((64, 1, 7, 7), np.float32)
    with pytest.raises(RuntimeError) as info:
        models.resnet18().load_state_dict(state)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for ResNet:")
    assert 'Missing key(s) in state_dict: "layer1.0.bn1.running_mean", "fc.bias".' in message
    assert 'Unexpected key(s) in state_dict: "fc.extra".' in message
    assert (
        "size mismatch for conv1.weight: copying a param with shape (64, 1, 7, 7) from checkpoint, "
        "the shape in current model is (64, 3, 7, 7)." in message
    )


def test_wrong_input_channels_name_the_first_layer():
    net = models.resnet18()
    for call, who in (
        (lambda: convlab.summary(net, input_size=(1, 1, 64, 64), verbose=0), "summary()"),
        (lambda: convlab.receptive_field(net, (1, 64, 64)), "receptive_field()"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{who}: input_size ")
        assert "has 1 channel(s), but the model's first layer 'conv1' (Conv2d(3, 64," in message
        assert message.endswith("expects 3 input channels")


# ---------------------------------------------------------------- U-Net (seed 000)


@pytest.mark.parametrize("up_mode", ["transpose", "upsample"])
def test_unet_matches_torch_reference(tmp_path, up_mode):
    reference = _randomise(TorchUNet(2, 3, depth=2, base=8, bilinear=up_mode == "upsample"), seed=3).eval()
    net = models.unet(in_channels=2, num_classes=3, depth=2, base_channels=8, up_mode=up_mode).eval()
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == [
        [k, list(v.shape)] for k, v in reference.state_dict().items()
    ]
    net.load_state_dict(load_torch_state_dict(_save(reference, tmp_path / "unet.pth")))
    x = np.random.default_rng(2).standard_normal((2, 2, 22, 21)).astype(np.float32)  # odd sizes: decoder pads
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    with convlab.no_grad():
        got = net(convlab.tensor(x)).numpy()
    assert got.shape == (2, 3, 22, 21)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_unet_default_parameter_counts_equal_torch_reference():
    for up_mode in ("transpose", "upsample"):
        reference = TorchUNet(3, 2, depth=4, base=64, bilinear=up_mode == "upsample")
        assert sum(p.numel() for p in models.unet(up_mode=up_mode).parameters()) == sum(
            p.numel() for p in reference.parameters()
        )


# ---------------------------------------------------------------- torchvision file quirks


def _torch_save_convlab_state(state, path):
    torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()}, path)
    return path


def test_densenet_old_style_keys_are_renamed(tmp_path):
    """torchvision's DenseNet file spells 'denselayer1.norm.1.weight' for 'denselayer1.norm1.weight' and,
    being older than BatchNorm's num_batches_tracked, has no such keys."""
    source = models.densenet121()
    old_style = {}
    for key, value in source.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        for part in ("norm1", "norm2", "relu1", "relu2", "conv1", "conv2"):
            key = key.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.") if "denselayer" in key else key
        old_style[key] = value
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_style
    loaded = models.densenet121(weights=_torch_save_convlab_state(old_style, tmp_path / "densenet121.pth"))
    for (key, expected), got in zip(source.state_dict().items(), loaded.state_dict().values()):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=key)


def test_googlenet_file_with_auxiliary_classifiers(tmp_path):
    source = models.googlenet(aux_logits=True)
    path = _torch_save_convlab_state(source.state_dict(), tmp_path / "googlenet.pth")
    plain = models.googlenet(weights=path)
    assert plain.aux1 is None and plain.aux2 is None and not plain.aux_logits
    assert list(plain.state_dict()) == [k for k in source.state_dict() if not k.startswith("aux")]
    with_aux = models.googlenet(weights=path, aux_logits=True)
    np.testing.assert_array_equal(with_aux.aux2.fc2.weight.detach().numpy(), source.aux2.fc2.weight.detach().numpy())
    with_aux.train()
    out = with_aux(convlab.randn(2, 3, 64, 64))
    assert isinstance(out, models.GoogLeNetOutputs) and [o.shape for o in out] == [(2, 1000)] * 3
    no_aux_path = _torch_save_convlab_state(plain.state_dict(), tmp_path / "plain.pth")
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "aux1.conv.conv.weight"'):
        models.googlenet(weights=no_aux_path, aux_logits=True)


@pytest.mark.parametrize(
    "name,kwargs,shape,out",
    [
        ("lenet5", {}, (2, 1, 28, 28), (2, 10)),
        ("mobilenet_v2", {"num_classes": 10}, (2, 3, 32, 32), (2, 10)),
        ("shufflenet_v2_x1_0", {"num_classes": 10}, (2, 3, 32, 32), (2, 10)),
        ("squeezenet1_1", {"num_classes": 10}, (2, 3, 48, 48), (2, 10)),
        ("resnet50", {"num_classes": 10}, (1, 3, 32, 32), (1, 10)),
        ("unet", {"depth": 3, "base_channels": 4, "num_classes": 5}, (1, 3, 30, 36), (1, 5, 30, 36)),
    ],
)
def test_forward_shapes(name, kwargs, shape, out):
    net = models.get_model(name, **kwargs).eval()
    with convlab.no_grad():
        y = net(convlab.randn(*shape))
    assert y.shape == out and np.isfinite(y.numpy()).all()
