"""Built-in datasets: ``FashionMNIST`` and ``MNIST`` (IDX files on disk), ``Digits`` (scikit-learn's
8x8 digits) and the synthetic ``LineOrientation`` of seed 000 with its ``modulate`` probe."""

from .digits import Digits
from .idx import read_idx
from .mnist import MNIST, FashionMNIST
from .orientation import LineOrientation, modulate
from .vision import ImageArrayDataset

__all__ = ["MNIST", "Digits", "FashionMNIST", "ImageArrayDataset", "LineOrientation", "modulate", "read_idx"]
