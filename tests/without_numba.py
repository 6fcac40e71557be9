"""Run pytest as on a machine where numba has no wheel: importing numba or llvmlite fails.

    python tests/without_numba.py [pytest arguments]          # e.g. the whole suite
    PYTHONPATH=tests python -m pytest -p without_numba [...]  # the same, as a plugin

Imported as a pytest plugin (``-p without_numba``, also in every xdist worker), it installs a
meta-path finder that refuses both packages (and their submodules) before anything else is
imported, so convlab must import and run every op on its NumPy path. ``block()`` is also used by
tests that start such an interpreter themselves.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

BLOCKED = ("numba", "llvmlite")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked to test convlab without numba)", name=name)


def block() -> None:
    """Make every later ``import numba`` / ``import llvmlite`` fail (they must not be loaded yet)."""
    if any(isinstance(finder, _Blocker) for finder in sys.meta_path):
        return
    loaded = [name for name in sys.modules if name.partition(".")[0] in BLOCKED]
    if loaded:
        raise RuntimeError(f"without_numba.block(): already imported: {loaded}")
    sys.meta_path.insert(0, _Blocker())


if __name__ == "__main__":
    import pytest

    here = os.path.dirname(os.path.abspath(__file__))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))  # xdist workers
    sys.exit(pytest.main(["-p", "without_numba", *sys.argv[1:]]))
else:  # imported as a pytest plugin (or by a test): block now, before convlab is imported
    block()
