"""``Parameter``: a tensor that a :class:`~convlab.nn.Module` registers as learnable."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is listed by ``Module.parameters()``.

    Args:
        data: a Tensor or array to wrap (shared, not copied); default an empty float32 tensor.
        requires_grad: whether the parameter is trained.

    Example::

        >>> w = nn.Parameter(convlab.zeros(3, 4))
        >>> w.requires_grad
        True
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros((0,), dtype=np.float32)
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
