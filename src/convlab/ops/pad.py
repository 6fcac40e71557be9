"""Padding: ``pad(input, pad, mode, value)`` with PyTorch's four modes.

``pad`` lists ``(left, right)`` amounts for the last dimensions, last dimension first:
``(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two, and so on.
A negative amount removes elements from that side instead.

For one dimension of size ``n`` padded by ``(l, r)`` the output has ``n + l + r`` elements and
output position ``j`` reads input position ``p = j - l`` if ``0 <= p < n``, otherwise

- ``constant``: the fill ``value``;
- ``reflect``: the mirror image about the edge element, ``-p`` (left) or ``2(n-1) - p``
  (right), so the edge is not repeated (needs ``l, r < n``): ``[a b c d]`` padded by 2 gives
  ``c b [a b c d] c b``;
- ``replicate``: the nearest edge element, ``clamp(p, 0, n-1)``: ``a a [a b c d] d d``;
- ``circular``: the input wrapped around, as if tiled: ``c d [a b c d] a b`` (needs
  ``l, r <= n``).

Negative amounts crop: for ``constant`` and ``circular`` the input is cropped first and the rest
padded around what remains (so circular wraps around the cropped input, as PyTorch does); for
``reflect`` and ``replicate`` the rule above holds for every output position (pad, then crop).
A dimension may be cropped down to size 0, within these limits (PyTorch's, except where it would
read uninitialised memory); a pad beyond them raises an error naming the dimension:

- ``constant`` and ``circular``: the crops of a dimension remove at most its ``n`` elements,
  ``max(-l, 0) + max(-r, 0) <= n``; ``circular`` then wraps at most once around what is left,
  ``l, r <= n - max(-l, 0) - max(-r, 0)`` (PyTorch checks only ``l, r <= n`` and
  ``n + l + r >= 0`` there, and returns uninitialised values past this limit);
- ``reflect`` and ``replicate``: every output size ``n + l + r`` is ``>= 0`` (a crop may reach
  into the padding of the other side: ``(2, -6)`` on ``n = 5`` keeps one element), and at
  least one padded dimension is non-empty.

How it is computed: one output allocation; the input block is copied into the middle, then each
padded dimension in turn fills its borders by copying slices (flipped for ``reflect``, broadcast
for ``replicate``) of what is already written. The gradient runs the same steps backwards: each
border's gradient is added onto the slice it was copied from, then the middle block is the
input's gradient. Only slicing is used, so the same code runs on NumPy and CuPy.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

from ..autograd.function import Function
from ..backend import array_module
from ..tensor import Tensor

PAD_MODES = ("constant", "reflect", "replicate", "circular")


class AxisPad(NamedTuple):
    """How one dimension is padded: crop the input to ``crop_in``, add ``left``/``right``
    elements, then crop the result to ``crop_out`` (slices; ``slice(None)`` when nothing is cut)."""

    crop_in: slice
    left: int
    right: int
    crop_out: slice


def _axis_plan(n: int, left: int, right: int, mode: str) -> AxisPad:
    """Split signed pad amounts into the non-negative padding and the crops around it."""
    if mode in ("reflect", "replicate"):
        # Mirror/edge positions are defined relative to the whole input: pad, then crop.
        padded = n + max(left, 0) + max(right, 0)
        crop_out = slice(max(-left, 0), padded - max(-right, 0)) if min(left, right) < 0 else slice(None)
        return AxisPad(slice(None), max(left, 0), max(right, 0), crop_out)
    # constant and circular: crop, then pad around what remains.
    crop_in = slice(max(-left, 0), n - max(-right, 0)) if min(left, right) < 0 else slice(None)
    return AxisPad(crop_in, max(left, 0), max(right, 0), slice(None))


def _fill_sources(mode: str, size: int, left: int, right: int) -> tuple:
    """Slices (along one padded axis of length ``size``) that the left and right borders copy.

    Returns ``(left_border, left_source, right_border, right_source)``; ``reflect`` sources are
    read flipped, ``replicate`` sources are one element wide and broadcast.
    """
    middle_end = size - right
    left_border, right_border = slice(0, left), slice(middle_end, size)
    if mode == "reflect":
        return left_border, slice(left + 1, 2 * left + 1), right_border, slice(middle_end - right - 1, middle_end - 1)
    if mode == "replicate":
        return left_border, slice(left, left + 1), right_border, slice(middle_end - 1, middle_end)
    # circular: the left border repeats the end of the middle block, the right one its start.
    return left_border, slice(middle_end - left, middle_end), right_border, slice(left, left + right)


class Pad(Function):
    """Pad (or crop) the last ``len(plans)`` dimensions of ``x``.

    Shape: ``(*, n_1, ..., n_k) -> (*, n_1 + l_1 + r_1, ..., n_k + l_k + r_k)``.

    Forward: ``y[middle] = x[crop]``; every border of ``y`` is a copy of a slice of ``y``
    (``constant``: the fill value). Backward: the transpose, in reverse order: each border's
    gradient is added to the slice it copies (``replicate``: summed over the border), and the
    input's gradient is the middle block (zero on cropped elements).
    """

    @staticmethod
    def forward(ctx, x, *, plans, mode, value):
        xp = array_module(x)
        lead = x.ndim - len(plans)
        crop_in = (slice(None),) * lead + tuple(p.crop_in for p in plans)
        core = x[crop_in]
        padded_shape = core.shape[:lead] + tuple(n + p.left + p.right for n, p in zip(core.shape[lead:], plans))
        middle = (slice(None),) * lead + tuple(slice(p.left, p.left + n) for n, p in zip(core.shape[lead:], plans))
        if mode == "constant":
            out = xp.full(padded_shape, value, dtype=x.dtype)
        else:
            out = xp.empty(padded_shape, dtype=x.dtype)
        out[middle] = core
        if mode != "constant":
            for k, region in _fill_steps(plans, padded_shape, middle, lead):
                axis, p = lead + k, plans[k]
                lb, ls, rb, rs = _fill_sources(mode, padded_shape[axis], p.left, p.right)
                for border, source in ((lb, ls), (rb, rs)):
                    if border.stop > border.start:
                        src = out[_at(region, axis, source)]
                        out[_at(region, axis, border)] = xp.flip(src, axis) if mode == "reflect" else src
        crop_out = (slice(None),) * lead + tuple(p.crop_out for p in plans)
        if any(s != slice(None) for s in crop_out):
            out = xp.ascontiguousarray(out[crop_out])
        ctx.plans, ctx.mode, ctx.input_shape, ctx.padded_shape = plans, mode, x.shape, padded_shape
        ctx.lead, ctx.middle, ctx.crop_in, ctx.crop_out = lead, middle, crop_in, crop_out
        return out

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        plans, mode, lead = ctx.plans, ctx.mode, ctx.lead
        if any(s != slice(None) for s in ctx.crop_out):
            buf = xp.zeros(ctx.padded_shape, dtype=g.dtype)
            buf[ctx.crop_out] = g
        elif mode != "constant":
            buf = g.copy()  # the borders are folded in place; never write into the incoming gradient
        else:
            buf = g
        if mode != "constant":
            for k, region in reversed(list(_fill_steps(plans, ctx.padded_shape, ctx.middle, lead))):
                axis, p = lead + k, plans[k]
                lb, ls, rb, rs = _fill_sources(mode, ctx.padded_shape[axis], p.left, p.right)
                for border, source in ((lb, ls), (rb, rs)):
                    if border.stop > border.start:
                        target = buf[_at(region, axis, source)]
                        if mode == "replicate":
                            # one strided add per border slice: much faster than a sum over a
                            # short last axis (which NumPy reduces element group by element group)
                            for j in range(border.start, border.stop):
                                target += buf[_at(region, axis, slice(j, j + 1))]
                        else:
                            g_border = buf[_at(region, axis, border)]
                            target += xp.flip(g_border, axis) if mode == "reflect" else g_border
        g_middle = buf[ctx.middle]
        if any(s != slice(None) for s in ctx.crop_in):
            gx = xp.zeros(ctx.input_shape, dtype=g.dtype)
            gx[ctx.crop_in] = g_middle
            return gx
        return g_middle


def _fill_steps(plans, padded_shape, middle, lead):
    """``(k, region)`` for each padded dimension ``k`` in fill order: the border of dim ``k`` is
    filled across the whole extent of the dims already filled and the middle of the others."""
    region = list(middle)
    for k in reversed(range(len(plans))):  # last dimension first, like PyTorch
        yield k, tuple(region)
        region[lead + k] = slice(None)


def _at(region, axis, s):
    """``region`` with ``s`` as the slice along ``axis``."""
    return region[:axis] + (s,) + region[axis + 1 :]


# ---------------------------------------------------------------------------------- public API
_NON_CONSTANT_DIMS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


def _pad_amounts(who, pad) -> tuple:
    if isinstance(pad, Tensor) or not isinstance(pad, (tuple, list)):
        raise TypeError(f"{who}: argument 'pad' must be a tuple of ints, got {type(pad).__name__}")
    for i, v in enumerate(pad):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(
                f"{who}: argument 'pad' must be a tuple of ints, "
                f"got {type(v).__name__} at position {i} of {tuple(pad)!r}"
            )
    return tuple(int(v) for v in pad)


def _check_crop(who, input, dim, left, right) -> int:
    """The modes that crop before padding (constant, circular): the crops of dimension ``dim``
    remove at most its size. Returns the size left after cropping."""
    n, cut = input.shape[dim], max(-left, 0) + max(-right, 0)
    if cut > n:
        raise ValueError(
            f"{who}: padding ({left}, {right}) of dimension {dim} crops {cut} elements from a dimension of size {n}; "
            f"expected at most {n} (input shape {tuple(input.shape)})"
        )
    return n - cut


def _check_non_constant(who, input, amounts, mode) -> None:
    """PyTorch's limits for reflect/replicate/circular: which ranks, which sizes."""
    ndim, k = input.ndim, len(amounts) // 2
    if len(amounts) not in _NON_CONSTANT_DIMS or ndim not in _NON_CONSTANT_DIMS[len(amounts)]:
        raise ValueError(
            f"{who}: mode {mode!r} with a pad tuple of length {len(amounts)} is not supported for a {ndim}-D input "
            f"of shape {tuple(input.shape)}; expected a 2-D or 3-D input with 2 pad values (pads the last dim), "
            f"3-D or 4-D with 4 (the last 2 dims), or 4-D or 5-D with 6 (the last 3 dims)"
        )
    if mode != "circular":
        nonempty = input.shape[1:] if ndim == k + 2 else input.shape
        if 0 in nonempty:
            raise ValueError(
                f"{who}: mode {mode!r} expects an input of shape ({'N, ' if ndim == k + 2 else ''}C, *spatial) with "
                f"non-zero C and spatial sizes (N may be 0), got shape {tuple(input.shape)}"
            )
    sizes = input.shape[ndim - k :]
    outs = []
    for i, n in enumerate(sizes):
        left, right = amounts[2 * (k - 1 - i)], amounts[2 * (k - 1 - i) + 1]
        dim = ndim - k + i
        if mode == "reflect" and (left >= n or right >= n):
            raise ValueError(
                f"{who}: reflect padding must be less than the input size, got padding ({left}, {right}) "
                f"for dimension {dim} of size {n} (input shape {tuple(input.shape)})"
            )
        if mode == "circular":
            remaining = _check_crop(who, input, dim, left, right)
            if max(left, right) > remaining:
                raise ValueError(
                    f"{who}: circular padding ({left}, {right}) of dimension {dim} would wrap around the "
                    f"{'cropped ' if remaining < n else ''}input (size {remaining}) more than once; expected "
                    f"padding <= {remaining} (input shape {tuple(input.shape)})"
                )
        elif n + left + right < 0:
            raise ValueError(
                f"{who}: {mode} padding ({left}, {right}) of dimension {dim} (size {n}) gives a negative output size "
                f"{n + left + right}; expected size + left + right >= 0 (input shape {tuple(input.shape)})"
            )
        outs.append(n + left + right)
    if mode != "circular" and all(o == 0 for o in outs):
        raise ValueError(
            f"{who}: padding {amounts} leaves no element of the input of shape {tuple(input.shape)} "
            f"(output spatial size {tuple(outs)}); expected at least one padded size >= 1"
        )


