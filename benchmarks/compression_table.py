"""The compression table of docs/compression.md: accuracy and size of the trained ``fmnist_cnn``
and of its compressed versions, and the accuracy-against-size plot.

Rows (each measured on the 10,000 Fashion-MNIST test images):

- float32: the checkpoint as trained;
- unstructured 50/80/90%: read from the ``results.json`` of ``convlab compress prune`` (run it
  first, ``--out RUNS/pruned``);
- channel-pruned 50%: :func:`convlab.compress.shrink_channels`, then finetuned here;
- pre-defined sparse, BinaryConnect, XNOR: the ``best.safetensors`` of ``convlab train --model
  fmnist_cnn_sparse|fmnist_cnn_binary|fmnist_cnn_xnor --out RUNS/<model>``, evaluated here.

Rows are kept in a JSON file (``--results``); rows written there by other tools (the
quantisation rows) are kept and plotted too. ``--plot-only`` redraws the plot from that file::

    python benchmarks/compression_table.py --checkpoint runs/fmnist/best.safetensors --runs RUNS \\
        --results docs/compression_results.json --plot docs/compression.png
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

import convlab
from convlab import compress, plots
from convlab.cli import _load_run
from convlab.data import DataLoader
from convlab.train import Trainer, evaluate, write_text

SCRATCH = (
    ("fmnist_cnn_sparse", "pre-defined sparse (density 0.25)", "float32, kept weights only"),
    ("fmnist_cnn_binary", "BinaryConnect", "1 bit per binarised weight"),
    ("fmnist_cnn_xnor", "XNOR-Net", "1 bit per binarised weight + alpha"),
)
HOW = {
    "float32": "`convlab train`",
    "unstructured": "`convlab compress prune`",
    "channels": "`compress.shrink_channels`",
    **{name: f"`convlab train --model {name}`" for name, _, _ in SCRATCH},
}
MINE = {"float32", "unstructured", "channels", *(name for name, _, _ in SCRATCH)}


def row(key, method, accuracy, model, training, storage, sparse_weights=False, **extra):
    in_use = sum(int((p.data != 0).sum()) for p in model.parameters())
    if hasattr(model, "modules"):
        masks = [m for m in model.modules() if isinstance(m, (convlab.nn.SparseConv2d, convlab.nn.SparseLinear))]
        in_use -= sum(int((m.weight.data != 0).sum()) - int(m.mask.data.sum()) for m in masks)
    return {"key": key, "method": method, "how": HOW[key], "test_accuracy": accuracy, "size_bytes":
            compress.model_size(model, sparse_weights=sparse_weights), "parameters_in_use": in_use,
            "training": training, "format": storage, **extra}  # fmt: skip


def measure(args, done=()) -> list[dict]:
    """The rows of this page's methods; those whose key is in ``done`` are not measured again, and
    a from-scratch run not there yet is left out (a later call adds it)."""
    model, recipe, config = _load_run(args.checkpoint)
    epoch = convlab.load(args.checkpoint)["progress"]["epoch"]  # the best epoch of the run
    test = DataLoader(recipe.splits(seed=config["seed"], root=args.data_root)["test"], batch_size=512)
    rows = []
    if "float32" not in done:
        training = f"{epoch} epochs (of a {config['epochs']}-epoch schedule)"
        rows.append(row("float32", "float32 (reference)", evaluate(model, test)["accuracy"], model, training,
                        "float32, dense"))  # fmt: skip
    with open(os.path.join(args.runs, "pruned", "results.json")) as f:
        pruned = [] if "unstructured" in done else json.load(f)
    for stage in pruned[1:]:
        small, _, _ = _load_run(stage["checkpoint"])
        rows.append(row("unstructured", f"unstructured {stage['sparsity']:.0%} (global L1)", stage["test_accuracy"],
                        small, f"+{stage['finetune_epochs']} epoch finetune per stage ({args.limit} images)",
                        "nonzeros + 1-bit bitmap", sparse_weights=True,
                        accuracy_before_finetune=stage["pruned_accuracy"]))  # fmt: skip
    if "channels" not in done:
        rows.append(channel_row(args, model, recipe, config, test))
    for name, method, storage in SCRATCH:
        path = os.path.join(args.runs, name, "best.safetensors")
        if name in done or not os.path.exists(path):
            continue
        net, _, run_config = _load_run(path)
        epochs = convlab.load(path)["progress"]["epoch"]
        rows.append(row(name, method, evaluate(net, test)["accuracy"], net,
                        f"from scratch, {epochs} epoch(s) ({run_config['limit']} images)", storage))  # fmt: skip
    return rows


def channel_row(args, model, recipe, config, test) -> dict:
    shrunk = compress.shrink_channels(model, 0.5)
    before = evaluate(shrunk, test)["accuracy"]
    train = recipe.splits(seed=config["seed"], augment=config["augment"], root=args.data_root, limit=args.limit)
    loader = DataLoader(train["train"], batch_size=config["batch_size"], shuffle=True,
                        generator=np.random.default_rng(config["seed"]))  # fmt: skip
    optimizer = convlab.optim.Adam(shrunk.parameters(), lr=3e-4)
    Trainer(shrunk, optimizer, loader, out_dir=None, verbose=False).fit(args.finetune_epochs)
    flops = convlab.summary(shrunk, (1, 1, 28, 28), verbose=0).total_mult_adds
    return row("channels", "channel-pruned 50% (L1 filters)", evaluate(shrunk, test)["accuracy"], shrunk,
               f"+{args.finetune_epochs} epoch finetune ({args.limit} images)", "float32, dense (smaller)",
               accuracy_before_finetune=before, mult_adds=flops,
               reference_mult_adds=convlab.summary(model, (1, 1, 28, 28), verbose=0).total_mult_adds)  # fmt: skip


def plot(rows, path) -> None:
    from matplotlib import ticker
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    for r in rows:
        ax.scatter(r["size_bytes"] / 1e6, 100 * r["test_accuracy"], s=30)
        ax.annotate(r["method"], (r["size_bytes"] / 1e6, 100 * r["test_accuracy"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("size of the weights (MB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("fmnist_cnn on Fashion-MNIST: accuracy against size")
    ax.grid(alpha=0.3, which="both")
    plots._save(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="runs/fmnist/best.safetensors")
    parser.add_argument("--runs", default="runs/compression", help="where the prune and from-scratch runs are")
    parser.add_argument("--results", default="docs/compression_results.json")
    parser.add_argument("--plot", default="docs/compression.png")
    parser.add_argument("--limit", type=int, default=5000, help="finetuning images (as given to compress prune)")
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--data-root")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from --results")
    parser.add_argument(
        "--missing-only", action="store_true", help="measure only this page's rows not yet in --results"
    )
    args = parser.parse_args()
    rows = []
    if os.path.exists(args.results):
        with open(args.results) as f:
            rows = json.load(f)
    if not args.plot_only:
        done = {r.get("key") for r in rows} if args.missing_only else set()
        fresh = measure(args, done)
        measured = {r["key"] for r in fresh}
        rows = [r for r in rows if r.get("key") not in measured and (args.missing_only or r.get("key") not in MINE)]
        order = {key: i for i, key in enumerate(["float32", "unstructured", "channels", *(n for n, _, _ in SCRATCH)])}
        rows = sorted(fresh + rows, key=lambda r: order.get(r.get("key"), len(order)))
        write_text(args.results, json.dumps(rows, indent=1) + "\n")
    plot(rows, args.plot)
    print("| method | how | training | test accuracy | parameters in use | format | size |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r.get('how', '')} | {r['training']} | {r['test_accuracy']:.2%} | "
              f"{r['parameters_in_use']:,} | {r['format']} | {r['size_bytes'] / 1e6:.3f} MB |")  # fmt: skip


if __name__ == "__main__":
    main()
