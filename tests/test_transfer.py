"""Transfer learning: loading a trained network with a new head, freezing by module name,
discriminative learning rates (checked against PyTorch's optimiser with the same groups), the
Resize transform (against PyTorch's interpolate) and `convlab train --init-from`."""

import json

import numpy as np
import pytest
import torch

import convlab
from convlab import models, nn, optim, transfer
from convlab.cli import main
from convlab.data import transforms as T
from convlab.recipes import RECIPES


def test_load_pretrained_keeps_a_new_head():
    source = models.fmnist_cnn(num_classes=10).state_dict()
    model = models.fmnist_cnn(num_classes=5)
    head = model.state_dict()["21.weight"].numpy().copy()
    loaded = transfer.load_pretrained(model, source)
    assert "21.weight" not in loaded and "21.bias" not in loaded and "0.weight" in loaded
    state = model.state_dict()
    for key in loaded:
        np.testing.assert_array_equal(state[key].numpy(), source[key].numpy())
    np.testing.assert_array_equal(state["21.weight"].numpy(), head)
    with pytest.raises(ValueError, match="another architecture"):
        transfer.load_pretrained(models.lenet5(), source)


def test_freeze_features():
    model = models.fmnist_cnn()
    assert transfer.feature_prefixes(model) == [str(i) for i in range(16)]
    frozen = transfer.freeze(model, ["features"])
    assert frozen == [k for k, _ in model.named_parameters() if int(k.split(".")[0]) < 16]
    assert [p.requires_grad for _, p in model.named_parameters()] == [k not in frozen for k, _ in model.named_parameters()]
    vgg_like = nn.Sequential()
    vgg_like.add_module("features", nn.Conv2d(1, 2, 3))
    vgg_like.add_module("classifier", nn.Linear(2, 2))
    assert transfer.freeze(vgg_like, ["features"]) == ["features.weight", "features.bias"]
    with pytest.raises(ValueError, match="no module 'body'"):
        transfer.freeze(model, ["body"])


def test_discriminative_learning_rates_match_torch():
    """Adam with the pretrained body at lr/10 and the new head at lr: the same step as torch.optim.Adam
    with the same two groups, on the same weights."""
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    reference = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    groups = transfer.param_groups(model, 0.1, pretrained=["0.weight", "0.bias"], pretrained_lr_scale=0.1)
    assert [g["lr"] for g in groups] == [0.1, pytest.approx(0.01)]
    opt = optim.Adam(groups)
    ref_opt = torch.optim.Adam([{"params": reference[2].parameters(), "lr": 0.1},
                                {"params": reference[0].parameters(), "lr": 0.01}])  # fmt: skip
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    for _ in range(3):
        opt.zero_grad()
        model(convlab.tensor(x)).square().sum().backward()
        opt.step()
        ref_opt.zero_grad()
        reference(torch.from_numpy(x)).square().sum().backward()
        ref_opt.step()
    for key, value in reference.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)


def test_resize_matches_torch_interpolate():
    x = np.random.default_rng(0).random((3, 2, 8, 8)).astype(np.float32)
    got = T.Resize(28).batch(x)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=(28, 28), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)
    small = T.Resize((4, 5)).batch(x)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=(4, 5), mode="bilinear", antialias=True)
    np.testing.assert_allclose(small, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert T.Resize(28)(np.zeros((8, 16), np.uint8)).shape == (28, 56)
    with pytest.raises(ValueError, match="Resize"):
        T.Resize(0)


def test_digits_recipe_resized():
    recipe = RECIPES["digits"].resized((28, 28))
    assert recipe.image_size == (1, 28, 28) and RECIPES["digits"].resized((8, 8)) is RECIPES["digits"]
    image, _ = recipe.splits()["test"][0]
    assert image.shape == (1, 28, 28)


def test_cli_init_from_freezes_features_and_trains_the_head(tmp_path, capsys):
    source = models.fmnist_cnn()
    config = {"model": "fmnist_cnn", "dataset": "fashion-mnist", "epochs": 1, "batch_size": 64, "lr": 1e-3,
              "optimizer": "adam", "scheduler": "none", "weight_decay": 0.0, "augment": False, "patience": None,
              "limit": None, "seed": 0}  # fmt: skip
    convlab.save({"model": source.state_dict(), "config": config}, tmp_path / "source.safetensors")
    out = tmp_path / "run"
    argv = ["train", "--dataset", "digits", "--init-from",
               str(tmp_path / "source.safetensors"), "--freeze", "features", "--pretrained-lr-scale", "0.1",
               "--epochs", "1", "--limit", "64", "--batch-size", "32", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    trained = convlab.load(out / "best.safetensors")
    assert trained["config"]["image_size"] == [28, 28] and trained["config"]["model"] == "fmnist_cnn"
    before, after = source.state_dict(), trained["model"]
    for key in ("0.weight", "3.weight", "11.bias"):  # frozen: unchanged
        np.testing.assert_array_equal(after[key].numpy(), before[key].numpy())
    for key in ("17.weight", "21.weight"):  # trained (17 at lr/10, the reused 10-class head 21 at lr)
        assert not np.array_equal(after[key].numpy(), before[key].numpy())
    capsys.readouterr()
    assert main(["eval", str(out / "best.safetensors")]) == 0
    assert "fmnist_cnn on digits test" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["test_accuracy"] >= 0
