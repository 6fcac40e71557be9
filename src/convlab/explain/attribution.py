"""Attribution with Captum's names, signatures, defaults and numbers.

Each method wraps a model (or any forward function) and answers, through ``attribute``, how
much each input pixel (or each position of a layer) contributed to one output of the model,
the ``target`` (usually a class logit). They are the instruments of seeds 003 and 004:

- gradients: :class:`Saliency` (``|d y / d x|``), :class:`InputXGradient` (``x * d y / d x``),
  :class:`IntegratedGradients` (the gradient averaged along the straight path from a baseline
  to the input, times ``x - baseline``: the attributions add up to ``f(x) - f(baseline)``),
  :class:`NoiseTunnel` (SmoothGrad: any method averaged over noisy copies of the input);
- modified back-propagation through ReLUs: :class:`GuidedBackprop`, :class:`Deconvolution`;
- perturbation: :class:`Occlusion` (slide a patch of baseline values over the input and record
  how much the output drops, seed 004's occlusion sensitivity);
- layers: :class:`LayerActivation`, :class:`LayerGradCam` (class activation map at a conv
  layer's resolution), :class:`LayerGradCamPlusPlus` (Grad-CAM++, which Captum lacks),
  :class:`GuidedGradCam` (guided backprop times the upsampled Grad-CAM map) and
  :meth:`LayerAttribution.interpolate` to bring a layer map to the input's size.

``target`` is, as in Captum: None (the output must then hold one value per sample), an int (a
column of the output), a tuple index into each sample's output, or one int per sample (a list,
a 1-D Tensor or array). ``layer`` is a module of the model or its dotted name
(``"layer4.1.conv2"``). Inputs may be a Tensor or a tuple of Tensors (a model with several
inputs); results have the same form.

Every call leaves the model as it found it (hooks, train/eval mode, ``requires_grad``,
``.grad``, buffers), even when it raises; the user's input tensors are never modified.

Differences from Captum, all deliberate: errors are ``ValueError``/``TypeError`` naming the method
and the argument instead of ``AssertionError``; Grad-CAM refuses a layer without spatial
dimensions; :class:`Occlusion` returns the input's dtype (Captum casts to float32); an input
unused by the model gets zero gradients instead of an error; :class:`GuidedGradCam` raises when
the Grad-CAM map cannot be resized to an input instead of returning an empty tensor.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import _random
from ..autograd import functional as autograd
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad
from ..backend import array_module
from ..nn import functional as F
from ..nn.modules.activation import ReLU
from ..nn.modules.module import Module
from ..tensor import Tensor
from ._hooks import as_tuple, capture_layers, leave_no_trace, owning_module, resolve_layer

SUPPORTED_RIEMANN_METHODS = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]
SUPPORTED_METHODS = [*SUPPORTED_RIEMANN_METHODS, "gausslegendre"]
SUPPORTED_NOISE_TUNNEL_TYPES = ["smoothgrad", "smoothgrad_sq", "vargrad"]


# ---------------------------------------------------------------------------- inputs and targets
def _format_inputs(inputs, who: str) -> tuple[tuple, bool]:
    """``(arrays, is_tuple)`` for a Tensor or a tuple of Tensors of floating dtype and one batch size."""
    is_tuple = isinstance(inputs, tuple)
    items = inputs if is_tuple else (inputs,)
    if not items:
        raise ValueError(f"{who}: inputs is an empty tuple; pass a Tensor or a tuple of Tensors")
    arrays = []
    for i, t in enumerate(items):
        name = f"inputs[{i}]" if is_tuple else "inputs"
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: {name} must be a convlab Tensor, got {type(t).__name__}")
        if t.dtype.kind != "f":
            raise TypeError(f"{who}: {name} must have a floating dtype to be explained, got {t.dtype}")
        if t.ndim == 0:
            raise ValueError(f"{who}: {name} must have a batch dimension (N, ...), got a 0-d tensor")
        arrays.append(t.data)
    n = arrays[0].shape[0]
    for i, a in enumerate(arrays[1:], 1):
        if a.shape[0] != n:
            raise ValueError(
                f"{who}: every input needs the same batch size; inputs[0] has {n}, inputs[{i}] has {a.shape[0]}"
            )
    return tuple(arrays), is_tuple


def _format_output(is_tuple: bool, arrays):
    out = tuple(Tensor(a) for a in arrays)
    return out if is_tuple else out[0]


def _format_baselines(baselines, xs: tuple, who: str, name: str = "baselines") -> tuple:
    """One array per input, broadcast to the input's shape (a number, a tensor of the input's
    shape, or one sample ``(1, ...)`` shared by the batch, as Captum accepts)."""
    if baselines is None:
        baselines = (0,) * len(xs)
    elif not isinstance(baselines, tuple):
        baselines = (baselines,)
    if len(baselines) != len(xs):
        raise ValueError(f"{who}: {name} has {len(baselines)} entries for {len(xs)} inputs; give one per input")
    out = []
    for i, (b, x) in enumerate(zip(baselines, xs)):
        xp = array_module(x)
        if isinstance(b, numbers.Real) and not isinstance(b, bool):
            out.append(xp.full(x.shape, b, dtype=x.dtype))
            continue
        if not isinstance(b, Tensor):
            raise TypeError(f"{who}: {name}[{i}] must be a number or a Tensor, got {type(b).__name__}")
        shape = tuple(b.shape)
        if shape != x.shape and not (len(shape) == x.ndim and shape[0] == 1 and shape[1:] == x.shape[1:]):
            raise ValueError(
                f"{who}: {name}[{i}] has shape {shape}; expected the input's shape {tuple(x.shape)} "
                f"or one sample (1, {', '.join(map(str, x.shape[1:]))}) shared by the batch, or a number"
            )
        out.append(xp.broadcast_to(b.data.astype(x.dtype, copy=False), x.shape))
    return tuple(out)


def _format_additional(additional_forward_args) -> tuple:
    if additional_forward_args is None:
        return ()
    return additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)


def _expand_additional(args: tuple, k: int, interleave: bool = False) -> tuple:
    """Extra forward arguments for ``k`` copies of the batch: tensors with a batch dimension are
    repeated (whole batch ``k`` times, or each sample ``k`` times with ``interleave``)."""
    if k == 1:
        return args
    out = []
    for a in args:
        if isinstance(a, Tensor) and a.ndim > 0:
            xp = array_module(a.data)
            a = Tensor(xp.repeat(a.data, k, axis=0) if interleave else xp.concatenate([a.data] * k))
        out.append(a)
    return tuple(out)


def _normalize_target(target, n: int, who: str):
    """Captum's target forms as one of: None, a tuple index, an int array (one per sample), or a
    list of tuple indices (one per sample)."""
    if target is None:
        return None
    if isinstance(target, bool):
        raise TypeError(f"{who}: target must be an int, a tuple, or one int per sample, got a bool")
    if isinstance(target, (Tensor, np.ndarray)):
        data = np.asarray(target.numpy() if isinstance(target, Tensor) else target)
        if data.dtype.kind not in "iu":
            raise TypeError(f"{who}: a target tensor must hold integers, got dtype {data.dtype}")
        if data.size == 1:
            return (int(data.reshape(())),)
        if data.ndim != 1 or data.size != n:
            raise ValueError(
                f"{who}: a target tensor needs one class index per sample, shape ({n},); got shape {data.shape}"
            )
        return data.astype(np.int64)
    if isinstance(target, numbers.Integral):
        return (int(target),)
    if isinstance(target, tuple):
        for t in target:
            if isinstance(t, bool) or not isinstance(t, (numbers.Integral, slice)):
                raise TypeError(f"{who}: a tuple target holds ints or slices, got {type(t).__name__}")
        return target
    if isinstance(target, list):
        if len(target) != n:
            raise ValueError(f"{who}: target has {len(target)} entries for {n} samples; give one per sample")
        if all(isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in target):
            return np.asarray(target, dtype=np.int64)
        if all(isinstance(t, tuple) for t in target):
            return list(target)
        raise TypeError(f"{who}: a list target holds one int (or one tuple index) per sample, got {target!r}")
    raise TypeError(
        f"{who}: target must be None, an int, a tuple, a list or a 1-D Tensor of ints, got {type(target).__name__}"
    )


def _expand_target(target, k: int, interleave: bool = False):
    """The target of ``k`` copies of the batch (batch-major copies, or each sample ``k`` times)."""
    if k == 1:
        return target
    if isinstance(target, np.ndarray):
        return np.repeat(target, k) if interleave else np.tile(target, k)
    if isinstance(target, list):
        return [t for t in target for _ in range(k)] if interleave else target * k
    return target


def _select(output, target, who: str):
    """The output values the target names, one per sample (Captum's ``_select_targets``)."""
    if not isinstance(output, Tensor):
        raise TypeError(f"{who}: the forward function must return a Tensor, got {type(output).__name__}")
    if output.ndim == 0:
        raise ValueError(f"{who}: the forward function returned a scalar; it must return one row per sample (N, ...)")
    shape = tuple(output.shape)
    if target is None:
        selected = output
    elif isinstance(target, tuple):
        if len(target) > output.ndim - 1:
            raise ValueError(
                f"{who}: target {target} has {len(target)} indices but the output {shape} has {output.ndim - 1} per sample"
            )
        for d, t in enumerate(target, 1):
            if not isinstance(t, slice) and not -shape[d] <= t < shape[d]:
                raise ValueError(
                    f"{who}: target index {t} is out of range for output dimension {d} of size {shape[d]} (output shape {shape})"
                )
        selected = output[(slice(None), *target)]
    else:
        if output.ndim != 2:
            raise ValueError(f"{who}: one target per sample needs a 2-D output (N, classes), got shape {shape}")
        if len(target) != shape[0]:
            raise ValueError(f"{who}: target has {len(target)} entries but the output has {shape[0]} rows")
        if isinstance(target, np.ndarray):
            bad = target[(target < 0) | (target >= shape[1])]
            if bad.size:
                raise ValueError(f"{who}: target {int(bad[0])} is out of range for an output with {shape[1]} classes")
            selected = output[np.arange(shape[0]), target]
        else:
            from ..ops.shape import stack

            selected = stack([output[(i, *t)] for i, t in enumerate(target)])
    if selected.ndim > 1 and int(np.prod(selected.shape[1:])) != 1:
        raise ValueError(
            f"{who}: the model output has shape {shape} and target={target!r} leaves {tuple(selected.shape[1:])} values "
            "per sample; a target must pick one value per sample (e.g. target=class_index)"
        )
    return selected


def _run_forward(forward_func, inputs: tuple, target, args: tuple, who: str):
    output = forward_func(*inputs, *args)
    return _select(output, target, who)


def _ones_like(t: Tensor) -> Tensor:
    return Tensor(array_module(t.data).ones_like(t.data))


def _gradients(forward_func, xs: tuple, target, args: tuple, who: str) -> tuple:
    """d(sum of the selected outputs) / d(inputs), one array per input (Captum's ``compute_gradients``).
    The inputs become fresh leaves sharing the caller's arrays: the caller's tensors stay untouched,
    and no parameter gradient is computed or stored."""
    leaves = tuple(Tensor(x, requires_grad=True) for x in xs)
    with enable_grad():
        selected = _run_forward(forward_func, leaves, target, args, who)
        if not selected.requires_grad:
            raise ValueError(
                f"{who}: the selected output does not depend on the inputs through differentiable operations"
            )
        grads = autograd.grad(selected, leaves, grad_outputs=_ones_like(selected), allow_unused=True)
    return tuple(array_module(x).zeros_like(x) if g is None else g.data for g, x in zip(grads, xs))


def _check_int(value, name: str, who: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _row_sums(a):
    return a.reshape(a.shape[0], -1).sum(1)


# ---------------------------------------------------------------------------- base classes
class Attribution:
    """Base of every attribution method: holds ``forward_func`` (a model or any callable
    returning a Tensor) and leaves it untouched by :meth:`attribute`."""

    def __init__(self, forward_func) -> None:
        if not callable(forward_func):
            raise TypeError(
                f"{type(self).__name__}: forward_func must be a model or a callable, got {type(forward_func).__name__}"
            )
        self.forward_func = forward_func

    def attribute(self, inputs, *args, **kwargs):
        raise NotImplementedError

    def has_convergence_delta(self) -> bool:
        return False

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def _no_trace(self, *modules):
        # Attributions differentiate inputs and activations, never weights.
        return leave_no_trace(owning_module(self.forward_func), *modules, freeze_parameters=True)


class GradientAttribution(Attribution):
    """Attribution methods built on gradients; they can report their convergence delta."""

    def compute_convergence_delta(
        self, attributions, start_point, end_point, target=None, additional_forward_args=None
    ):
        """How far ``attributions`` are from completeness: per sample, ``sum(attributions) -
        (f(end_point) - f(start_point))`` for the target output (a Tensor of shape (N,)).

        Args:
            attributions: the attributions of ``end_point`` (a Tensor or tuple of Tensors).
            start_point: the baselines (a number, a Tensor, or a tuple of them); None means zeros.
            end_point: the inputs.
            target: the output explained (see the module docstring).
            additional_forward_args: extra arguments of the forward function.
        """
        who = f"{type(self).__name__}.compute_convergence_delta()"
        ends, _ = _format_inputs(end_point, who)
        starts = _format_baselines(start_point, ends, who, "start_point")
        attrs, _ = _format_inputs(attributions, who)
        for a, e in zip(attrs, ends):
            if a.shape[0] != e.shape[0]:
                raise ValueError(f"{who}: attributions have {a.shape[0]} samples but end_point has {e.shape[0]}")
        n = ends[0].shape[0]
        target = _normalize_target(target, n, who)
        args = _format_additional(additional_forward_args)
        with self._no_trace(), no_grad():
            start = _row_sums(_run_forward(self.forward_func, tuple(Tensor(s) for s in starts), target, args, who).data)
            end = _row_sums(_run_forward(self.forward_func, tuple(Tensor(e) for e in ends), target, args, who).data)
        attr_sum = sum(_row_sums(a) for a in attrs)
        return Tensor(attr_sum - (end - start))


class PerturbationAttribution(Attribution):
    """Attribution methods that perturb the input and watch the output."""

    @property
    def multiplies_by_inputs(self) -> bool:
        return True


class LayerAttribution(Attribution):
    """Attribution methods that look at one layer of the model.

    Args:
        forward_func: the model (or a callable).
        layer: a module of the model, or its dotted name (``"layer4.1.conv2"``).
    """

    def __init__(self, forward_func, layer) -> None:
        Attribution.__init__(self, forward_func)
        self.layer, self.layer_name = resolve_layer(owning_module(forward_func), layer, type(self).__name__)

    @staticmethod
    def interpolate(layer_attribution, interpolate_dims, interpolate_mode: str = "nearest"):
        """Resize a layer attribution ``(N, C, h, w)`` to ``interpolate_dims`` (an int or one int
        per spatial dimension) with ``F.interpolate(..., mode=interpolate_mode)``.

        Example::

            >>> cam = LayerGradCam(model, "layer4").attribute(x, target=3)   # (N, 1, 2, 2)
            >>> LayerAttribution.interpolate(cam, x.shape[2:], "bilinear").shape
            (N, 1, 64, 64)
        """
        if not isinstance(layer_attribution, Tensor):
            raise TypeError(
                f"LayerAttribution.interpolate(): layer_attribution must be a Tensor, got {type(layer_attribution).__name__}"
            )
        if layer_attribution.ndim < 3:
            raise ValueError(
                "LayerAttribution.interpolate(): layer_attribution must have spatial dimensions (N, C, ...), "
                f"got shape {tuple(layer_attribution.shape)}"
            )
        if not isinstance(interpolate_dims, numbers.Integral):
            interpolate_dims = tuple(int(d) for d in interpolate_dims)
        return F.interpolate(layer_attribution, interpolate_dims, mode=interpolate_mode)


# ---------------------------------------------------------------------------- gradient methods
class Saliency(GradientAttribution):
    """The gradient of the target output with respect to the input (Simonyan et al., 2013),
    by default its absolute value.

    Args:
        forward_func: the model, or any callable returning a Tensor.

    Shape: attributions have the inputs' shapes.

    Example::

        >>> sal = Saliency(model).attribute(x, target=3)          # |d logit_3 / d x|
    """

    def attribute(self, inputs, target=None, abs: bool = True, additional_forward_args=None):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, ...) or a tuple of Tensors (one per model input).
            target: the output explained (int, tuple index, or one int per sample).
            abs: return ``|gradient|`` (default True) instead of the signed gradient.
            additional_forward_args: extra arguments passed to the forward function after the inputs.
        """
        who = "Saliency.attribute()"
        xs, is_tuple = _format_inputs(inputs, who)
        target = _normalize_target(target, xs[0].shape[0], who)
        with self._no_trace():
            grads = _gradients(self.forward_func, xs, target, _format_additional(additional_forward_args), who)
        if abs:
            grads = tuple(array_module(g).abs(g) for g in grads)
        return _format_output(is_tuple, grads)


class InputXGradient(GradientAttribution):
    """The input times the gradient of the target output with respect to it.

    Args:
        forward_func: the model, or any callable returning a Tensor.

    Example::

        >>> attr = InputXGradient(model).attribute(x, target=3)
    """

    def attribute(self, inputs, target=None, additional_forward_args=None):
        """Compute the attributions; the arguments are those of :meth:`Saliency.attribute` but ``abs``."""
        who = "InputXGradient.attribute()"
        xs, is_tuple = _format_inputs(inputs, who)
        target = _normalize_target(target, xs[0].shape[0], who)
        with self._no_trace():
            grads = _gradients(self.forward_func, xs, target, _format_additional(additional_forward_args), who)
        return _format_output(is_tuple, tuple(g * x for g, x in zip(grads, xs)))

    @property
    def multiplies_by_inputs(self) -> bool:
        return True


def approximation_parameters(method: str, n_steps: int, who: str = "IntegratedGradients.attribute()"):
    """``(step_sizes, alphas)`` of the integral's quadrature: Riemann sums (left, right, middle,
    trapezoid) on ``n_steps`` equal intervals, or Gauss-Legendre nodes and weights on [0, 1]."""
    if method not in SUPPORTED_METHODS:
        raise ValueError(f"{who}: method must be one of {SUPPORTED_METHODS}, got {method!r}")
    if method == "gausslegendre":
        _check_int(n_steps, "n_steps", who, 1)
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * weights, 0.5 * (1 + nodes)
    n = _check_int(n_steps, "n_steps (for a Riemann sum)", who, 2)
    steps = np.full(n, 1 / n)
    kind = method.split("_")[-1]
    if kind == "trapezoid":
        steps[0] /= 2
        steps[-1] /= 2
        alphas = np.linspace(0, 1, n)
    elif kind == "left":
        alphas = np.linspace(0, 1 - 1 / n, n)
    elif kind == "middle":
        alphas = np.linspace(1 / (2 * n), 1 - 1 / (2 * n), n)
    else:
        alphas = np.linspace(1 / n, 1, n)
    return steps, alphas


class IntegratedGradients(GradientAttribution):
    """Integrated gradients (Sundararajan et al., 2017): ``(x - baseline) * integral over alpha in
    [0, 1] of d f(baseline + alpha (x - baseline)) / d x``, the integral taken by quadrature.
    Completeness: the attributions of a sample add up to ``f(x) - f(baseline)``; the convergence
    delta measures the quadrature's error.

    Args:
        forward_func: the model, or any callable returning a Tensor.
        multiply_by_inputs: multiply the integrated gradient by ``x - baseline`` (default True;
            False gives Captum's "local" attribution).

    Example::

        >>> ig = IntegratedGradients(model)
        >>> attr, delta = ig.attribute(x, target=3, n_steps=50, return_convergence_delta=True)
    """

    def __init__(self, forward_func, multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func)
        self._multiply_by_inputs = multiply_by_inputs

    def attribute(
        self,
        inputs,
        baselines=None,
        target=None,
        additional_forward_args=None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
    ):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, ...) or a tuple of Tensors.
            baselines: the starting point of the path: None (zeros), a number, a Tensor of the
                input's shape or of one sample ``(1, ...)``, or a tuple of these per input.
            target: the output explained.
            additional_forward_args: extra forward arguments (tensors are repeated per step).
            n_steps: quadrature points (default 50).
            method: ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``,
                ``"riemann_trapezoid"`` or ``"gausslegendre"`` (default).
            internal_batch_size: evaluate at most this many (sample, step) pairs per forward pass
                (default: all ``N * n_steps`` at once); bounds memory, same result.
            return_convergence_delta: also return the completeness error per sample.

        Returns:
            the attributions (the inputs' shapes), and with ``return_convergence_delta`` a tuple
            ``(attributions, delta)`` with ``delta`` of shape (N,).
        """
        who = "IntegratedGradients.attribute()"
        xs, is_tuple = _format_inputs(inputs, who)
        bs = _format_baselines(baselines, xs, who)
        n = xs[0].shape[0]
        step_sizes, alphas = approximation_parameters(method, n_steps, who)
        n_steps = len(alphas)
        target = _normalize_target(target, n, who)
        args = _format_additional(additional_forward_args)
        if internal_batch_size is None:
            step_count = n_steps
        else:
            _check_int(internal_batch_size, "internal_batch_size", who, 1)
            if internal_batch_size < n:
                warnings.warn(
                    f"{who}: internal_batch_size {internal_batch_size} is smaller than the {n} samples; "
                    f"using {n} (one step of every sample per pass)",
                    stacklevel=2,
                )
            step_count = max(1, internal_batch_size // n)
        diffs = tuple(x - b for x, b in zip(xs, bs))
        totals = [array_module(x).zeros_like(x) for x in xs]
        with self._no_trace():
            for start in range(0, n_steps, step_count):
                a = alphas[start : start + step_count]
                s = step_sizes[start : start + step_count]
                k = len(a)
                scaled = tuple(
                    (b[None] + _col(a, x) * d[None]).reshape((k * n, *x.shape[1:])) for x, b, d in zip(xs, bs, diffs)
                )
                grads = _gradients(
                    self.forward_func, scaled, _expand_target(target, k), _expand_additional(args, k), who
                )
                for total, g, x in zip(totals, grads, xs):
                    total += (g.reshape((k, *x.shape)) * _col(s, x)).sum(0)
        attributions = tuple(t * d for t, d in zip(totals, diffs)) if self._multiply_by_inputs else tuple(totals)
        result = _format_output(is_tuple, attributions)
        if return_convergence_delta:
            delta = self.compute_convergence_delta(
                result, baselines, inputs, target=target, additional_forward_args=additional_forward_args
            )
            return result, delta
        return result

    def has_convergence_delta(self) -> bool:
        return True

    @property
    def multiplies_by_inputs(self) -> bool:
        return self._multiply_by_inputs


def _col(values, x):
    """``values`` (one per step) shaped to broadcast over a stack of ``x``-shaped arrays."""
    xp = array_module(x)
    return xp.asarray(values, dtype=x.dtype).reshape((-1,) + (1,) * x.ndim)


class NoiseTunnel(Attribution):
    """SmoothGrad and friends (Smilkov et al., 2017): run an attribution method on
    ``nt_samples`` noisy copies of each input (Gaussian noise of standard deviation ``stdevs``)
    and combine the results: their mean (``"smoothgrad"``), the mean of their squares
    (``"smoothgrad_sq"``) or their variance (``"vargrad"``).

    The noise comes from convlab's generator: ``convlab.manual_seed`` makes it reproducible.

    Args:
        attribution_method: an attribution method object (e.g. ``Saliency(model)``).

    Example::

        >>> nt = NoiseTunnel(Saliency(model))
        >>> attr = nt.attribute(x, nt_type="smoothgrad", nt_samples=10, stdevs=0.1, target=3)
    """

    def __init__(self, attribution_method) -> None:
        if not isinstance(attribution_method, Attribution):
            raise TypeError(
                f"NoiseTunnel: attribution_method must be a convlab.explain attribution object (e.g. Saliency(model)), "
                f"got {type(attribution_method).__name__}"
            )
        self.attribution_method = attribution_method
        self.is_delta_supported = attribution_method.has_convergence_delta()
        self._multiply_by_inputs = attribution_method.multiplies_by_inputs
        self.is_gradient_method = isinstance(attribution_method, GradientAttribution)
        super().__init__(attribution_method.forward_func)

    @property
    def multiplies_by_inputs(self) -> bool:
        return self._multiply_by_inputs

    def has_convergence_delta(self) -> bool:
        return self.is_delta_supported

    def attribute(
        self,
        inputs,
        nt_type: str = "smoothgrad",
        nt_samples: int = 5,
        nt_samples_batch_size: int | None = None,
        stdevs=1.0,
        draw_baseline_from_distrib: bool = False,
        **kwargs,
    ):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, ...) or a tuple of Tensors.
            nt_type: ``"smoothgrad"`` (default), ``"smoothgrad_sq"`` or ``"vargrad"``.
            nt_samples: noisy copies per sample (default 5).
            nt_samples_batch_size: copies per call of the method (default: all at once).
            stdevs: the noise's standard deviation, a float or one per input.
            draw_baseline_from_distrib: for methods with ``baselines``: draw each copy's baseline
                at random from the given baselines' samples.
            **kwargs: the method's own arguments (``target``, ``baselines``, ``n_steps``, ...).

        Returns:
            the combined attributions; with ``return_convergence_delta=True`` (for a method that
            has one) also the deltas of every noisy copy, shape (N * nt_samples,).
        """
        who = "NoiseTunnel.attribute()"
        xs, is_tuple = _format_inputs(inputs, who)
        if nt_type not in SUPPORTED_NOISE_TUNNEL_TYPES:
            raise ValueError(f"{who}: nt_type must be one of {SUPPORTED_NOISE_TUNNEL_TYPES}, got {nt_type!r}")
        nt_samples = _check_int(nt_samples, "nt_samples", who, 1)
        batch = (
            nt_samples
            if nt_samples_batch_size is None
            else min(nt_samples, _check_int(nt_samples_batch_size, "nt_samples_batch_size", who, 1))
        )
        if isinstance(stdevs, tuple):
            if len(stdevs) != len(xs):
                raise ValueError(f"{who}: stdevs has {len(stdevs)} values for {len(xs)} inputs")
        elif isinstance(stdevs, numbers.Real) and not isinstance(stdevs, bool):
            stdevs = (float(stdevs),) * len(xs)
        else:
            raise TypeError(
                f"{who}: stdevs must be a float or a tuple of floats (one per input), got {type(stdevs).__name__}"
            )
        for s in stdevs:
            if not isinstance(s, numbers.Real) or s < 0:
                raise ValueError(f"{who}: stdevs must be non-negative numbers, got {stdevs}")
        want_delta = bool(kwargs.get("return_convergence_delta", False))
        if want_delta and not self.is_delta_supported:
            raise ValueError(f"{who}: {type(self.attribution_method).__name__} has no convergence delta to return")
        n = xs[0].shape[0]
        if "target" in kwargs:
            kwargs["target"] = _normalize_target(kwargs["target"], n, who)
        sums = sums_sq = None
        deltas = []
        done = 0
        while done < nt_samples:
            k = min(batch, nt_samples - done)
            done += k
            noisy = tuple(
                Tensor(array_module(x).repeat(x, k, axis=0) + _gaussian_noise((k * n, *x.shape[1:]), s, x))
                for x, s in zip(xs, stdevs)
            )
            call = self._expand_kwargs(kwargs, xs, k, draw_baseline_from_distrib, who)
            result = self.attribution_method.attribute(noisy if is_tuple else noisy[0], **call)
            if want_delta:
                result, delta = result
                deltas.append(delta.data)
            attrs = tuple(a.data for a in as_tuple(result))
            per_sample = [a.reshape((n, k, *a.shape[1:])) for a in attrs]
            part = [a.sum(1) for a in per_sample]
            part_sq = [(a * a).sum(1) for a in per_sample]
            sums = part if sums is None else [s + p for s, p in zip(sums, part)]
            sums_sq = part_sq if sums_sq is None else [s + p for s, p in zip(sums_sq, part_sq)]
        mean = [s * 1 / nt_samples for s in sums]
        mean_sq = [s * 1 / nt_samples for s in sums_sq]
        if nt_type == "smoothgrad":
            out = mean
        elif nt_type == "smoothgrad_sq":
            out = mean_sq
        else:
            out = [sq - m * m for m, sq in zip(mean, mean_sq)]
        attributions = _format_output(isinstance(result, tuple), out)
        if want_delta:
            return attributions, Tensor(array_module(deltas[0]).concatenate(deltas))
        return attributions

    @staticmethod
    def _expand_kwargs(kwargs: dict, xs: tuple, k: int, draw_baseline_from_distrib: bool, who: str) -> dict:
        """The method's arguments for ``k`` noisy copies of each sample (copies of a sample are adjacent)."""
        call = dict(kwargs)
        if "target" in call:
            target = _expand_target(call["target"], k, interleave=True)
            call["target"] = target.tolist() if isinstance(target, np.ndarray) else target
        if call.get("additional_forward_args") is not None:
            call["additional_forward_args"] = _expand_additional(
                _format_additional(call["additional_forward_args"]), k, interleave=True
            )
        if "baselines" in call:
            baselines = call["baselines"]
            if baselines is not None:
                items = baselines if isinstance(baselines, tuple) else (baselines,)
                if len(items) != len(xs):
                    raise ValueError(
                        f"{who}: baselines has {len(items)} entries for {len(xs)} inputs; give one per input"
                    )
                n = xs[0].shape[0]
                out = []
                for b, x in zip(items, xs):
                    if isinstance(b, Tensor):
                        if draw_baseline_from_distrib:
                            if tuple(b.shape[1:]) != x.shape[1:]:
                                raise ValueError(
                                    f"{who}: baseline samples of shape {tuple(b.shape[1:])} do not match the input's {x.shape[1:]}"
                                )
                            b = Tensor(b.data[_random.integers(0, b.shape[0], (k * n,), np.int64)])
                        elif b.shape[0] == n and n > 1:
                            b = Tensor(array_module(b.data).repeat(b.data, k, axis=0))
                    out.append(b)
                call["baselines"] = tuple(out) if isinstance(baselines, tuple) else out[0]
        return call


def _gaussian_noise(shape, stdev, like):
    """N(0, stdev^2) samples of ``like``'s dtype and device, from convlab's generator."""
    return _random.normal(0.0, stdev, shape, like.dtype, device=None if array_module(like) is np else "cuda")


# ---------------------------------------------------------------------------- modified ReLU backward
class _ModifiedReLUBackward(Function):
    """A ReLU's output with another backward: guided backprop passes ``relu(grad) * (x > 0)``,
    deconvolution passes ``relu(grad)`` (Springenberg et al., 2014; Zeiler & Fergus, 2014)."""

    @staticmethod
    def forward(ctx, x, out, *, guided):
        ctx.mask = (x > 0) if guided else None
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(grad)
        if ctx.mask is not None:
            grad = grad * ctx.mask
        return xp.maximum(grad, 0), None


class _ModifiedReluGradientAttribution(GradientAttribution):
    _guided = True

    def __init__(self, model) -> None:
        if not isinstance(model, Module):
            raise TypeError(
                f"{type(self).__name__}: model must be an nn.Module (its ReLU layers are hooked), got {type(model).__name__}"
            )
        super().__init__(model)
        self.model = model

    def attribute(self, inputs, target=None, additional_forward_args=None):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, ...) or a tuple of Tensors.
            target: the output explained.
            additional_forward_args: extra arguments of the forward function.
        """
        who = f"{type(self).__name__}.attribute()"
        xs, is_tuple = _format_inputs(inputs, who)
        target = _normalize_target(target, xs[0].shape[0], who)
        guided = self._guided

        def override(module, args, output):
            if isinstance(output, Tensor) and args and isinstance(args[0], Tensor) and output.requires_grad:
                return _ModifiedReLUBackward.apply(args[0], output.data, guided=guided)
            return None

        with self._no_trace():
            handles = []
            try:
                for module in self.model.modules():
                    if isinstance(module, ReLU):
                        handles.append(module.register_forward_hook(override))
                grads = _gradients(self.forward_func, xs, target, _format_additional(additional_forward_args), who)
            finally:
                for handle in handles:
                    handle.remove()
        return _format_output(is_tuple, grads)


class GuidedBackprop(_ModifiedReluGradientAttribution):
    """Guided backpropagation (Springenberg et al., 2014): the input gradient with every
    ``nn.ReLU`` of the model passing back only positive gradients, where its input was positive.
    The ReLUs are overridden through forward hooks that are always removed.

    Args:
        model: the model (an ``nn.Module``; its ``nn.ReLU`` modules are hooked, functional
            ``F.relu`` calls are not, as in Captum).

    Example::

        >>> attr = GuidedBackprop(model).attribute(x, target=3)
    """

    _guided = True


class Deconvolution(_ModifiedReluGradientAttribution):
    """Deconvolution (Zeiler & Fergus, 2014): the input gradient with every ``nn.ReLU`` passing
    back the positive part of its output gradient, whatever its input was.

    Args:
        model: the model (an ``nn.Module``).

    Example::

        >>> attr = Deconvolution(model).attribute(x, target=3)
    """

    _guided = False


# ---------------------------------------------------------------------------- occlusion
class Occlusion(PerturbationAttribution):
    """Occlusion sensitivity (Zeiler & Fergus, 2014; seed 004): slide a window of baseline values
    over the input; each feature's attribution is the mean, over the windows covering it, of
    ``f(x) - f(x with the window occluded)`` for the target output.

    Args:
        forward_func: the model, or any callable returning a Tensor.

    Example::

        >>> occ = Occlusion(model)
        >>> attr = occ.attribute(x, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4), target=3)
    """

    def attribute(
        self,
        inputs,
        sliding_window_shapes,
        strides=None,
        baselines=None,
        target=None,
        additional_forward_args=None,
        perturbations_per_eval: int = 1,
        show_progress: bool = False,
    ):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, ...) or a tuple of Tensors.
            sliding_window_shapes: the window, one size per non-batch dimension (e.g. ``(3, 8, 8)``
                for (N, 3, H, W) images), or a tuple of such shapes, one per input.
            strides: the window's step: None (1), an int, one int per dimension, or per input.
                A stride may not exceed the window (every feature is covered); the last window of
                a dimension is cut at the border when the strides do not divide evenly.
            baselines: the occluding values: a number (default 0), a Tensor of the input's shape,
                of one sample ``(1, ...)`` or ``(...)``, or a tuple of these per input.
            target: the output explained; it must pick one value per sample.
            additional_forward_args: extra arguments of the forward function.
            perturbations_per_eval: occluded copies evaluated per forward pass (default 1).
            show_progress: show a progress bar over the forward passes.

        Returns:
            attributions of the inputs' shapes and dtype.
        """
        who = "Occlusion.attribute()"
        xs, is_tuple = _format_inputs(inputs, who)
        n = xs[0].shape[0]
        windows = _per_input_shapes(sliding_window_shapes, xs, who)
        steps = _per_input_strides(strides, xs, windows, who)
        bases = []
        for i, (b, x) in enumerate(zip(baselines if isinstance(baselines, tuple) else (baselines,) * len(xs), xs)):
            if isinstance(b, Tensor) and b.ndim == x.ndim - 1:
                b = Tensor(b.data[None])
            bases.append(_format_baselines(b, (x,), who, f"baselines[{i}]" if is_tuple else "baselines")[0])
        per_eval = _check_int(perturbations_per_eval, "perturbations_per_eval", who, 1)
        target = _normalize_target(target, n, who)
        args = _format_additional(additional_forward_args)
        # Every window of every input, as (input index, tuple of slices over the sample's dims).
        jobs = [(i, w) for i, x in enumerate(xs) for w in _windows(x.shape[1:], windows[i], steps[i])]
        totals = [array_module(x).zeros_like(x) for x in xs]
        counts = [np.zeros(x.shape[1:], dtype=np.int64) for x in xs]
        with self._no_trace(), no_grad():
            initial = self._evaluate(xs, target, args, who)
            bar = _progress(show_progress, len(jobs), who)
            try:
                for start in range(0, len(jobs), per_eval):
                    chunk = jobs[start : start + per_eval]
                    k = len(chunk)
                    batch = [array_module(x).concatenate([x] * k) if k > 1 else x.copy() for x in xs]
                    for j, (i, window) in enumerate(chunk):
                        region = (slice(j * n, (j + 1) * n), *window)
                        batch[i][region] = bases[i][(slice(None), *window)]
                    out = self._evaluate(tuple(batch), _expand_target(target, k), _expand_additional(args, k), who)
                    diff = initial[None] - out.reshape(k, n)
                    for j, (i, window) in enumerate(chunk):
                        totals[i][(slice(None), *window)] += diff[j].reshape((n,) + (1,) * (xs[i].ndim - 1))
                        counts[i][window] += 1
                    bar.update(k)
            finally:
                bar.close()
        attrs = tuple(t / array_module(t).asarray(c) for t, c in zip(totals, counts))
        return _format_output(is_tuple, attrs)

    def _evaluate(self, arrays, target, args, who):
        out = _run_forward(self.forward_func, tuple(Tensor(a) for a in arrays), target, args, who).data
        n = arrays[0].shape[0]
        if out.size != n:
            raise ValueError(
                f"{who}: the selected output has {out.size} values for {n} samples; a target must pick one value per sample"
            )
        return out.reshape(n)


