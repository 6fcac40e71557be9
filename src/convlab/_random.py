"""The global random state behind every random op (factories, initialisers, dropout, shuffling).

One ``numpy.random.Generator`` (PCG64) for the CPU and, when CuPy is used, CuPy's generator for
the GPU; :func:`manual_seed` seeds both so runs are reproducible.
"""

from __future__ import annotations

import numpy as np

from . import backend

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed convlab's random number generators (CPU and, if present, GPU); returns the CPU one."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed(): seed must be an int, got {type(seed).__name__}")
    seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF  # negative seeds wrap, as in PyTorch
    _generator = np.random.default_rng(seed)
    if backend.cupy is not None and backend.cuda_is_available():
        backend.cupy.random.seed(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator convlab draws from (replaced by :func:`manual_seed`)."""
    return _generator


def get_rng_state() -> dict:
    """The CPU generator's state, a JSON-serialisable dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise TypeError(f"set_rng_state(): expected a state dict from convlab.get_rng_state(), got {type(state).__name__}")
    try:
        _generator.bit_generator.state = state
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"set_rng_state(): invalid generator state ({e})") from None


def _on(array: np.ndarray, dtype, device):
    array = array.astype(dtype, copy=False)
    return array if device is None or str(device) == "cpu" else backend.to_device(array, device)


def uniform(low, high, shape, dtype, device=None):
    """Samples of U(low, high), drawn on the CPU generator so results do not depend on the device."""
    if np.dtype(dtype) == np.float32:
        sample = _generator.random(shape, dtype=np.float32) * np.float32(high - low) + np.float32(low)
    else:
        sample = _generator.uniform(low, high, shape)
    return _on(sample, dtype, device)


def normal(mean, std, shape, dtype, device=None):
    """Samples of N(mean, std^2)."""
    if np.dtype(dtype) == np.float32:
        sample = _generator.standard_normal(shape, dtype=np.float32) * np.float32(std) + np.float32(mean)
    else:
        sample = _generator.normal(mean, std, shape)
    return _on(sample, dtype, device)


def integers(low, high, shape, dtype, device=None):
    """Integers uniformly from [low, high)."""
    return _on(_generator.integers(low, high, shape), dtype, device)


def bernoulli_mask(keep_prob, shape, dtype, xp=np):
    """A 0/1 mask with P(1) = keep_prob, made on the array's own device (dropout's hot path)."""
    if xp is np:
        return (_generator.random(shape, dtype=np.float32) < keep_prob).astype(dtype)
    return (xp.random.random(shape, dtype=xp.float32) < keep_prob).astype(dtype)


def permutation(n: int) -> np.ndarray:
    return _generator.permutation(n)
