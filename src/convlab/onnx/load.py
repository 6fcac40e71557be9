"""``convlab.onnx.load``: an ONNX file as a convlab ``Module``.

The graph's floating-point initialisers become the module's parameters (those that feed a
BatchNormalization's running statistics become buffers), under their ONNX names: names such as
``layer1.0.conv1.weight`` (convlab's and PyTorch's exports) give the same ``state_dict`` keys as
the original model; others are made valid attribute names. ``forward`` runs the graph's nodes in
order with convlab's differentiable ops, so a loaded model can be fine-tuned. Shape arithmetic
(``Shape``, ``Gather`` of a shape, ``Concat`` of sizes, as PyTorch's exporter writes for dynamic
axes) runs on NumPy integer arrays beside the Tensors.

Loading never executes code from the file: only the operators listed in :data:`SUPPORTED` are
accepted, and a graph using any other is refused with one error naming them all.
"""

from __future__ import annotations

import itertools
import math
import os
import re

import numpy as np

from .. import functions
from ..nn import functional as F
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor
from .export import UnsupportedOperatorError, _onnx

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _np(v):
    """A value as a NumPy array (shapes, axes, pads, scales)."""
    return v.numpy() if isinstance(v, Tensor) else np.asarray(v)


def _t(v, like=None):
    """A value as a Tensor (a NumPy constant takes ``like``'s floating dtype)."""
    if isinstance(v, Tensor):
        return v
    a = np.asarray(v)
    if like is not None and a.dtype.kind == "f":
        a = a.astype(like.dtype)
    return Tensor(a)


def _both_numpy(*vs):
    return all(not isinstance(v, Tensor) for v in vs)


def _binary(np_fn, tensor_fn):
    def run(m, ins, at):
        a, b = ins
        if _both_numpy(a, b):
            return np_fn(np.asarray(a), np.asarray(b))
        like = a if isinstance(a, Tensor) else b
        return tensor_fn(_t(a, like), _t(b, like))

    return run


def _unary(fn):
    return lambda m, ins, at: fn(_t(ins[0]))


def _spatial_pads(at, n, who):
    pads = list(at.get("pads", [0] * 2 * n))
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise UnsupportedOperatorError(f"{who}: auto_pad={at['auto_pad']!r} (explicit pads only)")
    return pads[:n], pads[n:]


def _conv(m, ins, at):
    x, w = _t(ins[0]), _t(ins[1])
    b = _t(ins[2]) if len(ins) > 2 and ins[2] is not None else None
    n = w.ndim - 2
    lo, hi = _spatial_pads(at, n, "Conv")
    if lo != hi:  # asymmetric: pad explicitly, then convolve without padding
        x = F.pad(x, [p for pair in zip(reversed(lo), reversed(hi)) for p in pair])
        lo = [0] * n
    conv = (F.conv1d, F.conv2d, F.conv3d)[n - 1]
    return conv(
        x, w, b, stride=tuple(at.get("strides", [1] * n)), padding=tuple(lo),
        dilation=tuple(at.get("dilations", [1] * n)), groups=int(at.get("group", 1)),
    )  # fmt: skip


def _conv_transpose(m, ins, at):
    x, w = _t(ins[0]), _t(ins[1])
    b = _t(ins[2]) if len(ins) > 2 and ins[2] is not None else None
    n = w.ndim - 2
    lo, hi = _spatial_pads(at, n, "ConvTranspose")
    if "output_shape" in at:
        raise UnsupportedOperatorError("ConvTranspose: output_shape (give pads and output_padding)")
    if lo != hi:
        raise UnsupportedOperatorError("ConvTranspose: asymmetric pads")
    convt = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[n - 1]
    return convt(
        x, w, b, stride=tuple(at.get("strides", [1] * n)), padding=tuple(lo),
        output_padding=tuple(at.get("output_padding", [0] * n)), groups=int(at.get("group", 1)),
        dilation=tuple(at.get("dilations", [1] * n)),
    )  # fmt: skip


