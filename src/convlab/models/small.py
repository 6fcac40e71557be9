"""Small networks from the lecture notes: LeNet-5 and seed 004's cats-vs-dogs CNN.

(Seed 004's Fashion-MNIST CNN, ``fmnist_cnn``, lives in :mod:`convlab.models.seed_models` with the
training code that uses it.)
"""

from __future__ import annotations

from .. import nn
from ._registry import load_weights, register_model

__all__ = ["CatsVsDogsCNN", "LeNet5", "cats_vs_dogs_cnn", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998): two 5x5 convolutions with tanh and 2x2 average pooling, then
    three fully connected layers (400 -> 120 -> 84 -> classes). The first convolution pads by 2 so
    28x28 images (MNIST, Fashion-MNIST) play the role of the paper's 32x32 inputs; C5 (a 5x5
    convolution over a 5x5 map in the paper) is the equivalent ``Linear(400, 120)``.

    Args:
        num_classes: outputs.
        in_channels: image channels.

    Shape: ``(N, in_channels, 28, 28) -> (N, num_classes)``; 61,706 parameters with 10 classes.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.Tanh(),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


@register_model(input_size=(1, 28, 28))
def lenet5(*, weights=None, **kwargs) -> LeNet5:
    """LeNet-5, 61,706 parameters with 10 classes.

    Args:
        weights: None or the path of a state dict file (``.pth`` or ``.safetensors``).
        **kwargs: :class:`LeNet5` arguments (``num_classes``, ``in_channels``).
    """
    return load_weights(LeNet5(**kwargs), weights, "lenet5()")


class CatsVsDogsCNN(nn.Module):
    """Seed 004's cats-vs-dogs CNN ("Cats and Dogs - CNN.ipynb"): four blocks of 3x3 convolutions
    (padding 1, ReLU) with 2x2 max-pooling, channels 32-64 | 128-128 | 256-512 | 512-512, then
    dropout and two linear layers to one logit (use ``BCEWithLogitsLoss``).

    The seed's table shows the last pooling taking the 18x18 map to 8x8; ``MaxPool2d(3, stride=2)``
    is the smallest window that does, and is used there. Its dropout (a ``Dropout2d`` applied to
    the flattened vector, which acts as ordinary dropout) is ``nn.Dropout``.

    Args:
        image_size: input height and width (150 in the seed; sets the first linear layer's width).
        dropout: dropout probability before the classifier.

    Shape: ``(N, 3, image_size, image_size) -> (N, 1)``; 23,214,017 parameters at 150x150.
    """

    def __init__(self, image_size: int = 150, dropout: float = 0.5):
        super().__init__()

        def conv(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(3, 32), *conv(32, 64), nn.MaxPool2d(2),
            *conv(64, 128), *conv(128, 128), nn.MaxPool2d(2),
            *conv(128, 256), *conv(256, 512), nn.MaxPool2d(2),
            *conv(512, 512), *conv(512, 512), nn.MaxPool2d(3, stride=2),
        )  # fmt: skip
        side = (image_size // 2 // 2 // 2 - 3) // 2 + 1
        if side < 1:
            raise ValueError(f"CatsVsDogsCNN: image_size must be at least 24, got {image_size}")
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(512 * side * side, 512), nn.ReLU(inplace=True), nn.Linear(512, 1)
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


@register_model(input_size=(3, 150, 150))
def cats_vs_dogs_cnn(*, weights=None, **kwargs) -> CatsVsDogsCNN:
    """Seed 004's cats-vs-dogs CNN, 23,214,017 parameters at 150x150.

    Args:
        weights: None or the path of a state dict file (``.pth`` or ``.safetensors``).
        **kwargs: :class:`CatsVsDogsCNN` arguments (``image_size``, ``dropout``).
    """
    return load_weights(CatsVsDogsCNN(**kwargs), weights, "cats_vs_dogs_cnn()")
