"""Run pytest as on a machine where numba has no wheel: importing numba or llvmlite fails.

    python tests/without_numba.py [pytest arguments]

A meta-path finder installed before anything else is imported refuses both packages (and their
submodules), so convlab must import and run every op on its NumPy path. ``block()`` is also used
by tests that start such an interpreter themselves.
"""

from __future__ import annotations

import importlib.abc
import sys

BLOCKED = ("numba", "llvmlite")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked to test convlab without numba)", name=name)


def block() -> None:
    """Make every later ``import numba`` / ``import llvmlite`` fail (they must not be loaded yet)."""
    loaded = [name for name in sys.modules if name.partition(".")[0] in BLOCKED]
    if loaded:
        raise RuntimeError(f"without_numba.block(): already imported: {loaded}")
    sys.meta_path.insert(0, _Blocker())


if __name__ == "__main__":
    block()
    import pytest

    sys.exit(pytest.main(sys.argv[1:]))
