"""Drawing attributions over images: :func:`visualize_image_attr`, Captum's function of that name.

Captum users call it on NumPy arrays laid out ``(H, W, C)``::

    attr = ig.attribute(x, target=3)                           # (1, C, H, W)
    explain.visualize_image_attr(attr[0].numpy().transpose(1, 2, 0),
                                 image[0].numpy().transpose(1, 2, 0), "blended_heat_map")

The attribution (summed over channels) is normalised as Captum does: the chosen sign is kept,
the value below which ``100 - outlier_perc`` percent of the total absolute attribution lies
becomes 1, and the result is clipped to [-1, 1]. Same argument names, defaults, colour maps and
drawn arrays as Captum 0.9 (the tests compare them); unlike Captum it never calls
``plt.show()``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..tensor import Tensor

__all__ = ["visualize_image_attr"]

METHODS = ("heat_map", "blended_heat_map", "original_image", "masked_image", "alpha_scaling")
SIGNS = ("positive", "absolute_value", "negative", "all")


def _as_array(who: str, name: str, value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{who}: {name} must be a NumPy array (H, W, C) or (H, W), got {type(value).__name__}")
    return value


def _prepare_image(values: np.ndarray) -> np.ndarray:
    """Truncate to int and clip to [0, 255] (Captum's ``_prepare_image``)."""
    return np.clip(values.astype(int), 0, 255)


def _cumulative_sum_threshold(values: np.ndarray, percentile: float) -> float:
    """The smallest value whose cumulative sum (over values sorted ascending) reaches ``percentile``
    percent of the total; ``values`` are non-negative."""
    sorted_values = np.sort(values.flatten())
    cumulative = np.cumsum(sorted_values)
    return sorted_values[np.nonzero(cumulative >= cumulative[-1] * 0.01 * percentile)[0][0]]


def _normalize_attr(attr: np.ndarray, sign: str, outlier_perc: float = 2) -> np.ndarray:
    """Keep ``sign`` of the 2-D attribution and scale it into [-1, 1] (Captum's ``_normalize_attr``)."""
    if sign == "positive":
        attr = np.maximum(attr, 0)
    elif sign == "negative":
        attr = np.minimum(attr, 0)
    elif sign == "absolute_value":
        attr = np.abs(attr)
    threshold = _cumulative_sum_threshold(np.abs(attr), 100.0 - outlier_perc)
    if sign == "negative":
        threshold = -threshold
    if threshold == 0:
        raise ValueError(f"visualize_image_attr(): cannot normalise: every attribution of sign {sign!r} is 0")
    if abs(threshold) < 1e-5:
        warnings.warn("visualize_image_attr(): normalising by a value close to 0 (all attributions are near 0); "
                      "the picture may mislead", stacklevel=3)
    return np.clip(attr / threshold, -1, 1)


def _cmap_and_range(sign: str):
    """Captum's default colour map and value range for each sign."""
    if sign == "all":
        from matplotlib.colors import LinearSegmentedColormap

        return LinearSegmentedColormap.from_list("RdWhGn", ["red", "white", "green"]), -1, 1
    return {"positive": "Greens", "negative": "Reds", "absolute_value": "Blues"}[sign], 0, 1


def visualize_image_attr(attr, original_image=None, method: str = "heat_map", sign: str = "absolute_value",
                         plt_fig_axis=None, outlier_perc: float = 2, cmap=None, alpha_overlay: float = 0.5,
                         show_colorbar: bool = False, title: str | None = None, fig_size=(6, 6),
                         use_pyplot: bool = True):
    r"""Draw an image attribution with matplotlib, as ``captum.attr.visualization.visualize_image_attr``.

    The attribution is summed over its channels, its ``sign`` kept and normalised (the top
    ``outlier_perc`` percent of the total attribution saturates at 1), then drawn by ``method``.

    Args:
        attr: attributions, NumPy ``(H, W, C)`` or ``(H, W)`` (channels last, as Captum).
        original_image: the image, ``(H, W, C)``, floats in [0, 1] or ints in [0, 255]; needed
            by every method except ``"heat_map"``. Default: None.
        method: ``"heat_map"`` (default), ``"blended_heat_map"`` (the heat map at
            ``alpha_overlay`` over the grey image), ``"original_image"``, ``"masked_image"``
            (the image times the normalised attribution) or ``"alpha_scaling"`` (the
            attribution as the image's alpha channel).
        sign: ``"absolute_value"`` (default), ``"positive"``, ``"negative"`` or ``"all"`` (red
            negative, green positive; not for ``masked_image``/``alpha_scaling``).
        plt_fig_axis: ``(figure, axis)`` to draw on; default: a new figure.
        outlier_perc: percent of the total attribution (the largest values) that saturates.
            Default: 2.
        cmap: colour map of the heat map (default: Blues / Greens / Reds / red-white-green by sign).
        alpha_overlay: the heat map's alpha in ``"blended_heat_map"``. Default: 0.5.
        show_colorbar: add a colour bar under the axis. Default: False.
        title: the axis title. Default: None.
        fig_size: size of a new figure in inches. Default: (6, 6).
        use_pyplot: make a new figure with ``pyplot`` (a notebook shows it) rather than a bare
            :class:`matplotlib.figure.Figure`. Default: True. ``plt.show()`` is never called.

    Returns:
        ``(figure, axis)``.

    Raises:
        ValueError: an unknown ``method`` or ``sign``, no ``original_image`` for a method that
            draws it, ``sign="all"`` with a masking method, mismatched shapes, or attributions
            that are all zero for the chosen sign.

    Example::

        >>> attr = explain.IntegratedGradients(net).attribute(x, target=3)
        >>> fig, ax = explain.visualize_image_attr(attr[0].numpy().transpose(1, 2, 0),
        ...                                        x[0].numpy().transpose(1, 2, 0) * 0.5 + 0.5,
        ...                                        "blended_heat_map", sign="all", use_pyplot=False)
        >>> fig.savefig("ig.png")
    """
    who = "visualize_image_attr()"
    attr = _as_array(who, "attr", attr)
    if method not in METHODS:
        raise ValueError(f"{who}: method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if sign not in SIGNS:
        raise ValueError(f"{who}: sign must be one of {', '.join(map(repr, SIGNS))}, got {sign!r}")
    if attr.ndim not in (2, 3):
        raise ValueError(f"{who}: attr must be (H, W, C) or (H, W), got shape {attr.shape}")
    if not isinstance(outlier_perc, numbers.Real) or not 0 <= outlier_perc <= 100:
        raise ValueError(f"{who}: outlier_perc must be a number in [0, 100], got {outlier_perc!r}")
    if original_image is not None:
        original_image = _as_array(who, "original_image", original_image)
        if original_image.ndim != 3 or original_image.shape[:2] != attr.shape[:2]:
            raise ValueError(f"{who}: original_image must be (H, W, C) with the attribution's H, W = "
                             f"{attr.shape[:2]}, got shape {original_image.shape}")
        if np.max(original_image) <= 1.0:
            original_image = _prepare_image(original_image * 255)
    elif method != "heat_map":
        raise ValueError(f"{who}: method {method!r} draws the image: pass original_image (H, W, C)")
    if sign == "all" and method in ("masked_image", "alpha_scaling"):
        raise ValueError(f"{who}: method {method!r} cannot show positive and negative attributions together; "
                         "choose sign 'positive', 'negative' or 'absolute_value'")

    if plt_fig_axis is not None:
        fig, axis = plt_fig_axis
    elif use_pyplot:
        from matplotlib import pyplot as plt

        fig, axis = plt.subplots(figsize=fig_size)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=fig_size)
        axis = fig.subplots()
    if isinstance(axis, (list, tuple)):
        axis = axis[0]
    axis.xaxis.set_ticks_position("none")
    axis.yaxis.set_ticks_position("none")
    axis.set_yticklabels([])
    axis.set_xticklabels([])
    axis.grid(visible=False)

    if attr.ndim == 3:
        attr = attr.sum(axis=2)
    norm_attr = _normalize_attr(attr, sign, outlier_perc)
    default_cmap, vmin, vmax = _cmap_and_range(sign)
    cmap = default_cmap if cmap is None else cmap
    heat_map = None
    if method == "heat_map":
        heat_map = axis.imshow(norm_attr, cmap=cmap, vmin=vmin, vmax=vmax)
    elif method == "blended_heat_map":
        axis.imshow(np.mean(original_image, axis=2), cmap="gray")
        heat_map = axis.imshow(norm_attr, cmap=cmap, vmin=vmin, vmax=vmax, alpha=alpha_overlay)
    elif method == "original_image":
        axis.imshow(original_image[:, :, 0] if original_image.shape[2] == 1 else original_image)
    elif method == "masked_image":
        axis.imshow(_prepare_image(original_image * norm_attr[:, :, None]))
    else:  # alpha_scaling
        axis.imshow(np.concatenate([original_image, _prepare_image(norm_attr[:, :, None] * 255)], axis=2))

    if show_colorbar:  # an empty colour-bar axis without a heat map keeps several plots aligned (as Captum)
        from mpl_toolkits.axes_grid1 import make_axes_locatable

        colorbar_axis = make_axes_locatable(axis).append_axes("bottom", size="5%", pad=0.1)
        if heat_map is not None:
            fig.colorbar(heat_map, orientation="horizontal", cax=colorbar_axis)
        else:
            colorbar_axis.axis("off")
    if title:
        axis.set_title(title)
    return fig, axis
