"""``convlab.onnx.export``: trace a model through convlab's ops and write an ONNX graph.

Each op class the trace records has a converter here that emits the equivalent ONNX node(s)
from the op's arguments and options (the same ``kwargs`` its ``forward`` receives: a
convolution's :class:`~convlab.ops.conv.ConvGeometry`, a pool's window geometry, a resample's
taps, ...). Parameters and buffers become initialisers named by their ``state_dict`` keys;
other constants (Python numbers, arrays built in ``forward``) get generated names. An op whose
Tensor inputs are all constants is folded into a constant when ``do_constant_folding``.

Shapes in the graph keep the batch dimension free: a reshape copies it (``0``), an expand
broadcasts over it, a resize takes its size from the input's shape; so an export with
``dynamic_axes`` on the batch runs at any batch size.
"""

from __future__ import annotations

import inspect
import io
import math
import os

import numpy as np

from ..io.atomic import write_atomically
from ..ops import activation as _act
from ..ops import conv as _conv_ops
from ..ops import dropout as _dropout
from ..ops import elementwise as _elem
from ..ops import indexing as _index
from ..ops import matmul as _matmul
from ..ops import norm as _norm
from ..ops import pad as _pad
from ..ops import pool as _pool
from ..ops import reduce as _reduce
from ..ops import shape as _shape
from ..ops import upsample as _upsample
from ..tensor import Tensor
from ._trace import flatten_outputs, run_traced

_INT64_MAX = np.iinfo(np.int64).max

# ONNX's first opset with the operators and attribute forms emitted here (LayerNormalization).
MIN_OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError as e:  # an optional dependency: pip install convlab[onnx]
        raise ImportError("convlab.onnx needs the 'onnx' package: pip install 'convlab[onnx]'") from e
    return onnx


class UnsupportedOperatorError(RuntimeError):
    """Raised when a traced op (or an ONNX operator, on import) has no counterpart."""


class _Exporter:
    """Builds the ONNX graph while the model runs (``on_op`` is called after each op)."""

    def __init__(self, model, do_constant_folding):
        self.onnx = _onnx()
        self.fold = do_constant_folding
        self.nodes, self.initializers = [], []
        self.names = {}  # id(Tensor) -> value name (graph values: dynamic; the rest: constants)
        self.dynamic = set()  # value names computed from the graph inputs
        self.keep = []  # every Tensor named, so that no id is reused during the trace
        self.known = {}  # id(Tensor or its array) -> state_dict key, for parameters and buffers
        named = list(model.named_parameters()) + list(model.named_buffers()) if hasattr(model, "named_buffers") else []
        for key, t in named:
            self.known.setdefault(id(t), key)
            self.known.setdefault(id(t.data), key)
        self.const_names = {}  # id(array) -> initializer name already emitted
        self.counter = 0
        self.scope = []
        self.errors = []

    # ------------------------------------------------------------------ values
    def fresh(self, stem):
        self.counter += 1
        return f"{stem}_{self.counter}"

    def bind(self, t, name, dynamic):
        self.names[id(t)] = name
        self.keep.append(t)
        if dynamic:
            self.dynamic.add(name)

    def const(self, array, hint="const"):
        """The name of an initialiser holding ``array`` (a parameter or buffer keeps its key)."""
        key = id(array)
        if key in self.const_names:
            return self.const_names[key]
        value = np.array(array.get() if hasattr(array, "get") else array, order="C")  # (CuPy arrays to host)
        name = self.known.get(key)
        if name is None and value.size <= 16:  # small constants (scalars, shapes) are shared
            key = (value.dtype.str, value.shape, value.tobytes())
            if key in self.const_names:
                return self.const_names[key]
        name = name or self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(value, name))
        self.const_names[key] = name
        self.keep.append(array)
        return name

    def ints(self, values, hint="shape"):
        return self.const(np.asarray(values, dtype=np.int64), hint)

    def value(self, arg, like=None):
        """The graph value for an op argument: a traced Tensor, a parameter, or a constant
        (a Python number takes the dtype of ``like``, the op's output)."""
        if isinstance(arg, Tensor):
            name = self.names.get(id(arg))
            if name is not None:
                return name
            name = self.const(arg.data, "const")
            self.bind(arg, name, False)
            return name
        array = np.asarray(arg, dtype=None if like is None else like.dtype)
        return self.const(array, "scalar")

    def node(self, op_type, inputs, n_outputs=1, **attrs):
        outputs = [self.fresh(f"{op_type}") for _ in range(n_outputs)]
        self.nodes.append(
            self.onnx.helper.make_node(op_type, list(inputs), outputs, name=self.fresh(f"/{op_type}"), **attrs)
        )
        return outputs[0] if n_outputs == 1 else outputs

    # ------------------------------------------------------------------ tracing callback
    def on_op(self, cls, args, kwargs, out):
        args, kwargs = _normalized(cls, args, kwargs)
        tensors = [a for a in args if isinstance(a, Tensor)]
        outs = out if type(out) is tuple else (out,)
        dynamic = any(self.names.get(id(t)) in self.dynamic for t in tensors)
        if not dynamic and self.fold:
            return  # a constant: its value is emitted where a graph op uses it
        converter = _CONVERTERS.get(cls)
        where = self.scope[-1] if self.scope else "<model>"
        if converter is None:
            self.errors.append(f"{where}: op {cls.__name__} has no ONNX operator")
            for o in outs:
                self.bind(o, self.fresh("unsupported"), True)
            return
        try:
            names = converter(self, args, kwargs, out)
        except UnsupportedOperatorError as e:
            self.errors.append(f"{where}: op {cls.__name__}: {e}")
            names = [self.fresh("unsupported") for _ in outs]
        if isinstance(names, str):
            names = [names]
        for o, name in zip(outs, names):
            if isinstance(o, Tensor):
                self.bind(o, name, True)


