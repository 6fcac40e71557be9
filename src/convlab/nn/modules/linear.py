"""``Linear``, ``Identity``, ``Flatten``, ``Unflatten``."""

from __future__ import annotations

import math
import numbers

from ... import creation
from ...ops import matmul, shape
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .module import Module


def _weight_and_bias(module, weight_shape, bias_size, bias: bool, device, dtype) -> None:
    """Register ``weight`` of ``weight_shape`` and ``bias`` of ``(bias_size,)`` (None unless
    ``bias``), as Linear and the convolutions do; their values come from :func:`_init_weight_and_bias`."""
    module.weight = Parameter(creation.empty(*weight_shape, dtype=dtype, device=device))
    if bias:
        module.bias = Parameter(creation.empty(bias_size, dtype=dtype, device=device))
    else:
        module.register_parameter("bias", None)


def _init_weight_and_bias(weight, bias) -> None:
    """PyTorch's default for Linear and the convolutions: weight ~ kaiming_uniform(a=sqrt(5)),
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias from the same range (0 when fan_in is 0),
    ``fan_in = weight.shape[1] * prod(weight.shape[2:])``."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def _check_tensor_input(module, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{module!r}: expected a Tensor input, got {type(input).__name__}")


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored, as in PyTorch); a
    placeholder, e.g. to remove a classifier head.

    Example::

        >>> net.fc = nn.Identity()
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default True).

    Shape:
        input (*, in_features) -> output (*, out_features).

    Weights and bias start from U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.

    Example::

        >>> fc = nn.Linear(20, 30)
        >>> fc(convlab.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        _weight_and_bias(self, (out_features, in_features), out_features, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        return self._linear_forward(input, self.weight, self.bias)

    def _linear_forward(self, input, weight, bias):
        """``input @ weight.T + bias`` with the layer's checks (``weight`` may be a transformed or
        pruned one, as for :meth:`_ConvNd._conv_forward`)."""
        _check_tensor_input(self, input)
        data = input.data
        if data.ndim == 0 or data.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input with last dimension {self.in_features} (*, {self.in_features}), "
                f"got shape {tuple(input.shape)}"
            )
        if data.dtype != weight.data.dtype:
            raise TypeError(
                f"{self!r}: expected input of the weight's dtype {weight.dtype}, got {input.dtype} "
                f"(convert one of them with .to())"
            )
        return matmul.Linear.apply(input, weight, bias)  # arguments checked above

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens dims ``start_dim..end_dim`` into one (default: all but the batch dim).

    Args:
        start_dim: first dim to flatten (default 1).
        end_dim: last dim to flatten (default -1).

    Shape: (N, *dims) -> (N, prod(dims)) with the defaults.

    Example::

        >>> nn.Flatten()(convlab.zeros(32, 1, 5, 5)).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        _check_tensor_input(self, input)
        return shape.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim ``dim`` into ``unflattened_size`` (the inverse of :class:`Flatten`).

    Args:
        dim: the dim to split.
        unflattened_size: the new sizes, a tuple or list of ints whose product is the dim's size
            (one may be -1).

    Shape: (*, S, *) -> (*, U1, ..., Un, *) with U1 * ... * Un = S.

    Example::

        >>> nn.Unflatten(1, (2, 5))(convlab.zeros(2, 10)).shape
        (2, 2, 5)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                f"Unflatten(): unflattened_size must be a tuple of ints, got {type(unflattened_size).__name__}"
            )
        for i, n in enumerate(unflattened_size):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool):
                raise TypeError(
                    f"Unflatten(): unflattened_size must be a tuple of ints, got {type(n).__name__} at position {i}"
                )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        _check_tensor_input(self, input)
        return shape.unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
