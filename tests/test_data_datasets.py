"""convlab.data.datasets: the IDX reader, FashionMNIST / MNIST, Digits, LineOrientation and modulate."""

import gzip
import os
import struct

import numpy as np
import pytest

import convlab
from convlab.data import DataLoader, datasets, modulate
from convlab.data import transforms as T
from convlab.data.datasets import read_idx

SYSTEM_FASHION = "/usr/share/datasets/fashion-mnist"
TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array: np.ndarray, type_code: int | None = None) -> bytes:
    """The IDX encoding written from the format's definition: 0x0000, type, ndim, big-endian sizes, data."""
    code = TYPE_CODES[array.dtype] if type_code is None else type_code
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, raw: bytes, gz: bool | None = None):
    gz = str(path).endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((3, 4, 5), np.uint8),
        ((7,), np.int32),
        ((2, 3), np.float64),
        ((2, 2), np.int16),
        ((4,), np.int8),
        ((1, 3), np.float32),
    ],
)
def test_read_idx_round_trip(tmp_path, gz, shape, dtype):
    array = (np.random.default_rng(0).standard_normal(shape) * 50).astype(dtype)
    path = write(tmp_path / ("a.idx.gz" if gz else "a.idx"), idx_bytes(array))
    out = read_idx(path, expected_ndim=len(shape))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative and out.shape == shape
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable
    out[...] = 0  # a copy, not a view of the file's bytes


