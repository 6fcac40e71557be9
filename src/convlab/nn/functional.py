"""``convlab.nn.functional``: the PyTorch-compatible F namespace, thin aliases over ``convlab.ops``.

Every name here has ``torch.nn.functional``'s signature, defaults and output shape.
"""

from __future__ import annotations

# linear
from ..ops.matmul import linear

# activations
from ..ops.activation import (
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    prelu,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)

# losses
from ..ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)

__all__ = [
    # linear
    "linear",
    # activations
    "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "log_softmax", "prelu", "relu", "relu6",
    "sigmoid", "silu", "softmax", "softplus", "tanh",
    # losses
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "kl_div", "l1_loss",
    "mse_loss", "nll_loss", "smooth_l1_loss",
]
