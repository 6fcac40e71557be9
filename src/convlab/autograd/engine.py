"""The graph walk behind ``Tensor.backward()`` and ``convlab.autograd.grad``.

Nodes are visited in reverse topological order (every consumer of a tensor before the op that
produced it), found by an iterative depth-first search, so chains of any length work without
touching Python's recursion limit. Gradients arriving at a node from several consumers are
summed before its ``backward`` runs; gradients reaching a leaf are accumulated into ``.grad``.
"""

from __future__ import annotations


def topological_order(roots) -> list:
    """Graph nodes reachable from ``roots``, each before the nodes that produced its inputs."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.inputs))]
        while stack:
            node, inputs = stack[-1]
            for t in inputs:
                parent = t.grad_fn if t is not None else None
                if parent is not None and parent not in seen:
                    seen.add(parent)
                    stack.append((parent, iter(parent.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _run_hooks(hooks, grad):
    for hook in hooks:
        result = hook(Tensor(grad))
        if result is not None:
            grad = result.data if isinstance(result, Tensor) else result
    return grad


def run_backward(tensors, grads, retain_graph=False, inputs=None):
    """Propagate ``grads`` (arrays, one per tensor in ``tensors``) back through the graph.

    With ``inputs=None`` the gradients accumulate into the ``.grad`` of every leaf reached.
    With ``inputs`` given, nothing is accumulated: the gradients with respect to those tensors
    are returned as a list of arrays (``None`` where unreachable), as ``autograd.grad`` does.
    """
    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    found = None if inputs is None else [None] * len(inputs)
    pending: dict = {}
    given_to_leaves: set = set()

    def deliver(t, g):
        if wanted is not None and id(t) in wanted:
            i = wanted[id(t)]
            found[i] = g if found[i] is None else found[i] + g
        if t.grad_fn is not None:
            buf = pending.get(t.grad_fn)
            if buf is None:
                buf = pending[t.grad_fn] = {}
            k = t._output_index
            buf[k] = g if k not in buf else buf[k] + g
        elif wanted is None:
            _accumulate_leaf(t, g, given_to_leaves)

    for t, g in zip(tensors, grads):
        deliver(t, g)

    for node in topological_order([t.grad_fn for t in tensors if t.grad_fn is not None]):
        buf = pending.pop(node, None)
        if buf is None:
            continue
        if node.released:
            raise RuntimeError(
                f"backward(): trying to backward through the graph a second time ({node.name()} has already "
                "freed its saved values); call backward(retain_graph=True) the first time if you need to"
            )
        if node.output_hooks:
            for k, hooks in node.output_hooks.items():
                if k in buf:
                    buf[k] = _run_hooks(hooks, buf[k])
        in_grads = node.backward(node, *[buf.get(k) for k in range(node.n_outputs)])
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if not retain_graph:
            node.release()
        for t, g in zip(node.inputs, in_grads):
            if t is not None and g is not None and t.requires_grad:
                deliver(t, g)
    return found


def _accumulate_leaf(t, g, given_to_leaves):
    if t._hooks:
        g = _run_hooks(t._hooks, g)
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        # The first gradient is stored without a copy unless it may be shared: a view
        # (broadcast, reshape), a read-only array, or one already handed to another leaf.
        if g.base is not None or not g.flags.writeable or id(g) in given_to_leaves or g.shape != t.data.shape:
            g = g.copy() if g.shape == t.data.shape else _xp(g).broadcast_to(g, t.data.shape).copy()
        given_to_leaves.add(id(g))
        t.grad = Tensor(g)
    else:
        t.grad = Tensor(t.grad.data + g)


from ..backend import array_module as _xp  # noqa: E402
from ..tensor import Tensor  # noqa: E402
