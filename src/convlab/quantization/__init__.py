"""Quantisation: observers, fake quantisation, int8 post-training quantisation, QAT and INQ."""

from __future__ import annotations

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
from .quantized import QuantizedSequential

__all__ = [
    "HistogramObserver",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver",
    "PerChannelMinMaxObserver",
    "QuantizedSequential",
    "fold_layer",
    "load_quantized",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_tensor_affine",
    "per_tensor_symmetric",
    "quantize",
    "quantize_weight",
    "save_quantized",
]
