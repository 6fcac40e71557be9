"""The graph walk behind ``Tensor.backward()``, ``convlab.autograd.backward`` and
``convlab.autograd.grad``.

Nodes are visited in reverse topological order (every consumer of a tensor before the op that
produced it), found by an iterative depth-first search, so chains of any length work without
touching Python's recursion limit. The gradients arriving at a node from all its consumers are
summed before its ``backward`` runs once; the gradients reaching a leaf are summed over the whole
pass, passed through the leaf's hooks and then accumulated into ``.grad`` (in place when a
``.grad`` already exists, as PyTorch does).

Every gradient an op returns is checked against the input it belongs to: a gradient with the
input's shape plus broadcast dimensions is summed down to that shape, any other shape is an
error naming the op; a gradient of another floating dtype is cast to the input's dtype.

Before a node's ``backward`` runs, the versions it recorded are compared with its inputs'
(and in-place changed outputs') current ``_version``: one that changed, and whose memory the
node saved for backward, means the saved values are no longer those of the forward pass, and the
walk stops with PyTorch's "modified by an inplace operation" RuntimeError. A change to a tensor
the node did not save (``a + b`` saves nothing) is harmless and passes.

A leaf with post-accumulate hooks (``Tensor.register_post_accumulate_grad_hook``) gets its
gradient as soon as the last node that feeds it has run, not after the whole walk: its ``.grad``
is final then, and the hooks are called at once with the tensor - so that, for instance,
DistributedDataParallel can start sending a bucket of gradients while the rest of backward still
runs. Callbacks queued with :func:`queue_callback` during a pass run when the walk ends.

When only some tensors' gradients are wanted (``autograd.grad`` or ``backward(inputs=...)``),
nodes that lead to none of them are skipped, and each executed node is told through
``needs_input_grad`` to compute only the gradients that lead somewhere.
"""

from __future__ import annotations

import weakref


def topological_order(roots) -> list:
    """Graph nodes reachable from ``roots``, each before the nodes that produced its inputs."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if type(edge) is tuple and edge[0] not in seen:
                    parent = edge[0]
                    seen.add(parent)
                    stack.append((parent, iter(parent.next_edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def edge_of(t):
    """Where the gradient of tensor ``t`` goes: its producer's output slot, or ``t`` for a leaf."""
    if t.grad_fn is None:
        return t
    return (t.grad_fn, t._output_index, t.data.shape, t.data.dtype)


def _key(edge):
    """Hashable identity of an edge's destination (leaf tensors by id: ``==`` is elementwise)."""
    return edge[:2] if type(edge) is tuple else id(edge)


def _fit(g, shape, dtype, node):
    """``g`` as the gradient of a ``shape``/``dtype`` input; sums out broadcast dimensions."""
    if g.shape != shape:
        if len(g.shape) < len(shape) or not _broadcasts_to(shape, g.shape):
            who = "the gradient seed" if node is None else f"{node.name()}"
            raise RuntimeError(
                f"backward(): {who} returned a gradient of shape {tuple(g.shape)} for an input of shape {tuple(shape)}"
            )
        g = unbroadcast(g, shape)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _broadcasts_to(shape, target) -> bool:
    lead = len(target) - len(shape)
    return all(n == 1 or n == target[lead + i] for i, n in enumerate(shape))


def _run_hooks(hooks, grad):
    for hook in list(hooks):
        result = hook(Tensor(grad))
        if result is not None:
            grad = result.data if isinstance(result, Tensor) else result
    return grad


def _private(g, shape, handed_out):
    """``g`` or a copy of it, safe to give away as a ``.grad``: never a view, a read-only
    array, or an array already given to another tensor in this pass."""
    if g.base is not None or not getattr(g.flags, "writeable", True) or id(g) in handed_out:
        g = g.copy()
    handed_out.add(id(g))
    return g


def queue_callback(callback) -> None:
    """Run ``callback()`` once the backward pass in progress has finished its walk (as PyTorch's
    ``Variable._execution_engine.queue_callback``); only valid inside a pass (from a hook)."""
    if not _CALLBACKS:
        raise RuntimeError("queue_callback(): only valid during a backward pass (call it from a gradient hook)")
    _CALLBACKS[-1].append(callback)


def run_backward(tensors, grads, retain_graph=False, inputs=None, accumulate=True):
    """:func:`_walk` (same arguments), then the callbacks queued during it (they may queue more)."""
    _CALLBACKS.append([])
    try:
        result = _walk(tensors, grads, retain_graph, inputs, accumulate)
        queued = _CALLBACKS[-1]
        while queued:
            queued.pop(0)()
        return result
    finally:
        _CALLBACKS.pop()