def _positive_ints(value, n):
    """Whether ``value`` is a tuple of ``n`` positive ints (a window or a stride of a sample)."""
    return (
        isinstance(value, tuple) and len(value) == n and all(isinstance(s, numbers.Integral) and s >= 1 for s in value)
    )


def _per_input_shapes(shapes, xs, who):
    if not isinstance(shapes, tuple) or not shapes:
        raise TypeError(
            f"{who}: sliding_window_shapes must be a tuple of ints (one per non-batch dimension), got {shapes!r}"
        )
    if isinstance(shapes[0], numbers.Integral):
        shapes = (shapes,)
    if len(shapes) != len(xs):
        raise ValueError(
            f"{who}: sliding_window_shapes has {len(shapes)} shapes for {len(xs)} inputs; give one per input"
        )
    for shape, x in zip(shapes, xs):
        if not _positive_ints(shape, x.ndim - 1):
            raise ValueError(
                f"{who}: sliding window {shape!r} must be a tuple of {x.ndim - 1} positive ints, one per non-batch "
                f"dimension of the input {tuple(x.shape)}"
            )
        if any(s > d for s, d in zip(shape, x.shape[1:])):
            raise ValueError(
                f"{who}: sliding window {shape} is larger than the input's sample shape {tuple(x.shape[1:])}"
            )
    return shapes


