"""Image transforms with torchvision's names: ``Compose``, ``Resize``, ``ToTensor``, ``Normalize``,
``RandomCrop``, ``RandomHorizontalFlip``, ``RandomAffine``, ``RandomErasing``.

Each transform works on one image (``t(image)``) and, vectorised, on a whole batch of images
stacked along a first axis (``t.batch(images)``): the in-memory datasets use the batch form, so
augmenting 128 images costs a few array operations instead of 128 Python calls. Images are
NumPy arrays or convlab Tensors; the geometric transforms act on the last two axes (H, W), so a
raw grayscale image ``(H, W)``, a tensor ``(C, H, W)`` and a batch ``(N, C, H, W)`` all work.

Random transforms draw from :func:`current_generator`: inside a :class:`~convlab.data.DataLoader`
that is a generator seeded per batch from the loader's own generator (so batches are the same
with or without the prefetch thread, and an epoch can be resumed part-way exactly); elsewhere it
is convlab's generator (``convlab.manual_seed``).

Example::

    >>> from convlab.data import transforms as T
    >>> train_tf = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(28, padding=2), T.ToTensor(),
    ...                       T.Normalize((0.2860,), (0.3530,))])
"""

from __future__ import annotations

import contextlib
import numbers
import threading

import numpy as np

from .. import _random
from ..backend import array_module
from ..tensor import Tensor

_local = threading.local()


def current_generator() -> np.random.Generator:
    """The generator random transforms draw from in this thread (see the module docstring)."""
    generator = getattr(_local, "generator", None)
    return _random.default_generator() if generator is None else generator


@contextlib.contextmanager
def use_generator(generator: np.random.Generator):
    """Make random transforms in this thread draw from ``generator`` inside the ``with`` block."""
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous


def _unwrap(owner, image):
    """(array, was_tensor): transforms compute on arrays and give back what they received."""
    if isinstance(image, Tensor):
        return image.data, True
    if isinstance(image, np.ndarray) or type(image).__module__.startswith("cupy"):
        return image, False
    raise TypeError(f"{owner}: expected an image as a numpy.ndarray or convlab Tensor, got {type(image).__name__}")


def _rewrap(array, as_tensor):
    return Tensor(array) if as_tensor else array


def _check_spatial(owner, array, batched: bool):
    least = 3 if batched else 2
    if array.ndim < least:
        layout = "(N, *, H, W)" if batched else "(*, H, W)"
        raise ValueError(f"{owner}: expected {'a batch of images' if batched else 'an image'} {layout} with at least "
                         f"{least} dimensions, got shape {tuple(array.shape)}")


def _pair(owner, name, value) -> tuple[int, int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"{owner}: {name} must be a positive int or a pair (h, w) of positive ints, got {value!r}")
    return int(value[0]), int(value[1])


