"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split``.

As in ``torch.utils.data``, a dataset is anything with ``__getitem__(index)`` and ``__len__``.
A dataset may also offer ``get_batch(indices)``: the whole collated batch for an array of
indices in one vectorised call (``(images, labels)`` as Tensors). :class:`~convlab.data.DataLoader`
uses it when the default collate function is in use and the dataset says it can
(``supports_batch``), which turns per-sample Python work into a few array operations.
"""

from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

from .. import _random
from ..tensor import Tensor


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``.

    ``dataset_a + dataset_b`` concatenates, as in PyTorch.

    Optionally, a subclass that can build a whole batch at once defines ``get_batch(indices)``
    (returning the collated batch) and a ``supports_batch`` property that is True when it can.

    Example::

        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 10
        ...     def __getitem__(self, i):
        ...         return convlab.tensor([float(i)]), i * i
    """

    supports_batch = False

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _check_index(owner: str, index, length: int) -> int:
    if not isinstance(index, (numbers.Integral, np.integer)) or isinstance(index, bool):
        raise TypeError(f"{owner}: index must be an int, got {type(index).__name__}")
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for a dataset of length {length}")
    return index % length if length else index


def as_index_array(owner: str, indices, length: int) -> np.ndarray:
    """``indices`` as an int64 array, checked against ``length`` (negative indices wrap)."""
    array = np.asarray(indices)
    if array.size == 0 and array.ndim == 1:  # [] is float64 to NumPy
        return np.empty(0, np.int64)
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise TypeError(f"{owner}: expected a 1-D array of integer indices, got dtype {array.dtype} shape {array.shape}")
    array = array.astype(np.int64, copy=False)
    if array.size and (array.min() < -length or array.max() >= length):
        bad = array[(array < -length) | (array >= length)][0]
        raise IndexError(f"{owner}: index {bad} is out of range for a dataset of length {length}")
    return np.where(array < 0, array + length, array)


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of the given tensors (or arrays).

    Args:
        *tensors: Tensors (or NumPy arrays) with the same first dimension.

    Example::

        >>> ds = TensorDataset(convlab.randn(100, 3), convlab.randint(0, 2, (100,)))
        >>> x, y = ds[0]
        >>> x.shape, y.shape
        ((3,), ())
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset(): expected at least one tensor")
        arrays = []
        for k, t in enumerate(tensors):
            if isinstance(t, Tensor):
                arrays.append(t.data)
            elif isinstance(t, np.ndarray):
                arrays.append(t)
            else:
                raise TypeError(f"TensorDataset(): tensor {k} must be a Tensor or numpy.ndarray, got {type(t).__name__}")
            if arrays[-1].ndim == 0:
                raise ValueError(f"TensorDataset(): tensor {k} is 0-dimensional; expected a first (sample) dimension")
        sizes = [a.shape[0] for a in arrays]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"TensorDataset(): size mismatch between tensors, first dimensions are {sizes}")
        self._arrays = arrays
        self.tensors = tuple(Tensor(a) for a in arrays)

    def __len__(self) -> int:
        return self._arrays[0].shape[0]

    def __getitem__(self, index):
        i = _check_index("TensorDataset", index, len(self))
        return tuple(Tensor(a[i]) for a in self._arrays)

    supports_batch = True

    def get_batch(self, indices) -> list:
        """The rows ``indices`` of every tensor, stacked: what ``default_collate`` makes of them
        (a list, as collating tuples gives)."""
        idx = as_index_array("TensorDataset.get_batch()", indices, len(self))
        return [Tensor(a[idx]) for a in self._arrays]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: the full dataset.
        indices: a sequence of indices into it.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        if isinstance(indices, Tensor):
            indices = indices.data
        self.indices = as_index_array("Subset()", list(indices) if not isinstance(indices, np.ndarray) else indices,
                                      len(dataset))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(self.indices[i])] for i in index]
        return self.dataset[int(self.indices[_check_index("Subset", index, len(self))])]

    @property
    def supports_batch(self) -> bool:
        return bool(getattr(self.dataset, "supports_batch", False))

    def get_batch(self, indices):
        return self.dataset.get_batch(self.indices[as_index_array("Subset.get_batch()", indices, len(self))])


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other.

    Args:
        datasets: the datasets to chain (each must have a length).
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset(): datasets should not be an empty iterable")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        i = _check_index("ConcatDataset", index, len(self))
        k = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][i - start]


def random_split(dataset, lengths, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets.

    Args:
        dataset: the dataset to split.
        lengths: the subset sizes (summing to ``len(dataset)``), or fractions summing to 1; as in
            PyTorch, lengths that sum to 1 are fractions, and the remainder of rounding them down
            is spread one by one round-robin.
        generator: a ``numpy.random.Generator`` for the permutation (default: convlab's generator).

    Example::

        >>> train, val = random_split(ds, [55000, 5000], generator=np.random.default_rng(0))
    """
    n = len(dataset)
    lengths = list(lengths)
    if any(not isinstance(v, numbers.Real) or isinstance(v, bool) for v in lengths):
        raise TypeError(f"random_split(): lengths must be ints or fractions, got {lengths!r}")
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for k, v in enumerate(lengths):
            if not 0 <= v <= 1:
                raise ValueError(f"random_split(): fraction at index {k} is not between 0 and 1, got {v}")
        sizes = [math.floor(n * v) for v in lengths]
        for k in range(n - sum(sizes)):
            sizes[k % len(sizes)] += 1
        lengths = sizes
    if any(not isinstance(v, (numbers.Integral, np.integer)) or v < 0 for v in lengths):
        raise ValueError(f"random_split(): lengths must be non-negative ints or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split(): sum of input lengths {sum(lengths)} does not equal the length of the input "
                         f"dataset {n}")
    permutation = check_generator("random_split()", generator).permutation(n)
    offsets = np.cumsum([0, *lengths])
    return [Subset(dataset, permutation[offsets[k]:offsets[k + 1]]) for k in range(len(lengths))]


def check_generator(owner: str, generator) -> np.random.Generator:
    """``generator`` if it is a ``numpy.random.Generator``, convlab's generator if None."""
    if generator is None:
        return _random.default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{owner}: generator must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)) "
                        f"or None, got {type(generator).__name__}")
    return generator
