"""``convlab compress quantize``: int8 post-training quantisation of a ``convlab train`` checkpoint::

    convlab compress quantize runs/fmnist/best.safetensors --calibration 512 --out runs/fmnist/int8.safetensors

Calibrates on the first ``--calibration`` training images (without augmentation), evaluates the
float and the int8 model on the test split, and writes the int8 model with
:func:`~convlab.quantization.save_quantized` (read it back with
:func:`~convlab.quantization.load_quantized`).
"""

from __future__ import annotations

import os
import sys

from .._argtypes import positive_int

__all__ = ["add_quantize_subcommand"]


def add_quantize_subcommand(subparsers) -> None:
    parser = subparsers.add_parser(
        "quantize", help="int8 post-training quantisation (folded BatchNorm/ReLU, integer conv/linear)",
        description="Quantise a checkpoint of convlab train to int8 (per-channel int8 weights, int8 activations, "
        "integer arithmetic), calibrated on training images; prints float and int8 test accuracy and sizes.")  # fmt: skip
    parser.add_argument("checkpoint", help="best.safetensors of a convlab train run")
    parser.add_argument("--calibration", type=positive_int, default=512, help="calibration images (default 512)")
    parser.add_argument("--observer", choices=("minmax", "histogram"), default="minmax", help="activation ranges "
                        "(default minmax)")  # fmt: skip
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per layer instead of per channel")
    parser.add_argument("--out", help="the int8 model's file (default: <checkpoint folder>/int8.safetensors)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_quantize)


def run_quantize(args) -> int:
    from ..cli import _load_run
    from ..data import DataLoader, Subset
    from ..train import evaluate
    from . import quantize, save_quantized

    try:
        model, recipe, config = _load_run(args.checkpoint)
        splits = recipe.splits(seed=config["seed"], augment=False, root=args.data_root)
        out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "int8.safetensors")
        calibration = Subset(splits["train"], list(range(min(args.calibration, len(splits["train"])))))
        progress = not args.no_progress
        qmodel = quantize(model, DataLoader(calibration, batch_size=128), per_channel=not args.per_tensor,
                          observer=args.observer, progress=progress)
        save_quantized(qmodel, out)
    except (OSError, ValueError, TypeError) as error:
        print(f"convlab compress quantize: {error}", file=sys.stderr)
        return 2
    test = DataLoader(splits["test"], batch_size=512)
    float_accuracy = evaluate(model, test, progress=progress)["accuracy"]
    int8_accuracy = evaluate(qmodel, test, progress=progress)["accuracy"]
    float_bytes = sum(v.numpy().nbytes for v in model.state_dict().values())
    print(f"convlab compress quantize: {config['model']} on {recipe.name} test: float32 {float_accuracy:.2%}, int8 "
          f"{int8_accuracy:.2%} ({len(calibration)} calibration images, {args.observer} observer)")
    print(f"  {out}: {os.path.getsize(out):,} bytes (float32 weights: {float_bytes:,} bytes)")
    return 0
