"""Model compression beyond ``convlab.nn.utils.prune``: channel shrinking
(:func:`shrink_channels`) and the iterative prune-and-finetune schedule behind
``convlab compress prune`` (:func:`prune_to_sparsity`), and :func:`model_size`, the bytes a
model needs in each method's storage format.

See docs/compression.md for the whole picture (pruning, pre-defined sparsity, quantisation,
binarisation) measured on the trained ``fmnist_cnn``.
"""

from .channels import channel_plan, mask_channels, shrink_channels
from .schedule import prunable_weights, prune_to_sparsity, sparsity
from .size import model_size

__all__ = [
    "channel_plan", "mask_channels", "model_size", "prunable_weights", "prune_to_sparsity", "shrink_channels",
    "sparsity",
]  # fmt: skip
