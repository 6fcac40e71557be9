"""``Tensor``: an n-dimensional array (NumPy or CuPy) plus what reverse-mode autograd needs.

A tensor holds

- ``data``: the backend array (``numpy.ndarray`` on the CPU, ``cupy.ndarray`` on a GPU);
- ``requires_grad``: whether gradients should flow to it;
- ``grad_fn``: the graph node (a :class:`~convlab.autograd.Function` instance) that produced it,
  ``None`` for leaves;
- ``grad``: after ``backward()``, a Tensor with d(loss)/d(self) for leaves that require grad.

Every method mirrors ``torch.Tensor``; the math lives in ``convlab.ops`` (one topic per file),
this file only dispatches to it.

In-place operations (``add_``, ``mul_``, ``x[i] = v``, ...) change ``data`` directly and are
never recorded in the graph. With grad mode on, PyTorch refuses them on a leaf that requires
grad, and so does convlab; on a tensor that is part of the graph (PyTorch would record the
change) convlab raises too. The augmented assignments ``x += y``, ``x *= y``, ... then fall back
to the out-of-place result, which Python binds to the name ``x``, so residual code such as
``out += identity`` works unchanged.

Elsewhere (tensors that do not require grad; anything under ``no_grad()``, such as optimiser
steps and initialisation) they are allowed, but they can still reach a gradient: an op recorded
earlier may have saved the tensor for its backward (``a * w`` keeps ``a`` to compute ``w``'s
gradient). So every in-place change counts itself in the tensor's ``_version``, as in PyTorch;
each recorded op notes its inputs' versions, and ``backward()`` raises PyTorch's "modified by an
inplace operation" RuntimeError, naming the op, when it reaches an op whose saved values share
memory with a tensor changed since. A change no saved value sees (``a + w`` saves nothing) is
harmless and passes, as in PyTorch. Unlike PyTorch, a view (``x[0]``, ``x.t()``, ...) or a
``detach()``-ed tensor has its own version counter, so a change made through one alias is not
seen by ops that saved another (their gradient then uses the changed values).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from ._tensor_str import tensor_repr
from .backend import ARRAY_TYPES as _ARRAY_TYPES
from .backend import array_module, device_of, to_device, to_numpy
from .backend import device as _backend_device


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Create tensors with :func:`convlab.tensor`, :func:`convlab.zeros`, ... rather than this
    constructor, which wraps an existing array without copying it.

    Args:
        data: a NumPy/CuPy array (wrapped as is) or anything ``numpy.asarray`` accepts.
        requires_grad: record operations on this tensor for ``backward()`` (floating only).

    Example::

        >>> x = convlab.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
    """

    __slots__ = (
        "__weakref__", "_hooks", "_output_index", "_retains_grad", "_version", "data", "grad", "grad_fn", "requires_grad",
    )
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False):
        if not isinstance(data, _ARRAY_TYPES):
            data = np.asarray(data)
        self.data = data
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self._hooks = None
        self._retains_grad = False
        self._version = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self):
        return device_of(self.data)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (created by the user, or not requiring grad)."""
        return self.grad_fn is None

    @property
    def retains_grad(self) -> bool:
        """True if :meth:`retain_grad` was called on this non-leaf tensor."""
        return self._retains_grad

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None):
        """The shape, or the size of dimension ``dim``."""
        if dim is None:
            return self.data.shape
        (d,) = _ops_reduce.normalize_dims("size", self.ndim, dim) or (0,)
        return self.data.shape[d] if self.ndim else 1

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def element_size(self) -> int:
        return self.data.itemsize

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    __hash__ = object.__hash__  # == is elementwise, identity hashes like torch.Tensor

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array, sharing memory (CPU tensors only, as in PyTorch)."""
        if self.requires_grad and grad_mode._state.enabled:
            raise RuntimeError("numpy(): can't call numpy() on a Tensor that requires grad; use tensor.detach().numpy()")
        if not isinstance(self.data, np.ndarray):
            raise TypeError(f"numpy(): can't convert a {self.device} tensor to NumPy; copy it to the CPU first with .cpu()")
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise RuntimeError(
                f"item(): a Tensor with {self.data.size} elements cannot be converted to a Python number "
                f"(shape {tuple(self.shape)})"
            )
        return self.data.reshape(()).item()

    def tolist(self):
        """The elements as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return to_numpy(self.data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got dtype {self.dtype}")
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool(): the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.item())

    def __format__(self, spec: str) -> str:
        if self.data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __array__(self, dtype=None, copy=None):
        arr = to_numpy(self.data)
        return arr if dtype is None else arr.astype(dtype)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``; differentiable.

        Returns ``self`` when nothing changes (as PyTorch does), else a converted copy.
        Raises RuntimeError naming the reason when a CUDA device is asked for but absent.
        """
        dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dtype = a.device, a.dtype
            elif isinstance(a, (str, _backend_device)):
                dev = a
            else:
                dtype = a
        out = self
        if dtype is not None and dtypes.as_dtype(dtype) != self.dtype:
            out = _ops_shape.Cast.apply(out, dtype=dtypes.as_dtype(dtype))
        if dev is not None and out.device != _backend_device(dev):
            out = _ops_shape.ToDevice.apply(out, device=dev)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to("cuda" if device is None else device if isinstance(device, str) else f"cuda:{device}")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def type(self, dtype=None):
        """With no argument, the type name (``'convlab.FloatTensor'``); else ``to(dtype)``."""
        if dtype is None:
            return "convlab." + _TYPE_NAMES.get(self.dtype, str(self.dtype)) + "Tensor"
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool)

    def byte(self) -> Tensor:
        return self.to(dtypes.uint8)

    # ------------------------------------------------------------------ new tensors like this one
    def _new_dtype(self, dtype):
        return self.dtype if dtype is None else dtypes.as_dtype(dtype)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device unless given."""
        xp = array_module(self.data)
        array = xp.array(data.data if isinstance(data, Tensor) else data, dtype=self._new_dtype(dtype))
        return _creation.tensor(array, device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _creation.full(size, fill_value, dtype=self._new_dtype(dtype), device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _creation.zeros(*size, dtype=self._new_dtype(dtype), device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _creation.ones(*size, dtype=self._new_dtype(dtype), device=device or self.device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return _creation.empty(*size, dtype=self._new_dtype(dtype), device=device or self.device, requires_grad=requires_grad)

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether this leaf records operations for ``backward()``; returns ``self``."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"requires_grad_(): only floating point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad_(False): only leaf tensors can stop requiring grad; "
                "use y = x.detach() for a tensor cut from the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place (it becomes a leaf that does not require grad)."""
        self.grad_fn, self.requires_grad = None, False
        return self

    def clone(self) -> Tensor:
        """A copy of the data; differentiable (the gradient passes through unchanged)."""
        return _ops_shape.Clone.apply(self)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            gradient: d(loss)/d(self), same shape as ``self``; may be omitted only for a
                one-element tensor (then it is 1).
            retain_graph: keep the saved values so ``backward`` can run through the graph again
                (default False: they are freed, and a second pass raises RuntimeError).
            create_graph: not supported (higher-order gradients); must be False.
            inputs: accumulate only into these tensors' ``.grad`` (default: all leaves reached).

        Example::

            >>> w = convlab.tensor([1.0, 2.0], requires_grad=True)
            >>> (w * w).sum().backward()
            >>> w.grad
            tensor([2., 4.])
        """
        _functional.backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call ``hook(grad) -> Tensor | None`` with this tensor's gradient during backward.

        A returned tensor replaces the gradient. On a leaf the hook sees the gradient summed
        over the whole pass, before it is accumulated into ``.grad``. Returns a handle whose
        ``remove()`` undoes the registration.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook(): cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self.grad_fn
            if node.output_hooks is None:
                node.output_hooks = {}
            hooks = node.output_hooks.setdefault(self._output_index, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` during backward once this leaf's ``.grad`` holds the pass's
        gradient (accumulated), as soon as the last op feeding it has run - before the rest of
        the backward walk finishes. Returns a handle whose ``remove()`` undoes the registration.

        Example::

            >>> w = convlab.ones(3, requires_grad=True)
            >>> handle = w.register_post_accumulate_grad_hook(lambda t: print(t.grad))
            >>> (2 * w).sum().backward()
            tensor([2., 2., 2.])
        """
        if self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook(): post accumulate grad hooks cannot be registered "
                               "on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook(): cannot register a hook on a tensor that doesn't "
                               "require gradient")
        from .autograd.engine import _POST_HOOKS

        hooks = _POST_HOOKS.get(id(self))
        if hooks is None:
            hooks = _POST_HOOKS[id(self)] = []
            import weakref

            weakref.finalize(self, _POST_HOOKS.pop, id(self), None)
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it).

        Like a leaf's, the retained gradient accumulates over backward calls.
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): can't retain_grad on a Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        import weakref

        ref = weakref.ref(self)

        def store(grad):
            t = ref()
            if t is not None:
                t.grad = Tensor(grad.data.copy()) if t.grad is None else Tensor(t.grad.data + grad.data)

        self.register_hook(store)
        self._retains_grad = True

    # ------------------------------------------------------------------ in place (no graph)
    def _check_inplace(self, name: str, value=None) -> None:
        """Refuse an in-place change that grad mode would have to record (see the module
        docstring), else count it: every in-place change of ``data`` through the Tensor API
        passes here and bumps ``_version``, which ``backward()`` compares with the version each
        graph node saw when it ran."""
        if not grad_mode._state.enabled:
            if self.grad_fn is not None:
                _note_modified_output(self)
            self._version += 1
            return
        if self.requires_grad:
            if self.grad_fn is None:
                raise RuntimeError(
                    f"{name}(): a leaf tensor that requires grad (shape {tuple(self.shape)}) is being used in an "
                    "in-place operation; wrap it in convlab.no_grad() or work on .detach()"
                )
            raise RuntimeError(
                f"{name}(): in-place operation on a tensor that is part of the autograd graph "
                f"(grad_fn={self.grad_fn!r}, shape {tuple(self.shape)}); convlab does not record in-place "
                "changes, use the out-of-place form (e.g. y = x + other)"
            )
        if isinstance(value, Tensor) and value.requires_grad:
            raise RuntimeError(
                f"{name}(): the value requires grad but the tensor being modified (shape {tuple(self.shape)}) does not; "
                "convlab does not record in-place changes, build the result out of place (e.g. convlab.where, convlab.cat)"
            )
        self._version += 1

    def _operand(self, value, name):
        """``value`` as something NumPy can combine with ``self.data`` in place (checked shape)."""
        if isinstance(value, Tensor):
            value = value.data
        if hasattr(value, "shape"):
            if tuple(value.shape) != tuple(self.shape):
                try:
                    target = np.broadcast_shapes(value.shape, self.shape)
                except ValueError:
                    target = None
                if target != tuple(self.shape):
                    raise RuntimeError(
                        f"{name}(): a value of shape {tuple(value.shape)} cannot be broadcast to the tensor's shape "
                        f"{tuple(self.shape)}"
                    )
            if device_of(value) != self.device:
                value = to_device(value, self.device)
        return value

    def _inplace(self, name, other, update):
        """Apply ``update(data, operand)`` to ``self.data`` in place after the checks."""
        self._check_inplace(name, other)
        operand = None if other is None else self._operand(other, name)
        try:
            update(self.data, operand)
        except TypeError as e:  # NumPy refuses e.g. float into int ("same_kind" casting)
            raise RuntimeError(f"{name}(): result of dtype {getattr(operand, 'dtype', type(operand).__name__)} can't be "
                               f"written into a tensor of dtype {self.dtype} ({e})") from None
        return self

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        """Fill with ``value`` (a number or one-element tensor) in place."""
        self._check_inplace("fill_", value)
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise RuntimeError(
                    f"fill_(): the value must be a number or a one-element tensor, got a tensor of shape {tuple(value.shape)}"
                )
            value = value.item()
        self.data[...] = value
        return self

    def copy_(self, src) -> Tensor:
        """Copy the elements of ``src`` (broadcast to this shape) into this tensor in place."""
        def update(data, operand):
            data[...] = operand

        return self._inplace("copy_", src, update)

    def add_(self, other, alpha=1) -> Tensor:
        """``self += alpha * other`` in place."""
        def update(data, operand):
            data += operand if alpha == 1 else operand * alpha

        return self._inplace("add_", other, update)

    def sub_(self, other, alpha=1) -> Tensor:
        """``self -= alpha * other`` in place."""
        def update(data, operand):
            data -= operand if alpha == 1 else operand * alpha

        return self._inplace("sub_", other, update)

    def mul_(self, other) -> Tensor:
        """``self *= other`` in place."""
        def update(data, operand):
            data *= operand

        return self._inplace("mul_", other, update)

    def div_(self, other) -> Tensor:
        """``self /= other`` in place (floating tensors)."""
        def update(data, operand):
            data /= operand

        return self._inplace("div_", other, update)

    def pow_(self, exponent) -> Tensor:
        """``self **= exponent`` in place."""
        def update(data, operand):
            data **= operand

        return self._inplace("pow_", exponent, update)

    def addcmul_(self, tensor1, tensor2, value=1) -> Tensor:
        """``self += value * tensor1 * tensor2`` in place (optimisers' building block)."""
        return self.add_(_data_of(tensor1) * _data_of(tensor2), alpha=value)

    def addcdiv_(self, tensor1, tensor2, value=1) -> Tensor:
        """``self += value * tensor1 / tensor2`` in place."""
        return self.add_(_data_of(tensor1) / _data_of(tensor2), alpha=value)

    def lerp_(self, end, weight) -> Tensor:
        """``self += weight * (end - self)`` in place."""
        return self.add_((_data_of(end) - self.data) * _data_of(weight))

    def sqrt_(self) -> Tensor:
        """Square root in place."""
        return self._inplace("sqrt_", None, lambda data, _: array_module(data).sqrt(data, out=data))

    def neg_(self) -> Tensor:
        """Negate in place."""
        return self._inplace("neg_", None, lambda data, _: array_module(data).negative(data, out=data))

    def clamp_(self, min=None, max=None) -> Tensor:
        """Clamp to [min, max] in place."""
        if min is None and max is None:
            raise ValueError("clamp_(): at least one of 'min' and 'max' must be given")
        return self._inplace("clamp_", None, lambda data, _: array_module(data).clip(data, _data_of(min), _data_of(max), out=data))

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        """Fill with samples of U(a, b) in place."""
        self._check_inplace("uniform_")
        self.data[...] = _random.uniform(a, b, self.shape, self.dtype, self.device)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Fill with samples of N(mean, std^2) in place."""
        self._check_inplace("normal_")
        self.data[...] = _random.normal(mean, std, self.shape, self.dtype, self.device)
        return self

    def _in_graph_with(self, other) -> bool:
        """True if an in-place change of self by ``other`` would have to be recorded."""
        return grad_mode._state.enabled and (
            (self.requires_grad and self.grad_fn is not None)
            or (not self.requires_grad and isinstance(other, Tensor) and other.requires_grad)
        )

    def __iadd__(self, other):
        return self + other if self._in_graph_with(other) else self.add_(other)

    def __isub__(self, other):
        return self - other if self._in_graph_with(other) else self.sub_(other)

    def __imul__(self, other):
        return self * other if self._in_graph_with(other) else self.mul_(other)

    def __itruediv__(self, other):
        return self / other if self._in_graph_with(other) else self.div_(other)

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__", value)
        index = _ops_index.as_index(index, array_module(self.data))
        if isinstance(value, Tensor):
            value = value.data
        if device_of(value) != self.device if hasattr(value, "shape") else False:
            value = to_device(value, self.device)
        try:
            self.data[index] = value
        except ValueError as e:
            raise RuntimeError(
                f"__setitem__(): can't assign a value of shape {tuple(np.shape(value))} to tensor of shape "
                f"{tuple(self.shape)} at this index ({e})"
            ) from None
        except IndexError as e:
            raise IndexError(f"__setitem__(): {e} (tensor shape {tuple(self.shape)})") from None

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        if self.grad_fn is not None:
            autograd = f"grad_fn={self.grad_fn!r}"
        else:
            autograd = "requires_grad=True" if self.requires_grad else None
        device = None if self.device.type == "cpu" else str(self.device)
        defaults = (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool)
        return tensor_repr(to_numpy(self.data), defaults, device, autograd)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return _ops_elem.add(self, other)

    def __radd__(self, other):
        return _ops_elem.add(other, self)

    def __sub__(self, other):
        return _ops_elem.sub(self, other)

    def __rsub__(self, other):
        return _ops_elem.sub(other, self)

    def __mul__(self, other):
        return _ops_elem.mul(self, other)

    def __rmul__(self, other):
        return _ops_elem.mul(other, self)

    def __truediv__(self, other):
        return _ops_elem.div(self, other)

    def __rtruediv__(self, other):
        return _ops_elem.div(other, self)

    def __pow__(self, other):
        return _ops_elem.pow(self, other)

    def __rpow__(self, other):
        return _ops_elem.pow(other, self)

    def __neg__(self):
        return _ops_elem.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __matmul__(self, other):
        return _ops_matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops_matmul.matmul(other, self)

    def __floordiv__(self, other):
        return _ops_elem.floor_divide(self, other)

    def __mod__(self, other):
        return _ops_elem.remainder(self, other)

    def __eq__(self, other):
        if not _ops_elem.is_operand(other):
            return NotImplemented  # x == None is False, as in PyTorch
        return _ops_elem.compare("eq", self, other)

    def __ne__(self, other):
        if not _ops_elem.is_operand(other):
            return NotImplemented
        return _ops_elem.compare("ne", self, other)

    def __lt__(self, other):
        return _ops_elem.compare("lt", self, other)

    def __le__(self, other):
        return _ops_elem.compare("le", self, other)

    def __gt__(self, other):
        return _ops_elem.compare("gt", self, other)

    def __ge__(self, other):
        return _ops_elem.compare("ge", self, other)

    def __and__(self, other):
        return _ops_elem.compare("and", self, other)

    def __or__(self, other):
        return _ops_elem.compare("or", self, other)

    def __xor__(self, other):
        return _ops_elem.compare("xor", self, other)

    def __invert__(self):
        return _ops_elem.logical_not(self)

    def add(self, other, alpha=1):
        return _ops_elem.add(self, other, alpha=alpha)

    def sub(self, other, alpha=1):
        return _ops_elem.sub(self, other, alpha=alpha)

    def mul(self, other):
        return _ops_elem.mul(self, other)

    def div(self, other):
        return _ops_elem.div(self, other)

    def pow(self, exponent):
        return _ops_elem.pow(self, exponent)

    def matmul(self, other):
        return _ops_matmul.matmul(self, other)

    def mm(self, other):
        return _ops_matmul.matmul(self, other)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def maximum(self, other):
        return _ops_elem.maximum(self, other)

    def minimum(self, other):
        return _ops_elem.minimum(self, other)

    # ------------------------------------------------------------------ pointwise math
    def exp(self):
        return _ops_elem.unary(_ops_elem.Exp, self)

    def expm1(self):
        return _ops_elem.unary(_ops_elem.Expm1, self)

    def log(self):
        return _ops_elem.unary(_ops_elem.Log, self)

    def log1p(self):
        return _ops_elem.unary(_ops_elem.Log1p, self)

    def log2(self):
        return _ops_elem.unary(_ops_elem.Log, self) / _LN2

    def log10(self):
        return _ops_elem.unary(_ops_elem.Log, self) / _LN10

    def sqrt(self):
        return _ops_elem.unary(_ops_elem.Sqrt, self)

    def rsqrt(self):
        return _ops_elem.pow(_ops_elem.to_float(self), -0.5)

    def square(self):
        return _ops_elem.mul(self, self)

    def reciprocal(self):
        return _ops_elem.div(1.0, self)

    def abs(self):
        return _ops_elem.Abs.apply(self)

    def sin(self):
        return _ops_elem.unary(_ops_elem.Sin, self)

    def cos(self):
        return _ops_elem.unary(_ops_elem.Cos, self)

    def neg(self):
        return _ops_elem.neg(self)

    negative = neg

    def sign(self):
        return _ops_elem.piecewise_constant("sign", self)

    def floor(self):
        return _ops_elem.piecewise_constant("floor", self)

    def ceil(self):
        return _ops_elem.piecewise_constant("ceil", self)

    def round(self, decimals=0):
        return _ops_elem.piecewise_constant("round", self, decimals=decimals)

    def trunc(self):
        return _ops_elem.piecewise_constant("trunc", self)

    def isnan(self):
        return _ops_elem.nondiff("isnan", self)

    def isinf(self):
        return _ops_elem.nondiff("isinf", self)

    def isfinite(self):
        return _ops_elem.nondiff("isfinite", self)

    def logical_not(self):
        return _ops_elem.logical_not(self)

    def logical_and(self, other):
        return _ops_elem.compare("logical_and", self, other)

    def logical_or(self, other):
        return _ops_elem.compare("logical_or", self, other)

    def logical_xor(self, other):
        return _ops_elem.compare("logical_xor", self, other)

    def clamp(self, min=None, max=None):
        return _ops_elem.clamp(self, min, max)

    clip = clamp

    def where(self, condition, other):
        return _ops_elem.where(condition, self, other)

    def masked_fill(self, mask, value):
        return _ops_elem.where(mask, value, self)

    def relu(self):
        return _ops_act.ReLU.apply(self)

    def sigmoid(self):
        return _ops_act.Sigmoid.apply(self)

    def tanh(self):
        return _ops_act.Tanh.apply(self)

    def softmax(self, dim):
        return _ops_act.softmax(self, dim)

    def log_softmax(self, dim):
        return _ops_act.log_softmax(self, dim)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        return _ops_reduce.sum(self, dim, keepdim, dtype)

    def mean(self, dim=None, keepdim=False, dtype=None):
        return _ops_reduce.mean(self, dim, keepdim, dtype)

    def prod(self, dim=None, keepdim=False, dtype=None):
        return _ops_reduce.prod(self, dim, keepdim, dtype)

    def max(self, dim=None, keepdim=False):
        """``max()`` is the largest value; ``max(dim)`` is ``(values, indices)`` along ``dim``;
        ``max(other_tensor)`` is the elementwise maximum."""
        if isinstance(dim, Tensor):
            return _ops_elem.maximum(self, dim)
        return _ops_reduce.extreme("max", self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return _ops_elem.minimum(self, dim)
        return _ops_reduce.extreme("min", self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return _ops_reduce.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return _ops_reduce.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _ops_reduce.arg_extreme("argmax", self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _ops_reduce.arg_extreme("argmin", self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _ops_reduce.var(self, dim, unbiased, keepdim, correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return _ops_reduce.std(self, dim, unbiased, keepdim, correction)

    def logsumexp(self, dim, keepdim=False):
        return _ops_reduce.logsumexp(self, dim, keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        return _ops_reduce.norm(self, p, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return _ops_reduce.logical("all", self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _ops_reduce.logical("any", self, dim, keepdim)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        return _ops_shape.reshape(self, *shape)

    def view(self, *shape):
        """The same elements with a new shape; ``view(dtype)`` reinterprets the bits (no gradient)."""
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, numbers.Integral, Tensor)):
            return _ops_shape.view_as_dtype(self, shape[0])
        return _ops_shape.reshape(self, *shape)

    def view_as(self, other):
        return _ops_shape.reshape(self, other.shape)

    def reshape_as(self, other):
        return _ops_shape.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops_shape.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        return _ops_shape.unflatten(self, dim, sizes)

    def permute(self, *dims):
        return _ops_shape.permute(self, *dims)

    def transpose(self, dim0, dim1):
        return _ops_shape.transpose(self, dim0, dim1)

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t(): expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self.T

    def squeeze(self, dim=None):
        return _ops_shape.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _ops_shape.unsqueeze(self, dim)

    def expand(self, *sizes):
        return _ops_shape.expand(self, *sizes)

    def expand_as(self, other):
        return _ops_shape.expand(self, *other.shape)

    def broadcast_to(self, shape):
        return _ops_shape.expand(self, *shape)

    def repeat(self, *sizes):
        return _ops_shape.repeat(self, *sizes)

    def flip(self, *dims):
        return _ops_shape.flip(self, *dims)

    def contiguous(self):
        return self

    def split(self, split_size_or_sections, dim=0):
        return _ops_shape.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return _ops_shape.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return _ops_shape.unbind(self, dim)

    def narrow(self, dim, start, length):
        return _ops_shape.narrow(self, dim, start, length)

    def gather(self, dim, index):
        return _ops_index.gather(self, dim, index)

    def index_select(self, dim, index):
        return _ops_index.index_select(self, dim, index)

    def __getitem__(self, index):
        return _ops_index.getitem(self, index)


_LN2, _LN10 = float(np.log(2.0)), float(np.log(10.0))
_TYPE_NAMES = {
    dtypes.float16: "Half", dtypes.float32: "Float", dtypes.float64: "Double", dtypes.int8: "Char",
    dtypes.int16: "Short", dtypes.int32: "Int", dtypes.int64: "Long", dtypes.uint8: "Byte", dtypes.bool: "Bool",
}


def _data_of(x):
    """The backend array inside a Tensor; anything else unchanged."""
    return x.data if isinstance(x, Tensor) else x


class RemovableHandle:
    """Returned by hook registrations; ``remove()`` unregisters the hook."""

    def __init__(self, container, item):
        self._container, self._item = container, item

    def remove(self) -> None:
        if isinstance(self._container, dict):
            self._container.pop(self._item, None)
        elif self._item in self._container:
            self._container.remove(self._item)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


# The ops modules import Tensor, so they are imported after the class exists.
from . import _random
from . import creation as _creation
from .autograd import functional as _functional
from .autograd import grad_mode
from .autograd.function import note_modified_output as _note_modified_output
from .ops import activation as _ops_act
from .ops import elementwise as _ops_elem
from .ops import indexing as _ops_index
from .ops import matmul as _ops_matmul
from .ops import reduce as _ops_reduce
from .ops import shape as _ops_shape
