"""``convlab.autograd.grad`` and ``convlab.autograd.backward``: gradients of several outputs."""

from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from . import engine


def _as_tensors(name, arg, what):
    items = [arg] if isinstance(arg, Tensor) else list(arg)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): {what}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def seed_grads(name, outputs, grad_outputs):
    """The roots of a backward pass and their starting gradients (arrays), validated.

    A missing gradient is allowed only for a one-element output (it is then 1).
    """
    outputs = _as_tensors(name, outputs, "outputs")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{name}(): got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(
                f"{name}(): element {i} of the tensors does not require grad and does not have a grad_fn"
            )
        xp = array_module(out.data)
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(
                    f"{name}(): grad can be implicitly created only for scalar outputs, got output {i} of shape "
                    f"{tuple(out.shape)}; pass a gradient of that shape"
                )
            g = xp.ones_like(out.data)
        else:
            g = g.data if isinstance(g, Tensor) else xp.asarray(g, dtype=out.dtype)
            if g.shape != out.data.shape:
                raise RuntimeError(
                    f"{name}(): gradient {i} has shape {tuple(g.shape)} but output {i} has shape {tuple(out.shape)}"
                )
            if g.dtype != out.data.dtype:
                g = g.astype(out.data.dtype)
        grads.append(g)
    return outputs, grads


def _no_create_graph(name, create_graph):
    if create_graph:
        raise NotImplementedError(f"{name}(): create_graph=True (higher-order gradients) is not supported by convlab")


def grad(
    outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None, materialize_grads=False
):
    """d(outputs)/d(inputs) as a tuple of Tensors, without touching any ``.grad``.

    Args:
        outputs: a tensor or sequence of tensors to differentiate.
        inputs: tensors (leaves or not) to differentiate with respect to.
        grad_outputs: the vector in the vector-Jacobian product, one per output
            (default: ones, allowed for one-element outputs only).
        retain_graph: keep the graph for another backward pass (default False).
        create_graph: not supported (must be False).
        allow_unused: return None for inputs the outputs do not depend on (else raise).
        materialize_grads: return zeros instead of None for unused inputs.

    Returns:
        A tuple with one gradient per input (None for unused inputs when allowed).

    Example::

        >>> x = convlab.tensor([1.0, 2.0], requires_grad=True)
        >>> convlab.autograd.grad((x * x).sum(), x)
        (tensor([2., 4.]),)
    """
    _no_create_graph("grad", create_graph)
    inputs = _as_tensors("grad", inputs, "inputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad(): inputs[{i}] does not require grad (shape {tuple(t.shape)})")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs, grads = seed_grads("grad", outputs, grad_outputs)
    found = engine.run_backward(outputs, grads, retain_graph=bool(retain_graph), inputs=inputs, accumulate=False)
    result = []
    for i, (t, g) in enumerate(zip(inputs, found)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): inputs[{i}] (shape {tuple(t.shape)}) was not used in the graph; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(Tensor(array_module(t.data).zeros_like(t.data)) if materialize_grads else None)
        else:
            result.append(Tensor(g))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of several tensors into the leaves' ``.grad`` in one pass.

    Args:
        tensors: tensors to differentiate.
        grad_tensors: one gradient per tensor (None allowed for one-element tensors).
        retain_graph: keep the graph for another backward pass (default False).
        create_graph: not supported (must be False).
        inputs: accumulate only into these tensors' ``.grad`` (default: all leaves reached).
    """
    _no_create_graph("backward", create_graph)
    outputs, grads = seed_grads("backward", tensors, grad_tensors)
    if inputs is not None:
        inputs = _as_tensors("backward", inputs, "inputs")
        if not inputs:
            raise RuntimeError("backward(): 'inputs' argument to backward() cannot be empty")
    engine.run_backward(outputs, grads, retain_graph=bool(retain_graph), inputs=inputs)