# ---------------------------------------------------------------------------------- converters
_SIGNATURES = {}


def _normalized(cls, args, kwargs):
    """An op's arguments as its ``forward`` sees them, however the caller passed them:
    ``args``, every argument before the keyword-only ones in order (``*xs`` spread out), and
    ``kwargs``, every argument by name."""
    sig = _SIGNATURES.get(cls)
    if sig is None:
        sig = _SIGNATURES[cls] = inspect.signature(cls.forward)
    bound = sig.bind(None, *args, **kwargs)
    bound.apply_defaults()
    named = dict(list(bound.arguments.items())[1:])
    positional = []
    for name, param in list(sig.parameters.items())[1:]:
        if param.kind == param.VAR_POSITIONAL:
            positional.extend(named.get(name, ()))
        elif param.kind == param.POSITIONAL_OR_KEYWORD:
            positional.append(named[name])
    return tuple(positional), named


def _simple(op_type, **attrs):
    def convert(ex, args, kwargs, out):
        return ex.node(op_type, [ex.value(args[0])], **attrs)

    return convert


def _binary(op_type):
    def convert(ex, args, kwargs, out):
        return ex.node(op_type, [ex.value(args[0], out.data), ex.value(args[1], out.data)])

    return convert


def _scalar(ex, value, out):
    return ex.const(np.asarray(value, dtype=out.data.dtype), "scalar")


def _leaky_relu(ex, args, kwargs, out):
    return ex.node("LeakyRelu", [ex.value(args[0])], alpha=float(args[1]))


def _elu(ex, args, kwargs, out):
    return ex.node("Elu", [ex.value(args[0])], alpha=float(args[1]))


def _gelu(ex, args, kwargs, out):
    x, approximate = ex.value(args[0]), args[1]
    half = ex.node("Mul", [x, _scalar(ex, 0.5, out)])
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = ex.node("Mul", [ex.node("Pow", [x, _scalar(ex, 3.0, out)]), _scalar(ex, 0.044715, out)])
        inner = ex.node("Mul", [ex.node("Add", [x, cube]), _scalar(ex, math.sqrt(2 / math.pi), out)])
        return ex.node("Mul", [half, ex.node("Add", [ex.node("Tanh", [inner]), _scalar(ex, 1.0, out)])])
    erf = ex.node("Erf", [ex.node("Div", [x, _scalar(ex, math.sqrt(2.0), out)])])
    return ex.node("Mul", [half, ex.node("Add", [erf, _scalar(ex, 1.0, out)])])


def _silu(ex, args, kwargs, out):
    x = ex.value(args[0])
    return ex.node("Mul", [x, ex.node("Sigmoid", [x])])


def _clip(ex, args, kwargs, out):
    lo, hi = args[1], args[2]
    bound = [ex.value(args[0])]
    bound.append("" if lo is None else ex.value(lo, out.data))
    if hi is not None:
        bound.append(ex.value(hi, out.data))
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):  # elementwise bounds: Max/Min broadcast
        y = bound[0]
        if lo is not None:
            y = ex.node("Max", [y, bound[1]])
        if hi is not None:
            y = ex.node("Min", [y, bound[-1]])
        return y
    return ex.node("Clip", bound)


def _softplus(ex, args, kwargs, out):
    x, beta = ex.value(args[0]), float(args[1])
    if beta == 1.0:
        return ex.node("Softplus", [x])
    scaled = ex.node("Softplus", [ex.node("Mul", [x, _scalar(ex, beta, out)])])
    return ex.node("Div", [scaled, _scalar(ex, beta, out)])


