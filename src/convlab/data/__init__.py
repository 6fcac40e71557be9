"""Data: datasets, ``DataLoader`` and transforms, with ``torch.utils.data`` / torchvision names.

    dataset (uint8 images in memory) -> transforms (vectorised over a batch) -> DataLoader
    (order drawn from a seeded generator, next batch built in a background thread) -> Tensors

Example::

    >>> import numpy as np
    >>> from convlab.data import DataLoader, datasets, transforms as T
    >>> train = datasets.FashionMNIST(train=True, transform=T.Compose([T.ToTensor(), T.Normalize((0.2860,), (0.3530,))]))
    >>> loader = DataLoader(train, batch_size=128, shuffle=True, generator=np.random.default_rng(0))
    >>> images, labels = next(iter(loader))
"""

from . import datasets, transforms
from .dataloader import DataLoader, default_collate
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import modulate
from .distributed import DistributedSampler

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "Subset", "TensorDataset", "datasets",
           "default_collate", "modulate", "random_split", "transforms"]
