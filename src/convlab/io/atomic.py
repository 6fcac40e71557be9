"""Atomic file writes: a crash or Ctrl-C never leaves a half-written checkpoint, metrics file or
plot behind (write a temporary file beside the target, fsync it, rename it over the target)."""

from __future__ import annotations

import os
import uuid


def write_atomically(path, write, caller: str = "save") -> None:
    """Call ``write(tmp_path)`` to create a temporary file beside ``path``, then rename it over
    ``path`` (an atomic replace on POSIX and Windows).

    Args:
        path: the target file.
        write: a function writing the whole file at the path it is given.
        caller: the public function's name, for error messages.

    Example::

        >>> write_atomically("history.json", lambda tmp: Path(tmp).write_text(text))
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{caller}(): directory '{directory}' does not exist (saving '{path}')")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{caller}(): '{path}' is a directory, expected a file path")
    stem, ext = os.path.splitext(os.path.basename(path))
    tmp = os.path.join(directory, f".{stem}.{uuid.uuid4().hex[:12]}.tmp{ext}")  # keeps the extension for writers that check it
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # permissions follow the umask
    try:
        write(tmp)
        _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        _fsync(directory, os.O_RDONLY)  # make the rename itself durable
    except OSError:  # directories cannot be opened for fsync on some platforms (Windows)
        pass


def _fsync(path: str, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
