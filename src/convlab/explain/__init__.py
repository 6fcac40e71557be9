"""Look inside a trained network (``convlab.explain``).

Attribution with Captum's names, signatures and numbers: every method takes the model (or a
forward function) and has ``attribute(inputs, target=...)``::

    from convlab.explain import IntegratedGradients, LayerGradCam, Saliency

    sal = Saliency(model).attribute(x, target=3)
    attr, delta = IntegratedGradients(model).attribute(x, target=3, return_convergence_delta=True)
    cam = LayerGradCam(model, "layer4").attribute(x, target=3)        # (N, 1, h, w)

and :func:`visualize_image_attr` draws them as Captum's visualisation does.

What the layers hold and respond to: :func:`filters`, :func:`plot_filters`,
:func:`kernel_spectrum`, :func:`plot_kernel_spectrum`, :func:`feature_maps`,
:func:`plot_feature_maps`, :func:`max_activating`, :func:`plot_max_activating`,
:func:`activation_maximization`; ``convlab explain`` writes them all into one HTML report
(:func:`build_report`).

Explanations leave no trace: hooks, train/eval mode, ``requires_grad`` flags, gradients and
buffers of the model are as before every call, even one that raised.
"""

from ._hooks import capture_layers, layer_names, leave_no_trace, resolve_layer
from .attribution import (
    Attribution,
    Deconvolution,
    GradientAttribution,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerActivation,
    LayerAttribution,
    LayerGradCam,
    LayerGradCamPlusPlus,
    NoiseTunnel,
    Occlusion,
    PerturbationAttribution,
    Saliency,
)
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
    "Attribution",
    "Deconvolution",
    "GradientAttribution",
    "GuidedBackprop",
    "GuidedGradCam",
    "InputXGradient",
    "IntegratedGradients",
    "LayerActivation",
    "LayerAttribution",
    "LayerGradCam",
    "LayerGradCamPlusPlus",
    "MaxActivating",
    "NoiseTunnel",
    "Occlusion",
    "PerturbationAttribution",
    "Saliency",
    "activation_maximization",
    "capture_layers",
    "feature_maps",
    "filters",
    "kernel_spectrum",
    "layer_names",
    "leave_no_trace",
    "max_activating",
    "plot_feature_maps",
    "plot_filters",
    "plot_kernel_spectrum",
    "plot_max_activating",
    "resolve_layer",
    "visualize_image_attr",
]
