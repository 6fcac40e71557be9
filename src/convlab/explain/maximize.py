"""Activation maximisation: the input a unit, a channel or a class likes best, found by gradient
ascent on the input (Erhan et al., 2009; Olah et al., "Feature Visualization", Distill 2017).

It follows Lucid / lucent (``render_vis``): the image is ``sigmoid`` of a parametrisation, either
plain pixels or a scaled Fourier spectrum (``param="fourier"``: each frequency's amplitude is
multiplied by ``1 / |f|``, so the optimiser starts on the low frequencies natural images have,
instead of the high-frequency patterns plain gradient ascent finds), with colours decorrelated
for RGB images (Lucid's colour matrix); every step draws a random robustness transform (shift,
scale, rotation) so only patterns that survive small moves grow; L2 and total-variation
penalties keep the picture bounded and smooth. The optimiser is Adam. All randomness comes from
``seed``, so the same seed gives the same picture.

Seed 004 calls this the "max filter response": "train an input image so that it maximizes the
output energy in a particular filter".
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes
from ..autograd import grad_mode
from ..autograd.functional import grad as autograd_grad
from ..nn.modules.module import Module
from ..summary import preserved_model_state
from ..tensor import Tensor
from ._hooks import leave_no_trace, resolve_layer
from .filters import StopForward, _check_model

__all__ = ["activation_maximization"]

PARAMS = ("pixel", "fourier")
OBJECTIVES = ("mean", "energy")

# Lucid's square root of the ImageNet colour correlation (from its SVD), columns scaled to norm <= 1.
_COLOR_CORRELATION_SVD_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_CORRELATION = _COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0))


def _irfft2_matrices(height: int, width: int):
    """Real matrices with ``numpy.fft.irfft2(A + iB, s=(height, width)) == (Cy A - Sy B) Pc - (Cy B + Sy A) Ps``
    for real and imaginary parts ``A``, ``B`` of shape ``(height, width // 2 + 1)``: the inverse DFT
    along the rows (``Cy + i Sy``, divided by ``height``), then the Hermitian inverse along the
    columns (frequencies 1 .. width/2 - 1 stand for their conjugate twins, hence weight 2)."""
    y, u = np.arange(height)[:, None], np.arange(height)[None, :]
    cy, sy = np.cos(2 * np.pi * u * y / height) / height, np.sin(2 * np.pi * u * y / height) / height
    v, x = np.arange(width // 2 + 1)[:, None], np.arange(width)[None, :]
    weight = np.full((width // 2 + 1, 1), 2.0)
    weight[0] = 1.0
    if width % 2 == 0:
        weight[-1] = 1.0
    pc, ps = weight * np.cos(2 * np.pi * v * x / width) / width, weight * np.sin(2 * np.pi * v * x / width) / width
    return cy, sy, pc, ps


class _Image:
    """A batch of ``n`` images ``sigmoid(decorrelate(param(theta)))``, ``(n, C, H, W)``, and their parameters."""

    def __init__(self, n: int, shape, param: str, decorrelate: bool, rng: np.random.Generator, dtype):
        channels, height, width = shape
        self.n, self.shape, self.param, self.dtype = n, shape, param, dtype
        self.decorrelate = decorrelate and channels == 3
        if param == "pixel":
            self.theta = Tensor((0.01 * rng.standard_normal((n, *shape))).astype(dtype), requires_grad=True)
            return
        freqs = np.sqrt(np.fft.fftfreq(height)[:, None] ** 2 + np.fft.rfftfreq(width)[None, :] ** 2)
        # Lucid: amplitudes scaled by 1/|f| (decay power 1) and by sqrt(H W) (a unitary transform,
        # so pixel learning rates carry over); the image is divided by 4.
        scale = np.sqrt(width * height) / np.maximum(freqs, 1.0 / max(height, width)) / 4.0
        self.scale = Tensor(scale.astype(dtype))
        self.theta = Tensor((0.01 * rng.standard_normal((2, n, channels, *freqs.shape))).astype(dtype),
                            requires_grad=True)
        self.cy, self.sy, self.pc, self.ps = (Tensor(m.astype(dtype)) for m in _irfft2_matrices(height, width))

    def __call__(self) -> Tensor:
        if self.param == "pixel":
            t = self.theta
        else:
            real, imag = self.theta[0] * self.scale, self.theta[1] * self.scale
            row_real = self.cy @ real - self.sy @ imag
            row_imag = self.cy @ imag + self.sy @ real
            t = row_real @ self.pc - row_imag @ self.ps
        if self.decorrelate:
            matrix = Tensor(_COLOR_CORRELATION.astype(self.dtype))
            t = (matrix @ t.reshape(self.n, 3, -1)).reshape(self.n, *self.shape)
        return t.sigmoid()


def _random_affine(image: Tensor, rng: np.random.Generator, jitter: int, scale, rotate: float) -> Tensor:
    """``image`` (N, C, H, W) shifted by up to ``jitter`` pixels, scaled by a factor drawn from
    ``scale`` and rotated by up to ``rotate`` degrees about its centre, bilinearly resampled to
    the same size; pixels from outside are grey (0.5), as Lucid pads with 0.5."""
    n, channels, height, width = image.shape
    shift = rng.integers(-jitter, jitter + 1, 2) if jitter else np.zeros(2)
    factor = rng.uniform(*scale)
    angle = math.radians(rng.uniform(-rotate, rotate)) if rotate else 0.0
    cy, cx = (height - 1) / 2, (width - 1) / 2
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    dy, dx = (ys - cy - shift[0]) / factor, (xs - cx - shift[1]) / factor  # output -> source: inverse map
    cos, sin = math.cos(angle), math.sin(angle)
    sy, sx = cy + cos * dy - sin * dx, cx + sin * dy + cos * dx
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    flat = image.reshape(n, channels, height * width)
    out, covered = None, np.zeros(height * width)
    for oy, ox in ((0, 0), (0, 1), (1, 0), (1, 1)):
        yi, xi = y0 + oy, x0 + ox
        weight = (1 - np.abs(sy - yi)) * (1 - np.abs(sx - xi))
        weight = np.where((yi >= 0) & (yi < height) & (xi >= 0) & (xi < width), weight, 0.0).reshape(-1)
        index = (np.clip(yi, 0, height - 1) * width + np.clip(xi, 0, width - 1)).reshape(-1)
        term = flat[:, :, index] * Tensor(weight.astype(image.dtype))
        out = term if out is None else out + term
        covered += weight
    out = out + Tensor((0.5 * (1 - covered)).astype(image.dtype))
    return out.reshape(n, channels, height, width)


def _check_scale(who: str, scale):
    if isinstance(scale, numbers.Real):
        scale = (scale, scale)
    if (not isinstance(scale, (tuple, list)) or len(scale) != 2
            or not all(isinstance(s, numbers.Real) and s > 0 for s in scale) or scale[0] > scale[1]):
        raise ValueError(f"{who}: scale must be a positive number or a range (low, high), got {scale!r}")
    return float(scale[0]), float(scale[1])


def activation_maximization(model: Module, layer=None, channel=None, unit=None, class_index=None,
                            steps: int = 256, lr: float = 0.05, l2: float = 1e-3,
                            tv: float = 1e-2, jitter: int = 2, scale=(0.95, 1.05), rotate: float = 5.0,
                            param: str = "fourier", decorrelate: bool = True, seed: int = 0, *, input_size=None,
                            normalize=None, objective: str = "mean", mode: str = "eval",
                            progress: bool = True) -> np.ndarray:
    """The input image that maximises a unit, a channel, a whole layer or a class score.

    The objective is the mean (with ``objective="energy"``, the mean square) of ``layer``'s output
    over the map, restricted to ``channel`` (and to the map position ``unit``) when given; with
    ``class_index`` (and no ``layer``) it is the model's output for that class (the logit). Each of
    ``steps`` Adam steps ascends ``objective - l2 * mean((x - 0.5)^2) - tv * TV(x)`` on the image
    ``x`` in [0, 1], seen by the model through a random shift (up to ``jitter`` pixels), scale and
    rotation. The forward pass stops at ``layer``. The model's parameters get no gradient and the
    model is left as it was (hooks, modes, buffers, ``requires_grad``, random state), even after
    an error.

    Args:
        model: the model.
        layer: the layer (a module of ``model`` or its dotted name); None for the model's output.
        channel: an output channel of ``layer`` (None: all channels), or a list of channels: one
            image each, optimised together in one batch (the same transforms for all).
        unit: a position ``(row, column)`` in ``layer``'s map (None: the map's mean).
        class_index: with ``layer=None``, the output (class) to maximise, or a list of them.
        steps: optimisation steps. Default: 256.
        lr: Adam's learning rate. Default: 0.05 (Lucid's).
        l2: weight of the L2 penalty pulling pixels to grey. Default: 1e-3.
        tv: weight of the total-variation penalty (mean absolute difference of neighbours).
            Default: 1e-2.
        jitter: largest random shift in pixels per step. Default: 2.
        scale: random scale factor range per step (a number for a fixed factor). Default: (0.95, 1.05).
        rotate: largest random rotation in degrees per step. Default: 5.
        param: ``"fourier"`` (default; scaled spectrum) or ``"pixel"``.
        decorrelate: decorrelate the colours of RGB images (ignored for other channel counts).
        seed: seed of the initial image and of the transforms (convlab's random state is not used).
        input_size: ``(C, H, W)`` of one input image (default: ``model.input_size`` if set).
        normalize: ``(mean, std)`` per channel applied to the image before the model (the
            dataset's ``Normalize``), or None.
        objective: ``"mean"`` (default; Lucid's channel objective, the mean activation) or
            ``"energy"`` (the mean squared activation, seed 004's "output energy in a filter";
            for a convolution's output it favours the frequency where the kernel's spectrum peaks).
        mode: ``"eval"`` (default), ``"train"`` or ``"same"``.
        progress: show a tqdm progress bar.

    Returns:
        float array ``(C, H, W)`` in [0, 1] (before normalisation): the image; ``(K, C, H, W)``
        for a list of ``K`` channels or classes.

    Example::

        >>> image = explain.activation_maximization(net, "3", channel=7, input_size=(1, 28, 28),
        ...                                         normalize=((0.2860,), (0.3530,)))
        >>> plt.imshow(image[0], cmap="gray")
    """
    who = "activation_maximization()"
    _check_model(who, model, mode)
    input_size = input_size if input_size is not None else getattr(model, "input_size", None)
    if (not isinstance(input_size, (tuple, list)) or len(input_size) != 3
            or not all(isinstance(n, numbers.Integral) and n > 0 for n in input_size)):
        raise ValueError(f"{who}: input_size must be (C, H, W) of one input image, e.g. (1, 28, 28), got {input_size!r}")
    input_size = tuple(int(n) for n in input_size)
    if objective not in OBJECTIVES:
        raise ValueError(f"{who}: objective must be one of {', '.join(map(repr, OBJECTIVES))}, got {objective!r}")
    if param not in PARAMS:
        raise ValueError(f"{who}: param must be one of {', '.join(map(repr, PARAMS))}, got {param!r}")
    if not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"{who}: steps must be a positive int, got {steps!r}")
    for name, value in (("lr", lr), ("l2", l2), ("tv", tv), ("rotate", rotate)):
        if not isinstance(value, numbers.Real) or value < 0 or (name == "lr" and value == 0):
            raise ValueError(f"{who}: {name} must be a number >= 0{' (and > 0)' if name == 'lr' else ''}, "
                             f"got {value!r}")
    if not isinstance(jitter, numbers.Integral) or jitter < 0:
        raise ValueError(f"{who}: jitter must be an int >= 0 (pixels), got {jitter!r}")
    scale = _check_scale(who, scale)
    if class_index is not None and layer is not None:
        raise ValueError(f"{who}: give either a layer (with channel/unit) or class_index (the model's output), not "
                         "both")
    if layer is None and class_index is None and channel is None:
        raise ValueError(f"{who}: nothing to maximise: give a layer (and channel/unit) or a class_index")
    module = None if layer is None else resolve_layer(model, layer, who)[0]
    targets = class_index if class_index is not None else channel
    batched = isinstance(targets, (list, tuple, np.ndarray))
    targets = list(targets) if batched else [targets]
    if batched and (not targets or any(t is None for t in targets)):
        raise ValueError(f"{who}: a list of channels (or classes) must be non-empty ints, got {targets!r}")
    mean = std = None
    if normalize is not None:
        mean, std = (np.asarray(v, dtype=np.float64).reshape(-1, 1, 1) for v in normalize)

    from tqdm.auto import tqdm

    from ..optim import Adam

    rng = np.random.default_rng(seed)
    dtype = next((p.dtype for p in model.parameters()), dtypes.float32)
    image = _Image(len(targets), input_size, param, decorrelate, rng, dtype)
    optimizer = Adam([image.theta], lr=lr)
    captured = []

    def hook(mod, args, output):
        captured.append(output)
        raise StopForward

    with leave_no_trace(model), preserved_model_state(model, mode):
        for p in model.parameters():
            p.requires_grad = False  # restored by leave_no_trace(): only the image needs a gradient
        handle = module.register_forward_hook(hook) if module is not None else None
        try:
            with grad_mode.enable_grad():
                for _ in tqdm(range(steps), desc="activation maximisation", disable=not progress, leave=False):
                    x = image()
                    seen = _random_affine(x, rng, jitter, scale, rotate) if (jitter or rotate or scale != (1, 1)) else x
                    if mean is not None:
                        seen = (seen - Tensor(mean.astype(dtype))) / Tensor(std.astype(dtype))
                    captured.clear()
                    try:
                        captured.append(model(seen))
                    except StopForward:
                        pass
                    value = _objective(who, captured[0], targets, unit, objective)
                    penalty = len(targets) * (l2 * ((x - 0.5) ** 2).mean() + tv * (
                        (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()))
                    (image.theta.grad,) = autograd_grad(penalty - value, [image.theta])
                    optimizer.step()
            with grad_mode.no_grad():
                result = image()
        finally:
            if handle is not None:
                handle.remove()
    return result.numpy() if batched else result.numpy()[0]


def _objective(who: str, out, targets: list, unit, objective: str) -> Tensor:
    """The sum over the batch of each image's objective: image ``i`` maximises ``targets[i]``
    (a channel or class; None: the whole output)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: the layer's output is a {type(out).__name__}, expected a Tensor")
    for t in targets:
        if t is not None and (not isinstance(t, numbers.Integral) or not 0 <= t < out.shape[1]):
            raise ValueError(f"{who}: channel (or class_index) must be an int in [0, {out.shape[1] - 1}], got {t!r}")
    if unit is not None:
        unit = tuple(unit) if isinstance(unit, (tuple, list)) else (unit,)
        if len(unit) != out.ndim - 2 or not all(isinstance(u, numbers.Integral) and 0 <= u < n
                                                for u, n in zip(unit, out.shape[2:])):
            raise ValueError(f"{who}: unit must be a position in the layer's map {tuple(out.shape[2:])}, got {unit!r}")
        out = out[(Ellipsis, *unit)]  # (N, C)
    if targets[0] is None:
        selected = out
    else:
        selected = out[np.arange(len(targets)), np.array(targets, dtype=np.int64)]  # (N, *map)
    if objective == "energy":
        selected = selected**2
    return selected.mean() * len(targets)
