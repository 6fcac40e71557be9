"""Shape ops: reshape/view, permute/transpose, squeeze/unsqueeze, expand, repeat, flip,
cat/stack/split/chunk, dtype and device moves.

None of them changes a value, so every backward is the inverse rearrangement of the gradient
(reshape back, inverse permutation, sum over expanded or repeated copies, slice per input).
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from .. import dtypes
from ..autograd.function import Function
from ..backend import array_module, device_of, to_device
from ..dtypes import promote_types
from ..tensor import Tensor
from .elementwise import unbroadcast
from .reduce import normalize_dims


def _sizes(args) -> tuple:
    """Accept ``f(2, 3)`` as well as ``f((2, 3))`` / ``f([2, 3])``, like PyTorch."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(a) for a in args)


class Reshape(Function):
    """y = x with a new shape (same elements in row-major order);  dx = g reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    """y = x with axes reordered by ``dims``;  dx = g permuted by the inverse permutation."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.dims))


class Expand(Function):
    """y = x broadcast to ``shape`` (a view);  dx = g summed over the broadcast axes."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


class Repeat(Function):
    """y = x tiled ``reps`` times per axis;  dx = g summed over the copies."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape, ctx.reps = x.shape, reps
        return array_module(x).tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        reps = ctx.reps
        shape = (1,) * (len(reps) - len(ctx.shape)) + tuple(ctx.shape)
        split = [n for pair in zip(reps, shape) for n in pair]  # (r0, s0, r1, s1, ...)
        return g.reshape(split).sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(ctx.shape)


class Flip(Function):
    """y = x reversed along ``dims``;  dx = g reversed along the same dims."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        # a copy, as torch.flip makes (NumPy's flip is a view: a later in-place change of x
        # would show through, and into the gradient of any op that saved the result)
        return array_module(x).flip(x, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return array_module(g).flip(g, ctx.dims)


class Cat(Function):
    """y = the inputs joined along ``dim``;  dx_i = the slice of g that came from input i."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim, ctx.bounds = dim, np.cumsum([0] + [x.shape[dim] for x in xs])
        return array_module(xs[0]).concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        index = [slice(None)] * g.ndim
        grads = []
        for i, need in enumerate(ctx.needs_input_grad):
            index[ctx.dim] = slice(ctx.bounds[i], ctx.bounds[i + 1])
            grads.append(g[tuple(index)] if need else None)
        return tuple(grads)


class Stack(Function):
    """y = the inputs stacked along a new axis ``dim``;  dx_i = g indexed at i along ``dim``."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        return array_module(xs[0]).stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        return tuple(xp.take(g, i, axis=ctx.dim) if need else None for i, need in enumerate(ctx.needs_input_grad))


class Cast(Function):
    """y = x converted to ``dtype``;  dx = g converted back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype)


class ToDevice(Function):
    """y = x copied to ``device``;  dx = g copied back to x's device."""

    @staticmethod
    def forward(ctx, x, device):
        ctx.device = device_of(x)
        return to_device(x, device)

    @staticmethod
    def backward(ctx, g):
        return to_device(g, ctx.device)


class Clone(Function):
    """y = a copy of x;  dx = g."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


# ---------------------------------------------------------------------- functional forms
def view_as_dtype(x, dtype):
    """The same bytes reinterpreted as ``dtype`` (``Tensor.view(dtype)``); not differentiable.

    Shape: the last dimension scales by ``x.element_size() / dtype.itemsize``.
    """
    dtype = dtypes.as_dtype(dtype)
    if dtype.itemsize != x.dtype.itemsize and (x.ndim == 0 or (x.shape[-1] * x.dtype.itemsize) % dtype.itemsize):
        raise RuntimeError(
            f"view(): can't view a tensor of dtype {x.dtype} and shape {tuple(x.shape)} as dtype {dtype}: "
            "the last dimension's size in bytes must be divisible by the new element size"
        )
    return Tensor(array_module(x.data).ascontiguousarray(x.data).view(dtype))


def reshape(x, *shape):
    """A tensor with the same elements and shape ``shape`` (one entry may be -1)."""
    shape = _sizes(shape)
    known = math.prod(n for n in shape if n != -1)
    if shape.count(-1) > 1 or any(n < -1 for n in shape) or (
        x.data.size != known if -1 not in shape else (known == 0 or x.data.size % known)
    ):
        raise RuntimeError(f"reshape(): shape {list(shape)} is invalid for input of size {x.data.size} (shape {tuple(x.shape)})")
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = normalize_dims("flatten", x.ndim, (start_dim,))[0], normalize_dims("flatten", x.ndim, (end_dim,))[0]
    if start > end:
        raise ValueError(f"flatten(): start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    shape = x.shape[:start] + (math.prod(x.shape[start : end + 1]),) + x.shape[end + 1 :]
    return reshape(x, shape)


def unflatten(x, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one entry may be -1)."""
    (d,) = normalize_dims("unflatten", x.ndim, dim)
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(n for n in sizes if n != -1)
        sizes = tuple(x.shape[d] // known if n == -1 else n for n in sizes)
    if math.prod(sizes) != x.shape[d]:
        raise RuntimeError(f"unflatten(): sizes {list(sizes)} don't multiply up to the size of dim {dim} ({x.shape[d]})")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1 :])