def _prelu(ex, args, kwargs, out):
    x, weight = args[0], args[1]
    w = ex.value(weight)
    if weight.ndim == 1 and weight.shape[0] > 1 and x.ndim > 2:  # per channel: (C,) -> (C, 1, ..., 1)
        w = ex.node("Reshape", [w, ex.ints([weight.shape[0]] + [1] * (x.ndim - 2))])
    return ex.node("PRelu", [ex.value(x), w])


def _softmax(op_type):
    def convert(ex, args, kwargs, out):
        return ex.node(op_type, [ex.value(args[0])], axis=int(args[1]))

    return convert


def _conv_pads(geom):
    """ONNX pads (begins, then ends) giving exactly ``geom.out_size`` windows; ``pad_hi`` may
    extend past what the last window reads."""
    hi = []
    for n, k, s, d, lo, ph, o in zip(
        geom.in_size, geom.kernel, geom.stride, geom.dilation, geom.pad_lo, geom.pad_hi, geom.out_size
    ):
        need = (o - 1) * s + (k - 1) * d + 1 - n - lo  # what the last window reads past the input
        hi.append(max(0, min(ph, need)))
    return list(geom.pad_lo) + hi


def _conv(ex, args, kwargs, out):
    x, w, b = args
    geom = kwargs["geom"]
    if x.ndim == w.ndim - 1:
        raise UnsupportedOperatorError("unbatched input: export a batched (N, C, ...) example")
    inputs = [ex.value(x), ex.value(w)] + ([] if b is None else [ex.value(b)])
    return ex.node(
        "Conv", inputs, kernel_shape=list(geom.kernel), strides=list(geom.stride), dilations=list(geom.dilation),
        pads=_conv_pads(geom), group=int(kwargs["groups"]),
    )  # fmt: skip


def _conv_transpose(ex, args, kwargs, out):
    x, w, b = args
    geom = kwargs["geom"]
    if x.ndim == w.ndim - 1:
        raise UnsupportedOperatorError("unbatched input: export a batched (N, C, ...) example")
    # geom is the transposed convolution's: its input size is this op's output size
    output_padding = [
        y - ((i - 1) * s - lo - hi + d * (k - 1) + 1)
        for y, i, s, lo, hi, d, k in zip(
            geom.in_size, geom.out_size, geom.stride, geom.pad_lo, geom.pad_hi, geom.dilation, geom.kernel
        )
    ]
    inputs = [ex.value(x), ex.value(w)] + ([] if b is None else [ex.value(b)])
    return ex.node(
        "ConvTranspose", inputs, kernel_shape=list(geom.kernel), strides=list(geom.stride),
        dilations=list(geom.dilation), pads=list(geom.pad_lo) + list(geom.pad_hi), output_padding=output_padding,
        group=int(kwargs["groups"]),
    )  # fmt: skip


def _pool_pads(geom):
    """Padding at the start, and at the end enough for ceil-mode windows that overhang it."""
    hi = [
        max(p, (o - 1) * s + (k - 1) * d + 1 - n - p)
        for n, k, s, p, d, o in zip(geom.in_size, geom.kernel, geom.stride, geom.padding, geom.dilation, geom.out_size)
    ]
    return list(geom.padding) + hi


def _floor_out(geom):
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(geom.in_size, geom.kernel, geom.stride, geom.padding, geom.dilation)
    )


def _spatial(x, geom):
    if x.ndim != len(geom.kernel) + 2:
        raise UnsupportedOperatorError("unbatched input: export a batched (N, C, ...) example")


def _max_pool(ex, args, kwargs, out):
    x, geom = args[0], kwargs["geom"]
    _spatial(x, geom)
    if kwargs.get("return_indices"):
        raise UnsupportedOperatorError("return_indices=True (PyTorch's flat indices differ from ONNX's)")
    # ceil mode's overhang is -inf padding at the end, which a max ignores: plain pads, floor mode
    return ex.node(
        "MaxPool", [ex.value(x)], kernel_shape=list(geom.kernel), strides=list(geom.stride),
        dilations=list(geom.dilation), pads=_pool_pads(geom),
    )  # fmt: skip


def _avg_pool(ex, args, kwargs, out):
    x, geom = args[0], kwargs["geom"]
    _spatial(x, geom)
    include = kwargs["count_include_pad"]
    divisor = kwargs["divisor_override"]
    if divisor and divisor != geom.n_offsets:
        raise UnsupportedOperatorError(f"divisor_override={divisor} (ONNX divides by the window size)")
    ceil = _floor_out(geom) != tuple(geom.out_size)
    if ceil and include:
        # PyTorch counts the padding but not the ceil-mode overhang: ONNX's ceil_mode does the same
        attrs = {"pads": list(geom.padding) * 2, "ceil_mode": 1}
    else:
        attrs = {"pads": _pool_pads(geom)}
    return ex.node(
        "AveragePool", [ex.value(x)], kernel_shape=list(geom.kernel), strides=list(geom.stride),
        count_include_pad=int(include), **attrs,
    )  # fmt: skip


