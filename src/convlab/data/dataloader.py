"""``DataLoader``: batches from a dataset, shuffled reproducibly, prepared in a background thread.

Each pass (``iter(loader)``) draws, from the loader's ``generator`` (or convlab's generator when
it is None), first the order of the samples (when ``shuffle``) and then one seed for the random
transforms of that pass; batch ``k`` is built with its transforms drawing from a generator
seeded by ``(seed, k)``. So the batches depend only on the generator's state when the pass
started: they are the same with or without the prefetch thread, and
``loader.iterate(start_batch=k)`` after restoring that state continues a pass exactly where it
was interrupted without building the first ``k`` batches.

With ``prefetch=True`` (the default) a background thread builds the next batch while the model
works on the current one (NumPy releases the GIL in its heavy loops, so the two overlap).
"""

from __future__ import annotations

import math
import numbers
import queue
import threading

import numpy as np

from ..tensor import Tensor
from .dataset import check_generator
from .transforms import use_generator

_STRING_TYPES = (str, bytes)


def default_collate(batch):
    """Stack a list of samples into a batch, as ``torch.utils.data.default_collate``.

    Tensors and NumPy arrays are stacked along a new first dimension into a Tensor; NumPy scalars
    become a Tensor of their own dtype; Python ints become an int64 Tensor (float32 if floats are
    mixed in, as ``torch.tensor`` does), floats a float64 Tensor, bools a bool Tensor; strings
    stay a list; tuples and lists are collated position by position (giving a list), named tuples
    into the same named tuple, dicts key by key.

    Example::

        >>> x, y = default_collate([(convlab.zeros(3), 1), (convlab.ones(3), 0)])
        >>> x.shape, y
        ((2, 3), tensor([1, 0]))
    """
    if not isinstance(batch, (list, tuple)) or not batch:
        raise TypeError(f"default_collate(): expected a non-empty list of samples, got {type(batch).__name__}"
                        + (" of length 0" if isinstance(batch, (list, tuple)) else ""))
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray)):
        arrays = [b.data if isinstance(b, Tensor) else b for b in batch]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise RuntimeError(f"default_collate(): each element in the batch should be of equal size, got shapes "
                               f"{sorted(shapes)}")
        from ..backend import array_module

        return Tensor(array_module(arrays[0]).stack(arrays))
    if isinstance(elem, (np.bool_, np.number)):
        return Tensor(np.asarray(batch))
    if isinstance(elem, bool) and all(isinstance(b, bool) for b in batch):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        values = np.asarray(batch)
        return Tensor(values.astype(np.int64 if values.dtype.kind in "biu" else np.float32))
    if isinstance(elem, numbers.Real):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, _STRING_TYPES):
        return list(batch)
    if isinstance(elem, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, (tuple, list)):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("default_collate(): each element in list of batch should be of equal size, got lengths "
                               f"{sorted({len(sample) for sample in batch})}")
        columns = [default_collate(list(samples)) for samples in zip(*batch)]
        return type(elem)(*columns) if isinstance(elem, tuple) and hasattr(elem, "_fields") else columns
    raise TypeError(f"default_collate(): batch must contain tensors, numpy arrays, numbers, dicts or lists; found "
                    f"{type(elem).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch.
        shuffle: reshuffle the order at every pass.
        collate_fn: merges a list of samples into a batch (default :func:`default_collate`).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        generator: a ``numpy.random.Generator`` for the order and the transforms' seeds
            (default: convlab's generator, see ``convlab.manual_seed``).
        prefetch: build the next batch in a background thread while the current one is used.
        sampler: an iterable of indices giving the order of each pass (keyword only), e.g. a
            :class:`~convlab.data.DistributedSampler`; mutually exclusive with ``shuffle``.

    A dataset with a vectorised ``get_batch`` (``supports_batch``), such as the built-in
    datasets and :class:`~convlab.data.TensorDataset`, builds each batch in one call when the
    default ``collate_fn`` is used; otherwise samples are fetched one by one and collated.

    Example::

        >>> loader = DataLoader(FashionMNIST(transform=ToTensor()), batch_size=128, shuffle=True,
        ...                     generator=np.random.default_rng(0))
        >>> for images, labels in loader:
        ...     images.shape, labels.shape        # (128, 1, 28, 28), (128,)
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, collate_fn=None, drop_last: bool = False,
                 generator=None, *, prefetch: bool = True, sampler=None):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"DataLoader(): dataset must define __getitem__ and __len__, got {type(dataset).__name__}")
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"DataLoader(): batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader(): collate_fn must be callable, got {type(collate_fn).__name__}")
        check_generator("DataLoader()", generator)
        if sampler is not None:
            if shuffle:
                raise ValueError("DataLoader(): sampler option is mutually exclusive with shuffle")
            if not hasattr(sampler, "__iter__") or not hasattr(sampler, "__len__"):
                raise TypeError(f"DataLoader(): sampler must define __iter__ and __len__, got {type(sampler).__name__}")
        self.sampler = sampler
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), bool(shuffle), drop_last
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.generator, self.prefetch = generator, prefetch

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def uses_batch_path(self) -> bool:
        """True when batches come from the dataset's vectorised ``get_batch``."""
        return self.collate_fn is default_collate and bool(getattr(self.dataset, "supports_batch", False))

    def __iter__(self):
        return self.iterate()

    def iterate(self, start_batch: int = 0):
        """One pass over the data, starting at batch ``start_batch``.

        The order and the transforms' seed are drawn exactly as by ``iter(loader)``; the first
        ``start_batch`` batches are then skipped without being built (to resume a pass).
        """
        if not isinstance(start_batch, numbers.Integral) or not 0 <= start_batch <= len(self):
            raise ValueError(f"DataLoader.iterate(): start_batch must be an int in [0, {len(self)}], got {start_batch!r}")
        generator = check_generator("DataLoader", self.generator)
        if self.sampler is not None:
            order = np.fromiter(self.sampler, dtype=np.int64)
        else:
            order = generator.permutation(len(self.dataset)) if self.shuffle else np.arange(len(self.dataset))
        n = len(order)
        seed = int(generator.integers(0, 2**63))
        bounds = [(k * self.batch_size, min((k + 1) * self.batch_size, n)) for k in range(start_batch, len(self))]
        jobs = [(k, order[lo:hi]) for k, (lo, hi) in zip(range(start_batch, len(self)), bounds)]
        build = self._batch_builder(seed)
        return _PrefetchIterator(jobs, build) if self.prefetch else (build(k, idx) for k, idx in jobs)

    def _batch_builder(self, seed: int):
        dataset, collate = self.dataset, self.collate_fn
        batched = self.uses_batch_path

        def build(k, indices):
            with use_generator(np.random.default_rng((seed, k))):
                if batched:
                    return dataset.get_batch(indices)
                return collate([dataset[int(i)] for i in indices])

        return build

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, prefetch={self.prefetch})")


