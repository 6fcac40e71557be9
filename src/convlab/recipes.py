"""The jobs ``convlab train`` knows: for each dataset, how to load and split it, the transforms,
the model that fits it and the hyper-parameters that reach the lecture's accuracy.

============== ================= ====================================================== ==========
dataset        default model     defaults                                               reaches
============== ================= ====================================================== ==========
fashion-mnist  fmnist_cnn        Adam + OneCycleLR (max lr 3e-3), 20 epochs, batch      ~93.5%
                                 128, random 2-px shifts + horizontal flips, 55k/5k
                                 train/validation split of the 60k training images
digits         mlp               Adam + OneCycleLR (max lr 3e-3), 20 epochs, batch 64   ~97%
orientation    orientation_cnn   Adam + OneCycleLR (max lr 3e-2), 10 epochs, batch 64   ~100%
============== ================= ====================================================== ==========

Named training recipes (``convlab train --recipe NAME``, :data:`TRAINING_RECIPES`) override some of
those defaults for a purpose; ``fast`` is the time-to-accuracy recipe of ``docs/training.md``
(93.5% test accuracy on Fashion-MNIST in under 10 minutes on 2 CPU cores; every setting there
is justified by a measured ablation), ``accurate`` its hour-long sibling (95.0% in 50 minutes
there: the same network and choices with random erasing, for 48 epochs).

Example::

    >>> recipe = RECIPES["fashion-mnist"]
    >>> splits = recipe.splits(seed=0)          # {"train": ..., "val": ..., "test": ...}
    >>> model = build_model("fmnist_cnn", recipe)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .data import Subset, datasets
from .data import transforms as T

__all__ = ["RECIPES", "TRAINING_RECIPES", "Recipe", "TrainingRecipe", "build_model"]


@dataclass(frozen=True)
class Recipe:
    """A dataset and its training defaults.

    Attributes:
        name: the ``--dataset`` name.
        dataset: the dataset class (``train=`` selects the split).
        image_size: ``(channels, height, width)`` of a sample after the transforms.
        mean, std: per-channel normalisation (the training set's statistics).
        model: the default model name (``convlab.models``).
        epochs, batch_size, lr: training defaults (``lr`` is OneCycleLR's maximum).
        val_size: images held out of the training split for validation.
        augment: training-only transforms (applied before ``ToTensor``).
        modulate: a wave ``(frequency, angle)`` for an extra out-of-domain test set
            (``test_modulated``, seed 000's probe), or None.
        resize: ``(h, w)`` the images are resized to before anything else (see :meth:`resized`).
    """

    name: str
    dataset: type
    image_size: tuple
    mean: tuple
    std: tuple
    model: str
    epochs: int
    batch_size: int
    lr: float
    val_size: int
    augment: tuple = field(default_factory=tuple)
    modulate: tuple | None = None
    resize: tuple | None = None

    def resized(self, size) -> Recipe:
        """This recipe with its images resized to ``size`` (``(h, w)``) first, e.g. the 8x8
        digits at 28x28 for a network trained on Fashion-MNIST (transfer learning)."""
        size = tuple(int(n) for n in size)
        if size == tuple(self.image_size[1:]):
            return self
        return replace(self, image_size=(self.image_size[0], *size), resize=size)

    @property
    def classes(self) -> list[str]:
        return list(self.dataset.classes)

    def eval_transform(self) -> T.Compose:
        """``ToTensor`` then ``Normalize``: what validation, test and prediction images get."""
        return T.Compose([*self._resize(), T.ToTensor(), T.Normalize(self.mean, self.std)])

    def train_transform(self, augment: bool = True, random_erasing: float = 0.0) -> T.Compose:
        """The augmentations (if ``augment``) followed by :meth:`eval_transform`'s steps, then
        ``RandomErasing(p=random_erasing)`` on the normalised images if ``random_erasing`` > 0
        (it fills with 0, the dataset's mean, as torchvision's after ``Normalize``)."""
        erasing = [T.RandomErasing(p=random_erasing)] if augment and random_erasing else []
        return T.Compose([*self._resize(), *(self.augment if augment else ()), T.ToTensor(),
                          T.Normalize(self.mean, self.std), *erasing])

    def _resize(self) -> list:
        return [] if self.resize is None else [T.Resize(self.resize)]

    def load(self, train: bool, transform, root=None):
        """One split of the dataset (``root`` only for datasets read from disk)."""
        if root is not None and self.dataset in (datasets.FashionMNIST, datasets.MNIST):
            return self.dataset(root=root, train=train, transform=transform)
        return self.dataset(train=train, transform=transform)

    def splits(self, seed: int = 0, augment: bool = True, root=None, limit: int | None = None,
               val_size: int | None = None, random_erasing: float = 0.0) -> dict:
        """``{"train", "val", "test"}`` datasets (plus ``"test_modulated"`` when the recipe has a
        modulation probe). The validation images are a seeded random ``val_size`` (default the
        recipe's) of the training split, seen without augmentation; ``val_size=0`` trains on all
        of them and leaves ``"val"`` out. ``limit`` keeps only that many training images (quick
        runs); ``random_erasing`` is the probability of :meth:`train_transform`'s erasing."""
        val_size = self.val_size if val_size is None else int(val_size)
        train_full = self.load(True, self.train_transform(augment, random_erasing), root)
        if not 0 <= val_size < len(train_full):
            raise ValueError(f"Recipe.splits(): val_size must be in [0, {len(train_full)}) for {self.name} "
                             f"({len(train_full)} training images), got {val_size}")
        order = np.random.default_rng([seed, 1]).permutation(len(train_full))
        val_indices, train_indices = order[:val_size], order[val_size:]
        if limit is not None:
            train_indices = train_indices[:limit]
        eval_transform = self.eval_transform()
        out = {"train": Subset(train_full, train_indices)}
        if val_size:
            out["val"] = Subset(self.load(True, eval_transform, root), val_indices)
        out["test"] = self.load(False, eval_transform, root)
        if self.modulate is not None:
            frequency, angle = self.modulate
            test = self.load(False, None, root)
            out["test_modulated"] = datasets.ImageArrayDataset(
                datasets.modulate(test.data, frequency, angle), test.targets, eval_transform)
        return out


_FASHION_AUGMENT = (T.RandomCrop(28, padding=2), T.RandomHorizontalFlip())

RECIPES = {
    "fashion-mnist": Recipe("fashion-mnist", datasets.FashionMNIST, (1, 28, 28), (0.2860,), (0.3530,),
                            model="fmnist_cnn", epochs=20, batch_size=128, lr=3e-3, val_size=5000,
                            augment=_FASHION_AUGMENT),
    "digits": Recipe("digits", datasets.Digits, (1, 8, 8), (0.3051,), (0.3750,), model="mlp", epochs=20,
                     batch_size=64, lr=3e-3, val_size=200),
    "orientation": Recipe("orientation", datasets.LineOrientation, (1, 32, 32), (0.0,), (1.0,),
                          model="orientation_cnn", epochs=10, batch_size=64, lr=3e-2, val_size=200,
                          modulate=(0.25, 0.0)),
}  # fmt: skip


@dataclass(frozen=True)
class TrainingRecipe:
    """A named set of training choices (``convlab train --recipe NAME``): overrides of one
    dataset's defaults (None keeps the :class:`Recipe`'s), and the accuracy the run is timed to.
    Options given on the command line still win over the recipe's.

    Attributes:
        name: the ``--recipe`` name.
        dataset: the dataset it is for (a :data:`RECIPES` key).
        model, epochs, batch_size, lr, optimizer: as the ``convlab train`` options.
        label_smoothing: the cross-entropy's ``label_smoothing`` (as ``torch.nn.CrossEntropyLoss``).
        val_size: images held out for validation; 0 trains on all of them and validates never
            (the test set is evaluated once, at the end).
        tta_flip: evaluate on each test image and its horizontal mirror, averaging the logits.
        random_erasing: the probability of ``transforms.RandomErasing`` on a training image
            (after the normalisation; 0: none).
        target_accuracy: the test accuracy the run is timed to (time to accuracy), or None.
    """

    name: str
    dataset: str
    model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    label_smoothing: float = 0.0
    val_size: int | None = None
    tta_flip: bool = False
    random_erasing: float = 0.0
    target_accuracy: float | None = None


TRAINING_RECIPES = {
    # every choice measured in docs/training.md ("Time to accuracy"), on one core, in epochs
    "fast": TrainingRecipe("fast", "fashion-mnist", model="fmnist_cnn_fast", epochs=6, batch_size=128, lr=3e-3,
                           optimizer="adam", label_smoothing=0.1, val_size=0, tta_flip=True, target_accuracy=0.935),
    # 95% within the hour (docs/training.md): the fast recipe with random erasing, for the epochs that fit the hour
    "accurate": TrainingRecipe("accurate", "fashion-mnist", model="fmnist_cnn_fast", epochs=48, batch_size=128, lr=3e-3,
                               optimizer="adam", label_smoothing=0.1, val_size=0, tta_flip=True, random_erasing=0.5,
                               target_accuracy=0.95),
}  # fmt: skip


def build_model(name: str, recipe: Recipe):
    """The model ``name`` of ``convlab.models`` sized for ``recipe``'s images and classes.

    Raises:
        ValueError: the model cannot take the dataset's images (e.g. ``fmnist_cnn`` on 8x8
            digits); the message names both.
    """
    from . import models
    from .autograd import no_grad
    from .creation import zeros

    channels, height, width = recipe.image_size
    kwargs = {"num_classes": len(recipe.classes)}
    if name == "mlp":
        kwargs["in_features"] = channels * height * width
    elif name.startswith("fmnist_cnn"):  # and its sparse/binary variants
        kwargs["in_channels"] = channels
    model = models.get_model(name, **kwargs)
    model.eval()
    try:
        with no_grad():
            model(zeros(2, *recipe.image_size))
    except (ValueError, RuntimeError) as error:
        raise ValueError(f"build_model(): model {name!r} cannot take the {recipe.name} images of shape "
                         f"{recipe.image_size} ({error}); its default model is {recipe.model!r}") from None
    model.train()
    return model