def _lp_pool(ex, args, kwargs, out):
    x, geom, p = args[0], kwargs["geom"], kwargs["norm_type"]
    _spatial(x, geom)
    if p != int(p) or any(geom.padding) or _floor_out(geom) != tuple(geom.out_size):
        raise UnsupportedOperatorError("only integer norm_type without ceil_mode has an ONNX LpPool")
    return ex.node("LpPool", [ex.value(x)], kernel_shape=list(geom.kernel), strides=list(geom.stride), p=int(p))


def _adaptive(global_op, pool_op):
    def convert(ex, args, kwargs, out):
        x, out_size = args[0], tuple(kwargs["out_size"])
        if kwargs.get("return_indices"):
            raise UnsupportedOperatorError("return_indices=True")
        n = len(out_size)
        in_size = tuple(x.shape[-n:])
        if x.ndim != n + 2:
            raise UnsupportedOperatorError("unbatched input: export a batched (N, C, ...) example")
        if all(m == 1 for m in out_size):
            return ex.node(global_op, [ex.value(x)])
        regular = _pool._adaptive_as_regular(in_size, out_size)
        if regular is not None:
            return ex.node(pool_op, [ex.value(x)], kernel_shape=list(regular.kernel), strides=list(regular.stride))
        if pool_op == "MaxPool":
            raise UnsupportedOperatorError(f"output size {out_size} does not divide the input size {in_size}")
        # average windows of any size: one (out, in) averaging matrix per axis, y = A_h x A_w^T
        y = ex.value(x)
        for axis in range(n):
            matrix = _pool._adaptive_matrix(np, out.data.dtype, in_size[axis], out_size[axis])
            perm = list(range(n + 2))
            perm[-1], perm[2 + axis] = perm[2 + axis], perm[-1]
            moved = y if axis == n - 1 else ex.node("Transpose", [y], perm=perm)
            y = ex.node("MatMul", [moved, ex.const(np.ascontiguousarray(matrix.T), "adaptive_pool")])
            if axis != n - 1:
                y = ex.node("Transpose", [y], perm=perm)
        return y

    return convert


def _batch_norm(ex, args, kwargs, out):
    x, weight, bias = args
    if kwargs["training"] or kwargs["running_mean"] is None:
        raise UnsupportedOperatorError("batch statistics (training mode, or track_running_stats=False)")
    c = x.shape[1]
    dtype = out.data.dtype
    scale = ex.value(weight) if weight is not None else ex.const(np.ones(c, dtype), "bn_scale")
    shift = ex.value(bias) if bias is not None else ex.const(np.zeros(c, dtype), "bn_bias")
    inputs = [ex.value(x), scale, shift, ex.const(kwargs["running_mean"]), ex.const(kwargs["running_var"])]
    return ex.node("BatchNormalization", inputs, epsilon=float(kwargs["eps"]))


def _layer_norm(ex, args, kwargs, out):
    x, weight, bias = args
    k = kwargs["normalized_ndim"]
    shape = tuple(x.shape[-k:])
    dtype = out.data.dtype
    scale = ex.value(weight) if weight is not None else ex.const(np.ones(shape, dtype), "ln_scale")
    inputs = [ex.value(x), scale] + ([] if bias is None else [ex.value(bias)])
    return ex.node("LayerNormalization", inputs, axis=-k, epsilon=float(kwargs["eps"]))


def _group_norm(ex, args, kwargs, out):
    x, weight, bias = args
    g, eps, dtype = kwargs["num_groups"], float(kwargs["eps"]), out.data.dtype
    c = x.shape[1]
    xv = ex.value(x)
    if g == c and x.ndim > 2:  # instance norm
        scale = ex.value(weight) if weight is not None else ex.const(np.ones(c, dtype), "in_scale")
        shift = ex.value(bias) if bias is not None else ex.const(np.zeros(c, dtype), "in_bias")
        return ex.node("InstanceNormalization", [xv, scale, shift], epsilon=eps)
    # (N, C, *) -> (N, G, -1), normalise each group, back to (N, C, *), then the affine per channel
    grouped = ex.node("Reshape", [xv, ex.ints([0, g, -1])])
    normed = ex.node(
        "InstanceNormalization",
        [grouped, ex.const(np.ones(g, dtype), "gn_scale"), ex.const(np.zeros(g, dtype), "gn_bias")],
        epsilon=eps,
    )
    y = ex.node("Reshape", [normed, ex.node("Shape", [xv])])
    per_channel = [c] + [1] * (x.ndim - 2)
    if weight is not None:
        y = ex.node("Mul", [y, ex.node("Reshape", [ex.value(weight), ex.ints(per_channel)])])
    if bias is not None:
        y = ex.node("Add", [y, ex.node("Reshape", [ex.value(bias), ex.ints(per_channel)])])
    return y