def pad(input, pad, mode: str = "constant", value=None):
    """Pad (or, with negative amounts, crop) the last dimensions of ``input``.

    Args:
        input: a Tensor. ``constant`` mode takes any number of dims; ``reflect``, ``replicate``
            and ``circular`` pad the last 1, 2 or 3 dims of a batched ``(N, C, *spatial)`` or
            unbatched ``(C, *spatial)`` input.
        pad: ``(left, right)`` amounts, last dimension first: ``(l, r)`` pads the last dim,
            ``(l, r, t, b)`` the last two, ``(l, r, t, b, front, back)`` the last three.
            Its length must be even and at most ``2 * input.ndim``. Negative amounts crop,
            within the limits listed in :mod:`convlab.ops.pad`.
        mode: ``'constant'`` (fill with ``value``), ``'reflect'`` (mirror, edge not repeated;
            amounts < the size), ``'replicate'`` (repeat the edge) or ``'circular'`` (wrap
            around; amounts <= the size).
        value: the fill value of ``constant`` mode (default 0); other modes accept only
            ``None`` or 0.

    Shape:
        ``(*, n_1, ..., n_k) -> (*, n_1 + l_1 + r_1, ..., n_k + l_k + r_k)`` where
        ``k = len(pad) // 2`` and ``(l_k, r_k) = (pad[0], pad[1])`` belong to the last dim.

    Example::

        >>> x = convlab.arange(4.0).reshape(1, 1, 4)
        >>> F.pad(x, (2, 1), mode="reflect")
        tensor([[[2., 1., 0., 1., 2., 3., 2.]]])
        >>> F.pad(x, (1, 1, 1, 1)).shape       # zeros around the last two dims
        (1, 3, 6)
    """
    return checked_pad("pad()", input, pad, mode, value)


