"""Receptive fields: which input pixels each unit of each layer can see.

:func:`receptive_field` traces one forward pass and, for every layer call whose output is a
feature map, gives per spatial axis (the conventions of pytorch-receptive-field, which seed 004
uses):

- ``map_size``: the layer's output size;
- ``jump``: the distance in input pixels between neighbouring units;
- ``start``: the centre, in input pixel coordinates, of the field of unit 0 (pixel ``i`` spans
  ``[i, i + 1)``, so the input's own units have ``start = 0.5``, ``jump = 1``);
- ``receptive_field``: the field's width in input pixels.

Unit ``u`` then sees ``[start + u*jump - rf/2, start + u*jump + rf/2]``. A layer that maps input
unit indices to output unit ``u`` through the window centred at ``a + b*u`` with half-width ``h``
(all in input-unit steps) updates them as::

    jump_out = jump_in * b      start_out = start_in + a * jump_in      rf_out = rf_in + 2h * jump_in

For a convolution or pooling window (kernel ``k``, stride ``s``, padding ``p``, dilation ``d``,
``k_eff = d (k - 1) + 1``): ``a = (k_eff - 1)/2 - p``, ``b = s``, ``h = (k_eff - 1)/2`` - exactly
pytorch-receptive-field's recurrences. Layers that keep the map size and have no window
(activations, normalisation, dropout) change nothing.

The graph between layers is followed through the autograd graph, so residual additions,
concatenations and any other functional op are handled: an op with several inputs gets the union
of their fields (the smallest field that moves with ``jump`` and contains every input's field at
every unit - for inputs of equal map size, exactly their union). Layers that enlarge or resample
the map (transposed convolution, ``Upsample``, adaptive pooling with a non-integer ratio) are not
affine in the unit index; for them the table gives an envelope that contains every unit's true
field: transposed convolution ``b = 1/s``, ``a = (p - (k_eff - 1)/2)/s``, ``h = (k_eff - 1)/(2s)``;
nearest upsampling ``h = 1/2``, linear ``h = 1``, cubic ``h = 2`` around the sampled coordinate.
Adaptive pooling (layer or functional) and functional ops that reduce an axis to size 1 (global
pooling written as ``x.mean((2, 3), keepdim=True)``) see the whole axis.

A tensor is a feature map when it has the batch, channel axes and the input's number of spatial
axes, the spatial axes last: channel reshapes such as ShuffleNet's ``(N, g, C/g, H, W)`` shuffle
keep the field. Layers whose outputs are not feature maps (after ``Flatten``, ``Linear``) are left
out: each of their units sees the whole input.

:func:`effective_receptive_field` measures instead how strongly each input pixel influences one
unit: the gradient of the unit with respect to the input (Luo et al., 2016), an array to plot.
"""

from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from . import backend, dtypes
from .autograd import grad_mode
from .autograd.engine import edge_of
from .autograd.functional import grad as autograd_grad
from .nn.modules.module import Module
from .nn.modules.pooling import BedOfNailsUnpool2d, SpectralPool2d, _MaxUnpoolNd
from .ops import pool as pool_ops
from .summary import as_shapes, check_mode, explained_channel_errors, model_device, preserved_model_state
from .tensor import Tensor

__all__ = [
    "LayerLookupError",
    "ReceptiveFieldRow",
    "ReceptiveFieldTable",
    "effective_receptive_field",
    "receptive_field",
    "receptive_field_for_unit",
]

_INTERPOLATION_HALF_WIDTH = {
    "nearest": 0.5,
    "nearest-exact": 0.5,
    "linear": 1.0,
    "bilinear": 1.0,
    "trilinear": 1.0,
    "bicubic": 2.0,
}


