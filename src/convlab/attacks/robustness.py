"""Measuring robustness: accuracy under attack, accuracy per attack budget (with a plot), and
the pieces of adversarial training that ``convlab train --adversarial`` uses.

Example::

    >>> from convlab import attacks
    >>> attack = attacks.PGD(model, eps=0.1, alpha=0.025, steps=10)
    >>> attack.set_normalization_used(mean=[0.2860], std=[0.3530])   # the loader yields normalised images
    >>> attacks.robust_accuracy(model, test_loader, attack)
    0.08...
    >>> attacks.robustness_curve(model, test_loader, attacks.FGSM, [0, 0.05, 0.1],
    ...                          normalization=([0.2860], [0.3530]), path="fgsm.png")
    {0: 0.92..., 0.05: 0.3..., 0.1: 0.1...}
"""

from __future__ import annotations

import numpy as np

from .. import plots
from ..autograd import no_grad
from ..backend import to_numpy
from ..tensor import Tensor

__all__ = ["madry_pgd", "plot_robustness_curves", "robust_accuracy", "robustness_curve"]


def _labels_array(labels) -> np.ndarray:
    return to_numpy(labels.data if isinstance(labels, Tensor) else np.asarray(labels))


def predict(model, images, batch_size: int = 256) -> np.ndarray:
    """The model's predicted classes (int64 array) for ``images`` (Tensor or array ``(N, ...)``),
    in eval mode and without gradients, in batches; the model's mode is restored."""
    data = images.data if isinstance(images, Tensor) else np.asarray(images)
    modules = list(model.modules())
    training = [m.training for m in modules]
    model.eval()
    try:
        with no_grad():
            return np.concatenate([to_numpy(model(Tensor(data[i:i + batch_size])).data.argmax(axis=1))
                                   for i in range(0, len(data), batch_size)])
    finally:
        for m, flag in zip(modules, training):
            m.training = flag


def robust_accuracy(model, loader, attack, progress: bool = True, desc: str | None = None) -> float:
    """The fraction of ``loader``'s images still classified correctly after ``attack``.

    Args:
        model: the classifier (the one ``attack`` was built on).
        loader: yields ``(images, labels)`` batches, as the attack expects them (in [0, 1], or
            normalised after ``attack.set_normalization_used``).
        attack: an attack of :mod:`convlab.attacks` (or any ``attack(images, labels)`` returning
            adversarial images).
        progress: show a progress bar (tqdm).
        desc: the progress bar's label (default: the attack's name).

    Returns:
        The robust accuracy, a float in [0, 1]. The model's train/eval mode is restored.

    Example::

        >>> attacks.robust_accuracy(model, test_loader, attacks.FGSM(model, eps=0.05))
        0.31...
    """
    from tqdm.auto import tqdm

    if not callable(attack):
        raise TypeError(f"robust_accuracy(): attack must be an attack of convlab.attacks, got {type(attack).__name__}")
    correct = seen = 0
    for images, labels in tqdm(loader, desc=desc or getattr(attack, "attack", "attack"), leave=False,
                               disable=not progress):
        adv_images = attack(images, labels)
        labels = _labels_array(labels)
        correct += int((predict(model, adv_images, batch_size=max(len(labels), 1)) == labels).sum())
        seen += len(labels)
    if seen == 0:
        raise ValueError("robust_accuracy(): the loader yielded no images")
    return correct / seen


def robustness_curve(model, loader, attack_cls, eps_list, path=None, normalization=None, progress: bool = True,
                     **attack_kwargs) -> dict:
    """Robust accuracy of ``model`` under ``attack_cls(model, eps=eps, **attack_kwargs)`` for
    every ``eps`` of ``eps_list``, and optionally its plot.

    Args:
        model: the classifier.
        loader: yields ``(images, labels)`` (normalised when ``normalization`` is given).
        attack_cls: an attack class of :mod:`convlab.attacks` taking ``eps`` (FGSM, BIM, PGD,
            PGDL2), or any factory ``attack_cls(model, eps=eps, **attack_kwargs)``.
        eps_list: the budgets, in pixel units.
        path: a PNG file for the accuracy-vs-eps plot (None: no plot).
        normalization: ``(mean, std)`` given to every attack's ``set_normalization_used``.
        progress: show progress bars.
        **attack_kwargs: passed to every attack (e.g. ``steps=10``).

    Returns:
        ``{eps: robust accuracy}`` in the order of ``eps_list``.

    Example::

        >>> attacks.robustness_curve(model, loader, attacks.PGD, [0.0, 0.05, 0.1], alpha=0.01, steps=10)
        {0.0: 0.92..., 0.05: 0.2..., 0.1: 0.0...}
    """
    eps_list = list(eps_list)
    if not eps_list:
        raise ValueError("robustness_curve(): eps_list is empty; expected budgets such as [0, 0.05, 0.1]")
    curve = {}
    for eps in eps_list:
        attack = attack_cls(model, eps=eps, **attack_kwargs)
        if normalization is not None:
            attack.set_normalization_used(*normalization)
        name = getattr(attack, "attack", getattr(attack_cls, "__name__", "attack"))
        curve[eps] = robust_accuracy(model, loader, attack, progress=progress, desc=f"{name} eps={eps:g}")
    if path is not None:
        plot_robustness_curves({getattr(attack_cls, "__name__", "attack"): curve}, path)
    return curve


def plot_robustness_curves(curves: dict, path, title: str = "robust accuracy") -> None:
    """Plot accuracy against eps, one line per attack, to ``path`` (PNG).

    Args:
        curves: ``{attack name: {eps: accuracy}}`` (e.g. from :func:`robustness_curve`).
        path: the PNG file to write (atomically).
        title: the figure's title.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    for name, curve in curves.items():
        ax.plot(list(curve), list(curve.values()), marker="o", label=name)
    ax.set_xlabel("eps (pixel units, L-infinity)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    plots._save(fig, path)


def madry_pgd(model, eps: float, steps: int, alpha: float | None = None, normalization=None, random_start=True):
    """The PGD attack of Madry et al.'s adversarial training and evaluation: ``steps`` steps of
    ``alpha = 2.5 * eps / steps`` (their rule: enough to reach the ball's far side from any
    start) from a random start.

    Args:
        model: the classifier.
        eps: the L-infinity budget in pixel units.
        steps: PGD steps (7 for training, 10 or more to evaluate).
        alpha: the step size (default ``2.5 * eps / steps``).
        normalization: ``(mean, std)`` when the model expects normalised input.
        random_start: start from a random point of the ball.

    Returns:
        A :class:`~convlab.attacks.PGD`.

    Example::

        >>> adversary = attacks.madry_pgd(model, eps=0.1, steps=7, normalization=([0.2860], [0.3530]))
        >>> trainer = convlab.train.Trainer(model, optimizer, train_loader, val_loader, adversary=adversary)
    """
    from .gradient import PGD

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"madry_pgd(): steps must be a positive int, got {steps!r}")
    attack = PGD(model, eps=eps, alpha=2.5 * eps / steps if alpha is None else alpha, steps=steps,
                 random_start=random_start)
    if normalization is not None:
        attack.set_normalization_used(*normalization)
    return attack
