"""How many bytes a model's weights need in each compression method's natural storage format,
the "size" of docs/compression.md.

- dense tensors: ``numel * itemsize`` (float32: 4 bytes a value), parameters and the floating
  buffers inference needs (BatchNorm statistics);
- pruned (unstructured) conv/linear weights, with ``sparse_weights=True``: 4 bytes per nonzero
  value plus a bitmap of 1 bit per position;
- pre-defined sparse layers: 4 bytes per weight in the pattern (the pattern itself is rebuilt
  from ``density``, ``pattern`` and ``seed``, not stored);
- binarised layers: 1 bit per weight, plus a float32 ``alpha`` per output for XNOR.
"""

from __future__ import annotations

import math

from .. import nn
from ..nn.utils import prune

__all__ = ["model_size"]

_WEIGHTED = (nn.Conv2d, nn.Linear)


def model_size(model, sparse_weights: bool = False) -> int:
    """The bytes ``model`` needs for inference in its storage format (see the module docstring).

    Args:
        model: the network (pruning masks, if any, are applied: a pruned weight counts as zero).
        sparse_weights: store conv/linear weights as nonzero values plus a bitmap (for
            unstructured pruning); otherwise dense.

    Example::

        >>> convlab.compress.model_size(convlab.models.fmnist_cnn())   # float32, with BN statistics
        6716328
    """
    total = 0
    for module in model.modules():
        pruned = {hook._tensor_name for hook in module._forward_pre_hooks.values()
                  if isinstance(hook, prune.BasePruningMethod)}  # fmt: skip
        tensors = {n: getattr(module, n) for n in pruned}
        tensors.update((n, p) for n, p in module._parameters.items() if p is not None and n[:-5] not in pruned)
        tensors.update(
            (n, b) for n, b in module._buffers.items()
            if b is not None and b.data.dtype.kind == "f" and n not in module._non_persistent_buffers
            and not (n == "mask" and isinstance(module, (nn.SparseConv2d, nn.SparseLinear)))
            and not (n.endswith("_mask") and n[:-5] in pruned)
        )  # fmt: skip
        for name, tensor in tensors.items():
            data, n = tensor.data, tensor.numel()
            if name == "weight" and isinstance(module, (nn.SparseConv2d, nn.SparseLinear)):
                total += int(module.mask.data.sum()) * data.itemsize
            elif name == "weight" and isinstance(module, (nn.BinaryConv2d, nn.BinaryLinear)):
                total += math.ceil(n / 8) + (data.shape[0] * data.itemsize if module.mode == "xnor" else 0)
            elif name == "weight" and sparse_weights and isinstance(module, _WEIGHTED):
                total += int((data != 0).sum()) * data.itemsize + math.ceil(n / 8)
            else:
                total += n * data.itemsize
    return total