class _Field:
    """Per spatial axis: map size, start, jump and receptive field of one feature map."""

    __slots__ = ("jump", "map_size", "rf", "start")

    def __init__(self, map_size, start, jump, rf):
        self.map_size, self.start, self.jump, self.rf = tuple(map_size), tuple(start), tuple(jump), tuple(rf)

    def mapped(self, map_size, axis_maps) -> _Field:
        """The field after a layer whose axis ``i`` has the window map ``axis_maps[i] = (a, b, h)``."""
        start = tuple(s + a * j for s, j, (a, _, _) in zip(self.start, self.jump, axis_maps))
        jump = tuple(j * b for j, (_, b, _) in zip(self.jump, axis_maps))
        rf = tuple(r + 2 * h * j for r, j, (_, _, h) in zip(self.rf, self.jump, axis_maps))
        return _Field(map_size, start, jump, rf)

    def with_size(self, map_size) -> _Field:
        return _Field(map_size, self.start, self.jump, self.rf)


def _union_edges(fields, axis, n, u):
    """Lowest and highest input coordinate seen by unit ``u`` (of ``n``) of any of ``fields``."""
    centres = [f.start[axis] + (u if f.map_size[axis] == n else 0) * f.jump[axis] for f in fields]
    lo = min(c - f.rf[axis] / 2 for c, f in zip(centres, fields))
    hi = max(c + f.rf[axis] / 2 for c, f in zip(centres, fields))
    return lo, hi


def _union(fields, map_size) -> _Field:
    """The smallest field moving with a common jump that contains every input field at every unit.

    Inputs of the output's map size move with the units; inputs of size 1 on an axis (broadcast,
    e.g. a global-pooled gate) are the same for all units. The envelope is checked at the first and
    last unit, which suffices: the union's lower edge is a minimum of affine functions (concave),
    the upper edge a maximum (convex).
    """
    start, jump, rf = [], [], []
    for axis, n in enumerate(map_size):
        moving = [f for f in fields if f.map_size[axis] == n]
        j = max(f.jump[axis] for f in moving) if moving else 0.0
        lo0, hi0 = _union_edges(fields, axis, n, 0)
        centre = (lo0 + hi0) / 2
        half = 0.0
        for u in (0, n - 1):
            lo, hi = _union_edges(fields, axis, n, u)
            half = max(half, centre + u * j - lo, hi - centre - u * j)
        start.append(centre)
        jump.append(j)
        rf.append(2 * half)
    return _Field(map_size, start, jump, rf)


def _key(edge):
    """Identity of a tensor in the graph: its producer's output slot, or the leaf itself."""
    return edge[:2] if type(edge) is tuple else id(edge)


