"""Read PyTorch ``.pt``/``.pth`` files (state dicts) without torch and without running code.

``torch.save`` writes a pickle whose tensors point at raw byte blobs ("storages"). Two layouts
exist:

- the zip format (PyTorch >= 1.6, the default): a zip archive ``<name>/data.pkl`` (the pickle)
  plus one entry ``<name>/data/<key>`` per storage and ``<name>/byteorder``;
- the legacy format: four pickles one after another (magic number, protocol version, system
  info, the object), then a pickle with the list of storage keys, then for each key an 8-byte
  little-endian element count followed by the raw bytes.

Unpickling an arbitrary pickle runs arbitrary code. :func:`load_torch_state_dict` therefore
uses a restricted unpickler, the equivalent of ``torch.load(weights_only=True)``: the only
globals it resolves are ``collections.OrderedDict``, torch's tensor/parameter rebuild functions
and storage types (replaced here by functions that build NumPy arrays), ``torch.Size`` (a
tuple) and ``_codecs.encode`` (protocol 2's spelling of ``bytes``). Any other global -
``os.system``, ``builtins.eval``, a custom class - makes it raise before anything is called.
Every tensor's size, stride and offset is checked against its storage before a view is made.
"""

from __future__ import annotations

import collections
import os
import pickle
import struct
import zipfile

import numpy as np

__all__ = ["load_torch_state_dict"]

_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": "bfloat16",  # no NumPy dtype: widened to float32 (exact)
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
    "ComplexFloatStorage": np.dtype(np.complex64),
    "ComplexDoubleStorage": np.dtype(np.complex128),
}


class _StorageType:
    """What a ``torch.<X>Storage`` global resolves to: a marker carrying the element dtype."""

    __slots__ = ("dtype", "name")

    def __init__(self, name):
        self.name, self.dtype = name, _STORAGE_DTYPES[name]

    @property
    def itemsize(self) -> int:
        return 2 if self.dtype == "bfloat16" else self.dtype.itemsize


class _Storage:
    """A storage read from the file: its elements as a 1-D array of the storage's dtype."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _as_elements(raw: np.ndarray, storage_type: _StorageType, little_endian: bool) -> np.ndarray:
    """The uint8 buffer ``raw`` viewed as the storage's elements (bfloat16 widened to float32)."""
    if storage_type.dtype == "bfloat16":
        bits = raw.view("<u2" if little_endian else ">u2").astype(np.uint32)
        return (bits << 16).view(np.float32)
    dtype = storage_type.dtype
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder("<" if little_endian else ">")
    elements = raw.view(dtype)
    return elements if dtype.isnative else elements.astype(dtype.newbyteorder("="))


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """``torch._utils._rebuild_tensor_v2``: a view of ``storage`` as an array (a copy, own memory).

    Raises ValueError when the view would reach outside the storage (a corrupt or crafted file).
    """
    if not isinstance(storage, _Storage):
        raise ValueError(  # noqa: TRY004  (a malformed file, not a wrong argument type)
            f"load_torch_state_dict(): tensor record refers to a {type(storage).__name__}, expected a storage"
        )
    if storage.array is None:  # legacy format: the bytes come after the pickle
        return _PendingTensor((storage, storage_offset, size, stride))
    size, stride = tuple(size), tuple(stride)
    if not (
        isinstance(storage_offset, int)
        and len(size) == len(stride)
        and all(isinstance(n, int) and n >= 0 for n in size + stride)
        and storage_offset >= 0
    ):
        raise ValueError(
            f"load_torch_state_dict(): tensor record has an invalid layout: offset {storage_offset!r}, size {size!r}, stride {stride!r}"
        )
    elements = storage.array
    if 0 in size:
        return np.empty(size, dtype=elements.dtype)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= elements.size:
        raise ValueError(
            f"load_torch_state_dict(): tensor record of size {size}, stride {stride} at offset {storage_offset} reaches element {last}, "
            f"but its storage holds {elements.size} elements"
        )
    itemsize = elements.itemsize
    view = np.lib.stride_tricks.as_strided(
        elements[storage_offset:], shape=size, strides=tuple(s * itemsize for s in stride), writeable=False
    )
    return np.array(view, copy=True, order="C")


