"""Loss functions, each one fused ``Function`` with its gradient in closed form.

Reduction rule (PyTorch's): every loss first computes one value per element (per sample and
position for the classification losses); ``reduction='none'`` returns them, ``'sum'`` adds them
and ``'mean'`` divides the sum by the number of elements, except where noted (``nll_loss`` and
class-index ``cross_entropy`` divide by the summed class weights of the non-ignored targets;
``kl_div(reduction='batchmean')`` divides by the batch size). The gradient of the reduction is
``g`` for ``'none'``/``'sum'`` and ``g / count`` for ``'mean'``, broadcast over the elements.

Classification losses take input (C,), (N, C) or (N, C, d1, ..., dK) with classes on dim 1;
class-index targets have shape (), (N,) or (N, d1, ..., dK).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd import grad_mode
from ..autograd.function import Function
from ..backend import array_module
from ..tensor import Tensor
from .activation import log_sigmoid_array, sigmoid_array
from .elementwise import difference_grads, unbroadcast

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------- shared array helpers
def _reduce(loss, reduction):
    """Apply ``reduction`` to the per-element losses (the mean of nothing is nan, as in PyTorch)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if loss.size == 0:
        return array_module(loss).full((), math.nan, dtype=loss.dtype)
    return loss.mean()


def _reduce_by_weight(loss, total, reduction, unbatched):
    """Reduce class-index losses already multiplied by their target weights (sum ``total``):
    ``'mean'`` divides by ``total`` (0/0 = nan when every target is ignored, as PyTorch), and
    ``'none'`` drops the batch of one an ``unbatched`` input was given."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return loss.sum() / total
    out = _reduce(loss, reduction)
    return out[0] if unbatched and reduction == "none" else out


def _reduction_scale(g, reduction, count):
    """d(reduced loss)/d(each element loss) times ``g``; broadcasts against the elements."""
    return g / count if reduction == "mean" else g


def _class_positions(xp, target):
    """Index tuple picking ``input[n, target[n, d...], d...]`` at every target position."""
    ndim = target.ndim
    grids = [xp.arange(s).reshape([s if j == i else 1 for j in range(ndim)]) for i, s in enumerate(target.shape)]
    return (grids[0], target, *grids[1:])


def _target_weights(xp, target, weight, ignore_index, dtype):
    """``(valid, safe_target, w)``: the non-ignored mask, targets with ignored ones replaced by
    class 0 (so they can index), and each position's class weight (0 where ignored)."""
    valid = target != ignore_index
    safe = target if valid.all() else xp.where(valid, target, 0)
    w = valid.astype(dtype) if weight is None else weight[safe] * valid
    return valid, safe, w


def _along_classes(weight, ndim):
    """A (C,) weight reshaped to broadcast along dim 1 of an ``ndim``-dim (N, C, ...) array."""
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


