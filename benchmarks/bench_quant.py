"""int8 inference: convlab int8 vs convlab float32 vs PyTorch int8 (torch.ao.quantization, fbgemm),
same run, same weights, same calibration images.

The model is ``fmnist_cnn`` (seed 004's network), batch 256 by default; one timed call is a
forward pass in eval mode without gradients. convlab's int8 model comes from
``convlab.quantization.quantize`` (Conv-ReLU-BN folded into each conv, int8 kernels); PyTorch's
from eager-mode ``prepare``/``convert`` with the same observers (``minmax``: MinMaxObserver with
reduce_range for activations, per-channel symmetric qint8 weights). PyTorch cannot fuse
ReLU-then-BatchNorm, so its convs are fused with their ReLU and its BatchNorm2d layers run as
quantised BatchNorm; its BatchNorm1d (which it cannot quantise) runs in float between a dequantise
and a quantise.
Predictions of the three are compared before timing. The CPU and the ISA each library uses are
printed: every figure belongs to its machine.

    python benchmarks/bench_quant.py [--checkpoint runs/fmnist/best.safetensors] [--batch 256]
                                     [--observer histogram] [--repeat 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np
import torch
from torch.ao import quantization as tq

sys.path.insert(0, os.path.dirname(__file__))
import timing

import convlab
from convlab import models, quantization
from convlab.quantization import quantized


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def _images(args):
    """``(calibration images, timed batch)`` float32 NCHW: Fashion-MNIST with a checkpoint, else noise."""
    if args.checkpoint:
        from convlab.cli import _load_run

        model, recipe, config = _load_run(args.checkpoint)
        splits = recipe.splits(seed=config["seed"])
        train, test = splits["train"], splits["test"]
        calibration = np.stack([train[i][0].numpy() for i in range(args.calibration)])
        batch = np.stack([test[i][0].numpy() for i in range(args.batch)])
        return model, calibration, batch
    rng = np.random.default_rng(0)
    model = models.fmnist_cnn().eval()
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, (convlab.nn.BatchNorm1d, convlab.nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.data[...] = rng.standard_normal(c) * 0.1
            m.running_var.data[...] = rng.uniform(0.5, 1.5, c)
    return model, rng.standard_normal((args.calibration, 1, 28, 28)).astype(np.float32), \
        rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32)


class TorchTwin(torch.nn.Module):
    """fmnist_cnn in torch.ao eager-mode form: QuantStub, conv+ReLU fused, quantised BatchNorm2d,
    and the BatchNorm1d (which torch.ao cannot quantise) run in float between a DeQuantStub and a
    QuantStub. (Folding it into the last Linear instead scales that layer's input columns, which
    its per-output-channel weight scales cannot absorb: most predictions then change.)"""

    def __init__(self, model):
        super().__init__()
        state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
        layers = []
        for i, m in enumerate(model):
            name = type(m).__name__
            if name == "Conv2d":
                layers.append(torch.nn.Conv2d(m.in_channels, m.out_channels, 3, padding=1))
            elif name == "BatchNorm2d":
                layers.append(torch.nn.BatchNorm2d(m.num_features))
            elif name == "BatchNorm1d":
                layers.append(torch.nn.BatchNorm1d(m.num_features))
            elif name == "Linear":
                layers.append(torch.nn.Linear(m.in_features, m.out_features))
            else:
                layers.append({"ReLU": torch.nn.ReLU, "MaxPool2d": lambda: torch.nn.MaxPool2d(2),
                               "Dropout": torch.nn.Dropout, "Flatten": torch.nn.Flatten}[name]())
            for key in ("weight", "bias", "running_mean", "running_var"):
                if f"{i}.{key}" in state:
                    getattr(layers[-1], key).data.copy_(state[f"{i}.{key}"])
        self.quant, self.body = tq.QuantStub(), torch.nn.Sequential(*layers[:19])
        self.dequant_bn, self.bn, self.quant_bn = tq.DeQuantStub(), layers[19], tq.QuantStub()
        self.head, self.dequant = torch.nn.Sequential(*layers[20:]), tq.DeQuantStub()

    def forward(self, x):
        x = self.body(self.quant(x))
        x = self.quant_bn(self.bn(self.dequant_bn(x)))
        return self.dequant(self.head(x))


def torch_int8(model, calibration, observer):
    torch.backends.quantized.engine = "fbgemm"
    twin = TorchTwin(model).eval()
    act = {"minmax": tq.MinMaxObserver, "histogram": tq.HistogramObserver}[observer].with_args(reduce_range=True)
    twin.qconfig = tq.QConfig(activation=act, weight=tq.default_per_channel_weight_observer)
    twin.bn.qconfig = None  # stays float
    fuse = [[f"body.{i}", f"body.{i + 1}"] for i in (0, 3, 8, 11, 17)]  # conv/linear + ReLU
    tq.fuse_modules(twin, fuse, inplace=True)
    prepared = tq.prepare(twin)
    with torch.no_grad():
        for start in range(0, len(calibration), 128):
            prepared(torch.from_numpy(calibration[start : start + 128]))
    return tq.convert(prepared), twin


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="a fmnist_cnn checkpoint of convlab train (default: random weights)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--calibration", type=int, default=512, help="calibration images (default 512)")
    parser.add_argument("--observer", choices=("minmax", "histogram"), default="minmax")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    model, calibration, batch = _images(args)
    loader = [convlab.tensor(calibration[i : i + 128]) for i in range(0, len(calibration), 128)]
    qmodel = quantization.quantize(model, loader, observer=args.observer)
    tmodel, _ = torch_int8(model, calibration, args.observer)
    x, tx = convlab.tensor(batch), torch.from_numpy(batch)
    with convlab.no_grad():
        float_out = model(x).numpy()
    int8_out, torch_out = qmodel(x).numpy(), tmodel(tx).numpy()
    kernels = quantized._kernels()
    print(f"# int8 inference, fmnist_cnn, batch {args.batch}, {args.calibration} calibration images "
          f"({args.observer}), {'trained weights' if args.checkpoint else 'random weights'}")
    print(f"# CPU: {_cpu_name()}, {os.cpu_count()} cores; convlab int8 kernels: "
          f"{kernels.ISA if kernels else 'none (NumPy path)'}; torch {torch.__version__} capability "
          f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads")
    print(f"# top-1 agreement with convlab float32: convlab int8 {np.mean(int8_out.argmax(1) == float_out.argmax(1)):.4f}"
          f", torch int8 {np.mean(torch_out.argmax(1) == float_out.argmax(1)):.4f}; convlab int8 vs torch int8 "
          f"{np.mean(int8_out.argmax(1) == torch_out.argmax(1)):.4f}")

    def float32():
        with convlab.no_grad():
            model(x)

    def int8():
        qmodel(x)

    def torch8():
        with torch.no_grad():
            tmodel(tx)

    t_float, t_torch = timing.compare(float32, torch8, args.repeat, args.rounds)
    t_int8, t_torch2 = timing.compare(int8, torch8, args.repeat, args.rounds)
    t_torch = min(t_torch, t_torch2)
    print(f"{'case':<34} {'ms':>9}")
    for name, t in (("convlab float32", t_float), ("convlab int8", t_int8), ("torch int8 (fbgemm)", t_torch)):
        print(f"{name:<34} {t * 1e3:>9.2f}")
    print(f"convlab int8 speed-up over convlab float32: {t_float / t_int8:.2f}x (target >= 1.5x)")
    print(f"convlab int8 time / torch int8 time:        {t_int8 / t_torch:.2f}")


if __name__ == "__main__":
    main()
