"""Post-training static quantisation: fold, calibrate, convert to the int8 layers.

1. **Fold.** Each Conv2d/Linear takes in the BatchNorm and ReLU layers that follow it, in any
   order: the layer's output goes through ``y = clamp(a * z + b, lo, hi)`` per channel, where a
   BatchNorm multiplies everything by ``gamma / sqrt(var + eps)`` and shifts it (swapping the
   bounds for a negative factor) and a ReLU raises ``lo`` and ``hi`` to at least 0. ``a`` goes into
   the weights and ``b`` into the bias; ``lo``/``hi`` stay as the layer's output clamp. This is
   exact, also for seed 004's Conv-ReLU-BatchNorm order, which PyTorch's ``fuse_modules`` cannot
   fold (``a * relu(z) + t = max(a * z + t, t)`` for ``a > 0``).
2. **Calibrate.** The float model (in eval mode) runs on the calibration batches while an
   observer records the model's input and each folded layer's output (``"minmax"``:
   :class:`~.observer.MinMaxObserver`, ``"histogram"``: :class:`~.observer.HistogramObserver`,
   both quint8 with ``reduce_range``, as fbgemm's defaults).
3. **Convert.** Weights become int8 with a symmetric scale per output channel
   (:class:`~.observer.PerChannelMinMaxObserver`, qint8) or one per layer; each layer requantises
   its int32 sums once to its output's scale (see :mod:`.quantized`).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..backend import to_numpy
from ..io import load as _load
from ..io import save as _save
from ..tensor import Tensor
from . import quantized as q
from .observer import HistogramObserver, MinMaxObserver, PerChannelMinMaxObserver

__all__ = ["fold_layer", "load_quantized", "quantize", "quantize_weight", "save_quantized"]

SUPPORTED = (
    "Conv2d",
    "Linear",
    "BatchNorm1d/2d and ReLU after a Conv2d or Linear",
    "ReLU",
    "MaxPool2d",
    "Flatten",
    "Dropout",
    "Identity",
)
_OBSERVERS = {"minmax": MinMaxObserver, "histogram": HistogramObserver}
_DROPOUTS = (nn.Dropout, nn.Identity)
_FORMAT_KEY = "convlab.quantized"


def _array(t):
    return np.asarray(to_numpy(t.data if isinstance(t, Tensor) else t))


def _unsupported(name, module, why=""):
    return ValueError(
        f"quantize(): layer '{name}' ({module!r}) is not supported{why}; supported layers: {', '.join(SUPPORTED)}"
    )


def sequential_layers(model, name="quantize"):
    """``[(name, module)]`` of a Sequential, nested Sequentials flattened (names joined by dots)."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"{name}(): expected an nn.Sequential (a chain of layers), got {type(model).__name__}")
    out = []
    for child, module in model.named_children():
        if isinstance(module, nn.Sequential):
            out += [(f"{child}.{sub}", m) for sub, m in sequential_layers(module, name)]
        else:
            out.append((child, module))
    return out


def _check_weighted(name, module):
    if isinstance(module, nn.Conv2d):
        if module.groups != 1 or module.padding_mode != "zeros":
            raise _unsupported(name, module, " (only groups=1 with zero padding)")
    elif not isinstance(module, nn.Linear):
        raise _unsupported(name, module)


def layer_groups(layers):
    """``[(name, head, followers)]``: each Conv2d/Linear with the BatchNorm/ReLU run after it, and
    every other layer alone; dropout and identity layers dropped; unsupported layers refused."""
    groups, i = [], 0
    while i < len(layers):
        name, module = layers[i]
        i += 1
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            _check_weighted(name, module)
            followers = []
            while i < len(layers) and isinstance(layers[i][1], (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU)):
                follower_name, follower = layers[i]
                if isinstance(follower, (nn.BatchNorm1d, nn.BatchNorm2d)) and follower.running_mean is None:
                    raise _unsupported(follower_name, follower, " (a BatchNorm without running statistics)")
                followers.append(follower)
                i += 1
            groups.append((name, module, followers))
        elif isinstance(module, (nn.ReLU, nn.MaxPool2d, nn.Flatten)):
            if isinstance(module, nn.MaxPool2d) and module.return_indices:
                raise _unsupported(name, module, " (return_indices=True)")
            groups.append((name, module, []))
        elif not isinstance(module, _DROPOUTS):
            why = (
                " (a BatchNorm must follow a Conv2d or Linear)"
                if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d))
                else ""
            )
            raise _unsupported(name, module, why)
    return groups


def fold_layer(layer, followers):
    """``(weight, bias, clamp_min, clamp_max)`` (float64 arrays) of ``layer`` (Conv2d or Linear)
    with the BatchNorm (eval statistics) and ReLU modules ``followers`` folded into it:
    ``followers(layer(x)) == clamp(conv_or_linear(x, weight, bias), clamp_min, clamp_max)`` per
    output channel."""
    return _fold(layer, followers)[1:]