# ---------------------------------------------------------------------- classification
class CrossEntropy(Function):
    """Softmax cross entropy with class-index targets, log-softmax and NLL fused.

    With p = softmax(x) along dim 1 (computed from x - max for stability), t the target class,
    w_t its weight (1 without ``weight``; 0 where ``target == ignore_index``), eps the label
    smoothing and W = sum_c w_c:

        loss_i = (1 - eps) w_t (-log p_t) + (eps / C) [t not ignored] sum_c w_c (-log p_c)
        dx_c   = s_i [ p_c ((1 - eps) w_t + (eps / C) W [t not ignored]) - (1 - eps) w_t [c = t]
                       - (eps / C) w_c [t not ignored] ]

    where s_i is the reduction's scale (g, or g / sum_i w_t for ``'mean'``). Without smoothing
    this is the familiar ``w_t (softmax - onehot)``.

    Shape: x (N, C, *d) or (C,); target (N, *d) or () integer; output like target for
    ``'none'``, else a scalar.
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction):
        xp = array_module(x)
        unbatched = x.ndim == 1
        if unbatched:
            x, target = x[None], target[None]
        n_classes = x.shape[1]
        valid, safe, w = _target_weights(xp, target, weight, ignore_index, x.dtype)
        pos = _class_positions(xp, safe)
        shifted = x - x.max(axis=1, keepdims=True)
        picked = shifted[pos]
        eps = label_smoothing
        if eps:  # sum_c w_c shifted_c, taken before shifted's buffer becomes the softmax
            shifted_sum = shifted.sum(axis=1) if weight is None else xp.moveaxis(shifted, 1, -1) @ weight
        probs = xp.exp(shifted, out=shifted)
        sum_exp = probs.sum(axis=1, keepdims=True)
        probs /= sum_exp
        log_sum = xp.log(sum_exp)[:, 0]
        loss = (log_sum - picked) * w
        if eps:
            smooth = (n_classes if weight is None else weight.sum()) * log_sum - shifted_sum
            loss = (1 - eps) * loss + (eps / n_classes) * (smooth * valid)
        total = w.sum()
        out = _reduce_by_weight(loss, total, reduction, unbatched)
        if ctx.needs_input_grad[0]:
            ctx.probs, ctx.pos, ctx.valid, ctx.w, ctx.weight = probs, pos, valid, w, weight
            ctx.eps, ctx.reduction, ctx.total, ctx.unbatched = eps, reduction, total, unbatched
        return out

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        probs, valid, w, eps = ctx.probs, ctx.valid, ctx.w, ctx.eps
        n_classes = probs.shape[1]
        if ctx.reduction == "none" and ctx.unbatched:
            g = g[None]
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = _reduction_scale(g, ctx.reduction, ctx.total)
            target_coef = xp.where(valid, scale * ((1 - eps) * w), 0)  # ignored rows get no gradient
        row_coef = target_coef
        if eps:
            total_weight = n_classes if ctx.weight is None else ctx.weight.sum()
            smooth_coef = xp.where(valid, scale * (eps / n_classes), 0)
            row_coef = target_coef + smooth_coef * total_weight
        dx = probs * xp.expand_dims(row_coef, 1)
        dx[ctx.pos] -= target_coef
        if eps:
            per_class = 1 if ctx.weight is None else _along_classes(ctx.weight, dx.ndim)
            dx -= xp.expand_dims(smooth_coef, 1) * per_class
        return (dx[0] if ctx.unbatched else dx), None


class CrossEntropyProbs(Function):
    """Softmax cross entropy with class-probability targets.

    With log p = log_softmax(x) along dim 1, q = target (1 - eps) + eps / C the smoothed target
    and u_c = w_c q_c (w = 1 without ``weight``):

        loss_i = -sum_c u_c log p_c
        dx_c = s_i (p_c sum_k u_k - u_c),  dtarget_c = -s_i (1 - eps) w_c log p_c,
        dweight_c = -sum_i s_i q_c log p_c

    with s_i the reduction's scale (``'mean'`` divides by N * d1 * ... * dK).

    Shape: x and target (N, C, *d) or (C,); output (N, *d) or () for ``'none'``, else a scalar.
    """

    @staticmethod
    def forward(ctx, x, target, weight, label_smoothing, reduction):
        xp = array_module(x)
        unbatched = x.ndim == 1
        if unbatched:
            x, target = x[None], target[None]
        n_classes = x.shape[1]
        shifted = x - x.max(axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        eps = label_smoothing
        smoothed = target * (1 - eps) + eps / n_classes if eps else target
        weighted = smoothed if weight is None else smoothed * _along_classes(weight, x.ndim)
        loss = -(log_probs * weighted).sum(axis=1)
        out = _reduce(loss, reduction)
        if unbatched and reduction == "none":
            out = out[0]
        if any(ctx.needs_input_grad):
            ctx.log_probs, ctx.smoothed, ctx.weighted, ctx.weight = log_probs, smoothed, weighted, weight
            ctx.eps, ctx.reduction, ctx.count, ctx.unbatched = eps, reduction, loss.size, unbatched
        return out

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        log_probs, weighted, weight = ctx.log_probs, ctx.weighted, ctx.weight
        if ctx.reduction == "none":
            g = g[None] if ctx.unbatched else g
            scale = xp.expand_dims(g, 1)
        else:
            scale = _reduction_scale(g, ctx.reduction, ctx.count)
        need_x, need_target, need_weight = ctx.needs_input_grad
        dx = dtarget = dweight = None
        if need_x:
            dx = scale * (xp.exp(log_probs) * weighted.sum(axis=1, keepdims=True) - weighted)
        if need_target:
            dtarget = scale * log_probs * -(1 - ctx.eps)
            if weight is not None:
                dtarget *= _along_classes(weight, log_probs.ndim)
        if need_weight:
            per_element = scale * ctx.smoothed * log_probs
            dweight = -per_element.sum(axis=tuple(d for d in range(log_probs.ndim) if d != 1))
        if ctx.unbatched:
            dx = None if dx is None else dx[0]
            dtarget = None if dtarget is None else dtarget[0]
        return dx, dtarget, dweight


class NLLLoss(Function):
    """Negative log likelihood of log-probabilities ``x`` at class-index targets.

        loss_i = -w_t x_{i, t}  (0 where t == ignore_index);  dx_{i, t} = -s_i w_t, 0 elsewhere

    with s_i the reduction's scale (``'mean'`` divides by sum_i w_t).

    Shape: x (N, C, *d) or (C,); target (N, *d) or (); output like target for ``'none'``.
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = array_module(x)
        unbatched = x.ndim == 1
        if unbatched:
            x, target = x[None], target[None]
        valid, safe, w = _target_weights(xp, target, weight, ignore_index, x.dtype)
        pos = _class_positions(xp, safe)
        loss = -x[pos] * w
        total = w.sum()
        out = _reduce_by_weight(loss, total, reduction, unbatched)
        if ctx.needs_input_grad[0]:
            ctx.shape, ctx.dtype, ctx.pos, ctx.valid, ctx.w = x.shape, x.dtype, pos, valid, w
            ctx.reduction, ctx.total, ctx.unbatched = reduction, total, unbatched
        return out

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        if ctx.reduction == "none" and ctx.unbatched:
            g = g[None]
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = _reduction_scale(g, ctx.reduction, ctx.total)
            coef = xp.where(ctx.valid, -scale * ctx.w, 0)
        dx = xp.zeros(ctx.shape, dtype=ctx.dtype)
        dx[ctx.pos] = coef
        return (dx[0] if ctx.unbatched else dx), None


