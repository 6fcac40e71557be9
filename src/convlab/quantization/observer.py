"""Observers: record the range of a tensor and turn it into ``(scale, zero_point)``, as
``torch.ao.quantization.observer``.

An observer is a module that passes its input through unchanged and remembers its minimum and
maximum (per tensor, or per channel along ``ch_axis``), or a histogram of it.
``calculate_qparams()`` maps the range onto the integer grid with PyTorch's formulas:

- affine: ``scale = (max(max_val, 0) - min(min_val, 0)) / (quant_max - quant_min)``,
  ``zero_point = quant_min - round(min(min_val, 0) / scale)`` (so 0.0 is exactly representable);
- symmetric: ``scale = max(-min_val, max_val) / ((quant_max - quant_min) / 2)``, ``zero_point``
  0 for qint8 and 128 for quint8;

``scale`` is at least float32's epsilon. ``dtype`` is ``convlab.uint8`` (PyTorch's quint8,
``[0, 255]``) or ``convlab.int8`` (qint8, ``[-128, 127]``); ``reduce_range=True`` drops one bit
(``[0, 127]``, ``[-64, 63]``), as fbgemm's default activation observer does so that the
16-bit pairwise sums of AVX2's ``vpmaddubsw`` cannot saturate.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..backend import to_numpy
from ..nn.modules.module import Module
from ..tensor import Tensor

__all__ = [
    "HistogramObserver",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver",
    "PerChannelMinMaxObserver",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_tensor_affine",
    "per_tensor_symmetric",
]

per_tensor_affine = "per_tensor_affine"
per_tensor_symmetric = "per_tensor_symmetric"
per_channel_affine = "per_channel_affine"
per_channel_symmetric = "per_channel_symmetric"
_EPS = float(np.finfo(np.float32).eps)


def _qrange(name, dtype, reduce_range, quant_min, quant_max):
    """The integer range, by PyTorch's ``calculate_qmin_qmax``."""
    dtype = dtypes.as_dtype(dtype)
    if dtype not in (dtypes.uint8, dtypes.int8):
        raise TypeError(f"{name}: dtype must be convlab.uint8 (quint8) or convlab.int8 (qint8), got {dtype}")
    if (quant_min is None) != (quant_max is None):
        raise ValueError(f"{name}: give both quant_min and quant_max or neither")
    if quant_min is not None:
        if not 0 < quant_max - quant_min + 1 <= 256:
            raise ValueError(f"{name}: quant_min ({quant_min}) and quant_max ({quant_max}) must span 1 to 256 values")
        return (quant_min // 2, quant_max // 2) if reduce_range else (quant_min, quant_max)
    if dtype == dtypes.int8:
        return (-64, 63) if reduce_range else (-128, 127)
    return (0, 127) if reduce_range else (0, 255)


class _ObserverBase(Module):
    """Shared by every observer: the integer range and the qparams formula."""

    def __init__(self, dtype, qscheme, reduce_range, quant_min, quant_max, eps, per_channel):
        super().__init__()
        name = type(self).__name__
        allowed = (
            (per_channel_affine, per_channel_symmetric) if per_channel else (per_tensor_affine, per_tensor_symmetric)
        )
        if qscheme not in allowed:
            raise ValueError(f"{name}: qscheme must be one of {', '.join(allowed)}, got {qscheme!r}")
        self.dtype = dtypes.as_dtype(dtype)
        self.qscheme = qscheme
        self.reduce_range = reduce_range
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        self.quant_min, self.quant_max = _qrange(name, dtype, reduce_range, quant_min, quant_max)
        self.eps = np.float32(eps)

    def _calculate_qparams(self, min_val, max_val):
        """``(scale float32, zero_point int64)`` arrays for the ranges ``[min_val, max_val]``."""
        min_val, max_val = np.asarray(min_val, np.float32), np.asarray(max_val, np.float32)
        if not (np.isfinite(min_val).all() and np.isfinite(max_val).all()):
            return np.ones(1, np.float32), np.zeros(1, np.int64)  # never observed: PyTorch's default
        quant_min, quant_max = self.quant_min, self.quant_max
        min_neg = np.minimum(min_val, np.float32(0))
        max_pos = np.maximum(max_val, np.float32(0))
        if self.qscheme in (per_tensor_symmetric, per_channel_symmetric):
            max_pos = np.maximum(-min_neg, max_pos)
            scale = np.maximum(max_pos / np.float32((quant_max - quant_min) / 2), self.eps)
            zero = (quant_min + quant_max) // 2 if self.has_customized_qrange else 128
            zero_point = np.full(scale.shape, zero if self.dtype == dtypes.uint8 else 0, np.int64)
        else:
            scale = np.maximum((max_pos - min_neg) / np.float32(quant_max - quant_min), self.eps)
            zero_point = quant_min - np.rint(min_neg / scale).astype(np.int64)
            zero_point = np.clip(zero_point, quant_min, quant_max)
        return np.atleast_1d(scale).astype(np.float32), np.atleast_1d(zero_point).astype(np.int64)

    @staticmethod
    def _array(x):
        return np.asarray(to_numpy(x.data if isinstance(x, Tensor) else x), dtype=np.float32)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val.numpy()}, max_val={self.max_val.numpy()}"


