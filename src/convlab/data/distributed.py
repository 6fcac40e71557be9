"""``DistributedSampler``: each process of a data-parallel run reads its own shard of a dataset."""

from __future__ import annotations

import math
import numbers

import numpy as np


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` processes reads, with
    ``torch.utils.data.DistributedSampler``'s arithmetic: every rank draws the same permutation
    (from ``seed + epoch``), pads it by repeating its first indices to ``total_size``, a multiple
    of ``num_replicas`` (or, with ``drop_last``, cuts it to one), and keeps every
    ``num_replicas``-th index from position ``rank``: ``indices[rank:total_size:num_replicas]``.
    The shards are disjoint (up to the padding) and together cover the dataset.

    The permutation comes from NumPy (``np.random.default_rng(seed + epoch).permutation``), not
    from PyTorch's generator, so with ``shuffle=True`` the order differs from PyTorch's; with
    ``shuffle=False`` the indices are PyTorch's exactly.

    Args:
        dataset: a map-style dataset (only its length is used).
        num_replicas: the number of processes (default: ``convlab.distributed.get_world_size()``).
        rank: this process's rank (default: ``convlab.distributed.get_rank()``).
        shuffle: draw a new permutation every epoch (default True).
        seed: the permutation's seed, the same on every rank (default 0).
        drop_last: drop the tail instead of padding, so no index is read twice (default False).

    Call :meth:`set_epoch` at the start of every epoch, or every epoch repeats the same order.

    Example::

        >>> sampler = DistributedSampler(train_set)              # inside mpiexec -n N
        >>> loader = DataLoader(train_set, batch_size=64, sampler=sampler)
        >>> for epoch in range(epochs):
        ...     sampler.set_epoch(epoch)
        ...     for images, labels in loader: ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False):
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler(): dataset must define __len__, got {type(dataset).__name__}")
        if num_replicas is None or rank is None:
            from .. import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler(): num_replicas and rank default to the process group's, but "
                                   "convlab.distributed.init_process_group() has not been called; pass them")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, numbers.Integral) or isinstance(num_replicas, bool) or num_replicas < 1:
            raise ValueError(f"DistributedSampler(): num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, numbers.Integral) or isinstance(rank, bool) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler(): Invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            raise TypeError(f"DistributedSampler(): seed must be an int, got {type(seed).__name__}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:  # pad by repeating the order from its start (more than once for tiny datasets)
            order = np.resize(order, self.total_size)
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` (with ``shuffle``, each epoch's order differs)."""
        if not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool):
            raise TypeError(f"DistributedSampler.set_epoch(): epoch must be an int, got {type(epoch).__name__}")
        self.epoch = int(epoch)

    def __repr__(self) -> str:
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last})")