class BinaryCrossEntropy(Function):
    """Binary cross entropy of probabilities ``x`` in [0, 1] against targets ``t`` in [0, 1].

        loss = -w (t log x + (1 - t) log(1 - x))   (each log clamped to >= -100, as PyTorch)
        dx = s w (x - t) / max(x (1 - x), 1e-12),   dt = -s w logit(x)

    with w the (broadcast) ``weight`` and s the reduction's scale.
    """

    @staticmethod
    def forward(ctx, x, t, weight, reduction):
        xp = array_module(x)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = (t - 1) * log_1mx - t * log_x
        if weight is not None:
            loss *= weight
        if any(ctx.needs_input_grad):
            ctx.x, ctx.t, ctx.weight, ctx.reduction, ctx.count = x, t, weight, reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        x, t, weight = ctx.x, ctx.t, ctx.weight
        scale = _reduction_scale(g, ctx.reduction, ctx.count)
        if weight is not None:
            scale = scale * weight
        dx = dt = None
        if ctx.needs_input_grad[0]:
            dx = scale * (x - t) / xp.maximum((1 - x) * x, x.dtype.type(1e-12))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                dt = scale * (xp.log1p(-x) - xp.log(x))
        return dx, dt


class BinaryCrossEntropyWithLogits(Function):
    """Binary cross entropy of sigmoid(x) against ``t``, from the logits (stable for any x).

    With l = 1 + (pos_weight - 1) t and log sigma(x) = min(x, 0) - log(1 + e^-|x|):

        loss = w ((1 - t) x - l log sigma(x))
        dx = s w ((pos_weight t + 1 - t) sigma(x) - pos_weight t)
        dt = s w (log sigma(-x) - pos_weight log sigma(x))       (= -s w x without pos_weight)
    """

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        log_sig = log_sigmoid_array(x)
        if pos_weight is not None:
            log_sig = log_sig * ((pos_weight - 1) * t + 1)
        loss = (1 - t) * x - log_sig
        if weight is not None:
            loss *= weight
        if any(ctx.needs_input_grad):
            ctx.x, ctx.t, ctx.weight, ctx.pos_weight = x, t, weight, pos_weight
            ctx.reduction, ctx.count = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, weight, pos_weight = ctx.x, ctx.t, ctx.weight, ctx.pos_weight
        scale = _reduction_scale(g, ctx.reduction, ctx.count)
        if weight is not None:
            scale = scale * weight
        dx = dt = None
        if ctx.needs_input_grad[0]:
            if pos_weight is None:
                dx = scale * (sigmoid_array(x) - t)
            else:
                pt = pos_weight * t
                dx = scale * ((pt + 1 - t) * sigmoid_array(x) - pt)
        if ctx.needs_input_grad[1]:
            if pos_weight is None:
                dt = scale * -x
            else:
                dt = scale * (log_sigmoid_array(-x) - pos_weight * log_sigmoid_array(x))
        return dx, dt