def checked_pad(who: str, input, pad, mode: str = "constant", value=None):
    """:func:`pad` whose error messages start with ``who`` (a layer's repr, or a function name)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected input to be a convlab Tensor, got {type(input).__name__}")
    amounts = _pad_amounts(who, pad)
    if not isinstance(mode, str):
        raise TypeError(f"{who}: mode must be a str, one of {PAD_MODES}, got {type(mode).__name__}")
    if mode not in PAD_MODES:
        raise ValueError(f"{who}: unknown padding mode {mode!r}; expected one of {PAD_MODES}")
    if len(amounts) % 2:
        raise ValueError(
            f"{who}: the pad tuple must have an even length (a (left, right) pair per dim), "
            f"got {amounts} of length {len(amounts)}"
        )
    if len(amounts) > 2 * input.ndim:
        raise ValueError(
            f"{who}: the pad tuple {amounts} has {len(amounts)} values but a {input.ndim}-D input of shape "
            f"{tuple(input.shape)} takes at most {2 * input.ndim} (two per dim)"
        )
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f"{who}: padding mode {mode!r} does not take a fill value, got value={value!r}")
    k = len(amounts) // 2
    if mode == "constant":
        for i in range(k):
            _check_crop(who, input, input.ndim - k + i, amounts[2 * (k - 1 - i)], amounts[2 * (k - 1 - i) + 1])
    else:
        _check_non_constant(who, input, amounts, mode)
    sizes = input.shape[input.ndim - k :]
    plans = tuple(
        _axis_plan(n, amounts[2 * (k - 1 - i)], amounts[2 * (k - 1 - i) + 1], mode) for i, n in enumerate(sizes)
    )
    return Pad.apply(input, plans=plans, mode=mode, value=0 if value is None else value)