def _lrn(ex, args, kwargs, out):
    return ex.node(
        "LRN", [ex.value(args[0])], size=int(kwargs["size"]), alpha=float(kwargs["alpha"]),
        beta=float(kwargs["beta"]), bias=float(kwargs["k"]),
    )  # fmt: skip


def _linear(ex, args, kwargs, out):
    x, w, b = args
    if x.ndim == 2:
        inputs = [ex.value(x), ex.value(w)] + ([] if b is None else [ex.value(b)])
        return ex.node("Gemm", inputs, transB=1)
    y = ex.node("MatMul", [ex.value(x), ex.node("Transpose", [ex.value(w)], perm=[1, 0])])
    return y if b is None else ex.node("Add", [y, ex.value(b)])


def _reshape(ex, args, kwargs, out):
    x = args[0]
    s_in, s_out = tuple(x.shape), tuple(out.shape)
    xv = ex.value(x)
    if len(s_in) >= 2 and len(s_out) == 2 and s_out[0] == s_in[0] and s_out[1] == math.prod(s_in[1:]):
        return ex.node("Flatten", [xv], axis=1)
    target = list(s_out)
    if s_in and s_out and s_out[0] == s_in[0]:
        target[0] = 0  # copy the (batch) size from the input
    return ex.node("Reshape", [xv, ex.ints(target)])


def _permute(ex, args, kwargs, out):
    return ex.node("Transpose", [ex.value(args[0])], perm=[int(d) for d in args[1]])


def _expand(ex, args, kwargs, out):
    x, shape = args[0], tuple(out.shape)
    lead = len(shape) - x.ndim
    # 1 keeps the input's size (ONNX's Expand broadcasts both ways), so the batch stays free
    target = [1 if i >= lead and x.shape[i - lead] == n else n for i, n in enumerate(shape)]
    return ex.node("Expand", [ex.value(x), ex.ints(target)])


def _repeat(ex, args, kwargs, out):
    x, reps = args[0], tuple(args[1])
    xv = ex.value(x)
    if len(reps) > x.ndim:
        xv = ex.node("Reshape", [xv, ex.ints((1,) * (len(reps) - x.ndim) + tuple(x.shape))])
    return ex.node("Tile", [xv, ex.ints(reps)])


def _flip(ex, args, kwargs, out):
    dims = [int(d) % args[0].ndim for d in args[1]]
    return ex.node(
        "Slice",
        [ex.value(args[0]), ex.ints([-1] * len(dims)), ex.ints([-_INT64_MAX] * len(dims)), ex.ints(dims),
         ex.ints([-1] * len(dims))],
    )  # fmt: skip


def _cat(ex, args, kwargs, out):
    return ex.node("Concat", [ex.value(a, out.data) for a in args], axis=int(kwargs["dim"]))


def _stack(ex, args, kwargs, out):
    dim = int(kwargs["dim"]) % out.ndim
    parts = [ex.node("Unsqueeze", [ex.value(a, out.data), ex.ints([dim])]) for a in args]
    return ex.node("Concat", parts, axis=dim)


def _cast(ex, args, kwargs, out):
    to = ex.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(out.data.dtype))
    return ex.node("Cast", [ex.value(args[0])], to=int(to))


def _identity(ex, args, kwargs, out):
    return ex.node("Identity", [ex.value(args[0])])


def _dropout_op(ex, args, kwargs, out):
    raise UnsupportedOperatorError("dropout in training mode (export runs the model in eval mode)")


def _reduce_op(op_type):
    def convert(ex, args, kwargs, out):
        x, dims, keepdim = args[0], args[1], args[2]
        axes = list(range(x.ndim)) if dims is None else [int(d) % max(x.ndim, 1) for d in np.atleast_1d(dims)]
        if op_type == "ReduceSum":  # opset 13: axes as an input
            return ex.node(op_type, [ex.value(x), ex.ints(axes)], keepdims=int(bool(keepdim)))
        return ex.node(op_type, [ex.value(x)], axes=axes, keepdims=int(bool(keepdim)))

    return convert


def _extreme(ex, args, kwargs, out):
    return _reduce_op("ReduceMax" if args[3] else "ReduceMin")(ex, args, kwargs, out)