def _per_input_strides(strides, xs, windows, who):
    if strides is None:
        strides = (1,) * len(xs)
    elif len(xs) == 1 and not (isinstance(strides, tuple) and len(strides) == 1):
        strides = (strides,)
    if not isinstance(strides, tuple) or len(strides) != len(xs):
        raise ValueError(f"{who}: strides must give one stride (an int or a tuple) per input, got {strides!r}")
    out = []
    for stride, x, window in zip(strides, xs, windows):
        if isinstance(stride, numbers.Integral):
            stride = (int(stride),) * (x.ndim - 1)
        if not _positive_ints(stride, x.ndim - 1):
            raise ValueError(
                f"{who}: stride {stride!r} must be a positive int or a tuple of {x.ndim - 1} positive ints"
            )
        for s, w, d in zip(stride, window, x.shape[1:]):
            if s > w and d != w:
                raise ValueError(
                    f"{who}: stride {stride} exceeds the sliding window {window}: features would be skipped"
                )
        out.append(stride)
    return out


def _windows(sample_shape, window, stride):
    """Slices of each window position, the first dimension varying fastest (Captum's order)."""
    counts = [int(np.ceil((d - w) / s)) + 1 for d, w, s in zip(sample_shape, window, stride)]
    for flat in range(int(np.prod(counts))):
        index = []
        for count, w, s in zip(counts, window, stride):
            start = (flat % count) * s
            flat //= count
            index.append(slice(start, start + w))
        yield tuple(index)