def permute(x, *dims):
    """Reorder the axes: output axis i is input axis ``dims[i]``."""
    dims = _sizes(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(): number of dims {len(dims)} doesn't match the tensor's {x.ndim} dimensions (shape {tuple(x.shape)})")
    norm = tuple(d % x.ndim if x.ndim else 0 for d in dims)
    if sorted(norm) != list(range(x.ndim)) or any(not -x.ndim <= d < max(x.ndim, 1) for d in dims):
        raise RuntimeError(f"permute(): dims {list(dims)} are not a permutation of 0..{x.ndim - 1}")
    return x if norm == tuple(range(x.ndim)) else Permute.apply(x, dims=norm)


def transpose(x, dim0, dim1):
    """Swap two axes."""
    if x.ndim == 0:
        return x
    (a,), (b,) = normalize_dims("transpose", x.ndim, dim0), normalize_dims("transpose", x.ndim, dim1)
    dims = list(range(x.ndim))
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, dims)


def squeeze(x, dim=None):
    """Remove axes of size 1 (all of them, or those in ``dim`` that have size 1)."""
    dims = normalize_dims("squeeze", x.ndim, dim) if dim is not None else tuple(range(x.ndim))
    shape = tuple(n for d, n in enumerate(x.shape) if not (d in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    """Insert an axis of size 1 at ``dim`` (in ``-ndim-1 .. ndim``)."""
    (d,) = normalize_dims("unsqueeze", x.ndim + 1, dim)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def expand(x, *sizes):
    """Broadcast to ``sizes`` without copying; -1 keeps a dimension's size."""
    sizes = _sizes(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(f"expand(): the number of sizes {len(sizes)} must be >= the tensor's {x.ndim} dimensions (shape {tuple(x.shape)})")
    shape = []
    for i, n in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else None
        if n == -1:
            if old is None:
                raise RuntimeError(f"expand(): -1 is not allowed in a new leading dimension (sizes {list(sizes)})")
            n = old
        if old is not None and old != 1 and old != n:
            raise RuntimeError(
                f"expand(): the expanded size ({n}) must match the existing size ({old}) at non-singleton "
                f"dimension {i}; target sizes {list(sizes)}, tensor sizes {list(x.shape)}"
            )
        shape.append(n)
    shape = tuple(shape)
    return x if shape == x.shape else Expand.apply(x, shape=shape)


def repeat(x, *sizes):
    """Tile the tensor ``sizes[i]`` times along each axis (like ``torch.Tensor.repeat``)."""
    sizes = _sizes(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat(): number of repeat dims ({len(sizes)}) can't be smaller than the tensor's dims ({x.ndim})")
    return Repeat.apply(x, reps=sizes)


def flip(x, *dims):
    """Reverse the order of elements along ``dims``."""
    return Flip.apply(x, dims=normalize_dims("flip", x.ndim, _sizes(dims)))


def _tensor_list(name, tensors) -> list:
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{name}(): expected a sequence of Tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}(): expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected a sequence of Tensors, got {type(t).__name__} at position {i}")
    return tensors


def _common_dtype(tensors):
    """The tensors converted to their PyTorch result dtype (differentiably)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = promote_types(dtype, t.dtype)
    return [t if t.dtype == dtype else Cast.apply(t, dtype=dtype) for t in tensors]


def _check_same(name, tensors, dim, allow_dim_mismatch):
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim or any(
            a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if not (allow_dim_mismatch and d == dim)
        ):
            what = f"except in dimension {dim}" if allow_dim_mismatch else "to be equal size"
            raise RuntimeError(
                f"{name}(): sizes of tensors must match {what}; tensor 0 has shape {tuple(first.shape)}, "
                f"tensor {i} has shape {tuple(t.shape)}"
            )


def cat(tensors, dim=0):
    """Join tensors along an existing dim (all other sizes must match)."""
    tensors = _tensor_list("cat", tensors)
    (d,) = normalize_dims("cat", tensors[0].ndim, dim)
    _check_same("cat", tensors, d, True)
    return Cat.apply(*_common_dtype(tensors), dim=d)


def stack(tensors, dim=0):
    """Join equal-shaped tensors along a new dim."""
    tensors = _tensor_list("stack", tensors)
    _check_same("stack", tensors, None, False)
    (d,) = normalize_dims("stack", tensors[0].ndim + 1, dim)
    return Stack.apply(*_common_dtype(tensors), dim=d)


def narrow(x, dim, start, length):
    """The slice ``start:start+length`` along ``dim``."""
    (d,) = normalize_dims("narrow", x.ndim, dim)
    if start < 0:
        start += x.shape[d]
    if not (0 <= start and start + length <= x.shape[d]):
        raise IndexError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({x.shape[d]})")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def split(x, split_size_or_sections, dim=0):
    """Split into pieces of ``split_size`` (last may be smaller) or of the listed ``sections`` sizes."""
    (d,) = normalize_dims("split", x.ndim, dim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise ValueError(f"split(): split_size must be positive, got {size}")
        sections = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sections = [int(s) for s in split_size_or_sections]
        if sum(sections) != n:
            raise RuntimeError(f"split(): split sizes {sections} don't add up to the size of dim {dim} ({n})")
    bounds = np.cumsum([0] + sections)
    return tuple(x[(slice(None),) * d + (slice(int(a), int(b)),)] for a, b in itertools.pairwise(bounds))


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if n is small)."""
    if chunks <= 0:
        raise ValueError(f"chunk(): chunks must be positive, got {chunks}")
    (d,) = normalize_dims("chunk", x.ndim, dim)
    return split(x, max(1, -(-x.shape[d] // chunks)), d)


def unbind(x, dim=0):
    """The slices along ``dim``, with that dim removed."""
    (d,) = normalize_dims("unbind", x.ndim, dim)
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))
