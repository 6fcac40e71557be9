"""convlab.data.transforms against torchvision's semantics.

torchvision cannot be installed beside the torch oracle, so ToTensor / Normalize are compared
with the torch operations torchvision runs (``from_numpy(...).float().div(255)``,
``sub(mean).div(std)``), padding with ``torch.nn.functional.pad`` / ``np.pad``, and
``RandomAffine``'s geometry with outputs of torchvision 0.29.1's ``F.affine`` recorded below, and
``RandomErasing`` with torchvision's own loop (``RandomErasing.get_params``) replayed on the same draws.
"""

import math

import numpy as np
import pytest
import torch

import convlab
from convlab.data import transforms as T
from convlab.data.transforms import _affine, use_generator


def uint8_images(*shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def distinct_image(h, w, seed=0):
    """An image whose pixel values are all different, so a window of it has one position."""
    return np.random.default_rng(seed).permutation(h * w).reshape(h, w).astype(np.float32) + 1


# ---------------------------------------------------------------- ToTensor / Normalize


def torch_to_tensor(pic):
    """torchvision.transforms.functional.to_tensor's ndarray branch."""
    if pic.ndim == 2:
        pic = pic[:, :, None]
    img = torch.from_numpy(pic.transpose((2, 0, 1))).contiguous()
    return img.to(torch.float32).div(255) if img.dtype == torch.uint8 else img


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (4, 4, 1)])
def test_to_tensor_matches_torchvision(shape):
    image = uint8_images(*shape)
    out = T.ToTensor()(image)
    assert isinstance(out, convlab.Tensor) and out.dtype == np.float32 and out.data.flags.c_contiguous
    ref = torch_to_tensor(image).numpy()
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out.data, ref)  # bit-identical: x / 255 in float32
    assert out.data.min() >= 0 and out.data.max() <= 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
def test_to_tensor_keeps_other_dtypes_like_torchvision(dtype):
    image = (np.random.default_rng(1).standard_normal((3, 4, 2)) * 100).astype(dtype)
    out = T.ToTensor()(image)
    ref = torch_to_tensor(image).numpy()
    assert out.dtype == ref.dtype == dtype
    np.testing.assert_array_equal(out.data, ref)


def test_to_tensor_batch_equals_per_image():
    for images in (uint8_images(4, 5, 6), uint8_images(4, 5, 6, 3)):
        batch = T.ToTensor().batch(images)
        assert batch.dtype == np.float32 and batch.flags.c_contiguous
        np.testing.assert_array_equal(batch, np.stack([T.ToTensor()(im).data for im in images]))
    scaled = T.ToTensor()(convlab.tensor(uint8_images(1, 2, 2)))  # a Tensor: scaled, layout kept
    assert scaled.shape == (1, 2, 2) and scaled.dtype == np.float32


def test_to_tensor_errors():
    with pytest.raises(ValueError, match=r"ToTensor\(\): expected an image \(H, W\) or \(H, W, C\), got shape \(4,\)"):
        T.ToTensor()(np.zeros(4, np.uint8))
    with pytest.raises(
        ValueError, match=r"ToTensor.batch\(\): expected images \(N, H, W\) or \(N, H, W, C\), got shape"
    ):
        T.ToTensor().batch(np.zeros((2, 2), np.uint8))
    with pytest.raises(TypeError, match="expected an image as a numpy.ndarray or convlab Tensor, got list"):
        T.ToTensor()([[1, 2]])


@pytest.mark.parametrize(("mean", "std"), [((0.2860,), (0.3530,)), ((0.1, 0.5, 0.9), (0.2, 0.3, 0.7)), (0.5, 0.25)])
def test_normalize_matches_torchvision(mean, std):
    image = T.ToTensor()(uint8_images(6, 5, 3)).data
    ours = T.Normalize(mean, std)(convlab.tensor(image))
    m = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
    ref = torch.from_numpy(image).sub(m).div(s).numpy()
    assert isinstance(ours, convlab.Tensor) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours.data, ref)
    batch = T.Normalize(mean, std).batch(np.stack([image, image]))
    np.testing.assert_array_equal(batch[1], ref)


