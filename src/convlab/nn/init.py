"""Weight initialisers with PyTorch's formulas (``convlab.nn.init.kaiming_uniform_`` ...).

Fan-in / fan-out of a weight of shape (out, in, *kernel): fan_in = in * prod(kernel),
fan_out = out * prod(kernel). Gains: linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2),
leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4. All fill the tensor in place from convlab's
generator (seeded by ``convlab.manual_seed``), without recording a graph, and return it.

PyTorch's default layer initialisation, which convlab's layers use: ``Linear`` and ``Conv*``
weights ``kaiming_uniform_(w, a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and biases
U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""

from __future__ import annotations

import math
import warnings

from .. import _random
from ..autograd.grad_mode import no_grad

_LINEAR_GAIN = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    Args:
        nonlinearity: ``'linear'``, ``'conv1d'``, ..., ``'sigmoid'``, ``'tanh'``, ``'relu'``,
            ``'leaky_relu'`` or ``'selu'``.
        param: the negative slope for ``'leaky_relu'`` (default 0.01).

    Example::

        >>> nn.init.calculate_gain("leaky_relu", 0.2)
        1.3867504905630728
    """
    if nonlinearity in _LINEAR_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain(): negative_slope {slope!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain(): unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{', '.join(_LINEAR_GAIN)}, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as PyTorch computes them."""
    if tensor.ndim < 2:
        raise ValueError(
            "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, "
            f"got shape {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _is_empty(tensor) -> bool:
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


@no_grad()
def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill with samples of U(a, b).

    Example::

        >>> nn.init.uniform_(convlab.empty(3, 5), -0.1, 0.1)
    """
    return tensor.uniform_(a, b)


@no_grad()
def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill with samples of N(mean, std^2)."""
    return tensor.normal_(mean, std)


@no_grad()
def constant_(tensor, val: float):
    """Fill with ``val``."""
    return tensor.fill_(val)


def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).

    Example::

        >>> nn.init.xavier_uniform_(convlab.empty(3, 5), gain=nn.init.calculate_gain("relu"))
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain: float = 1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015).

    Args:
        a: the negative slope of the following leaky_relu (only with ``nonlinearity='leaky_relu'``).
        mode: ``'fan_in'`` keeps the forward activations' variance, ``'fan_out'`` the gradients'.
        nonlinearity: the activation after this layer, for :func:`calculate_gain`.

    PyTorch's default for Linear and Conv weights is ``kaiming_uniform_(w, a=sqrt(5))``, i.e.
    b = 1 / sqrt(fan_in).

    Example::

        >>> nn.init.kaiming_uniform_(convlab.empty(16, 3, 3, 3), mode="fan_out", nonlinearity="relu")
    """
    if _is_empty(tensor):
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan); arguments as :func:`kaiming_uniform_`."""
    if _is_empty(tensor):
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)))


@no_grad()
def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0):
    """N(mean, std^2) truncated to [a, b] (out-of-range draws are redrawn)."""
    data = _random.normal(mean, std, tensor.shape, tensor.dtype)
    bad = (data < a) | (data > b)
    while bad.any():
        data[bad] = _random.normal(mean, std, int(bad.sum()), tensor.dtype)
        bad = (data < a) | (data > b)
    return tensor.copy_(data)


@no_grad()
def eye_(tensor):
    """The identity matrix (2-D tensors)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_(): only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    tensor.zero_()
    n = min(tensor.shape)
    tensor.data[range(n), range(n)] = 1
    return tensor