def _max_pool(m, ins, at):
    x = _t(ins[0])
    k = list(at["kernel_shape"])
    n = len(k)
    lo, hi = _spatial_pads(at, n, "MaxPool")
    if len(at.get("_outputs", [])) > 1:
        raise UnsupportedOperatorError("MaxPool: the Indices output")
    if lo != hi:  # extra end padding never wins a max: pad with -inf
        x = F.pad(x, [p for pair in zip(reversed(lo), reversed(hi)) for p in pair], value=-math.inf)
        lo = [0] * n
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[n - 1]
    return pool(
        x, tuple(k), stride=tuple(at.get("strides", [1] * n)), padding=tuple(lo),
        dilation=tuple(at.get("dilations", [1] * n)), ceil_mode=bool(at.get("ceil_mode", 0)),
    )  # fmt: skip


def _avg_pool(m, ins, at):
    x = _t(ins[0])
    k = list(at["kernel_shape"])
    n = len(k)
    lo, hi = _spatial_pads(at, n, "AveragePool")
    include = bool(at.get("count_include_pad", 0))
    ceil = bool(at.get("ceil_mode", 0))
    stride = tuple(at.get("strides", [1] * n))
    if lo != hi:
        if include:
            raise UnsupportedOperatorError("AveragePool: asymmetric pads with count_include_pad=1")
        # the windows' extra end overhang (padding not counted) is PyTorch's ceil mode
        floor_out = [(s + a + b - kk) // st + 1 for s, a, b, kk, st in zip(x.shape[2:], lo, hi, k, stride)]
        ceil_out = [-(-(s + 2 * a - kk) // st) + 1 for s, a, kk, st in zip(x.shape[2:], lo, k, stride)]
        if floor_out != ceil_out:
            raise UnsupportedOperatorError("AveragePool: asymmetric pads")
        ceil = True
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
    return pool(x, tuple(k), stride=stride, padding=tuple(lo), ceil_mode=ceil, count_include_pad=include)


def _global(kind):
    def run(m, ins, at):
        x = _t(ins[0])
        dims = tuple(range(2, x.ndim))
        return x.mean(dims, keepdim=True) if kind == "avg" else x.amax(dims, keepdim=True)

    return run


def _batch_norm(m, ins, at):
    x, scale, bias, mean, var = (_t(v) for v in ins[:5])
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=float(at.get("epsilon", 1e-5)))


def _layer_norm(m, ins, at):
    x, scale = _t(ins[0]), _t(ins[1])
    bias = _t(ins[2]) if len(ins) > 2 and ins[2] is not None else None
    axis = int(at.get("axis", -1)) % x.ndim
    return F.layer_norm(x, tuple(x.shape[axis:]), scale, bias, eps=float(at.get("epsilon", 1e-5)))


def _instance_norm(m, ins, at):
    x, scale, bias = (_t(v) for v in ins[:3])
    return F.instance_norm(x, weight=scale, bias=bias, eps=float(at.get("epsilon", 1e-5)))


def _lrn(m, ins, at):
    return F.local_response_norm(
        _t(ins[0]), int(at["size"]), alpha=float(at.get("alpha", 1e-4)), beta=float(at.get("beta", 0.75)),
        k=float(at.get("bias", 1.0)),
    )  # fmt: skip


def _clip(m, ins, at):
    x = _t(ins[0])
    lo = ins[1] if len(ins) > 1 else at.get("min")
    hi = ins[2] if len(ins) > 2 else at.get("max")
    lo = None if lo is None else float(_np(lo))
    hi = None if hi is None else float(_np(hi))
    return x.clamp(lo, hi)


def _hard_sigmoid(m, ins, at):
    x = _t(ins[0])
    return (x * float(at.get("alpha", 0.2)) + float(at.get("beta", 0.5))).clamp(0.0, 1.0)


def _prelu(m, ins, at):
    x, slope = _t(ins[0]), _t(ins[1])
    return functions.where(x >= 0, x, x * slope)


def _erf(m, ins, at):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), built from differentiable ops
    x = _t(ins[0])
    sign = functions.where(x >= 0, Tensor(np.ones((), x.dtype)), Tensor(-np.ones((), x.dtype)))
    a = x.abs()
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * (-(a * a)).exp())


def _softmax(fn):
    return lambda m, ins, at: fn(_t(ins[0]), dim=int(at.get("axis", -1)))


