"""The seed-000 worked example: images of vertical (class 0) or horizontal (class 1) lines, and
:func:`modulate`, which builds the out-of-domain test that fools a classifier trained on them.

A small CNN (``convlab.models.orientation_cnn``) learns this task almost perfectly, but its
first layer does not look for *lines*: it measures where the image's energy sits in the Fourier
domain (vertical lines put it along the horizontal-frequency axis, horizontal lines along the
vertical one). Multiplying an image by a sinusoid shifts its spectrum by the sinusoid's
frequency, so horizontal lines modulated by a wave along x still look horizontal to us but have
their energy where vertical lines have theirs, and the classifier's accuracy drops to chance.
"""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import numpy as np

from ...backend import array_module
from ...tensor import Tensor
from .vision import ImageArrayDataset

VERTICAL, HORIZONTAL = 0, 1


class LineOrientation(ImageArrayDataset):
    """Synthetic float32 images (H, W) in [0, 1] of vertical (label 0) or horizontal (label 1) lines.

    Each image has 1-4 line segments of random thickness (1-3 pixels), position, length (at
    least half the image) and intensity (0.5-1), over a noisy background; the classes are exactly
    balanced. Images are a deterministic function of ``seed``; by default the training set
    uses seed 0 and the test set seed 1, so they never share images.

    Args:
        train: the training set (default 2,000 images) or the test set (default 1,000).
        size: image height and width in pixels.
        num_images: how many images (even number; default by split as above).
        seed: the generator seed (default 0 for train, 1 for test).
        transform: applied to each image (float32 (size, size) array), e.g. ``ToTensor()``.
        target_transform: applied to each label.

    Example::

        >>> train = LineOrientation(transform=ToTensor())
        >>> image, label = train[0]
        >>> image.shape, train.classes[label]
        ((1, 32, 32), 'horizontal')
    """

    classes: ClassVar[list[str]] = ["vertical", "horizontal"]
    max_lines = 4

    def __init__(self, train: bool = True, size: int = 32, num_images: int | None = None, seed: int | None = None,
                 transform=None, target_transform=None):
        if not isinstance(size, numbers.Integral) or size < 4:
            raise ValueError(f"LineOrientation(): size must be an int >= 4, got {size!r}")
        if num_images is None:
            num_images = 2000 if train else 1000
        if not isinstance(num_images, numbers.Integral) or num_images < 2 or num_images % 2:
            raise ValueError(f"LineOrientation(): num_images must be an even int >= 2 (balanced classes), got "
                             f"{num_images!r}")
        self.train, self.size = bool(train), int(size)
        self.seed = (0 if train else 1) if seed is None else int(seed)
        images, labels = _make_lines(np.random.default_rng(self.seed), int(num_images), self.size, self.max_lines)
        super().__init__(images, labels, transform, target_transform)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}\nSize: {self.size}x{self.size}, seed {self.seed}"


def _make_lines(rng: np.random.Generator, n: int, size: int, max_lines: int):
    """``n`` images (float32 (n, size, size)) and balanced labels, drawn in a few array operations.

    Each image is drawn as horizontal lines (rows ``across`` x columns ``along``); the vertical
    class is the transpose.
    """
    labels = rng.permutation(np.arange(n) % 2)
    count = rng.integers(1, max_lines + 1, n)
    thickness = rng.integers(1, 4, (n, max_lines))
    position = rng.integers(0, size - thickness + 1)
    length = rng.integers(size // 2, size + 1, (n, max_lines))
    start = rng.integers(0, size - length + 1)
    intensity = rng.uniform(0.5, 1.0, (n, max_lines)).astype(np.float32)
    coords = np.arange(size)
    images = np.zeros((n, size, size), np.float32)
    for k in range(max_lines):
        rows = (coords >= position[:, k, None]) & (coords < (position + thickness)[:, k, None])  # (n, size)
        cols = (coords >= start[:, k, None]) & (coords < (start + length)[:, k, None])
        active = (count > k)[:, None, None]
        line = (rows[:, :, None] & cols[:, None, :] & active) * intensity[:, k, None, None]
        np.maximum(images, line, out=images)
    background = rng.uniform(0.0, 0.2, (n, 1, 1)).astype(np.float32)
    noise = rng.standard_normal((n, size, size), dtype=np.float32) * rng.uniform(0.02, 0.1, (n, 1, 1)).astype(np.float32)
    images = np.clip(np.maximum(images, background) + noise, 0, 1)
    vertical = labels == VERTICAL
    images[vertical] = images[vertical].transpose(0, 2, 1)
    return np.ascontiguousarray(images), labels


def modulate(images, frequency: float, angle: float = 0.0):
    """Multiply images by the sinusoid cos(2 pi f (x cos a - y sin a)), moving their Fourier energy.

    A product in space is a convolution in frequency: the image's spectrum is copied to +/- the
    wave's frequency vector. Horizontal lines (energy on the vertical-frequency axis) modulated by
    a wave along x (``angle=0``) get their energy at horizontal frequency +/- f, where vertical
    lines have theirs; to a person they still look like (dashed) horizontal lines.

    Args:
        images: a Tensor or NumPy array (..., H, W) (differentiable for Tensors).
        frequency: the wave's frequency in cycles per pixel (0.5 is the highest, alternating signs).
        angle: the direction of the wave vector, degrees counter-clockwise on screen from the x
            axis (x is the column, y the row index, growing downwards; hence the minus sign).

    Returns:
        The modulated images, same type and shape (values in [-1, 1] for images in [0, 1]).

    Example::

        >>> test = LineOrientation(train=False)
        >>> fooled = modulate(test.data, frequency=0.25)   # wave along x
    """
    if not isinstance(frequency, numbers.Real) or frequency < 0 or not math.isfinite(frequency):
        raise ValueError(f"modulate(): frequency must be a finite number >= 0 (cycles per pixel), got {frequency!r}")
    if not isinstance(angle, numbers.Real) or not math.isfinite(angle):
        raise ValueError(f"modulate(): angle must be a finite number of degrees, got {angle!r}")
    data = images.data if isinstance(images, Tensor) else np.asarray(images)
    if data.ndim < 2:
        raise ValueError(f"modulate(): expected images (..., H, W), got shape {tuple(data.shape)}")
    if data.dtype.kind != "f":
        raise TypeError(f"modulate(): expected floating-point images (e.g. in [0, 1]), got dtype {data.dtype}")
    height, width = data.shape[-2:]
    theta = math.radians(angle)
    ys, xs = np.mgrid[0:height, 0:width]
    wave = np.cos(2 * np.pi * frequency * (xs * math.cos(theta) - ys * math.sin(theta))).astype(data.dtype)
    wave = array_module(data).asarray(wave)
    if isinstance(images, Tensor):
        return images * Tensor(wave)
    return data * wave