def test_normalize_inplace_and_float64():
    image = np.random.default_rng(2).random((2, 3, 3))
    out = T.Normalize((1.0, 2.0), (2.0, 4.0), inplace=True)(image)
    assert out is not None and out.dtype == np.float64
    np.testing.assert_array_equal(image, out)  # the input was overwritten
    original = np.random.default_rng(2).random((2, 3, 3))
    np.testing.assert_allclose(image[1], (original[1] - 2) / 4, rtol=0, atol=0)


def test_normalize_errors():
    with pytest.raises(ValueError, match=r"Normalize\(\): std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match=r"Normalize\(\): mean has 2 values but std has 3"):
        T.Normalize((0.5, 0.5), (1, 1, 1))
    normalize = T.Normalize((0.5, 0.5), (1.0, 1.0))
    with pytest.raises(ValueError, match=r"2 channel statistics for an image with 3 channels \(shape \(1, 3, 2, 2\)\)"):
        normalize(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(TypeError, match=r"expected a floating-point image \(apply ToTensor first\), got dtype uint8"):
        normalize(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"expected a float image \(C, H, W\), got shape \(2, 2\)"):
        normalize(np.zeros((2, 2), np.float32))


# ---------------------------------------------------------------- RandomHorizontalFlip


def test_flip_p1_p0_and_types():
    images = np.random.default_rng(0).random((3, 2, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1).batch(images), images[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0).batch(images), images)
    single = T.RandomHorizontalFlip(p=1)(convlab.tensor(images[0]))
    assert isinstance(single, convlab.Tensor)
    np.testing.assert_array_equal(single.data, torch.from_numpy(images[0]).flip(-1).numpy())
    raw = uint8_images(4, 5)
    assert isinstance(T.RandomHorizontalFlip(p=1)(raw), np.ndarray)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(raw), raw[:, ::-1])


def test_flip_probability_batch_and_per_image():
    image = distinct_image(3, 4)
    batch = np.repeat(image[None, None], 2000, axis=0)
    with use_generator(np.random.default_rng(0)):
        out = T.RandomHorizontalFlip(p=0.3).batch(batch)
        per_image = np.stack([T.RandomHorizontalFlip(p=0.3)(image) for _ in range(500)])
    flipped = np.all(out == image[:, ::-1], axis=(1, 2, 3))
    kept = np.all(out == image, axis=(1, 2, 3))
    assert np.all(flipped ^ kept) and abs(flipped.mean() - 0.3) < 0.04
    flipped_single = np.all(per_image == image[:, ::-1], axis=(1, 2))
    assert np.all(flipped_single ^ np.all(per_image == image, axis=(1, 2))) and abs(flipped_single.mean() - 0.3) < 0.07


def test_flip_errors():
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip\(\): p must be a probability in \[0, 1\], got 1.5"):
        T.RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match=r"expected a batch of images \(N, \*, H, W\) with at least 3 dimensions"):
        T.RandomHorizontalFlip().batch(np.zeros((4, 4)))


# ---------------------------------------------------------------- RandomCrop


@pytest.mark.parametrize(
    ("padding", "widths"),
    [(2, ((2, 2), (2, 2))), ((1, 3), ((3, 3), (1, 1))), ([1, 2, 3, 4], ((2, 4), (1, 3))), ((2,), ((2, 2), (2, 2)))],
)
def test_crop_padding_forms(padding, widths):
    """torchvision's order: int = all sides, (left/right, top/bottom), (left, top, right, bottom);
    cropping to the padded size leaves one offset, so the output is the padded image."""
    image = uint8_images(2, 4, 5)
    padded = np.pad(image, ((0, 0), *widths))
    out = T.RandomCrop(padded.shape[-2:], padding=padding)(image)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, padded)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_crop_padding_modes(mode):
    image = np.random.default_rng(0).random((1, 2, 4, 5)).astype(np.float32)
    out = T.RandomCrop((4 + 3 + 1, 5 + 2 + 2), padding=(2, 3, 2, 1), padding_mode=mode, fill=7).batch(image)
    x = torch.from_numpy(image)
    pad = (2, 2, 3, 1)  # torch order: left, right, top, bottom
    if mode == "constant":
        ref = torch.nn.functional.pad(x, pad, value=7.0).numpy()
    elif mode == "edge":
        ref = torch.nn.functional.pad(x, pad, mode="replicate").numpy()
    elif mode == "reflect":
        ref = torch.nn.functional.pad(x, pad, mode="reflect").numpy()
    else:  # edge pixels repeated: rows 2 1 0 | 0 1 2 3 | 3, columns 1 0 | 0 .. 4 | 4 3
        ref = image[..., [2, 1, 0, 0, 1, 2, 3, 3], :][..., [1, 0, 0, 1, 2, 3, 4, 4, 3]]
    np.testing.assert_array_equal(out, ref)


