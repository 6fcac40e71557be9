"""``Digits``: scikit-learn's 8x8 handwritten digits (shipped inside scikit-learn), for quick runs."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .vision import ImageArrayDataset

_TRAIN_FRACTION = 0.8


class Digits(ImageArrayDataset):
    """The 1,797 8x8 digit images of ``sklearn.datasets.load_digits`` as uint8 images in [0, 255].

    scikit-learn's pixel values (0-16) are scaled to 0-255 so the same transforms (``ToTensor``)
    apply as to MNIST. The split is fixed: a seeded permutation puts 80% (1,438 images) in the
    training set and the remaining 359 in the test set.

    Args:
        train: the training (True) or test (False) part.
        transform: applied to each image (uint8 (8, 8) array), e.g. ``ToTensor()``.
        target_transform: applied to each label.

    Example::

        >>> ds = Digits(transform=ToTensor())
        >>> ds[0][0].shape, len(ds)
        ((1, 8, 8), 1438)
    """

    classes: ClassVar[list[str]] = [str(d) for d in range(10)]

    def __init__(self, train: bool = True, transform=None, target_transform=None):
        from sklearn.datasets import load_digits  # scikit-learn is imported only when this dataset is used

        bunch = load_digits()
        images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)
        order = np.random.default_rng(0).permutation(len(images))
        cut = round(_TRAIN_FRACTION * len(images))
        self.train = bool(train)
        keep = order[:cut] if self.train else order[cut:]
        super().__init__(images[keep], bunch.target[keep], transform, target_transform)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"
