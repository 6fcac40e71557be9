"""The `convlab` command: help, a short training run, resume, eval, predict, bad input."""

import json
import pathlib
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
    for module in ("convlab.cli", "convlab"):  # python -m convlab is the convlab command too
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True)
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
    assert "%%" not in out  # the description is printed as written (argparse %-formats help= only)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
        (["train", "--epochs", "-3"], "argument --epochs: expected a positive integer, got '-3'"),
        (["train", "--epochs", "two"], "argument --epochs: expected a positive integer, got 'two'"),
        (["train", "--batch-size", "0"], "argument --batch-size: expected a positive integer, got '0'"),
        (["train", "--lr", "0"], "argument --lr: expected a positive number, got '0'"),
        (["train", "--lr=-1e-3"], "argument --lr: expected a positive number, got '-1e-3'"),
        (["train", "--lr", "nan"], "argument --lr: expected a positive number, got 'nan'"),
        (["train", "--lr", "fast"], "argument --lr: expected a positive number, got 'fast'"),
        (["train", "--weight-decay", "-1"], "argument --weight-decay: expected a non-negative number, got '-1'"),
        (["train", "--patience", "0"], "argument --patience: expected a positive integer, got '0'"),
        (["train", "--limit", "0"], "argument --limit: expected a positive integer, got '0'"),
        (["train", "--seed", "-1"], "argument --seed: expected a non-negative integer, got '-1'"),
        (["predict", "x.safetensors", "x.png", "--top-k", "0"], "argument --top-k: expected a positive integer"),
        (["summary", "lenet5", "--depth", "-1"], "argument --depth: expected a non-negative integer, got '-1'"),
        (["summary", "lenet5", "--input-size", "1", "0", "28", "28"], "argument --input-size: expected a positive"),
        (["receptive-field", "lenet5", "--unit", "-1", "0"], "argument --unit: expected a non-negative integer"),
    ],
)
def test_bad_numbers_are_rejected_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert f"convlab {argv[0]}: error: {message}" in capsys.readouterr().err


def test_bad_number_from_the_shell_exits_2_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "convlab.cli", "train", "--epochs", "-1"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "convlab train: error: argument --epochs: expected a positive integer, got '-1'")
    guide = " ".join((pathlib.Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text().split())
    assert "`convlab train: error: argument --epochs: expected a positive integer, got '0'`" in guide  # as printed


def test_given_numbers_override_the_recipe_even_when_falsy():
    from convlab.cli import CONFIG_KEYS, _train_config

    args = build_parser().parse_args(["train", "--dataset", "digits", "--epochs", "1", "--batch-size", "3",
                                      "--lr", "1e-5"])
    config = _train_config(args)
    assert (config["epochs"], config["batch_size"], config["lr"]) == (1, 3, 1e-5)
    args.epochs, args.lr, args.model = 0, 0.0, ""  # as a Python caller could set them: kept, not the defaults
    config = _train_config(args)
    assert (config["epochs"], config["lr"], config["model"]) == (0, 0.0, "")
    config = _train_config(build_parser().parse_args(["train", "--dataset", "digits"]))
    assert (config["epochs"], config["batch_size"], config["lr"], config["model"]) == (20, 64, 3e-3, "mlp")
    assert tuple(config) == CONFIG_KEYS  # what a checkpoint's config is checked against


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


def test_unusable_files_are_one_line_errors(digits_run, tmp_path, capsys):
    """A directory for an image or a checkpoint, and checkpoints whose config does not fit their
    weights: one line on stderr naming the file, exit status 2, no traceback."""
    out, _ = digits_run
    best = out / "best.safetensors"
    assert main(["predict", str(best), str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"convlab predict: '{tmp_path}' is a directory, expected an image file (PNG, JPEG, ...)\n")
    (tmp_path / "notes.png").write_text("not an image")
    assert main(["predict", str(best), str(tmp_path / "notes.png")]) == 2
    assert capsys.readouterr().err == (
        f"convlab predict: '{tmp_path / 'notes.png'}' is not an image file Pillow can read (PNG, JPEG, ...)\n")
    assert main(["predict", str(best), str(tmp_path / "missing.png")]) == 2
    assert capsys.readouterr().err == f"convlab predict: no such image file: '{tmp_path / 'missing.png'}'\n"
    assert main(["eval", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"convlab eval: load(): '{tmp_path}' is a directory, expected a .safetensors file\n")
    state = convlab.load(best)
    for name, config, expected in [
        ("other_dataset", dict(state["config"], dataset="orientation"),
         ("its weights do not fit the model its config names ('mlp' for orientation): Error(s) in loading state_dict "
          "for Sequential: size mismatch for 1.weight: copying a param with shape (512, 64) from checkpoint, the "
          "shape in current model is (512, 1024).")),
        ("unknown_dataset", dict(state["config"], dataset="cifar"), "was trained on an unknown dataset 'cifar'"),
        ("no_dataset", {"model": "mlp", "seed": 0},
         ("has a damaged config: no 'dataset', 'epochs', 'batch_size', 'lr', 'optimizer', 'scheduler', "
          "'weight_decay', 'augment', 'patience', 'limit' (convlab train stores model, dataset, epochs,")),
    ]:
        path = tmp_path / f"{name}.safetensors"
        convlab.save(dict(state, config=config), path)
        for argv in (["eval", str(path)], ["predict", str(path), "x.png"]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"convlab {argv[0]}: '{path}'") and expected in err and err.count("\n") == 1, err
    path = tmp_path / "other_dataset.safetensors"
    assert main(["train", "--resume", str(path), "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"convlab train: cannot resume from '{path}': ") and err.count("\n") == 1, err
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 2
    assert "is a directory, expected a .safetensors file" in capsys.readouterr().err


def test_orientation_job_reproduces_seed_000(tmp_path, capsys):
    """Seed 000: the C = 2 CNN learns line orientation almost perfectly, and modulating the test
    images by a sinusoid (they still look like the same lines) drops it to chance."""
    assert main(["train", "--dataset", "orientation", "--out", str(tmp_path), "--no-progress"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["test_accuracy"] >= 0.99
    assert abs(results["test_modulated_accuracy"] - 0.5) <= 0.1
