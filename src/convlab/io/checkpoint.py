"""Checkpoints: :func:`save` and :func:`load` in the safetensors format, never pickle.

A checkpoint is one ``.safetensors`` file:

- every tensor (convlab Tensor or NumPy/CuPy array) found in the saved object goes into the
  safetensors tensor section, under a path-like key built from where it sits in the object
  (``fc.weight`` for a state_dict entry, ``optimizer/state/0/momentum_buffer`` for a nested
  one; ``/`` and ``%`` inside a key part are written ``%2F`` and ``%25``);
- everything else (numbers, strings, bools, None, lists, tuples, dicts with any keys) is
  written as JSON in the header's ``__metadata__`` under ``convlab.structure``, with a typed
  reference (and a CRC-32 of the bytes) in place of each tensor, so :func:`load` rebuilds the
  same structure: tensors come back as Tensors, arrays as arrays, integer dict keys (the
  parameter indices of an optimiser's state) as ints, tuples as tuples, ``inf``/``nan`` as floats.

A plain ``state_dict`` is stored under its own keys, so ``safetensors.numpy.load_file`` and other
tools read our weights directly; a safetensors file written by another tool loads as a flat
``{name: Tensor}`` dict. Loading parses JSON and raw tensor bytes only: no code is ever run.
Writes are atomic: the file is written to a temporary name in the same directory, flushed to
disk (``fsync``) and renamed over the target, so a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import collections
import json
import math
import os
import zlib

import numpy as np
import safetensors
import safetensors.numpy

from ..backend import to_device, to_numpy
from ..tensor import _ARRAY_TYPES, Tensor
from .atomic import write_atomically

STRUCTURE_KEY = "convlab.structure"
FORMAT_KEY = "convlab.format"
FORMAT_VERSION = "1"

_MAPPING_TYPES = {"dict": dict, "OrderedDict": collections.OrderedDict, "Counter": collections.Counter}
_SCALAR_KINDS = "biuf"


def save(obj, f) -> None:
    """Write ``obj`` to the file ``f`` as safetensors, atomically.

    Args:
        obj: a state_dict (``{name: Tensor or ndarray}``) or a nested structure of dicts,
            lists and tuples holding tensors, arrays, numbers, strings, bools and None, e.g.
            ``{"model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": 3, "rng": convlab.get_rng_state()}``.
        f: the file path (str or ``os.PathLike``); an existing file is replaced.

    Raises:
        TypeError: ``obj`` holds something that cannot be stored without pickle (a module,
            a function, a custom object, ...); the message gives its place in ``obj``.
        FileNotFoundError: the directory of ``f`` does not exist.

    Example::

        >>> convlab.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors")
        >>> ckpt = convlab.load("ckpt.safetensors")
        >>> model.load_state_dict(ckpt["model"])
    """
    path = _as_path(f, "save")
    tensors: dict[str, np.ndarray] = {}
    structure = _encode(obj, (), tensors)
    metadata = {
        "format": "pt",  # the tensors have PyTorch's layout and dtypes: tools that check this tag accept the file
        FORMAT_KEY: FORMAT_VERSION,
        STRUCTURE_KEY: json.dumps(structure, allow_nan=False, separators=(",", ":")),
    }
    write_atomically(path, lambda tmp: safetensors.numpy.save_file(tensors, tmp, metadata=metadata))


def load(f, map_location=None):
    """Read a checkpoint written by :func:`save` (or any safetensors file).

    Args:
        f: the file path (str or ``os.PathLike``).
        map_location: a device (``"cpu"``, ``"cuda:0"``) to place the tensors on; default CPU.

    Returns:
        The saved structure, with Tensors (and arrays) where they were. A safetensors file
        written by another tool gives a dict ``{name: Tensor}``.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is not a safetensors file (e.g. a pickle), is truncated or
            corrupted (a tensor fails its checksum), or its convlab structure is malformed.
            The message names the file.
    """
    path = _as_path(f, "load")
    if not os.path.exists(path):
        raise FileNotFoundError(f"load(): no such file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load(): '{path}' is a directory, expected a .safetensors file")
    try:
        with safetensors.safe_open(path, framework="np") as reader:
            metadata = reader.metadata() or {}
            arrays = {key: reader.get_tensor(key) for key in reader.keys()}  # noqa: SIM118  (a safetensors handle, not a dict)
    except safetensors.SafetensorError as error:
        raise ValueError(
            f"load(): '{path}' is not a readable safetensors checkpoint (truncated, corrupted, or another "
            f"format such as a pickle): {error}"
        ) from None
    device = None if map_location is None else str(map_location)
    if STRUCTURE_KEY not in metadata:
        return collections.OrderedDict((key, _tensor(array, device)) for key, array in arrays.items())
    try:
        structure = json.loads(metadata[STRUCTURE_KEY], parse_constant=_reject_constant)
        return _Decoder(arrays, device, path).decode(structure)
    except _CorruptTensor as error:
        raise ValueError(f"load(): '{path}' is corrupted: {error}") from None
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as error:
        raise ValueError(f"load(): '{path}' has a malformed convlab structure: {error!r}") from None


# ---------------------------------------------------------------------------------- writing
def _as_path(f, fn: str) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    raise TypeError(f"{fn}(): expected a file path (str or os.PathLike), got {type(f).__name__}")


def _key_part(part) -> str:
    return str(part).replace("%", "%25").replace("/", "%2F")


def _encode(value, path: tuple, tensors: dict):
    """``value`` as JSON-ready data; tensors and arrays are moved into ``tensors``."""
    if isinstance(value, np.generic):  # before float: numpy.float64 subclasses float
        if value.dtype.kind not in _SCALAR_KINDS:
            raise TypeError(f"save(): cannot store a NumPy scalar of dtype {value.dtype} at {_where(path)}")
        return {"__scalar__": _encode(value.item(), path, tensors), "dtype": value.dtype.str}
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (Tensor, *_ARRAY_TYPES)):
        array = _c_contiguous(to_numpy(value.data if isinstance(value, Tensor) else value))
        key = "/".join(_key_part(p) for p in path)
        while key in tensors:  # distinct keys that print alike ({0: ..., "0": ...})
            key += "~"
        tensors[key] = array
        ref = {"__tensor__": key, "crc32": zlib.crc32(array)}
        if not isinstance(value, Tensor):
            ref["ndarray"] = True
        elif value.requires_grad:
            ref["requires_grad"] = True
        return ref
    if isinstance(value, tuple) and type(value) is tuple:
        return {"__tuple__": [_encode(v, (*path, i), tensors) for i, v in enumerate(value)]}
    if type(value) is list:
        return [_encode(v, (*path, i), tensors) for i, v in enumerate(value)]
    kind = type(value).__name__
    if isinstance(value, dict) and _MAPPING_TYPES.get(kind) is type(value):
        if all(type(k) is str for k in value):
            return {"__dict__": {k: _encode(v, (*path, k), tensors) for k, v in value.items()}, "type": kind}
        items = [[_encode_key(k, path), _encode(v, (*path, k), tensors)] for k, v in value.items()]
        return {"__items__": items, "type": kind}
    hint = "; save its state_dict() instead" if hasattr(value, "state_dict") else ""
    raise TypeError(
        f"save(): cannot store a {kind} at {_where(path)} (supported: Tensor, ndarray, int, float, bool, str, None, "
        f"list, tuple, dict){hint}"
    )


def _c_contiguous(array: np.ndarray) -> np.ndarray:
    """``array`` in C order (safetensors writes the raw buffer); unlike ``np.ascontiguousarray``
    this keeps 0-d arrays 0-d."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def _encode_key(key, path):
    if isinstance(key, (Tensor, *_ARRAY_TYPES, dict, list)):
        raise TypeError(f"save(): dict keys must be str, int, float, bool, None or tuples of them; got {type(key).__name__} at {_where(path)}")
    return _encode(key, path, {})


