"""Structured filter pruning that really removes channels: :func:`shrink_channels`.

Unstructured pruning (:mod:`convlab.nn.utils.prune`) zeroes weights but keeps every tensor's
shape, so the dense convolutions cost as much as before. Removing whole output filters of a
convolution (those of smallest L1 norm, Li et al. 2017, "Pruning filters for efficient
ConvNets") makes the layer, and the layers that read its channels, smaller: parameters and
FLOPs drop with no special kernel.

A convolution's filters can be removed when its output reaches exactly one consumer through
per-channel layers only: the next convolution (its input channels go), with BatchNorm,
activations, pooling and dropout in between (BatchNorm keeps only the kept channels' weights and
statistics), or a ``Flatten`` followed by a ``Linear`` (its input columns of those channels go).
Such pairs are found in every ``nn.Sequential`` (children run in order) and inside ResNet blocks,
whose inner convolutions feed only the next one; a block's last convolution is added to the
shortcut, whose channels every block of the stage shares, so it is left whole.

The smaller model computes exactly what the original computes with those channels masked to
zero (filter, bias and the BatchNorm's affine weights): :func:`mask_channels` builds that masked
original with :func:`convlab.nn.utils.prune.custom_from_mask`.
"""

from __future__ import annotations

import copy

from .. import nn
from ..backend import array_module
from ..models.resnet import BasicBlock, Bottleneck
from ..nn.parameter import Parameter
from ..nn.utils import prune
from ..tensor import Tensor

__all__ = ["channel_plan", "mask_channels", "shrink_channels"]

# layers that act on every channel separately and map 0 to 0: a pruned channel stays zero through
# them (BatchNorm once its affine weight and bias are masked too; not Sigmoid: sigmoid(0) = 0.5)
_PER_CHANNEL = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Hardtanh, nn.Hardswish,
    nn.MaxPool2d, nn.AvgPool2d, nn.Dropout, nn.Dropout2d, nn.Identity, nn.BatchNorm2d,
)  # fmt: skip
# inside ResNet blocks: (producer conv, its BatchNorm, consumer conv)
_BLOCK_CHAINS = {
    BasicBlock: [("conv1", "bn1", "conv2")],
    Bottleneck: [("conv1", "bn1", "conv2"), ("conv2", "bn2", "conv3")],
}


def _prunable_conv(module) -> bool:
    return type(module) is nn.Conv2d and module.groups == 1


def _chains(model):
    """``(producer name, [BatchNorm names], consumer name, consumer kind)`` for every convolution
    whose filters can go; kind is ``"conv"`` or ``"linear"`` (after a Flatten)."""
    chains = []
    for prefix, module in model.named_modules():
        dotted = f"{prefix}." if prefix else ""
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
            for i, (name, child) in enumerate(children):
                if not _prunable_conv(child):
                    continue
                norms, flattened = [], False
                for next_name, following in children[i + 1 :]:
                    if isinstance(following, nn.BatchNorm2d) and not following.affine:
                        break  # it would turn a zero channel into -mean / std, which the consumer reads
                    if isinstance(following, nn.BatchNorm2d):
                        norms.append(dotted + next_name)
                    if isinstance(following, _PER_CHANNEL):
                        continue
                    if _prunable_conv(following) and not flattened:
                        chains.append((dotted + name, norms, dotted + next_name, "conv"))
                    elif isinstance(following, nn.Flatten) and following.start_dim == 1 and not flattened:
                        flattened = True
                        continue
                    elif type(following) is nn.Linear and flattened:
                        chains.append((dotted + name, norms, dotted + next_name, "linear"))
                    break
        for block_type, triples in _BLOCK_CHAINS.items():
            if type(module) is block_type:
                chains.extend((dotted + a, [dotted + b], dotted + c, "conv") for a, b, c in triples)
    return chains


def _check_amount(amount):
    try:
        prune._validate_pruning_amount_init(amount)
    except (TypeError, ValueError) as error:
        raise type(error)(f"shrink_channels(): {error}") from None


