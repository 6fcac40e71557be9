"""Model compression beyond ``convlab.nn.utils.prune``: channel shrinking
(:func:`shrink_channels`) and the iterative prune-and-finetune schedule behind
``convlab compress prune`` (:func:`prune_to_sparsity`).

See docs/compression.md for the whole picture (pruning, pre-defined sparsity, quantisation,
binarisation) measured on the trained ``fmnist_cnn``.
"""

from .channels import channel_plan, mask_channels, shrink_channels
from .schedule import prunable_weights, prune_to_sparsity, sparsity

__all__ = ["channel_plan", "mask_channels", "prunable_weights", "prune_to_sparsity", "shrink_channels", "sparsity"]