class MinMaxObserver(_ObserverBase):
    """The running minimum and maximum of every tensor seen, as ``torch.ao.quantization.MinMaxObserver``.

    Args:
        dtype: ``convlab.uint8`` (quint8, default) or ``convlab.int8`` (qint8).
        qscheme: ``"per_tensor_affine"`` (default) or ``"per_tensor_symmetric"``.
        reduce_range: use one bit less (fbgemm's activations).
        quant_min, quant_max: a custom integer range.
        eps: the smallest scale.

    Example::

        >>> obs = MinMaxObserver(reduce_range=True)
        >>> _ = obs(convlab.randn(64, 16))
        >>> scale, zero_point = obs.calculate_qparams()
    """

    def __init__(
        self,
        dtype=dtypes.uint8,
        qscheme=per_tensor_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        eps=_EPS,
    ):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps, per_channel=False)
        self.register_buffer("min_val", Tensor(np.array(np.inf, np.float32)))
        self.register_buffer("max_val", Tensor(np.array(-np.inf, np.float32)))

    def _update(self, lo, hi):
        self.min_val = Tensor(np.minimum(self.min_val.numpy(), lo))
        self.max_val = Tensor(np.maximum(self.max_val.numpy(), hi))

    def forward(self, x):
        """Record the range of ``x`` and return ``x`` unchanged."""
        array = self._array(x)
        if array.size:
            self._update(array.min(), array.max())
        return x

    def calculate_qparams(self):
        """``(scale, zero_point)`` as one-element float32 and int64 tensors."""
        scale, zero_point = self._calculate_qparams(self.min_val.numpy(), self.max_val.numpy())
        return Tensor(scale), Tensor(zero_point)


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Minimum and maximum as exponential moving averages (``averaging_constant``, default 0.01),
    as ``torch.ao.quantization.MovingAverageMinMaxObserver`` (QAT's activation observer)."""

    def __init__(
        self,
        averaging_constant=0.01,
        dtype=dtypes.uint8,
        qscheme=per_tensor_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        eps=_EPS,
    ):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.averaging_constant = averaging_constant

    def _update(self, lo, hi):
        old_lo, old_hi = self.min_val.numpy(), self.max_val.numpy()
        if np.isinf(old_lo) and np.isinf(old_hi):
            new_lo, new_hi = lo, hi
        else:
            c = np.float32(self.averaging_constant)
            new_lo, new_hi = old_lo + c * (lo - old_lo), old_hi + c * (hi - old_hi)
        self.min_val = Tensor(np.asarray(new_lo, np.float32))
        self.max_val = Tensor(np.asarray(new_hi, np.float32))


class PerChannelMinMaxObserver(_ObserverBase):
    """Minimum and maximum of each slice along ``ch_axis``, as ``torch.ao.quantization.PerChannelMinMaxObserver``
    (fbgemm's weight observer: ``dtype=convlab.int8, qscheme="per_channel_symmetric"``).

    Args:
        ch_axis: the channel dimension (0: a weight's output channels).
        dtype, qscheme, reduce_range, quant_min, quant_max, eps: as :class:`MinMaxObserver`,
            with ``qscheme`` ``"per_channel_affine"`` (default) or ``"per_channel_symmetric"``.
    """

    def __init__(
        self,
        ch_axis=0,
        dtype=dtypes.uint8,
        qscheme=per_channel_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        eps=_EPS,
    ):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps, per_channel=True)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", Tensor(np.zeros(0, np.float32)))
        self.register_buffer("max_val", Tensor(np.zeros(0, np.float32)))

    def _channels(self, array):
        return np.moveaxis(array, self.ch_axis, 0).reshape(array.shape[self.ch_axis], -1)

    def _update(self, lo, hi):
        if self.min_val.numel():
            lo, hi = np.minimum(lo, self.min_val.numpy()), np.maximum(hi, self.max_val.numpy())
        self.min_val, self.max_val = Tensor(lo), Tensor(hi)

    def forward(self, x):
        """Record each channel's range of ``x`` and return ``x`` unchanged."""
        array = self._array(x)
        if array.size:
            flat = self._channels(array)
            self._update(flat.min(axis=1), flat.max(axis=1))
        return x

    def calculate_qparams(self):
        """``(scale, zero_point)``: float32 and int64 tensors of one value per channel."""
        if not self.min_val.numel():
            return Tensor(np.ones(1, np.float32)), Tensor(np.zeros(1, np.int64))
        scale, zero_point = self._calculate_qparams(self.min_val.numpy(), self.max_val.numpy())
        return Tensor(scale), Tensor(zero_point)


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel ranges as exponential moving averages, as
    ``torch.ao.quantization.MovingAveragePerChannelMinMaxObserver`` (QAT's weight observer)."""

    def __init__(
        self,
        averaging_constant=0.01,
        ch_axis=0,
        dtype=dtypes.uint8,
        qscheme=per_channel_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        eps=_EPS,
    ):
        super().__init__(ch_axis, dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.averaging_constant = averaging_constant

    def _update(self, lo, hi):
        if self.min_val.numel():
            c = np.float32(self.averaging_constant)
            old_lo, old_hi = self.min_val.numpy(), self.max_val.numpy()
            lo, hi = old_lo + c * (lo - old_lo), old_hi + c * (hi - old_hi)
        self.min_val, self.max_val = Tensor(np.asarray(lo, np.float32)), Tensor(np.asarray(hi, np.float32))


class HistogramObserver(MinMaxObserver):
    """A running histogram of the values; the range is chosen to minimise the L2 error of
    quantising it, as ``torch.ao.quantization.HistogramObserver`` (fbgemm's default activation
    observer, with ``reduce_range=True``): outliers are clipped when that costs less error than
    the coarser grid they would force.

    Args:
        bins: histogram bins (2048).
        dtype, qscheme, reduce_range, quant_min, quant_max, eps: as :class:`MinMaxObserver`.
    """

    def __init__(
        self,
        bins=2048,
        dtype=dtypes.uint8,
        qscheme=per_tensor_affine,
        reduce_range=False,
        quant_min=None,
        quant_max=None,
        eps=_EPS,
    ):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps)
        self.bins = bins
        self.register_buffer("histogram", Tensor(np.zeros(bins, np.float32)))
        self.dst_nbins = 256  # 2 ** bits of the 8-bit dtype
        self.upsample_rate = 16

    def _histc(self, x, lo, hi):
        """``torch.histc``: ``bins`` equal bins over ``[lo, hi]``, the maximum in the last bin."""
        if hi == lo:
            lo, hi = lo - 1, hi + 1  # torch.histc widens an empty range the same way
        index = ((x - lo) * np.float32(self.bins) / (hi - lo)).astype(np.int64)
        index = np.clip(index, 0, self.bins - 1)[(x >= lo) & (x <= hi)]
        return np.bincount(index, minlength=self.bins).astype(np.float32)

    def forward(self, x):
        """Add ``x`` to the histogram (widening its range if needed) and return ``x`` unchanged."""
        array = self._array(x)
        array = array[np.isfinite(array)] if not np.isfinite(array).all() else array
        if not array.size:
            return x
        x_min, x_max = array.min(), array.max()
        cur_min, cur_max = self.min_val.numpy()[()], self.max_val.numpy()[()]
        if np.isinf(cur_min) or np.isinf(cur_max):
            self.min_val, self.max_val = Tensor(np.asarray(x_min)), Tensor(np.asarray(x_max))
            self.histogram = Tensor(self._histc(array, x_min, x_max))
            return x
        new_min, new_max = min(cur_min, x_min), max(cur_max, x_max)
        update = self._histc(array, new_min, new_max)
        hist = self.histogram.numpy()
        if new_min == cur_min and new_max == cur_max:
            combined = hist + update
        elif cur_min == cur_max:
            combined = self._histc(np.asarray([cur_min]), new_min, new_max) * hist.sum() + update
        else:
            combined = update + self._upscale(hist, cur_min, cur_max, new_min, new_max)
        self.histogram = Tensor(combined.astype(np.float32))
        self.min_val, self.max_val = Tensor(np.asarray(new_min)), Tensor(np.asarray(new_max))
        return x

    def _upscale(self, hist, orig_min, orig_max, new_min, new_max):
        """The old histogram spread over the new range: each of its bins split ``upsample_rate``
        ways and every piece put into the new bin holding its midpoint."""
        rate = self.upsample_rate
        fine = np.repeat(hist, rate) / np.float32(rate)
        size = (orig_max - orig_min) / np.float32(self.bins * rate)
        mids = np.linspace(orig_min, orig_max, self.bins * rate + 1, dtype=np.float32)[:-1] + np.float32(0.5) * size
        edges = np.linspace(new_min, new_max, self.bins + 1, dtype=np.float32)
        where = np.clip(np.searchsorted(edges, mids, side="right") - 1, 0, self.bins - 1)
        return np.bincount(where, weights=fine, minlength=self.bins).astype(np.float32)

    def _quantization_error(self, start, end):
        """The L2 error of quantising the histogram's mass with the range of bins ``start..end``."""
        bin_width = (float(self.max_val.item()) - float(self.min_val.item())) / self.bins
        dst_width = bin_width * (end - start + 1) / self.dst_nbins
        if dst_width == 0.0:
            return 0.0
        f32 = np.float32
        src = np.arange(self.bins, dtype=f32)
        begin = (src - f32(start)) * f32(bin_width)
        stop = begin + f32(bin_width)
        dst_begin = np.clip(np.floor(begin / f32(dst_width)), 0, self.dst_nbins - 1)
        dst_end = np.clip(np.floor(stop / f32(dst_width)), 0, self.dst_nbins - 1)
        density = self.histogram.numpy() / f32(bin_width)

        def norm(lo, hi):  # density x the integral of x^2 from lo to hi
            return density * ((hi * hi * hi - lo * lo * lo) / f32(3))

        half = f32(dst_width / 2)
        total = norm(begin - (dst_begin + f32(0.5)) * f32(dst_width), np.full(self.bins, half, f32))
        total = total + (dst_end - dst_begin - 1) * norm(-half, half)
        total = total + norm(-half, stop - (dst_end * f32(dst_width) + half))
        return float(total.sum())

    def _non_linear_param_search(self):
        """PyTorch's search (from caffe2's NormMinimization): shrink the range from whichever
        side holds less mass, a quantile step at a time, while the quantisation error falls."""
        hist = self.histogram.numpy()
        min_val, max_val = self.min_val.numpy()[()], self.max_val.numpy()[()]
        bin_width = (max_val - min_val) / np.float32(self.bins)
        total = float(hist.sum())
        csum = np.cumsum(hist)
        step, alpha, beta = 1e-5, 0.0, 1.0
        start, end = 0, self.bins - 1
        norm_min = float("inf")
        while alpha < beta:
            next_alpha, next_beta = alpha + step, beta - step
            left, right = start, end
            while left < end and csum[left] < next_alpha * total:
                left += 1
            while right > start and csum[right] > next_beta * total:
                right -= 1
            next_start, next_end = start, end
            if left - start > end - right:
                next_start, alpha = left, next_alpha
            else:
                next_end, beta = right, next_beta
            if next_start == start and next_end == end:
                continue
            error = self._quantization_error(next_start, next_end)
            if error > norm_min:
                break
            norm_min, start, end = error, next_start, next_end
        return min_val + bin_width * np.float32(start), min_val + bin_width * np.float32(end + 1)

    def calculate_qparams(self):
        """``(scale, zero_point)`` of the range that minimises the histogram's quantisation error."""
        if np.isinf(self.min_val.numpy()).all():
            return Tensor(np.ones(1, np.float32)), Tensor(np.zeros(1, np.int64))
        new_min, new_max = self._non_linear_param_search()
        scale, zero_point = self._calculate_qparams(new_min, new_max)
        return Tensor(scale), Tensor(zero_point)
