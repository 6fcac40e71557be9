"""Training speed and memory: convlab vs PyTorch CPU, same run, same weights, same batches.

Speed (``fmnist_cnn`` on Fashion-MNIST, batch 128, Adam, train mode; one timed unit is a slice of
an epoch of ``--batches`` steps, the same batches and initial weights for both libraries):

- ``step``: the bare steps (forward, cross-entropy, zero_grad, backward, Adam step) on batches
  prepared beforehand, what PyTorch is timed on (target: <= 1.0x PyTorch);
- ``loader``: the same steps fed by convlab's ``DataLoader`` with the job's augmentation (random
  2-px shifts and flips, built in the prefetch thread);
- ``epoch``: the training loop as ``convlab train`` runs it: :class:`convlab.train.Trainer` over
  that ``DataLoader`` with OneCycleLR stepped per batch, the progress bar, the running loss and
  accuracy (wall time of ``Trainer.fit`` for one epoch of ``--batches`` batches, validation
  excluded as in the Trainer's ``images_per_second``). Its ``epoch/step`` ratio is the cost of
  loading, augmenting and bookkeeping over the bare step (target: <= 1.05);
- ``resnet18_cifar step``: the bare step of ``convlab.models.resnet18_cifar`` on random 32x32
  batches of 128 (``--resnet-steps`` steps per timed unit; target: <= 1.2x PyTorch).

convlab's steps run inside ``cpu_kernels.tuned()`` (BLAS on one thread, malloc keeping freed
memory), as the Trainer runs them; PyTorch keeps its own settings. ``CONVLAB_KERNELS=0`` times
convlab's NumPy path (no compiled kernels) instead.

Memory (``--memory-steps`` training steps of ``fmnist_cnn`` and ``resnet18_cifar`` at batch 128,
Adam; each library and model in its own fresh subprocess so that peaks do not mix): the *peak
resident memory of a training step* is the process's peak resident set (``VmHWM``) during the
steps minus its resident set just before them. That baseline includes the imports, the model and
optimiser built, the input batch, one warm-up step at batch 16 on a copy of the model (kernel
loading or compilation, lazy library state), and ``malloc_trim(0)``; the peak is reset to it
through ``/proc/self/clear_refs`` (Linux). So the figure counts what the steps add: activations
kept for backward, gradients, the optimiser's moments, workspaces and what the allocator holds
(target: convlab <= 1.2x PyTorch).

    python benchmarks/bench_train.py [--batches 50] [--rounds 2] [--resnet-steps 3] [--memory-steps 3]
                                     [--only step|epoch|resnet|memory]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import ctypes
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import timing
from torch_reference import TorchResNet18, torch_fmnist_cnn

import convlab
from convlab import models, optim
from convlab.backend import cpu_kernels
from convlab.data import DataLoader, Subset
from convlab.nn import functional as F
from convlab.optim import lr_scheduler
from convlab.recipes import RECIPES
from convlab.train import Trainer

BATCH = 128
EPOCH_STEPS = 430  # a Fashion-MNIST epoch: 55,000 training images in batches of 128
PARTS = ("step", "epoch", "resnet", "memory")


MODELS = {  # name: (convlab constructor, PyTorch twin, input shape of one image)
    "fmnist_cnn": (models.fmnist_cnn, torch_fmnist_cnn, (1, 28, 28)),
    "resnet18_cifar": (models.resnet18_cifar, lambda: TorchResNet18(num_classes=10, small_input=True), (3, 32, 32)),
}


def fashion_loader(count: int) -> DataLoader:
    """The training loader of ``convlab train`` (augmenting, prefetching) over ``count`` batches."""
    splits = RECIPES["fashion-mnist"].splits(seed=0)
    return DataLoader(Subset(splits["train"], np.arange(count * BATCH)), batch_size=BATCH, shuffle=True,
                      generator=np.random.default_rng(0))


def twins(name: str):
    """The convlab model and its PyTorch twin with the same initial weights, both in train mode."""
    build, build_torch, _ = MODELS[name]
    convlab.manual_seed(0)
    model = build()
    reference = build_torch()
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    return model.train(), reference.train()


def convlab_step(model):
    """One training step of ``model`` (cross-entropy, Adam): ``(step(x, y), optimizer)``."""
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.item())

    return step, opt


def torch_step(reference):
    """The same step in PyTorch."""
    opt = torch.optim.Adam(reference.parameters(), lr=1e-3)

    def step(x, y):
        loss = torch.nn.functional.cross_entropy(reference(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def best_of(rounds: int, runs: dict) -> dict:
    """Best wall time of each function, alternating them round by round (timing.py's method)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, fn in runs.items():
            time.sleep(timing.PAUSE_S)
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench_fmnist(args, parts) -> None:
    loader = fashion_loader(args.batches)
    batches = [(x.numpy(), y.numpy()) for x, y in loader]
    model, reference = twins("fmnist_cnn")
    (cl_step, opt), th_step = convlab_step(model), torch_step(reference)
    cl_batches = [(convlab.tensor(x), convlab.tensor(y)) for x, y in batches]
    th_batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    # the Trainer of `convlab train`: one epoch of the loader per fit() call, OneCycleLR per batch
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=3e-3, epochs=args.rounds + 2, steps_per_epoch=len(loader))
    trainer = Trainer(model, opt, loader, scheduler=scheduler, scheduler_step="batch", progress=True, verbose=False)

    def run_steps():
        with cpu_kernels.tuned():  # the CPU runtime settings the Trainer applies
            for x, y in cl_batches:
                cl_step(x, y)

    def run_loader():
        with cpu_kernels.tuned():
            for x, y in loader:
                cl_step(x, y)

    def run_torch():
        for x, y in th_batches:
            th_step(x, y)

    runs = {"step": run_steps, "torch": run_torch}
    if "epoch" in parts:
        runs.update(loader=run_loader, epoch=lambda: trainer.fit(trainer.epoch + 1))
    cl_step(*cl_batches[0]), th_step(*th_batches[0])  # warm-up: numba compilation, allocators, threads
    best = best_of(args.rounds, runs)
    per_step = {name: t / args.batches for name, t in best.items()}
    images = args.batches * BATCH

    def row(name, key, note=""):
        timing.report_row(f"fmnist_cnn train {name}", per_step[key], per_step["torch"],
                          f"{images / best[key]:.0f} vs {images / best['torch']:.0f} img/s; epoch of {EPOCH_STEPS} steps "
                          f"~{per_step[key] * EPOCH_STEPS:.0f} s vs {per_step['torch'] * EPOCH_STEPS:.0f} s{note}")

    row("step (target 1.0)", "step")
    if "epoch" in parts:
        row("loader", "loader", f"; loader/step {best['loader'] / best['step']:.3f}")
        row("epoch (Trainer)", "epoch", f"; epoch/step {best['epoch'] / best['step']:.3f} (target 1.05)")


