"""Iterative prune-and-finetune (seed 004: "set near-zero weights to zero, fix these and do some
retraining"), and the ``convlab compress`` command that runs it on a trained checkpoint::

    convlab compress prune runs/fmnist/best.safetensors --sparsity 0.5,0.8,0.9 --finetune-epochs 1

Each stage prunes the smallest-magnitude weights of all convolutions and linear layers together
(global L1, :func:`convlab.nn.utils.prune.global_unstructured`) up to the stage's total sparsity,
the masks of earlier stages kept, then finetunes with the masks in place (pruned weights get no
gradient), evaluates, and writes a checkpoint that ``convlab eval`` reads (masks made permanent).

``convlab compress`` is a command with sub-commands: each is one ``add_*_subcommand(subparsers)``
function listed in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys

import numpy as np

from .. import nn
from .._argtypes import non_negative_int, positive_float, positive_int
from ..nn.utils import prune
from ..quantization.commands import add_quantize_subcommand

__all__ = ["SUBCOMMANDS", "add_compress_command", "prunable_weights", "prune_to_sparsity", "sparsity"]


def prunable_weights(model) -> list:
    """``(module, "weight")`` of every convolution and linear layer of ``model``."""
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _mask_or_weight(module, name):
    mask = getattr(module, name + "_mask", None)
    return (mask if mask is not None else getattr(module, name)).data


def sparsity(parameters) -> float:
    """The fraction of zeros (masked or exactly zero) among the ``(module, name)`` tensors."""
    zeros = sum(int((_mask_or_weight(m, n) == 0).sum()) for m, n in parameters)
    return zeros / sum(getattr(m, n).numel() for m, n in parameters)


def prune_to_sparsity(parameters, target: float) -> int:
    """Prune the ``(module, name)`` tensors together (global L1) until a fraction ``target`` of all
    their entries is pruned, keeping what is already pruned; returns how many were pruned now.

    Example::

        >>> pairs = prunable_weights(net)
        >>> prune_to_sparsity(pairs, 0.5); prune_to_sparsity(pairs, 0.8)   # 50%, then 80% in all
    """
    if not 0 <= target <= 1:
        raise ValueError(f"prune_to_sparsity(): target must be a fraction in [0, 1], got {target}")
    parameters = list(parameters)
    total = sum(getattr(m, n).numel() for m, n in parameters)
    pruned = sum(int((_mask_or_weight(m, n) == 0).sum()) for m, n in parameters)
    amount = max(0, round(target * total) - pruned)
    prune.global_unstructured(parameters, pruning_method=prune.L1Unstructured, amount=amount)
    return amount


def _sparsities(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions like 0.5,0.8,0.9, got {text!r}") from None
    if any(not 0 < v < 1 for v in values) or values != sorted(set(values)):
        raise argparse.ArgumentTypeError(f"expected increasing fractions in (0, 1) like 0.5,0.8,0.9, got {text!r}")
    return values


def add_prune_subcommand(subparsers) -> None:
    parser = subparsers.add_parser(
        "prune", help="iterative global magnitude pruning with finetuning",
        description="Prune a checkpoint of convlab train in stages (global L1 over conv and linear weights) to each "
        "--sparsity, finetuning after each stage; writes one checkpoint per stage (readable by convlab eval) and "
        "results.json.")  # fmt: skip
    parser.add_argument("checkpoint", help="best.safetensors of a convlab train run")
    parser.add_argument(
        "--sparsity",
        type=_sparsities,
        default=[0.5, 0.8, 0.9],
        help="increasing total sparsities, comma-separated (default 0.5,0.8,0.9)",
    )
    parser.add_argument("--finetune-epochs", type=non_negative_int, default=1, help="epochs after each stage "
                        "(default 1; 0: prune only)")  # fmt: skip
    parser.add_argument("--lr", type=positive_float, default=3e-4, help="Adam learning rate for finetuning "
                        "(default 3e-4)")  # fmt: skip
    parser.add_argument("--batch-size", type=positive_int, help="default: the run's")
    parser.add_argument("--limit", type=positive_int, help="finetune on only this many training images (quick runs)")
    parser.add_argument("--out", help="output folder (default: <checkpoint folder>/pruned)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_prune)


def run_prune(args) -> int:
    import convlab

    from ..cli import _load_run
    from ..data import DataLoader
    from ..train import Trainer, evaluate, write_text

    try:
        model, recipe, config = _load_run(args.checkpoint)
        splits = recipe.splits(seed=config["seed"], augment=config["augment"], root=args.data_root, limit=args.limit)
    except (OSError, ValueError) as error:
        print(f"convlab compress prune: {error}", file=sys.stderr)
        return 2
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "pruned")
    os.makedirs(out_dir, exist_ok=True)
    test = DataLoader(splits["test"], batch_size=512)
    progress = not args.no_progress
    parameters = prunable_weights(model)
    total = sum(m.weight.numel() for m, _ in parameters)
    results = [{"sparsity": 0.0, "test_accuracy": evaluate(model, test, progress=progress)["accuracy"],
                "nonzero_weights": total, "checkpoint": os.path.abspath(args.checkpoint)}]  # fmt: skip
    print(f"convlab compress prune: {config['model']}, {total} conv/linear weights, test accuracy "
          f"{results[0]['test_accuracy']:.2%}")  # fmt: skip
    batch_size = args.batch_size or config["batch_size"]
    for target in args.sparsity:
        prune_to_sparsity(parameters, target)
        pruned_accuracy = evaluate(model, test, progress=progress)["accuracy"]
        if args.finetune_epochs:
            loader = DataLoader(splits["train"], batch_size=batch_size, shuffle=True,
                                generator=np.random.default_rng(config["seed"]))  # fmt: skip
            optimizer = convlab.optim.Adam(model.parameters(), lr=args.lr)
            Trainer(model, optimizer, loader, out_dir=None, progress=progress, verbose=False).fit(args.finetune_epochs)
        accuracy = evaluate(model, test, progress=progress)["accuracy"]
        final = copy.deepcopy(model)
        for module, name in prunable_weights(final):
            prune.remove(module, name)
        path = os.path.join(out_dir, f"sparsity-{target:g}.safetensors")
        convlab.save({"model": final.state_dict(), "config": {**config, "pruned_sparsity": target}}, path)
        nonzero = sum(int((m.weight.data != 0).sum()) for m, _ in prunable_weights(final))
        results.append({"sparsity": target, "pruned_accuracy": pruned_accuracy, "test_accuracy": accuracy,
                        "nonzero_weights": nonzero, "finetune_epochs": args.finetune_epochs,
                        "checkpoint": path})  # fmt: skip
        print(f"sparsity {target:.0%}: test accuracy {pruned_accuracy:.2%} after pruning, {accuracy:.2%} after "
              f"{args.finetune_epochs} finetuning epoch(s); {nonzero} nonzero weights -> {path}")  # fmt: skip
    write_text(os.path.join(out_dir, "results.json"), json.dumps(results, indent=1) + "\n")
    return 0


# ``convlab compress <subcommand>``: one add_*_subcommand(subparsers) function each
SUBCOMMANDS = [add_prune_subcommand, add_quantize_subcommand]


def add_compress_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "compress",
        help="shrink a trained model (prune, ...)",
        description="Compress a checkpoint of convlab train; see docs/compression.md.",
    )
    commands = parser.add_subparsers(dest="compress_command", required=True, metavar="METHOD")
    for add_subcommand in SUBCOMMANDS:
        add_subcommand(commands)
