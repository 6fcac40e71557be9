"""The ``convlab summary MODEL`` and ``convlab receptive-field MODEL`` command-line tools.

Each ``add_*_command(subparsers)`` adds one subcommand to an ``argparse`` sub-parser set (the
``convlab`` command's registry) and sets ``func`` to the function that runs it; that function
takes the parsed arguments, prints the table and returns the exit status (``convlab.cli`` lists
them with the other subcommands)::

    convlab summary resnet18 --input-size 1 3 224 224 --depth 2
    convlab receptive-field resnet18 --input-size 3 224 224
"""

from __future__ import annotations

import argparse
import sys

from .._argtypes import non_negative_int, positive_int
from ..receptive_field import receptive_field, receptive_field_for_unit
from ..summary import COLUMN_NAMES, MODES, summary
from ._registry import default_input_size, get_model, list_models

__all__ = ["add_receptive_field_command", "add_summary_command", "run_receptive_field", "run_summary"]


def _add_model_arguments(parser, input_size_help) -> None:
    parser.add_argument("model", help="a model name of convlab.models (listed above)")
    parser.add_argument(
        "--num-classes", type=positive_int, default=None, help="classifier outputs (default: the model's)"
    )
    parser.add_argument("--input-size", type=positive_int, nargs="+", metavar="N", help=input_size_help)


def _build(args):
    """The model named on the command line; None (after printing the reason) if it cannot be built."""
    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    try:
        return get_model(args.model, **kwargs)
    except (ValueError, TypeError) as error:
        print(f"convlab {args.command}: {error}", file=sys.stderr)
        return None


def add_summary_command(subparsers) -> argparse.ArgumentParser:
    """Add ``summary MODEL``: the :func:`convlab.summary` table of a zoo model."""
    parser = subparsers.add_parser(
        "summary",
        help="layers, output shapes, parameters and mult-adds of a model",
        description="Print the summary table (torchinfo / Keras style) of a model of convlab.models; "
        "--input-size includes the batch dimension, as torchinfo's input_size. "
        f"Models: {', '.join(list_models())}.",
    )
    _add_model_arguments(
        parser, "input shape with the batch, e.g. 1 3 224 224 (default: batch 1 of the model's usual input)"
    )
    parser.add_argument("--depth", type=non_negative_int, default=3, help="deepest nesting level shown (default 3)")
    parser.add_argument(
        "--columns",
        nargs="+",
        choices=COLUMN_NAMES,
        default=["output_size", "num_params", "mult_adds"],
        help="columns to show (default: output_size num_params mult_adds)",
    )
    parser.add_argument("--mode", choices=MODES, default="eval", help="mode of the forward pass (default eval)")
    parser.add_argument(
        "--count-buffers",
        action="store_true",
        help="count BatchNorm running statistics as non-trainable parameters (as Keras does)",
    )
    parser.set_defaults(func=run_summary, command="summary")
    return parser


def run_summary(args) -> int:
    """Print the summary of ``args.model``; returns the exit status."""
    model = _build(args)
    if model is None:
        return 2
    input_size = tuple(args.input_size) if args.input_size else (1, *default_input_size(args.model))
    try:
        summary(
            model,
            input_size=input_size,
            col_names=tuple(args.columns),
            depth=args.depth,
            mode=args.mode,
            count_buffers=args.count_buffers,
        )
    except (ValueError, TypeError, RuntimeError) as error:
        print(f"convlab summary: {error}", file=sys.stderr)
        return 2
    return 0


def add_receptive_field_command(subparsers) -> argparse.ArgumentParser:
    """Add ``receptive-field MODEL``: the :func:`convlab.receptive_field` table of a zoo model."""
    parser = subparsers.add_parser(
        "receptive-field",
        help="receptive field (start, jump, size) of every layer of a model",
        description="Print the receptive-field table (pytorch-receptive-field style) of a model of "
        "convlab.models; --input-size excludes the batch dimension: channels then the spatial sizes. "
        f"Models: {', '.join(list_models())}.",
    )
    _add_model_arguments(parser, "input shape without the batch, e.g. 3 224 224 (default: the model's usual input)")
    parser.add_argument("--unit", type=non_negative_int, nargs="+", metavar="I",
                        help="also print this unit's input region")
    parser.add_argument("--layer", default=None, help="the layer (row number or name) of --unit (default: the last); "
                        "a layer called more than once (a reused module) needs its row number")
    parser.set_defaults(func=run_receptive_field, command="receptive-field")
    return parser


def run_receptive_field(args) -> int:
    """Print the receptive-field table of ``args.model``; returns the exit status."""
    model = _build(args)
    if model is None:
        return 2
    input_size = tuple(args.input_size) if args.input_size else default_input_size(args.model)
    try:
        table = receptive_field(model, input_size)
        print(table)
        if args.unit:
            layer = len(table) - 1 if args.layer is None else args.layer
            region = receptive_field_for_unit(table, layer, tuple(args.unit))
            print(
                f"unit {tuple(args.unit)} of layer {table[layer].layer} ({table[layer].name}) sees input region {region}"
            )
    except (ValueError, TypeError, RuntimeError, KeyError, IndexError) as error:
        print(f"convlab receptive-field: {error}", file=sys.stderr)
        return 2
    return 0
