"""``convlab robustness CKPT`` and the ``--adversarial`` options of ``convlab train``.

::

    convlab robustness runs/<run>/best.safetensors                 # table + plots next to the checkpoint
    convlab robustness runs/<run>/best.safetensors --eps 0.05 0.1 0.2 --limit 2000
    convlab train --adversarial pgd --eps 0.1 --steps 7            # Madry et al.'s PGD training

A checkpoint's model takes normalised images (its recipe's mean and std); the attacks are told so
with ``set_normalization_used``, so ``eps`` is in pixel units of [0, 1] images, as in the papers.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .._argtypes import positive_float, positive_int

__all__ = ["add_adversarial_options", "add_robustness_command", "adversarial_config", "adversary_for_run",
           "robust_results", "run_robustness"]

ADVERSARIES = ("pgd", "fgsm")
EVAL_STEPS = 10  # PGD steps of the robust evaluation (Madry et al. evaluate with more steps than they train with)


# ---------------------------------------------------------------------------------- train --adversarial
def add_adversarial_options(parser) -> None:
    """Add ``--adversarial``, ``--eps``, ``--steps`` to ``convlab train``'s parser."""
    parser.add_argument("--adversarial", choices=ADVERSARIES, help="adversarial training: fit every batch's "
                        "adversarial examples (pgd: Madry et al.; fgsm: Goodfellow et al.); results.json then "
                        f"also records the PGD-{EVAL_STEPS} robust test accuracy")
    parser.add_argument("--eps", type=positive_float, default=0.1, help="the attack's L-infinity budget in pixel "
                        "units of [0, 1] images (default 0.1)")
    parser.add_argument("--steps", type=positive_int, default=7, help="PGD steps per batch, step size 2.5 eps / "
                        "steps (default 7)")
    parser.add_argument("--robust-eval", type=positive_int, metavar="N", help="measure the robust test accuracy on "
                        "the first N test images only (default: all; PGD-10 costs 11 passes per image)")


def adversarial_config(args) -> dict:
    """The run's adversarial settings (stored in its config; empty when not adversarial)."""
    if getattr(args, "adversarial", None) is None:
        return {}
    return {"adversarial": args.adversarial, "eps": args.eps, "steps": args.steps, "robust_eval": args.robust_eval}


def adversary_for_run(config: dict, model, recipe):
    """The training attack a run's config asks for (None without ``adversarial``)."""
    from .gradient import FGSM
    from .robustness import madry_pgd

    kind = config.get("adversarial")
    if kind is None:
        return None
    normalization = (recipe.mean, recipe.std)
    if kind == "pgd":
        return madry_pgd(model, eps=config["eps"], steps=config["steps"], normalization=normalization)
    attack = FGSM(model, eps=config["eps"])
    attack.set_normalization_used(*normalization)
    return attack


def robust_results(model, splits: dict, config: dict, recipe, progress: bool = True) -> dict:
    """For an adversarially trained run: the PGD-10 robust accuracy on the test split (its first
    ``robust_eval`` images if set) at the training ``eps`` (``test_robust_accuracy``), the number
    of images and the attack's description."""
    from ..data import DataLoader, Subset
    from .robustness import madry_pgd, robust_accuracy

    if config.get("adversarial") is None:
        return {}
    test = splits["test"]
    if config.get("robust_eval") is not None:
        test = Subset(test, np.arange(min(config["robust_eval"], len(test))))
    attack = madry_pgd(model, eps=config["eps"], steps=EVAL_STEPS, normalization=(recipe.mean, recipe.std))
    accuracy = robust_accuracy(model, DataLoader(test, batch_size=256), attack, progress=progress)
    return {"test_robust_accuracy": accuracy, "robust_test_images": len(test),
            "robust_attack": f"PGD-{EVAL_STEPS} eps={config['eps']:g} alpha={attack.alpha:g} random start"}