class Transform:
    """Base class: ``__call__`` transforms one image, ``batch`` a stack of them (first axis N).

    The default ``__call__`` runs ``batch`` on a batch of one, so a subclass usually writes only
    ``batch``; ``supports_batch`` is False for a transform that can only work image by image.
    """

    supports_batch = True

    def __call__(self, image):
        array, as_tensor = _unwrap(repr(self), image)
        _check_spatial(repr(self), array, batched=False)
        return _rewrap(self.batch(array[None])[0], as_tensor)

    def batch(self, images):
        raise NotImplementedError(f"{type(self).__name__} does not implement batch()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""


class Compose(Transform):
    """Apply ``transforms`` one after the other.

    Args:
        transforms: a list of transforms (any callables; only the convlab ones can run on a batch).

    Example::

        >>> tf = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for k, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose(): transform {k} is not callable: {t!r}")

    @property
    def supports_batch(self) -> bool:
        return all(getattr(t, "supports_batch", False) for t in self.transforms)

    def __call__(self, image):
        for t in self.transforms:
            image = t(image)
        return image

    def batch(self, images):
        for t in self.transforms:
            if not getattr(t, "supports_batch", False):
                raise TypeError(f"Compose.batch(): transform {t!r} cannot run on a batch; apply the Compose to each "
                                f"image instead")
            images = t.batch(images)
        return images

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"Compose({lines}\n)"


class Resize(Transform):
    """Resize the image (bilinear, anti-aliased when shrinking), as torchvision's ``Resize``.

    Args:
        size: ``(h, w)``, or an int: the smaller edge becomes ``size``, the other keeps the
            aspect ratio (``int(size * long / short)``).

    uint8 images stay uint8 (rounded); float images stay float.

    Example::

        >>> T.Resize(28)(np.zeros((8, 8), np.uint8)).shape
        (28, 28)
    """

    def __init__(self, size):
        self.size = size if isinstance(size, numbers.Integral) and not isinstance(size, bool) else None
        self.pair = None if self.size is not None else _pair("Resize()", "size", size)
        if self.size is not None and self.size < 1:
            raise ValueError(f"Resize(): size must be a positive int or a pair (h, w) of positive ints, got {size!r}")

    def extra_repr(self) -> str:
        return f"size={self.size if self.size is not None else self.pair}"

    def batch(self, images):
        from ..nn import functional as F

        array, as_tensor = _unwrap(repr(self), images)
        _check_spatial(repr(self), array, batched=True)
        h, w = array.shape[-2:]
        if self.pair is not None:
            out = self.pair
        elif h <= w:
            out = (self.size, int(self.size * w / h))
        else:
            out = (int(self.size * h / w), self.size)
        planes = Tensor(array.reshape((-1, 1, h, w)).astype(np.float32))
        shrink = out[0] < h or out[1] < w
        resized = F.interpolate(planes, size=out, mode="bilinear", align_corners=False, antialias=shrink).data
        resized = resized.reshape(array.shape[:-2] + out)
        if array.dtype == np.uint8:
            resized = array_module(resized).clip(array_module(resized).rint(resized), 0, 255)
        return _rewrap(resized.astype(array.dtype), as_tensor)


class ToTensor(Transform):
    """Convert an image to a float32 Tensor (C, H, W), scaling uint8 values from [0, 255] to [0, 1].

    Accepts a NumPy array (H, W) or (H, W, C), a Pillow image, or a Tensor (returned with uint8
    scaled and layout unchanged). As in torchvision, only uint8 is converted (``x / 255`` in
    float32); arrays of any other dtype keep their dtype and values.

    Shape:
        (H, W) -> (1, H, W); (H, W, C) -> (C, H, W); batch: (N, H, W) -> (N, 1, H, W),
        (N, H, W, C) -> (N, C, H, W).

    Example::

        >>> ToTensor()(np.full((28, 28), 255, np.uint8)).shape, ToTensor()(...).max()
        ((1, 28, 28), 1.0)
    """

    def __call__(self, image):
        if not isinstance(image, (Tensor, np.ndarray)) and hasattr(image, "getbands"):  # a Pillow image
            image = np.asarray(image)
        if isinstance(image, Tensor):
            return Tensor(self._scale(image.data))
        array, _ = _unwrap(repr(self), image)
        if array.ndim not in (2, 3):
            raise ValueError(f"ToTensor(): expected an image (H, W) or (H, W, C), got shape {tuple(array.shape)}")
        return Tensor(self.batch(array[None])[0])

    def batch(self, images):
        """(N, H, W) or (N, H, W, C) arrays -> float32 (N, C, H, W) array."""
        array, _ = _unwrap(repr(self), images)
        if array.ndim == 3:
            array = array[:, None]
        elif array.ndim == 4:
            array = array.transpose(0, 3, 1, 2)
        else:
            raise ValueError(f"ToTensor.batch(): expected images (N, H, W) or (N, H, W, C), got shape "
                             f"{tuple(array.shape)}")
        return self._scale(array)

    @staticmethod
    def _scale(array):
        """uint8 -> float32 / 255 (a division, not a product with 1/255: the same numbers as torch),
        other dtypes unchanged; the result is C-contiguous."""
        xp = array_module(array)
        if array.dtype == np.uint8:
            out = array.astype(xp.float32, order="C")
            out /= xp.float32(255)
            return out
        return xp.ascontiguousarray(array)


class _ChannelTransform(Transform):
    """A transform of images with a channel axis: one image is (C, H, W), a batch (N, C, H, W)."""

    _what = ("an image", "images")  # how an error names one image and a batch of them

    def __call__(self, image):
        array, as_tensor = _unwrap(repr(self), image)
        if array.ndim < 3:
            raise ValueError(f"{self!r}: expected {self._what[0]} (C, H, W), got shape {tuple(array.shape)}")
        return _rewrap(self.batch(array[None])[0], as_tensor)

    def _unwrap_batch(self, images):
        array, as_tensor = _unwrap(repr(self), images)
        if array.ndim < 4:
            raise ValueError(f"{self!r}: expected {self._what[1]} (N, C, H, W), got shape {tuple(array.shape)}")
        return array, as_tensor


class Normalize(_ChannelTransform):
    """(image - mean) / std per channel, on float images (C, H, W) or batches (N, C, H, W).

    Args:
        mean: per-channel means (a sequence, one per channel, or one number for all).
        std: per-channel standard deviations (non-zero).
        inplace: overwrite the input instead of allocating the result.

    Example::

        >>> Normalize((0.2860,), (0.3530,))(ToTensor()(image))
    """

    _what = ("a float image", "float images")

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = tuple(float(m) for m in np.atleast_1d(np.asarray(mean, dtype=np.float64)))
        self.std = tuple(float(s) for s in np.atleast_1d(np.asarray(std, dtype=np.float64)))
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(f"Normalize(): mean has {len(self.mean)} values but std has {len(self.std)}")
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize(): std evaluated to zero after conversion, got std={self.std}, leading to "
                             f"division by zero")
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"mean={list(self.mean)}, std={list(self.std)}"

    def batch(self, images):
        array, as_tensor = self._unwrap_batch(images)
        if array.dtype.kind != "f":
            raise TypeError(f"{self!r}: expected a floating-point image (apply ToTensor first), got dtype {array.dtype}")
        channels = array.shape[-3]
        if max(len(self.mean), len(self.std)) not in (1, channels):
            raise ValueError(f"{self!r}: {max(len(self.mean), len(self.std))} channel statistics for an image with "
                             f"{channels} channels (shape {tuple(array.shape)})")
        xp = array_module(array)
        mean = xp.asarray(self.mean, dtype=array.dtype).reshape(-1, 1, 1)
        std = xp.asarray(self.std, dtype=array.dtype).reshape(-1, 1, 1)
        # subtract then divide in the image's dtype, as torchvision does (same rounding)
        if self.inplace:
            array -= mean
            array /= std
            out = array
        else:
            out = array - mean
            out /= std
        return _rewrap(out, as_tensor)


class RandomHorizontalFlip(Transform):
    """Mirror the image left-right with probability ``p`` (each image of a batch independently).

    Args:
        p: the probability of flipping (default 0.5).
    """

    def __init__(self, p: float = 0.5):
        if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip(): p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def batch(self, images):
        array, as_tensor = _unwrap(repr(self), images)
        _check_spatial(repr(self), array, batched=True)
        flip = array_module(array).asarray(current_generator().random(array.shape[0]) < self.p)
        out = array.copy()
        out[flip] = array[flip][..., ::-1]
        return _rewrap(out, as_tensor)


class RandomCrop(Transform):
    """Cut a random ``size`` window out of the image, after optionally padding its borders.

    Args:
        size: output (h, w), or an int for a square.
        padding: border added first: an int (all sides), (left/right, top/bottom) or
            (left, top, right, bottom), as in torchvision.
        pad_if_needed: pad an image smaller than ``size`` up to it instead of raising.
        fill: the value of constant padding.
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric' (NumPy's pad modes).

    Shape: (*, H, W) -> (*, h, w).

    Example::

        >>> RandomCrop(28, padding=2)(image)   # shifts the content by up to 2 pixels each way
    """

    _MODES = ("constant", "edge", "reflect", "symmetric")

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant"):
        self.size = _pair("RandomCrop()", "size", size)
        self.padding = self._padding(padding)
        if padding_mode not in self._MODES:
            raise ValueError(f"RandomCrop(): padding_mode must be one of {self._MODES}, got {padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    @staticmethod
    def _padding(padding):
        if padding is None:
            return (0, 0, 0, 0)
        if isinstance(padding, numbers.Integral):
            padding = (padding,)
        padding = tuple(padding)
        if len(padding) not in (1, 2, 4) or not all(isinstance(p, numbers.Integral) and p >= 0 for p in padding):
            raise ValueError(f"RandomCrop(): padding must be a non-negative int or a sequence of 1, 2 or 4 of them, "
                             f"got {padding!r}")
        if len(padding) == 1:
            padding = padding * 4
        elif len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        return tuple(int(p) for p in padding)  # left, top, right, bottom

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}"

    def batch(self, images):
        array, as_tensor = _unwrap(repr(self), images)
        _check_spatial(repr(self), array, batched=True)
        left, top, right, bottom = self.padding
        h, w = self.size
        height, width = array.shape[-2] + top + bottom, array.shape[-1] + left + right
        if self.pad_if_needed:
            extra_h, extra_w = max(h - height, 0), max(w - width, 0)
            top, bottom, left, right = top + extra_h, bottom + extra_h, left + extra_w, right + extra_w
            height, width = height + 2 * extra_h, width + 2 * extra_w
        if h > height or w > width:
            raise ValueError(f"{self!r}: required crop size {(h, w)} is larger than the (padded) input image size "
                             f"{(height, width)}")
        xp = array_module(array)
        if top or bottom or left or right:
            widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
            kwargs = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
            array = xp.pad(array, widths, mode=self.padding_mode, **kwargs)
        n = array.shape[0]
        generator = current_generator()
        tops = xp.asarray(generator.integers(0, height - h + 1, n))
        lefts = xp.asarray(generator.integers(0, width - w + 1, n))
        flat = array.reshape(n, -1, height, width)
        windows = xp.lib.stride_tricks.sliding_window_view(flat, (h, w), axis=(2, 3))
        out = windows[xp.arange(n), :, tops, lefts]  # (N, C', h, w): one gather, no per-image loop
        return _rewrap(out.reshape(array.shape[:-2] + (h, w)), as_tensor)


class RandomAffine(Transform):
    """Random rotation, translation, scaling and shear about the image centre (nearest-neighbour
    sampling, uncovered pixels set to ``fill``), torchvision's ``RandomAffine`` parameters and
    geometry (``F.affine`` on a tensor image).

    Args:
        degrees: rotation range: ``d`` for (-d, d) or (min, max); as in torchvision's
            ``F.affine``, a positive angle turns the image clockwise on screen.
        translate: (a, b): horizontal shift drawn from (-a W, a W), vertical from (-b H, b H),
            rounded to whole pixels; positive moves the content right / down (``None``: no shift).
        scale: (min, max) zoom factor (``None``: 1).
        shear: ``s`` for an x-shear in (-s, s) degrees, (min, max), or (xmin, xmax, ymin, ymax);
            an x-shear of ``s`` maps (x, y) to (x - tan(s) y, y) about the centre.
        fill: the value of pixels that come from outside the image.

    Example::

        >>> RandomAffine(degrees=0, translate=(0.1, 0.1))(image)   # small shifts only
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, fill=0):
        self.degrees = self._range("degrees", degrees)
        if translate is not None:
            if not _is_pair_of_reals(translate) or not all(0 <= t <= 1 for t in translate):
                raise ValueError(f"RandomAffine(): translate must be a pair of fractions in [0, 1], got {translate!r}")
            translate = tuple(float(t) for t in translate)
        if scale is not None and (not _is_pair_of_reals(scale) or not 0 < scale[0] <= scale[1]):
            raise ValueError(f"RandomAffine(): scale must be a pair (min, max) with 0 < min <= max, got {scale!r}")
        self.translate, self.scale, self.fill = translate, None if scale is None else tuple(map(float, scale)), fill
        self.shear = None
        if shear is not None:
            if isinstance(shear, numbers.Real) or _is_pair_of_reals(shear):
                self.shear = self._range("shear", shear) + (0.0, 0.0)
            elif isinstance(shear, (tuple, list)) and _is_pair_of_reals(shear[:2]) and _is_pair_of_reals(shear[2:]):
                self.shear = tuple(float(s) for s in shear)
            else:
                raise ValueError(f"RandomAffine(): shear must be a number or a sequence of 2 or 4 numbers, got "
                                 f"{shear!r}")

    @staticmethod
    def _range(name, value) -> tuple[float, float]:
        if isinstance(value, numbers.Real):
            if value < 0:
                raise ValueError(f"RandomAffine(): if {name} is a single number, it must be non-negative, got {value}")
            return (-float(value), float(value))
        if not _is_pair_of_reals(value) or value[0] > value[1]:
            raise ValueError(f"RandomAffine(): {name} must be a number or a pair (min, max), got {value!r}")
        return (float(value[0]), float(value[1]))

    def extra_repr(self) -> str:
        parts = [f"degrees={list(self.degrees)}"]
        for name in ("translate", "scale", "shear"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)}")
        return ", ".join(parts)

    def batch(self, images):
        array, as_tensor = _unwrap(repr(self), images)
        _check_spatial(repr(self), array, batched=True)
        n, height, width = array.shape[0], array.shape[-2], array.shape[-1]
        generator = current_generator()
        angle = generator.uniform(*self.degrees, n)
        tx = ty = np.zeros(n)
        if self.translate is not None:
            tx = np.round(generator.uniform(-self.translate[0] * width, self.translate[0] * width, n))
            ty = np.round(generator.uniform(-self.translate[1] * height, self.translate[1] * height, n))
        zoom = np.ones(n) if self.scale is None else generator.uniform(*self.scale, n)
        shear_x = shear_y = np.zeros(n)
        if self.shear is not None:
            shear_x = generator.uniform(self.shear[0], self.shear[1], n)
            shear_y = generator.uniform(self.shear[2], self.shear[3], n)
        return _rewrap(_affine(array, angle, tx, ty, zoom, shear_x, shear_y, self.fill), as_tensor)


