"""``FashionMNIST`` and ``MNIST`` from their IDX files, found on disk (never downloaded)."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np

from .idx import read_idx
from .vision import ImageArrayDataset

INSTALL_HINT = "apt-get update && apt-get install -y dataset-fashion-mnist"


class MNIST(ImageArrayDataset):
    """The MNIST handwritten digits, 28x28 uint8 images, labels 0-9, from IDX files.

    The four files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (optionally ``.gz``) are
    looked for in ``root``, else in the directory named by the environment variable
    ``CONVLAB_DATA``, else in the system location; in each, directly or in a sub-folder named
    after the dataset (``mnist/``, ``fashion-mnist/``).

    Args:
        root: a directory holding the IDX files.
        train: the 60,000 training images (True) or the 10,000 test images (False).
        transform: applied to each image (uint8 (28, 28) array), e.g. ``ToTensor()``.
        target_transform: applied to each label.

    Raises:
        FileNotFoundError: the files are not found; the message lists where it looked and how to
            get them.
        ValueError: a file is corrupted, truncated or not an IDX file of the expected kind, or
            its images are not 28x28; the message names the file.

    Example::

        >>> ds = MNIST(root="~/data/mnist", train=False, transform=ToTensor())
    """

    classes: ClassVar[list[str]] = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    folder = "mnist"
    image_size = (28, 28)
    system_dir = "/usr/share/datasets/mnist"
    install_hint = "put the four IDX files in a folder and pass root= or set CONVLAB_DATA to it"

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None):
        self.train = bool(train)
        split = "train" if self.train else "t10k"
        images_file = self._find(root, f"{split}-images-idx3-ubyte")
        labels_file = self._find(root, f"{split}-labels-idx1-ubyte")
        self.root = os.path.dirname(images_file)
        images = read_idx(images_file, expected_ndim=3)
        labels = read_idx(labels_file, expected_ndim=1)
        name = type(self).__name__
        if images.shape[1:] != self.image_size:
            height, width = self.image_size
            raise ValueError(f"{name}: '{images_file}' holds {images.shape[1]}x{images.shape[2]} images, expected "
                             f"{height}x{width} (shape (N, {height}, {width})), got shape {images.shape}")
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise ValueError(f"{name}: expected uint8 IDX files, got images {images.dtype} ('{images_file}') and labels "
                             f"{labels.dtype} ('{labels_file}')")
        if len(images) != len(labels):
            raise ValueError(f"{name}: '{images_file}' holds {len(images)} images but '{labels_file}' holds "
                             f"{len(labels)} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{name}: '{labels_file}' holds label {int(labels.max())}, expected labels in "
                             f"[0, {len(self.classes) - 1}]")
        super().__init__(images, labels, transform, target_transform)

    def _find(self, root, stem: str) -> str:
        if root is not None:
            bases = [os.path.expanduser(os.fspath(root))]
        elif os.environ.get("CONVLAB_DATA"):
            bases = [os.path.expanduser(os.environ["CONVLAB_DATA"])]
        else:
            bases = [self.system_dir]
        searched = []
        for base in bases:
            for folder in (base, os.path.join(base, self.folder)):
                for name in (stem + ".gz", stem):
                    candidate = os.path.join(folder, name)
                    if os.path.isfile(candidate):
                        return candidate
                searched.append(folder)
        source = "root=" if root is not None else ("CONVLAB_DATA" if os.environ.get("CONVLAB_DATA") else "default")
        raise FileNotFoundError(
            f"{type(self).__name__}: cannot find {stem}(.gz) ({source} location; searched {', '.join(searched)}). "
            f"To get the data: {self.install_hint}."
        )

    def extra_repr(self) -> str:
        return f"Root location: {self.root}\nSplit: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grayscale images of 10 kinds of clothing, the seed-004
    benchmark. 60,000 training and 10,000 test images, read from the IDX files of the Debian
    package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``) unless ``root`` or
    ``CONVLAB_DATA`` points elsewhere; nothing is downloaded.

    Install the data with ``apt-get update && apt-get install -y dataset-fashion-mnist``.

    Args: as :class:`MNIST`.

    Example::

        >>> from convlab.data import DataLoader, datasets, transforms as T
        >>> test = datasets.FashionMNIST(train=False, transform=T.ToTensor())
        >>> image, label = test[0]
        >>> image.shape, test.classes[label]
        ((1, 28, 28), 'Ankle boot')
    """

    classes: ClassVar[list[str]] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    folder = "fashion-mnist"
    system_dir = "/usr/share/datasets/fashion-mnist"
    install_hint = f"{INSTALL_HINT} (or pass root= / set CONVLAB_DATA to a folder holding the IDX files)"