def _fold(layer, followers):
    """``(a, weight, bias, clamp_min, clamp_max)`` of :func:`fold_layer`, ``a`` the factor
    each output channel's weights were multiplied by."""
    w = _array(layer.weight).astype(np.float64)
    c = w.shape[0]
    a = np.ones(c)
    b = np.zeros(c) if layer.bias is None else _array(layer.bias).astype(np.float64)
    lo, hi = np.full(c, -np.inf), np.full(c, np.inf)
    for m in followers:
        if isinstance(m, nn.ReLU):
            lo, hi = np.maximum(lo, 0), np.maximum(hi, 0)
            continue
        s = 1 / np.sqrt(_array(m.running_var).astype(np.float64) + m.eps)
        if m.weight is not None:
            s = s * _array(m.weight)
        t = -_array(m.running_mean) * s + (0 if m.bias is None else _array(m.bias))
        with np.errstate(invalid="ignore"):  # inf * 0 where a channel's factor is 0: no bound then
            new_lo, new_hi = np.where(s >= 0, lo * s, hi * s) + t, np.where(s >= 0, hi * s, lo * s) + t
        lo, hi = np.where(s == 0, -np.inf, new_lo), np.where(s == 0, np.inf, new_hi)
        a, b = a * s, b * s + t
    return a, w * a.reshape(-1, *[1] * (w.ndim - 1)), b, lo, hi


def quantize_weight(w, per_channel=True):
    """``(int8 weight, float32 scales)``: symmetric qint8, one scale per output channel (fbgemm's
    default) or one for the tensor, by PyTorch's observers and rounding."""
    w = np.asarray(w, np.float32)
    if per_channel:
        observer = PerChannelMinMaxObserver(ch_axis=0, dtype=np.int8, qscheme="per_channel_symmetric")
    else:
        observer = MinMaxObserver(dtype=np.int8, qscheme="per_tensor_symmetric")
    observer(w)
    scale = observer.calculate_qparams()[0].numpy()
    scale = np.broadcast_to(scale, (w.shape[0],)).astype(np.float32)
    inv = (np.float32(1) / scale).reshape(-1, *[1] * (w.ndim - 1))
    return np.clip(np.rint(w * inv), *q.WEIGHT_RANGE).astype(np.int8), scale


def _batches(loader, num_batches, progress):
    if progress:
        from tqdm.auto import tqdm

        loader = tqdm(loader, total=num_batches, desc="calibrating", unit="batch", leave=False)
    for i, batch in enumerate(loader):
        if num_batches is not None and i >= num_batches:
            break
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def quantize(model, calibration_loader, per_channel=True, observer="minmax", num_batches=None, progress=False):
    """Post-training static int8 quantisation of a Sequential model (Conv2d, Linear, BatchNorm,
    ReLU, MaxPool2d, Flatten, Dropout).

    The model is left as it was (its mode, parameters and hooks); the result is a new
    :class:`~.quantized.QuantizedSequential` that takes and returns float Tensors but runs
    integer arithmetic inside: uint8 activations (one scale per tensor), int8 weights, int32
    sums, one requantisation per layer, BatchNorm and ReLU folded first.

    Args:
        model: an ``nn.Sequential`` (nested Sequentials are flattened).
        calibration_loader: an iterable of input batches or ``(input, target)`` pairs, e.g. a
            ``DataLoader`` over a few hundred training images.
        per_channel: one weight scale per output channel (True, fbgemm's default) or per layer.
        observer: ``"minmax"`` or ``"histogram"`` (activation ranges; the histogram one clips
            outliers where that lowers the L2 error).
        num_batches: use only the first batches of the loader.
        progress: show a progress bar.

    Returns:
        the int8 :class:`~.quantized.QuantizedSequential` (in eval mode).

    Raises:
        TypeError: ``model`` is not an ``nn.Sequential``.
        ValueError: a layer is not supported (its name and repr are given), ``observer`` is
            unknown, or the loader yields no batch.

    Example::

        >>> qmodel = convlab.quantization.quantize(model, DataLoader(train_set, batch_size=128), num_batches=4)
        >>> logits = qmodel(images)                  # int8 inside
        >>> convlab.quantization.save_quantized(qmodel, "model.int8.safetensors")
    """
    if observer not in _OBSERVERS:
        raise ValueError(f"quantize(): observer must be one of {', '.join(map(repr, _OBSERVERS))}, got {observer!r}")
    groups = layer_groups(sequential_layers(model))
    if not groups:
        raise ValueError("quantize(): the model has no layer to quantise")

    def make_observer():
        return _OBSERVERS[observer](reduce_range=True)

    input_observer, observers = make_observer(), [make_observer() for _ in groups]
    was_training = [(m, m.training) for m in model.modules()]
    seen = 0
    try:
        model.eval()
        with no_grad():
            for x in _batches(calibration_loader, num_batches, progress):
                x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float32))
                input_observer(x)
                for i, (_, head, followers) in enumerate(groups):
                    for module in (head, *followers):
                        x = module(x)
                    observers[i](x)
                seen += 1
    finally:
        for m, training in was_training:
            m.training = training
    if not seen:
        raise ValueError("quantize(): the calibration loader yielded no batch")
    scale, zero_point = (v.numpy()[0] for v in input_observer.calculate_qparams())
    modules = [("quant", q.Quantize(scale, zero_point))]
    for (name, head, followers), obs in zip(groups, observers):
        scale, zero_point = (v.numpy()[0] for v in obs.calculate_qparams())
        modules.append((name.replace(".", "_"), convert_group(name, head, followers, scale, zero_point, per_channel)))
    modules.append(("dequant", q.DeQuantize()))
    return q.QuantizedSequential(modules).eval()


