"""Optimisers (``convlab.optim``) and learning-rate schedulers (``convlab.optim.lr_scheduler``),
with PyTorch's names, defaults, update maths and ``state_dict`` layout."""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
