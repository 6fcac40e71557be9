"""``convlab export CHECKPOINT --format onnx --out model.onnx``."""

from __future__ import annotations

import sys

FORMATS = ("onnx",)


def add_export_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a trained checkpoint as an ONNX model",
        description="Export a checkpoint of convlab train to ONNX (batch axis dynamic; input 'input', "
        "output 'logits'), checked with onnx.checker.",
    )  # fmt: skip
    parser.add_argument("checkpoint", help="best.safetensors or last.safetensors of a run")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="default onnx")
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write, e.g. model.onnx")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    parser.set_defaults(func=run_export)


def run_export(args) -> int:
    from ..cli import _load_run
    from ..creation import zeros
    from .export import UnsupportedOperatorError, _onnx, export

    try:
        model, recipe, config = _load_run(args.checkpoint)
        onnx = _onnx()
        proto = export(
            model, zeros(1, *recipe.image_size), args.out, input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=args.opset,
        )  # fmt: skip
        onnx.checker.check_model(proto, full_check=True)
    except (OSError, ValueError, ImportError, UnsupportedOperatorError) as error:
        print(f"convlab export: {error}", file=sys.stderr)
        return 2
    print(f"{config['model']} ({recipe.name}, input (batch, {', '.join(map(str, recipe.image_size))})) -> "
          f"{args.out}: {len(proto.graph.node)} ONNX nodes, opset {args.opset}")  # fmt: skip
    return 0
