"""Training utilities (``convlab.nn.utils``): gradient clipping, as in ``torch.nn.utils``, and
pruning (:mod:`convlab.nn.utils.prune`)."""

from . import prune
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "prune"]