class RandomErasing(_ChannelTransform):
    """With probability ``p``, fill a random rectangle of the image with ``value``: torchvision's
    ``RandomErasing`` (Zhong et al., "Random Erasing Data Augmentation", 2017), its parameters,
    defaults and way of drawing the rectangle, each image of a batch independently.

    Like torchvision's, it works on float images after ``ToTensor`` (and usually after
    ``Normalize``, where the default ``value=0`` is the dataset's mean colour).

    The rectangle: up to 10 tries of an area ``uniform(*scale) * H * W`` and an aspect ratio
    ``exp(uniform(log ratio[0], log ratio[1]))``, giving ``h = round(sqrt(area * aspect))`` and
    ``w = round(sqrt(area / aspect))``; the first try with ``h < H`` and ``w < W`` is placed at a
    uniformly random position; an image whose 10 tries all fail is left as it is.

    Args:
        p: the probability of erasing (default 0.5).
        scale: (min, max) fraction of the image's area erased (default (0.02, 0.33)).
        ratio: (min, max) aspect ratio h / w of the rectangle (default (0.3, 3.3)).
        value: the fill: a number, one number per channel, or ``"random"`` for standard normal
            noise per pixel (default 0).
        inplace: overwrite the input instead of copying it.

    Shape: (*, C, H, W) -> the same.

    Example::

        >>> tf = Compose([ToTensor(), Normalize((0.2860,), (0.3530,)), RandomErasing()])
    """

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace: bool = False):
        if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"RandomErasing(): p must be a probability in [0, 1], got {p!r}")
        if not _is_pair_of_reals(scale) or not 0 <= scale[0] <= scale[1] <= 1:
            raise ValueError(f"RandomErasing(): scale must be a pair (min, max) with 0 <= min <= max <= 1, got {scale!r}")
        if not _is_pair_of_reals(ratio) or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomErasing(): ratio must be a pair (min, max) with 0 < min <= max, got {ratio!r}")
        if isinstance(value, str):
            if value != "random":
                raise ValueError(f"RandomErasing(): value must be a number, a sequence of numbers or 'random', got "
                                 f"{value!r}")
        elif isinstance(value, numbers.Real):
            value = (float(value),)
        elif isinstance(value, (tuple, list)) and value and all(isinstance(v, numbers.Real) for v in value):
            value = tuple(float(v) for v in value)
        else:
            raise ValueError(f"RandomErasing(): value must be a number, a sequence of numbers or 'random', got {value!r}")
        self.p, self.value, self.inplace = float(p), value, inplace
        self.scale, self.ratio = tuple(map(float, scale)), tuple(map(float, ratio))

    def extra_repr(self) -> str:
        value = self.value if isinstance(self.value, str) else list(self.value)
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={value}"

    def batch(self, images):
        array, as_tensor = self._unwrap_batch(images)
        channels, height, width = array.shape[-3:]
        if not isinstance(self.value, str) and len(self.value) not in (1, channels):
            raise ValueError(f"{self!r}: {len(self.value)} fill values for an image with {channels} channels "
                             f"(shape {tuple(array.shape)})")
        if self.value == "random" and array.dtype.kind != "f":
            raise TypeError(f"{self!r}: value='random' needs a floating-point image, got dtype {array.dtype}")
        n, tries = array.shape[0], 10
        generator = current_generator()
        erase = generator.random(n) < self.p
        area = height * width * generator.uniform(*self.scale, (n, tries))
        aspect = np.exp(generator.uniform(*np.log(self.ratio), (n, tries)))
        h = np.rint(np.sqrt(area * aspect)).astype(np.int64)  # Python's round(): half to even
        w = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        fits = (h < height) & (w < width)
        first = fits.argmax(axis=1)
        erase &= fits.any(axis=1)
        h, w = h[np.arange(n), first] * erase, w[np.arange(n), first] * erase
        top = generator.integers(0, height - h + 1)
        left = generator.integers(0, width - w + 1)
        rows = (np.arange(height) >= top[:, None]) & (np.arange(height) < (top + h)[:, None])
        cols = (np.arange(width) >= left[:, None]) & (np.arange(width) < (left + w)[:, None])
        mask = (rows[:, :, None] & cols[:, None, :]).reshape(n, *(1,) * (array.ndim - 3), height, width)
        xp = array_module(array)
        if self.value == "random":
            fill = xp.asarray(generator.standard_normal(array.shape, dtype=np.float32).astype(array.dtype, copy=False))
        else:
            fill = xp.asarray(self.value, dtype=array.dtype).reshape(-1, 1, 1)
        out = array if self.inplace else array.copy()
        xp.copyto(out, fill, where=xp.asarray(mask))
        return _rewrap(out, as_tensor)