def _progress(show: bool, total: int, who: str):
    if not show:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=who.split(".")[0], unit="eval")


class _NoProgress:
    def update(self, n):
        pass

    def close(self):
        pass


# ---------------------------------------------------------------------------- layer methods
def _layer_gradients_and_eval(forward_func, layer, layer_name, inputs, target, args, attribute_to_layer_input, who):
    """``(gradients, activations)`` of the target output at ``layer``, tuples of arrays."""
    with enable_grad(), capture_layers([layer], attribute_to_layer_input, requires_grad=True) as saved:
        selected = _run_forward(forward_func, inputs, target, args, who)
    if layer not in saved:
        raise ValueError(
            f"{who}: layer {layer_name!r} was not called by the forward pass, so it has no output to explain"
        )
    acts = saved[layer]
    if not selected.requires_grad:
        raise ValueError(
            f"{who}: the selected output does not depend on layer {layer_name!r} through differentiable operations"
        )
    grads = autograd.grad(selected, acts, grad_outputs=_ones_like(selected), allow_unused=True)
    return (
        tuple(array_module(a.data).zeros_like(a.data) if g is None else g.data for g, a in zip(grads, acts)),
        tuple(a.data for a in acts),
    )


class LayerActivation(LayerAttribution):
    """The output (or input) of a layer, as Captum's ``LayerActivation``.

    Args:
        forward_func: the model (or a callable).
        layer: a module or dotted name, or a list of them (then a list of results).

    Example::

        >>> LayerActivation(model, "layer1").attribute(x).shape      # (N, 64, 16, 16)
    """

    def __init__(self, forward_func, layer) -> None:
        Attribution.__init__(self, forward_func)
        model = owning_module(forward_func)
        if isinstance(layer, list):
            found = [resolve_layer(model, item, "LayerActivation") for item in layer]
            self.layer, self.layer_name = [m for m, _ in found], [name for _, name in found]
        else:
            self.layer, self.layer_name = resolve_layer(model, layer, "LayerActivation")

    def attribute(self, inputs, additional_forward_args=None, attribute_to_layer_input: bool = False):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, ...) or a tuple of Tensors.
            additional_forward_args: extra arguments of the forward function.
            attribute_to_layer_input: return the layer's inputs instead of its output.
        """
        who = "LayerActivation.attribute()"
        xs, _ = _format_inputs(inputs, who)
        layers = self.layer if isinstance(self.layer, list) else [self.layer]
        names = self.layer_name if isinstance(self.layer_name, list) else [self.layer_name]
        with self._no_trace(*layers), no_grad(), capture_layers(layers, attribute_to_layer_input) as saved:
            self.forward_func(*(Tensor(x) for x in xs), *_format_additional(additional_forward_args))
        results = []
        for layer, name in zip(layers, names):
            if layer not in saved:
                raise ValueError(f"{who}: layer {name!r} was not called by the forward pass")
            values = saved[layer]
            results.append(values if len(values) > 1 else values[0])
        return results if isinstance(self.layer, list) else results[0]


class LayerGradCam(LayerAttribution, GradientAttribution):
    """Grad-CAM (Selvaraju et al., 2017): a layer's activations weighted by the spatial mean of
    the target's gradient with respect to them, summed over channels: a class activation map at
    the layer's resolution, shape (N, 1, h, w). Upsample it with :meth:`LayerAttribution.interpolate`.

    Args:
        forward_func: the model (or a callable).
        layer: a module of the model or its dotted name; its output must be spatial (N, C, ...).

    Example::

        >>> cam = LayerGradCam(model, "layer4").attribute(x, target=3, relu_attributions=True)
        >>> heat = LayerAttribution.interpolate(cam, x.shape[2:], "bilinear")
    """

    def attribute(
        self,
        inputs,
        target=None,
        additional_forward_args=None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool = False,
        attr_dim_summation: bool = True,
    ):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, ...) or a tuple of Tensors.
            target: the output explained.
            additional_forward_args: extra arguments of the forward function.
            attribute_to_layer_input: use the layer's input instead of its output.
            relu_attributions: keep only the positive part of the map (the paper's Grad-CAM).
            attr_dim_summation: sum over channels (default); False keeps (N, C, h, w).
        """
        who = f"{type(self).__name__}.attribute()"
        xs, _ = _format_inputs(inputs, who)
        target = _normalize_target(target, xs[0].shape[0], who)
        with self._no_trace(self.layer):
            grads, acts = _layer_gradients_and_eval(
                self.forward_func,
                self.layer,
                self.layer_name,
                tuple(Tensor(x) for x in xs),
                target,
                _format_additional(additional_forward_args),
                attribute_to_layer_input,
                who,
            )
        maps = []
        for g, a in zip(grads, acts):
            if a.ndim < 3:
                raise ValueError(
                    f"{who}: layer {self.layer_name!r} {'receives' if attribute_to_layer_input else 'outputs'} shape "
                    f"{tuple(a.shape)}, which has no spatial dimensions; Grad-CAM needs (N, C, H, W) (or (N, C, L)): "
                    "choose a convolutional layer or block"
                )
            weighted = self._channel_weights(g, a) * a
            cam = weighted.sum(1, keepdims=True) if attr_dim_summation else weighted
            maps.append(array_module(cam).maximum(cam, 0) if relu_attributions else cam)
        return _format_output(len(maps) > 1, maps)

    @staticmethod
    def _channel_weights(grad, act):
        """Grad-CAM's weight of each channel: the gradient's mean over the spatial dimensions."""
        return grad.mean(axis=tuple(range(2, grad.ndim)), keepdims=True)


