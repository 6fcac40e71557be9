"""The layers, one topic per file; everything here is re-exported as ``convlab.nn.<Name>``."""

from .module import Module
from .container import ModuleDict, ModuleList, ParameterList, Sequential
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
