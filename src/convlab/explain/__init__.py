"""Look inside a trained network (``convlab.explain``).

- Filters, spectra, feature maps and the inputs a unit likes: :func:`filters`,
  :func:`plot_filters`, :func:`kernel_spectrum`, :func:`plot_kernel_spectrum`,
  :func:`feature_maps`, :func:`plot_feature_maps`, :func:`max_activating`,
  :func:`plot_max_activating`, :func:`activation_maximization`.
- Drawing attributions as Captum does: :func:`visualize_image_attr`.

Every function that runs a model leaves it as it found it (hooks, train/eval mode, buffers,
``requires_grad``, ``.grad``), even when it raises.
"""

from .filters import (
    MaxActivating,
    feature_maps,
    filters,
    kernel_spectrum,
    max_activating,
    plot_feature_maps,
    plot_filters,
    plot_kernel_spectrum,
    plot_max_activating,
)
from .maximize import activation_maximization
from .visualize import visualize_image_attr

__all__ = [
    "MaxActivating",
    "activation_maximization",
    "feature_maps",
    "filters",
    "kernel_spectrum",
    "max_activating",
    "plot_feature_maps",
    "plot_filters",
    "plot_kernel_spectrum",
    "plot_max_activating",
    "visualize_image_attr",
]