def _offsets(outputs, padded, h, w):
    """The (top, left) of the window of ``padded`` each output is (exactly one exists)."""
    found = []
    for out in outputs:
        hits = [
            (i, j)
            for i in range(padded.shape[0] - h + 1)
            for j in range(padded.shape[1] - w + 1)
            if np.array_equal(padded[i : i + h, j : j + w], out)
        ]
        assert len(hits) == 1
        found.append(hits[0])
    return found


def test_crop_offsets_uniform_batch_and_per_image():
    image = distinct_image(6, 6)
    padded = np.pad(image, 1)
    crop = T.RandomCrop(6, padding=1)
    with use_generator(np.random.default_rng(0)):
        batch = crop.batch(np.repeat(image[None], 360, axis=0))
        single = [crop(image) for _ in range(360)]
    for outputs in (batch, single):
        counts = np.zeros((3, 3))
        for i, j in _offsets(outputs, padded, 6, 6):
            counts[i, j] += 1
        assert counts.min() >= 20 and counts.max() <= 60  # 9 offsets, 40 expected each


def test_crop_determinism_shapes_and_pad_if_needed():
    images = np.random.default_rng(3).random((5, 3, 8, 9)).astype(np.float32)
    crop = T.RandomCrop((5, 4), padding=2)
    with use_generator(np.random.default_rng(1)):
        first = crop.batch(images)
    with use_generator(np.random.default_rng(1)):
        again = crop.batch(images)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (5, 3, 5, 4)
    assert crop(images[0]).shape == (3, 5, 4) and crop(images[0, 0]).shape == (5, 4)
    assert isinstance(crop(convlab.tensor(images[0])), convlab.Tensor)
    small = distinct_image(4, 5)  # torchvision pads both sides by the deficit, 2 rows each here
    out = T.RandomCrop((6, 5), pad_if_needed=True)(small)
    assert len(_offsets([out], np.pad(small, ((2, 2), (0, 0))), 6, 5)) == 1


def test_crop_errors():
    with pytest.raises(
        ValueError,
        match=r"required crop size \(6, 6\) is larger than the \(padded\) input image size "
        r"\(5, 5\)",
    ):
        T.RandomCrop(6)(np.zeros((5, 5)))
    with pytest.raises(
        ValueError,
        match=r"RandomCrop\(\): padding must be a non-negative int or a sequence of 1, 2 or "
        r"4 of them, got \(1, 2, 3\)",
    ):
        T.RandomCrop(4, padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"padding_mode must be one of .* got 'wrap'"):
        T.RandomCrop(4, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"RandomCrop\(\): size must be a positive int or a pair \(h, w\)"):
        T.RandomCrop(0)


# ---------------------------------------------------------------- RandomAffine

