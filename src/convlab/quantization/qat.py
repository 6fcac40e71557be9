"""Quantisation-aware training: fake quantisation in the forward pass, as ``torch.ao.quantization``'s
``prepare_qat``/``convert`` with fbgemm's QAT qconfig.

:func:`prepare_qat` returns a copy of a Sequential model in which every Conv2d/Linear reads its
weight through a per-channel symmetric qint8 :class:`FakeQuantize` (``weight_fake_quant``), and
the output of every folded group (a Conv2d/Linear with the BatchNorm/ReLU after it; see
:func:`~convlab.quantization.quantize`) and the model's input go through a per-tensor quint8
:class:`FakeQuantize` with ``reduce_range`` (``activation_post_process``, applied by a forward
hook, as PyTorch does). Training then sees the rounding the int8 model will do, and its
gradients pass straight through the rounding. :func:`convert` builds the int8 model from the
learned scales.

Why the weight is fake-quantised before the BatchNorm is folded: with symmetric per-channel
scales, folding multiplies a channel's weights and its scale by the same factor, so the codes
of the folded weight are the codes QAT trained with.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import dtypes, nn
from ..nn import functional as F
from ..ops.quantize import fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine
from ..tensor import Tensor
from . import quantized as q
from .observer import MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, per_channel_symmetric
from .ptq import convert_group, layer_groups, sequential_layers

__all__ = ["FakeQuantize", "QATConv2d", "QATLinear", "convert", "prepare_qat"]


class FakeQuantize(nn.Module):
    """Observe, then fake-quantise, as ``torch.ao.quantization.FakeQuantize``.

    Each call (while the observer is enabled) updates the observer (``activation_post_process``)
    with the input and copies its qparams into the ``scale``/``zero_point`` buffers; then (while
    fake quantisation is enabled) returns :func:`convlab.fake_quantize_per_tensor_affine` (or
    the per-channel one for a per-channel observer) of the input with them.

    Args:
        observer: the observer class (or a ``functools.partial`` of one), default
            :class:`~.observer.MovingAverageMinMaxObserver`.
        quant_min, quant_max: the integer range (passed to the observer).
        **observer_kwargs: the observer's other arguments (``dtype``, ``qscheme``, ``ch_axis``,
            ``reduce_range``, ...).

    Example::

        >>> fq = FakeQuantize(quant_min=0, quant_max=255, reduce_range=True)   # fbgemm QAT activations
        >>> y = fq(x)                                                            # x rounded to 128 levels
    """

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, **observer_kwargs):
        super().__init__()
        if quant_min is not None and quant_max is not None:
            if quant_min > quant_max:
                raise ValueError(f"FakeQuantize: quant_min ({quant_min}) must be <= quant_max ({quant_max})")
            observer_kwargs.update(quant_min=quant_min, quant_max=quant_max)
        self.activation_post_process = observer(**observer_kwargs)
        self.quant_min = self.activation_post_process.quant_min
        self.quant_max = self.activation_post_process.quant_max
        self.ch_axis = getattr(self.activation_post_process, "ch_axis", -1)
        self.is_per_channel = self.activation_post_process.qscheme.startswith("per_channel")
        self.register_buffer("fake_quant_enabled", Tensor(np.array([1], np.uint8)))
        self.register_buffer("observer_enabled", Tensor(np.array([1], np.uint8)))
        self.register_buffer("scale", Tensor(np.array([1.0], np.float32)))
        self.register_buffer("zero_point", Tensor(np.array([0], np.int32)))

    def enable_fake_quant(self, enabled: bool = True):
        self.fake_quant_enabled = Tensor(np.array([int(enabled)], np.uint8))
        return self

    def disable_fake_quant(self):
        return self.enable_fake_quant(False)

    def enable_observer(self, enabled: bool = True):
        self.observer_enabled = Tensor(np.array([int(enabled)], np.uint8))
        return self

    def disable_observer(self):
        return self.enable_observer(False)

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, x):
        if self.observer_enabled.numpy()[0]:
            self.activation_post_process(x.detach())
            scale, zero_point = self.calculate_qparams()
            self.scale = Tensor(scale.numpy().astype(np.float32))
            self.zero_point = Tensor(zero_point.numpy().astype(np.int32))
        if not self.fake_quant_enabled.numpy()[0]:
            return x
        if self.is_per_channel:
            return fake_quantize_per_channel_affine(x, self.scale, self.zero_point, self.ch_axis, self.quant_min,
                                                    self.quant_max)
        return fake_quantize_per_tensor_affine(x, self.scale.item(), int(self.zero_point.item()), self.quant_min,
                                               self.quant_max)

    def extra_repr(self) -> str:
        return (f"fake_quant_enabled={self.fake_quant_enabled.numpy()}, observer_enabled="
                f"{self.observer_enabled.numpy()}, quant_min={self.quant_min}, quant_max={self.quant_max}, "
                f"scale={self.scale.numpy()}, zero_point={self.zero_point.numpy()}")


def default_weight_fake_quant():
    """fbgemm's QAT weight fake-quant: qint8, symmetric, one scale per output channel."""
    return FakeQuantize(MovingAveragePerChannelMinMaxObserver, -128, 127, dtype=dtypes.int8,
                        qscheme=per_channel_symmetric)


