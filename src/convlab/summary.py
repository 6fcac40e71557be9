"""``convlab.summary``: a model's layers, output shapes, parameters and cost, as a table.

In the style of torchinfo's ``summary`` and Keras' ``model.summary()``: the model runs once on a
dummy batch (under ``no_grad``) with a hook on every module, and each call becomes a row with the
module's output shape, parameter count, kernel size, mult-adds and whether it is trainable.

Counting rules:

- A parameter is counted once, in the first row (in call order) of the module that owns it: a
  layer called twice shows ``(recursive)`` on its later rows, and a weight tied between two
  layers is counted in the first one only. The totals come from ``model.parameters()``, which
  lists every parameter once (including those of layers the forward pass never called).
- Mult-adds (multiply-accumulate operations) follow torchinfo: a convolution's parameters
  times the number of output positions (``N * H_out * W_out``; input positions for a transposed
  convolution), a linear layer's parameters times the number of rows it is applied to, any other
  layer's parameters times the batch size. Layers without parameters count 0.
- ``count_buffers=True`` adds the floating-point buffers (BatchNorm's running mean and variance)
  to the non-trainable parameters, as Keras' table does; ``num_batches_tracked`` is not counted.
- Sizes in MB (10^6 bytes): the inputs, the forward/backward pass (every leaf layer's output,
  twice: the activation and its gradient) and the parameters.

Running the summary never changes the model: the training flag of every module, the buffers
(BatchNorm statistics, even in ``mode="train"``) and convlab's random state are restored, and
no gradient is computed.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import backend, dtypes
from ._random import get_rng_state, set_rng_state
from .autograd import grad_mode
from .nn.modules.module import Module
from .tensor import Tensor

__all__ = ["LayerInfo", "ModelSummary", "summary"]

COLUMN_NAMES = ("input_size", "output_size", "num_params", "params_percent", "kernel_size", "mult_adds", "trainable")
_HEADERS = {
    "input_size": "Input Shape",
    "output_size": "Output Shape",
    "num_params": "Param #",
    "params_percent": "Param %",
    "kernel_size": "Kernel Shape",
    "mult_adds": "Mult-Adds",
    "trainable": "Trainable",
}
MODES = ("eval", "train", "same")


# ---------------------------------------------------------------- helpers shared with receptive_field


@contextlib.contextmanager
def preserved_model_state(model: Module, mode: str):
    """Run the body with ``model`` in ``mode`` ('eval', 'train' or 'same'), then restore every
    module's training flag, every buffer (object and values) and convlab's random state."""
    flags = [(m, m.training) for m in model.modules()]
    buffers = [
        (m, name, b, None if b is None else b.data.copy()) for m in model.modules() for name, b in m._buffers.items()
    ]
    rng_state = get_rng_state()
    try:
        if mode == "eval":
            model.eval()
        elif mode == "train":
            model.train()
        yield
    finally:
        for m, training in flags:
            m.training = training
        for m, name, b, saved in buffers:
            m._buffers[name] = b
            if b is not None:
                b.data = saved
        set_rng_state(rng_state)


def check_mode(who: str, mode) -> None:
    if mode not in MODES:
        raise ValueError(f"{who}: mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")


def as_shapes(who: str, input_size) -> list[tuple]:
    """``input_size`` (one shape, or a list of shapes for a model with several inputs) as a list of
    tuples of positive ints; ValueError/TypeError naming ``who`` otherwise."""
    if isinstance(input_size, (tuple, list)) and input_size and all(isinstance(s, (tuple, list)) for s in input_size):
        shapes = [tuple(s) for s in input_size]
    elif isinstance(input_size, (tuple, list)):
        shapes = [tuple(input_size)]
    else:
        raise TypeError(
            f"{who}: input_size must be a tuple of ints (or a list of them), got {type(input_size).__name__}"
        )
    for shape in shapes:
        if not shape or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in shape):
            raise ValueError(f"{who}: input_size must hold positive ints, got {shape}")
    return [tuple(int(n) for n in s) for s in shapes]


@contextlib.contextmanager
def explained_channel_errors(who: str, model: Module, input_size: tuple, channels: int):
    """Run the body (a forward pass of ``model`` on an input with ``channels`` channels, given by the
    user as ``input_size``); if it fails and the first layer with ``in_channels`` that ran was handed
    those channels but expects another number, raise a ValueError naming that layer and what it
    expects."""
    names = {id(m): name for name, m in model.named_modules()}
    first = []

    def record(module, args):
        if not first and args and isinstance(args[0], Tensor) and args[0].ndim >= 2:
            first.append((module, args[0].shape[1]))

    handles = [
        m.register_forward_pre_hook(record)
        for m in dict.fromkeys(model.modules())
        if isinstance(getattr(m, "in_channels", None), numbers.Integral)
    ]
    try:
        yield
    except (ValueError, TypeError, RuntimeError) as error:
        if first:
            layer, received = first[0]
            if received != layer.in_channels and received == channels:
                raise ValueError(
                    f"{who}: input_size {tuple(input_size)} has {received} channel(s), but the model's first layer "
                    f"'{names.get(id(layer), layer._get_name())}' ({layer!r}) expects {layer.in_channels} input channels"
                ) from error
        raise
    finally:
        for handle in handles:
            handle.remove()


def model_device(model: Module):
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return backend.device("cpu")


def random_inputs(shapes, input_dtypes, device) -> list[Tensor]:
    """Uniform [0, 1) inputs from a private generator (convlab's random state is left alone)."""
    rng = np.random.default_rng(0)
    inputs = []
    for shape, dtype in zip(shapes, input_dtypes):
        dtype = dtypes.as_dtype(dtype)
        array = rng.random(shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype=dtype)
        inputs.append(Tensor(backend.to_device(array, device)))
    return inputs


def _tensors(value):
    """The tensors in a (possibly nested) module output, in order."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _shape_of(value):
    """Output shape as a list (a list of lists for several tensors), None when there are none."""
    tensors = _tensors(value)
    if not tensors:
        return None
    if len(tensors) == 1:
        return list(tensors[0].shape)
    return [list(t.shape) for t in tensors]


# ---------------------------------------------------------------- the table


@dataclass
class LayerInfo:
    """One module call in a :class:`ModelSummary`.

    Attributes:
        name: qualified name (``layer1.0.conv1``; ``""`` for the model itself).
        type: the module's class name.
        depth: nesting depth (0 for the model, 1 for its children, ...).
        module: the module.
        input_size / output_size: shapes as lists (a list of lists for several tensors), or None.
        own_params: parameters first counted in this row (0 on a repeated call).
        params: own_params plus those of the rows below it (its sub-tree).
        trainable_params: the trainable part of ``params``.
        kernel_size: the spatial kernel size as a list, or None.
        mult_adds: multiply-accumulates of this call (its own parameters; 0 for containers).
        output_bytes: bytes of the output tensors.
        recursive: this module was already called earlier in the pass.
        children: the rows of the calls made inside this one.
    """

    name: str
    type: str
    depth: int
    module: Module = field(repr=False)
    input_size: list | None = None
    output_size: list | None = None
    own_params: int = 0
    own_trainable: int = 0
    params: int = 0
    trainable_params: int = 0
    kernel_size: list | None = None
    mult_adds: int = 0
    output_bytes: int = 0
    recursive: bool = False
    children: list = field(default_factory=list, repr=False)

    @property
    def trainable(self) -> str:
        """``'True'``, ``'False'``, ``'Partial'`` or ``'--'`` (no parameters), as torchinfo prints it."""
        if self.params == 0:
            return "--"
        if self.trainable_params == self.params:
            return "True"
        return "False" if self.trainable_params == 0 else "Partial"


@dataclass
class ModelSummary:
    """What :func:`summary` returns: the rows and totals; ``str()`` gives the printed table.

    Attributes:
        layers: every module call, in call order (:class:`LayerInfo`).
        total_params / trainable_params / non_trainable_params: parameter counts (each parameter
            once; with ``count_buffers`` the floating buffers are added as non-trainable).
        total_mult_adds: sum of the rows' mult-adds.
        input_bytes / activation_bytes / param_bytes: the sizes behind the MB lines.
    """

    model_name: str
    layers: list
    col_names: tuple
    depth: int
    verbose: int
    total_params: int
    trainable_params: int
    non_trainable_params: int
    total_mult_adds: int
    input_bytes: int
    activation_bytes: int
    param_bytes: int
    ran_forward: bool

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.activation_bytes + self.param_bytes

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        header = ["Layer (type)"] + [_HEADERS[c] for c in self.col_names]
        body = []
        for row, prefix, child_prefix in self._visible_rows():
            body.append(self._cells(row, prefix))
            if self.verbose >= 2:  # one line per parameter under its layer
                body += [
                    [f"{child_prefix}  · {name}: {list(p.shape)}"] + [""] * len(self.col_names)
                    for name, p in row.module.named_parameters(recurse=False)
                ]
        widths = [max(len(r[i]) for r in [header, *body]) + 3 for i in range(len(header))]
        widths[0] = max(widths[0], 32)

        def line(cells):
            return (cells[0].ljust(widths[0]) + "".join(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))).rstrip()

        rule = "=" * sum(widths)
        out = [rule, line(header), rule, *(line(r) for r in body), rule]
        out += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
        ]
        if self.ran_forward:
            unit, scale = ("G", 1e9) if self.total_mult_adds >= 1e9 else ("M", 1e6)
            out += [f"Total mult-adds ({unit}): {self.total_mult_adds / scale:.2f}", rule]
            out += [
                f"Input size (MB): {self.input_bytes / 1e6:.2f}",
                f"Forward/backward pass size (MB): {self.activation_bytes / 1e6:.2f}",
                f"Params size (MB): {self.param_bytes / 1e6:.2f}",
                f"Estimated Total Size (MB): {self.total_bytes / 1e6:.2f}",
            ]
        out.append(rule)
        return "\n".join(out)

    def _visible_rows(self):
        """(row, its tree prefix, its children's prefix) for the rows within ``depth``, depth first."""

        def walk(row, prefix, last):
            if row.depth > self.depth:
                return
            if row.depth == 0:
                child_prefix = ""
                yield row, "", child_prefix
            else:
                child_prefix = prefix + ("    " if last else "│   ")
                yield row, prefix + ("└─" if last else "├─"), child_prefix
            for i, child in enumerate(row.children):
                yield from walk(child, child_prefix, i == len(row.children) - 1)

        for root in (r for r in self.layers if r.depth == 0):
            yield from walk(root, "", True)

    def _cells(self, row, prefix):
        label = row.type if row.depth == 0 else f"{row.name.rpartition('.')[2]} ({row.type})"
        children_shown = bool(row.children) and row.depth < self.depth
        cells = [prefix + label]
        for col in self.col_names:
            if col == "input_size":
                cells.append(_format_value(row.input_size))
            elif col == "output_size":
                cells.append(_format_value(row.output_size))
            elif col == "num_params":
                cells.append(_format_params(row, children_shown))
            elif col == "params_percent":
                count = row.own_params if children_shown else row.params
                cells.append(f"{100 * count / self.total_params:.2f}%" if count and self.total_params else "--")
            elif col == "kernel_size":
                cells.append(_format_value(row.kernel_size))
            elif col == "mult_adds":
                cells.append(f"{row.mult_adds:,}" if row.mult_adds else "--")
            elif col == "trainable":
                cells.append(row.trainable)
        return cells


def _format_value(value) -> str:
    return "--" if value is None else str(value)


def _format_params(row, children_shown) -> str:
    if row.recursive and row.params == 0:
        return "(recursive)"
    count = row.own_params if children_shown else row.params
    return f"{count:,}" if count or not children_shown else "--"


def _kernel_size(module, output):
    kernel = getattr(module, "kernel_size", None)
    if kernel is None:
        return None
    if isinstance(kernel, numbers.Integral):
        tensors = _tensors(output)
        spatial = max(tensors[0].ndim - 2, 1) if tensors else 1
        return [int(kernel)] * spatial
    return [int(k) for k in kernel]


def _mult_adds(module, inputs, output) -> int:
    """Multiply-accumulates of one call (torchinfo's rule, see the module docstring)."""
    params = [p for p in module._parameters.values() if p is not None]
    if not params:
        return 0
    count = sum(p.numel() for p in params)
    outputs, ins = _tensors(output), _tensors(inputs)
    if not outputs:
        return 0
    out_shape = outputs[0].shape
    weight = getattr(module, "weight", None)  # an attribute, not a parameter, once pruned
    if getattr(module, "kernel_size", None) is not None and weight is not None and weight.ndim >= 3:
        grid = ins[0].shape if getattr(module, "transposed", False) and ins else out_shape
        return count * out_shape[0] * math.prod(grid[2:])
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return count * math.prod(out_shape[:-1])
    return count * (out_shape[0] if out_shape else 1)


def summary(
    model: Module,
    input_size=None,
    input_data=None,
    batch_dim: int | None = None,
    col_names=("output_size", "num_params"),
    depth: int = 3,
    mode: str = "eval",
    verbose: int = 1,
    dtypes=None,
    count_buffers: bool = False,
) -> ModelSummary:
    """Summarise ``model``: per layer the output shape, parameters, kernel size, mult-adds and
    trainability, then the totals and the memory it needs (torchinfo / Keras style).

    Args:
        model: the model.
        input_size: the input shape *with* the batch dimension, e.g. ``(16, 1, 28, 28)`` (or,
            with ``batch_dim``, without it); a list of shapes for a model with several inputs.
            The model runs on uniform [0, 1) random data of that shape. Without ``input_size`` and
            ``input_data`` only the parameters are listed (no forward pass).
        input_data: the input tensor(s) to run instead of random data.
        batch_dim: insert a batch dimension of size 1 at this position of every ``input_size``.
        col_names: the columns, any of ``"input_size"``, ``"output_size"``, ``"num_params"``,
            ``"params_percent"``, ``"kernel_size"``, ``"mult_adds"``, ``"trainable"``.
        depth: the deepest nesting level shown (0: the model only, 1: its children, ...); the
            parameters of hidden layers are counted in their shown ancestor.
        mode: ``"eval"`` (default, as torchinfo) or ``"train"`` to run the model in that mode,
            ``"same"`` to keep its current one; in every case the mode is restored afterwards.
        verbose: 0 prints nothing, 1 prints the table, 2 also lists each layer's parameters.
        dtypes: one dtype per input for random data (default float32).
        count_buffers: count floating-point buffers (BatchNorm running statistics) as
            non-trainable parameters, like Keras.

    Returns:
        A :class:`ModelSummary` with the rows (``layers``) and totals (``total_params``,
        ``trainable_params``, ``non_trainable_params``, ``total_mult_adds``, sizes in bytes).

    Raises:
        TypeError/ValueError: bad arguments, naming the argument and the valid choices; an
            ``input_size`` whose channels do not match the model's first convolution (the
            message names that layer and the channels it expects); any error of the forward
            pass, prefixed with the layer it happened in.

    Example::

        >>> net = convlab.models.fmnist_cnn()
        >>> s = convlab.summary(net, input_size=(1, 1, 28, 28), verbose=0)
        >>> s.trainable_params
        1677674
        >>> s = convlab.summary(net, input_size=(1, 28, 28), batch_dim=0, verbose=0,
        ...                     col_names=("output_size", "num_params", "mult_adds"))
        >>> s.layers[-1].output_size, s.total_mult_adds
        ([1, 10], 19977098)
    """
    who = "summary()"
    if not isinstance(model, Module):
        raise TypeError(f"{who}: expected an nn.Module, got {type(model).__name__}")
    check_mode(who, mode)
    if isinstance(col_names, str):
        col_names = (col_names,)
    col_names = tuple(col_names)
    for col in col_names:
        if col not in COLUMN_NAMES:
            raise ValueError(f"{who}: unknown column {col!r} in col_names; valid columns: {', '.join(COLUMN_NAMES)}")
    if not isinstance(depth, numbers.Integral) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"{who}: depth must be a non-negative int, got {depth!r}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"{who}: verbose must be 0, 1 or 2, got {verbose!r}")
    inputs = _summary_inputs(who, model, input_size, input_data, batch_dim, dtypes)

    if inputs is None:
        layers = _static_rows(model)
    else:
        layers = _traced_rows(who, model, inputs, mode)
    _accumulate(layers)

    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    if count_buffers:
        floating = [b for _, b in model.named_buffers() if b.dtype.kind == "f"]
        total += sum(b.numel() for b in floating)
        param_bytes += sum(b.numel() * b.element_size() for b in floating)
    result = ModelSummary(
        model_name=model._get_name(),
        layers=layers,
        col_names=col_names,
        depth=int(depth),
        verbose=verbose,
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        total_mult_adds=sum(row.mult_adds for row in layers),
        input_bytes=0 if inputs is None else sum(t.numel() * t.element_size() for t in inputs),
        activation_bytes=sum(2 * row.output_bytes for row in layers if not row.children and row.depth > 0),
        param_bytes=param_bytes,
        ran_forward=inputs is not None,
    )
    if verbose:
        print(result)
    return result


def _summary_inputs(who, model, input_size, input_data, batch_dim, input_dtypes):
    if input_data is not None:
        inputs = _tensors(input_data)
        if not inputs:
            raise TypeError(
                f"{who}: input_data must be a Tensor or a sequence of Tensors, got {type(input_data).__name__}"
            )
        return inputs
    if input_size is None:
        return None
    shapes = as_shapes(who, input_size)
    if batch_dim is not None:
        shapes = [s[:batch_dim] + (1,) + s[batch_dim:] for s in shapes]
    if input_dtypes is None:
        input_dtypes = [dtypes.float32] * len(shapes)
    elif len(input_dtypes) != len(shapes):
        raise ValueError(f"{who}: got {len(input_dtypes)} dtypes for {len(shapes)} input shapes")
    return random_inputs(shapes, input_dtypes, model_device(model))


def _static_rows(model):
    """Rows from the module tree alone (no forward pass): names, types, parameters."""
    rows, by_module = [], {}
    for name, module in model.named_modules():
        row = LayerInfo(
            name=name, type=module._get_name(), depth=0 if name == "" else name.count(".") + 1, module=module
        )
        by_module[name] = row
        if name:
            by_module[name.rpartition(".")[0]].children.append(row)
        rows.append(row)
    return rows


def _traced_rows(who, model, inputs, mode):
    """Rows from one forward pass with a pre-hook and a hook on every module."""
    rows, stack, seen_modules, handles = [], [], set(), []
    names = {id(m): name for name, m in model.named_modules()}

    def before(module, args):
        name = names.get(id(module), module._get_name())
        parent = stack[-1] if stack else None
        row = LayerInfo(
            name=name,
            type=module._get_name(),
            depth=0 if parent is None else parent.depth + 1,
            module=module,
            input_size=_shape_of(args),
            recursive=id(module) in seen_modules,
        )
        seen_modules.add(id(module))
        if parent is not None:
            parent.children.append(row)
        rows.append(row)
        stack.append(row)

    def after(module, args, output):
        row = stack.pop()
        row.output_size = _shape_of(output)
        row.output_bytes = sum(t.numel() * t.element_size() for t in _tensors(output))
        row.kernel_size = _kernel_size(module, output)
        row.mult_adds = _mult_adds(module, args, output)

    for module in dict.fromkeys(model.modules()):
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
    channels = inputs[0].shape[1] if inputs[0].ndim > 1 else 0
    try:
        with explained_channel_errors(who, model, tuple(inputs[0].shape), channels):
            try:
                with preserved_model_state(model, mode), grad_mode.no_grad():
                    model(*inputs)
            except (ValueError, TypeError, RuntimeError) as error:
                where = f" in layer '{stack[-1].name}' ({stack[-1].type})" if stack else ""
                raise type(error)(
                    f"{who}: running {model._get_name()} on input {shapes} failed{where}: {error}"
                ) from error
    finally:
        for handle in handles:
            handle.remove()
    return rows


def _accumulate(rows) -> None:
    """Fill own/sub-tree parameter counts: each parameter counted in the first row owning it."""
    counted = set()
    for row in rows:
        for p in row.module._parameters.values():
            if p is not None and id(p) not in counted:
                counted.add(id(p))
                row.own_params += p.numel()
                row.own_trainable += p.numel() if p.requires_grad else 0
    for row in reversed(rows):  # children come after their parent: sums are ready bottom-up
        row.params = row.own_params + sum(c.params for c in row.children)
        row.trainable_params = row.own_trainable + sum(c.trainable_params for c in row.children)
