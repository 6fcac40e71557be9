"""Quantisation: observers, fake quantisation, int8 post-training quantisation, QAT and INQ."""

from __future__ import annotations

from .inq import inq, power_of_two_levels, quantize_power_of_two
from .observer import (
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
    per_channel_affine,
    per_channel_symmetric,
    per_tensor_affine,
    per_tensor_symmetric,
)
from .ptq import fold_layer, load_quantized, quantize, quantize_weight, save_quantized
from .qat import FakeQuantize, QATConv2d, QATLinear, convert, prepare_qat
from .quantized import QuantizedSequential

__all__ = [
    "FakeQuantize",
    "HistogramObserver",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver",
    "PerChannelMinMaxObserver",
    "QATConv2d",
    "QATLinear",
    "QuantizedSequential",
    "convert",
    "fold_layer",
    "inq",
    "load_quantized",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_tensor_affine",
    "per_tensor_symmetric",
    "power_of_two_levels",
    "prepare_qat",
    "quantize",
    "quantize_power_of_two",
    "quantize_weight",
    "save_quantized",
]
