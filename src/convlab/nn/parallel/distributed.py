"""``DistributedDataParallel``: one model replica per process, gradients averaged over processes.

Every rank runs the whole model on its own shard of the batch; after ``loss.backward()`` each
parameter's ``.grad`` is the mean of all ranks' gradients, so ``optimizer.step()`` makes the same
update everywhere and the replicas stay identical - N ranks with batch B compute what one process
computes with batch N * B (for a loss that is a mean over the batch).

How the averaging overlaps backward (PyTorch's reducer, on MPI):

- at construction the parameters (those that require grad, in reverse registration order - the
  order backward roughly produces their gradients) are cut into *buckets* of about
  ``bucket_cap_mb`` MB (the first one at most 1 MB, so communication starts early), one flat buffer each;
- a post-accumulate hook on every parameter copies its gradient into its bucket the moment
  backward has finished it; a bucket whose gradients are all in is sent with a non-blocking
  ``MPI_Iallreduce`` at once, while backward goes on through the earlier layers. Buckets are
  always started in the same order on every rank (bucket k only after buckets 0..k-1), so the
  ranks' collectives match;
- when the backward walk ends (an engine callback, queued by the first hook of the pass) the
  remaining buckets are sent, all are waited for, and the averaged values are written back into
  ``.grad``. A parameter that got no gradient on a rank contributes zeros there.

So after ``backward()`` returns the gradients are final and ``optimizer.step()`` needs nothing
special. The reductions use a duplicate of the default group's communicator, so they never mix
with collectives the user calls on the default group.
"""

from __future__ import annotations

import contextlib
import weakref

import numpy as np

