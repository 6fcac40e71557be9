"""Out-of-domain probes: seed 000's sinusoidal modulation and corruption sweeps.

- :func:`modulation_probe` multiplies test images by sinusoids (the orientation dataset's
  :func:`~convlab.data.datasets.modulate`, so the probe and the ``test_modulated`` split are one
  construction), reports the accuracy per frequency and draws why the network fails: the images'
  spectra before and after, next to the first-layer kernels' spectra.
- :func:`corruption_sweep` measures accuracy under common corruptions, in the style of the
  ImageNet-C / MNIST-C benchmarks (Hendrycks & Dietterich, 2019; Mu & Gilmer, 2019): Gaussian
  noise, Gaussian blur, contrast, brightness, rotation and translation, each at five severities
  (:data:`CORRUPTIONS` lists the parameters).

Both take images in pixel space ([0, 1]); ``normalization=(mean, std)`` normalises them on the
way into a model that expects it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import plots
from ..backend import to_numpy
from ..data.datasets.orientation import modulate
from ..tensor import Tensor
from .robustness import _labels_array, predict

__all__ = ["CORRUPTIONS", "corrupt", "corruption_sweep", "kernel_spectra", "modulation_probe"]

#: Each corruption's parameter at severities 1-5 (pixel values in [0, 1], sizes in pixels).
CORRUPTIONS = {
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),  # noise standard deviation (ImageNet-C's)
    "gaussian_blur": (0.5, 1.0, 1.5, 2.0, 2.5),  # kernel standard deviation in pixels
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),  # factor on the deviation from each image's mean (ImageNet-C's)
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),  # added to every pixel (ImageNet-C's)
    "rotation": (6.0, 12.0, 18.0, 24.0, 30.0),  # degrees counter-clockwise about the centre
    "translation": (0.04, 0.08, 0.12, 0.16, 0.2),  # shift right and down, fraction of the size (rounded)
}


def _pixels(name: str, images) -> np.ndarray:
    data = to_numpy(images.data) if isinstance(images, Tensor) else np.asarray(images)
    if data.ndim == 3:
        data = data[:, None]
    if data.ndim != 4 or data.dtype.kind != "f":
        raise ValueError(f"{name}(): expected floating-point images (N, C, H, W) or (N, H, W) in [0, 1], got shape "
                         f"{tuple(data.shape)} and dtype {data.dtype}")
    return data


def _normalized(images: np.ndarray, normalization) -> np.ndarray:
    if normalization is None:
        return images
    mean, std = (np.asarray(v, dtype=images.dtype).reshape(1, -1, 1, 1) for v in normalization)
    return (images - mean) / std


def _accuracy(model, images, labels, normalization, batch_size) -> float:
    return float(np.mean(predict(model, _normalized(images, normalization), batch_size) == labels))


def _check_labels(name: str, labels, n: int) -> np.ndarray:
    labels = _labels_array(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(f"{name}(): expected integer labels of shape ({n},), got shape {labels.shape} and dtype "
                         f"{labels.dtype}")
    return labels


# ---------------------------------------------------------------------------------- modulation
def kernel_spectra(model, size) -> np.ndarray:
    """Magnitude spectra of the first ``Conv2d``'s kernels, zero-padded to ``size`` = (H, W) and
    averaged over input channels, zero frequency in the centre (``fftshift``).

    Shape: ``(out_channels, H, W)``.
    """
    from ..nn import Conv2d

    conv = next((m for m in model.modules() if isinstance(m, Conv2d)), None)
    if conv is None:
        raise ValueError(f"kernel_spectra(): the model ({type(model).__name__}) has no Conv2d layer")
    from ..explain.filters import kernel_spectrum  # one spectrum for the probe and the explain report

    return kernel_spectrum(conv, size=tuple(size)).mean(axis=1)


def _mean_spectrum(images: np.ndarray) -> np.ndarray:
    """Mean magnitude spectrum (H, W) of images (N, C, H, W), zero frequency in the centre."""
    return np.fft.fftshift(np.abs(np.fft.fft2(images.astype(np.float64), axes=(-2, -1))).mean(axis=(0, 1)))


def modulation_probe(model, images, labels, frequencies, angle: float = 0.0, normalization=None, path=None,
                     show_frequency: float | None = None, class_names=None, batch_size: int = 256) -> dict:
    """Seed 000's out-of-domain test: accuracy on images multiplied by sinusoids of each frequency.

    Each frequency ``f`` gives ``modulate(images, f, angle)`` (the dataset's construction: the
    image times ``cos(2 pi f (x cos a - y sin a))``), which moves the images' Fourier energy by
    ``f`` while a person still sees the same lines. A classifier whose first layer measures where
    the energy lies (as seed 000's does) fails, and the plot shows why: the mean spectra of each
    class before and after modulation next to the first-layer kernels' spectra.

    Args:
        model: the classifier (first layer a ``Conv2d`` for the kernel spectra).
        images: Tensor or array ``(N, H, W)`` or ``(N, C, H, W)`` in [0, 1].
        labels: int labels ``(N,)``.
        frequencies: wave frequencies in cycles per pixel (0 leaves the images as they are).
        angle: the wave's direction in degrees (see ``modulate``).
        normalization: ``(mean, std)`` applied to the (modulated) images before the model.
        path: a PNG file for the figure (None: no figure).
        show_frequency: the frequency whose spectra are drawn (default: the least accurate one).
        class_names: names for the classes in the figure.
        batch_size: images per forward pass.

    Returns:
        ``{frequency: accuracy}`` (accuracies in [0, 1]).

    Example::

        >>> test = LineOrientation(train=False)
        >>> attacks.modulation_probe(model, test.data, test.targets, [0.0, 0.125, 0.25], path="probe.png")
        {0.0: 1.0, 0.125: 0.9..., 0.25: 0.5...}
    """
    pixels = _pixels("modulation_probe", images)
    labels = _check_labels("modulation_probe", labels, len(pixels))
    frequencies = list(frequencies)
    if not frequencies:
        raise ValueError("modulation_probe(): frequencies is empty; expected e.g. [0.0, 0.125, 0.25]")
    accuracy = {f: _accuracy(model, modulate(pixels, f, angle), labels, normalization, batch_size)
                for f in frequencies}
    if path is not None:
        shown = min(accuracy, key=accuracy.get) if show_frequency is None else show_frequency
        _plot_modulation(model, pixels, labels, accuracy, shown, angle, class_names, path)
    return accuracy


def _plot_modulation(model, pixels, labels, accuracy, shown, angle, class_names, path) -> None:
    from matplotlib.figure import Figure

    classes = np.unique(labels)[:4]
    names = [str(c) if class_names is None else class_names[c] for c in classes]
    kernels = kernel_spectra(model, pixels.shape[-2:])[:8]
    modulated = modulate(pixels, shown, angle)
    columns = max(2 * len(classes), len(kernels), 2)
    fig = Figure(figsize=(2.2 * columns, 8.4), layout="constrained")
    grid = fig.add_gridspec(4, columns)
    ax = fig.add_subplot(grid[0, :])
    ax.plot(list(accuracy), list(accuracy.values()), marker="o")
    ax.axhline(1 / len(np.unique(labels)), color="gray", linestyle="--", label="chance")
    ax.set_xlabel(f"modulation frequency (cycles/pixel, angle {angle:g} deg)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    extent = (-0.5, 0.5, 0.5, -0.5)  # cycles per pixel, zero frequency in the centre
    for row, (title, data) in enumerate((("clean", pixels), (f"modulated f={shown:g}", modulated)), start=1):
        for k, (c, name) in enumerate(zip(classes, names)):
            ax = fig.add_subplot(grid[row, k])
            ax.imshow(data[labels == c][0, 0], cmap="gray")
            ax.set_title(f"{name}, {title}", fontsize=8)
            ax.axis("off")
            ax = fig.add_subplot(grid[row, len(classes) + k])
            ax.imshow(np.log1p(_mean_spectrum(data[labels == c])), cmap="magma", extent=extent)
            ax.set_title(f"|DFT| {name}, {title}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    for k, spectrum in enumerate(kernels):
        ax = fig.add_subplot(grid[3, k])
        ax.imshow(spectrum, cmap="magma", extent=extent)
        ax.set_title(f"|DFT| kernel {k}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Seed 000 probe: accuracy per modulation frequency; image spectra vs first-layer kernel spectra")
    plots._save(fig, path)


# ---------------------------------------------------------------------------------- corruptions
def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur, borders mirrored (``symmetric``, scipy's ``reflect``)."""
    kernel = _gaussian_kernel(sigma)
    radius = len(kernel) // 2
    out = images
    for axis in (-2, -1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="symmetric")
        size = out.shape[axis]
        out = sum(w * np.take(padded, np.arange(k, k + size), axis=axis) for k, w in enumerate(kernel))
    return out


def _rotate(images: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate counter-clockwise (on screen) about the centre, bilinear, zeros outside."""
    height, width = images.shape[-2:]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    theta = math.radians(degrees)
    ys, xs = np.mgrid[0:height, 0:width]
    u, v = xs - cx, ys - cy
    src_x = cx + u * math.cos(theta) - v * math.sin(theta)  # the inverse rotation of each output pixel
    src_y = cy + u * math.sin(theta) + v * math.cos(theta)
    x0, y0 = np.floor(src_x).astype(int), np.floor(src_y).astype(int)
    fx, fy = (src_x - x0).astype(images.dtype), (src_y - y0).astype(images.dtype)
    out = np.zeros_like(images)
    for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        out += images[..., np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)] * (weight * inside)
    return out


def _translate(images: np.ndarray, fraction: float) -> np.ndarray:
    """Shift right and down by ``round(fraction * size)`` pixels, zeros coming in."""
    height, width = images.shape[-2:]
    dy, dx = round(fraction * height), round(fraction * width)
    out = np.zeros_like(images)
    out[..., dy:, dx:] = images[..., : height - dy, : width - dx]
    return out


def corrupt(images, corruption: str, severity: int, seed: int = 0) -> np.ndarray:
    """``images`` under ``corruption`` at ``severity`` (1-5; 0 returns them unchanged).

    Args:
        images: Tensor or array ``(N, C, H, W)`` or ``(N, H, W)`` in [0, 1].
        corruption: a name of :data:`CORRUPTIONS`.
        severity: 0-5.
        seed: the noise generator's seed (Gaussian noise only).

    Returns:
        A float array ``(N, C, H, W)`` in [0, 1] (rotation and translation fill with 0, the
        black background of MNIST-like images).

    Example::

        >>> noisy = corrupt(images, "gaussian_noise", severity=3)
    """
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corrupt(): unknown corruption {corruption!r}; expected one of {', '.join(CORRUPTIONS)}")
    if isinstance(severity, bool) or not isinstance(severity, numbers.Integral) or not 0 <= severity <= 5:
        raise ValueError(f"corrupt(): severity must be an int in 0..5, got {severity!r}")
    images = _pixels("corrupt", images)
    if severity == 0:
        return images.copy()
    value = CORRUPTIONS[corruption][severity - 1]
    if corruption == "gaussian_noise":
        noise = np.random.default_rng(seed).standard_normal(images.shape).astype(images.dtype)
        out = images + value * noise
    elif corruption == "gaussian_blur":
        out = _blur(images, value)
    elif corruption == "contrast":
        mean = images.mean(axis=(1, 2, 3), keepdims=True)
        out = (images - mean) * value + mean
    elif corruption == "brightness":
        out = images + value
    elif corruption == "rotation":
        out = _rotate(images, value)
    else:
        out = _translate(images, value)
    return np.clip(out, 0, 1).astype(images.dtype, copy=False)


def corruption_sweep(model, images, labels, corruptions=None, severities=(1, 2, 3, 4, 5), normalization=None,
                     path=None, seed: int = 0, batch_size: int = 256, progress: bool = True) -> dict:
    """Accuracy of ``model`` on ``images`` under each corruption at each severity.

    Args:
        model: the classifier.
        images: Tensor or array ``(N, C, H, W)`` or ``(N, H, W)`` in [0, 1].
        labels: int labels ``(N,)``.
        corruptions: names of :data:`CORRUPTIONS` (default: all six).
        severities: severities to measure (1-5).
        normalization: ``(mean, std)`` applied before the model.
        path: a PNG file for the plot, accuracy against severity, one line per corruption.
        seed: the noise seed.
        batch_size: images per forward pass.
        progress: show a progress bar.

    Returns:
        ``{"clean": accuracy, corruption: [accuracy per severity], ...}``.

    Example::

        >>> attacks.corruption_sweep(model, test_images, test_labels, path="corruptions.png")
        {'clean': 0.93, 'gaussian_noise': [0.9, ...], ...}
    """
    from tqdm.auto import tqdm

    pixels = _pixels("corruption_sweep", images)
    labels = _check_labels("corruption_sweep", labels, len(pixels))
    corruptions = list(CORRUPTIONS) if corruptions is None else list(corruptions)
    unknown = [c for c in corruptions if c not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"corruption_sweep(): unknown corruptions {unknown}; expected names of "
                         f"{', '.join(CORRUPTIONS)}")
    results = {"clean": _accuracy(model, pixels, labels, normalization, batch_size)}
    jobs = [(c, s) for c in corruptions for s in severities]
    for name, severity in tqdm(jobs, desc="corruptions", leave=False, disable=not progress):
        corrupted = corrupt(pixels, name, severity, seed)
        results.setdefault(name, []).append(_accuracy(model, corrupted, labels, normalization, batch_size))
    if path is not None:
        _plot_corruptions(results, list(severities), path)
    return results


def _plot_corruptions(results: dict, severities: list, path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for name, accuracies in results.items():
        if name != "clean":
            ax.plot(severities, accuracies, marker="o", label=name.replace("_", " "))
    ax.axhline(results["clean"], color="black", linestyle="--", label="clean")
    ax.set_xlabel("severity")
    ax.set_xticks(severities)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("accuracy under corruptions")
    plots._save(fig, path)