def _put(out: queue.Queue, stop: threading.Event, item) -> bool:
    """Queue ``item`` unless the consumer has gone away (``stop``); True if it was queued."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _produce(jobs, build, out: queue.Queue, stop: threading.Event) -> None:
    """The prefetch thread's loop; it holds no reference to the iterator, so dropping the
    iterator (``break`` out of a loop) lets it be collected, which stops this thread."""
    try:
        for k, indices in jobs:
            if not _put(out, stop, (True, build(k, indices))):
                return
    except BaseException as error:  # noqa: BLE001 - not swallowed: handed to the consumer and raised there
        _put(out, stop, (False, error))
        return
    _put(out, stop, (True, _DONE))


_DONE = object()


class _PrefetchIterator:
    """Builds batches in a daemon thread, one ahead of the consumer (a queue of two).

    An exception in the thread is raised in the consumer at the batch where it happened; leaving
    the loop early (``break``, an error, garbage collection) stops the thread.
    """

    def __init__(self, jobs, build):
        self._queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._finished = False
        threading.Thread(target=_produce, args=(jobs, build, self._queue, self._stop), name="convlab-prefetch",
                         daemon=True).start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        ok, item = self._queue.get()
        if not ok:
            self.close()
            raise item
        if item is _DONE:
            self.close()
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the background thread (idempotent)."""
        self._finished = True
        self._stop.set()

    def __del__(self):
        self.close()
