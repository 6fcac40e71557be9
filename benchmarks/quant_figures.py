"""The quantisation rows of docs/compression.md, measured on a trained fmnist_cnn checkpoint.

- float32: the checkpoint as trained (test accuracy, ``convlab.save`` size of its state_dict);
- int8 PTQ: ``convlab.quantization.quantize`` calibrated on the first ``--calibration`` training
  images, minmax and histogram observers (file: ``save_quantized``);
- QAT: ``prepare_qat`` of the trained model, ``--qat-batches`` batches of Adam (lr 1e-4) with
  the recipe's training transforms, ``convert``;
- INQ: 5-bit powers of two in the groups 50/75/87.5/100%, ``--inq-batches`` batches of SGD
  between the steps (its size: 5 bits per conv/linear weight, biases and BatchNorm in float32).

Accuracy is on the 10,000 test images. "size" is the bytes of the tensors inference needs in
each one's storage format (int8 codes: 1 byte; scales, biases, BatchNorm: 4), as
``convlab.compress.model_size`` counts the other rows; the file size of ``save_quantized`` is
given too. The rows are added to (or replaced in) the JSON file of
``benchmarks/compression_table.py`` (``--results``), which draws the table and the plot.

    python benchmarks/quant_figures.py runs/fmnist/best.safetensors --results docs/compression_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import timing

import convlab
from convlab import nn, quantization
from convlab.cli import _load_run
from convlab.data import DataLoader, Subset
from convlab.train import evaluate, write_text


def _accuracy(model, test):
    return evaluate(model, DataLoader(test, batch_size=500))["accuracy"]


def _file_size(write) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        write(path)
        return os.path.getsize(path)


def _limited(loader, batches):
    for i, batch in enumerate(loader):
        if i >= batches:
            return
        yield batch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--calibration", type=int, default=512)
    parser.add_argument("--qat-batches", type=int, default=100)
    parser.add_argument("--inq-batches", type=int, default=50)
    parser.add_argument("--results", help="the compression table's JSON rows: ours are added or replaced")
    args = parser.parse_args()

    model, recipe, config = _load_run(args.checkpoint)
    splits = recipe.splits(seed=config["seed"])
    test = splits["test"]
    calibration = DataLoader(Subset(splits["train"], list(range(args.calibration))), batch_size=128)
    rows = []

    def row(key, method, accuracy, parameters, size, training, storage, seconds, file_bytes=None):
        rows.append({"key": key, "method": method, "test_accuracy": accuracy, "size_bytes": size,
                     "parameters_in_use": parameters, "training": training, "format": storage,
                     "file_bytes": file_bytes, "seconds": round(seconds, 1)})  # fmt: skip
        print(f"| {method} | {training} | {accuracy:.2%} | {parameters:,} | {storage} | {size / 1e6:.2f} MB "
              f"(file {file_bytes or 0:,} B) | {seconds:.0f} s |", flush=True)

    def int8_sizes(qmodel):
        state = qmodel.state_dict().values()
        in_use = sum(int((v.numpy() != 0).sum()) for v in state if v.ndim and v.shape[0] > 1)
        tensor_bytes = sum(v.numpy().nbytes for v in state)
        return in_use, tensor_bytes, _file_size(lambda p: quantization.save_quantized(qmodel, p))

    print(f"# CPU (for the seconds column): {timing.cpu_description()}")
    print(f"float32: test accuracy {_accuracy(model, test):.2%}, "
          f"{_file_size(lambda p: convlab.save(model.state_dict(), p)):,} bytes (convlab.save)")

    for observer in ("minmax", "histogram"):
        start = time.perf_counter()
        qmodel = quantization.quantize(model, calibration, observer=observer)
        seconds = time.perf_counter() - start
        in_use, size, file_bytes = int8_sizes(qmodel)
        row(f"ptq_{observer}", f"int8 PTQ ({observer} observer)", _accuracy(qmodel, test), in_use, size,
            f"none ({args.calibration} calibration images)", "int8 weights (per-channel scales), int8 activations",
            seconds, file_bytes)

    train_loader = DataLoader(splits["train"], batch_size=128, shuffle=True)
    start = time.perf_counter()
    qat = quantization.prepare_qat(model)
    optimizer = convlab.optim.Adam(qat.parameters(), lr=1e-4)
    qat.train()
    for x, y in _limited(train_loader, args.qat_batches):
        optimizer.zero_grad()
        nn.functional.cross_entropy(qat(x), y).backward()
        optimizer.step()
    qat.eval()
    int8 = quantization.convert(qat)
    seconds = time.perf_counter() - start
    in_use, size, file_bytes = int8_sizes(int8)
    row("qat", "QAT (fake-quant training) -> int8", _accuracy(int8, test), in_use, size,
        f"{args.qat_batches} batches of 128 (Adam 1e-4)", "int8 weights (per-channel scales), int8 activations",
        seconds, file_bytes)

    inq_model, _, _ = _load_run(args.checkpoint)
    start = time.perf_counter()
    quantization.inq(inq_model, train_loader, bits=5, lr=1e-3, max_batches=args.inq_batches)
    seconds = time.perf_counter() - start
    weights = sum(m.weight.numel() for m in inq_model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    others = sum(v.numel() for k, v in inq_model.state_dict().items() if v.dtype.kind == "f") - weights
    in_use = sum(int((p.data != 0).sum()) for p in inq_model.parameters())
    row("inq", "INQ (powers of two or zero, 50/75/87.5/100%)", _accuracy(inq_model, test), in_use,
        -(-weights * 5 // 8) + others * 4, f"{args.inq_batches} batches of 128 (SGD) after each of 3 steps",
        "5 bits per conv/linear weight", seconds)
    if args.results:
        kept = []
        if os.path.exists(args.results):
            with open(args.results) as f:
                kept = [r for r in json.load(f) if r.get("key") not in {r["key"] for r in rows}]
        write_text(args.results, json.dumps(kept + rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
