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
"""

from __future__ import annotations

from . import grad_mode


class Function:
    """Base class of differentiable ops; an instance is the ``ctx`` and the graph node."""

    # Graph bookkeeping lives in slots; an op's own saved state goes into the instance
    # ``__dict__`` so that freeing the graph after backward is ``__dict__.clear()``.
    __slots__ = ("inputs", "needs_input_grad", "n_outputs", "output_hooks", "released", "__dict__", "__weakref__")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls.__new__(cls)
        record = grad_mode._enabled
        arrays, needs, track = [], [], False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                r = record and a.requires_grad
                needs.append(r)
                track = track or r
            else:
                arrays.append(a)
                needs.append(False)
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if not track:
            if type(out) is tuple:
                return tuple(Tensor(o) for o in out)
            return Tensor(out)
        ctx.inputs = tuple(a if isinstance(a, Tensor) else None for a in args)
        ctx.output_hooks = None
        ctx.released = False
        if type(out) is tuple:
            ctx.n_outputs = len(out)
            return tuple(Tensor._from_op(o, ctx, i) for i, o in enumerate(out))
        ctx.n_outputs = 1
        return Tensor._from_op(out, ctx, 0)

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def release(self) -> None:
        """Free what forward saved (called after backward unless ``retain_graph=True``)."""
        if self.__dict__:
            self.__dict__.clear()
            self.released = True


from ..tensor import Tensor  # noqa: E402  (circular: Tensor methods call Functions)
