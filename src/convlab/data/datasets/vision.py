"""``ImageArrayDataset``: the base of the built-in datasets, images and labels held in memory."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...tensor import Tensor
from ..dataset import Dataset, _check_index, as_index_array


class ImageArrayDataset(Dataset):
    """Images ``data`` (N, ...) and integer labels ``targets`` (N,) held as NumPy arrays.

    A sample is ``(transform(image), target_transform(label))`` with the label a Python int, as
    in torchvision. When ``transform`` can run on a batch (every convlab transform can) and there
    is no ``target_transform``, :meth:`get_batch` builds a whole batch in one vectorised call.

    Args:
        data: the images, e.g. uint8 (N, H, W).
        targets: the labels, int (N,).
        transform: applied to each image (e.g. ``ToTensor()``).
        target_transform: applied to each label.
    """

    classes: ClassVar[list[str]] = []

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform=None, target_transform=None):
        if len(data) != len(targets):
            raise ValueError(f"{type(self).__name__}: {len(data)} images but {len(targets)} labels")
        self.data, self.targets = data, np.asarray(targets, dtype=np.int64)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        i = _check_index(type(self).__name__, index, len(self))
        image, target = self.data[i], int(self.targets[i])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    @property
    def supports_batch(self) -> bool:
        return self.target_transform is None and (self.transform is None
                                                   or bool(getattr(self.transform, "supports_batch", False)))

    def get_batch(self, indices) -> list:
        """``[images, labels]`` for ``indices``: what collating the samples one by one gives."""
        idx = as_index_array(f"{type(self).__name__}.get_batch()", indices, len(self))
        images = self.data[idx]
        if self.transform is not None:
            images = self.transform.batch(images)
        return [images if isinstance(images, Tensor) else Tensor(images), Tensor(self.targets[idx])]

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines += [f"    {line}" for line in self.extra_repr().splitlines()]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}".replace("\n", "\n    "))
        return "\n".join(lines)

    def extra_repr(self) -> str:
        return ""