class _PendingTensor:
    """A tensor of the legacy format whose storage bytes have not been read yet."""

    __slots__ = ("args",)

    def __init__(self, args):
        self.args = args


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    """``torch._utils._rebuild_parameter`` (and ``_with_state``): the parameter's array."""
    return data


def _size(*dims):
    """``torch.Size``: a tuple."""
    return tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else tuple(dims)


def _codecs_encode(text, encoding="utf-8"):
    """``_codecs.encode``, which protocol-2 pickles use to spell ``bytes`` objects."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise ValueError(
            f"load_torch_state_dict(): unsupported bytes record: encode({type(text).__name__}, {encoding!r})"
        )
    return text.encode(encoding)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _size,
    ("_codecs", "encode"): _codecs_encode,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`_ALLOWED_GLOBALS` and reads storages through
    ``load_storage(storage_type, key, numel)``."""

    def __init__(self, file, source, load_storage):
        super().__init__(file)
        self.source, self.load_storage = source, load_storage
        self.storages = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ValueError(
                f"load_torch_state_dict(): refusing to load '{module}.{name}' from {self.source}: only tensors, "
                "storages and plain containers are allowed (as torch.load(weights_only=True)); the file may run "
                "code when unpickled - load it with torch only if you trust it, and save its state_dict()"
            ) from None

    def persistent_load(self, record):
        if not (isinstance(record, tuple) and len(record) >= 5 and record[0] == "storage"):
            raise ValueError(f"load_torch_state_dict(): unsupported persistent record {record!r:.80} in {self.source}")
        storage_type, key, numel = record[1], str(record[2]), record[4]
        if self.load_storage is None or (len(record) > 5 and record[5] is not None):
            raise ValueError(
                f"load_torch_state_dict(): unexpected storage record for {key!r} in {self.source} "
                "(storage views of pre-1.0 PyTorch files are not supported)"
            )
        if not isinstance(storage_type, _StorageType):
            raise ValueError(  # noqa: TRY004  (a malformed file, not a wrong argument type)
                f"load_torch_state_dict(): storage {key!r} in {self.source} has type {storage_type!r:.60}, "
                f"expected one of torch's {', '.join(_STORAGE_DTYPES)}"
            )
        if key not in self.storages:
            self.storages[key] = _Storage(self.load_storage(storage_type, key, numel))
        return self.storages[key]


def _read_exactly(f, nbytes: int, what: str, source) -> np.ndarray:
    """``nbytes`` bytes of ``f`` as a fresh uint8 array (one copy); ValueError if the file ends early."""
    raw = np.empty(nbytes, dtype=np.uint8)
    view, done = memoryview(raw), 0
    while done < nbytes:
        n = f.readinto(view[done:])
        if not n:
            raise ValueError(f"load_torch_state_dict(): {source} is truncated: {what} needs {nbytes} bytes, got {done}")
        done += n
    return raw


def _load_zip(archive: zipfile.ZipFile, source):
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ValueError(
            f"load_torch_state_dict(): {source} is a zip file but not a torch.save archive "
            f"(expected one '<name>/data.pkl' entry, found {len(pickles)})"
        )
    prefix = pickles[0][: -len("data.pkl")]
    little_endian = True
    if prefix + "byteorder" in names:
        little_endian = archive.read(prefix + "byteorder").decode("ascii").strip() != "big"

    def load_storage(storage_type, key, numel):
        entry = f"{prefix}data/{key}"
        try:
            info = archive.getinfo(entry)
        except KeyError:
            raise ValueError(f"load_torch_state_dict(): {source} has no storage entry '{entry}'") from None
        if isinstance(numel, int) and info.file_size < numel * storage_type.itemsize:
            raise ValueError(
                f"load_torch_state_dict(): storage '{entry}' in {source} holds {info.file_size} bytes, "
                f"expected {numel} elements of {storage_type.itemsize} bytes"
            )
        with archive.open(info) as f:
            raw = _read_exactly(
                f, info.file_size - info.file_size % storage_type.itemsize, f"storage '{entry}'", source
            )
        return _as_elements(raw, storage_type, little_endian)

    with archive.open(pickles[0]) as f:
        return _RestrictedUnpickler(f, source, load_storage).load()


