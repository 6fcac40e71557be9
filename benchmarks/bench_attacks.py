"""PGD-10 on ``fmnist_cnn``: convlab.attacks vs torchattacks 3.5 on PyTorch CPU, same run.

One timed unit is one ``PGD(eps=0.1, alpha=0.025, steps=10)`` attack (random start) of a batch
of 256 Fashion-MNIST test images (random images if the dataset is absent), the model in eval mode
with the recipe's normalisation (``set_normalization_used``), the same weights in both libraries.
An attack is 10 forward + input-gradient passes. Target: at most 1.5x PyTorch's time.

Prints the CPU and the vector ISA each library uses, the best times and the ratio, and checks
first that both libraries produce the same adversarial images without the random start.

    python benchmarks/bench_attacks.py [--repeat 2] [--rounds 2]
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np
import torch
import torchattacks

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import timing
from torch_reference import torch_fmnist_cnn

import convlab
from convlab import attacks, models
from convlab.data import DataLoader
from convlab.recipes import RECIPES

BATCH = 256


def cpu_description() -> str:
    """The CPU's model name, and the vector ISA numba compiles convlab's kernels for and PyTorch's."""
    name = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    from convlab.ops import _conv_kernels

    convlab_isa = "AVX-512" if _conv_kernels.VECTOR_BYTES == 64 else "AVX2"
    return (f"{name}, {os.cpu_count()} cores; convlab kernels {convlab_isa}, "
            f"torch {torch.backends.cpu.get_cpu_capability()}")


def test_batch():
    """256 normalised test images and labels (NumPy), or random ones without the dataset."""
    recipe = RECIPES["fashion-mnist"]
    try:
        images, labels = next(iter(DataLoader(recipe.load(False, recipe.eval_transform()), batch_size=BATCH)))
        return images.numpy(), labels.numpy()
    except (FileNotFoundError, OSError):
        rng = np.random.default_rng(0)
        pixels = rng.uniform(0, 1, (BATCH, 1, 28, 28)).astype(np.float32)
        return (pixels - recipe.mean[0]) / recipe.std[0], rng.integers(0, 10, BATCH)


def main() -> None:
    args = timing.parse_args(__doc__.splitlines()[0])
    recipe = RECIPES["fashion-mnist"]
    convlab.manual_seed(0)
    model = models.fmnist_cnn().eval()
    reference = torch_fmnist_cnn().eval()
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    images, labels = test_batch()
    x_cl, y_cl = convlab.tensor(images), convlab.tensor(labels)
    x_th, y_th = torch.from_numpy(images), torch.from_numpy(labels)

    def make(random_start):
        ours = attacks.PGD(model, eps=0.1, alpha=0.025, steps=10, random_start=random_start)
        theirs = torchattacks.PGD(reference, eps=0.1, alpha=0.025, steps=10, random_start=random_start)
        for attack in (ours, theirs):
            attack.set_normalization_used(recipe.mean, recipe.std)
        return ours, theirs

    ours, theirs = make(random_start=False)
    same = np.mean(np.abs(ours(x_cl, y_cl).numpy() - theirs(x_th, y_th).numpy()) < 1e-4)
    ours, theirs = make(random_start=True)
    print(f"# {cpu_description()}")
    timing.report_header("PGD-10 (eps 0.1, alpha 0.025) on fmnist_cnn, batch 256, float32, eval mode")
    t_cl, t_th = timing.compare(lambda: ours(x_cl, y_cl), lambda: theirs(x_th, y_th), args.repeat, args.rounds)
    timing.report_row("PGD-10 fmnist_cnn batch 256", t_cl, t_th,
                      f"{BATCH / t_cl:.0f} vs {BATCH / t_th:.0f} img/s; same images (no random start): {same:.2%}")


if __name__ == "__main__":
    main()
