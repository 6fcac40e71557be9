"""Tracing: run a model once and record every op (``Function`` application) it makes.

Autograd records an op as a graph node when it runs (``Function.apply``); tracing records the
same applications, with their options, for export. While :func:`trace` runs, ``Function.apply``
is wrapped so that each call reports ``(op class, Tensor/option arguments, keyword options,
outputs)`` to the :class:`Tracer`, and forward hooks on every submodule keep the name of the
module the op ran in, for error messages. Everything is put back afterwards, even when the
model raises.

The model runs with grad mode on and the inputs requiring grad, so every op on the input's path
makes a new Tensor (in-place layers such as ``ReLU(inplace=True)`` and ``x += y`` fall back to
their out-of-place form when their input is part of a graph); the Tensor objects then identify
the values of the traced graph one to one.
"""

from __future__ import annotations

import contextlib

from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor


@contextlib.contextmanager
def recording(on_op):
    """Within the block, call ``on_op(cls, args, kwargs, out)`` after every ``Function.apply``."""
    original = Function.__dict__["apply"]
    apply = original.__func__

    def traced_apply(cls, *args, **kwargs):
        out = apply(cls, *args, **kwargs)
        on_op(cls, args, kwargs, out)
        return out

    Function.apply = classmethod(traced_apply)
    try:
        yield
    finally:
        Function.apply = original


@contextlib.contextmanager
def module_scopes(model, stack):
    """Keep ``stack`` holding the ``"name (Type)"`` of each module whose forward is running."""

    def push(label):
        def hook(module, args):
            stack.append(label)

        return hook

    def pop(module, args, output):
        stack.pop()

    handles = []
    try:
        for name, module in model.named_modules():
            label = f"{name or '<model>'} ({type(module).__name__})"
            handles.append(module.register_forward_pre_hook(push(label)))
            handles.append(module.register_forward_hook(pop))
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_traced(model, inputs, on_op, stack):
    """Run ``model(*inputs)`` with grad on and every op reported to ``on_op``; returns the output."""
    with grad_mode.enable_grad(), module_scopes(model, stack), recording(on_op):
        return model(*inputs)


def flatten_outputs(out, who):
    """The Tensors of a model's output: a Tensor, or a (named) tuple/list of Tensors."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        flat = []
        for item in out:
            flat.extend(flatten_outputs(item, who))
        return flat
    raise TypeError(f"{who}: the model returned {type(out).__name__}; expected a Tensor or a tuple of Tensors")