# torchvision 0.29.1: F.affine(torch.arange(1., 43.).reshape(1, 6, 7), angle, translate, scale, shear,
# interpolation=InterpolationMode.NEAREST, fill=[-1.0]) for these (angle, translate, scale, shear):
TORCHVISION_AFFINE = [
    [
        30.0,
        [1, -2],
        1.3,
        [10.0, -20.0],
        [
            [37, 30, 24, 24, 18, 18, 12],
            [37, 38, 31, 25, 25, 19, 19],
            [-1, 38, 39, 32, 26, 26, 20],
            [-1, -1, 39, 33, 33, 27, 27],
            [-1, -1, -1, 40, 34, 34, 28],
            [-1, -1, -1, 41, 41, 35, 35],
        ],
    ],
    [
        -47.0,
        [0, 1],
        0.8,
        [0.0, 0.0],
        [
            [-1, -1, -1, 7, -1, -1, -1],
            [-1, -1, -1, 6, 14, -1, -1],
            [-1, -1, 5, 12, 20, 28, -1],
            [-1, 3, 11, 18, 26, 34, 42],
            [1, 9, 17, 25, 32, 40, -1],
            [-1, 15, 23, 31, 38, -1, -1],
        ],
    ],
    [
        90.0,
        [0, 0],
        1.0,
        [25.0, 5.0],
        [
            [38, 30, 23, 15, 8, -1, -1],
            [39, 31, 24, 16, 9, 2, -1],
            [40, 32, 25, 17, 10, 3, -1],
            [-1, 40, 33, 26, 18, 11, 3],
            [-1, 41, 34, 27, 19, 12, 4],
            [-1, -1, 35, 28, 20, 13, 5],
        ],
    ],
    [
        12.5,
        [-1, 0],
        1.0,
        [-30.0, 0.0],
        [
            [3, 4, 5, 6, 7, -1, -1],
            [9, 10, 12, 13, 14, -1, -1],
            [16, 17, 18, 19, 20, 14, -1],
            [23, 24, 25, 26, 27, 21, -1],
            [29, 30, 31, 33, 34, 28, -1],
            [36, 37, 38, 39, 40, 34, -1],
        ],
    ],
]


def test_affine_geometry_matches_torchvision():
    image = np.arange(1.0, 43.0).reshape(1, 1, 6, 7)
    images = np.repeat(image, len(TORCHVISION_AFFINE), axis=0)
    angle, tx, ty, zoom, shear_x, shear_y = (
        np.array(v, dtype=np.float64)
        for v in zip(*[(a, t[0], t[1], s, sh[0], sh[1]) for a, t, s, sh, _ in TORCHVISION_AFFINE])
    )
    out = _affine(images, angle, tx, ty, zoom, shear_x, shear_y, fill=-1.0)  # all four at once, one per image
    for k, (*_, expected) in enumerate(TORCHVISION_AFFINE):
        np.testing.assert_array_equal(out[k, 0], expected)


@pytest.mark.parametrize("size", [5, 6])
def test_affine_rotation_is_clockwise_like_torchvision(size):
    images = np.random.default_rng(0).random((2, 3, size, size)).astype(np.float32)
    out = T.RandomAffine(degrees=(90, 90)).batch(images)
    np.testing.assert_array_equal(out, np.rot90(images, k=-1, axes=(-2, -1)))
    assert out.dtype == np.float32


def test_affine_translate_is_a_whole_pixel_shift_in_range():
    image = distinct_image(10, 10)
    affine = T.RandomAffine(0, translate=(0.2, 0.1))
    with use_generator(np.random.default_rng(0)):
        out = affine.batch(np.repeat(image[None], 300, axis=0))
    shifts = []
    for o in out:
        matches = [
            (dx, dy)
            for dx in range(-3, 4)
            for dy in range(-3, 4)
            if np.array_equal(o, np.roll(np.pad(image, 3), (dy, dx), axis=(0, 1))[3:-3, 3:-3])
        ]
        assert len(matches) == 1  # content moved right by dx, down by dy; zeros come in
        shifts.append(matches[0])
    dxs, dys = zip(*shifts)
    assert set(dxs) == {-2, -1, 0, 1, 2} and set(dys) == {-1, 0, 1}  # round(U(-a W, a W))


def test_affine_determinism_and_types():
    images = uint8_images(4, 1, 9, 9)
    affine = T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-5, 5, -5, 5), fill=3)
    with use_generator(np.random.default_rng(4)):
        first = affine.batch(images)
    with use_generator(np.random.default_rng(4)):
        again = affine.batch(images)
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.uint8 and first.shape == images.shape
    assert isinstance(affine(convlab.tensor(images[0].astype(np.float32))), convlab.Tensor)
    np.testing.assert_array_equal(T.RandomAffine(0)(images[0]), images[0])  # identity


