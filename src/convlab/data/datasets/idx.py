"""The IDX file format of (Fashion-)MNIST, read with full validation.

An IDX file is a big-endian header followed by the raw array:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4 * d       the size of each dimension, uint32 big-endian
    ...         prod(sizes) elements, big-endian, row-major

Files may be gzip-compressed (``.gz``). A wrong magic number, a size that does not match the
data, or a damaged gzip stream is a ``ValueError`` naming the file, never garbage data.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path, expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a NumPy array in native byte order.

    Args:
        path: the file (``.gz`` files, or any file starting with the gzip signature, are
            decompressed).
        expected_ndim: if given, the number of dimensions the header must declare (3 for an
            image file, 1 for a label file); together with the element type this is the
            file's "magic number" (0x00000803 for images, 0x00000801 for labels).

    Returns:
        A new (writable) array, shape given by the header (uint8 for (Fashion-)MNIST).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not valid IDX (wrong magic number, unknown element type,
            truncated, trailing bytes, or a corrupted gzip stream); the message names the file.

    Example::

        >>> read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", expected_ndim=1).shape
        (10000,)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_idx(): no such file: '{path}'")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"read_idx(): '{path}' is a corrupted or truncated gzip file ({error})") from None
    if len(raw) < 4:
        raise ValueError(f"read_idx(): '{path}' is too short for an IDX header ({len(raw)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or type_code not in _TYPES or ndim == 0:
        known = [f"0x{t:02x}" for t in _TYPES]
        raise ValueError(f"read_idx(): '{path}' is not an IDX file: bad magic number 0x{raw[:4].hex()} (expected "
                         f"0x0000 then an element type in {known} and a dimension count >= 1)")
    if expected_ndim is not None and ndim != expected_ndim:
        expected = f"0x0000{type_code:02x}{expected_ndim:02x}"
        raise ValueError(f"read_idx(): '{path}' has magic number 0x{raw[:4].hex()}, expected {expected} "
                         f"({expected_ndim}-dimensional data), found {ndim} dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx(): '{path}' is truncated inside its header ({len(raw)} bytes, header needs {header})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _TYPES[type_code]
    expected_bytes = math.prod(shape) * dtype.itemsize  # Python ints: np.prod would wrap around past 2**63
    found = len(raw) - header
    if found != expected_bytes:
        what = "truncated" if found < expected_bytes else "longer than its header says"
        raise ValueError(f"read_idx(): '{path}' is {what}: the header declares shape {shape} ({expected_bytes} bytes "
                         f"of data), found {found} bytes")
    # a copy: an array over the bytes object would be read-only
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))

