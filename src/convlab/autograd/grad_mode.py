"""Whether operations record the graph: ``no_grad`` and ``enable_grad``, as in PyTorch.

Both work as context managers and as decorators. The flag is global (not per thread):
the training loop and its data-loading thread never disagree about it.
"""

from __future__ import annotations

import functools

_enabled = True


def is_grad_enabled() -> bool:
    """True when new operations record the graph for ``backward()``."""
    return _enabled


class set_grad_enabled:
    """Turn graph recording on or off; restores the previous state on exit."""

    def __init__(self, mode: bool):
        global _enabled
        self.prev, _enabled = _enabled, bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev


class _GradModeGuard:
    mode = True

    def __enter__(self):
        global _enabled
        self.prev, _enabled = _enabled, self.mode
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeGuard):
    """Context manager and decorator that stops graph recording (inference, optimiser steps).

    Example::

        >>> with convlab.no_grad():
        ...     y = model(x)          # y.requires_grad is False
    """

    mode = False


class enable_grad(_GradModeGuard):
    """Context manager and decorator that turns graph recording back on inside ``no_grad``."""

    mode = True