def test_affine_errors():
    with pytest.raises(ValueError, match=r"if degrees is a single number, it must be non-negative, got -3"):
        T.RandomAffine(-3)
    with pytest.raises(ValueError, match=r"translate must be a pair of fractions in \[0, 1\], got \(0.5, 1.5\)"):
        T.RandomAffine(0, translate=(0.5, 1.5))
    with pytest.raises(ValueError, match=r"translate must be a pair of fractions in \[0, 1\], got 0.1"):
        T.RandomAffine(0, translate=0.1)
    with pytest.raises(ValueError, match=r"scale must be a pair \(min, max\) with 0 < min <= max, got \(1.2, 0.8\)"):
        T.RandomAffine(0, scale=(1.2, 0.8))
    with pytest.raises(ValueError, match=r"shear must be a number or a sequence of 2 or 4 numbers, got \(1, 2, 3\)"):
        T.RandomAffine(0, shear=(1, 2, 3))


# ---------------------------------------------------------------- RandomErasing


def torchvision_erasing(image, area_fractions, log_aspects, top, left, value):
    """torchvision's ``RandomErasing.get_params`` and ``F.erase`` on one (C, H, W) image whose
    random draws are given (the 10 tries' ``uniform_(*scale)`` and ``uniform_(*log_ratio)``, and
    the position), for an image that the ``torch.rand(1) < p`` draw chose to erase."""
    out = image.copy()
    img_h, img_w = image.shape[-2:]
    for fraction, log_aspect in zip(area_fractions, log_aspects):
        erase_area = img_h * img_w * fraction
        aspect_ratio = math.exp(log_aspect)
        h = int(round(math.sqrt(erase_area * aspect_ratio)))
        w = int(round(math.sqrt(erase_area / aspect_ratio)))
        if not (h < img_h and w < img_w):
            continue
        assert 0 <= top <= img_h - h and 0 <= left <= img_w - w  # torch.randint(0, img_h - h + 1)
        out[..., top : top + h, left : left + w] = value
        return out
    return out  # no try fitted: the image is returned as it is


@pytest.mark.parametrize("scale, ratio, size", [((0.02, 0.33), (0.3, 3.3), (28, 28)), ((0.2, 0.9), (0.5, 4.0), (7, 11)),
                                                ((0.5, 1.0), (1.0, 1.0), (6, 6))])
def test_erasing_is_torchvisions_rectangle_on_the_same_draws(scale, ratio, size):
    n = 400
    images = np.random.default_rng(0).standard_normal((n, 2, *size)).astype(np.float32)
    erasing = T.RandomErasing(p=0.7, scale=scale, ratio=ratio, value=(1.5, -2.0))
    with use_generator(np.random.default_rng(5)):
        out = erasing.batch(images)
    replay = np.random.default_rng(5)  # the draws RandomErasing.batch makes, in its order
    erase = replay.random(n) < 0.7
    fractions = replay.uniform(*scale, (n, 10))
    log_aspects = replay.uniform(np.log(ratio[0]), np.log(ratio[1]), (n, 10))
    expected, heights, widths = [], np.zeros(n, np.int64), np.zeros(n, np.int64)
    for k in range(n):  # the rectangle each image gets, from torchvision's loop, to draw its position
        tried = torchvision_erasing(np.zeros(size), fractions[k], log_aspects[k], 0, 0, 1.0)
        rows, cols = np.nonzero(tried)
        if erase[k] and rows.size:
            heights[k], widths[k] = np.ptp(rows) + 1, np.ptp(cols) + 1
    tops, lefts = replay.integers(0, size[0] - heights + 1), replay.integers(0, size[1] - widths + 1)
    value = np.array([1.5, -2.0], np.float32)[:, None, None]
    for k in range(n):
        expected.append(torchvision_erasing(images[k], fractions[k], log_aspects[k], tops[k], lefts[k], value)
                        if erase[k] else images[k])
    np.testing.assert_array_equal(out, np.stack(expected))
    changed = (out != images).any(axis=(1, 2, 3))
    assert 0.5 < changed.mean() < 0.75 and not changed[~erase].any()