def _get_item(ex, args, kwargs, out):
    x, index = args[0], args[1]
    parts = index if isinstance(index, tuple) else (index,)
    n_used = sum(1 for p in parts if p is not None and p is not Ellipsis)
    if sum(1 for p in parts if p is Ellipsis) > 1:
        raise UnsupportedOperatorError("index with several Ellipsis")
    y = source = ex.value(x)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_axis = 0
    for p in parts:
        if p is Ellipsis:
            skip = x.ndim - n_used
            axis, out_axis = axis + skip, out_axis + skip
        elif p is None:
            unsqueeze.append(out_axis)
            out_axis += 1
        elif isinstance(p, slice):
            start, stop, step = p.indices(x.shape[axis])
            if (start, stop, step) != (0, x.shape[axis], 1):
                if step < 0 and stop < 0:
                    stop = -_INT64_MAX  # through the first element
                starts.append(start)
                ends.append(stop)
                axes.append(axis)
                steps.append(step)
            axis += 1
            out_axis += 1
        elif isinstance(p, (int, np.integer)) and not isinstance(p, bool):
            k = int(p) % x.shape[axis]
            starts.append(k)
            ends.append(k + 1)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
            axis += 1
        elif isinstance(p, np.ndarray) and p.dtype.kind in "iu" and p.ndim == 1 and len(parts) - parts.count(None) == 1:
            y = ex.node("Gather", [y, ex.ints(p % x.shape[axis], "index")], axis=axis)
            axis += 1
            out_axis += 1
        else:
            raise UnsupportedOperatorError(f"index {p!r} (only ints, slices, None, Ellipsis and one int array)")
    if axes:
        y = ex.node("Slice", [y, ex.ints(starts), ex.ints(ends), ex.ints(axes), ex.ints(steps)])
    if squeeze:
        y = ex.node("Squeeze", [y, ex.ints(squeeze)])
    if unsqueeze:
        y = ex.node("Unsqueeze", [y, ex.ints(unsqueeze)])
    return y if y != source else ex.node("Identity", [y])


def _pad_op(ex, args, kwargs, out):
    x, plans, mode, value = args[0], kwargs["plans"], kwargs["mode"], kwargs["value"]
    if any(p.crop_in != slice(None) or p.crop_out != slice(None) for p in plans):
        raise UnsupportedOperatorError("negative padding (cropping)")
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}.get(mode)
    if onnx_mode is None:
        raise UnsupportedOperatorError(f"padding mode {mode!r} (opset 17 has constant, reflect and edge)")
    lead = x.ndim - len(plans)
    pads = [0] * lead + [p.left for p in plans] + [0] * lead + [p.right for p in plans]
    inputs = [ex.value(x), ex.ints(pads)]
    if mode == "constant" and value:
        inputs.append(_scalar(ex, value, out))
    return ex.node("Pad", inputs, mode=onnx_mode)


