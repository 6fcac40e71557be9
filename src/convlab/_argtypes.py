"""``type=`` validators for the ``convlab`` command's numeric options.

argparse calls them on the option's text; a bad value raises ``argparse.ArgumentTypeError``,
which argparse reports as ``convlab train: error: argument --epochs: expected a positive
integer, got '0'`` and exit status 2, before anything runs.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["non_negative_float", "non_negative_int", "positive_float", "positive_int"]


def _int(text: str, what: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _float(text: str, what: str, positive: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (epochs, batch size, ...)."""
    return _int(text, "a positive integer", 1)


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed, an index, a depth)."""
    return _int(text, "a non-negative integer", 0)


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    return _float(text, "a positive number", positive=True)


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (weight decay)."""
    return _float(text, "a non-negative number", positive=False)