from ... import distributed as dist
from ...autograd import grad_mode
from ...autograd.engine import queue_callback
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES
_REDUCIBLE = (np.dtype(np.float32), np.dtype(np.float64))


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer."""

    __slots__ = ("buffer", "filled", "offsets", "params", "request")

    def __init__(self, params, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=dtype)
        self.filled = [False] * len(params)
        self.request = None


def broadcast_coalesced(tensors, comm, mpi, src: int = 0) -> None:
    """Broadcast ``tensors`` from rank ``src`` in place, one ``MPI_Bcast`` per dtype (their
    values packed into one buffer) instead of one per tensor."""
    by_dtype: dict = {}
    for t in tensors:
        by_dtype.setdefault(t.data.dtype, []).append(t)
    for dtype, group in by_dtype.items():
        carrier = np.dtype(np.uint8) if dtype == np.bool_ else dtype
        flat = np.concatenate([t.data.ravel() for t in group]).astype(carrier, copy=False)
        comm.Bcast(flat, root=src)
        offset = 0
        for t in group:
            n = t.data.size
            t.data[...] = flat[offset:offset + n].reshape(t.data.shape)
            t._version += 1
            offset += n


def _remove_all(handles) -> None:
    for handle in handles:
        handle.remove()


class DistributedDataParallel(Module):
    """Data-parallel training over the processes of :func:`convlab.distributed.init_process_group`.

    Args:
        module: the model to replicate (the same architecture on every rank).
        device_ids, output_device: must be None (convlab's distributed training runs on CPUs).
        dim: the batch dimension; must be 0.
        broadcast_buffers: copy rank 0's buffers (BatchNorm running statistics) to every rank at
            the start of each forward with grad enabled (default True, as PyTorch).
        process_group: must be None (the default group).
        bucket_cap_mb: the size of a gradient bucket in MB (default 25; None means 25).

    At construction rank 0's parameters and buffers are broadcast to every rank, so the
    replicas start equal whatever each rank's initialisation drew.

    Shape:
        as ``module``.

    Example::

        >>> dist.init_process_group(backend="mpi")
        >>> model = nn.parallel.DistributedDataParallel(convlab.models.fmnist_cnn())
        >>> loss = F.cross_entropy(model(images), labels)    # images: this rank's shard
        >>> loss.backward()                                  # .grad = mean over all ranks
        >>> optimizer.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None):
        super().__init__()
        who = "DistributedDataParallel()"
        if not isinstance(module, Module):
            raise TypeError(f"{who}: module must be a convlab.nn.Module, got {type(module).__name__}")
        for name, value in (("device_ids", device_ids), ("output_device", output_device),
                            ("process_group", process_group)):
            if value is not None:
                raise ValueError(f"{who}: {name} must be None (CPU processes of the default group), got {value!r}")
        if dim != 0:
            raise ValueError(f"{who}: dim must be 0 (the batch dimension), got {dim!r}")
        bucket_cap_mb = 25 if bucket_cap_mb is None else bucket_cap_mb
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or bucket_cap_mb <= 0:
            raise ValueError(f"{who}: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        if not dist.is_initialized():
            raise RuntimeError(f"{who}: Default process group has not been initialized, please make sure to call "
                               "init_process_group.")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True
        group = dist._default_group(who)
        self._mpi, self._world_size = group.mpi, group.size
        self._comm = group.comm.Dup()  # collective: every rank constructs its DDP at the same point
        params = [p for p in module.parameters() if p.requires_grad]
        for name, p in module.named_parameters():
            if p.requires_grad and p.data.dtype not in _REDUCIBLE:
                raise TypeError(f"{who}: parameter {name!r} is {p.data.dtype}; gradients are averaged in float32 "
                                "or float64 only")
        broadcast_coalesced(list(module.parameters()) + self._module_buffers(), self._comm, self._mpi)
        self._buckets = self._make_buckets(params, bucket_cap_mb)
        self._where = {}
        for b, bucket in enumerate(self._buckets):
            for i, p in enumerate(bucket.params):
                self._where[id(p)] = (b, i)
        # the hooks hold the DDP weakly and are removed when it is collected: a replaced wrapper
        # leaves no hook behind on the module's parameters (which outlive it)
        ref = weakref.ref(self)

        def grad_ready(param):
            ddp = ref()
            if ddp is not None:
                ddp._grad_ready(param)

        handles = [p.register_post_accumulate_grad_hook(grad_ready) for p in params]
        weakref.finalize(self, _remove_all, handles)
        self._reset_pass()

    def _module_buffers(self) -> list:
        return [b for b in self.module.buffers() if b is not None]

    @staticmethod
    def _make_buckets(params, bucket_cap_mb) -> list:
        """Reverse registration order, one dtype per bucket, the first one capped at 1 MB."""
        buckets, current, size = [], {}, {}
        cap = int(bucket_cap_mb * 1024 * 1024)
        for p in reversed(params):
            dtype = p.data.dtype
            current.setdefault(dtype, []).append(p)
            size[dtype] = size.get(dtype, 0) + p.data.nbytes
            if size[dtype] >= (min(cap, _FIRST_BUCKET_BYTES) if not buckets else cap):
                buckets.append(_Bucket(current.pop(dtype), dtype))
                size[dtype] = 0
        buckets.extend(_Bucket(group, dtype) for dtype, group in current.items())
        return buckets

    # ------------------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and grad_mode.is_grad_enabled():
            buffers = self._module_buffers()
            if buffers:
                broadcast_coalesced(buffers, self._comm, self._mpi)
        return self.module(*inputs, **kwargs)

    def sync_buffers(self) -> None:
        """Copy rank 0's buffers to every rank now (e.g. before evaluating on all ranks, after the
        last training step updated each rank's BatchNorm statistics from its own shard)."""
        buffers = self._module_buffers()
        if buffers:
            broadcast_coalesced(buffers, self._comm, self._mpi)

    @contextlib.contextmanager
    def no_sync(self):
        """Within the block, backward only accumulates local gradients (no communication); the
        first backward after it averages everything accumulated. For gradient accumulation::

            >>> with ddp.no_sync():
            ...     F.cross_entropy(ddp(x1), y1).backward()
            >>> F.cross_entropy(ddp(x2), y2).backward()      # averaged over ranks and both batches
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ------------------------------------------------------------------------------ reducer
    def _reset_pass(self) -> None:
        self._pass_started = False
        self._next_bucket = 0  # the first bucket not yet sent
        self._waiting = [len(bucket.params) for bucket in self._buckets]
        for bucket in self._buckets:
            bucket.filled = [False] * len(bucket.params)
            bucket.request = None

    def _grad_ready(self, param) -> None:
        """Post-accumulate hook: ``param.grad`` is final for this pass; stage it in its bucket."""
        if not self.require_backward_grad_sync:
            return
        if not self._pass_started:
            self._pass_started = True
            queue_callback(self._finish_pass)
        b, i = self._where[id(param)]
        bucket = self._buckets[b]
        lo, hi = bucket.offsets[i], bucket.offsets[i + 1]
        bucket.buffer[lo:hi] = param.grad.data.ravel()
        bucket.filled[i] = True
        self._waiting[b] -= 1
        if self._waiting[b] == 0:
            self._start_ready_buckets()
        else:
            self._progress()

    def _start(self, bucket) -> None:
        bucket.request = self._comm.Iallreduce(self._mpi.IN_PLACE, bucket.buffer, self._mpi.SUM)

    def _start_ready_buckets(self) -> None:
        buckets = self._buckets
        while self._next_bucket < len(buckets) and self._waiting[self._next_bucket] == 0:
            self._start(buckets[self._next_bucket])
            self._next_bucket += 1

    def _progress(self) -> None:
        """Let MPI move the reductions in flight along (MPI progresses mostly inside MPI calls)."""
        requests = [b.request for b in self._buckets[:self._next_bucket]]
        if requests:
            self._mpi.Request.Testall(requests)

    def _finish_pass(self) -> None:
        """End of the backward walk: send what is left, wait, write the means into ``.grad``."""
        try:
            for bucket in self._buckets[self._next_bucket:]:
                for i, filled in enumerate(bucket.filled):
                    if not filled:  # no gradient reached this parameter on this rank
                        bucket.buffer[bucket.offsets[i]:bucket.offsets[i + 1]] = 0
                self._start(bucket)
            self._mpi.Request.Waitall([bucket.request for bucket in self._buckets])
            scale = 1.0 / self._world_size
            for bucket in self._buckets:
                bucket.buffer *= scale
                for i, p in enumerate(bucket.params):
                    mean = bucket.buffer[bucket.offsets[i]:bucket.offsets[i + 1]].reshape(p.data.shape)
                    if p.grad is None:
                        p.grad = Tensor(mean.copy())
                    else:
                        p.grad.data[...] = mean
        finally:
            self._reset_pass()

    def extra_repr(self) -> str:
        return "" if self.broadcast_buffers else "broadcast_buffers=False"
