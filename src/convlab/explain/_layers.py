"""Finding a layer by name and running a model without leaving a trace (private helpers).

Every explain function that hooks or runs a model goes through :func:`untouched`, so after any
call, even one that raised, the model's hooks, train/eval flags, buffers, ``requires_grad`` flags,
``.grad`` fields and convlab's random state are as before.
"""

from __future__ import annotations

import contextlib

from ..nn.modules.module import Module
from ..summary import check_mode, preserved_model_state


def find_layer(who: str, model: Module, layer) -> tuple[str, Module]:
    """``(qualified name, module)`` for ``layer``, a module of ``model`` or its dotted name.

    Raises:
        TypeError: ``model`` is not a Module, or ``layer`` is neither a Module nor a str.
        ValueError: no such layer in ``model`` (the message lists the names).
    """
    if not isinstance(model, Module):
        raise TypeError(f"{who}: expected an nn.Module, got {type(model).__name__}")
    named = dict(model.named_modules())
    if isinstance(layer, Module):
        for name, module in named.items():
            if module is layer:
                return name, module
        raise ValueError(f"{who}: layer {layer!r} is not a module of {model._get_name()}")
    if isinstance(layer, str):
        if layer in named and layer:
            return layer, named[layer]
        names = ", ".join(repr(n) for n in named if n)
        raise ValueError(f"{who}: {model._get_name()} has no layer named {layer!r}; layers: {names}")
    raise TypeError(f"{who}: layer must be a module of the model or its dotted name, got {type(layer).__name__}")


@contextlib.contextmanager
def untouched(model: Module, mode: str = "same", who: str = "explain"):
    """Run the body with ``model`` in ``mode`` ('eval', 'train' or 'same'); afterwards restore
    every module's mode, buffers, hooks, each parameter's ``requires_grad`` and ``.grad``, and the
    random state, even when the body raised."""
    check_mode(who, mode)
    params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    hooks = [(m, name, dict(getattr(m, name))) for m in model.modules()
             for name in ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks", "_backward_pre_hooks")]
    try:
        with preserved_model_state(model, mode):
            yield
    finally:
        for p, requires_grad, grad in params:
            p.requires_grad = requires_grad
            p.grad = grad
        for m, name, saved in hooks:
            store = getattr(m, name)
            store.clear()
            store.update(saved)


class StopForward(Exception):
    """Raised by a capturing hook to end a forward pass once the wanted layer has run."""
