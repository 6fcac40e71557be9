"""``convlab.nn.functional``: the PyTorch-compatible F namespace, thin aliases over ``convlab.ops``.

Every name here has ``torch.nn.functional``'s signature, defaults and output shape.
"""

from __future__ import annotations

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

# convolution
from ..ops.conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_matrix,
    conv_output_shape,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    fold,
    unfold,
)

# dropout
from ..ops.dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout

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

# linear
from ..ops.matmul import linear

# normalisation
from ..ops.norm import batch_norm, group_norm, instance_norm, layer_norm, local_response_norm, rms_norm

# padding
from ..ops.pad import pad

# pooling and unpooling
from ..ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    bed_of_nails_unpool2d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    spectral_pool2d,
    stochastic_pool2d,
)

# upsampling
from ..ops.upsample import interpolate, nearest_unpool2d, pixel_shuffle, pixel_unshuffle

__all__ = [  # sorted; the imports above group them by kind
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool3d", "alpha_dropout", "avg_pool1d", "avg_pool2d", "avg_pool3d", "batch_norm",
    "bed_of_nails_unpool2d", "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv1d", "conv2d", "conv3d",
    "conv_matrix", "conv_output_shape", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "cross_entropy",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "elu", "feature_alpha_dropout", "fold", "gelu", "group_norm",
    "hardsigmoid", "hardswish", "hardtanh", "huber_loss", "instance_norm", "interpolate", "kl_div", "l1_loss",
    "layer_norm", "leaky_relu", "linear", "local_response_norm", "log_softmax", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d", "mse_loss",
    "nearest_unpool2d", "nll_loss", "pad", "pixel_shuffle", "pixel_unshuffle", "prelu", "relu", "relu6", "rms_norm",
    "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "spectral_pool2d", "stochastic_pool2d", "tanh",
    "unfold",
]