def _resize_mode(taps, in_size):
    """The ONNX Resize (mode, coordinate_transformation_mode, nearest_mode) whose sampling
    equals ``taps`` on every axis, or None."""
    for mode, transform in (("nearest", "asymmetric"), ("linear", "align_corners"), ("linear", "pytorch_half_pixel")):
        ok = True
        for t, n in zip(taps, in_size):
            m = len(t.index)
            if mode == "nearest":
                want = _upsample._nearest_taps(np.minimum((np.arange(m) * n) // m, n - 1))
            elif m == n:
                want = _upsample._identity_taps(m)
            else:
                align = transform == "align_corners"
                want = _upsample._linear_taps(n, m, _upsample._source_scale(n, m, None, align), align)
            if not _same_taps(t, want, n):
                ok = False
                break
        if ok:
            return mode, transform
    return None


def _same_taps(t, want, n):
    """Whether two tap sets sample the same weighted inputs (as dense (out, in) matrices)."""
    if len(t.index) != len(want.index):
        return False
    return np.allclose(_upsample._taps_matrix(t, n), _upsample._taps_matrix(want, n), atol=1e-6)


def _resample(ex, args, kwargs, out):
    x, taps = args[0], kwargs["taps"]
    n = len(taps)
    in_size = tuple(x.shape[-n:])
    xv = ex.value(x)
    found = _resize_mode(taps, in_size)
    if found is not None and x.ndim == n + 2:
        mode, transform = found
        # sizes (N, C from the input's shape at run time, the spatial sizes fixed) rather than float
        # scales, whose rounding could lose an output row
        lead = ex.node("Slice", [ex.node("Shape", [xv]), ex.ints([0]), ex.ints([2]), ex.ints([0])])
        sizes = ex.node("Concat", [lead, ex.ints([len(t.index) for t in taps])], axis=0)
        attrs = {"mode": mode, "coordinate_transformation_mode": transform}
        if mode == "nearest":
            attrs["nearest_mode"] = "floor"
        return ex.node("Resize", [xv, "", "", sizes], **attrs)
    # any other sampling (bicubic, anti-aliased, nearest-exact): one (in, out) matrix per axis
    y = xv
    for axis in range(n):
        matrix = _upsample._taps_matrix(taps[axis], in_size[axis]).astype(out.data.dtype)
        perm = list(range(x.ndim))
        a = x.ndim - n + axis
        perm[-1], perm[a] = perm[a], perm[-1]
        moved = y if a == x.ndim - 1 else ex.node("Transpose", [y], perm=perm)
        y = ex.node("MatMul", [moved, ex.const(np.ascontiguousarray(matrix.T), "resample")])
        if a != x.ndim - 1:
            y = ex.node("Transpose", [y], perm=perm)
    return y


def _pixel_shuffle(ex, args, kwargs, out):
    if args[0].ndim != 4:
        raise UnsupportedOperatorError("pixel_shuffle of a non-4-D input")
    return ex.node("DepthToSpace", [ex.value(args[0])], blocksize=int(kwargs["factor"]), mode="CRD")


def _where(ex, args, kwargs, out):
    return ex.node("Where", [ex.value(args[0]), ex.value(args[1], out.data), ex.value(args[2], out.data)])


_CONVERTERS = {
    _act.ReLU: _simple("Relu"),
    _act.LeakyReLU: _leaky_relu,
    _act.ELU: _elu,
    _act.GELU: _gelu,
    _act.Sigmoid: _simple("Sigmoid"),
    _act.SiLU: _silu,
    _act.Tanh: _simple("Tanh"),
    _act.Hardtanh: lambda ex, args, kwargs, out: _clip(ex, (args[0], args[1], args[2]), kwargs, out),
    _act.Softplus: _softplus,
    _act.Hardswish: _simple("HardSwish"),
    _act.Hardsigmoid: _simple("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),
    _act.PReLU: _prelu,
    _act.Softmax: _softmax("Softmax"),
    _act.LogSoftmax: _softmax("LogSoftmax"),
    _conv_ops.ConvNd: _conv,
    _conv_ops.ConvTransposeNd: _conv_transpose,
    _dropout.Dropout: _dropout_op,
    _elem.Add: _binary("Add"),
    _elem.Sub: _binary("Sub"),
    _elem.Mul: _binary("Mul"),
    _elem.Div: _binary("Div"),
    _elem.Pow: _binary("Pow"),
    _elem.Maximum: _binary("Max"),
    _elem.Minimum: _binary("Min"),
    _elem.Neg: _simple("Neg"),
    _elem.Exp: _simple("Exp"),
    _elem.Log: _simple("Log"),
    _elem.Sqrt: _simple("Sqrt"),
    _elem.Abs: _simple("Abs"),
    _elem.Sin: _simple("Sin"),
    _elem.Cos: _simple("Cos"),
    _elem.Clamp: _clip,
    _elem.Where: _where,
    _index.GetItem: _get_item,
    _matmul.MatMul: _binary("MatMul"),
    _matmul.Linear: _linear,
    _norm.BatchNorm: _batch_norm,
    _norm.LayerNorm: _layer_norm,
    _norm.GroupNorm: _group_norm,
    _norm.LocalResponseNorm: _lrn,
    _pad.Pad: _pad_op,
    _pool.MaxPool: _max_pool,
    _pool.AvgPool: _avg_pool,
    _pool.LPPool: _lp_pool,
    _pool.AdaptiveAvgPool: _adaptive("GlobalAveragePool", "AveragePool"),
    _pool.AdaptiveMaxPool: _adaptive("GlobalMaxPool", "MaxPool"),
    _reduce.Sum: _reduce_op("ReduceSum"),
    _reduce.Mean: _reduce_op("ReduceMean"),
    _reduce.Extreme: _extreme,
    _shape.Reshape: _reshape,
    _shape.Permute: _permute,
    _shape.Expand: _expand,
    _shape.Repeat: _repeat,
    _shape.Flip: _flip,
    _shape.Cat: _cat,
    _shape.Stack: _stack,
    _shape.Cast: _cast,
    _shape.ToDevice: _identity,
    _shape.Clone: _identity,
    _upsample.Resample: _resample,
    _upsample.PixelShuffle: _pixel_shuffle,
}


# ---------------------------------------------------------------------------------- export
def _axes_spec(dynamic_axes, name, who):
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(spec)}
    raise TypeError(f"{who}: dynamic_axes[{name!r}] must be a dict {{axis: name}} or a list of axes, got {spec!r}")


def _value_info(onnx, name, t, axes):
    dims = [axes.get(i, int(n)) for i, n in enumerate(t.shape)]
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype))
    return onnx.helper.make_tensor_value_info(name, elem, dims)


def _write_bytes(path, data):
    with open(path, "wb") as file:
        file.write(data)


