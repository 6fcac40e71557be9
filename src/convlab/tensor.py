"""``Tensor``: an n-dimensional array (NumPy or CuPy) plus what reverse-mode autograd needs.

A tensor holds

- ``data``: the backend array (``numpy.ndarray`` on the CPU, ``cupy.ndarray`` on a GPU);
- ``requires_grad``: whether gradients should flow to it;
- ``grad_fn``: the graph node (a :class:`~convlab.autograd.Function` instance) that produced it,
  ``None`` for leaves;
- ``grad``: after ``backward()``, a Tensor with d(loss)/d(self) for leaves that require grad.

Every method mirrors ``torch.Tensor``; the math lives in ``convlab.ops`` (one topic per file),
this file only dispatches to it.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .backend import array_module, device_of, to_device, to_numpy

_ARRAY_TYPES: tuple = (np.ndarray,)
try:
    import cupy as _cupy

    _ARRAY_TYPES = (np.ndarray, _cupy.ndarray)
except ImportError:  # pragma: no cover
    pass


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Create tensors with :func:`convlab.tensor`, :func:`convlab.zeros`, ... rather than this
    constructor, which wraps an existing array without copying it.

    Example::

        >>> x = convlab.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([[2., 4.],
                [6., 8.]])
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_output_index", "_hooks", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False):
        if not isinstance(data, _ARRAY_TYPES):
            data = np.asarray(data)
        self.data = data
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data, node, index):
        """Wrap an op's output array as a non-leaf tensor produced by graph node ``node``."""
        t = cls(data)
        if t.data.dtype.kind in "fc":
            t.requires_grad = True
            t.grad_fn = node
            t._output_index = index
        return t

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
        return self.grad_fn is None

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
        return self.data.shape if dim is None else self.data.shape[dim]

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
        return (self[i] for i in range(self.data.shape[0]))

    __hash__ = object.__hash__  # == is elementwise, identity hashes like torch.Tensor

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU)."""
        if self.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError("numpy(): can't call numpy() on a Tensor that requires grad; use tensor.detach().numpy()")
        return to_numpy(self.data)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python number, got shape {tuple(self.shape)}")
        return self.data.reshape(()).item()

    def tolist(self):
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

    def __array__(self, dtype=None, copy=None):
        arr = to_numpy(self.data)
        return arr if dtype is None else arr.astype(dtype)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``; differentiable."""
        dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dtype = a.device, a.dtype
            elif isinstance(a, str) or type(a).__name__ == "device":
                dev = a
            else:
                dtype = a
        out = self
        if dtype is not None and dtypes.as_dtype(dtype) != self.dtype:
            out = _ops_shape.Cast.apply(out, dtype=dtypes.as_dtype(dtype))
        if dev is not None and out.device != dev:
            out = _ops_shape.ToDevice.apply(out, device=dev)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to("cuda" if device is None else device if isinstance(device, str) else f"cuda:{device}")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

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

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"requires_grad_(): only floating point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    def detach_(self) -> Tensor:
        self.grad_fn, self.requires_grad = None, False
        return self

    def clone(self) -> Tensor:
        return _ops_shape.Clone.apply(self)

    def backward(self, gradient=None, retain_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            gradient: d(loss)/d(self), same shape as ``self``; may be omitted only for a
                one-element tensor (then it is 1).
            retain_graph: keep the saved values so ``backward`` can run through the graph again.
            inputs: accumulate only into these leaves (default: all leaves reached).
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): the tensor does not require grad and has no grad_fn")
        xp = array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs, got shape {tuple(self.shape)}; "
                    "pass gradient= with the same shape"
                )
            g = xp.ones_like(self.data)
        else:
            g = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=self.dtype)
            if g.shape != self.data.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {tuple(g.shape)} but the tensor has shape {tuple(self.shape)}"
                )
        if inputs is None:
            _engine.run_backward([self], [g], retain_graph=retain_graph)
            return
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        found = _engine.run_backward([self], [g], retain_graph=retain_graph, inputs=inputs)
        for t, gi in zip(inputs, found):
            if gi is not None:
                t.grad = Tensor(xp.array(gi, dtype=t.dtype)) if t.grad is None else Tensor(t.grad.data + gi)

    def register_hook(self, hook):
        """Call ``hook(grad) -> Tensor | None`` with this tensor's gradient during backward.

        A returned tensor replaces the gradient. Returns a handle whose ``remove()`` undoes it.
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

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            return
        import weakref

        ref = weakref.ref(self)

        def store(grad):
            t = ref()
            if t is not None:
                t.grad = Tensor(grad.data.copy()) if t.grad is None else Tensor(t.grad.data + grad.data)

        self.register_hook(store)

    # ------------------------------------------------------------------ in place (no graph)
    def _check_inplace(self, name: str) -> None:
        if self.requires_grad and grad_mode.is_grad_enabled():
            what = "a leaf tensor that requires grad" if self.grad_fn is None else "a tensor that is part of the graph"
            raise RuntimeError(
                f"{name}(): in-place operation on {what} is not allowed; wrap it in convlab.no_grad() or use .detach()"
            )

    def _operand(self, value, name):
        if isinstance(value, Tensor):
            value = value.data
        if hasattr(value, "shape"):
            try:
                np.broadcast_shapes(value.shape, self.shape)
            except ValueError:
                raise RuntimeError(
                    f"{name}(): the value of shape {tuple(value.shape)} cannot be broadcast to the tensor's shape {tuple(self.shape)}"
                ) from None
            if tuple(np.broadcast_shapes(value.shape, self.shape)) != tuple(self.shape):
                raise RuntimeError(
                    f"{name}(): output with shape {tuple(self.shape)} doesn't match the broadcast shape "
                    f"{tuple(np.broadcast_shapes(value.shape, self.shape))}"
                )
        return value

    def zero_(self) -> Tensor:
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        self._check_inplace("fill_")
        self.data[...] = value.data if isinstance(value, Tensor) else value
        return self

    def copy_(self, src) -> Tensor:
        self._check_inplace("copy_")
        src = self._operand(src, "copy_")
        self.data[...] = to_device(src, self.device) if isinstance(src, _ARRAY_TYPES) else src
        return self

    def add_(self, other, alpha=1) -> Tensor:
        self._check_inplace("add_")
        other = self._operand(other, "add_")
        self.data += other if alpha == 1 else alpha * other
        return self

    def sub_(self, other, alpha=1) -> Tensor:
        return self.add_(other, alpha=-alpha)

    def mul_(self, other) -> Tensor:
        self._check_inplace("mul_")
        self.data *= self._operand(other, "mul_")
        return self

    def div_(self, other) -> Tensor:
        self._check_inplace("div_")
        self.data /= self._operand(other, "div_")
        return self

    def clamp_(self, min=None, max=None) -> Tensor:
        self._check_inplace("clamp_")
        array_module(self.data).clip(self.data, min, max, out=self.data)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        self._check_inplace("uniform_")
        self.data[...] = _random.uniform(a, b, self.shape, self.dtype, self.device)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        self._check_inplace("normal_")
        self.data[...] = _random.normal(mean, std, self.shape, self.dtype, self.device)
        return self

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        self.data[_ops_index.as_index(index)] = value.data if isinstance(value, Tensor) else value

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        arr = to_numpy(self.data)
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4, floatmode="maxprec_equal")
        extras = []
        if arr.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool) or arr.size == 0:
            extras.append(f"dtype=convlab.{arr.dtype}")
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

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
        return _ops_elem.Neg.apply(self)

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
        return _ops_elem.compare("eq", self, other)

    def __ne__(self, other):
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
        return _ops_elem.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        return _ops_elem.sub(self, other if alpha == 1 else other * alpha)

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
        return _ops_elem.Exp.apply(self)

    def log(self):
        return _ops_elem.Log.apply(self)

    def log1p(self):
        return _ops_elem.Log1p.apply(self)

    def sqrt(self):
        return _ops_elem.Sqrt.apply(self)

    def rsqrt(self):
        return _ops_elem.pow(self, -0.5)

    def square(self):
        return _ops_elem.mul(self, self)

    def reciprocal(self):
        return _ops_elem.div(1.0, self)

    def abs(self):
        return _ops_elem.Abs.apply(self)

    def sin(self):
        return _ops_elem.Sin.apply(self)

    def cos(self):
        return _ops_elem.Cos.apply(self)

    def neg(self):
        return -self

    def sign(self):
        return _ops_elem.nondiff("sign", self)

    def floor(self):
        return _ops_elem.nondiff("floor", self)

    def ceil(self):
        return _ops_elem.nondiff("ceil", self)

    def round(self):
        return _ops_elem.nondiff("round", self)

    def isnan(self):
        return _ops_elem.nondiff("isnan", self)

    def isinf(self):
        return _ops_elem.nondiff("isinf", self)

    def isfinite(self):
        return _ops_elem.nondiff("isfinite", self)

    def logical_not(self):
        return _ops_elem.logical_not(self)

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

    def prod(self, dim=None, keepdim=False):
        return _ops_reduce.prod(self, dim, keepdim)

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
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, numbers.Integral)):
            return self.to(shape[0])  # view(dtype)
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
from . import _random  # noqa: E402
from .autograd import grad_mode  # noqa: E402
from .autograd import engine as _engine  # noqa: E402
from .ops import activation as _ops_act  # noqa: E402
from .ops import elementwise as _ops_elem  # noqa: E402
from .ops import indexing as _ops_index  # noqa: E402
from .ops import matmul as _ops_matmul  # noqa: E402
from .ops import reduce as _ops_reduce  # noqa: E402
from .ops import shape as _ops_shape  # noqa: E402