def _is_pair_of_reals(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, numbers.Real) for v in value)


def _affine(array, angle, tx, ty, zoom, shear_x, shear_y, fill):
    """Images (N, *, H, W) under per-image affine maps, as torchvision's ``F.affine`` on tensors
    (nearest neighbour, ``center=None``); the parameters are arrays (N,), angles in degrees.

    Output pixel p (relative to the centre c = ((W - 1) / 2, (H - 1) / 2) of the pixel grid)
    samples the input at c + M^-1 (p - c - t), with M = zoom * R(angle) @ SHy(shear_y) @
    SHx(shear_x), R(a) = [[cos a, -sin a], [sin a, cos a]] in (x, y-down) coordinates (so a
    positive angle is clockwise on screen), SHx(s) = [[1, -tan s], [0, 1]], SHy(s) = [[1, 0],
    [-tan s, 1]]; positions are rounded half to even, as ``grid_sample(mode="nearest")`` does.
    """
    n, height, width = array.shape[0], array.shape[-2], array.shape[-1]
    rot, sx, sy = np.deg2rad(angle), np.deg2rad(shear_x), np.deg2rad(shear_y)
    # the entries of R @ SHy @ SHx (determinant 1), whose inverse is [[d, -b], [-c, a]]
    a = np.cos(rot - sy) / np.cos(sy)
    b = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c = np.sin(rot - sy) / np.cos(sy)
    d = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    ys, xs = np.mgrid[0:height, 0:width]
    dx = xs[None] - cx - tx[:, None, None]
    dy = ys[None] - cy - ty[:, None, None]
    inv_zoom = (1 / zoom)[:, None, None]
    src_x = np.rint(inv_zoom * (d[:, None, None] * dx - b[:, None, None] * dy) + cx).astype(np.int64)
    src_y = np.rint(inv_zoom * (-c[:, None, None] * dx + a[:, None, None] * dy) + cy).astype(np.int64)
    inside = (src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)
    source = np.where(inside, src_y * width + src_x, 0).reshape(n, 1, -1)
    flat = array.reshape(n, -1, height * width)
    xp = array_module(array)
    if xp is not np:
        source, inside = xp.asarray(source), xp.asarray(inside)
    out = xp.take_along_axis(flat, source, axis=2)
    out = xp.where(inside.reshape(n, 1, -1), out, xp.asarray(fill, dtype=array.dtype))
    return out.reshape(array.shape)
