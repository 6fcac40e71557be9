"""Activation layers: ``ReLU``, ``ReLU6``, ``LeakyReLU``, ``ELU``, ``GELU``, ``SiLU``, ``Sigmoid``,
``Tanh``, ``Hardtanh``, ``Softplus``, ``Hardswish``, ``Hardsigmoid``, ``PReLU``, ``Softmax``,
``LogSoftmax``.

Each stores its options and calls the functional form in ``convlab.ops.activation`` (where the
math and its derivative live). All are shape-preserving: input (*) -> output (*). ``extra_repr``
prints what PyTorch prints, e.g. ``LeakyReLU(negative_slope=0.2, inplace=True)``.
"""

from __future__ import annotations

import warnings

from ... import creation
from ...ops import activation as F
from .. import init
from ..parameter import Parameter
from .module import Module


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """max(x, 0), elementwise.

    Args:
        inplace: overwrite the input when no gradient flows through it (default False).

    Shape: input (*) -> output (*), same shape.

    Example::

        >>> nn.ReLU()(convlab.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x.

    Args:
        negative_slope: the slope for negative inputs (default 0.01).
        inplace: overwrite the input when no gradient flows through it.

    Shape: input (*) -> output (*).

    Example::

        >>> nn.LeakyReLU(0.2)(convlab.tensor([-1.0, 2.0]))
        tensor([-0.2000,  2.0000])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x if x > 0 else alpha (e^x - 1).

    Args:
        alpha: the saturation value for negative inputs is -alpha (default 1.0).
        inplace: overwrite the input when no gradient flows through it.

    Shape: input (*) -> output (*).

    Example::

        >>> nn.ELU()(convlab.randn(2, 3)).shape
        (2, 3)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x Phi(x), Phi the standard normal CDF.

    Args:
        approximate: ``'none'`` (exact, with erf) or ``'tanh'`` (the tanh approximation).

    Shape: input (*) -> output (*).

    Example::

        >>> nn.GELU(approximate="tanh")(convlab.randn(4)).shape
        (4,)
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x) (swish).

    Args:
        inplace: overwrite the input when no gradient flows through it.

    Shape: input (*) -> output (*).

    Example::

        >>> nn.SiLU()(convlab.zeros(2))
        tensor([0., 0.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Sigmoid(Module):
    """1 / (1 + e^-x).

    Shape: input (*) -> output (*).

    Example::

        >>> nn.Sigmoid()(convlab.zeros(1))
        tensor([0.5000])
    """

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x).

    Shape: input (*) -> output (*).

    Example::

        >>> nn.Tanh()(convlab.zeros(1))
        tensor([0.])
    """

    def forward(self, input):
        return F.tanh(input)


class Hardtanh(Module):
    """x clamped to [min_val, max_val].

    Args:
        min_val: lower bound (default -1).
        max_val: upper bound (default 1).
        inplace: overwrite the input when no gradient flows through it.
        min_value, max_value: deprecated spellings of ``min_val``/``max_val`` (warn).

    Shape: input (*) -> output (*).

    Example::

        >>> nn.Hardtanh(-2.0, 2.0)(convlab.tensor([-3.0, 0.5]))
        tensor([-2.0000,  0.5000])
    """

    def __init__(
        self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, min_value=None, max_value=None
    ):
        super().__init__()
        if min_value is not None:
            warnings.warn(
                "keyword argument `min_value` is deprecated and renamed to `min_val`", FutureWarning, stacklevel=2
            )
            min_val = min_value
        if max_value is not None:
            warnings.warn(
                "keyword argument `max_value` is deprecated and renamed to `max_val`", FutureWarning, stacklevel=2
            )
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(
                f"Hardtanh(): max_val must be greater than min_val, got min_val={min_val}, max_val={max_val}"
            )
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): Hardtanh(0, 6).

    Args:
        inplace: overwrite the input when no gradient flows through it.

    Shape: input (*) -> output (*).

    Example::

        >>> nn.ReLU6()(convlab.tensor([-1.0, 7.0]))
        tensor([0., 6.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, the identity where beta x > threshold.

    Args:
        beta: sharpness (default 1).
        threshold: above ``beta * x > threshold`` the output is x (default 20).

    Shape: input (*) -> output (*).

    Example::

        >>> nn.Softplus()(convlab.zeros(1))
        tensor([0.6931])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardswish(Module):
    """x relu6(x + 3) / 6 (MobileNetV3).

    Args:
        inplace: overwrite the input when no gradient flows through it.

    Shape: input (*) -> output (*).

    Example::

        >>> nn.Hardswish()(convlab.tensor([-4.0, 4.0]))
        tensor([-0., 4.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardsigmoid(Module):
    """relu6(x + 3) / 6.

    Args:
        inplace: overwrite the input when no gradient flows through it.

    Shape: input (*) -> output (*).

    Example::

        >>> nn.Hardsigmoid()(convlab.zeros(1))
        tensor([0.5000])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class PReLU(Module):
    """x if x > 0 else a x, with a learned slope ``a``: one shared, or one per channel (dim 1).

    Args:
        num_parameters: 1 (shared) or the number of input channels (default 1).
        init: initial slope (default 0.25).

    Attributes:
        weight: the slopes, shape (num_parameters,).

    Shape: input (N, C, *) or (*) -> output of the same shape.

    Example::

        >>> act = nn.PReLU(16)
        >>> act(convlab.randn(2, 16, 8, 8)).shape
        (2, 16, 8, 8)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(creation.empty(num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    """e^x / sum(e^x) along ``dim``, so the slices along ``dim`` sum to 1.

    Args:
        dim: the dimension to normalise (None: PyTorch's deprecated implicit choice, warns).

    Shape: input (*) -> output (*).

    Example::

        >>> nn.Softmax(dim=1)(convlab.zeros(2, 4))[0]
        tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably as x - logsumexp(x).

    Args:
        dim: the dimension to normalise.

    Shape: input (*) -> output (*).

    Example::

        >>> nn.LogSoftmax(dim=1)(convlab.zeros(1, 2))
        tensor([[-0.6931, -0.6931]])
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