def channel_plan(model, amount, norm: float = 1) -> dict:
    """Which output channels of each prunable convolution to keep: the ``1 - amount`` filters of
    largest L\\ :sub:`norm` norm (at least one per layer).

    Args:
        model: the network.
        amount: a float in [0, 1] (the fraction of each layer's filters to remove) or a
            non-negative int (how many per layer).
        norm: the order of the filter norm (1: Li et al.'s L1).

    Returns:
        ``{conv name: (kept indices (sorted), [BatchNorm names], consumer name, consumer kind)}``.

    Raises:
        ValueError: ``amount`` is out of range (or, as a count, at least a layer's channels), or
            the model has no convolution whose filters can be removed.
    """
    _check_amount(amount)
    if prune.is_pruned(model):
        raise ValueError("shrink_channels(): the model has pruning hooks; make them permanent with prune.remove first")
    chains = _chains(model)
    if not chains:
        raise ValueError(
            f"shrink_channels(): {type(model).__name__} has no convolution whose filters can be removed (a Conv2d "
            "feeding one Conv2d, or Flatten + Linear, through per-channel layers of an nn.Sequential or a ResNet block)"
        )
    plan = {}
    for producer, norms, consumer, kind in chains:
        weight = model.get_parameter(producer + ".weight").data
        xp = array_module(weight)
        channels = weight.shape[0]
        n_remove = prune._compute_nparams_toprune(amount, channels)
        if n_remove >= channels:
            raise ValueError(
                f"shrink_channels(): amount={amount} would remove all {channels} filters of {producer}; "
                f"at least one must stay"
            )
        scores = prune._compute_norm(weight, norm, 0)
        keep = xp.sort(prune._indices_of_largest(scores, channels - n_remove))
        plan[producer] = (keep, norms, consumer, kind)
    return plan


def mask_channels(model, amount, norm: float = 1) -> dict:
    """Zero the filters :func:`shrink_channels` would remove, in place, with
    :func:`convlab.nn.utils.prune.custom_from_mask` (filter, bias, and the following BatchNorm's
    weight and bias, so the channel is zero where the next layer reads it). Returns the plan of
    :func:`channel_plan`; ``prune.remove`` makes the masks permanent."""
    plan = channel_plan(model, amount, norm)
    for producer, (keep, norms, _, _) in plan.items():
        conv = model.get_submodule(producer)
        xp = array_module(conv.weight.data)
        channel_mask = xp.zeros(conv.out_channels, dtype=conv.weight.dtype)
        channel_mask[keep] = 1
        prune.custom_from_mask(conv, "weight", Tensor(xp.broadcast_to(channel_mask[:, None, None, None],
                                                                      conv.weight.shape).copy()))  # fmt: skip
        targets = [(conv, "bias")] + [(model.get_submodule(n), p) for n in norms for p in ("weight", "bias")]
        for module, name in targets:
            if getattr(module, name, None) is not None:
                prune.custom_from_mask(module, name, Tensor(channel_mask.copy()))
    return plan


def _slice_parameter(module, name, index, axis):
    value = getattr(module, name)
    if value is None:
        return
    data = value.data.take(index, axis=axis)
    if isinstance(value, Parameter):
        setattr(module, name, Parameter(data, requires_grad=value.requires_grad))
    else:
        module.register_buffer(name, Tensor(data), persistent=name not in module._non_persistent_buffers)


def shrink_channels(model, amount, norm: float = 1):
    """A copy of ``model`` without the ``amount`` filters of smallest L1 norm of every
    convolution that feeds one consumer (see the module docstring), its consumers rewired.

    Args:
        model: the network (left unchanged).
        amount: a float in [0, 1] (the fraction of each such layer's filters) or a non-negative
            int (how many per layer).
        norm: the order of the filter norm (default 1).

    Returns:
        the smaller model, in ``model``'s train/eval mode; its output equals ``model``'s with
        those channels masked (:func:`mask_channels`).

    Example::

        >>> net = convlab.models.fmnist_cnn()
        >>> small = convlab.compress.shrink_channels(net, 0.5)
        >>> small[0], small[3]
        (Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)), Conv2d(16, 16, ...))
    """
    plan = channel_plan(model, amount, norm)
    small = copy.deepcopy(model)
    for producer, (keep, norms, consumer, kind) in plan.items():
        conv = small.get_submodule(producer)
        for name in ("weight", "bias"):
            _slice_parameter(conv, name, keep, 0)
        conv.out_channels = len(keep)
        for norm_name in norms:
            bn = small.get_submodule(norm_name)
            for name in ("weight", "bias", "running_mean", "running_var"):
                _slice_parameter(bn, name, keep, 0)
            bn.num_features = len(keep)
        target = small.get_submodule(consumer)
        if kind == "conv":
            _slice_parameter(target, "weight", keep, 1)
            target.in_channels = len(keep)
        else:  # Linear after Flatten: each channel is a block of H*W consecutive inputs
            xp = array_module(target.weight.data)
            plane = target.in_features // model.get_submodule(producer).out_channels
            columns = (keep[:, None] * plane + xp.arange(plane)[None, :]).reshape(-1)
            _slice_parameter(target, "weight", columns, 1)
            target.in_features = len(columns)
    return small
