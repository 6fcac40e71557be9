"""The int8 layers of a quantised model and the integer arithmetic they run.

Between layers an activation is a :class:`QActivation`: uint8 codes ``q`` with one ``scale`` and
``zero_point`` (the value is ``(q - zero_point) * scale``), channels-last (``(N, H, W, C)``, C
padded to a multiple of 4 for the kernels' 4-byte words) or ``(N, F)``. A conv or linear layer
holds int8 weights ``w_q`` with one scale per output channel, and computes

    acc[o]  = sum_k q_x[k] * w_q[o, k]                     (uint8 x int8 products, int32 sums)
    q_y[o]  = clamp(rint((acc[o] - z_x * sum_k w_q[o, k]) * s_x * s_w[o] / s_y + b[o] / s_y) + z_y,
                    lo[o], hi[o])

the only floating-point step being that one requantisation per output. ``lo``/``hi`` are the
quantised ``clamp_min``/``clamp_max``: the ReLU and BatchNorm folded into the layer (see
:func:`convlab.quantization.quantize`). Zero padding pads with ``z_x``, the code of 0.0. Max
pooling, flattening and dropout act on the codes directly (max commutes with the monotone map
from codes to values). The compiled kernels of :mod:`._int8_kernels` and the NumPy path (a
float GEMM whose sums are exact integers, then the same requantisation) give identical codes.
"""

from __future__ import annotations

import numpy as np

from ..backend import cpu_kernels
from ..nn.modules.module import Module
from ..tensor import Tensor

__all__ = [
    "DeQuantize",
    "QActivation",
    "Quantize",
    "QuantizedConv2d",
    "QuantizedFlatten",
    "QuantizedLinear",
    "QuantizedMaxPool2d",
    "QuantizedReLU",
    "QuantizedSequential",
]

ACTIVATION_RANGE = (0, 127)  # quint8 with reduce_range, as fbgemm: vpmaddubsw's pair sums cannot saturate
WEIGHT_RANGE = (-128, 127)
_EXACT_FLOAT32 = 1 << 24  # integers up to this are exact in float32
_LINEAR_ROWS = 14  # samples per row of a linear layer's input (the kernels' tallest tile)


def _kernels():
    """The compiled kernels module, or None where numba or the needed instructions are missing
    or the compiled kernels are switched off (``CONVLAB_KERNELS=0``, ``cpu_kernels.disabled()``)."""
    if not cpu_kernels.enabled():  # the NumPy path
        return None
    from . import _int8_kernels

    return _int8_kernels if _int8_kernels.ISA is not None else None


