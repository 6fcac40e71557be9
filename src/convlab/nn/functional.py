"""``convlab.nn.functional``: the PyTorch-compatible F namespace, thin aliases over ``convlab.ops``.

Every name here has ``torch.nn.functional``'s signature, defaults and output shape.
"""

from __future__ import annotations

from ..ops.activation import log_softmax, softmax
from ..ops.matmul import linear

__all__ = ["linear", "log_softmax", "softmax"]