def _walk(tensors, grads, retain_graph=False, inputs=None, accumulate=True):
    """Propagate ``grads`` (arrays, one per tensor in ``tensors``) back through the graph.

    Args:
        tensors: the tensors to differentiate (roots of the walk).
        grads: d(something)/d(tensor) for each root, arrays of the roots' shapes.
        retain_graph: keep what forward saved, so the graph can be walked again.
        inputs: only these tensors' gradients are wanted (default: every leaf reached).
        accumulate: add the gradients into ``.grad`` (``backward``); when False (``grad``),
            nothing is stored and the gradients w.r.t. ``inputs`` are returned.

    Returns:
        With ``accumulate=False``, a list with one array (or None, if unreachable) per input.
    """
    wanted = None
    if inputs is not None:
        wanted = {}
        for i, t in enumerate(inputs):
            wanted.setdefault(_key(edge_of(t)), []).append(i)
    found = [None] * len(inputs) if inputs is not None else None
    pending: dict = {}  # node -> list of summed gradients, one per output
    leaf_grads: dict = {}  # id(leaf) -> [leaf, summed gradient]
    handed_out = {id(g) for g in grads}  # callers' arrays: never stored without a copy

    def deliver(edge, g):
        if type(edge) is tuple:
            node, k = edge[0], edge[1]
            buf = pending.get(node)
            if buf is None:
                buf = pending[node] = [None] * node.n_outputs
            buf[k] = g if buf[k] is None else buf[k] + g
        else:
            entry = leaf_grads.get(id(edge))
            if entry is None:
                leaf_grads[id(edge)] = [edge, g]
            else:
                entry[1] = entry[1] + g

    roots = []
    for t, g in zip(tensors, grads):
        edge = edge_of(t)
        deliver(edge, g)
        if type(edge) is tuple:
            roots.append(edge[0])

    order = topological_order(roots)
    outputs_changed = bool(_CHANGED_NODES)  # some op output was changed in place (rare)
    useful = None if wanted is None else _useful_nodes(order, wanted)
    # leaves with post-accumulate hooks -> edges still to arrive; each is finished when it reaches 0
    remaining = _edges_to_hooked_leaves(order) if _POST_HOOKS and accumulate and wanted is None else None

    for node in order:
        buf = pending.pop(node, None)
        if buf is None:
            if remaining:
                _count_down(node, remaining, leaf_grads, handed_out)
            continue
        if node.output_hooks:
            for k, hooks in node.output_hooks.items():
                if buf[k] is not None:
                    buf[k] = _run_hooks(hooks, buf[k])
        if wanted is not None:
            for k, g in enumerate(buf):
                if g is not None and (node, k) in wanted:
                    for i in wanted[(node, k)]:
                        found[i] = g
            if node not in useful:
                continue
        if node.released:
            raise RuntimeError(
                f"backward(): trying to backward through the graph a second time ({node.name()} has already "
                "freed its saved values); call backward(retain_graph=True) the first time if you need to"
            )
        edges = node.next_edges
        if node.saved_versions is not None:
            _check_held_inputs(node)
        if outputs_changed:
            _check_changed_outputs(node, edges)
        needs = node.needs_input_grad
        if wanted is not None:
            node.needs_input_grad = tuple(_leads_to_wanted(e, useful, wanted) for e in edges)
        try:
            in_grads = node.backward(node, *buf)
        finally:
            node.needs_input_grad = needs
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if len(in_grads) != len(edges):
            raise RuntimeError(
                f"backward(): {node.name()} returned {len(in_grads)} gradients, expected {len(edges)} (one per forward argument)"
            )
        if not retain_graph:
            node.release()
        for edge, g in zip(edges, in_grads):
            if edge is None or g is None:
                continue
            if type(edge) is tuple:
                if g.shape != edge[2] or g.dtype != edge[3]:
                    g = _fit(g, edge[2], edge[3], node)
            elif g.shape != edge.data.shape or g.dtype != edge.data.dtype:
                g = _fit(g, edge.data.shape, edge.data.dtype, node)
            deliver(edge, g)
        if remaining:
            _count_down(node, remaining, leaf_grads, handed_out)

    for leaf, g in leaf_grads.values():
        if wanted is not None:
            positions = wanted.get(id(leaf))
            if positions is None:
                continue
        if accumulate:
            _finish_leaf(leaf, g, handed_out)
            continue
        if leaf._hooks:
            g = _run_hooks(leaf._hooks, g)
        for i in positions:
            found[i] = g
    if found is None:
        return None
    if accumulate:  # backward(inputs=[non-leaf, ...]): those tensors keep their gradient in .grad
        for t, g in zip(inputs, found):
            if g is not None and t.grad_fn is not None:
                _accumulate(t, g, handed_out)
        return None
    return [None if g is None else _private(g, g.shape, handed_out) for g in found]


def _edges_to_hooked_leaves(order) -> dict:
    """``id(leaf) -> number of edges of the nodes in order`` for the leaves with post-accumulate hooks."""
    counts = {}
    for node in order:
        for edge in node.next_edges:
            if edge is not None and type(edge) is not tuple and id(edge) in _POST_HOOKS:
                counts[id(edge)] = counts.get(id(edge), 0) + 1
    return counts