def test_read_idx_detects_gzip_by_signature(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = write(tmp_path / "labels-without-suffix", idx_bytes(labels), gz=True)
    np.testing.assert_array_equal(read_idx(str(path)), labels)


def test_read_idx_errors(tmp_path):
    images = np.zeros((3, 4, 4), np.uint8)
    good = idx_bytes(images)
    cases = {
        "wrong_magic.idx": (
            b"\x01\x08" + good[2:],
            r"'.*wrong_magic.idx' is not an IDX file: bad magic number 0x01080803",
        ),
        "wrong_type.idx": (
            idx_bytes(images, type_code=0x07),
            (
                r"bad magic number 0x00000703 \(expected 0x0000 then an element type in "
                r"\['0x08', '0x09', '0x0b', '0x0c', '0x0d', '0x0e'\]"
            ),
        ),
        "no_dims.idx": (b"\x00\x00\x08\x00", "bad magic number 0x00000800"),
        "tiny.idx": (b"\x00\x00", r"too short for an IDX header \(2 bytes\)"),
        "cut_header.idx": (good[:10], r"is truncated inside its header \(10 bytes, header needs 16\)"),
        "truncated.idx": (
            good[:-5],
            r"is truncated: the header declares shape \(3, 4, 4\) \(48 bytes of data\), found 43 bytes",
        ),
        "truncated.idx.gz": (good[:-1], r"truncated.idx.gz' is truncated: .* found 47 bytes"),
        "trailing.idx": (good + b"\x00", "is longer than its header says"),
    }
    for name, (raw, message) in cases.items():
        path = write(tmp_path / name, raw)
        with pytest.raises(ValueError, match=message):
            read_idx(path)
    with pytest.raises(
        ValueError,
        match=r"has magic number 0x00000803, expected 0x00000801 \(1-dimensional data\), "
        r"found 3 dimensions",
    ):
        read_idx(write(tmp_path / "images.idx", good), expected_ndim=1)
    damaged = gzip.compress(good)
    for name, raw in {
        "cut.gz": damaged[:-6],
        "flipped.gz": damaged[:12] + bytes([damaged[12] ^ 0xFF]) + damaged[13:],
    }.items():
        with pytest.raises(ValueError, match=rf"'.*{name}' is a corrupted or truncated gzip file"):
            read_idx(write(tmp_path / name, raw, gz=False))
    # sizes whose product wraps around to 0 in int64 (2**21 * 2**21 * 2**22 = 2**64): still "truncated"
    huge = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", 2**21, 2**21, 2**22)
    with pytest.raises(
        ValueError,
        match=r"huge.idx' is truncated: the header declares shape \(2097152, 2097152, 4194304\) "
        r"\(18446744073709551616 bytes of data\), found 0 bytes",
    ):
        read_idx(write(tmp_path / "huge.idx", huge))
    with pytest.raises(FileNotFoundError, match=r"read_idx\(\): no such file: '.*missing.idx'"):
        read_idx(tmp_path / "missing.idx")


# ---------------------------------------------------------------- FashionMNIST / MNIST from IDX files


def write_split(folder, split, images, labels, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write(folder / f"{split}-images-idx3-ubyte{suffix}", idx_bytes(images))
    write(folder / f"{split}-labels-idx1-ubyte{suffix}", idx_bytes(labels))


def fake_fashion(folder, n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(0)
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        data[split] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)
        write_split(folder, split, *data[split], gz=gz)
    return data


def test_fashion_mnist_from_root(tmp_path):
    data = fake_fashion(tmp_path / "fm")
    train = datasets.FashionMNIST(root=tmp_path / "fm")
    test = datasets.FashionMNIST(root=str(tmp_path / "fm"), train=False, transform=T.ToTensor())
    assert len(train) == 6 and len(test) == 4 and train.root == str(tmp_path / "fm")
    np.testing.assert_array_equal(train.data, data["train"][0])
    np.testing.assert_array_equal(train.targets, data["train"][1])
    image, label = train[-1]
    assert isinstance(image, np.ndarray) and image.shape == (28, 28) and label == int(data["train"][1][-1])
    assert isinstance(label, int)
    image, label = test[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and label == int(data["t10k"][1][0])
    assert "Number of datapoints: 4" in repr(test) and "Split: Test" in repr(test)


def test_fashion_mnist_batches_equal_samples(tmp_path):
    fake_fashion(tmp_path, n_train=10)
    ds = datasets.FashionMNIST(root=tmp_path, transform=T.Compose([T.ToTensor(), T.Normalize((0.286,), (0.353,))]))
    images, labels = next(iter(DataLoader(ds, batch_size=10)))
    np.testing.assert_array_equal(images.data, np.stack([ds[i][0].data for i in range(10)]))
    np.testing.assert_array_equal(labels.data, [ds[i][1] for i in range(10)])


def test_fashion_mnist_from_convlab_data(tmp_path, monkeypatch):
    data = fake_fashion(tmp_path / "fashion-mnist", gz=False)  # in a sub-folder named after the dataset
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path))
    test = datasets.FashionMNIST(train=False)
    np.testing.assert_array_equal(test.data, data["t10k"][0])
    other = tmp_path / "other"
    fake_fashion(other, n_train=3)
    assert len(datasets.FashionMNIST(root=other)) == 3  # root= wins over CONVLAB_DATA


def test_missing_files_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVLAB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"apt-get install -y dataset-fashion-mnist") as error:
        datasets.FashionMNIST(root=tmp_path / "nowhere")
    assert "train-images-idx3-ubyte" in str(error.value) and str(tmp_path / "nowhere") in str(error.value)
    assert "root=" in str(error.value)
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"CONVLAB_DATA location.*apt-get install -y dataset-fashion-mnist"):
        datasets.FashionMNIST(train=False)
    with pytest.raises(FileNotFoundError, match=r"MNIST: cannot find train-images-idx3-ubyte\(.gz\).*pass root="):
        datasets.MNIST(root=tmp_path)


def test_inconsistent_files_are_clear_errors(tmp_path):
    images = np.zeros((5, 28, 28), np.uint8)
    write_split(tmp_path / "count", "train", images, np.zeros(4, np.uint8))
    with pytest.raises(
        ValueError,
        match=r"FashionMNIST: '.*train-images-idx3-ubyte.gz' holds 5 images but "
        r"'.*train-labels-idx1-ubyte.gz' holds 4 labels",
    ):
        datasets.FashionMNIST(root=tmp_path / "count")
    write_split(tmp_path / "range", "train", images, np.array([0, 1, 2, 10, 3], np.uint8))
    with pytest.raises(ValueError, match=r"holds label 10, expected labels in \[0, 9\]"):
        datasets.FashionMNIST(root=tmp_path / "range")
    write_split(tmp_path / "dtype", "train", images, np.zeros(5, np.int32))
    with pytest.raises(ValueError, match=r"expected uint8 IDX files, got images uint8 .* and labels int32"):
        datasets.FashionMNIST(root=tmp_path / "dtype")
    write_split(tmp_path / "swapped", "train", np.zeros(5, np.uint8), images)
    with pytest.raises(ValueError, match=r"magic number 0x00000801, expected 0x00000803"):
        datasets.MNIST(root=tmp_path / "swapped")
    for size in ((32, 32), (28, 27)):
        write_split(tmp_path / "size", "train", np.zeros((5, *size), np.uint8), np.zeros(5, np.uint8))
        for cls in (datasets.FashionMNIST, datasets.MNIST):
            with pytest.raises(ValueError) as info:
                cls(root=tmp_path / "size")
            assert str(info.value) == (
                f"{cls.__name__}: '{tmp_path / 'size' / 'train-images-idx3-ubyte.gz'}' holds {size[0]}x{size[1]} "
                f"images, expected 28x28 (shape (N, 28, 28)), got shape (5, {size[0]}, {size[1]})"
            )
    write_split(tmp_path / "cut", "train", images, np.zeros(5, np.uint8))
    path = tmp_path / "cut" / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-28]))
    with pytest.raises(ValueError, match=r"is truncated: the header declares shape \(5, 28, 28\)"):
        datasets.FashionMNIST(root=tmp_path / "cut")


