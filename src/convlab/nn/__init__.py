"""Neural-network layers (``convlab.nn``), their functional forms (``convlab.nn.functional``)
and initialisers (``convlab.nn.init``), with PyTorch's names and defaults."""

from . import functional as functional
from . import init as init
from . import parallel as parallel
from . import utils as utils
from .modules import *  # every layer class, as listed in modules.__all__
from .modules import Module as Module
from .parameter import Parameter as Parameter