def _round_up(n, multiple):
    return -(-n // multiple) * multiple


class QActivation:
    """uint8 codes with their ``scale`` and ``zero_point``; ``channels`` counts the real channels
    of a channels-last map whose last axis is padded to a multiple of 4."""

    __slots__ = ("channels", "data", "scale", "zero_point")

    def __init__(self, data, scale, zero_point, channels=None):
        self.data, self.scale, self.zero_point = data, float(scale), int(zero_point)
        self.channels = data.shape[-1] if channels is None else channels

    def dequantize(self) -> np.ndarray:
        """Float32 values, NCHW for a map (as the float model returns them)."""
        values = (self.data[..., : self.channels].astype(np.float32) - self.zero_point) * np.float32(self.scale)
        return values.transpose(0, 3, 1, 2) if values.ndim == 4 else values


def quantize_array(x, scale, zero_point):
    """``clamp(rint(x * (1/scale)) + zero_point, 0, 127)`` as uint8 (``1/scale`` in float32, as
    :func:`convlab.fake_quantize_per_tensor_affine`)."""
    inv = np.float32(1) / np.float32(scale)
    return np.clip(np.rint(x * inv) + zero_point, *ACTIVATION_RANGE).astype(np.uint8)


def _buffer(array):
    return Tensor(np.ascontiguousarray(array))


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class Quantize(Module):
    """Float input -> uint8 codes (``scale``, ``zero_point``), channels-last, channels padded to 4."""

    def __init__(self, scale, zero_point):
        super().__init__()
        self.register_buffer("scale", _buffer(np.float32(scale)))
        self.register_buffer("zero_point", _buffer(np.int64(zero_point)))

    def forward(self, x):
        array = np.asarray(x.detach().numpy() if isinstance(x, Tensor) else x, dtype=np.float32)
        scale, zero_point = float(self.scale.item()), int(self.zero_point.item())
        q = quantize_array(array, scale, zero_point)
        if q.ndim != 4:
            return QActivation(q, scale, zero_point)
        n, c, h, w = q.shape
        out = np.full((n, h, w, _round_up(c, 4)), zero_point, np.uint8)
        out[..., :c] = q.transpose(0, 2, 3, 1)
        return QActivation(out, scale, zero_point, c)

    def extra_repr(self) -> str:
        return f"scale={self.scale.item():.6g}, zero_point={self.zero_point.item()}"


class DeQuantize(Module):
    """uint8 codes -> float32 Tensor (NCHW for a map)."""

    def forward(self, x):
        return Tensor(np.ascontiguousarray(x.dequantize()))


class _QuantizedWeighted(Module):
    """Shared by the int8 conv and linear: the stored state and the requantisation constants."""

    def _init_state(self, weight, weight_scale, bias, clamp_min, clamp_max, scale, zero_point):
        self.register_buffer("weight", _buffer(weight.astype(np.int8)))
        self.register_buffer("weight_scale", _buffer(weight_scale.astype(np.float32)))
        self.register_buffer("bias", _buffer(bias.astype(np.float32)))
        self.register_buffer("clamp_min", _buffer(clamp_min.astype(np.float32)))
        self.register_buffer("clamp_max", _buffer(clamp_max.astype(np.float32)))
        self.register_buffer("scale", _buffer(np.float32(scale)))
        self.register_buffer("zero_point", _buffer(np.int64(zero_point)))
        self._plans = {}

    def _weight_matrix(self):
        """The int8 weight as ``(C_out, C_in, KH, KW)``, columns in the order the input arrives."""
        raise NotImplementedError

    def _plan(self, x_scale, x_zero_point, in_channels):
        """The constants for an input with these qparams and (padded) channel count, cached."""
        # a loaded state_dict replaces or changes the buffers: their ids and versions key the cache
        key = (x_scale, x_zero_point, in_channels, *((id(b), b._version) for b in self._buffers.values()))
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        w = self._weight_matrix()
        c_out, c_in, kh, kw = w.shape
        w_full = np.zeros((_round_up(c_out, 16), in_channels, kh, kw), np.int8)
        w_full[:c_out, :c_in] = w
        s_y, z_y = np.float64(self.scale.item()), int(self.zero_point.item())
        col_sum = w_full.reshape(w_full.shape[0], -1).astype(np.int64).sum(axis=1)
        pad = w_full.shape[0] - c_out

        def per_channel(values, fill):
            return np.concatenate([values, np.full(pad, fill, values.dtype)])

        lo_f = self.clamp_min.numpy().astype(np.float64) / s_y
        hi_f = self.clamp_max.numpy().astype(np.float64) / s_y
        with np.errstate(invalid="ignore"):
            lo = np.where(np.isfinite(lo_f), np.rint(np.clip(lo_f, -1e6, 1e6)) + z_y, ACTIVATION_RANGE[0])
            hi = np.where(np.isfinite(hi_f), np.rint(np.clip(hi_f, -1e6, 1e6)) + z_y, ACTIVATION_RANGE[1])
        plan = {
            "offset": (x_zero_point * col_sum).astype(np.int32),
            "mult": per_channel(np.float64(x_scale) * self.weight_scale.numpy().astype(np.float64) / s_y, 0.0),
            "shift": per_channel(self.bias.numpy().astype(np.float64) / s_y, 0.0),
            "lo": per_channel(np.clip(lo, *ACTIVATION_RANGE).astype(np.int64), 0),
            "hi": per_channel(np.clip(hi, *ACTIVATION_RANGE).astype(np.int64), 0),
            "zero_point": z_y,
            "c_out": c_out,
            "kernel": (kh, kw),
        }
        kernels = _kernels()
        if kernels is not None:
            plan["packed"] = kernels.pack_weight(w_full)
        else:  # the GEMM's columns in the (kh, kw, c) order of the NumPy path's patches
            k = kh * kw * in_channels
            exact = k * ACTIVATION_RANGE[1] * 128 < _EXACT_FLOAT32
            plan["matrix"] = w_full.transpose(2, 3, 1, 0).reshape(k, -1).astype(np.float32 if exact else np.float64)
        self._plans = {key: plan}
        return plan

    def _run(self, xp, out_hw, stride, dilation, x):
        """Codes of the layer's output ``(N, OH, OW, C_out)`` from the padded channels-last input ``xp``."""
        plan = self._plan(x.scale, x.zero_point, xp.shape[3])
        n = xp.shape[0]
        out = np.empty((n, *out_hw, plan["c_out"]), np.uint8)
        kernels = _kernels()
        if kernels is not None:
            kernels.conv2d(
                xp,
                plan["packed"],
                out,
                stride,
                dilation,
                plan["offset"],
                plan["mult"],
                plan["shift"],
                plan["zero_point"],
                plan["lo"],
                plan["hi"],
            )
            return out
        kh, kw = plan["kernel"]
        matrix = plan["matrix"]
        step = max(1, (1 << 24) // max(1, out_hw[0] * out_hw[1] * matrix.shape[0]))  # bound the patch buffer
        for n0 in range(0, n, step):
            part = xp[n0 : n0 + step]
            patches = np.stack(
                [
                    part[
                        :,
                        p * dilation[0] : p * dilation[0] + stride[0] * (out_hw[0] - 1) + 1 : stride[0],
                        q * dilation[1] : q * dilation[1] + stride[1] * (out_hw[1] - 1) + 1 : stride[1],
                    ]
                    for p in range(kh)
                    for q in range(kw)
                ],
                axis=3,
            )
            acc = patches.reshape(-1, matrix.shape[0]).astype(matrix.dtype) @ matrix
            out[n0 : n0 + step] = requantize(acc, plan).reshape(part.shape[0], *out_hw, -1)
        return out

    def extra_repr(self) -> str:
        return f"{self._shape_repr()}, scale={self.scale.item():.6g}, zero_point={self.zero_point.item()}"


def requantize(acc, plan):
    """uint8 codes of the exact integer sums ``acc`` ``(rows, C_out_padded)`` (any dtype holding
    them exactly): the NumPy twin of the kernels' requantisation, identical integers."""
    c_out = plan["c_out"]
    acc = acc[:, :c_out].astype(np.float64)
    v = np.rint((acc - plan["offset"][:c_out]) * plan["mult"][:c_out] + plan["shift"][:c_out]) + plan["zero_point"]
    return np.clip(v, plan["lo"][:c_out], plan["hi"][:c_out]).astype(np.uint8)


class QuantizedConv2d(_QuantizedWeighted):
    """An int8 2-D convolution (groups=1, zero padding) with its folded BatchNorm/ReLU.

    Buffers (its ``state_dict``): ``weight`` int8 ``(C_out, C_in, KH, KW)``, ``weight_scale``
    float32 ``(C_out,)`` (zero points 0: symmetric), ``bias`` float32, ``clamp_min``/``clamp_max``
    float32 ``(C_out,)`` (the output bounds left by a folded ReLU/BatchNorm, +-inf if none),
    ``scale``/``zero_point`` of the output.

    Shape: ``QActivation (N, H, W, C_in padded)`` -> ``QActivation (N, OH, OW, C_out)``.
    """

    def __init__(
        self, weight, weight_scale, bias, clamp_min, clamp_max, scale, zero_point, stride=1, padding=0, dilation=1
    ):
        super().__init__()
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self._init_state(weight, weight_scale, bias, clamp_min, clamp_max, scale, zero_point)

    def _weight_matrix(self):
        return self.weight.numpy()

    def _shape_repr(self):
        c_out, c_in, kh, kw = self.weight.shape
        return f"{c_in}, {c_out}, kernel_size={(kh, kw)}, stride={self.stride}, padding={self.padding}"

    def forward(self, x):
        _, c_in, kh, kw = self.weight.shape
        if x.data.ndim != 4 or x.channels != c_in:
            raise ValueError(
                f"{type(self).__name__}({self._shape_repr()}): expected a quantised map with {c_in} "
                f"channels, got shape {x.data.shape[:-1] + (x.channels,)} (N, H, W, C)"
            )
        n, h, w, c = x.data.shape
        (ph, pw), (sh, sw), (dh, dw) = self.padding, self.stride, self.dilation
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        if ph or pw:
            xp = np.full((n, h + 2 * ph, w + 2 * pw, c), x.zero_point, np.uint8)
            xp[:, ph : ph + h, pw : pw + w] = x.data
        else:
            xp = np.ascontiguousarray(x.data)
        out = self._run(xp, (oh, ow), (sh, sw), (dh, dw), x)
        return QActivation(out, self.scale.item(), self.zero_point.item())


class QuantizedLinear(_QuantizedWeighted):
    """An int8 fully connected layer with its folded BatchNorm1d/ReLU (buffers as
    :class:`QuantizedConv2d`, ``weight`` int8 ``(out_features, in_features)``).

    Shape: ``QActivation (N, in_features)`` -> ``QActivation (N, out_features)``.
    """

    def __init__(self, weight, weight_scale, bias, clamp_min, clamp_max, scale, zero_point):
        super().__init__()
        self._init_state(weight, weight_scale, bias, clamp_min, clamp_max, scale, zero_point)

    def _weight_matrix(self):
        w = self.weight.numpy()
        return w.reshape(*w.shape, 1, 1)

    def _shape_repr(self):
        return f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}"

    def forward(self, x):
        in_features = self.weight.shape[1]
        if x.data.ndim != 2 or x.channels != in_features:
            raise ValueError(
                f"{type(self).__name__}({self._shape_repr()}): expected quantised input (N, "
                f"{in_features}), got shape {x.data.shape[:-1] + (x.channels,)}"
            )
        # the batch as rows of _LINEAR_ROWS "pixels" of one-pixel-high "images": a kernel tile then
        # covers that many samples, and the rows are what the threads share
        n, f = x.data.shape
        rows = -(-n // _LINEAR_ROWS)
        xp = np.full((rows * _LINEAR_ROWS, _round_up(f, 4)), x.zero_point, np.uint8)
        xp[:n, :f] = x.data
        out = self._run(xp.reshape(rows, 1, _LINEAR_ROWS, -1), (1, _LINEAR_ROWS), (1, 1), (1, 1), x)
        return QActivation(out.reshape(rows * _LINEAR_ROWS, -1)[:n], self.scale.item(), self.zero_point.item())


class QuantizedMaxPool2d(Module):
    """Max pooling of the codes (same scale and zero point), as PyTorch's quantised max_pool2d."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = _pair(kernel_size), _pair(kernel_size if stride is None else stride)
        self.padding, self.dilation, self.ceil_mode = _pair(padding), _pair(dilation), bool(ceil_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _out_size(self, size, k, s, p, d):
        span = size + 2 * p - d * (k - 1) - 1
        out = (-(-span // s) if self.ceil_mode else span // s) + 1
        if self.ceil_mode and (out - 1) * s >= size + p:
            out -= 1
        return out

    def forward(self, x):
        n, h, w, c = x.data.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        oh, ow = self._out_size(h, kh, sh, ph, dh), self._out_size(w, kw, sw, pw, dw)
        need_h, need_w = (oh - 1) * sh + dh * (kh - 1) + 1, (ow - 1) * sw + dw * (kw - 1) + 1
        if ph or pw or need_h > h or need_w > w:  # code 0 is below every value a window can hold
            xp = np.zeros((n, max(h + 2 * ph, need_h), max(w + 2 * pw, need_w), c), np.uint8)
            xp[:, ph : ph + h, pw : pw + w] = x.data
        else:
            xp = x.data
        out = None
        for p in range(kh):
            for q in range(kw):
                window = xp[:, p * dh : p * dh + sh * (oh - 1) + 1 : sh, q * dw : q * dw + sw * (ow - 1) + 1 : sw]
                out = window.copy() if out is None else np.maximum(out, window, out=out)
        return QActivation(out, x.scale, x.zero_point, x.channels)


class QuantizedFlatten(Module):
    """``(N, H, W, C)`` codes -> ``(N, C*H*W)`` in PyTorch's ``(c, h, w)`` order (one small
    uint8 copy; the next layer's weight stays as trained)."""

    def forward(self, x):
        if x.data.ndim == 2:
            return x
        data = x.data[..., : x.channels].transpose(0, 3, 1, 2)
        return QActivation(np.ascontiguousarray(data).reshape(data.shape[0], -1), x.scale, x.zero_point)


class QuantizedReLU(Module):
    """ReLU on codes: ``max(q, zero_point)``."""

    def forward(self, x):
        return QActivation(np.maximum(x.data, np.uint8(x.zero_point)), x.scale, x.zero_point, x.channels)


class QuantizedSequential(Module):
    """The quantised model: ``Quantize`` -> int8 layers -> ``DeQuantize``, float Tensor in and out.

    Its ``state_dict`` holds int8 weights and float32 scales, so ``convlab.save`` writes a file
    about 4x smaller than the float model's.
    """

    def __init__(self, modules):
        super().__init__()
        for name, module in modules:
            self.add_module(name, module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x