@pytest.mark.skipif(not os.path.isdir(SYSTEM_FASHION), reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.delenv("CONVLAB_DATA", raising=False)
    for train, n in ((True, 60000), (False, 10000)):
        ds = datasets.FashionMNIST(train=train)
        assert len(ds) == n and ds.data.shape == (n, 28, 28) and ds.data.dtype == np.uint8
        assert np.bincount(ds.targets).tolist() == [n // 10] * 10
        assert ds.data.max() == 255 and ds.data.min() == 0
    assert ds.classes[ds[0][1]] == "Ankle boot"  # the first test image


# ---------------------------------------------------------------- Digits


def test_digits_split():
    from sklearn.datasets import load_digits

    train, test = datasets.Digits(), datasets.Digits(train=False, transform=T.ToTensor())
    assert len(train) == 1438 and len(test) == 359
    assert train.data.shape == (1438, 8, 8) and train.data.dtype == np.uint8 and train.data.max() == 255
    assert test[0][0].shape == (1, 8, 8) and set(np.unique(train.targets)) == set(range(10))
    bunch = load_digits()
    reference = {
        (np.rint(im * 255 / 16).astype(np.uint8).tobytes(), int(t)) for im, t in zip(bunch.images, bunch.target)
    }
    train_set = {(im.tobytes(), int(t)) for im, t in zip(train.data, train.targets)}
    test_set = {(im.tobytes(), int(t)) for im, t in zip(test.data, test.targets)}
    assert not train_set & test_set and train_set | test_set == reference
    np.testing.assert_array_equal(datasets.Digits().targets, train.targets)  # a fixed split


# ---------------------------------------------------------------- LineOrientation


def row_vs_column_variance(images):
    """Horizontal lines make row means vary, vertical lines column means: 1 when rows vary more."""
    return (images.mean(axis=-1).var(axis=-1) > images.mean(axis=-2).var(axis=-1)).astype(np.int64)


def test_line_orientation_determinism_and_balance():
    a = datasets.LineOrientation(num_images=200, seed=5)
    b = datasets.LineOrientation(num_images=200, seed=5)
    c = datasets.LineOrientation(num_images=200, seed=6)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.data, c.data)
    assert a.data.shape == (200, 32, 32) and a.data.dtype == np.float32
    assert a.data.min() >= 0 and a.data.max() <= 1
    assert np.bincount(a.targets).tolist() == [100, 100]
    train, test = datasets.LineOrientation(), datasets.LineOrientation(train=False, size=16)
    assert len(train) == 2000 and len(test) == 1000 and test.data.shape[1:] == (16, 16)
    assert not np.array_equal(train.data[:1000, :16, :16], test.data)


def test_line_orientation_labels_match_the_lines():
    ds = datasets.LineOrientation(num_images=300, size=24, seed=2)
    assert ds.classes == ["vertical", "horizontal"]
    np.testing.assert_array_equal(row_vs_column_variance(ds.data), ds.targets)


def test_line_orientation_transform_and_errors():
    ds = datasets.LineOrientation(num_images=4, transform=T.ToTensor())
    image, label = ds[0]
    assert image.shape == (1, 32, 32) and image.dtype == np.float32 and label in (0, 1)
    with pytest.raises(ValueError, match=r"LineOrientation\(\): size must be an int >= 4, got 3"):
        datasets.LineOrientation(size=3)
    with pytest.raises(ValueError, match=r"num_images must be an even int >= 2 \(balanced classes\), got 7"):
        datasets.LineOrientation(num_images=7)
    with pytest.raises(ValueError, match="got 0"):
        datasets.LineOrientation(num_images=0)


# ---------------------------------------------------------------- modulate


def energy_stats(images):
    """Per image: the |F|^2-weighted mean |horizontal frequency|, and the energy share where
    |fx| > |fy| (where vertical lines keep their energy)."""
    size = images.shape[-1]
    fx = np.abs(np.fft.fftfreq(size))[None, :]
    fy = np.abs(np.fft.fftfreq(size))[:, None]
    power = np.abs(np.fft.fft2(images)) ** 2
    total = power.sum(axis=(-2, -1))
    centroid = (power * fx).sum(axis=(-2, -1)) / total
    centred = np.abs(np.fft.fft2(images - images.mean(axis=(-2, -1), keepdims=True))) ** 2
    share = (centred * (fx > fy)).sum(axis=(-2, -1)) / centred.sum(axis=(-2, -1))
    return centroid, share


def test_modulate_moves_fourier_energy():
    ds = datasets.LineOrientation(num_images=100, seed=4)
    horizontal, vertical = ds.data[ds.targets == 1], ds.data[ds.targets == 0]
    fooled = modulate(horizontal, frequency=0.25)
    before, share_before = energy_stats(horizontal)
    after, share_after = energy_stats(fooled)
    assert before.max() < 0.1
    np.testing.assert_allclose(after, 0.25, atol=1e-3)  # the spectrum moved by the wave's frequency
    _, share_vertical = energy_stats(vertical)
    assert share_before.mean() < 0.2 and share_after.mean() > 0.7 and share_vertical.mean() > 0.7


@pytest.mark.parametrize(
    ("frequency", "angle", "peaks"),
    [
        (0.25, 0.0, {(0, 4), (0, 12)}),
        (0.25, 90.0, {(4, 0), (12, 0)}),
        (0.25 * 2**0.5, 45.0, {(12, 4), (4, 12)}),
        (0.25 * 2**0.5, -45.0, {(4, 4), (12, 12)}),
    ],
)
def test_modulate_wave_direction(frequency, angle, peaks):
    """The wave vector points ``angle`` degrees counter-clockwise on screen (rows grow downwards):
    at 45 degrees it has a positive x and an upward (negative row) component."""
    wave = modulate(np.ones((16, 16)), frequency, angle)
    spectrum = np.abs(np.fft.fft2(wave))
    assert {tuple(int(v) for v in p) for p in np.argwhere(spectrum > 1e-6 * spectrum.max())} == peaks
    ys, xs = np.mgrid[0:16, 0:16]
    theta = np.deg2rad(angle)
    np.testing.assert_allclose(
        wave, np.cos(2 * np.pi * frequency * (xs * np.cos(theta) - ys * np.sin(theta))), atol=1e-12
    )


def test_modulate_types_shapes_and_gradient():
    images = np.random.default_rng(0).random((3, 2, 5, 6)).astype(np.float32)
    out = modulate(images, 0.1, 30.0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == images.shape
    assert modulate(images[0, 0].astype(np.float64), 0.1).dtype == np.float64
    x = convlab.tensor(images, requires_grad=True)
    y = modulate(x, 0.1, 30.0)
    assert isinstance(y, convlab.Tensor) and y.dtype == np.float32
    np.testing.assert_array_equal(y.data, out)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, modulate(np.ones_like(images), 0.1, 30.0), rtol=1e-6)


def test_modulate_errors():
    with pytest.raises(
        ValueError,
        match=r"modulate\(\): frequency must be a finite number >= 0 \(cycles per pixel\), "
        r"got -0.1",
    ):
        modulate(np.zeros((4, 4)), -0.1)
    with pytest.raises(ValueError, match=r"modulate\(\): angle must be a finite number of degrees, got nan"):
        modulate(np.zeros((4, 4)), 0.1, float("nan"))
    with pytest.raises(ValueError, match=r"modulate\(\): expected images \(..., H, W\), got shape \(4,\)"):
        modulate(np.zeros(4), 0.1)
    with pytest.raises(TypeError, match=r"expected floating-point images \(e.g. in \[0, 1\]\), got dtype uint8"):
        modulate(np.zeros((4, 4), np.uint8), 0.1)
