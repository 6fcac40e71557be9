"""``convlab.autograd.grad`` and ``convlab.autograd.backward``: gradients of several outputs."""

from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from . import engine


def _seed_grads(name, outputs, grad_outputs):
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    grads = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError(f"{name}(): an output does not require grad and has no grad_fn")
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(f"{name}(): grad can be implicitly created only for scalar outputs, got shape {tuple(out.shape)}")
            g = array_module(out.data).ones_like(out.data)
        else:
            g = g.data if isinstance(g, Tensor) else g
            if g.shape != out.data.shape:
                raise RuntimeError(f"{name}(): grad_outputs shape {tuple(g.shape)} doesn't match output shape {tuple(out.shape)}")
        grads.append(g)
    return outputs, grads


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """d(outputs)/d(inputs) as a tuple of Tensors, without touching any ``.grad``.

    Args:
        outputs: a tensor or sequence of tensors to differentiate.
        inputs: tensors to differentiate with respect to.
        grad_outputs: the vector in the vector-Jacobian product (default: ones for scalars).
        retain_graph: keep the graph for another backward pass.
        allow_unused: return None for inputs the outputs do not depend on (else raise).
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    outputs, grads = _seed_grads("grad", outputs, grad_outputs)
    found = engine.run_backward(outputs, grads, retain_graph=retain_graph, inputs=inputs)
    result = []
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad(): input {i} was not used in the graph; pass allow_unused=True to get None for it")
        result.append(None if g is None else Tensor(g))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=False):
    """Accumulate the gradients of several tensors into the leaves' ``.grad`` in one pass."""
    outputs, grads = _seed_grads("backward", tensors, grad_tensors)
    engine.run_backward(outputs, grads, retain_graph=retain_graph)
