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
"""

from __future__ import annotations

import numpy as np

from . import grad_mode


class Function:
    """Base class of differentiable ops; an instance is the ``ctx`` and the graph node."""

    # Graph bookkeeping lives in slots; an op's own saved state goes into the instance
    # ``__dict__`` so that freeing the graph after backward is ``__dict__.clear()``.
    __slots__ = ("__dict__", "__weakref__", "n_outputs", "needs_input_grad", "next_edges", "output_hooks", "released")

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
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                if record and a.requires_grad:
                    track = True
                    needs.append(True)
                    node = a.grad_fn
                    edges.append(a if node is None else (node, a._output_index, a.data.shape, a.data.dtype))
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


def _wrap(array):
    """A leaf Tensor around an op's output array (no graph recorded)."""
    t = object.__new__(Tensor)
    t.data = array if isinstance(array, _ARRAY_TYPES) else np.asarray(array)
    t.grad = t.grad_fn = t._hooks = None
    t.requires_grad = t._retains_grad = False
    t._output_index = 0
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
