"""Look inside a trained network: attribution with Captum's names, signatures and numbers.

Every method takes the model (or a forward function) and has ``attribute(inputs, target=...)``::

    from convlab.explain import IntegratedGradients, LayerGradCam, Saliency

    sal = Saliency(model).attribute(x, target=3)
    attr, delta = IntegratedGradients(model).attribute(x, target=3, return_convergence_delta=True)
    cam = LayerGradCam(model, "layer4").attribute(x, target=3)        # (N, 1, h, w)

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
    "NoiseTunnel",
    "Occlusion",
    "PerturbationAttribution",
    "Saliency",
    "capture_layers",
    "layer_names",
    "leave_no_trace",
    "resolve_layer",
]
