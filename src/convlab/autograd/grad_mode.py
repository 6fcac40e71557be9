"""Whether operations record the graph: ``no_grad``, ``enable_grad`` and ``set_grad_enabled``,
as in PyTorch.

All three work as context managers and as decorators. The flag is per thread, like PyTorch's:
a data-loading thread that runs its transforms under ``no_grad`` cannot switch graph recording
off for the training loop in the main thread.
"""

from __future__ import annotations

import functools
import threading


class _GradState(threading.local):
    enabled = True  # the class attribute is every new thread's initial value


_state = _GradState()


def is_grad_enabled() -> bool:
    """True when new operations record the graph for ``backward()`` (in this thread)."""
    return _state.enabled


class _GradModeGuard:
    """Sets the grad mode on ``__enter__`` and restores the previous one on ``__exit__``;
    calling an instance on a function returns a decorated function that runs under the mode."""

    mode = True

    def __enter__(self):
        self.prev, _state.enabled = _state.enabled, self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev

    def _new_guard(self):
        return type(self)()

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}(): expected a function to decorate, got {type(fn).__name__}")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._new_guard():
                return fn(*args, **kwargs)

        return wrapper


class _NoParamGuard(_GradModeGuard):
    """A guard that also decorates without parentheses (``@no_grad`` as well as ``@no_grad()``),
    as PyTorch's ``no_grad``/``enable_grad`` do."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamGuard):
    """Context manager and decorator that stops graph recording (inference, optimiser steps).

    Example::

        >>> with convlab.no_grad():
        ...     y = model(x)          # y.requires_grad is False
        >>> @convlab.no_grad()          # or @convlab.no_grad
        ... def evaluate(model, x):
        ...     return model(x)
    """

    mode = False


class enable_grad(_NoParamGuard):
    """Context manager and decorator that turns graph recording back on inside ``no_grad``."""

    mode = True


class set_grad_enabled(_GradModeGuard):
    """Turn graph recording on or off.

    Called as a function it switches the mode at once (``convlab.set_grad_enabled(False)``);
    used as a context manager it restores the previous mode on exit; used as a decorator the
    function runs under the given mode.

    Args:
        mode: True to record the graph, False to stop.

    Example::

        >>> with convlab.set_grad_enabled(is_training):
        ...     loss = model(x).sum()
    """

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self.prev, _state.enabled = _state.enabled, mode

    def __enter__(self):
        return self  # the mode was already set by __init__

    def _new_guard(self):
        return set_grad_enabled(self.mode)

    def __call__(self, fn):
        _state.enabled = self.prev  # used as a decorator: the call site's mode is unchanged
        return super().__call__(fn)