# ---------------------------------------------------------------------------------- robustness
def add_robustness_command(subparsers) -> None:
    """Add ``robustness CKPT``: clean accuracy, FGSM and PGD at a few eps, corruptions (and seed
    000's modulation probe on the orientation dataset), as a table and PNG plots."""
    parser = subparsers.add_parser(
        "robustness", help="accuracy of a checkpoint under attacks and corruptions",
        description="Measure a checkpoint of convlab train on its test split: clean accuracy, FGSM and "
        f"PGD-{EVAL_STEPS} (step 2.5 eps / steps, random start) robust accuracy at each --eps (pixel units), six "
        "corruptions at five severities, and on the orientation dataset seed 000's modulation probe. Prints "
        "the table; writes robustness.json and robustness_*.png.")
    parser.add_argument("checkpoint", help="best.safetensors of a run")
    parser.add_argument("--eps", type=positive_float, nargs="+", default=[0.05, 0.1], help="attack budgets "
                        "(default 0.05 0.1)")
    parser.add_argument("--steps", type=positive_int, default=EVAL_STEPS, help=f"PGD steps (default {EVAL_STEPS})")
    parser.add_argument("--limit", type=positive_int, help="use only the first N test images")
    parser.add_argument("--out", help="folder for the JSON and plots (default: the checkpoint's folder)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_robustness)


def _test_pixels(recipe, root, limit):
    """The test split as pixel-space float32 arrays ``(N, C, H, W)`` in [0, 1] and int labels."""
    from ..data import DataLoader, Subset
    from ..data import transforms as T

    dataset = recipe.load(False, T.ToTensor(), root)
    if limit is not None:
        dataset = Subset(dataset, np.arange(min(limit, len(dataset))))
    batches = list(DataLoader(dataset, batch_size=1024))
    return (np.concatenate([b[0].numpy() for b in batches]), np.concatenate([b[1].numpy() for b in batches]))


def run_robustness(args) -> int:
    from ..cli import _load_run
    from ..tensor import Tensor
    from . import probes
    from .gradient import FGSM
    from .robustness import madry_pgd, plot_robustness_curves, robustness_curve

    try:
        model, recipe, config = _load_run(args.checkpoint)
        images, labels = _test_pixels(recipe, args.data_root, args.limit)
    except (OSError, ValueError) as error:
        print(f"convlab robustness: {error}", file=sys.stderr)
        return 2
    out_dir = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
    os.makedirs(out_dir, exist_ok=True)
    progress = not args.no_progress
    normalization = (recipe.mean, recipe.std)
    mean, std = (np.asarray(v, np.float32).reshape(1, -1, 1, 1) for v in normalization)
    normalized = (images - mean) / std
    loader = [(Tensor(normalized[i:i + 256]), Tensor(labels[i:i + 256])) for i in range(0, len(labels), 256)]
    corruptions = probes.corruption_sweep(model, images, labels, normalization=normalization, progress=progress,
                                          path=os.path.join(out_dir, "robustness_corruptions.png"))
    clean = {0.0: corruptions["clean"]}  # eps = 0: the clean accuracy, the curves' first point
    attacks = {"FGSM": {**clean, **robustness_curve(model, loader, FGSM, args.eps, normalization=normalization,
                                                    progress=progress)},
               f"PGD-{args.steps}": {**clean, **robustness_curve(
                   model, loader, lambda model, eps: madry_pgd(model, eps=eps, steps=args.steps), args.eps,
                   normalization=normalization, progress=progress)}}
    plot_robustness_curves(attacks, os.path.join(out_dir, "robustness_attacks.png"),
                           title=f"{config['model']} on {recipe.name} test")
    report = {"model": config["model"], "dataset": recipe.name, "images": len(labels),
              "clean_accuracy": corruptions["clean"],
              "attacks": {name: {f"{eps:g}": acc for eps, acc in curve.items()} for name, curve in attacks.items()},
              "pgd": {"steps": args.steps, "alpha": "2.5 * eps / steps", "random_start": True},
              "corruptions": {k: v for k, v in corruptions.items() if k != "clean"},
              "corruption_parameters": probes.CORRUPTIONS}
    if recipe.modulate is not None:
        frequencies = [round(f, 4) for f in np.linspace(0, 0.5, 11)]
        report["modulation"] = {f"{f:g}": acc for f, acc in probes.modulation_probe(
            model, images, labels, frequencies, angle=recipe.modulate[1], normalization=normalization,
            show_frequency=recipe.modulate[0], class_names=recipe.classes,
            path=os.path.join(out_dir, "robustness_modulation.png")).items()}

    from ..train import write_text

    write_text(os.path.join(out_dir, "robustness.json"), json.dumps(report, indent=1) + "\n")
    _print_table(report, args.steps)
    print(f"Wrote {out_dir}/: robustness.json, robustness_attacks.png, robustness_corruptions.png"
          + (", robustness_modulation.png" if "modulation" in report else ""))
    return 0


def _print_table(report: dict, steps: int) -> None:
    print(f"{report['model']} on {report['dataset']} test, {report['images']} images "
          f"(eps in pixel units of [0, 1] images; PGD-{steps}: step 2.5 eps / {steps}, random start)")
    print(f"  {'clean':<26} {report['clean_accuracy']:>7.2%}")
    for name, curve in report["attacks"].items():
        for eps, accuracy in curve.items():
            if float(eps) > 0:
                print(f"  {name + ' eps=' + eps:<26} {accuracy:>7.2%}")
    print(f"  {'corruption':<26} " + " ".join(f"{'s' + str(s):>7}" for s in range(1, 6)))
    for name, accuracies in report["corruptions"].items():
        print(f"  {name:<26} " + " ".join(f"{a:>7.2%}" for a in accuracies))
    if "modulation" in report:
        print("  modulation (seed 000)      " + "  ".join(f"f={f}: {a:.1%}" for f, a in report["modulation"].items()))