def default_activation_fake_quant():
    """fbgemm's QAT activation fake-quant: quint8 with ``reduce_range`` (0..127), per tensor."""
    return FakeQuantize(MovingAverageMinMaxObserver, 0, 255, reduce_range=True)


class QATConv2d(nn.Conv2d):
    """A Conv2d whose forward uses ``weight_fake_quant(weight)``, as ``torch.ao.nn.qat.Conv2d``
    (same parameters and ``state_dict`` keys, plus the fake-quant's buffers)."""

    @classmethod
    def from_float(cls, conv):
        qat = copy.copy(conv)  # same parameters, buffers and settings
        qat.__class__ = cls
        qat._modules = dict(conv._modules)
        qat.weight_fake_quant = default_weight_fake_quant()
        return qat

    def forward(self, input):
        return self._conv_forward(input, self.weight_fake_quant(self.weight), self.bias)


class QATLinear(nn.Linear):
    """A Linear whose forward uses ``weight_fake_quant(weight)``, as ``torch.ao.nn.qat.Linear``."""

    @classmethod
    def from_float(cls, linear):
        qat = copy.copy(linear)
        qat.__class__ = cls
        qat._modules = dict(linear._modules)
        qat.weight_fake_quant = default_weight_fake_quant()
        return qat

    def forward(self, input):
        return F.linear(input, self.weight_fake_quant(self.weight), self.bias)


def _fake_quantize_output(module, args, output):
    return module.activation_post_process(output)


def _fake_quantize_input(module, args):
    return (module.input_fake_quant(args[0]), *args[1:])


def _replace(model, dotted, module):
    parent, _, child = dotted.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def prepare_qat(model, inplace=False):
    """Insert fake quantisation into a Sequential model for quantisation-aware training, as
    ``torch.ao.quantization.prepare_qat`` with fbgemm's QAT qconfig.

    Conv2d/Linear layers become :class:`QATConv2d`/:class:`QATLinear` (the same parameters,
    read through a per-channel qint8 fake-quant); the model's input and each folded group's
    output get a quint8 fake-quant (``input_fake_quant`` on the first layer,
    ``activation_post_process`` on the group's last layer, applied by forward hooks). Train it
    as usual (ideally starting from a trained float model, with a small learning rate), then
    :func:`convert`.

    Args:
        model: an ``nn.Sequential`` that :func:`~convlab.quantization.quantize` supports.
        inplace: change ``model`` itself instead of a copy.

    Returns:
        the prepared model (in training mode).

    Example::

        >>> qat_model = convlab.quantization.prepare_qat(model)
        >>> ...  # a few epochs of training, e.g. convlab.train.Trainer(qat_model, ...).fit(...)
        >>> int8_model = convlab.quantization.convert(qat_model)
    """
    layers = sequential_layers(model, "prepare_qat")
    groups = layer_groups(layers)  # refuses unsupported layers before anything is changed
    if not inplace:
        model = copy.deepcopy(model)
        layers = sequential_layers(model, "prepare_qat")
        groups = layer_groups(layers)
    for name, head, followers in groups:
        if not isinstance(head, (nn.Conv2d, nn.Linear)):
            continue
        qat = (QATConv2d if isinstance(head, nn.Conv2d) else QATLinear).from_float(head)
        _replace(model, name, qat)
        last = followers[-1] if followers else qat
        last.activation_post_process = default_activation_fake_quant()
        last.register_forward_hook(_fake_quantize_output)
    first = model.get_submodule(layers[0][0])
    first.input_fake_quant = default_activation_fake_quant()
    first.register_forward_pre_hook(_fake_quantize_input)
    return model.train()


def _qparams(fake_quant):
    return float(fake_quant.scale.numpy()[0]), int(fake_quant.zero_point.numpy()[0])


def convert(model):
    """The int8 :class:`~.quantized.QuantizedSequential` of a model prepared by :func:`prepare_qat`
    (and trained): activations quantised with the learned scales, weights with the learned
    per-channel scales, BatchNorm (running statistics) and ReLU folded. ``model`` is unchanged.

    Raises:
        ValueError: ``model`` was not prepared by :func:`prepare_qat`.
    """
    layers = sequential_layers(model, "convert")
    first = model.get_submodule(layers[0][0])
    if not isinstance(getattr(first, "input_fake_quant", None), FakeQuantize):
        raise ValueError(  # noqa: TRY004  (a model in the wrong state, not an argument of the wrong type)
            "convert(): the model was not prepared by convlab.quantization.prepare_qat (its first layer "
            "has no input_fake_quant)")
    modules = [("quant", q.Quantize(*_qparams(first.input_fake_quant)))]
    for name, head, followers in layer_groups(layers):
        if isinstance(head, (QATConv2d, QATLinear)):
            last = followers[-1] if followers else head
            scale, zero_point = _qparams(last.activation_post_process)
            module = convert_group(name, head, followers, scale, zero_point,
                                   weight_scale=head.weight_fake_quant.scale.numpy())
        else:
            module = convert_group(name, head, followers, 1.0, 0)
        modules.append((name.replace(".", "_"), module))
    modules.append(("dequant", q.DeQuantize()))
    return q.QuantizedSequential(modules).eval()