def _count_down(node, remaining, leaf_grads, handed_out) -> None:
    """``node`` is done (run or skipped): finish the hooked leaves that expect nothing more."""
    for edge in node.next_edges:
        if edge is None or type(edge) is tuple:
            continue
        left = remaining.get(id(edge))
        if left is None:
            continue
        remaining[id(edge)] = left - 1
        if left == 1:
            entry = leaf_grads.pop(id(edge), None)
            if entry is not None:
                _finish_leaf(entry[0], entry[1], handed_out)


def _finish_leaf(leaf, g, handed_out) -> None:
    """A leaf's gradient for the pass is complete: hooks, accumulation, post-accumulate hooks."""
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g)
    _accumulate(leaf, g, handed_out)
    post = _POST_HOOKS.get(id(leaf))
    if post:
        for hook in list(post):
            hook(leaf)


def _check_held_inputs(node) -> None:
    """Check the inputs ``node`` recorded in ``saved_versions`` (leaves and tensors that need no
    gradient) against their current versions."""
    held = node.saved_versions
    for i in range(0, len(held), 2):
        t = held[i]
        if type(t) is _WEAKREF:
            t = t()
        if t is not None and t._version != held[i + 1]:
            _check_saved(node, t, held[i + 1])


def _check_changed_outputs(node, edges) -> None:
    """Check the outputs of other ops that ``node`` consumed, and ``node``'s own outputs, that
    were changed in place (listed in their producer's ``modified_outputs``)."""
    for edge in edges:
        if type(edge) is tuple:
            changed = getattr(edge[0], "modified_outputs", None)
            ref = None if changed is None else changed.get(edge[1])
            t = None if ref is None else ref()
            if t is not None and t._version != edge[4]:
                _check_saved(node, t, edge[4])
    changed = getattr(node, "modified_outputs", None)
    if changed is not None:
        for ref in changed.values():
            t = ref()
            if t is not None and t._version != 0:  # an op's outputs start at version 0
                _check_saved(node, t, 0)


def _check_saved(node, t, version) -> None:
    """Raise if tensor ``t``, changed in place since ``node`` ran (``version`` then), shares
    memory with anything ``node`` saved for backward (arrays on ctx, or in a tuple/list there)."""
    data = t.data
    xp = array_module(data)
    for v in node.__dict__.values():
        items = v if type(v) in (tuple, list) else (v,)
        for a in items:
            if isinstance(a, _ARRAY_TYPES) and array_module(a) is xp and xp.may_share_memory(a, data):
                what = f"output {t._output_index} of {node.name()}" if t.grad_fn is node else f"saved by {node.name()}"
                raise RuntimeError(
                    "backward(): one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.type()} {list(t.shape)}], {what}, is at version {t._version}; expected version "
                    f"{version} instead. It was changed in place (add_, mul_, x[i] = ..., an optimizer step, ...) "
                    f"after {node.name()} saved it for backward: make the change after backward(), or pass a clone() "
                    "of it to the op"
                )


def _leads_to_wanted(edge, useful, wanted) -> bool:
    if edge is None:
        return False
    if type(edge) is tuple:
        return edge[0] in useful or edge[:2] in wanted
    return id(edge) in wanted


def _useful_nodes(order, wanted) -> set:
    """The nodes of ``order`` from which some wanted tensor is reachable (producers first)."""
    useful = set()
    for node in reversed(order):
        if any(_leads_to_wanted(e, useful, wanted) for e in node.next_edges):
            useful.add(node)
    return useful


def _accumulate(t, g, handed_out) -> None:
    """Add ``g`` into ``t.grad`` (in place when possible) or store it as the first gradient."""
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if g.shape != t.data.shape:
        g = array_module(g).broadcast_to(g, t.data.shape)
    current = t.grad
    if current is None:
        t.grad = Tensor(_private(g, g.shape, handed_out))
        return
    acc = current.data
    if acc.shape == g.shape and acc.dtype == g.dtype and getattr(acc.flags, "writeable", True):
        acc += g
    else:
        t.grad = Tensor(acc + g)


# Imported last: tensor and ops import this module (circular).
from ..backend import array_module
from ..tensor import _ARRAY_TYPES, Tensor
from .function import _CHANGED_NODES, unbroadcast

_WEAKREF = weakref.ReferenceType
# id(leaf tensor) -> its post-accumulate hooks (Tensor.register_post_accumulate_grad_hook); keyed by
# id, not weakly by the tensor (a weak key compares tensors with ==, which is elementwise), and
# removed by a finalizer when the tensor dies
_POST_HOOKS: dict = {}
_CALLBACKS: list = []  # one list of queued callbacks per backward pass in progress (nested passes stack)
