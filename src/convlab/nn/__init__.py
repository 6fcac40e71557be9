"""Neural-network layers (``convlab.nn``), their functional forms (``convlab.nn.functional``)
and initialisers (``convlab.nn.init``), with PyTorch's names and defaults."""

from . import functional, init, utils
from .modules import *  # noqa: F401,F403
from .modules import Module
from .parameter import Parameter
