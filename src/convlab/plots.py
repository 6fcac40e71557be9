"""Training plots: loss/accuracy curves and the confusion matrix, as PNG files (matplotlib).

Figures are drawn on :class:`matplotlib.figure.Figure` objects (no pyplot, so no global state and
no display needed) and written atomically.
"""

from __future__ import annotations

import numpy as np

from .io.atomic import write_atomically

__all__ = ["confusion_matrix", "plot_confusion_matrix", "plot_history"]


def confusion_matrix(targets, predictions, num_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Args:
        targets: true labels, ints (N,).
        predictions: predicted labels, ints (N,).
        num_classes: the matrix size (default: 1 + the largest label seen).

    Shape: ``(num_classes, num_classes)``, int64; rows sum to the class counts.

    Example::

        >>> confusion_matrix([0, 1, 1], [0, 1, 0])
        array([[1, 0],
               [1, 1]])
    """
    targets, predictions = np.asarray(targets, dtype=np.int64), np.asarray(predictions, dtype=np.int64)
    if targets.shape != predictions.shape or targets.ndim != 1:
        raise ValueError(f"confusion_matrix(): targets and predictions must be 1-D of equal length, got shapes "
                         f"{targets.shape} and {predictions.shape}")
    if num_classes is None:
        num_classes = int(max(targets.max(initial=-1), predictions.max(initial=-1))) + 1
    if targets.size and (min(targets.min(), predictions.min()) < 0
                         or max(targets.max(), predictions.max()) >= num_classes):
        raise ValueError(f"confusion_matrix(): labels must lie in [0, {num_classes - 1}], got targets in "
                         f"[{targets.min()}, {targets.max()}] and predictions in [{predictions.min()}, "
                         f"{predictions.max()}]")
    counts = np.bincount(targets * num_classes + predictions, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def plot_history(history: list[dict], path) -> None:
    """Plot the loss and accuracy per epoch (train and, if present, validation) to ``path``.

    Args:
        history: the list of per-epoch metric dicts returned by :func:`convlab.train.fit`.
        path: the PNG file to write.
    """
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        for split in ("train", "val"):
            key = f"{split}_{metric}"
            if key in history[0]:
                ax.plot(epochs, [row[key] for row in history], marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def plot_confusion_matrix(targets, predictions, path, class_names=None, title: str = "") -> np.ndarray:
    """Draw the confusion matrix of ``predictions`` against ``targets`` to ``path``, rows
    normalised to the fraction of each true class, with the counts written in the cells.

    Args:
        targets: true labels, ints (N,).
        predictions: predicted labels, ints (N,).
        path: the PNG file to write.
        class_names: a name per class (default: the class indices).
        title: the figure's title (the accuracy is appended).

    Returns:
        The confusion matrix (counts), as :func:`confusion_matrix`.
    """
    from matplotlib.figure import Figure

    counts = confusion_matrix(targets, predictions, None if class_names is None else len(class_names))
    names = [str(i) for i in range(len(counts))] if class_names is None else list(class_names)
    fractions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.6 * len(names) + 2)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i, j in np.ndindex(counts.shape):
        ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=8,
                color="white" if fractions[i, j] > 0.5 else "black")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title}: accuracy {accuracy:.2%}" if title else f"accuracy {accuracy:.2%}")
    _save(fig, path)
    return counts


def _save(fig, path) -> None:
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=100), caller="plot")