def bench_resnet(args) -> None:
    model, reference = twins("resnet18_cifar")
    (cl_step, _), th_step = convlab_step(model), torch_step(reference)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    x_cl, y_cl, x_th, y_th = convlab.tensor(x), convlab.tensor(y), torch.from_numpy(x), torch.from_numpy(y)

    def run_convlab():
        with cpu_kernels.tuned():
            for _ in range(args.resnet_steps):
                cl_step(x_cl, y_cl)

    def run_torch():
        for _ in range(args.resnet_steps):
            th_step(x_th, y_th)

    cl_step(x_cl, y_cl), th_step(x_th, y_th)
    best = best_of(args.rounds, {"convlab": run_convlab, "torch": run_torch})
    t_cl, t_th = best["convlab"] / args.resnet_steps, best["torch"] / args.resnet_steps
    timing.report_row("resnet18_cifar train step (target 1.2)", t_cl, t_th,
                      f"{BATCH / t_cl:.0f} vs {BATCH / t_th:.0f} img/s")


# ---------------------------------------------------------------------------------------- memory
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_worker(library: str, name: str, steps: int) -> dict:
    """In a fresh process: the peak resident memory (MiB) of ``steps`` training steps (see the
    module docstring for the baseline)."""
    model, reference = twins(name)
    net = model if library == "convlab" else reference
    del model, reference
    shape = MODELS[name][2]
    rng = np.random.default_rng(0)

    def batch(n):
        x, y = rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, 10, n)
        return (convlab.tensor(x), convlab.tensor(y)) if library == "convlab" else (torch.from_numpy(x), torch.from_numpy(y))

    def run(net, x, y, count):
        step = convlab_step(net)[0] if library == "convlab" else torch_step(net)
        # convlab under the Trainer's runtime settings (tuned), PyTorch under its own
        with cpu_kernels.tuned() if library == "convlab" else contextlib.nullcontext():
            for _ in range(count):
                step(x, y)

    run(copy.deepcopy(net), *batch(16), 1)  # warm-up on a copy: kernels loaded or compiled, lazy state
    x, y = batch(BATCH)
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    baseline = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    run(net, x, y, steps)
    peak = _status_kib("VmHWM")
    return {"baseline_mib": baseline / 1024, "peak_mib": (peak - baseline) / 1024}


def bench_memory(args) -> None:
    print(f"{'case':<44} {'convlab MiB':>11} {'torch MiB':>10} {'ratio':>7}  extra")
    for name in MODELS:
        result = {}
        for library in ("convlab", "torch"):
            out = subprocess.run([sys.executable, __file__, "--memory-worker", library, name,
                                  "--memory-steps", str(args.memory_steps)],
                                 capture_output=True, text=True, check=True)
            result[library] = json.loads(out.stdout.strip().splitlines()[-1])
        cl, th = result["convlab"]["peak_mib"], result["torch"]["peak_mib"]
        print(f"{name + ' train step peak RSS (target 1.2)':<44} {cl:>11.1f} {th:>10.1f} {cl / th:>7.2f}  "
              f"batch {BATCH}, Adam; above a baseline of {result['convlab']['baseline_mib']:.0f} vs "
              f"{result['torch']['baseline_mib']:.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50, help="fmnist_cnn steps per timed slice")
    parser.add_argument("--rounds", type=int, default=2, help="alternations between the libraries")
    parser.add_argument("--resnet-steps", type=int, default=3, help="resnet18_cifar steps per timed unit")
    parser.add_argument("--memory-steps", type=int, default=3, help="training steps in a memory measurement")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--memory-worker", nargs=2, metavar=("LIBRARY", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        print(json.dumps(memory_worker(*args.memory_worker, args.memory_steps)))
        return
    parts = args.only or PARTS
    timing.report_header(f"training: fmnist_cnn {args.batches} steps of batch {BATCH} and resnet18_cifar "
                         f"{args.resnet_steps} steps of batch {BATCH} (Adam), train mode")
    if "step" in parts or "epoch" in parts:
        bench_fmnist(args, parts)
    if "resnet" in parts:
        bench_resnet(args)
    if "memory" in parts:
        bench_memory(args)


if __name__ == "__main__":
    main()
