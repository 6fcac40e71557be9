"""What every explain instrument shares: finding a layer by module or dotted name, reading a
layer's output through a forward hook, and leaving the model exactly as it was found.

An instrument may register hooks, run the model in grad mode and meet an exception half-way
(a bad ``target``, a layer that is not spatial). :func:`leave_no_trace` snapshots the state an
instrument could disturb (hooks, train/eval mode, ``requires_grad`` flags, ``.grad`` and the
buffers a training-mode BatchNorm would update) and puts it back in a ``finally``, so an
explanation never changes the model it explains.
"""

from __future__ import annotations

import contextlib

from ..nn.modules.module import Module
from ..tensor import Tensor

# Module attributes that hold hooks (dicts keyed by handle id) and the id sets that qualify them.
_HOOK_DICTS = ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks", "_backward_pre_hooks")
_HOOK_SETS = ("_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs", "_forward_hooks_always_called")


def owning_module(forward_func) -> Module | None:
    """The Module behind ``forward_func``: the module itself, the owner of a bound method such as
    ``model.forward``, or None for any other callable."""
    if isinstance(forward_func, Module):
        return forward_func
    owner = getattr(forward_func, "__self__", None)
    return owner if isinstance(owner, Module) else None


def layer_names(model: Module) -> list[str]:
    """The dotted names of ``model``'s submodules (the root, named ``""``, left out)."""
    return [name for name, _ in model.named_modules() if name]


def resolve_layer(model: Module | None, layer, who: str) -> tuple[Module, str]:
    """``(module, dotted_name)`` for ``layer``, a submodule of ``model`` or its dotted name.

    Args:
        model: the model the layer belongs to (None when the forward function is not a Module:
            then ``layer`` must be a Module, and its name is its class name).
        layer: an ``nn.Module`` or a dotted name such as ``"layer4.1.conv2"``.
        who: the caller's name, for error messages.

    Raises:
        TypeError: ``layer`` is neither a Module nor a str, or a name is given without a model.
        ValueError: no submodule has that name, or the module is not part of ``model``;
            the message lists the available names.
    """
    if isinstance(layer, str):
        if model is None:
            raise TypeError(
                f"{who}: layer={layer!r} is a name, but the forward function is not an nn.Module to look it up in; "
                "pass the layer module itself"
            )
        modules = dict(model.named_modules())
        if layer in modules and layer:
            return modules[layer], layer
        raise ValueError(f"{who}: the model has no layer named {layer!r}; available layers: {_listing(model)}")
    if not isinstance(layer, Module):
        raise TypeError(f"{who}: layer must be an nn.Module or a dotted name (str), got {type(layer).__name__}")
    if model is None:
        return layer, layer._get_name()
    for name, module in model.named_modules():
        if module is layer:
            return layer, name or layer._get_name()
    raise ValueError(
        f"{who}: layer {layer._get_name()} is not a submodule of the model; available layers: {_listing(model)}"
    )


def _listing(model: Module) -> str:
    names = layer_names(model)
    return ", ".join(repr(n) for n in names) if names else "(none: the model has no submodules)"


def as_tuple(value) -> tuple:
    """A module's input or output as a tuple of tensors."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


@contextlib.contextmanager
def capture_layers(layers, attribute_to_layer_input: bool = False, requires_grad: bool = False):
    """Record what ``layers`` output (or, with ``attribute_to_layer_input``, receive) while the
    block runs; yields a dict ``{layer: tuple of Tensors}`` filled by the forward pass.

    Args:
        layers: the modules to watch.
        attribute_to_layer_input: record the layer's inputs instead of its outputs.
        requires_grad: the recorded tensors are to be differentiated: an output that needs no
            gradient (a frozen model) is replaced, for the rest of the forward pass, by a leaf
            that does. Without it the arrays are copied, because an ``inplace=True``
            activation run under ``no_grad`` would overwrite a layer's output after the hook.

    A layer called several times in one forward pass keeps its last call, as Captum does.
    The hooks are removed when the block ends, even on an exception.
    """
    saved: dict = {}

    def watch(layer):
        def record(values):
            values = as_tuple(values)
            for v in values:
                if not isinstance(v, Tensor):
                    raise TypeError(
                        f"{layer._get_name()}: the layer's {'inputs' if attribute_to_layer_input else 'output'} "
                        f"must be Tensors to be explained, got {type(v).__name__}"
                    )
            if requires_grad:
                values = tuple(v if v.requires_grad else Tensor(v.data, requires_grad=True) for v in values)
            else:
                values = tuple(Tensor(v.data.copy()) for v in values)
            saved[layer] = values
            return values

        if attribute_to_layer_input:

            def pre_hook(module, args):
                values = record(args)
                return values if requires_grad else None

            return layer.register_forward_pre_hook(pre_hook)

        def hook(module, args, output):
            values = record(output)
            if requires_grad:
                return values if isinstance(output, (tuple, list)) else values[0]
            return None

        return layer.register_forward_hook(hook)

    handles = []
    try:
        for layer in layers:
            handles.append(watch(layer))
        yield saved
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def leave_no_trace(*modules, freeze_parameters: bool = False):
    """Restore ``modules`` (and their submodules) on exit, even after an exception: the hooks
    (any added inside are removed), every module's train/eval mode, every parameter's
    ``requires_grad`` flag and ``.grad``, and the buffers' values (a BatchNorm in training mode
    updates its running statistics on each forward pass).

    With ``freeze_parameters`` the parameters do not require grad inside the block, so a pass
    that differentiates only inputs or activations neither records nor keeps what weight
    gradients would need (the layers before the first tensor that requires grad are not
    recorded at all)."""
    seen, state = set(), []
    for root in modules:
        if root is None:
            continue
        for module in root.modules():
            if id(module) in seen:
                continue
            seen.add(id(module))
            hooks = {name: set(getattr(module, name)) for name in _HOOK_DICTS}
            params = [(p, p.requires_grad, p.grad) for p in module.parameters(recurse=False)]
            buffers = [(b, b.data, b.data.copy()) for b in module.buffers(recurse=False)]
            state.append((module, module.training, hooks, params, buffers))
    try:
        if freeze_parameters:
            for *_, params, _ in state:
                for p, _, _ in params:
                    p.requires_grad = False
        yield
    finally:
        for module, training, hooks, params, buffers in state:
            for name, keys in hooks.items():
                store = getattr(module, name)
                for key in [k for k in store if k not in keys]:
                    del store[key]
                    for id_set in _HOOK_SETS:
                        getattr(module, id_set).discard(key)
            module.__dict__["training"] = training
            for p, flag, grad in params:
                p.requires_grad = flag
                p.grad = grad
            for b, array, data in buffers:
                # untouched buffers keep their array (it may be a read-only checkpoint mapping)
                if b.data is not array or not (array == data).all():
                    b.data = data
