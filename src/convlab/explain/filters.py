"""What a network's layers hold and respond to: learned kernels as pictures, their Fourier
spectra, feature maps, and the dataset images (and patches) that excite a channel most.

- :func:`filters` / :func:`plot_filters`: a convolution's kernels as a grid image (seed 001's
  "examine the filters": first-layer RGB kernels as colour tiles, deeper ones per input channel).
- :func:`kernel_spectrum` / :func:`plot_kernel_spectrum`: the 2-D DFT magnitude of each kernel.
  Seed 000 explains its orientation classifier this way: a convolution's response to a sinusoid
  of frequency ``f`` is ``|K(f)|`` times the wave, so the spectrum says which frequencies (and
  orientations) a channel measures.
- :func:`feature_maps` / :func:`plot_feature_maps`: the outputs of chosen layers, via forward hooks.
- :func:`max_activating` / :func:`plot_max_activating`: seed 004's "max filter response" over a
  dataset: the top-k images of one channel and the input patch the winning unit sees.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from .. import backend
from ..autograd import grad_mode
from ..nn.modules.module import Module
from ..summary import check_mode, preserved_model_state
from ..tensor import Tensor
from ._hooks import leave_no_trace, resolve_layer

__all__ = [
    "MaxActivating",
    "feature_maps",
    "filters",
    "kernel_spectrum",
    "max_activating",
    "plot_feature_maps",
    "plot_filters",
    "plot_kernel_spectrum",
    "plot_max_activating",
]


class StopForward(Exception):
    """Raised by a capturing hook to end a forward pass once the wanted layer has run."""


def _check_model(who: str, model, mode: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{who}: expected an nn.Module, got {type(model).__name__}")
    check_mode(who, mode)


# ---------------------------------------------------------------------------------- kernels
def _kernels(who: str, layer_or_weight) -> np.ndarray:
    """The weight of a convolution (module, Tensor or array) as float64 ``(out, in, kh, kw)``."""
    if isinstance(layer_or_weight, Module):
        weight = getattr(layer_or_weight, "weight", None)
        if not isinstance(weight, Tensor):
            raise TypeError(f"{who}: layer {layer_or_weight._get_name()} has no weight tensor")
        layer_or_weight = weight
    if isinstance(layer_or_weight, Tensor):
        layer_or_weight = backend.to_numpy(layer_or_weight.data)
    if not isinstance(layer_or_weight, np.ndarray):
        raise TypeError(f"{who}: expected a Conv2d layer, a Tensor or a NumPy array, got {type(layer_or_weight).__name__}")
    if layer_or_weight.ndim != 4:
        raise ValueError(f"{who}: expected 2-D convolution kernels (out_channels, in_channels, kH, kW), got shape "
                         f"{layer_or_weight.shape}")
    return layer_or_weight.astype(np.float64)


def _grid(tiles: np.ndarray, nrow: int, padding: int, pad_value) -> np.ndarray:
    """Tiles ``(n, h, w[, 3])`` laid out row-major, ``nrow`` per row, ``padding`` pixels around each."""
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / nrow)
    out = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, *tiles.shape[3:]), pad_value,
                  dtype=tiles.dtype)
    for i, tile in enumerate(tiles):
        top, left = padding + (i // nrow) * (h + padding), padding + (i % nrow) * (w + padding)
        out[top : top + h, left : left + w] = tile
    return out


def filters(layer_or_weight, normalize: bool = True, nrow: int | None = None, padding: int = 1,
            scale_each: bool = False) -> np.ndarray:
    """A convolution's kernels as one grid image.

    With 1 or 3 input channels each kernel is one tile (grey, or a colour tile with the channels
    as RGB), ``nrow`` per row; with any other number, the grid has one row per output channel
    and one grey tile per input channel. Separators are white (255).

    Args:
        layer_or_weight: a ``Conv2d`` (or any module with a 4-D ``weight``), a Tensor or an array
            ``(out_channels, in_channels, kH, kW)``.
        normalize: map the weights symmetrically to [0, 255], 0 to mid-grey (128) and the largest
            ``|w|`` to 0 or 255; False: clip the weights to [0, 1] and scale by 255.
        nrow: tiles per row for 1 or 3 input channels (default ``ceil(sqrt(out_channels))``).
        padding: separator width in pixels.
        scale_each: with ``normalize``, scale each kernel by its own largest ``|w|``.

    Returns:
        uint8 array ``(H, W)``, or ``(H, W, 3)`` for RGB kernels.

    Example::

        >>> grid = explain.filters(net[0])                 # fmnist_cnn: 32 kernels 3x3, 6x6 tiles
        >>> grid.shape
        (25, 25)
    """
    who = "filters()"
    w = _kernels(who, layer_or_weight)
    out_channels, in_channels = w.shape[:2]
    if not isinstance(padding, numbers.Integral) or padding < 0:
        raise ValueError(f"{who}: padding must be an int >= 0, got {padding!r}")
    if nrow is not None and (not isinstance(nrow, numbers.Integral) or nrow < 1):
        raise ValueError(f"{who}: nrow must be a positive int, got {nrow!r}")
    if normalize:
        axes = (1, 2, 3) if scale_each else (0, 1, 2, 3)
        scale = np.abs(w).max(axis=axes, keepdims=True)
        values = 0.5 + 0.5 * w / np.where(scale > 0, scale, 1)
    else:
        values = np.clip(w, 0, 1)
    values = np.round(values * 255).astype(np.uint8)
    if in_channels == 3:
        tiles = values.transpose(0, 2, 3, 1)  # (out, kh, kw, rgb)
    elif in_channels == 1:
        tiles = values[:, 0]
    else:
        return _grid(values.reshape(-1, *w.shape[2:]), in_channels, padding, 255)
    return _grid(tiles, nrow or math.ceil(math.sqrt(out_channels)), padding, 255)


def plot_filters(layer_or_weight, normalize: bool = True, nrow: int | None = None, scale_each: bool = False,
                 title: str | None = None, figsize=None):
    """:func:`filters` drawn in a matplotlib Figure (nearest-neighbour pixels, no ticks).

    Args:
        layer_or_weight, normalize, nrow, scale_each: as :func:`filters`.
        title: the figure's title (default: the kernel shape).
        figsize: inches (default: from the grid size).

    Returns:
        :class:`matplotlib.figure.Figure`.

    Example::

        >>> explain.plot_filters(net[0]).savefig("filters.png")
    """
    from matplotlib.figure import Figure

    w = _kernels("plot_filters()", layer_or_weight)
    grid = filters(w, normalize=normalize, nrow=nrow, scale_each=scale_each)
    height, width = grid.shape[:2]
    scale = 5.0 / max(height, width)
    fig = Figure(figsize=figsize or (max(2.5, width * scale) + 0.4, max(2.0, height * scale) + 0.6),
                 layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if w.shape[1] not in (1, 3):
        ax.set_xlabel("input channel")
        ax.set_ylabel("output channel")
    ax.set_title(title or f"{w.shape[0]} kernels {w.shape[2]}x{w.shape[3]} x {w.shape[1]} in"
                 + (" (0 = grey)" if normalize else ""), fontsize=10)
    return fig


def kernel_spectrum(layer_or_weight, size: int | None = None, shift: bool = True) -> np.ndarray:
    """The 2-D DFT magnitude of every kernel, ``|fft2(kernel, s=(size, size))|``.

    A convolution's output for the input wave ``cos(2 pi (u y + v x))`` is the wave scaled by
    ``|K(u, v)|`` (and shifted in phase): the spectrum says which spatial frequencies and
    orientations each kernel passes. Zero-padding to ``size`` samples it more finely.

    Args:
        layer_or_weight: a ``Conv2d``, a Tensor or an array ``(out_channels, in_channels, kH, kW)``.
        size: DFT size (default: the kernel's, ``max(kH, kW)`` per axis): an int, or ``(H, W)``,
            at least the kernel's size.
        shift: move the zero frequency to the centre (``numpy.fft.fftshift``), as spectra are drawn.

    Returns:
        float64 array ``(out_channels, in_channels, H, W)``. With ``shift``, index ``i`` on an
        axis of size ``n`` is the frequency ``(i - n // 2) / n`` cycles per pixel.

    Example::

        >>> spectrum = explain.kernel_spectrum(net[0], size=32)   # seed 000's orientation CNN
        >>> np.unravel_index(spectrum[0, 0].argmax(), (32, 32))   # the frequency channel 0 measures
    """
    who = "kernel_spectrum()"
    w = _kernels(who, layer_or_weight)
    kernel_size = max(w.shape[2:])
    shape = (kernel_size, kernel_size) if size is None else (size, size) if isinstance(size, numbers.Integral) else size
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or not all(isinstance(n, numbers.Integral) and n >= k for n, k in zip(shape, w.shape[2:]))):
        raise ValueError(f"{who}: size must be an int or (H, W) at least the kernel size {tuple(w.shape[2:])}, got "
                         f"{size!r}")
    magnitude = np.abs(np.fft.fft2(w, s=tuple(int(n) for n in shape)))
    return np.fft.fftshift(magnitude, axes=(-2, -1)) if shift else magnitude


def plot_kernel_spectrum(layer_or_weight, size: int = 32, max_kernels: int = 16, ncols: int = 8,
                         title: str | None = None):
    """Each kernel (summed over input channels) above its spectrum (summed magnitude over input
    channels, zero frequency at the centre, axes in cycles per pixel).

    Args:
        layer_or_weight: as :func:`kernel_spectrum`.
        size: DFT size (default 32).
        max_kernels: draw at most this many output channels (the first ones).
        ncols: kernels per row.
        title: the figure's title.

    Returns:
        :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    w = _kernels("plot_kernel_spectrum()", layer_or_weight)[:max_kernels]
    spectra = kernel_spectrum(w, size=size).sum(axis=1)
    kernels = w.sum(axis=1)
    n = len(w)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(1.6 * ncols + 0.4, 3.2 * nrows + 0.4), layout="constrained")
    axes = np.asarray(fig.subplots(2 * nrows, ncols, squeeze=False))
    half = 0.5 - 0.5 / size  # pixel centres of the shifted spectrum span [-1/2, 1/2 - 1/size]
    extent = (-0.5 - 0.5 / size, half, half, -0.5 - 0.5 / size)
    for i in range(nrows * ncols):
        kernel_ax, spectrum_ax = axes[2 * (i // ncols), i % ncols], axes[2 * (i // ncols) + 1, i % ncols]
        if i >= n:
            kernel_ax.axis("off")
            spectrum_ax.axis("off")
            continue
        limit = np.abs(kernels[i]).max() or 1.0
        kernel_ax.imshow(kernels[i], cmap="gray", vmin=-limit, vmax=limit, interpolation="nearest")
        kernel_ax.set_xticks([])
        kernel_ax.set_yticks([])
        kernel_ax.set_title(f"kernel {i}", fontsize=8)
        spectrum_ax.imshow(spectra[i], cmap="magma", extent=extent, interpolation="nearest")
        spectrum_ax.set_xticks([-0.5, 0, 0.5])
        spectrum_ax.set_yticks([-0.5, 0, 0.5])
        spectrum_ax.tick_params(labelsize=6)
        spectrum_ax.set_title("|DFT|", fontsize=8)
    separator = " " if ncols >= 4 else "\n"  # a narrow figure gets a two-line title
    fig.suptitle(title or f"kernels and their spectra{separator}(cycles/pixel, 0 at the centre)", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------- feature maps
def _layer_list(who, model, layers) -> list[tuple[str, Module]]:
    if isinstance(layers, (str, Module)):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError(f"{who}: layers must be a layer (name or module) or a non-empty list of them, got {layers!r}")
    return [resolve_layer(model, layer, who)[::-1] for layer in layers]


def _input_tensor(who: str, x) -> Tensor:
    if isinstance(x, np.ndarray):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected the input as a Tensor (N, C, H, W), got {type(x).__name__}")
    return x


def feature_maps(model: Module, x, layers, mode: str = "eval") -> dict:
    """The outputs of ``layers`` for the input ``x``, caught by forward hooks.

    The forward pass runs under ``no_grad`` and stops once every layer has run; the hooks are
    removed and the model's mode, buffers and random state restored, even if it raised.

    Args:
        model: the model.
        x: the input batch, a Tensor ``(N, C, H, W)``.
        layers: a layer (a module of ``model`` or its dotted name, e.g. ``"features.0"``) or a
            list of them. A layer called several times is caught at its first call.
        mode: run the model in ``"eval"`` (default), ``"train"`` or its current mode (``"same"``).

    Returns:
        ``{name: Tensor}`` in the order given, detached (e.g. ``(N, C_l, H_l, W_l)`` for a conv).

    Example::

        >>> maps = explain.feature_maps(net, x, ["0", "3"])     # fmnist_cnn's first two convs
        >>> maps["0"].shape
        (8, 32, 28, 28)
    """
    who = "feature_maps()"
    _check_model(who, model, mode)
    named = _layer_list(who, model, layers)
    x = _input_tensor(who, x)
    captured = {}

    def make_hook(name):
        def hook(module, args, output):
            if name not in captured:
                captured[name] = output.detach() if isinstance(output, Tensor) else output
                if len(captured) == len(named):
                    raise StopForward
        return hook

    with leave_no_trace(model), preserved_model_state(model, mode):
        handles = [module.register_forward_hook(make_hook(name)) for name, module in named]
        try:
            with grad_mode.no_grad():
                model(x)
        except StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
    missing = [name for name, _ in named if name not in captured]
    if missing:
        raise ValueError(f"{who}: layer(s) {', '.join(map(repr, missing))} did not run in {model._get_name()}'s "
                         "forward pass")
    return {name: captured[name] for name, _ in named}


def plot_feature_maps(maps: dict, index: int = 0, max_channels: int = 16, ncols: int = 8, image=None,
                      title: str | None = None):
    """The first ``max_channels`` maps of sample ``index`` of each layer of :func:`feature_maps`'s
    result, one block of rows per layer, each map with its own colour scale (viridis).

    Args:
        maps: ``{name: Tensor (N, C, H, W)}``.
        index: the sample in the batch.
        max_channels: channels drawn per layer.
        ncols: maps per row.
        image: the input image (a Tensor/array ``(C, H, W)``) drawn first, or None.
        title: the figure's title.

    Returns:
        :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    who = "plot_feature_maps()"
    arrays = {}
    for name, value in maps.items():
        value = backend.to_numpy(value.data) if isinstance(value, Tensor) else np.asarray(value)
        if value.ndim != 4:
            raise ValueError(f"{who}: layer {name!r}'s output is not a batch of feature maps (N, C, H, W), got "
                             f"shape {value.shape}")
        if not 0 <= index < len(value):
            raise ValueError(f"{who}: index {index} is outside the batch of {len(value)}")
        arrays[name] = value[index, :max_channels]
    rows = [(name, a) for name, a in arrays.items()]
    ncols = min(ncols, max(len(a) for _, a in rows))
    layout = [(name, a, math.ceil(len(a) / ncols)) for name, a in rows]
    total_rows = sum(r for *_, r in layout) + (image is not None)
    fig = Figure(figsize=(1.3 * ncols + 0.6, 1.45 * total_rows + 0.5), layout="constrained")
    axes = np.asarray(fig.subplots(total_rows, ncols, squeeze=False))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    row = 0
    if image is not None:
        picture = backend.to_numpy(image.data) if isinstance(image, Tensor) else np.asarray(image)
        axes[0, 0].imshow(picture.transpose(1, 2, 0) if picture.shape[0] == 3 else picture[0], cmap="gray")
        axes[0, 0].set_title("input", fontsize=8)
        row = 1
    for name, a, nrows in layout:
        for c, channel_map in enumerate(a):
            ax = axes[row + c // ncols, c % ncols]
            ax.imshow(channel_map, cmap="viridis", interpolation="nearest")
            ax.set_title(f"channel {c}", fontsize=7)
        axes[row, 0].set_ylabel(f"layer {name}", fontsize=9)
        row += nrows
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# ---------------------------------------------------------------------------------- max-activating inputs
class MaxActivating(NamedTuple):
    """What :func:`max_activating` returns, best first.

    Attributes:
        indices: dataset indices of the k images, int64 ``(k,)``.
        scores: the channel's largest activation in each image ``(k,)``.
        units: the position of that activation in the layer's map, ``(k, 2)`` (row, column).
        images: the images as the model saw them, ``(k, C, H, W)``.
        boxes: the receptive field of each unit in input pixels, ``(k, 4)`` as
            ``(top, bottom, left, right)`` (bottom/right exclusive, clipped to the image), or
            None without ``patch``.
        patches: the input patches ``images[i][:, top:bottom, left:right]`` (a list: patches at
            the border are smaller), or None without ``patch``.
    """

    indices: np.ndarray
    scores: np.ndarray
    units: np.ndarray
    images: np.ndarray
    boxes: np.ndarray | None
    patches: list | None


def _batches(dataset, batch_size):
    from ..data import DataLoader

    for batch in DataLoader(dataset, batch_size=batch_size):
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def max_activating(model: Module, dataset, layer, channel, k: int = 9, patch: bool = True,
                   batch_size: int = 128, mode: str = "eval", progress: bool = True):
    """The ``k`` images of ``dataset`` that excite one channel of ``layer`` most (seed 004's "max
    filter response" over a dataset), and the input patch the winning unit sees.

    Each image's score is the channel's largest activation anywhere in its map. The model runs
    batched under ``no_grad`` (stopping after ``layer``) with a progress bar; its hooks, mode and
    buffers are restored afterwards. Ties keep the lower dataset index first.

    Args:
        model: the model.
        dataset: a map-style dataset of ``(image, label)`` (or images), images ``(C, H, W)``.
        layer: a layer with a spatial output (a module of ``model`` or its dotted name).
        channel: the output channel of ``layer``, or a list of channels (one pass over the data
            for all of them).
        k: how many images.
        patch: also find each unit's receptive field (:func:`convlab.receptive_field`) and crop it.
        batch_size: images per forward pass.
        mode: ``"eval"`` (default), ``"train"`` or ``"same"``.
        progress: show a tqdm progress bar.

    Returns:
        :class:`MaxActivating` ``(indices, scores, units, images, boxes, patches)``; a list of
        them for a list of channels.

    Example::

        >>> top = explain.max_activating(net, test_set, "3", channel=5)
        >>> top.indices, top.patches[0].shape
        (array([...]), (1, 5, 5))
    """
    who = "max_activating()"
    _check_model(who, model, mode)
    module, name = resolve_layer(model, layer, who)
    if not isinstance(k, numbers.Integral) or not 1 <= k <= len(dataset):
        raise ValueError(f"{who}: k must be an int in [1, {len(dataset)}] (the dataset's size), got {k!r}")
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{who}: batch_size must be a positive int, got {batch_size!r}")
    channels = list(channel) if isinstance(channel, (list, tuple, np.ndarray)) else [channel]
    from tqdm.auto import tqdm

    captured = []

    def hook(mod, args, output):
        captured.append(output)
        raise StopForward

    best_scores, best_units = [], []
    with leave_no_trace(model), preserved_model_state(model, mode):
        handle = module.register_forward_hook(hook)
        try:
            with grad_mode.no_grad():
                for x in tqdm(_batches(dataset, batch_size), total=math.ceil(len(dataset) / batch_size),
                              desc=f"max_activating {name}", disable=not progress, leave=False):
                    captured.clear()
                    try:
                        model(x)
                    except StopForward:
                        pass
                    out = backend.to_numpy(captured[0].data)
                    if out.ndim != 4:
                        raise ValueError(f"{who}: layer {name!r} ({module._get_name()}) has no spatial output "
                                         f"(N, C, H, W); got shape {out.shape}")
                    for c in channels:
                        if not isinstance(c, numbers.Integral) or not 0 <= c < out.shape[1]:
                            raise ValueError(f"{who}: channel must be an int in [0, {out.shape[1] - 1}] (layer "
                                             f"{name!r} has {out.shape[1]} channels), got {c!r}")
                    flat = out[:, channels].reshape(len(out), len(channels), -1)
                    position = flat.argmax(axis=2)  # (N, channels)
                    best_scores.append(np.take_along_axis(flat, position[:, :, None], axis=2)[:, :, 0])
                    best_units.append(np.stack(np.unravel_index(position, out.shape[2:]), axis=2))
        finally:
            handle.remove()
    scores, units = np.concatenate(best_scores), np.concatenate(best_units)  # (N, channels), (N, channels, 2)
    table = row = None
    results = []
    for j in range(len(channels)):
        order = np.argsort(-scores[:, j], kind="stable")[:k]
        images = np.stack([_image_of(dataset[int(i)]) for i in order])
        boxes = patches = None
        if patch:
            if table is None:
                from ..receptive_field import receptive_field

                table = receptive_field(model, images.shape[1:])
                row = next((r.layer for r in table.rows[1:] if r.module is module), None)  # the layer's first call
                if row is None:
                    raise ValueError(f"{who}: patch=True needs a layer without children whose output is a feature map;"
                                     f" {name!r} ({module._get_name()}) is not in the receptive-field table")
            from ..receptive_field import receptive_field_for_unit

            boxes = np.array([[v for lo, hi in receptive_field_for_unit(table, row, tuple(int(u) for u in unit))
                               for v in (math.floor(lo), math.ceil(hi))] for unit in units[order, j]], dtype=np.int64)
            patches = [image[:, top:bottom, left:right] for image, (top, bottom, left, right) in zip(images, boxes)]
        results.append(MaxActivating(order.astype(np.int64), scores[order, j], units[order, j], images, boxes,
                                     patches))
    return results if isinstance(channel, (list, tuple, np.ndarray)) else results[0]


def _image_of(sample) -> np.ndarray:
    image = sample[0] if isinstance(sample, (tuple, list)) else sample
    return backend.to_numpy(image.data) if isinstance(image, Tensor) else np.asarray(image)


def plot_max_activating(result: MaxActivating, patches: bool = True, ncols: int = 3, title: str | None = None,
                        class_names=None, labels=None):
    """The images (or patches) of :func:`max_activating`, best first, each with its score.

    Args:
        result: a :class:`MaxActivating`.
        patches: draw the receptive-field patches (if computed) rather than whole images with
            the field outlined.
        ncols: tiles per row.
        title: the figure's title.
        class_names, labels: optional per-image labels to print (``class_names[labels[i]]``).

    Returns:
        :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    k = len(result.indices)
    ncols = min(ncols, k)
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(1.5 * ncols + 0.3, 1.6 * nrows + 0.5), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False))
    use_patches = patches and result.patches is not None
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= k:
            ax.axis("off")
            continue
        picture = result.patches[i] if use_patches else result.images[i]
        if picture.shape[0] == 3:
            low, high = picture.min(), picture.max()
            ax.imshow(((picture - low) / ((high - low) or 1)).transpose(1, 2, 0), interpolation="nearest")
        else:
            ax.imshow(picture[0], cmap="gray", interpolation="nearest")
        if not use_patches and result.boxes is not None:
            top, bottom, left, right = result.boxes[i]
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, color="red",
                                   linewidth=1))
        label = f"#{result.indices[i]}: {result.scores[i]:.2f}"
        if labels is not None:
            label += f"\n{class_names[labels[i]] if class_names is not None else labels[i]}"
        ax.set_title(label, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
