"""The `summary` and `receptive-field` subcommands (convlab.models.commands)."""

import argparse
import subprocess
import sys

import pytest

from convlab.cli import main
from convlab.models.commands import add_receptive_field_command, add_summary_command


def _run(argv):
    """Both subcommands registered on a fresh parser, as the convlab command registers them."""
    parser = argparse.ArgumentParser(prog="convlab")
    subparsers = parser.add_subparsers()
    add_summary_command(subparsers)
    add_receptive_field_command(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


def test_summary_command(capsys):
    assert _run(["summary", "lenet5", "--columns", "output_size", "num_params", "kernel_size"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "Kernel Shape" in out and "[1, 6, 28, 28]" in out
    assert (
        _run(["summary", "resnet18_cifar", "--num-classes", "7", "--depth", "1", "--input-size", "2", "3", "16", "16"])
        == 0
    )
    out = capsys.readouterr().out
    assert "[2, 7]" in out and "layer1 (Sequential)" in out and "0 (BasicBlock)" not in out


def test_receptive_field_command(capsys):
    assert _run(["receptive-field", "lenet5", "--unit", "2", "2"]) == 0
    out = capsys.readouterr().out
    assert "features.5 (AvgPool2d)" in out and "16.0" in out
    assert "unit (2, 2) of layer 6 (features.5) sees input region [(6.0, 22.0), (6.0, 22.0)]" in out
    assert (
        _run(
            ["receptive-field", "resnet18_cifar", "--input-size", "3", "8", "8", "--layer", "conv1", "--unit", "0", "0"]
        )
        == 0
    )
    assert "sees input region [(0, 2.0), (0, 2.0)]" in capsys.readouterr().out


def test_bad_input(capsys):
    assert _run(["summary", "resnet19"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convlab summary: get_model(): unknown model 'resnet19'; valid names: alexnet,")
    assert _run(["receptive-field", "lenet5", "--input-size", "3", "28", "28"]) == 2
    err = capsys.readouterr().err
    assert "has 3 channel(s), but the model's first layer 'features.0'" in err and "expects 1 input channels" in err
    assert _run(["receptive-field", "lenet5", "--unit", "9", "9"]) == 2
    assert "unit (9, 9) is outside layer 6's map [5, 5]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run(["summary", "lenet5", "--columns", "weights"])
    assert "invalid choice: 'weights'" in capsys.readouterr().err


def test_layer_errors_read_cleanly_and_row_numbers_pick_a_reused_layer(capsys):
    base = ["receptive-field", "resnet18_cifar", "--input-size", "3", "8", "8", "--unit", "0", "0"]
    assert _run([*base, "--layer", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convlab receptive-field: receptive field table: no layer named 'nope'; layers: 'conv1', ")
    assert err.count("'layer1.0.relu'") == 1  # each name once, even for a layer called twice
    assert _run([*base, "--layer", "layer1.0.relu"]) == 2
    assert capsys.readouterr().err == (
        "convlab receptive-field: receptive field table: layer 'layer1.0.relu' is ambiguous: it is called 2 times, "
        "in rows 7, 10; pass the row number of the call you mean\n"
    )
    assert _run([*base, "--layer", "10"]) == 0
    assert "unit (0, 0) of layer 10 (layer1.0.relu) sees input region" in capsys.readouterr().out


def test_help_says_which_input_size_has_the_batch(capsys):
    for command, phrase in (("summary", "--input-size includes the batch dimension"),
                            ("receptive-field", "--input-size excludes the batch dimension")):
        with pytest.raises(SystemExit):
            _run([command, "--help"])
        assert phrase in " ".join(capsys.readouterr().out.split())


def test_convlab_command_runs_them(capsys):
    assert main(["summary", "lenet5", "--depth", "0"]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out
    done = subprocess.run(
        [sys.executable, "-m", "convlab.cli", "receptive-field", "resnet19"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "unknown model 'resnet19'" in done.stderr
