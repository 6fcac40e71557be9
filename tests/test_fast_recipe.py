"""`convlab train --recipe fast` (time to accuracy): its network against the same torch.nn.Sequential,
test-time flip averaging and the label-smoothed loss against PyTorch on the same weights, the
recipe's settings, training on all images (no validation split), and a short run end to end on a
small Fashion-MNIST-format folder."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_data_datasets import fake_fashion
from torch_reference import torch_fmnist_cnn_fast

import convlab
from convlab import models
from convlab.cli import CONFIG_KEYS, _train_config, build_parser, main, training_loss
from convlab.data import DataLoader, TensorDataset, datasets
from convlab.data import transforms as T
from convlab.recipes import RECIPES, TRAINING_RECIPES
from convlab.train import evaluate


def _twins(rng):
    """convlab's fmnist_cnn_fast holding a torch twin's weights (non-trivial BN statistics)."""
    reference = torch_fmnist_cnn_fast()
    state = reference.state_dict()
    with torch.no_grad():
        for key, value in state.items():
            if key.endswith("running_mean"):
                value.copy_(torch.from_numpy(rng.standard_normal(value.shape).astype(np.float32) * 0.1))
            elif key.endswith("running_var"):
                value.copy_(torch.from_numpy(rng.random(value.shape).astype(np.float32) + 0.5))
    model = models.fmnist_cnn_fast()
    model.load_state_dict({k: v.numpy() for k, v in state.items()})
    return model, reference


def test_fast_network_is_the_torch_sequential(rng):
    model, reference = _twins(rng)
    assert list(model.state_dict()) == list(reference.state_dict())
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters()) == 468_266
    x = rng.standard_normal((6, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 6)
    for training in (False, True):  # running statistics, then batch statistics
        model.train(training)
        reference.train(training)
        out, expected = model(convlab.tensor(x)), reference(torch.from_numpy(x))
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    loss = convlab.nn.functional.cross_entropy(out, convlab.tensor(labels), label_smoothing=0.1)
    torch.nn.CrossEntropyLoss(label_smoothing=0.1)(expected, torch.from_numpy(labels)).backward()
    loss.backward()
    for (key, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=key)


def test_flip_averaged_evaluation_matches_torch(rng):
    """evaluate(flip=True): the mean of the logits of each image and its mirror, as in torch."""
    model, reference = _twins(rng)
    reference.eval()
    x = rng.standard_normal((10, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 10)
    loader = DataLoader(TensorDataset(convlab.tensor(x), convlab.tensor(labels)), batch_size=4)
    model.train()
    metrics = evaluate(model, loader, flip=True)
    assert model.training  # the mode is given back
    with torch.no_grad():
        logits = (reference(torch.from_numpy(x)) + reference(torch.from_numpy(x).flip(-1))) / 2
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)).item()
    np.testing.assert_array_equal(metrics["predictions"], logits.argmax(1).numpy())
    assert metrics["accuracy"] == pytest.approx(float((logits.argmax(1).numpy() == labels).mean()))
    assert metrics["loss"] == pytest.approx(loss, rel=1e-5)
    plain = evaluate(model, loader)  # without flip: the plain logits
    with torch.no_grad():
        np.testing.assert_array_equal(plain["predictions"], reference(torch.from_numpy(x)).argmax(1).numpy())


def test_training_loss_is_torch_cross_entropy_with_label_smoothing(rng):
    logits = rng.standard_normal((8, 10))
    labels = rng.integers(0, 10, 8)
    for config, eps in (({"label_smoothing": 0.1}, 0.1), ({}, 0.0)):
        ours = training_loss(config)(convlab.tensor(logits), convlab.tensor(labels)).item()
        theirs = torch.nn.CrossEntropyLoss(label_smoothing=eps)(torch.from_numpy(logits), torch.from_numpy(labels))
        assert ours == pytest.approx(theirs.item(), rel=1e-12)


def test_recipe_fast_settings_and_overrides():
    fast = TRAINING_RECIPES["fast"]
    config = _train_config(build_parser().parse_args(["train", "--recipe", "fast"]))
    assert (config["model"], config["epochs"], config["batch_size"], config["lr"], config["optimizer"]) == (
        fast.model, fast.epochs, fast.batch_size, fast.lr, fast.optimizer)
    assert (config["label_smoothing"], config["val_size"], config["tta_flip"], config["target_accuracy"]) == (
        0.1, 0, True, 0.935)
    assert config["recipe"] == "fast" and set(CONFIG_KEYS) <= set(config)
    config = _train_config(build_parser().parse_args(["train", "--recipe", "fast", "--epochs", "3", "--val-size",
                                                      "100", "--label-smoothing", "0", "--optimizer", "sgd"]))
    assert (config["epochs"], config["val_size"], config["optimizer"], config.get("label_smoothing")) == (
        3, 100, "sgd", None)  # given options win, even falsy ones; 0 smoothing is the default, not stored
    plain = _train_config(build_parser().parse_args(["train"]))  # the defaults are untouched
    assert tuple(plain) == CONFIG_KEYS and plain["optimizer"] == "adam" and plain["model"] == "fmnist_cnn"
    with pytest.raises(ValueError, match="--recipe fast is for --dataset fashion-mnist, not digits"):
        _train_config(build_parser().parse_args(["train", "--recipe", "fast", "--dataset", "digits"]))
    with pytest.raises(ValueError, match=r"--label-smoothing must be in \[0, 1\], got 1.5"):
        _train_config(build_parser().parse_args(["train", "--label-smoothing", "1.5"]))


def test_recipe_accurate_adds_random_erasing_to_the_training_images_only(tmp_path):
    accurate = TRAINING_RECIPES["accurate"]
    config = _train_config(build_parser().parse_args(["train", "--recipe", "accurate"]))
    assert (config["model"], config["epochs"], config["random_erasing"], config["target_accuracy"]) == (
        "fmnist_cnn_fast", accurate.epochs, 0.5, 0.95)
    assert (config["label_smoothing"], config["val_size"], config["tta_flip"]) == (0.1, 0, True)
    assert "random_erasing" not in _train_config(build_parser().parse_args(["train", "--recipe", "fast"]))
    given = _train_config(build_parser().parse_args(["train", "--random-erasing", "0.25"]))
    assert given["random_erasing"] == 0.25
    with pytest.raises(ValueError, match=r"--random-erasing must be in \[0, 1\], got 1.5"):
        _train_config(build_parser().parse_args(["train", "--random-erasing", "1.5"]))
    fake_fashion(tmp_path, n_train=12, n_test=4)
    splits = RECIPES["fashion-mnist"].splits(root=tmp_path, val_size=2, random_erasing=1.0)

    def steps(split):
        return getattr(splits[split], "dataset", splits[split]).transform.transforms

    erasing = [t for t in steps("train") if isinstance(t, T.RandomErasing)]
    assert len(erasing) == 1 and erasing[0].p == 1.0 and erasing[0].value == (0.0,)
    assert isinstance(steps("train")[-2], T.Normalize)  # erased after normalising, as torchvision's
    for split in ("val", "test"):
        assert not any(isinstance(t, T.RandomErasing) for t in steps(split))
    no_augment = RECIPES["fashion-mnist"].train_transform(augment=False, random_erasing=1.0)
    assert not any(isinstance(t, T.RandomErasing) for t in no_augment.transforms)


def test_splits_without_validation(tmp_path):
    fake_fashion(tmp_path, n_train=10, n_test=4)
    recipe = RECIPES["fashion-mnist"]
    splits = recipe.splits(root=tmp_path, val_size=0)
    assert sorted(splits) == ["test", "train"] and len(splits["train"]) == 10
    splits = recipe.splits(root=tmp_path, val_size=3)
    assert (len(splits["train"]), len(splits["val"])) == (7, 3)
    with pytest.raises(ValueError, match=r"Recipe.splits\(\): val_size must be in \[0, 10\) for fashion-mnist "
                                         r"\(10 training images\), got 10"):
        recipe.splits(root=tmp_path, val_size=10)


def test_recipe_fast_runs_end_to_end(tmp_path, capsys):
    """A one-epoch run of the recipe on 64 training images: no validation, the test set once with
    flips, and the time-to-accuracy line and figure."""
    data = tmp_path / "fashion"
    fake_fashion(data, n_train=64, n_test=16)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "convlab", "train", "--recipe", "fast", "--epochs", "1", "--data-root", str(data),
               "--out", str(out), "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "fmnist_cnn_fast on fashion-mnist (64 training, 0 validation images)" in result.stdout
    assert "Time to accuracy: " in result.stdout and "target 93.5%: NOT reached" in result.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "fmnist_cnn_fast" and "val_accuracy" not in results
    assert results["time_to_test_seconds"] >= results["train_seconds"] > 0
    state = convlab.load(out / "last.safetensors")
    assert state["config"]["tta_flip"] is True and state["config"]["label_smoothing"] == 0.1
    model = models.fmnist_cnn_fast()
    model.load_state_dict(state["model"])
    test = datasets.FashionMNIST(root=data, train=False, transform=RECIPES["fashion-mnist"].eval_transform())
    assert results["test_accuracy"] == evaluate(model, DataLoader(test, batch_size=512), flip=True)["accuracy"]
    # all training images were trained on: `convlab eval --split val` has nothing to evaluate
    assert main(["eval", str(out / "last.safetensors"), "--split", "val", "--data-root", str(data)]) == 2
    assert "the fashion-mnist dataset has no split 'val' (it has train, test)" in capsys.readouterr().err
