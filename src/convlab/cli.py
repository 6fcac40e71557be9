"""The ``convlab`` command: ``train``, ``eval``, ``predict``, ``summary``, ``receptive-field``, ``export``.

Each subcommand is added to the parser by one ``add_*_command(subparsers)`` function that sets
``func`` (the function running it, returning the exit status); :data:`COMMANDS` lists them, so a
new subcommand is one function plus one entry there.

Examples::

    convlab train                                   # fmnist_cnn on Fashion-MNIST, ~93.5%
    convlab train --recipe fast                     # 93.5% in under 10 minutes (docs/training.md)
    convlab train --model mlp --epochs 10           # the MLP baseline
    convlab train --dataset orientation             # seed 000's line-orientation CNN
    convlab train --resume runs/<run>/last.safetensors
    convlab eval runs/<run>/best.safetensors
    convlab robustness runs/<run>/best.safetensors    # attacks, corruptions (see docs/robustness.md)
    convlab predict runs/<run>/best.safetensors shoe.png --invert
    convlab summary fmnist_cnn
    convlab receptive-field fmnist_cnn
    convlab export runs/<run>/best.safetensors --format onnx --out model.onnx
    convlab compress prune runs/<run>/best.safetensors --sparsity 0.5,0.8,0.9 --finetune-epochs 1
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time

import numpy as np

from ._argtypes import non_negative_float, non_negative_int, positive_float, positive_int
from .attacks import commands as attack_commands
from .backend import cpu_kernels
from .compress.schedule import add_compress_command
from .explain.report import add_explain_command
from .models.commands import add_receptive_field_command, add_summary_command
from .onnx.commands import add_export_command
from .recipes import RECIPES, TRAINING_RECIPES, build_model

__all__ = ["main"]

OPTIMIZERS = ("adam", "adamw", "sgd")
CONFIG_KEYS = ("model", "dataset", "epochs", "batch_size", "lr", "optimizer", "scheduler", "weight_decay", "augment",
               "patience", "limit", "seed")  # a run's settings, stored in its checkpoints (see _train_config)
SCHEDULERS = ("onecycle", "cosine", "none")


# ---------------------------------------------------------------------------------- train
def add_train_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model (default: the seed-004 CNN on Fashion-MNIST)",
        description="Train a classifier and write checkpoints, metrics (CSV/JSON) and plots to --out. "
        "Defaults reproduce seed 004: fmnist_cnn on Fashion-MNIST, about 93.5% test accuracy. "
        "Options left out take the dataset's defaults (see convlab.recipes).")
    parser.add_argument("--model", help="a model of convlab.models: fmnist_cnn, mlp, orientation_cnn, ... "
                        "(default: the dataset's)")
    parser.add_argument("--dataset", choices=sorted(RECIPES), default="fashion-mnist",
                        help="default fashion-mnist")
    parser.add_argument("--epochs", type=positive_int, help="total epochs (fashion-mnist: 20)")
    parser.add_argument("--batch-size", type=positive_int, help="fashion-mnist: 128")
    parser.add_argument("--lr", type=positive_float, help="learning rate; the maximum of OneCycleLR (fashion-mnist: "
                        "3e-3)")
    parser.add_argument("--recipe", choices=sorted(TRAINING_RECIPES), help="a named set of training choices "
                        "over the dataset's defaults: 'fast' reaches 93.5%% on Fashion-MNIST in under 10 minutes "
                        "on 2 cores, 'accurate' 95%% in under an hour (see docs/training.md); options given here still win")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default adam")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default="onecycle", help="default onecycle")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.0, help="default 0")
    parser.add_argument("--no-augment", action="store_true", help="train without random shifts and flips")
    parser.add_argument("--label-smoothing", type=non_negative_float, help="cross-entropy label smoothing in "
                        "[0, 1] (default 0; --recipe fast: 0.1)")
    parser.add_argument("--val-size", type=non_negative_int, help="training images held out for validation "
                        "after every epoch; 0 trains on all of them (fashion-mnist: 5000; --recipe fast: 0)")
    parser.add_argument("--tta-flip", action="store_true", default=None, help="test on each image and its mirror image, "
                        "averaging the logits (on with --recipe fast)")
    parser.add_argument("--random-erasing", type=non_negative_float, metavar="P", help="erase a random rectangle "
                        "of a training image with probability P in [0, 1] (transforms.RandomErasing; default 0; "
                        "--recipe accurate: 0.5)")
    parser.add_argument("--patience", type=positive_int, help="early stopping: epochs without a better validation "
                        "accuracy (default: off)")
    parser.add_argument("--limit", type=positive_int, help="use only this many training images (quick runs)")
    parser.add_argument("--out", help="output folder (default runs/<date>-<time>-<model>)")
    parser.add_argument("--resume", metavar="CKPT", help="continue a run exactly from its last.safetensors "
                        "(its settings are reused; --epochs may change only without a schedule); bit-for-bit "
                        "on any numba thread count, given the same CPU features, CONVLAB_KERNELS and "
                        "CONVLAB_BLAS_THREADS")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="default 0")
    parser.add_argument("--data-root", help="folder with the dataset files (default: $CONVLAB_DATA or the system "
                        "location)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--init-from", metavar="CKPT", help="transfer learning: start from a trained checkpoint's "
                        "weights (its model; a head of another shape stays new; images resized to its input size)")
    parser.add_argument("--freeze", metavar="PREFIXES", help="comma-separated module names whose parameters are not "
                        "trained; 'features' is the feature extractor (see convlab.transfer)")
    parser.add_argument("--pretrained-lr-scale", type=positive_float, help="with --init-from: the loaded layers' "
                        "learning rate as a fraction of --lr (default 1)")
    parser.add_argument("--image-size", type=positive_int, help="resize the dataset's images to this square size")
    attack_commands.add_adversarial_options(parser)
    parser.set_defaults(func=run_train)


def _train_config(args) -> dict:
    """The run's settings: the command line over the dataset's defaults, or a resumed run's."""
    if args.resume:
        config = _load_checkpoint(args.resume)["config"]
        if args.epochs is not None and args.epochs != config["epochs"]:
            if config["scheduler"] != "none":
                raise ValueError(f"--epochs cannot change when resuming a run with the {config['scheduler']} "
                                 f"schedule (planned for {config['epochs']} epochs)")
            config["epochs"] = args.epochs
        return config
    recipe = RECIPES[args.dataset]
    preset = TRAINING_RECIPES[args.recipe] if args.recipe else None
    if preset is not None and preset.dataset != args.dataset:
        raise ValueError(f"--recipe {args.recipe} is for --dataset {preset.dataset}, not {args.dataset}")
    for option in ("label_smoothing", "random_erasing"):
        if getattr(args, option) is not None and getattr(args, option) > 1:
            raise ValueError(f"--{option.replace('_', '-')} must be in [0, 1], got {getattr(args, option)}")

    def given_or_default(value, default):  # `is None`, not `or`: a given 0 must not become the default
        return default if value is None else value

    source = _load_checkpoint(args.init_from)["config"] if args.init_from else {}
    image_size = args.image_size and (args.image_size, args.image_size)
    if source and image_size is None:  # the source network's input size
        image_size = _recipe(source).image_size[1:]

    def chosen(key, default):  # the command line, else the named recipe's setting, else the dataset's default
        preset_value = None if preset is None else getattr(preset, key)
        return given_or_default(getattr(args, key), given_or_default(preset_value, default))

    config = {
        "model": chosen("model", source.get("model", recipe.model)), "dataset": args.dataset,
        "epochs": chosen("epochs", recipe.epochs), "batch_size": chosen("batch_size", recipe.batch_size),
        "lr": chosen("lr", recipe.lr), "optimizer": chosen("optimizer", "adam"), "scheduler": args.scheduler,
        "weight_decay": args.weight_decay, "augment": not args.no_augment, "patience": args.patience,
        "limit": args.limit, "seed": args.seed, **attack_commands.adversarial_config(args),
    }  # fmt: skip
    # transfer learning's settings, stored only when used (older checkpoints have none of them)
    optional = {"init_from": args.init_from, "freeze": args.freeze, "pretrained_lr_scale": args.pretrained_lr_scale,
                "image_size": None if image_size is None else list(image_size)}  # fmt: skip
    # the time-to-accuracy settings, likewise stored only when they differ from the plain defaults
    optional.update(recipe=args.recipe, label_smoothing=chosen("label_smoothing", 0.0) or None,
                    val_size=chosen("val_size", None), tta_flip=chosen("tta_flip", False) or None,
                    random_erasing=chosen("random_erasing", 0.0) or None,
                    target_accuracy=None if preset is None else preset.target_accuracy)
    config.update((key, value) for key, value in optional.items() if value is not None)
    return config


