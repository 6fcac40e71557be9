"""The networks of the main job (``convlab train``): seed 004's Fashion-MNIST CNN and its MLP
baseline, and seed 000's line-orientation CNN.

Each is one :class:`~convlab.nn.Sequential`, so its ``state_dict`` keys (``0.weight``,
``2.running_mean``, ...) are those of the same ``torch.nn.Sequential``.
"""

from __future__ import annotations

from .. import nn
from ._registry import register_model

__all__ = ["fmnist_cnn", "fmnist_cnn_fast", "mlp", "orientation_cnn"]


@register_model(input_size=(1, 28, 28))
def fmnist_cnn(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """Seed 004's Fashion-MNIST CNN: two blocks of [conv3x3 - ReLU - BN] x 2 - max-pool - dropout,
    then a 512-unit fully connected layer with BN and dropout. About 93.5% test accuracy.

    Args:
        num_classes: outputs (logits).
        in_channels: image channels.

    Shape: ``(N, in_channels, 28, 28) -> (N, num_classes)``; 1,677,674 trainable parameters
    (plus 1,408 BatchNorm running statistics) with the defaults.

    Example::

        >>> net = convlab.models.fmnist_cnn()
        >>> sum(p.numel() for p in net.parameters())
        1677674
    """

    def conv_block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(cout)]

    return nn.Sequential(
        *conv_block(in_channels, 32), *conv_block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.25),
        *conv_block(32, 64), *conv_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Dropout(0.5),
        nn.Linear(512, num_classes),
    )  # fmt: skip


@register_model(input_size=(1, 28, 28))
def fmnist_cnn_fast(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """The network of ``convlab train --recipe fast`` (time to accuracy, see ``docs/training.md``):
    :func:`fmnist_cnn`'s four 3x3 convolutions and two max-pools with the changes that made it
    reach 93.5% sooner in the ablation - BatchNorm before ReLU (convolutions without bias, which
    BN's shift replaces), no dropout (a short schedule under-fits rather than over-fits), and a
    128-unit hidden layer instead of 512 (the 3136x512 layer held 96% of the parameters).

    Args:
        num_classes: outputs (logits).
        in_channels: image channels.

    Shape: ``(N, in_channels, 28, 28) -> (N, num_classes)``; 468,266 trainable parameters with the
    defaults.

    Example::

        >>> net = convlab.models.fmnist_cnn_fast()
        >>> sum(p.numel() for p in net.parameters())
        468266
    """

    def conv_block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *conv_block(in_channels, 32), *conv_block(32, 32), nn.MaxPool2d(2),
        *conv_block(32, 64), *conv_block(64, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, num_classes),
    )  # fmt: skip


@register_model(input_size=(1, 28, 28))
def mlp(num_classes: int = 10, in_features: int = 28 * 28, hidden: int = 512, dropout: float = 0.2) -> nn.Sequential:
    """Seed 004's baseline: a multi-layer perceptron on the flattened image (about 88% on
    Fashion-MNIST, against 93.5% for :func:`fmnist_cnn`).

    Args:
        num_classes: outputs (logits).
        in_features: pixels per image (channels x height x width).
        hidden: width of the two hidden layers.
        dropout: dropout probability after each hidden layer.

    Shape: ``(N, *) -> (N, num_classes)`` with ``in_features`` values per sample; 669,706
    parameters with the defaults.
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )  # fmt: skip


@register_model(input_size=(1, 32, 32))
def orientation_cnn(channels: int = 2, kernel_size: int = 5, num_classes: int = 2) -> nn.Sequential:
    """Seed 000's worked example: conv (C = 2 channels) - ReLU - global average pooling - fully
    connected, classifying line images as vertical (0) or horizontal (1). The softmax of the slide
    is in the loss (``cross_entropy`` takes logits).

    Args:
        channels: convolution channels (the seed uses 2, so the kernels can be drawn).
        kernel_size: convolution kernel size ('same' padding).
        num_classes: outputs (logits).

    Shape: ``(N, 1, H, W) -> (N, num_classes)``.
    """
    return nn.Sequential(
        nn.Conv2d(1, channels, kernel_size, padding=kernel_size // 2), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes),
    )  # fmt: skip