# ---------------------------------------------------------------------- regression
class MSELoss(Function):
    """loss = (x - y)^2;  dx = 2 (x - y) s,  dy = -dx (s: the reduction's scale)."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        diff = x - y
        ctx.diff, ctx.shapes, ctx.reduction = diff, (x.shape, y.shape), reduction
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, g):
        diff = ctx.diff
        return difference_grads(ctx, diff * (2 * _reduction_scale(g, ctx.reduction, diff.size)))


class L1Loss(Function):
    """loss = |x - y|;  dx = sign(x - y) s,  dy = -dx."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        diff = x - y
        ctx.diff, ctx.shapes, ctx.reduction = diff, (x.shape, y.shape), reduction
        return _reduce(array_module(diff).abs(diff), reduction)

    @staticmethod
    def backward(ctx, g):
        diff = ctx.diff
        return difference_grads(ctx, array_module(diff).sign(diff) * _reduction_scale(g, ctx.reduction, diff.size))


class SmoothL1Loss(Function):
    """loss = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta  (d = x - y, beta > 0);
    dx = clamp(d / beta, -1, 1) s,  dy = -dx."""

    @staticmethod
    def forward(ctx, x, y, beta, reduction):
        xp = array_module(x)
        diff = x - y
        abs_diff = xp.abs(diff)
        loss = xp.where(abs_diff < beta, (0.5 / beta) * diff * diff, abs_diff - 0.5 * beta)
        ctx.diff, ctx.shapes, ctx.beta, ctx.reduction = diff, (x.shape, y.shape), beta, reduction
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        diff = ctx.diff
        slope = array_module(diff).clip(diff / diff.dtype.type(ctx.beta), -1, 1)
        return difference_grads(ctx, slope * _reduction_scale(g, ctx.reduction, diff.size))


class HuberLoss(Function):
    """loss = 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)  (d = x - y, delta > 0);
    dx = clamp(d, -delta, delta) s,  dy = -dx."""

    @staticmethod
    def forward(ctx, x, y, delta, reduction):
        xp = array_module(x)
        diff = x - y
        abs_diff = xp.abs(diff)
        loss = xp.where(abs_diff < delta, 0.5 * diff * diff, delta * (abs_diff - 0.5 * delta))
        ctx.diff, ctx.shapes, ctx.delta, ctx.reduction = diff, (x.shape, y.shape), delta, reduction
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        diff = ctx.diff
        slope = array_module(diff).clip(diff, -ctx.delta, ctx.delta)
        return difference_grads(ctx, slope * _reduction_scale(g, ctx.reduction, diff.size))