def _where(path: tuple) -> str:
    return "the top level" if not path else "obj" + "".join(f"[{p!r}]" for p in path)


# ---------------------------------------------------------------------------------- reading
class _CorruptTensor(Exception):
    pass


def _reject_constant(name):
    raise ValueError(f"unexpected JSON constant {name}")


def _tensor(array, device, requires_grad=False) -> Tensor:
    if device is not None:
        array = to_device(array, device)
    return Tensor(array, requires_grad=requires_grad and array.dtype.kind == "f")


class _Decoder:
    """Rebuilds the saved object from the JSON structure and the file's arrays."""

    def __init__(self, arrays: dict, device, path: str):
        self.arrays, self.device, self.path = arrays, device, path

    def decode(self, node):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            raise TypeError(f"unexpected JSON value of type {type(node).__name__}")
        if "__tensor__" in node:
            return self._array(node)
        if "__float__" in node:
            text = node["__float__"]
            if text not in ("inf", "-inf", "nan"):
                raise ValueError(f"bad float tag {text!r}")
            return float(text)
        if "__scalar__" in node:
            dtype = np.dtype(node["dtype"])
            if dtype.kind not in _SCALAR_KINDS:
                raise ValueError(f"bad scalar dtype {node['dtype']!r}")
            return dtype.type(self.decode(node["__scalar__"]))
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        mapping = _MAPPING_TYPES[node["type"]]
        if "__dict__" in node:
            items = {k: self.decode(v) for k, v in node["__dict__"].items()}
        else:
            items = {self.decode(k): self.decode(v) for k, v in node["__items__"]}
        return mapping(items)  # from a dict: Counter(pairs) would count the pairs

    def _array(self, node):
        key = node["__tensor__"]
        if key not in self.arrays:
            raise KeyError(f"tensor {key!r} is referenced but not in the file")
        array = self.arrays[key]
        if "crc32" in node and zlib.crc32(_c_contiguous(array)) != node["crc32"]:
            raise _CorruptTensor(f"the bytes of tensor {key!r} fail their CRC-32 checksum")
        if node.get("ndarray"):
            return array if self.device is None else to_device(array, self.device)
        return _tensor(array, self.device, node.get("requires_grad", False))