def export(
    model,
    args,
    f,
    input_names=None,
    output_names=None,
    dynamic_axes=None,
    opset_version=17,
    do_constant_folding=True,
):
    """Export a convlab model to ONNX by running it once on ``args`` (as ``torch.onnx.export``).

    The model runs in eval mode (dropout removed, BatchNorm with its running statistics; the
    previous mode is restored afterwards) and every convlab op it makes is recorded and written
    as the equivalent ONNX operator(s): Conv, ConvTranspose, MaxPool/AveragePool, the global
    pools, BatchNormalization, LayerNormalization, InstanceNormalization (GroupNorm), Resize,
    Gemm/MatMul, Flatten/Reshape/Transpose, Concat, Slice, the activations, ... Parameters and
    buffers become initialisers named by their ``state_dict`` keys.

    Args:
        model: a convlab ``nn.Module`` (or any callable made of convlab ops).
        args: the example input: a Tensor, or a tuple of Tensors (positional arguments).
        f: a path (written atomically) or a binary file object.
        input_names / output_names: names of the graph's inputs and outputs (default
            ``input``/``output``, numbered when there are several).
        dynamic_axes: ``{name: {axis: "dim_name"}}`` or ``{name: [axes]}`` marking axes of
            inputs/outputs as free, e.g. ``{"input": {0: "batch"}, "output": {0: "batch"}}``.
        opset_version: the ONNX opset (17 or later).
        do_constant_folding: compute ops whose inputs are all constants once, at export time.

    Returns:
        the ``onnx.ModelProto`` written.

    Raises:
        UnsupportedOperatorError: listing every op of the model (with the module that ran it)
            that has no ONNX counterpart.

    Example::

        >>> model = convlab.models.resnet18(num_classes=10).eval()
        >>> convlab.onnx.export(model, convlab.randn(1, 3, 224, 224), "resnet18.onnx",
        ...                     input_names=["input"], output_names=["logits"],
        ...                     dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    """
    who = "convlab.onnx.export()"
    onnx = _onnx()
    if not isinstance(opset_version, int) or opset_version < MIN_OPSET:
        raise ValueError(f"{who}: opset_version must be an int >= {MIN_OPSET}, got {opset_version!r}")
    inputs = args if isinstance(args, tuple) else (args,)
    if not inputs or not all(isinstance(a, Tensor) for a in inputs):
        raise TypeError(f"{who}: args must be a Tensor or a tuple of Tensors, got {type(args).__name__}")
    if input_names is None:
        input_names = ["input"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))]
    if len(input_names) != len(inputs):
        raise ValueError(f"{who}: {len(input_names)} input_names for {len(inputs)} inputs")

    modules = list(model.modules()) if hasattr(model, "modules") else []
    was_training = [m.training for m in modules]
    ex = _Exporter(model, do_constant_folding)
    try:
        for m in modules:
            m.training = False
        traced_inputs = []
        for a, name in zip(inputs, input_names):
            t = a.detach()
            t.requires_grad = bool(t.dtype.kind == "f")
            ex.bind(t, name, True)
            traced_inputs.append(t)
        out = run_traced(model, traced_inputs, ex.on_op, ex.scope)
    finally:
        for m, mode in zip(modules, was_training):
            m.training = mode
    if ex.errors:
        raise UnsupportedOperatorError(
            f"{who}: {len(ex.errors)} op(s) of {type(model).__name__} have no ONNX counterpart:\n  "
            + "\n  ".join(ex.errors)
        )
    outs = flatten_outputs(out, who)
    if output_names is None:
        output_names = ["output"] if len(outs) == 1 else [f"output{i}" for i in range(len(outs))]
    if len(output_names) != len(outs):
        raise ValueError(f"{who}: {len(output_names)} output_names for {len(outs)} outputs")
    for name in list(dynamic_axes or {}):
        if name not in input_names and name not in output_names:
            raise ValueError(f"{who}: dynamic_axes names {name!r}, which is neither an input nor an output name")
    for t, name in zip(outs, output_names):
        source = ex.value(t)
        ex.nodes.append(onnx.helper.make_node("Identity", [source], [name], name=f"/output/{name}"))
    graph = onnx.helper.make_graph(
        ex.nodes,
        type(model).__name__,
        [_value_info(onnx, n, t, _axes_spec(dynamic_axes, n, who)) for n, t in zip(input_names, inputs)],
        [_value_info(onnx, n, t, _axes_spec(dynamic_axes, n, who)) for n, t in zip(output_names, outs)],
        initializer=ex.initializers,
    )
    proto = onnx.helper.make_model(
        graph, producer_name="convlab", opset_imports=[onnx.helper.make_opsetid("", opset_version)]
    )
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        write_atomically(f, lambda tmp: _write_bytes(tmp, data), "convlab.onnx.export")
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"{who}: f must be a path or a binary file object, got {type(f).__name__}")
    return proto


__all__ = ["UnsupportedOperatorError", "export"]
