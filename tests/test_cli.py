"""The `convlab` command: help, a short training run, resume, eval, predict, bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import convlab
import convlab.train
from convlab.cli import build_parser, main
from convlab.data import datasets


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "convlab.cli", "--help"], capture_output=True, text=True, check=True)
    for command in ("train", "eval", "predict", "summary", "receptive-field"):
        assert command in result.stdout
    for command in ("train", "eval", "predict", "summary", "receptive-field"):
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([command, "--help"])
        assert exit_info.value.code == 0


def test_train_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--resume CKPT" in out and "fashion-mnist" in out and "93.5%" in out


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One short `convlab train` on the digits, run as a user would (a subprocess)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    command = [sys.executable, "-m", "convlab.cli", "train", "--dataset", "digits", "--epochs", "2", "--out", str(out),
               "--no-progress", "--seed", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_train_writes_results(digits_run):
    out, stdout = digits_run
    assert f"Results in {out}/" in stdout and "test_accuracy" in stdout
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "mlp" and results["epochs"] == 2 and results["test_accuracy"] > 0.85
    for name in ("best.safetensors", "last.safetensors", "history.csv", "curves.png", "confusion_matrix_test.png"):
        assert (out / name).exists(), name


def test_interrupted_run_resumes_to_the_same_result(digits_run, tmp_path, monkeypatch, capsys):
    """Ctrl-C after the first epoch, then `convlab train --resume`: the same history as the
    uninterrupted run (bit-identical losses)."""
    end_epoch = convlab.train.Trainer._end_epoch

    def end_epoch_then_interrupt(trainer):
        end_epoch(trainer)
        if trainer.epoch == 1:
            raise KeyboardInterrupt

    run = tmp_path / "resumed"
    argv = ["train", "--dataset", "digits", "--epochs", "2", "--out", str(run), "--no-progress", "--seed", "1"]
    monkeypatch.setattr(convlab.train.Trainer, "_end_epoch", end_epoch_then_interrupt)
    assert main(argv) == 130
    assert "Interrupted at epoch 2, batch 0" in capsys.readouterr().out
    monkeypatch.undo()
    assert main(["train", "--resume", str(run / "last.safetensors"), "--no-progress"]) == 0
    history = json.loads((run / "history.json").read_text())
    uninterrupted = json.loads((digits_run[0] / "history.json").read_text())
    assert [row["train_loss"] for row in history] == [row["train_loss"] for row in uninterrupted]
    assert [row["val_accuracy"] for row in history] == [row["val_accuracy"] for row in uninterrupted]
    assert main(["train", "--resume", str(run / "last.safetensors"), "--epochs", "5"]) == 2
    assert "--epochs cannot change when resuming a run with the onecycle schedule" in capsys.readouterr().err


def test_eval_and_predict(digits_run, tmp_path, capsys):
    out, _ = digits_run
    results = json.loads((out / "results.json").read_text())
    assert main(["eval", str(out / "best.safetensors"), "--confusion", str(tmp_path / "cm.png")]) == 0
    printed = capsys.readouterr().out
    assert f"accuracy {results['test_accuracy']:.2%}" in printed and "359 images" in printed
    assert (tmp_path / "cm.png").exists()
    test = datasets.Digits(train=False)
    paths = []
    for i in range(3):  # upscaled 8x8 digits, as a user's image files would be
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(test.data[i]).resize((64, 64), Image.NEAREST).save(path)
        paths.append(str(path))
    assert main(["predict", str(out / "best.safetensors"), *paths, "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(p + ": ") and line.count("%") == 2 for line, p in zip(lines, paths))
    predicted = [int(line.split(": ")[1][0]) for line in lines]
    assert np.mean(np.array(predicted) == test.targets[:3]) >= 2 / 3


def test_bad_input_is_reported(tmp_path, capsys):
    assert main(["train", "--dataset", "digits", "--model", "fmnist_cnn", "--out", str(tmp_path / "x"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "model 'fmnist_cnn' cannot take the digits images of shape (1, 8, 8)" in err and "'mlp'" in err
    assert main(["train", "--data-root", str(tmp_path), "--out", str(tmp_path / "y"), "--no-progress"]) == 2
    assert "apt-get install -y dataset-fashion-mnist" in capsys.readouterr().err
    convlab.save({"weights": convlab.zeros(2)}, tmp_path / "plain.safetensors")
    assert main(["eval", str(tmp_path / "plain.safetensors")]) == 2
    assert "is not a checkpoint written by convlab train" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.safetensors")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--optimizer", "lbfgs"])
    assert "invalid choice: 'lbfgs'" in capsys.readouterr().err


def test_orientation_job_reproduces_seed_000(tmp_path, capsys):
    """Seed 000: the C = 2 CNN learns line orientation almost perfectly, and modulating the test
    images by a sinusoid (they still look like the same lines) drops it to chance."""
    assert main(["train", "--dataset", "orientation", "--out", str(tmp_path), "--no-progress"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["test_accuracy"] >= 0.99
    assert abs(results["test_modulated_accuracy"] - 0.5) <= 0.1