def _recipe(config):
    """The run's recipe: its dataset's, with the images resized when the run chose a size."""
    recipe = RECIPES[config["dataset"]]
    return recipe.resized(config["image_size"]) if config.get("image_size") else recipe


def _optimizer(config, parameters):
    from . import optim

    lr, weight_decay = config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    cls = optim.Adam if config["optimizer"] == "adam" else optim.AdamW
    return cls(parameters, lr=lr, weight_decay=weight_decay)


def _scheduler(config, optimizer, steps_per_epoch):
    """``(scheduler, "batch" | "epoch")``."""
    from .optim import lr_scheduler

    if config["scheduler"] == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=[group["lr"] for group in optimizer.param_groups],
                                       epochs=config["epochs"],
                                       steps_per_epoch=steps_per_epoch), "batch"
    if config["scheduler"] == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"]), "epoch"
    return None, "epoch"


def training_loss(config):
    """The run's loss: ``cross_entropy(logits, labels, label_smoothing=...)`` with the config's
    label smoothing (0 when it has none), as ``torch.nn.CrossEntropyLoss(label_smoothing=)``."""
    from .nn import functional as F

    return functools.partial(F.cross_entropy, label_smoothing=config.get("label_smoothing", 0.0))


def run_train(args) -> int:
    import convlab

    from . import distributed, plots, transfer
    from .data import DataLoader, DistributedSampler
    from .train import Trainer, evaluate, write_text

    run_started = time.perf_counter()  # time to accuracy counts data loading, training and the test
    try:
        config = _train_config(args)
    except (OSError, ValueError) as error:
        print(f"convlab train: {error}", file=sys.stderr)
        return 2
    recipe = _recipe(config)
    out_dir = args.out or (os.path.dirname(os.path.abspath(args.resume)) if args.resume else
                           os.path.join("runs", time.strftime("%Y%m%d-%H%M%S") + f"-{config['model']}"))
    try:
        splits = recipe.splits(seed=config["seed"], augment=config["augment"], root=args.data_root,
                               limit=config["limit"], val_size=config.get("val_size"),
                               random_erasing=config.get("random_erasing", 0.0))
        convlab.manual_seed(config["seed"])
        model = build_model(config["model"], recipe)
        parameters = transfer.prepare(model, config["lr"], config.get("init_from"), config.get("freeze"),
                                      config.get("pretrained_lr_scale", 1.0), load_weights=not args.resume)
    except (FileNotFoundError, ValueError) as error:
        print(f"convlab train: {error}", file=sys.stderr)
        return 2
    sampler = None
    if distributed.is_mpi_launch():  # mpiexec -n N: each process trains on its shard (the Trainer wraps the model)
        distributed.init_process_group(backend="mpi")
        sampler = DistributedSampler(splits["train"], seed=config["seed"])
    train_loader = DataLoader(splits["train"], batch_size=config["batch_size"], shuffle=sampler is None,
                              generator=np.random.default_rng(config["seed"]), sampler=sampler)
    val_loader = DataLoader(splits["val"], batch_size=512) if "val" in splits else None
    loss_fn = training_loss(config)
    optimizer = _optimizer(config, parameters)
    scheduler, scheduler_step = _scheduler(config, optimizer, len(train_loader))
    trainer = Trainer(model, optimizer, train_loader, val_loader, scheduler=scheduler, scheduler_step=scheduler_step,
                      loss_fn=loss_fn, out_dir=out_dir, patience=config["patience"], class_names=recipe.classes, config=config,
                      progress=not args.no_progress, adversary=attack_commands.adversary_for_run(config, model, recipe))
    if args.resume:
        try:
            trainer.resume(args.resume)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            print(f"convlab train: cannot resume from '{args.resume}': {_one_line(error)}", file=sys.stderr)
            return 2
    if trainer.rank == 0:
        print(f"convlab train: {config['model']} on {recipe.name} ({len(splits['train'])} training, "
              f"{len(splits.get('val', ()))} validation images), {config['epochs']} epochs -> {out_dir}")
    started = time.perf_counter()
    try:
        trainer.fit(config["epochs"])
    except FloatingPointError as error:
        print(f"convlab train: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, nothing saved for the unfinished step
        print(f"\nconvlab train: interrupted twice: stopped without saving the unfinished step; the last checkpoint "
              f"in {out_dir} (if any) is intact", file=sys.stderr)
        return 130
    if trainer.interrupted:
        return 130
    if trainer.rank != 0:  # the other processes of a distributed run are done; rank 0 tests and reports
        return 0
    results = {"model": config["model"], "dataset": recipe.name, "epochs": trainer.epoch,
               "train_seconds": round(time.perf_counter() - started, 1)}
    if val_loader is not None:  # the best validated epoch; without validation, the last one
        model.load_state_dict(convlab.load(os.path.join(out_dir, "best.safetensors"))["model"])
        results["best_epoch"] = max(trainer.history, key=lambda row: row["val_accuracy"])["epoch"]
        results["val_accuracy"] = trainer.best
    for split in [name for name in splits if name.startswith("test")]:
        metrics = evaluate(model, DataLoader(splits[split], batch_size=512), progress=not args.no_progress,
                           flip=config.get("tta_flip", False))
        plots.plot_confusion_matrix(metrics["targets"], metrics["predictions"],
                                    os.path.join(out_dir, f"confusion_matrix_{split}.png"),
                                    class_names=recipe.classes, title=f"{recipe.name} {split}")
        results[f"{split}_accuracy"], results[f"{split}_loss"] = metrics["accuracy"], metrics["loss"]
        if split == "test":  # time to accuracy: from the start of the run to the test accuracy known
            results["time_to_test_seconds"] = round(time.perf_counter() - run_started, 1)
    results.update(attack_commands.robust_results(model, splits, config, recipe, progress=not args.no_progress))
    write_text(os.path.join(out_dir, "results.json"), json.dumps(results, indent=1) + "\n")
    tests = ", ".join(f"{k} {v:.2%}" for k, v in results.items() if k.endswith("accuracy"))
    best_epoch = f" (best epoch {results['best_epoch']})" if "best_epoch" in results else ""
    print(f"Done in {results['train_seconds']:.0f} s: {tests}{best_epoch}.\n"
          f"Results in {out_dir}/: best.safetensors, last.safetensors, history.csv/json, curves.png, "
          f"confusion_matrix*.png, results.json")
    if config.get("target_accuracy"):
        target, minutes = config["target_accuracy"], results["time_to_test_seconds"] / 60
        print(f"Time to accuracy: {results['test_accuracy']:.2%} test accuracy"
              f"{' (flip-averaged)' if config.get('tta_flip') else ''} {minutes:.1f} min after the start "
              f"(data, training, test); target {target:.1%}: {'reached' if results['test_accuracy'] >= target else 'NOT reached'}")
    return 0


# ---------------------------------------------------------------------------------- eval / predict
def _one_line(error) -> str:
    """An exception's message on one line (``load_state_dict`` lists its problems one per line)."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _load_checkpoint(path) -> dict:
    """A checkpoint written by ``convlab train``, its ``config`` checked; ValueError/OSError otherwise."""
    import convlab

    state = convlab.load(path)
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise ValueError(f"'{path}' is not a checkpoint written by convlab train (no config/model entries)")
    config = state["config"]
    if not isinstance(config, dict):
        raise ValueError(  # noqa: TRY004  (a damaged file, not a wrong argument type)
            f"'{path}' has a damaged config: expected a dict of the run's settings, got "
            f"{type(config).__name__}")
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        raise ValueError(f"'{path}' has a damaged config: no {', '.join(map(repr, missing))} "
                         f"(convlab train stores {', '.join(CONFIG_KEYS)})")
    if not isinstance(config["model"], str):
        raise ValueError(  # noqa: TRY004  (a damaged file, not a wrong argument type)
            f"'{path}' has a damaged config: 'model' must be a model name, got {config['model']!r}")
    if config["dataset"] not in RECIPES:
        raise ValueError(f"'{path}' was trained on an unknown dataset {config['dataset']!r} (expected one of "
                         f"{', '.join(sorted(RECIPES))})")
    return state


def _load_run(path):
    """``(model in eval mode, recipe, config)`` from a checkpoint written by ``convlab train``.

    Raises:
        OSError: the file cannot be read (missing, a directory, ...).
        ValueError: it is not such a checkpoint, or its weights do not fit the model its config
            names (the message is one line).
    """
    state = _load_checkpoint(path)
    config = state["config"]
    recipe = _recipe(config)
    model = build_model(config["model"], recipe)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"'{path}': its weights do not fit the model its config names ({config['model']!r} for "
                         f"{recipe.name}): {_one_line(error)}") from None
    model.eval()
    return model, recipe, config


def add_eval_command(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="accuracy of a trained checkpoint on a dataset split",
                                   description="Evaluate a checkpoint of convlab train on its dataset.")
    parser.add_argument("checkpoint", help="best.safetensors or last.safetensors of a run")
    parser.add_argument("--split", choices=("test", "val", "test_modulated"), default="test", help="default test")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--confusion", metavar="PNG", help="also draw the confusion matrix to this file")
    parser.set_defaults(func=run_eval)


def run_eval(args) -> int:
    from .train import evaluate

    try:
        model, recipe, config = _load_run(args.checkpoint)
        splits = recipe.splits(seed=config["seed"], root=args.data_root, val_size=config.get("val_size"))
        if args.split not in splits:
            raise ValueError(f"the {recipe.name} dataset has no split {args.split!r} (it has {', '.join(splits)})")
    except (OSError, ValueError) as error:
        print(f"convlab eval: {error}", file=sys.stderr)
        return 2
    from .data import DataLoader

    metrics = evaluate(model, DataLoader(splits[args.split], batch_size=512))
    print(f"{config['model']} on {recipe.name} {args.split}: accuracy {metrics['accuracy']:.2%}, "
          f"loss {metrics['loss']:.4f} ({len(metrics['targets'])} images)")
    per_class = [np.mean(metrics["predictions"][metrics["targets"] == c] == c) for c in range(len(recipe.classes))]
    for name, accuracy in zip(recipe.classes, per_class):
        print(f"  {name:<14} {accuracy:.2%}")
    if args.confusion:
        from . import plots

        plots.plot_confusion_matrix(metrics["targets"], metrics["predictions"], args.confusion,
                                    class_names=recipe.classes, title=f"{recipe.name} {args.split}")
    return 0


def add_predict_command(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="classify image files with a trained checkpoint",
                                   description="Classify images (PNG, JPEG, ...): converted to grayscale, "
                                   "resized to the model's input size, normalised like the training data.")
    parser.add_argument("checkpoint", help="best.safetensors of a run")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--top-k", type=positive_int, default=3, help="classes shown per image (default 3)")
    parser.add_argument("--invert", action="store_true", help="invert the gray levels (Fashion-MNIST objects are "
                        "light on a black background; photos usually are dark on white)")
    parser.set_defaults(func=run_predict)


def _read_image(path, width, height, invert) -> np.ndarray:
    """The image file ``path`` as uint8 grayscale ``(height, width)``; ValueError naming the file."""
    from PIL import Image, UnidentifiedImageError

    if os.path.isdir(path):
        raise ValueError(f"'{path}' is a directory, expected an image file (PNG, JPEG, ...)")
    if not os.path.exists(path):
        raise ValueError(f"no such image file: '{path}'")
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L").resize((width, height), Image.BILINEAR), dtype=np.uint8)
    except UnidentifiedImageError:
        raise ValueError(f"'{path}' is not an image file Pillow can read (PNG, JPEG, ...)") from None
    except OSError as error:
        raise ValueError(f"cannot read the image '{path}': {error.strerror or error}") from None
    return 255 - pixels if invert else pixels


def run_predict(args) -> int:
    from .autograd import no_grad
    from .creation import as_tensor
    from .nn import functional as F

    try:
        model, recipe, _ = _load_run(args.checkpoint)
        height, width = recipe.image_size[1:]
        images = []
        for path in args.images:
            images.append(_read_image(path, width, height, args.invert))
    except (OSError, ValueError) as error:
        print(f"convlab predict: {error}", file=sys.stderr)
        return 2
    batch = as_tensor(recipe.eval_transform().batch(np.stack(images)))
    with no_grad():
        probabilities = F.softmax(model(batch), dim=1).numpy()
    k = max(1, min(args.top_k, len(recipe.classes)))
    for path, p in zip(args.images, probabilities):
        best = np.argsort(-p)[:k]
        print(f"{path}: " + ", ".join(f"{recipe.classes[c]} {p[c]:.1%}" for c in best))
    return 0


# ---------------------------------------------------------------------------------- entry point
COMMANDS = (add_train_command, add_eval_command, add_predict_command, add_summary_command,
            add_receptive_field_command, add_export_command, attack_commands.add_robustness_command,
            add_compress_command, add_explain_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convlab", description="Convolutional networks from first principles: "
                                     "train, evaluate, predict, and inspect models.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv=None) -> int:
    """Run the ``convlab`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    with cpu_kernels.tuned():  # the CPU runtime settings, for the command's duration only
        return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
