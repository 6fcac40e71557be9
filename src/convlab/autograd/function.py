"""``Function``: the base of every differentiable op.

An op is one subclass with ``forward`` and ``backward`` side by side, both static and both
working on raw backend arrays (NumPy or CuPy)::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):              # y = e^x
            y = xp.exp(x)
            ctx.y = y                     # whatever backward needs, stored on ctx
            return y

        @staticmethod
        def backward(ctx, grad):          # dL/dx = dL/dy * e^x
            return grad * ctx.y

    y = Exp.apply(x)                      # Tensor in, Tensor out, graph recorded

``apply`` unwraps Tensor arguments to arrays, runs ``forward`` and, when some input requires a
gradient and grad mode is on, records the call as a node of the graph: the ``ctx`` object *is*
the node. ``ctx.needs_input_grad[i]`` tells ``forward`` what to save and ``backward`` which
gradients to compute; ``backward`` returns one gradient (or ``None``) per positional argument of
``forward``. Keyword arguments are options (never differentiated). A ``forward`` returning a
tuple makes a multi-output node whose ``backward`` receives one gradient per output (``None`` for
outputs that received none). Integer or boolean outputs never require grad.

The node remembers where each input's gradient goes as an *edge*, fixed when the op runs:
``(producer_node, output_index, shape, dtype)`` for an input made by another op, the tensor
itself for a leaf that requires grad, ``None`` for an input that needs no gradient. The graph
therefore holds no activations besides what ``forward`` saved on ``ctx``, and freeing those after
``backward`` frees the memory, as in PyTorch.

A recorded node also notes each Tensor argument's ``_version`` (the count of its in-place
changes) when the op ran: in the edge for an input made by another op (one more integer), else
in ``saved_versions``, a flat tuple ``(tensor_or_weakref, version, ...)``: a leaf that requires
grad is held by its edge anyway, other tensors only weakly, so the graph keeps no activation
alive. A non-leaf can only change in place under ``no_grad``; it is then listed in its
producer's ``modified_outputs`` (unset until then), where its consumers find it. Before running
a node's ``backward``, the engine compares the versions: a tensor changed in place since the op
ran whose memory is shared with what ``forward`` saved on ``ctx`` makes ``backward()`` raise, as
PyTorch's version counters do, instead of computing a wrong gradient from the new values.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import grad_mode

# The live nodes with an output changed in place (see note_modified_output); while it is empty,
# the backward walk skips looking for such changes.
_CHANGED_NODES: weakref.WeakSet = weakref.WeakSet()


class Function:
    """Base class of differentiable ops; an instance is the ``ctx`` and the graph node."""

    # Graph bookkeeping lives in slots; an op's own saved state goes into the instance
    # ``__dict__`` so that freeing the graph after backward is ``__dict__.clear()``.
    __slots__ = (
        "__dict__",
        "__weakref__",
        "modified_outputs",
        "n_outputs",
        "needs_input_grad",
        "next_edges",
        "output_hooks",
        "released",
        "saved_versions",
    )

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays inside ``args`` and return Tensor output(s), recording
        the graph node when grad mode is on and some Tensor argument requires grad."""
        ctx = object.__new__(cls)
        record = grad_mode._state.enabled
        arrays, needs, edges, track = [], [], [], False
        held, weak = None, False  # (tensor, version, ...) of the leaves and the tensors needing no grad
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                if record:
                    if a.requires_grad:
                        track = True
                        needs.append(True)
                        node = a.grad_fn
                        if node is not None:
                            edges.append((node, a._output_index, a.data.shape, a.data.dtype, a._version))
                            continue
                        edges.append(a)
                    else:
                        needs.append(False)
                        edges.append(None)
                        weak = True
                    if held is None:
                        held = [a, a._version]
                    else:
                        held += (a, a._version)
                    continue
            else:
                arrays.append(a)
            needs.append(False)
            edges.append(None)
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if not track:
            if type(out) is tuple:
                return tuple(_wrap(o) for o in out)
            return _wrap(out)
        ctx.next_edges = tuple(edges)
        if held is None:
            ctx.saved_versions = None
        else:
            if weak:  # a leaf's edge holds it anyway; hold the others weakly (no activation kept alive)
                held = [t if type(t) is int or t.requires_grad else _ref(t) for t in held]
            ctx.saved_versions = tuple(held)
        ctx.output_hooks = None
        ctx.released = False
        if type(out) is tuple:
            ctx.n_outputs = len(out)
            return tuple(_wrap_output(o, ctx, i) for i, o in enumerate(out))
        ctx.n_outputs = 1
        return _wrap_output(out, ctx, 0)

    def name(self) -> str:
        """The node's name as PyTorch prints it in ``grad_fn=<...>``, e.g. ``MulBackward0``."""
        return type(self).__name__ + "Backward0"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def release(self) -> None:
        """Free what forward saved (called after backward unless ``retain_graph=True``).

        A node that saved arrays drops everything and raises on the next walk; a node that
        saved only shapes and options keeps them and can be walked again, as in PyTorch.
        """
        saved = self.__dict__
        for v in saved.values():
            t = type(v)
            if t in _ARRAY_CLASSES or (t is tuple and any(type(item) in _ARRAY_CLASSES for item in v)):
                saved.clear()
                self.released = True
                return


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added to reach ``grad.shape`` from ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def note_modified_output(t) -> None:
    """Called (by ``Tensor._check_inplace``) when output ``t`` of the node ``t.grad_fn`` is changed
    in place (only possible under ``no_grad``): the node and the nodes that consumed ``t`` find it
    through ``modified_outputs`` and check its version before their backward."""
    node = t.grad_fn
    changed = getattr(node, "modified_outputs", None)  # unset until needed: apply stays lean
    if changed is None:
        changed = node.modified_outputs = {}
        _CHANGED_NODES.add(node)
    changed.setdefault(t._output_index, _ref(t))


def _wrap(array):
    """A leaf Tensor around an op's output array (no graph recorded)."""
    t = object.__new__(Tensor)
    t.data = array if isinstance(array, _ARRAY_TYPES) else np.asarray(array)
    t.grad = t.grad_fn = t._hooks = None
    t.requires_grad = t._retains_grad = False
    t._output_index = t._version = 0
    return t


def _wrap_output(array, node, index):
    """A Tensor around output ``index`` of ``node``; it joins the graph if it is floating."""
    t = _wrap(array)
    if t.data.dtype.kind in "fc":
        t.requires_grad = True
        t.grad_fn = node
        t._output_index = index
    return t


from ..tensor import _ARRAY_TYPES, Tensor  # imported last: circular (Tensor methods call Functions)

_ARRAY_CLASSES = frozenset(_ARRAY_TYPES)
_ref = weakref.ref
