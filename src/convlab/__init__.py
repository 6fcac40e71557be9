"""convlab: convolutional neural networks from first principles, with PyTorch's API.

The data path: ``data`` (datasets, loaders) -> :class:`Tensor` -> ``nn`` modules -> ``ops``
(forward and backward side by side) -> loss -> ``backward()`` -> ``optim`` -> checkpoints
(``save``/``load``) -> ``explain``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .tensor import Tensor  # noqa: I001  (Tensor first: everything else builds on it)
from . import dtypes
from .dtypes import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from .backend import cuda_is_available, device
from ._random import default_generator, get_rng_state, manual_seed, set_rng_state
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .functions import *  # torch-style top-level functions (convlab.cat, convlab.exp, ...)
from . import functions
from . import optim
from .io import load, save
from .summary import summary
from .receptive_field import effective_receptive_field, receptive_field, receptive_field_for_unit
from . import compress, data, models, train


class cuda:
    """``convlab.cuda.is_available()``, as in ``torch.cuda``."""

    is_available = staticmethod(cuda_is_available)


__all__ = [
    "Tensor",
    "arange",
    "as_tensor",
    "bool",
    "compress",
    "cuda",
    "cuda_is_available",
    "data",
    "default_generator",
    "device",
    "double",
    "dtypes",
    "effective_receptive_field",
    "empty",
    "empty_like",
    "enable_grad",
    "eye",
    "float",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "get_default_dtype",
    "get_rng_state",
    "half",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "linspace",
    "load",
    "long",
    "manual_seed",
    "models",
    "no_grad",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "receptive_field",
    "receptive_field_for_unit",
    "save",
    "set_default_dtype",
    "set_grad_enabled",
    "set_rng_state",
    "short",
    "summary",
    "tensor",
    "train",
    "uint8",
    "zeros",
    "zeros_like",
]
__all__ += functions.__all__  # the tensor functions (cat, stack, where, ...) re-exported from .functions
