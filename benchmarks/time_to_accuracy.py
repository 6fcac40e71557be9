"""Time to accuracy, convlab against PyTorch in the same run: a named recipe of ``convlab train``
(default ``--recipe fast``: 93.5% test accuracy on Fashion-MNIST) trained by both libraries.

The same job on both sides, as far as the two libraries allow:

- the settings are those ``convlab train --recipe NAME`` resolves (``convlab.cli._train_config``),
  so the two cannot drift apart;
- the same initial weights: convlab's network is built with the run's seed, as ``convlab train``
  builds it, and its ``state_dict`` is copied into the torch twin (``tests/torch_reference.py``);
- the same batches in the same order with the same augmentation: both train on batches of one
  convlab ``DataLoader`` per library, seeded identically (its prefetch thread builds the next
  batch while either library computes); torch gets them with ``torch.from_numpy``;
- the same optimiser (Adam), per-batch OneCycleLR, label-smoothed cross-entropy, epochs, and the
  same test: once at the end, the logits of each image and its mirror averaged.

Each library's clock starts when its training starts (the dataset files, read once, are shared;
reading them takes about a second) and stops when its test accuracy is known; that is
``convlab train``'s ``time_to_test_seconds`` without the checkpoints and plots it writes after
every epoch. convlab runs its training inside the Trainer (``cpu_kernels.tuned()``), PyTorch with
``torch.set_num_threads(--threads)``; run it on a quiet machine, e.g. the 2-core reference run::

    python benchmarks/time_to_accuracy.py                       # both libraries, the fast recipe
    taskset -c 1 env NUMBA_NUM_THREADS=1 python benchmarks/time_to_accuracy.py --threads 1 --epochs 1 --limit 2048
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import timing
from torch_reference import torch_fmnist_cnn, torch_fmnist_cnn_fast

import convlab
from convlab.cli import _optimizer, _recipe, _scheduler, _train_config, build_parser, training_loss
from convlab.data import DataLoader
from convlab.recipes import TRAINING_RECIPES, build_model
from convlab.train import Trainer, evaluate

TORCH_TWINS = {"fmnist_cnn": torch_fmnist_cnn, "fmnist_cnn_fast": torch_fmnist_cnn_fast}


def train_convlab(model, config, splits) -> tuple[float, float, list]:
    """``(test accuracy, seconds, per-epoch seconds)``: the Trainer's loop, then the test."""
    started = time.perf_counter()
    loader = DataLoader(splits["train"], batch_size=config["batch_size"], shuffle=True,
                        generator=np.random.default_rng(config["seed"]))
    optimizer = _optimizer(config, model.parameters())
    scheduler, step = _scheduler(config, optimizer, len(loader))
    trainer = Trainer(model, optimizer, loader, scheduler=scheduler, scheduler_step=step,
                      loss_fn=training_loss(config), progress=False, verbose=False)
    trainer.fit(config["epochs"])
    test = evaluate(model, DataLoader(splits["test"], batch_size=512), flip=config.get("tta_flip", False))
    return test["accuracy"], time.perf_counter() - started, [row["seconds"] for row in trainer.history]


def train_torch(model, config, splits) -> tuple[float, float, list]:
    """The same job in PyTorch, on the batches of an identically seeded convlab DataLoader."""
    started = time.perf_counter()
    loader = DataLoader(splits["train"], batch_size=config["batch_size"], shuffle=True,
                        generator=np.random.default_rng(config["seed"]))
    if config["optimizer"] != "adam" or config["scheduler"] != "onecycle":
        raise ValueError(f"time_to_accuracy: the torch side implements Adam + OneCycleLR only, the recipe has "
                         f"{config['optimizer']} + {config['scheduler']}")
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config["lr"], epochs=config["epochs"],
                                                    steps_per_epoch=len(loader))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.get("label_smoothing", 0.0))
    epoch_seconds = []
    for _ in range(config["epochs"]):
        epoch_started = time.perf_counter()
        model.train()
        for inputs, labels in loader:
            loss = loss_fn(model(torch.from_numpy(inputs.numpy())), torch.from_numpy(labels.numpy()))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        epoch_seconds.append(time.perf_counter() - epoch_started)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in DataLoader(splits["test"], batch_size=512):
            x = torch.from_numpy(inputs.numpy())
            logits = model(x)
            if config.get("tta_flip"):
                logits = (logits + model(x.flip(-1))) * 0.5
            correct += int((logits.argmax(1).numpy() == labels.numpy()).sum())
            total += len(labels)
    return correct / total, time.perf_counter() - started, epoch_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(TRAINING_RECIPES), default="fast")
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs (quick checks)")
    parser.add_argument("--limit", type=int, help="train on only this many images (quick checks)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="torch threads (default: the CPUs this process may use)")
    parser.add_argument("--only", choices=("convlab", "torch"), help="time one library only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    argv = ["train", "--recipe", args.recipe] + ([] if args.epochs is None else ["--epochs", str(args.epochs)])
    config = _train_config(build_parser().parse_args(argv + ([] if args.limit is None else ["--limit", str(args.limit)])))
    recipe = _recipe(config)
    splits = recipe.splits(seed=config["seed"], augment=config["augment"], limit=config["limit"],
                           val_size=config.get("val_size"), random_erasing=config.get("random_erasing", 0.0))
    convlab.manual_seed(config["seed"])
    model = build_model(config["model"], recipe)  # the initial weights of `convlab train --recipe NAME`
    twin = TORCH_TWINS[config["model"]]()
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})

    print(f"# time to accuracy: convlab train --recipe {args.recipe} ({config['model']}, {config['epochs']} epochs of "
          f"{len(splits['train'])} images, batch {config['batch_size']})")
    print(f"# CPU: {timing.cpu_description()}; torch threads {torch.get_num_threads()}, numba threads "
          f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}")
    target = config.get("target_accuracy")
    results = {}
    for name, train in (("convlab", train_convlab), ("torch", train_torch)):
        if args.only in (None, name):
            accuracy, seconds, epochs = train(model if name == "convlab" else twin, config, splits)
            results[name] = seconds
            reached = "" if target is None else f"; target {target:.1%} {'reached' if accuracy >= target else 'NOT reached'}"
            print(f"{name:8s} test accuracy {accuracy:.2%} after {seconds:.1f} s ({seconds / 60:.2f} min){reached}; "
                  f"epochs {', '.join(f'{s:.1f}' for s in epochs)} s", flush=True)
    if len(results) == 2:
        print(f"time to accuracy, convlab / torch: {results['convlab'] / results['torch']:.2f}")


if __name__ == "__main__":
    main()
