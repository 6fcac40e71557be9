"""Seeded random shapes and arrays shared by the core op tests (tests/test_ops_*.py)."""

from __future__ import annotations

import numpy as np


def random_shape(rng, min_ndim=0, max_ndim=4, max_size=4) -> tuple:
    """A shape with ``min_ndim..max_ndim`` dims of size ``1..max_size``."""
    ndim = int(rng.integers(min_ndim, max_ndim + 1))
    return tuple(int(n) for n in rng.integers(1, max_size + 1, size=ndim))


def broadcast_pair(rng, max_ndim=4) -> tuple[tuple, tuple]:
    """Two shapes that broadcast together: some dims dropped from the front, some set to 1."""
    out = random_shape(rng, 0, max_ndim)

    def part():
        shape = list(out[int(rng.integers(0, len(out) + 1)):])
        for i in range(len(shape)):
            if rng.random() < 0.3:
                shape[i] = 1
        return tuple(shape)

    return part(), part()


def array(rng, shape, dtype=np.float64, low=-2.0, high=2.0, away_from_zero=False):
    """Uniform values in [low, high) (optionally with |x| >= 0.2, for log/div/abs kinks)."""
    values = rng.uniform(low, high, size=shape)
    if away_from_zero:
        values = np.where(np.abs(values) < 0.2, np.copysign(0.2, values) + values, values)
    return np.asarray(values).astype(dtype)