def _window_maps(module, ndim):
    """Per axis ``(a, b, h)`` of a window layer (convolution, pooling), or None if not one."""
    kernel = getattr(module, "kernel_size", None)
    if kernel is None:
        return None

    def per_axis(value, default):
        value = default if value is None else value
        return tuple(value) if isinstance(value, (tuple, list)) else (value,) * ndim

    kernel = per_axis(kernel, 1)
    stride = per_axis(getattr(module, "stride", None), kernel)
    dilation = per_axis(getattr(module, "dilation", 1), 1)
    padding = getattr(module, "padding", 0)
    spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if padding == "valid":
        padding = (0,) * ndim
    elif padding == "same":
        padding = tuple(span // 2 for span in spans)  # PyTorch pads total//2 before, the rest after
    padding = per_axis(padding, 0)
    if getattr(module, "transposed", False) or isinstance(module, (_MaxUnpoolNd, BedOfNailsUnpool2d)):
        return [((p - span / 2) / s, 1 / s, span / (2 * s)) for span, s, p in zip(spans, stride, padding)]
    return [(span / 2 - p, s, span / 2) for span, s, p in zip(spans, stride, padding)]


def _adaptive_maps(in_size, out_size):
    """``(a, b, h)`` per axis of adaptive pooling from ``in_size`` to ``out_size``."""
    maps = []
    for n_in, n_out in zip(in_size, out_size):
        if n_in % n_out == 0:  # a plain window: kernel = stride = n_in / n_out
            k = n_in // n_out
            maps.append(((k - 1) / 2, k, (k - 1) / 2))
        else:  # window [floor(u b), ceil((u + 1) b)) lies inside (u b - 1, (u + 1) b)
            b = n_in / n_out
            maps.append(((b - 1) / 2, b, (b + 1) / 2))
    return maps


def _resample_maps(module, in_size, out_size):
    """``(a, b, h)`` of an interpolation layer (``Upsample``), adaptive or spectral pooling, or None."""
    if isinstance(module, SpectralPool2d):  # every output depends on the whole map (a truncated DFT)
        maps = []
        for n_in, n_out in zip(in_size, out_size):
            b = n_in / n_out
            maps.append(((b - 1) / 2, b, n_in - 1 - (b - 1) / 2))
        return maps
    if getattr(module, "output_size", None) is not None:  # adaptive pooling
        return _adaptive_maps(in_size, out_size)
    mode = getattr(module, "mode", None)
    if mode not in _INTERPOLATION_HALF_WIDTH:
        return None
    half = _INTERPOLATION_HALF_WIDTH[mode]
    scale = getattr(module, "scale_factor", None)
    maps = []
    for axis, (n_in, n_out) in enumerate(zip(in_size, out_size)):
        if getattr(module, "align_corners", None) and mode not in ("nearest", "nearest-exact"):
            maps.append((0.0, (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0, half))
            continue
        factor = scale[axis] if isinstance(scale, (tuple, list)) else scale
        b = 1 / factor if factor else n_in / n_out
        if mode == "nearest":  # source index floor(u b) lies in (u b - 1, u b]
            maps.append((-0.5, b, half))
        else:  # source coordinate (u + 1/2) b - 1/2
            maps.append((b / 2 - 0.5, b, half))
    return maps


class ReceptiveFieldRow(collections.abc.Mapping):
    """One row of a :class:`ReceptiveFieldTable`, read like a dict.

    Keys: ``layer`` (row index, 0 = the input), ``name`` (the module's qualified name),
    ``type`` (its class), ``map_size`` (list), ``start``, ``jump``, ``receptive_field`` (floats
    when every spatial axis agrees, tuples per axis otherwise). The per-axis tuples are always
    available as the attributes ``start_per_axis``, ``jump_per_axis``, ``rf_per_axis``.
    """

    _KEYS = ("layer", "name", "type", "map_size", "start", "jump", "receptive_field")

    def __init__(self, layer: int, name: str, type_name: str, field: _Field, module=None):
        self.layer, self.name, self.type, self.module = layer, name, type_name, module
        self.map_size = list(field.map_size)
        self.start_per_axis, self.jump_per_axis, self.rf_per_axis = field.start, field.jump, field.rf

    @staticmethod
    def _collapse(values):
        values = tuple(float(v) for v in values)
        return values[0] if len(set(values)) == 1 else values

    def __getitem__(self, key):
        if key == "layer":
            return self.layer
        if key == "name":
            return self.name
        if key == "type":
            return self.type
        if key == "map_size":
            return list(self.map_size)
        if key == "start":
            return self._collapse(self.start_per_axis)
        if key == "jump":
            return self._collapse(self.jump_per_axis)
        if key == "receptive_field":
            return self._collapse(self.rf_per_axis)
        raise KeyError(f"ReceptiveFieldRow: no key {key!r}; keys: {', '.join(self._KEYS)}")

    def __iter__(self):
        return iter(self._KEYS)

    def __len__(self):
        return len(self._KEYS)

    def __repr__(self):
        return "{" + ", ".join(f"{k!r}: {self[k]!r}" for k in self._KEYS) + "}"


class LayerLookupError(KeyError):
    """A receptive-field table has no row for the key, or several (a layer called more than once).

    A ``KeyError`` whose ``str()`` is the plain message (``str(KeyError(msg))`` adds quotes).
    """

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class ReceptiveFieldTable(collections.abc.Sequence):
    """What :func:`receptive_field` returns: row 0 is the input, then one row per layer call.

    Index it by row number (``table[2]``), by the row number as a string (``table["2"]``, the
    keys of pytorch-receptive-field's dict) or by a layer's qualified name (``table["layer1.0.conv1"]``).
    A module called several times in one forward pass (e.g. the ``relu`` of torchvision's
    ``BasicBlock``, applied twice) has one row per call; its name is then ambiguous and raises
    :class:`LayerLookupError` (a ``KeyError``) listing the rows - index by row number instead.
    ``print(table)`` shows it as seed 004 does.
    """

    def __init__(self, rows, input_size):
        self.rows = list(rows)
        self.input_size = tuple(input_size)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.rows[key]
        return self.rows[self.index_of(key)]

    def index_of(self, key) -> int:
        """The row number for an int, a numeric string or a layer name.

        Raises:
            IndexError: a row number out of range.
            LayerLookupError: (a ``KeyError``) no layer of that name (the message lists the
                names), or a layer called more than once, which has several rows (the message
                lists them: pass one's number).
        """
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if not -len(self.rows) <= key < len(self.rows):
                raise IndexError(f"receptive field table: row {key} is out of range (0..{len(self.rows) - 1})")
            return int(key) % len(self.rows)
        if isinstance(key, str):
            if key.isdigit():
                return self.index_of(int(key))
            matches = [row.layer for row in self.rows if row.name == key]
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise LayerLookupError(
                    f"receptive field table: layer {key!r} is ambiguous: it is called {len(matches)} times, in rows "
                    f"{', '.join(map(str, matches))}; pass the row number of the call you mean"
                )
            names = ", ".join(repr(name) for name in dict.fromkeys(r.name for r in self.rows[1:]))
            raise LayerLookupError(f"receptive field table: no layer named {key!r}; layers: {names}")
        raise TypeError(f"receptive field table: index with an int or a layer name, got {type(key).__name__}")

    def __str__(self):
        def fmt(value):
            return f"{value:.1f}" if isinstance(value, float) else "(" + ", ".join(f"{v:.1f}" for v in value) + ")"

        labels = ["input"] + [f"{r.name} ({r.type})" for r in self.rows[1:]]
        width = max(24, *(len(label) + 2 for label in labels))
        header = (
            f"{'Layer':>5}  {'Name (type)':<{width}}{'map size':>16}{'start':>10}{'jump':>10}{'receptive_field':>18}"
        )
        rule = "=" * len(header)
        lines = [rule, header, rule]
        for label, row in zip(labels, self.rows):
            lines.append(
                f"{row.layer:>5}  {label:<{width}}{row['map_size']!s:>16}{fmt(row['start']):>10}{fmt(row['jump']):>10}"
                f"{fmt(row['receptive_field']):>18}"
            )
        lines.append(rule)
        return "\n".join(lines)

    def __repr__(self):
        return str(self)


def _layer_input_size(who, model, input_size):
    (shape,) = as_shapes(who, input_size) if input_size is not None else (None,)
    if shape is None or len(shape) < 2:
        raise ValueError(f"{who}: input_size must be (channels, *spatial), e.g. (3, 224, 224), got {input_size!r}")
    return shape


def receptive_field(model: Module, input_size, mode: str = "eval") -> ReceptiveFieldTable:
    """The receptive field of every layer of ``model``, traced through its forward pass.

    Args:
        model: the model (any graph: residual additions, concatenations, functional ops between
            layers are followed through autograd).
        input_size: ``(channels, *spatial)`` without the batch, e.g. ``(3, 224, 224)``.
        mode: ``"eval"`` (default), ``"train"`` or ``"same"`` for the pass; the model is left
            exactly as it was (modes, BatchNorm statistics, random state).

    Returns:
        A :class:`ReceptiveFieldTable`: row 0 the input, then one row per call of a layer (a
        module without children) whose output is a feature map, in call order; each row reads
        like a dict with ``map_size``, ``start``, ``jump``, ``receptive_field``, ``name``, ``type``.

    Raises:
        ValueError: bad ``input_size`` (the message names the model's first layer and the
            channels it expects when those disagree), or a layer/op that changes the map size in
            a way the trace cannot know (e.g. a functional pooling call).

    Example::

        >>> stem = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
        ...                      nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
        >>> table = convlab.receptive_field(stem, (3, 256, 256))
        >>> table[4]["receptive_field"], table[4]["jump"]
        (11.0, 4.0)
        >>> convlab.receptive_field_for_unit(table, "2", (1, 1))
        [(0, 6.0), (0, 6.0)]
    """
    who = "receptive_field()"
    if not isinstance(model, Module):
        raise TypeError(f"{who}: expected an nn.Module, got {type(model).__name__}")
    check_mode(who, mode)
    shape = _layer_input_size(who, model, input_size)
    tracer = _Tracer(who, model, len(shape) - 1)
    dtype = next((p.data.dtype for p in model.parameters() if p.data.dtype.kind == "f"), np.float32)  # a float64 model too
    x = Tensor(backend.to_device(np.random.default_rng(0).random((1, *shape)).astype(dtype), model_device(model)))
    x.requires_grad_(True)
    input_field = _Field(shape[1:], (0.5,) * (len(shape) - 1), (1.0,) * (len(shape) - 1), (1.0,) * (len(shape) - 1))
    tracer.fields[id(x)] = input_field
    rows = [ReceptiveFieldRow(0, "input", "input", input_field)]
    tracer.rows = rows
    handles = [m.register_forward_hook(tracer.hook) for m in dict.fromkeys(model.modules()) if not m._modules]
    try:
        with (
            explained_channel_errors(who, model, shape, shape[0]),
            preserved_model_state(model, mode),
            grad_mode.enable_grad(),
        ):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return ReceptiveFieldTable(rows, shape)


class _Tracer:
    """Forward hook on every leaf layer: computes the field of its output from its input's."""

    def __init__(self, who, model, spatial_dims):
        self.who, self.spatial_dims = who, spatial_dims
        self.names = {id(m): name for name, m in model.named_modules()}
        self.fields = {}
        self.rows = []

    def is_map(self, shape) -> bool:
        """A feature map: batch, at least one channel axis, then the spatial axes (last)."""
        return len(shape) >= self.spatial_dims + 2

    def map_size(self, shape) -> tuple:
        return tuple(shape[len(shape) - self.spatial_dims :])

    def field_of(self, tensor):
        """The field of ``tensor``, following the graph back to tensors already known."""
        edge = edge_of(tensor) if tensor.requires_grad else tensor
        if _key(edge) in self.fields or type(edge) is not tuple:
            return self.fields.get(_key(edge))
        stack = [edge]
        while stack:  # iterative post-order over the nodes whose outputs are still unknown
            edge = stack[-1]
            if _key(edge) in self.fields:
                stack.pop()
                continue
            node = edge[0]
            pending = [e for e in node.next_edges if type(e) is tuple and _key(e) not in self.fields]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            inputs = [self.fields.get(_key(e)) for e in node.next_edges if e is not None]
            self.fields[_key(edge)] = self.combine(node.name(), [f for f in inputs if f is not None], edge[2], node)
        return self.fields[_key(edge)]

    def combine(self, op, fields, shape, node=None):
        """The field of a functional op's output: pass-through, adaptive pooling, union, or an error."""
        if not fields or not self.is_map(shape):
            return None
        map_size = self.map_size(shape)
        if len(fields) == 1 and fields[0].map_size == map_size:
            return fields[0]
        if len(fields) == 1 and (
            isinstance(node, (pool_ops.AdaptiveAvgPool, pool_ops.AdaptiveMaxPool))
            or all(m in (n, 1) for n, m in zip(fields[0].map_size, map_size))
        ):  # adaptive pooling, or a reduction to size 1 (e.g. x.mean((2, 3), keepdim=True)): the whole axis
            return fields[0].mapped(map_size, _adaptive_maps(fields[0].map_size, map_size))
        for f in fields:
            if any(n not in (m, 1) for n, m in zip(f.map_size, map_size)):
                raise ValueError(
                    f"{self.who}: the operation {op} changes the feature-map size {list(f.map_size)} -> "
                    f"{list(map_size)}, and the trace cannot know its window; compute it with a layer "
                    "(e.g. nn.MaxPool2d, nn.Upsample) instead of a functional call"
                )
        return _union(fields, map_size)

    def hook(self, module, args, output):
        outputs = [t for t in _flat_tensors(output) if t.dtype.kind == "f"]
        if not outputs or not self.is_map(outputs[0].shape):
            return
        out = outputs[0]
        in_fields = [f for f in (self.field_of(t) for t in _flat_tensors(args)) if f is not None]
        if not in_fields:
            return
        name = self.names.get(id(module), module._get_name())
        map_size = self.map_size(out.shape)
        first = in_fields[0]
        maps = _window_maps(module, len(map_size)) or _resample_maps(module, first.map_size, map_size)
        if maps is not None:
            field = first.mapped(map_size, maps)
        else:
            try:
                field = self.combine(module._get_name(), in_fields, out.shape)
            except ValueError:
                raise ValueError(
                    f"{self.who}: layer '{name}' ({module!r}) changes the feature-map size {list(first.map_size)} -> "
                    f"{list(map_size)} but has no kernel_size/stride/padding (nor scale_factor or output_size) that "
                    "says how"
                ) from None
            if field is None:
                return
        if out.requires_grad:
            self.fields[_key(edge_of(out))] = field
        self.rows.append(ReceptiveFieldRow(len(self.rows), name, module._get_name(), field, module))


def _flat_tensors(value):
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat_tensors(v)]
    return []


def receptive_field_for_unit(table: ReceptiveFieldTable, layer, unit) -> list:
    """The input region seen by one unit of one layer, clipped to the image.

    Args:
        table: a :class:`ReceptiveFieldTable` from :func:`receptive_field`.
        layer: the row: its number (int or string, as pytorch-receptive-field's ``'2'``) or the
            layer's name. A layer called more than once in the forward pass (a reused module,
            e.g. the ``relu`` of torchvision's ``BasicBlock``) has one row per call: its name is
            ambiguous and raises, listing the rows; pass the row number of the call you mean.
        unit: the unit's 0-based position in the layer's feature map, one index per spatial axis.

    Returns:
        ``[(lo, hi), ...]`` per spatial axis in input pixel coordinates,
        ``lo = max(0, start + unit*jump - rf/2)``, ``hi = min(size, start + unit*jump + rf/2)``.

    Raises:
        LayerLookupError: (a ``KeyError``) no layer of that name, or an ambiguous name (a layer
            called several times; the message lists its rows).
        IndexError: a row number out of range.
        ValueError: ``unit`` has the wrong number of indices or lies outside the layer's map.

    Example::

        >>> convlab.receptive_field_for_unit(table, "2", (1, 1))   # seed 004's ResNet stem
        [(0, 6.0), (0, 6.0)]
    """
    who = "receptive_field_for_unit()"
    if not isinstance(table, ReceptiveFieldTable):
        raise TypeError(f"{who}: expected the table returned by receptive_field(), got {type(table).__name__}")
    row = table[layer]
    unit = tuple(unit) if isinstance(unit, (tuple, list)) else (unit,)
    if len(unit) != len(row.map_size):
        raise ValueError(
            f"{who}: layer {layer!r} has a {len(row.map_size)}-d map {row.map_size}; unit {unit} has {len(unit)} indices"
        )
    for axis, (u, n) in enumerate(zip(unit, row.map_size)):
        if not isinstance(u, numbers.Integral) or not 0 <= u < n:
            raise ValueError(
                f"{who}: unit {unit} is outside layer {layer!r}'s map {row.map_size} (axis {axis}: 0..{n - 1})"
            )
    region = []
    for u, start, jump, rf, limit in zip(
        unit, row.start_per_axis, row.jump_per_axis, row.rf_per_axis, table.input_size[1:]
    ):
        centre = start + u * jump
        region.append((max(0, centre - rf / 2), min(limit, centre + rf / 2)))
    return region


def effective_receptive_field(
    model: Module, input_size, layer=None, unit=None, channel=None, samples: int = 1, seed: int = 0, mode: str = "eval"
) -> np.ndarray:
    """The effective receptive field of one unit: ``|d unit / d input|`` per input pixel.

    The gradient of the chosen unit (summed over ``channel`` or over all channels) with respect
    to a random input, its absolute value summed over the input channels and averaged over
    ``samples`` inputs (Luo et al., 2016: the effective field is much smaller than the
    theoretical one and roughly Gaussian). Nothing in the model changes (no ``.grad`` is
    written; modes, buffers and random state are restored).

    Args:
        model: the model.
        input_size: ``(channels, *spatial)`` without the batch.
        layer: the layer whose unit is used: a qualified name or a row number of
            :func:`receptive_field`'s table (default: the last layer with a feature map); the
            name of a layer called more than once is ambiguous (an error listing its rows).
        unit: the unit's position in that layer's map (default: its centre).
        channel: one output channel (default: the sum over all channels).
        samples: number of random N(0, 1) inputs to average over.
        seed: seed of those inputs (convlab's random state is not used).
        mode: ``"eval"`` (default), ``"train"`` or ``"same"``.

    Returns:
        A float64 array of the input's spatial shape.

    Example::

        >>> erf = convlab.effective_receptive_field(net, (1, 28, 28), layer="features.6")
        >>> plt.imshow(erf / erf.max())
    """
    who = "effective_receptive_field()"
    if not isinstance(model, Module):
        raise TypeError(f"{who}: expected an nn.Module, got {type(model).__name__}")
    check_mode(who, mode)
    if not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"{who}: samples must be a positive int, got {samples!r}")
    shape = _layer_input_size(who, model, input_size)
    table = receptive_field(model, shape, mode=mode)
    if len(table) < 2:
        raise ValueError(f"{who}: {model._get_name()} has no layer with a feature-map output")
    row = table[-1] if layer is None else table[layer]
    if row.layer == 0:
        raise ValueError(f"{who}: layer must be a layer of the model, not the input")
    if unit is None:
        unit = tuple(n // 2 for n in row.map_size)
    unit = tuple(unit) if isinstance(unit, (tuple, list)) else (unit,)
    if len(unit) != len(row.map_size) or not all(0 <= u < n for u, n in zip(unit, row.map_size)):
        raise ValueError(f"{who}: unit {unit} is outside layer {row.name!r}'s map {row.map_size}")
    calls_before = sum(1 for r in table[1 : row.layer] if r.module is row.module)
    target = row.module

    class _Captured(Exception):
        pass

    captured, seen = [], [0]

    def hook(module, args, output):
        if seen[0] == calls_before:
            captured.append(_flat_tensors(output)[0])
            raise _Captured
        seen[0] += 1

    rng = np.random.default_rng(seed)
    total = np.zeros(shape[1:], dtype=np.float64)
    device = model_device(model)
    for _ in range(samples):
        x = Tensor(backend.to_device(rng.standard_normal((1, *shape)).astype(dtypes.float32), device))
        x.requires_grad_(True)
        captured.clear()
        seen[0] = 0
        handle = target.register_forward_hook(hook)
        try:
            with preserved_model_state(model, mode), grad_mode.enable_grad():
                model(x)
        except _Captured:
            pass
        finally:
            handle.remove()
        out = captured[0]
        index = (0, slice(None) if channel is None else channel, *unit)
        (gradient,) = autograd_grad(out[index].sum(), [x])
        total += np.abs(backend.to_numpy(gradient.data[0])).sum(axis=0)
    return total / samples