class KLDiv(Function):
    """Pointwise Kullback-Leibler divergence of log-probabilities ``x`` from target ``t``.

        log_target=False:  loss = t (log t - x)  (0 where t = 0);
                           dx = -t s,  dt = (log t + 1 - x) s  (0 where t = 0)
        log_target=True:   loss = e^t (t - x);  dx = -e^t s,  dt = e^t (t - x + 1) s

    ``'batchmean'`` divides the sum by the batch size x.shape[0]; ``'mean'`` by the element count.
    """

    @staticmethod
    def forward(ctx, x, t, log_target, reduction):
        xp = array_module(x)
        if log_target:
            target_prob = xp.exp(t)
            loss = target_prob * (t - x)
        else:
            target_prob = t
            with np.errstate(divide="ignore", invalid="ignore"):  # 0 log 0 is taken as 0
                loss = xp.where(t == 0, 0, t * xp.log(t)) - t * x
        if reduction == "batchmean":
            out = loss.sum()
            count = x.shape[0] if x.ndim else 1
            out = out / count if x.ndim else out
        else:
            out, count = _reduce(loss, reduction), loss.size
        if any(ctx.needs_input_grad):
            # x and t only feed dt; dx needs the target probabilities alone
            need_t = ctx.needs_input_grad[1]
            ctx.x, ctx.t = (x, t) if need_t else (None, None)
            ctx.target_prob, ctx.shapes = target_prob, (x.shape, t.shape)
            ctx.log_target, ctx.count, ctx.mean = log_target, count, reduction in ("mean", "batchmean")
        return out

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        x, t, target_prob = ctx.x, ctx.t, ctx.target_prob
        scale = g / ctx.count if ctx.mean else g
        dx = dt = None
        if ctx.needs_input_grad[0]:
            dx = unbroadcast(xp.broadcast_to(-target_prob * scale, np.broadcast_shapes(*ctx.shapes)), ctx.shapes[0])
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                dt = target_prob * (t - x + 1) * scale
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    dt = xp.where(t == 0, 0, (xp.log(t) + 1 - x) * scale)
            dt = unbroadcast(xp.broadcast_to(dt, np.broadcast_shapes(*ctx.shapes)), ctx.shapes[1])
        return dx, dt


# ---------------------------------------------------------------------- argument checks
def _legacy_reduction(size_average, reduce):
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags to ``reduction``."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.", stacklevel=4
    )
    return reduction


def _check_reduction(name, reduction, size_average=None, reduce=None, allowed=_REDUCTIONS):
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction not in allowed:
        raise ValueError(f"{name}(): reduction must be one of {', '.join(repr(r) for r in allowed)}, got {reduction!r}")
    return reduction


def _check_tensor(name, arg, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be a Tensor, got {type(value).__name__}")


def _check_float_input(name, input):
    _check_tensor(name, "input", input)
    if input.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating point input, got dtype {input.dtype}")


def _constant(name, arg, value, like):
    """A non-differentiable tensor argument (class weights) as an array in ``like``'s dtype."""
    if value is None:
        return None
    _check_tensor(name, arg, value)
    if value.requires_grad and grad_mode.is_grad_enabled():
        raise RuntimeError(
            f"{name}(): not differentiable with respect to argument '{arg}'; pass a tensor that does not "
            f"require grad (e.g. {arg}.detach())"
        )
    if value.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating point '{arg}', got dtype {value.dtype}")
    return value.data.astype(like.dtype, copy=False)


def _broadcast_constant(name, arg, value, input):
    """A non-differentiable weight that must broadcast to the input's shape (not enlarge it)."""
    array = _constant(name, arg, value, input)
    if array is not None:
        try:
            fits = np.broadcast_shapes(array.shape, input.shape) == tuple(input.shape)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{name}(): expected {arg} broadcastable to the input's shape {tuple(input.shape)}, "
                f"got {tuple(array.shape)}"
            )
    return array


def _common_float(input, target):
    """Cast input and target to their common floating dtype (PyTorch's type promotion):
    an integer or bool target takes the input's dtype; two float dtypes give the wider one."""
    dtype = input.dtype if target.dtype.kind != "f" else np.promote_types(input.dtype, target.dtype)
    return (input if input.dtype == dtype else input.to(dtype)), (target if target.dtype == dtype else target.to(dtype))


