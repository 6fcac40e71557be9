"""Indexing: ``x[index]``, ``gather``, ``index_select``.

Forward picks elements; backward scatters the gradient back into a zero tensor of x's shape.
With basic indexing (ints, slices, None, Ellipsis, bool masks) every element is picked at most
once, so the scatter is an assignment; with integer arrays an element may be picked several
times, and its gradients are summed (``add.at``), as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..backend import array_module, scatter_add
from ..tensor import Tensor
from .reduce import normalize_dims


def as_index(index, xp=np):
    """Replace Tensors and lists in an index by arrays of the array module ``xp``.

    A short list (under 32 items) that holds sequences, tensors, slices, None or Ellipsis is a
    tuple of indices (NumPy's old rule, kept by PyTorch: ``x[[[0, 1], [2, 3]]]`` is
    ``x[[0, 1], [2, 3]]``); any other list is an integer or bool array.
    """
    if isinstance(index, tuple):
        return tuple(as_index(i, xp) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, list):
        if len(index) < 32 and any(
            i is None or i is Ellipsis or isinstance(i, (slice, list, tuple, Tensor, np.ndarray)) for i in index
        ):
            return tuple(as_index(i, xp) for i in index)
        index = np.asarray(index)
        if index.dtype.kind == "f" and index.size == 0:
            index = index.astype(np.int64)  # x[[]] selects nothing
    if xp is not np and isinstance(index, np.ndarray):
        index = xp.asarray(index)
    return index


def _accumulates(index) -> bool:
    """True if the index contains an integer array, so an element can be picked twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" and p.ndim > 0 for p in parts)


class GetItem(Function):
    """y = x[index];  dx = zeros with g placed (summed for repeated indices) at ``index``."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        return x[index]

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        dx = xp.zeros(ctx.shape, dtype=ctx.dtype)
        if _accumulates(ctx.index):
            scatter_add(dx, ctx.index, g)
        else:
            dx[ctx.index] = g
        return dx, None


class Gather(Function):
    """y[i][j][k] = x[i][index[i][j][k]][k] (for dim=1);  dx = g scatter-added at those positions."""

    @staticmethod
    def forward(ctx, x, index, dim):
        xp = array_module(x)
        sub = x[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))]
        ctx.shape, ctx.dtype, ctx.index, ctx.dim = x.shape, x.dtype, index, dim
        return xp.take_along_axis(sub, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        dx = xp.zeros(ctx.shape, dtype=ctx.dtype)
        grid = list(xp.ix_(*[xp.arange(n) for n in ctx.index.shape]))
        grid[ctx.dim] = ctx.index
        scatter_add(dx, tuple(grid), g)
        return dx, None


class IndexSelect(Function):
    """y = x with entries ``index`` picked along ``dim``;  dx = g scatter-added back along ``dim``."""

    @staticmethod
    def forward(ctx, x, index, dim):
        ctx.shape, ctx.dtype, ctx.index, ctx.dim = x.shape, x.dtype, index, dim
        return array_module(x).take(x, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        dx = xp.zeros(ctx.shape, dtype=ctx.dtype)
        scatter_add(xp.moveaxis(dx, ctx.dim, 0), ctx.index, xp.moveaxis(g, ctx.dim, 0))
        return dx, None


# ---------------------------------------------------------------------- functional forms
def getitem(x, index):
    """``x[index]`` with NumPy/PyTorch semantics; differentiable.

    ``index`` may combine ints, slices, None, Ellipsis, lists, NumPy int/bool arrays and
    convlab int/bool tensors. Repeated integer indices accumulate their gradients.
    """
    index = as_index(index, array_module(x.data))
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if hasattr(p, "dtype") and p.dtype.kind not in "iub":
            raise IndexError(f"__getitem__(): tensors used as indices must be long, int or bool, got dtype {p.dtype}")
        if isinstance(p, float):
            raise IndexError(f"__getitem__(): only integers, slices, None, Ellipsis and int/bool tensors are valid indices, got float {p}")
    try:
        return GetItem.apply(x, index)
    except IndexError as e:
        raise IndexError(f"__getitem__(): {e} (tensor shape {tuple(x.shape)})") from None


def _check_index_tensor(name, index):
    data = index.data if isinstance(index, Tensor) else np.asarray(index)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{name}(): expected an int64 index tensor, got dtype {data.dtype}")
    return data


def gather(x, dim, index):
    """Pick values along ``dim`` at ``index`` (same ndim as x, no larger in other dims)."""
    (d,) = normalize_dims("gather", x.ndim, dim)
    idx = _check_index_tensor("gather", index)
    if idx.ndim != x.ndim or any(i > n for k, (i, n) in enumerate(zip(idx.shape, x.shape)) if k != d):
        raise RuntimeError(
            f"gather(): index shape {tuple(idx.shape)} must have the input's {x.ndim} dims and be no larger "
            f"than the input shape {tuple(x.shape)} outside dim {d}"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[d]):
        raise IndexError(f"gather(): index out of range [0, {x.shape[d]}) for dim {d} (got {int(idx.min())}..{int(idx.max())})")
    return Gather.apply(x, idx, dim=d)


def index_select(x, dim, index):
    """Entries ``index`` (1-D) of ``x`` along ``dim``."""
    (d,) = normalize_dims("index_select", x.ndim, dim)
    idx = _check_index_tensor("index_select", index)
    if idx.ndim > 1:
        raise IndexError(f"index_select(): index must be 1-D, got shape {tuple(idx.shape)}")
    if idx.size and (idx.min() < -x.shape[d] or idx.max() >= x.shape[d]):
        raise IndexError(f"index_select(): index out of range for dim {d} of size {x.shape[d]}")
    return IndexSelect.apply(x, idx.reshape(-1), dim=d)