def _gemm(m, ins, at):
    a, b = _t(ins[0]), _t(ins[1])
    if at.get("transA", 0):
        a = a.t()
    if at.get("transB", 0):
        b = b.t()
    y = a @ b
    alpha = float(at.get("alpha", 1.0))
    if alpha != 1.0:
        y = y * alpha
    if len(ins) > 2 and ins[2] is not None:
        beta = float(at.get("beta", 1.0))
        c = _t(ins[2], y)
        y = y + (c if beta == 1.0 else c * beta)
    return y


def _matmul(m, ins, at):
    a, b = ins
    like = a if isinstance(a, Tensor) else b
    return _t(a, like) @ _t(b, like)


def _flatten(m, ins, at):
    x = ins[0]
    axis = int(at.get("axis", 1)) % max(len(x.shape), 1) if len(x.shape) else 0
    shape = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return x.reshape(shape)


def _reshape(m, ins, at):
    x, shape = ins[0], [int(s) for s in _np(ins[1])]
    if not at.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(tuple(shape))


def _transpose(m, ins, at):
    x = ins[0]
    perm = at.get("perm", list(reversed(range(len(x.shape)))))
    return x.permute(*perm) if isinstance(x, Tensor) else np.transpose(x, perm)


def _concat(m, ins, at):
    axis = int(at["axis"])
    if _both_numpy(*ins):
        return np.concatenate([np.asarray(v) for v in ins], axis=axis)
    like = next(v for v in ins if isinstance(v, Tensor))
    return functions.cat([_t(v, like) for v in ins], axis)


def _axes_arg(ins, at, position):
    if len(ins) > position and ins[position] is not None:
        return [int(a) for a in _np(ins[position])]
    return at.get("axes")


def _slice(m, ins, at):
    x = ins[0]
    ndim = len(x.shape)
    starts, ends = _np(ins[1]), _np(ins[2])
    axes = _axes_arg(ins, at, 3)
    axes = list(range(len(starts))) if axes is None else axes
    steps = _np(ins[4]) if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), np.int64)
    index = [slice(None)] * ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = int(a) % ndim
        n = x.shape[a]
        s, e, st = int(s), int(e), int(st)
        s = max(min(s + n if s < 0 else s, n - (st < 0)), 0)
        e = e + n if e < 0 else e
        e = max(min(e, n), -1) if st < 0 else min(e, n)
        index[a] = slice(s, None if e < 0 else e, st)
    return x[tuple(index)]


def _gather(m, ins, at):
    x, index = ins[0], _np(ins[1]).astype(np.int64)
    axis = int(at.get("axis", 0)) % len(x.shape)
    index = np.where(index < 0, index + x.shape[axis], index)
    if isinstance(x, Tensor):
        return x[(slice(None),) * axis + (index,)]
    return np.take(x, index, axis=axis)


def _squeeze(m, ins, at):
    x = ins[0]
    axes = _axes_arg(ins, at, 1)
    if axes is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    shape = [n for i, n in enumerate(x.shape) if i not in {a % len(x.shape) for a in axes}]
    return x.reshape(tuple(shape))


def _unsqueeze(m, ins, at):
    x = ins[0]
    axes = _axes_arg(ins, at, 1)
    rank = len(x.shape) + len(axes)
    shape = list(x.shape)
    for a in sorted(a % rank for a in axes):
        shape.insert(a, 1)
    return x.reshape(tuple(shape))


def _pad(m, ins, at):
    x = _t(ins[0])
    pads = [int(p) for p in _np(ins[1])]
    value = float(_np(ins[2])) if len(ins) > 2 and ins[2] is not None else 0.0
    if len(ins) > 3 and ins[3] is not None:
        raise UnsupportedOperatorError("Pad: the axes input")
    mode = at.get("mode", "constant")
    n = x.ndim
    lo, hi = pads[:n], pads[n:]
    # F.pad takes (last_lo, last_hi, previous_lo, ...) for the trailing dims that are padded
    first = next((i for i in range(n) if lo[i] or hi[i]), n)
    torch_pads = [p for i in reversed(range(first, n)) for p in (lo[i], hi[i])]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}.get(mode)
    if mode is None:
        raise UnsupportedOperatorError(f"Pad: mode {at.get('mode')!r}")
    return F.pad(x, torch_pads, mode=mode, value=value) if torch_pads else x