def _check_broadcast_target(name, input, target, warn=True):
    """Raise unless ``target`` and ``input`` broadcast together; if their shapes differ, ``warn``
    as PyTorch's element-wise losses do (``kl_div`` does not)."""
    if input.shape == target.shape:
        return
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(
            f"{name}(): target of shape {tuple(target.shape)} cannot be broadcast to the input's shape "
            f"{tuple(input.shape)}"
        ) from None
    if not warn:
        return
    warnings.warn(
        f"{name}(): using a target size ({tuple(target.shape)}) that is different to the input size "
        f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
        "Please ensure they have the same size.",
        stacklevel=4,
    )


def _check_same_shape(name, input, target):
    if input.shape != target.shape:
        raise ValueError(
            f"{name}(): expected target of the same shape as input {tuple(input.shape)}, got {tuple(target.shape)}"
        )


def _check_class_input(name, input):
    if input.ndim == 0:
        raise ValueError(f"{name}(): expected input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    if n_classes == 0:
        raise ValueError(f"{name}(): expected at least one class, got input of shape {tuple(input.shape)}")
    return n_classes


def _check_class_target(name, input, target, ignore_index):
    """Validate integer class-index targets (shape and range); ``ignore_index`` may be anything."""
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{name}(): expected an integer target of class indices, got dtype {target.dtype}"
            + (
                "; for class probabilities pass a floating point target of the input's shape"
                if name == "cross_entropy"
                else ""
            )
        )
    n_classes = _check_class_input(name, input)
    expected = () if input.ndim == 1 else input.shape[:1] + input.shape[2:]
    if target.shape != expected:
        raise ValueError(
            f"{name}(): expected class-index target of shape {expected} for input of shape {tuple(input.shape)}, "
            f"got {tuple(target.shape)}"
        )
    data = target.data
    bad = (data != ignore_index) & ((data < 0) | (data >= n_classes))
    if bad.any():
        value = int(data[bad].reshape(-1)[0])
        raise IndexError(
            f"{name}(): target {value} is out of bounds for {n_classes} classes "
            f"(expected class indices in [0, {n_classes - 1}] or ignore_index={ignore_index})"
        )


def _check_class_weight(name, weight, n_classes, input):
    if weight is None:
        return None
    array = _constant(name, "weight", weight, input)
    if array.shape != (n_classes,):
        raise ValueError(f"{name}(): expected weight of shape ({n_classes},), one per class, got {tuple(weight.shape)}")
    return array