def convert_group(name, head, followers, scale, zero_point, per_channel=True, weight_scale=None):
    """The int8 module for one group of :func:`layer_groups` (``scale``/``zero_point``: its
    output's qparams; ``weight_scale``: the per-channel scales of the unfolded weight, as QAT
    learned them, else the folded weight's own)."""
    if isinstance(head, (nn.Conv2d, nn.Linear)):
        a, w, b, lo, hi = _fold(head, followers)
        if weight_scale is None:
            wq, ws = quantize_weight(w, per_channel)
        else:  # BatchNorm's factor a scales each channel's grid: the codes stay those QAT trained with
            ws = (np.broadcast_to(weight_scale, a.shape) * np.abs(a)).astype(np.float32)
            inv = (np.float32(1) / ws).reshape(-1, *[1] * (w.ndim - 1))
            wq = np.clip(np.rint(w.astype(np.float32) * inv), *q.WEIGHT_RANGE).astype(np.int8)
        if isinstance(head, nn.Linear):
            return q.QuantizedLinear(wq, ws, b, lo, hi, scale, zero_point)
        padding = head.padding
        if isinstance(padding, str):
            if padding == "same" and any(k % 2 == 0 for k in head.kernel_size):
                raise _unsupported(name, head, " (padding='same' with an even kernel)")
            padding = (0, 0) if padding == "valid" else tuple(
                d * (k - 1) // 2 for d, k in zip(head.dilation, head.kernel_size))
        return q.QuantizedConv2d(wq, ws, b, lo, hi, scale, zero_point, head.stride, padding, head.dilation)
    if isinstance(head, nn.MaxPool2d):
        return q.QuantizedMaxPool2d(head.kernel_size, head.stride, head.padding, head.dilation, head.ceil_mode)
    if isinstance(head, nn.Flatten):
        if (head.start_dim, head.end_dim) != (1, -1):
            raise _unsupported(name, head, " (only start_dim=1, end_dim=-1)")
        return q.QuantizedFlatten()
    return q.QuantizedReLU()


# -------------------------------------------------------------------------- saving and loading
_SPEC_ATTRS = {
    "Quantize": (),
    "DeQuantize": (),
    "QuantizedFlatten": (),
    "QuantizedReLU": (),
    "QuantizedConv2d": ("stride", "padding", "dilation"),
    "QuantizedLinear": (),
    "QuantizedMaxPool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
}


def save_quantized(qmodel, f) -> None:
    """Write a quantised model to ``f`` (safetensors, atomically): its int8/float32 state and,
    as JSON metadata, its layers and their settings, so :func:`load_quantized` rebuilds it
    without the float model."""
    if not isinstance(qmodel, q.QuantizedSequential):
        raise TypeError(f"save_quantized(): expected a QuantizedSequential, got {type(qmodel).__name__}")
    spec = []
    for name, module in qmodel.named_children():
        kind = type(module).__name__
        spec.append([name, kind, {a: getattr(module, a) for a in _SPEC_ATTRS[kind]}])
    _save({_FORMAT_KEY: spec, "model": qmodel.state_dict()}, f)


def load_quantized(f):
    """A :class:`~.quantized.QuantizedSequential` read from a file written by :func:`save_quantized`
    (JSON and raw tensors only: nothing is executed)."""
    data = _load(f)
    if not isinstance(data, dict) or _FORMAT_KEY not in data or "model" not in data:
        raise ValueError(f"load_quantized(): '{f}' was not written by convlab.quantization.save_quantized")
    state = data["model"]
    modules = []
    for name, kind, kwargs in data[_FORMAT_KEY]:
        if kind not in _SPEC_ATTRS:
            raise ValueError(f"load_quantized(): '{f}' names an unknown layer type {kind!r}")

        def buf(key, _name=name):
            return _array(state[f"{_name}.{key}"])

        if kind == "Quantize":
            module = q.Quantize(buf("scale"), buf("zero_point"))
        elif kind in ("QuantizedConv2d", "QuantizedLinear"):
            args = [buf(k) for k in ("weight", "weight_scale", "bias", "clamp_min", "clamp_max", "scale", "zero_point")]
            module = getattr(q, kind)(*args, **kwargs)
        else:
            module = getattr(q, kind)(**kwargs)
        modules.append((name, module))
    qmodel = q.QuantizedSequential(modules).eval()
    qmodel.load_state_dict(state)
    return qmodel
