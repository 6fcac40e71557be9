"""Optimisers (``convlab.optim``) and learning-rate schedulers (``convlab.optim.lr_scheduler``),
with PyTorch's names, defaults, update maths and ``state_dict`` layout."""

from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Optimizer"]
