"""The ``kernel_path`` fixture: a test that takes it runs twice, once with the compiled CPU kernels
("compiled") and once on the NumPy path every op falls back to ("numpy": numba missing,
``CONVLAB_KERNELS=0``, CuPy arrays). Import it into a test module with
``from kernel_paths import kernel_path  # noqa: F401``.

It also records every answer of :func:`convlab.backend.cpu_kernels.accepts` during the test, so a
test can check that the path it asked for is the one that ran.
"""

from __future__ import annotations

import pytest

from convlab.backend import cpu_kernels


class KernelPath(str):
    """The path's name, plus ``accepted``: the predicate's answers during the test."""

    accepted: list


@pytest.fixture(params=["compiled", "numpy"])
def kernel_path(request, monkeypatch):
    if request.param == "compiled" and not cpu_kernels.enabled():
        pytest.skip("compiled CPU kernels unavailable or switched off (numba missing or CONVLAB_KERNELS=0)")
    path = KernelPath(request.param)
    path.accepted = []
    original = cpu_kernels.accepts

    def recording(*arrays, **options):
        answer = original(*arrays, **options)
        path.accepted.append(answer)
        return answer

    monkeypatch.setattr(cpu_kernels, "accepts", recording)
    if request.param == "numpy":
        with cpu_kernels.disabled():
            yield path
    else:
        yield path
