"""Seed 004's Fashion-MNIST CNN built from cheaper layers, trained from scratch with
``convlab train --model <name>``: pre-defined sparse (``fmnist_cnn_sparse``) and binarised
(``fmnist_cnn_binary``: BinaryConnect, ``fmnist_cnn_xnor``: XNOR-Net). Same blocks, shapes and
``state_dict`` keys as :func:`~convlab.models.fmnist_cnn` (plus the sparse layers' ``mask``), so
``convlab eval``, ``summary`` and the compression table treat them alike (docs/compression.md).
"""

from __future__ import annotations

from functools import partial

from .. import nn
from ._registry import register_model

__all__ = ["fmnist_cnn_binary", "fmnist_cnn_sparse", "fmnist_cnn_xnor"]


def _fmnist_cnn(conv, linear, first_conv, num_classes, in_channels) -> nn.Sequential:
    """fmnist_cnn's layout with ``first_conv`` for the first convolution, ``conv`` for the other
    three and ``linear`` for the hidden fully connected layer (the classifier stays dense)."""

    def conv_block(make, cin: int, cout: int) -> list[nn.Module]:
        return [make(cin, cout, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(cout)]

    return nn.Sequential(
        *conv_block(first_conv, in_channels, 32), *conv_block(conv, 32, 32), nn.MaxPool2d(2), nn.Dropout(0.25),
        *conv_block(conv, 32, 64), *conv_block(conv, 64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), linear(64 * 7 * 7, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5),
        nn.Linear(512, num_classes),
    )  # fmt: skip


@register_model(input_size=(1, 28, 28))
def fmnist_cnn_sparse(
    num_classes: int = 10, in_channels: int = 1, density: float = 0.25, pattern: str = "periodic", seed: int = 0
) -> nn.Sequential:
    """:func:`~convlab.models.fmnist_cnn` with pre-defined sparsity: every convolution a
    :class:`~convlab.nn.SparseConv2d` (2 of 9 taps at ``density=0.25``) and the 3136 -> 512 layer
    a :class:`~convlab.nn.SparseLinear`; the 512 -> classes layer stays dense.

    Args:
        num_classes: outputs (logits).
        in_channels: image channels.
        density: the fraction of connections kept in the sparse layers.
        pattern: ``"periodic"`` or ``"random"``.
        seed: the random pattern's seed.

    Example::

        >>> net = convlab.models.fmnist_cnn_sparse()
        >>> sum(int(m.mask.sum()) for m in net.modules() if hasattr(m, "mask"))   # weights in use
        415808
    """
    options = {"density": density, "pattern": pattern, "seed": seed}
    conv = partial(nn.SparseConv2d, **options)
    return _fmnist_cnn(conv, partial(nn.SparseLinear, **options), conv, num_classes, in_channels)


@register_model(input_size=(1, 28, 28))
def fmnist_cnn_binary(num_classes: int = 10, in_channels: int = 1, mode: str = "binaryconnect") -> nn.Sequential:
    """:func:`~convlab.models.fmnist_cnn` with binary weights (BinaryConnect): the second to fourth
    convolutions are :class:`~convlab.nn.BinaryConv2d` and the 3136 -> 512 layer a
    :class:`~convlab.nn.BinaryLinear`; the first convolution (on the image) and the classifier
    stay in full precision, as in the papers.

    Args:
        num_classes: outputs (logits).
        in_channels: image channels.
        mode: ``"binaryconnect"`` (binary weights) or ``"xnor"`` (binary weights and inputs).
    """
    return _fmnist_cnn(
        partial(nn.BinaryConv2d, mode=mode), partial(nn.BinaryLinear, mode=mode), nn.Conv2d, num_classes, in_channels
    )


@register_model(input_size=(1, 28, 28))
def fmnist_cnn_xnor(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """:func:`fmnist_cnn_binary` as an XNOR-Net: binary weights scaled per filter by mean |W| and
    binary inputs in the binarised layers."""
    return fmnist_cnn_binary(num_classes, in_channels, mode="xnor")