class LayerGradCamPlusPlus(LayerGradCam):
    """Grad-CAM++ (Chattopadhay et al., 2018), which Captum lacks: as :class:`LayerGradCam` but
    each channel's weight is ``sum_ij alpha_ij relu(g_ij)`` with
    ``alpha = g^2 / (2 g^2 + sum_ab(A_ab) g^3)`` (0 where the denominator is 0), ``g`` the
    target's gradient and ``A`` the activations: better maps when a class appears several times.
    The paper's map is ``relu_attributions=True``.

    Args:
        forward_func: the model (or a callable).
        layer: a module of the model or its dotted name; its output must be spatial.

    Example::

        >>> cam = LayerGradCamPlusPlus(model, "layer4").attribute(x, target=3, relu_attributions=True)
    """

    @staticmethod
    def _channel_weights(grad, act):
        xp = array_module(grad)
        spatial = tuple(range(2, grad.ndim))
        g2 = grad * grad
        denom = 2 * g2 + act.sum(axis=spatial, keepdims=True) * (g2 * grad)
        alpha = xp.divide(g2, denom, out=xp.zeros_like(g2), where=denom != 0)
        return (alpha * xp.maximum(grad, 0)).sum(axis=spatial, keepdims=True)


class GuidedGradCam(GradientAttribution):
    """Guided Grad-CAM (Selvaraju et al., 2017): guided backprop times the Grad-CAM map
    (with ReLU) upsampled to the input's size: fine detail, class-discriminative.

    Args:
        model: the model (an ``nn.Module``).
        layer: a module of the model or its dotted name (a spatial layer, usually the last conv block).

    Example::

        >>> attr = GuidedGradCam(model, "layer4").attribute(x, target=3)
    """

    def __init__(self, model, layer) -> None:
        super().__init__(model)
        self.grad_cam = LayerGradCam(model, layer)
        self.guided_backprop = GuidedBackprop(model)

    def attribute(
        self,
        inputs,
        target=None,
        additional_forward_args=None,
        interpolate_mode: str = "nearest",
        attribute_to_layer_input: bool = False,
    ):
        """Compute the attributions.

        Args:
            inputs: a Tensor (N, C, ...) or a tuple of Tensors.
            target: the output explained.
            additional_forward_args: extra arguments of the forward function.
            interpolate_mode: how the Grad-CAM map is upsampled (``F.interpolate`` modes).
            attribute_to_layer_input: compute Grad-CAM at the layer's input.
        """
        who = "GuidedGradCam.attribute()"
        xs, is_tuple = _format_inputs(inputs, who)
        cam = self.grad_cam.attribute(
            inputs, target, additional_forward_args, attribute_to_layer_input, relu_attributions=True
        )
        if isinstance(cam, tuple):
            raise TypeError(f"{who}: layer {self.grad_cam.layer_name!r} has several outputs; GuidedGradCam needs one")
        guided = as_tuple(self.guided_backprop.attribute(inputs, target, additional_forward_args))
        out = []
        for i, (g, x) in enumerate(zip(guided, xs)):
            if x.ndim != cam.ndim:
                raise ValueError(
                    f"{who}: the Grad-CAM map {tuple(cam.shape)} cannot be resized to input {i} of shape {tuple(x.shape)}"
                )
            out.append(g.data * LayerAttribution.interpolate(cam, x.shape[2:], interpolate_mode).data)
        return _format_output(is_tuple, out)
