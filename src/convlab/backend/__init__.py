"""The one place that knows which array library holds a tensor's data.

NumPy backs ``cpu`` tensors and CuPy backs ``cuda`` tensors. Every op asks
:func:`array_module` for the module of its input (``xp``) and uses ``xp.*``, so the
same code runs on both.

The compiled CPU kernels (whether they run, on which arrays, with which runtime settings) are
:mod:`convlab.backend.cpu_kernels`'s business; importing convlab changes no process-wide state.
"""

from __future__ import annotations

import numpy as np

try:  # CuPy is optional: installed with the ``gpu`` extra on machines with CUDA.
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

#: The array classes a Tensor's ``data`` may be.
ARRAY_TYPES: tuple = (np.ndarray,) if cupy is None else (np.ndarray, cupy.ndarray)


class device:
    """Where a tensor lives, as in ``torch.device``: ``device("cpu")``, ``device("cuda:0")``.

    Compares equal to its string form, so ``x.device == "cpu"`` works.
    """

    __slots__ = ("index", "type")

    def __init__(self, spec: str | device = "cpu", index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        if not isinstance(spec, str):
            raise TypeError(f"device(): expected a string like 'cpu' or 'cuda:0', got {type(spec).__name__}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device(): expected 'cpu' or 'cuda[:N]', got {spec!r}")
        if idx:
            if not idx.isdigit():
                raise ValueError(f"device(): the index in {spec!r} must be a non-negative integer")
            index = int(idx)
        if kind == "cuda" and index is None:
            index = 0
        self.type, self.index = kind, index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return (
            f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"
        )

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001  CUDA driver missing or broken: treat as no GPU
        return False


def array_module(array):
    """The array library (``numpy`` or ``cupy``) that ``array`` belongs to."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def device_of(array) -> device:
    """The :class:`device` an array lives on."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return device("cuda", array.device.id)
    return CPU


def module_for(dev) -> object:
    """The array library for ``dev``; raises a clear error when CUDA is asked for but absent."""
    dev = device(dev)
    if dev.type == "cpu":
        return np
    if not cuda_is_available():
        reason = "CuPy is not installed (pip install 'convlab[gpu]')" if cupy is None else "no CUDA device is visible"
        raise RuntimeError(f"device {str(dev)!r} requested but {reason}")
    return cupy


def to_device(array, dev):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    dev = device(dev)
    if device_of(array) == dev:
        return array
    if dev.type == "cpu":
        return cupy.asnumpy(array)
    xp = module_for(dev)
    with xp.cuda.Device(dev.index):
        return xp.asarray(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy view or copy of ``array`` (copied from the GPU when needed)."""
    return cupy.asnumpy(array) if array_module(array) is not np else array


def scatter_add(target, index, values) -> None:
    """``target[index] += values`` in place, adding once per occurrence of a repeated index
    (``numpy.add.at``; ``cupyx.scatter_add`` on CuPy versions without ``add.at``)."""
    xp = array_module(target)
    if hasattr(xp.add, "at"):
        xp.add.at(target, index, values)
    else:  # pragma: no cover - older CuPy
        import cupyx

        cupyx.scatter_add(target, index, values)