def _resize(m, ins, at):
    x = _t(ins[0])
    n = x.ndim - 2
    sizes = ins[3] if len(ins) > 3 else None
    scales = ins[2] if len(ins) > 2 else None
    if sizes is not None and np.asarray(_np(sizes)).size:
        out = tuple(int(s) for s in _np(sizes)[2:])
    else:
        factors = [float(s) for s in _np(scales)]
        out = tuple(math.floor(s * f) for s, f in zip(x.shape[2:], factors[2:]))
    mode = at.get("mode", "nearest")
    transform = at.get("coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        if transform != "asymmetric" or at.get("nearest_mode", "round_prefer_floor") != "floor":
            raise UnsupportedOperatorError(f"Resize: nearest with {transform}/{at.get('nearest_mode')}")
        return F.interpolate(x, size=out, mode="nearest")
    if mode == "linear" and transform in ("align_corners", "pytorch_half_pixel", "half_pixel"):
        linear = ("linear", "bilinear", "trilinear")[n - 1]
        return F.interpolate(x, size=out, mode=linear, align_corners=transform == "align_corners")
    raise UnsupportedOperatorError(f"Resize: mode {mode!r} with {transform!r}")


def _reduce(kind):
    def run(m, ins, at):
        x = _t(ins[0])
        axes = _axes_arg(ins, at, 1) if kind == "sum" else at.get("axes")
        keep = bool(at.get("keepdims", 1))
        if axes is None:
            axes = list(range(x.ndim))
        dims = tuple(int(a) % x.ndim for a in axes)
        if kind == "mean":
            return x.mean(dims, keepdim=keep)
        if kind == "sum":
            return x.sum(dims, keepdim=keep)
        return x.amax(dims, keepdim=keep) if kind == "max" else x.amin(dims, keepdim=keep)

    return run


def _cast(m, ins, at):
    onnx = _onnx()
    dtype = onnx.helper.tensor_dtype_to_np_dtype(int(at["to"]))
    x = ins[0]
    return x.to(dtype) if isinstance(x, Tensor) else np.asarray(x).astype(dtype)


def _expand(m, ins, at):
    x, shape = ins[0], [int(s) for s in _np(ins[1])]
    rank = max(len(x.shape), len(shape))
    full_in = (1,) * (rank - len(x.shape)) + tuple(x.shape)
    full = (1,) * (rank - len(shape)) + tuple(shape)
    target = tuple(a if b == 1 else b for a, b in zip(full_in, full))
    if isinstance(x, Tensor):
        return x.reshape(full_in).expand(*target)
    return np.broadcast_to(x, target).copy()


def _tile(m, ins, at):
    return _t(ins[0]).repeat(*[int(r) for r in _np(ins[1])])


def _where(m, ins, at):
    cond, a, b = ins
    if _both_numpy(cond, a, b):
        return np.where(cond, a, b)
    like = a if isinstance(a, Tensor) else b
    return functions.where(_t(cond), _t(a, like), _t(b, like))


def _depth_to_space(m, ins, at):
    if at.get("mode", "DCR") != "CRD":
        raise UnsupportedOperatorError("DepthToSpace: mode DCR (CRD is PyTorch's pixel_shuffle)")
    return F.pixel_shuffle(_t(ins[0]), int(at["blocksize"]))


def _split(m, ins, at):
    x = ins[0]
    axis = int(at.get("axis", 0)) % len(x.shape)
    split = _axes_arg(ins, at, 1) if len(ins) > 1 else at.get("split")
    n_out = at["_n_outputs"]
    if split is None:
        size = -(-x.shape[axis] // n_out)
        split = [min(size, x.shape[axis] - i * size) for i in range(n_out)]
    bounds = np.cumsum([0] + list(split))
    return tuple(x[(slice(None),) * axis + (slice(int(a), int(b)),)] for a, b in itertools.pairwise(bounds))


def _identity(m, ins, at):
    return ins[0]


def _shape(m, ins, at):
    shape = np.asarray(ins[0].shape, dtype=np.int64)
    start, end = at.get("start", 0), at.get("end")
    return shape[start:end]


_OPS = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _max_pool,
    "AveragePool": _avg_pool,
    "GlobalAveragePool": _global("avg"),
    "GlobalMaxPool": _global("max"),
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "InstanceNormalization": _instance_norm,
    "LRN": _lrn,
    "Relu": _unary(F.relu),
    "LeakyRelu": lambda m, ins, at: F.leaky_relu(_t(ins[0]), float(at.get("alpha", 0.01))),
    "Elu": lambda m, ins, at: F.elu(_t(ins[0]), float(at.get("alpha", 1.0))),
    "Sigmoid": _unary(F.sigmoid),
    "Tanh": _unary(F.tanh),
    "Softplus": _unary(F.softplus),
    "HardSwish": _unary(F.hardswish),
    "HardSigmoid": _hard_sigmoid,
    "PRelu": _prelu,
    "Erf": _erf,
    "Clip": _clip,
    "Softmax": _softmax(F.softmax),
    "LogSoftmax": _softmax(F.log_softmax),
    "Add": _binary(np.add, lambda a, b: a + b),
    "Sub": _binary(np.subtract, lambda a, b: a - b),
    "Mul": _binary(np.multiply, lambda a, b: a * b),
    "Div": _binary(lambda a, b: a // b if a.dtype.kind in "iu" else a / b, lambda a, b: a / b),
    "Pow": _binary(np.power, lambda a, b: a**b),
    "Max": _binary(np.maximum, functions.maximum),
    "Min": _binary(np.minimum, functions.minimum),
    "Neg": _unary(lambda x: -x),
    "Exp": _unary(lambda x: x.exp()),
    "Log": _unary(lambda x: x.log()),
    "Sqrt": _unary(lambda x: x.sqrt()),
    "Abs": _unary(lambda x: x.abs()),
    "Sin": _unary(lambda x: x.sin()),
    "Cos": _unary(lambda x: x.cos()),
    "Where": _where,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Concat": _concat,
    "Slice": _slice,
    "Gather": _gather,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Pad": _pad,
    "Resize": _resize,
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"),
    "Cast": _cast,
    "Expand": _expand,
    "Tile": _tile,
    "DepthToSpace": _depth_to_space,
    "Split": _split,
    "Identity": _identity,
    "Dropout": _identity,  # inference: the identity (its mask output is not supported)
    "Shape": _shape,
}

#: The ONNX operators :func:`load` accepts (default domain).
SUPPORTED = tuple(sorted(_OPS) + ["Constant"])

# Inputs of these operators that hold running statistics: buffers, not parameters.
_BUFFER_INPUTS = {"BatchNormalization": (3, 4)}


class ONNXModule(Module):
    """A convlab ``Module`` running an ONNX graph (made by :func:`load`).

    ``forward(*inputs)`` takes the graph's inputs in order and returns its output (a tuple when
    the graph has several). ``input_names`` / ``output_names`` are the graph's names.
    """

    def __init__(self, graph, params, buffers, constants, nodes, input_names, output_names):
        super().__init__()
        self.graph_name = graph
        self._node_list = nodes  # (op_type, inputs, outputs, attributes)
        self._constants = constants  # integer initialisers and Constant nodes: NumPy arrays
        self.input_names, self.output_names = list(input_names), list(output_names)
        self._value_owner = {}
        for kind, table in (("param", params), ("buffer", buffers)):
            for name, array in table.items():
                self._value_owner[name] = self._register_value(name, array, kind)

    def _register_value(self, name, array, kind):
        """Register under the dotted ONNX name (child modules for its prefixes) when every part
        is a valid attribute name; else under a sanitised flat name. Returns (module, attr)."""
        parts = name.split(".")
        if (
            not all(_NAME.match(p) or p.isdigit() for p in parts)
            or parts[0] in self.__dict__
            or hasattr(Module, parts[0])
        ):
            parts = [re.sub(r"\W", "_", name).lstrip("_0123456789") or "value"]
            while parts[0] in self._parameters or parts[0] in self._buffers or parts[0] in self._modules:
                parts[0] += "_"
        owner = self
        for p in parts[:-1]:
            child = owner._modules.get(p)
            if child is None:
                child = Module()
                owner.add_module(p, child)
            owner = child
        leaf = parts[-1]
        if kind == "param":
            owner.register_parameter(leaf, Parameter(Tensor(array)))
        else:
            owner.register_buffer(leaf, Tensor(array))
        return owner, leaf

    def extra_repr(self) -> str:
        return f"graph={self.graph_name!r}, nodes={len(self._node_list)}, inputs={self.input_names}, outputs={self.output_names}"

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(
                f"ONNXModule({self.graph_name!r}): expected {len(self.input_names)} input(s) "
                f"{self.input_names}, got {len(inputs)}"
            )
        env = dict(self._constants)
        for name, (owner, attr) in self._value_owner.items():
            env[name] = getattr(owner, attr)
        for name, x in zip(self.input_names, inputs):
            env[name] = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        env[""] = None
        for op_type, ins, outs, attrs in self._node_list:
            result = _OPS[op_type](self, [env[i] for i in ins], attrs)
            if len(outs) == 1:
                env[outs[0]] = result
            else:
                results = result if isinstance(result, tuple) else (result,)
                for name, value in zip(outs, results):
                    env[name] = value
        outputs = tuple(_t(env[n]) for n in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs


def _attributes(onnx, node):
    attrs = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        attrs[a.name] = v.decode() if isinstance(v, bytes) else v
    return attrs


def load(path):
    """Build a convlab ``Module`` from an ONNX file (or ``onnx.ModelProto``).

    Args:
        path: the ``.onnx`` file, bytes of one, or an ``onnx.ModelProto``.

    Returns:
        an :class:`ONNXModule` in eval mode whose parameters are the graph's floating-point
        initialisers (named as in the graph).

    Raises:
        UnsupportedOperatorError: naming every operator of the graph that convlab cannot run.

    Example::

        >>> net = convlab.onnx.load("resnet18.onnx")
        >>> logits = net(convlab.randn(2, 3, 224, 224))
    """
    onnx = _onnx()
    who = "convlab.onnx.load()"
    if isinstance(path, onnx.ModelProto):
        proto = path
    elif isinstance(path, (bytes, bytearray)):
        proto = onnx.load_from_string(bytes(path))
    elif isinstance(path, (str, os.PathLike)):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{who}: no file '{os.fspath(path)}'")
        proto = onnx.load(os.fspath(path))
    else:
        raise TypeError(f"{who}: expected a path, bytes or an onnx.ModelProto, got {type(path).__name__}")
    graph = proto.graph
    bad = sorted(
        {
            f"{n.domain + '::' if n.domain not in ('', 'ai.onnx') else ''}{n.op_type}"
            for n in graph.node
            if n.domain not in ("", "ai.onnx") or (n.op_type not in _OPS and n.op_type != "Constant")
        }
    )
    if bad:
        raise UnsupportedOperatorError(
            f"{who}: graph {graph.name!r} uses {len(bad)} operator(s) convlab cannot run: {', '.join(bad)} "
            f"(supported: {', '.join(SUPPORTED)})"
        )
    buffer_names = {n.input[i] for n in graph.node for i in _BUFFER_INPUTS.get(n.op_type, ()) if i < len(n.input)}
    params, buffers, constants = {}, {}, {}
    for init in graph.initializer:
        array = onnx.numpy_helper.to_array(init).copy()
        if array.dtype.kind == "f":
            (buffers if init.name in buffer_names else params)[init.name] = array
        else:
            constants[init.name] = array
    nodes = []
    for n in graph.node:
        attrs = _attributes(onnx, n)
        if n.op_type == "Constant":
            value = attrs.get("value")
            if value is None:
                for key in ("value_float", "value_int", "value_floats", "value_ints"):
                    if key in attrs:
                        value = np.asarray(attrs[key], dtype=np.float32 if "float" in key else np.int64)
            else:
                value = onnx.numpy_helper.to_array(value).copy()
            if value is None:
                raise UnsupportedOperatorError(f"{who}: Constant node {n.name!r} with attributes {sorted(attrs)}")
            constants[n.output[0]] = Tensor(value) if value.dtype.kind == "f" else value
            continue
        attrs["_n_outputs"] = len(n.output)
        attrs["_outputs"] = [o for o in n.output if o]
        nodes.append((n.op_type, list(n.input), list(n.output), attrs))
    initialised = {i.name for i in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in initialised]
    module = ONNXModule(graph.name, params, buffers, constants, nodes, inputs, [o.name for o in graph.output])
    return module.eval()


__all__ = ["SUPPORTED", "ONNXModule", "load"]
