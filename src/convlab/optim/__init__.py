"""Optimisers (``convlab.optim``) and learning-rate schedulers (``convlab.optim.lr_scheduler``),
with PyTorch's names, defaults, update maths and ``state_dict`` layout."""

from .optimizer import Optimizer
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .sgd import SGD
from . import lr_scheduler

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