def _load_legacy(f, source):
    """The pre-1.6 layout. The storages' bytes follow the object's pickle, so tensors are first
    unpickled as :class:`_PendingTensor` records and built once the bytes have been read."""
    header = _RestrictedUnpickler(f, source, None)
    if header.load() != _LEGACY_MAGIC_NUMBER:
        raise ValueError(
            f"load_torch_state_dict(): {source} is neither a torch.save zip archive nor a legacy torch file"
        )
    header.load()  # protocol version
    sys_info = header.load()
    little_endian = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)
    types = {}

    def defer(storage_type, key, numel):
        types[key] = storage_type

    unpickler = _RestrictedUnpickler(f, source, defer)
    obj = unpickler.load()
    for key in _RestrictedUnpickler(f, source, None).load():
        key = str(key)
        if key not in types:
            raise ValueError(f"load_torch_state_dict(): {source} stores data for unknown storage {key!r}")
        (numel,) = struct.unpack("<q", _read_exactly(f, 8, f"the size of storage {key!r}", source).tobytes())
        raw = _read_exactly(f, numel * types[key].itemsize, f"storage {key!r}", source)
        unpickler.storages[key].array = _as_elements(raw, types[key], little_endian)
    return _resolve_pending(obj)


def _resolve_pending(obj):
    """``obj`` with every :class:`_PendingTensor` inside (dicts, lists, tuples) built."""
    if isinstance(obj, _PendingTensor):
        return _rebuild_tensor(*obj.args)
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _resolve_pending(value)
        return obj
    if isinstance(obj, list):
        obj[:] = [_resolve_pending(v) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return tuple(_resolve_pending(v) for v in obj)
    return obj


def load_torch_state_dict(path):
    """Read a file written by ``torch.save`` - typically a ``state_dict`` - as NumPy arrays,
    without importing torch and without unpickling arbitrary objects.

    Both torch's zip format (``.pt``/``.pth`` since PyTorch 1.6, e.g. torchvision's weights) and
    the legacy format are read. Only tensors, parameters, storages and plain containers (dicts,
    ``OrderedDict``, lists, tuples, numbers, strings) are accepted, like
    ``torch.load(weights_only=True)``; any other object in the pickle is refused before
    anything is called. Tensors become C-contiguous NumPy arrays of the same dtype (bfloat16
    becomes float32) and shape; tensors that shared storage in torch are independent copies.

    Args:
        path: a file path (``str`` / ``os.PathLike``) or a binary file object.

    Returns:
        The saved object with every tensor replaced by a ``numpy.ndarray``: for a state dict,
        an ``OrderedDict`` from names to arrays, ready for ``module.load_state_dict``.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is not a torch file, is truncated or inconsistent, or holds
            objects other than tensors and containers (the message names the refused global).

    Example::

        >>> # torch side (elsewhere): torch.save(torchvision.models.resnet18().state_dict(), "r18.pth")
        >>> model = convlab.models.resnet18()
        >>> model.load_state_dict(convlab.io.load_torch_state_dict("r18.pth"))
    """
    if isinstance(path, (str, os.PathLike)):
        source = os.fspath(path)
        with open(source, "rb") as f:
            return _load_file(f, repr(source))
    if not (hasattr(path, "read") and hasattr(path, "seek")):
        raise TypeError(
            f"load_torch_state_dict(): expected a file path or a seekable binary file, got {type(path).__name__}"
        )
    return _load_file(path, f"<{type(path).__name__}>")


def _load_file(f, source):
    start = f.tell()
    if zipfile.is_zipfile(f):
        f.seek(start)
        with zipfile.ZipFile(f) as archive:
            return _load_zip(archive, source)
    f.seek(start)
    try:
        return _load_legacy(f, source)
    except (pickle.UnpicklingError, EOFError, struct.error) as error:
        raise ValueError(
            f"load_torch_state_dict(): {source} is not a file written by torch.save ({type(error).__name__}: {error})"
        ) from None