def test_erasing_fills_types_and_identity():
    images = np.random.default_rng(1).random((3, 1, 12, 12)).astype(np.float32)
    with use_generator(np.random.default_rng(2)):
        noise = T.RandomErasing(p=1, scale=(0.5, 0.5), ratio=(1, 1), value="random").batch(np.zeros((200, 3, 12, 12)))
    erased = noise[noise != 0]  # a standard normal fill, per pixel and channel
    assert erased.size == 200 * 3 * 64 and abs(erased.mean()) < 0.02 and abs(erased.std() - 1) < 0.02
    one = T.RandomErasing(p=1, scale=(0.25, 0.25), ratio=(1, 1), value=7)(convlab.tensor(images[0]))
    assert isinstance(one, convlab.Tensor) and (one.numpy() == 7).sum() == 36  # a 6x6 square
    np.testing.assert_array_equal(T.RandomErasing(p=0).batch(images), images)
    kept = images.copy()
    T.RandomErasing(p=1, value=9).batch(images)  # a copy unless inplace
    np.testing.assert_array_equal(images, kept)
    T.RandomErasing(p=1, scale=(0.25, 0.25), ratio=(1, 1), value=9, inplace=True).batch(images)
    assert ((images == 9).sum(axis=(1, 2, 3)) == 36).all()
    assert repr(T.RandomErasing()) == "RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=[0.0])"


def test_erasing_errors():
    with pytest.raises(ValueError, match=r"RandomErasing\(\): p must be a probability in \[0, 1\], got 2"):
        T.RandomErasing(p=2)
    with pytest.raises(ValueError, match=r"scale must be a pair \(min, max\) with 0 <= min <= max <= 1, got \(0.5, 0.1\)"):
        T.RandomErasing(scale=(0.5, 0.1))
    with pytest.raises(ValueError, match=r"ratio must be a pair \(min, max\) with 0 < min <= max, got \(0, 1\)"):
        T.RandomErasing(ratio=(0, 1))
    with pytest.raises(ValueError, match=r"value must be a number, a sequence of numbers or 'random', got 'mean'"):
        T.RandomErasing(value="mean")
    with pytest.raises(ValueError, match=r"3 fill values for an image with 2 channels \(shape \(4, 2, 5, 5\)\)"):
        T.RandomErasing(value=(1, 2, 3)).batch(np.zeros((4, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\), got shape \(5, 5\)"):
        T.RandomErasing()(np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected images \(N, C, H, W\), got shape \(2, 5, 5\)"):
        T.RandomErasing().batch(np.zeros((2, 5, 5), np.float32))
    with pytest.raises(TypeError, match=r"value='random' needs a floating-point image, got dtype uint8"):
        T.RandomErasing(value="random").batch(np.zeros((1, 1, 5, 5), np.uint8))


# ---------------------------------------------------------------- Compose


def test_compose_order_batch_and_repr():
    images = uint8_images(3, 4, 4)
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    np.testing.assert_array_equal(tf(images[0]).data, T.Normalize((0.5,), (0.5,))(T.ToTensor()(images[0])).data)
    np.testing.assert_array_equal(tf.batch(images), np.stack([tf(im).data for im in images]))
    assert "ToTensor" in repr(tf) and "Normalize(mean=[0.5], std=[0.5])" in repr(tf)
    with_lambda = T.Compose([T.ToTensor(), lambda x: x * 2])
    assert not with_lambda.supports_batch
    np.testing.assert_array_equal(with_lambda(images[0]).data, T.ToTensor()(images[0]).data * 2)
    with pytest.raises(TypeError, match=r"Compose.batch\(\): transform .* cannot run on a batch"):
        with_lambda.batch(images)
    with pytest.raises(TypeError, match=r"Compose\(\): transform 1 is not callable: 3"):
        T.Compose([T.ToTensor(), 3])