# ---------------------------------------------------------------------- functional forms
def cross_entropy(
    input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0
):
    """Cross entropy between the softmax of ``input`` logits and ``target`` (log-softmax and
    negative log likelihood fused, numerically stable).

    Args:
        input: logits of shape (C,), (N, C) or (N, C, d1, ..., dK).
        target: class indices (integer tensor of shape (), (N,) or (N, d1, ..., dK), values in
            [0, C) or ``ignore_index``), or class probabilities (floating tensor of input's shape).
        weight: optional (C,) rescaling weight per class.
        ignore_index: a class-index target value that contributes neither loss nor gradient.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. For class indices ``'mean'`` divides by the
            summed weights of the non-ignored targets; for probabilities by N * d1 * ... * dK.
        label_smoothing: eps in [0, 1]: the target becomes (1 - eps) target + eps / C.

    Shape:
        output: a scalar, or the target's (class-index) shape for ``reduction='none'``.

    Example::

        >>> logits = convlab.randn(8, 10, requires_grad=True)
        >>> loss = F.cross_entropy(logits, convlab.randint(0, 10, (8,)), label_smoothing=0.1)
        >>> loss.backward()
    """
    name = "cross_entropy"
    _check_float_input(name, input)
    _check_tensor(name, "target", target)
    reduction = _check_reduction(name, reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}(): label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    n_classes = _check_class_input(name, input)
    if target.dtype.kind == "f":
        if target.shape != input.shape:
            raise ValueError(
                f"{name}(): a floating point target holds class probabilities and must have the input's shape "
                f"{tuple(input.shape)}, got {tuple(target.shape)}; class indices must be an integer tensor of shape "
                f"{'()' if input.ndim == 1 else tuple(input.shape[:1] + input.shape[2:])}"
            )
        if ignore_index >= 0:
            raise ValueError(f"{name}(): ignore_index is not supported for floating point (class probability) targets")
        if weight is not None:
            _check_tensor(name, "weight", weight)
            if weight.shape != (n_classes,):
                raise ValueError(
                    f"{name}(): expected weight of shape ({n_classes},), one per class, got {tuple(weight.shape)}"
                )
        input, target = _common_float(input, target)
        if weight is not None and weight.dtype != input.dtype:
            weight = weight.to(input.dtype)
        return CrossEntropyProbs.apply(
            input, target, weight, label_smoothing=float(label_smoothing), reduction=reduction
        )
    if target.dtype.kind in "iu" and target.shape == input.shape and input.ndim > 1:
        raise TypeError(
            f"{name}(): a target of the input's shape {tuple(input.shape)} holds class probabilities and must be "
            f"floating point, got dtype {target.dtype}"
        )
    _check_class_target(name, input, target, ignore_index)
    weight = _check_class_weight(name, weight, n_classes, input)
    return CrossEntropy.apply(
        input,
        target,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=float(label_smoothing),
        reduction=reduction,
    )


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log likelihood: ``-input[n, target[n]]`` (weighted), for log-probability inputs.

    Args:
        input: log-probabilities of shape (C,), (N, C) or (N, C, d1, ..., dK).
        target: integer class indices of shape (), (N,) or (N, d1, ..., dK).
        weight: optional (C,) rescaling weight per class.
        ignore_index: a target value that contributes neither loss nor gradient.
        reduction: ``'none'`` | ``'mean'`` (divides by the summed weights of the non-ignored
            targets) | ``'sum'``.

    Example::

        >>> F.nll_loss(F.log_softmax(logits, dim=1), labels)
    """
    name = "nll_loss"
    _check_float_input(name, input)
    _check_tensor(name, "target", target)
    reduction = _check_reduction(name, reduction, size_average, reduce)
    _check_class_target(name, input, target, ignore_index)
    weight = _check_class_weight(name, weight, _check_class_input(name, input), input)
    return NLLLoss.apply(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction)


def _regression(name, fn, input, target, reduction, weight, mean_by_weight, **options):
    """Shared boundary of the regression losses: checks, type promotion, then ``fn`` (a Function of
    ``input - target``); with a per-element ``weight`` the weighted losses are reduced here, the
    mean dividing by ``sum(weight)`` (``mean_by_weight``) or by the element count."""
    _check_float_input(name, input)
    _check_tensor(name, "target", target)
    _check_broadcast_target(name, input, target)
    input, target = _common_float(input, target)
    if weight is None:
        return fn.apply(input, target, reduction=reduction, **options)
    _check_tensor(name, "weight", weight)
    if weight.shape != input.shape:
        raise ValueError(
            f"{name}(): expected weight of the input's shape {tuple(input.shape)}, got {tuple(weight.shape)}"
        )
    weighted = fn.apply(input, target, reduction="none", **options) * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / weight.sum() if mean_by_weight else weighted.mean()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target)^2``, reduced; target broadcasts (with a warning).

    Args:
        weight: optional per-element weight of input's shape; ``'mean'`` then divides by its sum.

    Example::

        >>> F.mse_loss(convlab.zeros(3), convlab.ones(3))
        tensor(1.)
    """
    reduction = _check_reduction("mse_loss", reduction, size_average, reduce)
    return _regression("mse_loss", MSELoss, input, target, reduction, weight, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, reduced; ``weight`` as in :func:`mse_loss`."""
    reduction = _check_reduction("l1_loss", reduction, size_average, reduce)
    return _regression("l1_loss", L1Loss, input, target, reduction, weight, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Squared error below ``beta`` (scaled by 1/beta), absolute error above; ``beta=0`` is L1."""
    name = "smooth_l1_loss"
    reduction = _check_reduction(name, reduction, size_average, reduce)
    if beta < 0:
        raise ValueError(f"{name}(): beta must be non-negative, got {beta}")
    if beta == 0:
        return _regression(name, L1Loss, input, target, reduction, None, True)
    return _regression(name, SmoothL1Loss, input, target, reduction, None, True, beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Squared error below ``delta``, ``delta``-scaled absolute error above (smooth L1 times delta).

    Args:
        weight: optional per-element weight of input's shape; ``'mean'`` is the mean of the
            weighted losses.

    The result keeps the input's dtype (PyTorch casts a wider float target to it).
    """
    name = "huber_loss"
    reduction = _check_reduction(name, reduction)
    if delta <= 0:
        raise ValueError(f"{name}(): delta must be positive, got {delta}")
    _check_float_input(name, input)
    _check_tensor(name, "target", target)
    if target.dtype != input.dtype:  # PyTorch computes Huber in the input's dtype
        target = target.to(input.dtype)
    return _regression(name, HuberLoss, input, target, reduction, weight, False, delta=float(delta))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy of probabilities ``input`` in [0, 1] against ``target`` in [0, 1].

    Args:
        input: probabilities (e.g. a sigmoid's output), any shape.
        target: floating point, same shape as input.
        weight: optional rescaling weight, broadcastable to the input's shape (not differentiable).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Logs are clamped at -100, so an input of exactly 0 or 1 gives a finite loss, as in PyTorch.
    """
    name = "binary_cross_entropy"
    _check_float_input(name, input)
    _check_tensor(name, "target", target)
    reduction = _check_reduction(name, reduction, size_average, reduce)
    _check_same_shape(name, input, target)
    if target.dtype != input.dtype:
        raise TypeError(
            f"{name}(): expected a floating point target of the input's dtype {input.dtype}, got dtype {target.dtype}"
        )
    for arg, value in (("input", input), ("target", target)):
        if bool(((value.data < 0) | (value.data > 1)).any()):
            raise ValueError(f"{name}(): all elements of {arg} should be between 0 and 1")
    weight = _broadcast_constant(name, "weight", weight, input)
    return BinaryCrossEntropy.apply(input, target, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """Binary cross entropy of ``sigmoid(input)`` against ``target``, computed from the logits
    with log-sigmoid (stable for any input).

    Args:
        input: logits, any shape.
        target: floating point, same shape as input, values usually in [0, 1].
        weight: optional rescaling weight, broadcastable to the input's shape.
        pos_weight: optional weight of the positive term, broadcastable to the input's shape
            (typically (C,) for C independent labels): ``loss = -w (p t log s + (1 - t) log(1 - s))``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example::

        >>> F.binary_cross_entropy_with_logits(convlab.zeros(4), convlab.ones(4))
        tensor(0.6931)
    """
    name = "binary_cross_entropy_with_logits"
    _check_float_input(name, input)
    _check_tensor(name, "target", target)
    reduction = _check_reduction(name, reduction, size_average, reduce)
    _check_same_shape(name, input, target)
    if target.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating point target, got dtype {target.dtype}")
    input, target = _common_float(input, target)
    weight = _broadcast_constant(name, "weight", weight, input)
    pos_weight = _broadcast_constant(name, "pos_weight", pos_weight, input)
    return BinaryCrossEntropyWithLogits.apply(input, target, weight=weight, pos_weight=pos_weight, reduction=reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence ``sum target (log target - input)`` of the distribution
    ``target`` from log-probabilities ``input`` (pointwise, then reduced).

    Args:
        input: log-probabilities.
        target: probabilities (or log-probabilities with ``log_target=True``), broadcastable.
        reduction: ``'none'`` | ``'batchmean'`` (sum / batch size: the mathematical KL) |
            ``'sum'`` | ``'mean'`` (sum / element count; warns, as in PyTorch).

    Example::

        >>> F.kl_div(F.log_softmax(logits, 1), F.softmax(teacher, 1), reduction="batchmean")
    """
    name = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    else:
        reduction = _check_reduction(name, reduction, allowed=("none", "batchmean", "sum", "mean"))
        if reduction == "mean":
            warnings.warn(
                "kl_div(): reduction: 'mean' divides the total loss by both the batch size and the support size. "
                "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
                "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                stacklevel=2,
            )
    _check_float_input(name, input)
    _check_tensor(name, "target", target)
    _check_broadcast_target(name, input, target, warn=False)
    input, target = _common_float(input, target)
    return KLDiv.apply(input, target, log_target=bool(log_target), reduction=reduction)
