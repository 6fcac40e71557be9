"""The public functions: ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d``, ``unfold``, ``fold`` and
``conv_matrix``, each validating its arguments once and calling the Functions."""

from __future__ import annotations

import math

import numpy as np

from ..shape import cat
from .functions import ConvNd, ConvTransposeNd, Fold, Unfold
from .geometry import (
    _KERNEL_NAMES,
    ConvGeometry,
    _check_operands,
    _check_tensor,
    _conv_geometry,
    _name,
    _ntuple,
    _positive,
    conv_transpose_output_size,
)


def checked_conv(who, n, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv{n}d`` whose error messages start with ``who`` (a layer, or a function name)."""
    groups = _check_operands(who, n, input, weight, bias, groups, transposed=False)
    geom = _conv_geometry(who, input.shape[-n:], weight.shape[2:], stride, padding, dilation)
    return ConvNd.apply(input, weight, bias, geom=geom, groups=groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) over ``(N, C_in, L)`` or unbatched ``(C_in, L)``.

    Args:
        input: ``(N, C_in, L)`` or ``(C_in, L)``.
        weight: ``(C_out, C_in/groups, kL)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: an int or a 1-tuple.
        padding: an int, a 1-tuple, ``'valid'`` (none) or ``'same'`` (output length = input
            length; stride 1 only; an odd total ``D(K-1)`` puts the extra element at the end).
        groups: split the channels into this many independent convolutions.

    Shape:
        ``L_out = floor((L + 2P - D(K-1) - 1) / S) + 1``.

    Example::

        >>> F.conv1d(convlab.ones(1, 1, 5), convlab.tensor([[[1.0, 0.0, -1.0]]])).tolist()
        [[[0.0, 0.0, 0.0]]]
    """
    return checked_conv("conv1d()", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) over ``(N, C_in, H, W)`` or ``(C_in, H, W)``.

    ``out[n, o] = bias[o] + sum_c sum_{i,j} weight[o, c, i, j] * in_pad[n, c, y*S + i*D, x*S + j*D]``
    (input channels restricted to the output channel's group).

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: an int or an ``(sH, sW)`` tuple.
        padding: an int, a ``(pH, pW)`` tuple (zeros on both sides), ``'valid'`` (no padding) or
            ``'same'`` (output size = input size, stride 1 only; PyTorch's asymmetric rule for
            even kernels: the extra row/column goes at the end).
        groups: ``C_in`` and ``C_out`` are split into ``groups`` independent convolutions
            (``groups = C_in``: depthwise).

    Shape:
        ``H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1``, likewise ``W_out``
        (:func:`conv_output_shape`).

    Example::

        >>> x = convlab.arange(9.0).reshape(1, 1, 3, 3)
        >>> F.conv2d(x, convlab.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])).tolist()
        [[[[19.0, 25.0], [37.0, 43.0]]]]
    """
    return checked_conv("conv2d()", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``.

    Args:
        input: ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``.
        weight: ``(C_out, C_in/groups, kD, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: an int or a 3-tuple.
        padding: an int, a 3-tuple, ``'valid'`` or ``'same'`` (stride 1 only).
        groups: number of independent channel groups.

    Shape:
        each spatial size ``O = floor((I + 2P - D(K-1) - 1) / S) + 1``.

    Example::

        >>> F.conv3d(convlab.ones(2, 3, 4, 5, 6), convlab.ones(8, 3, 3, 3, 3), padding=1).shape
        (2, 8, 4, 5, 6)
    """
    return checked_conv("conv3d()", 3, input, weight, bias, stride, padding, dilation, groups)


def checked_conv_transpose(
    who, n, input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
):
    """``conv_transpose{n}d`` whose error messages start with ``who`` (a layer, or a function name)."""
    groups = _check_operands(who, n, input, weight, bias, groups, transposed=True)
    kernel = tuple(weight.shape[2:])
    stride = _ntuple(who, "stride", stride, n)
    dilation = _ntuple(who, "dilation", dilation, n)
    padding = _ntuple(who, "padding", padding, n)
    output_padding = _ntuple(who, "output_padding", output_padding, n)
    _positive(who, "stride", stride)
    _positive(who, "dilation", dilation)
    if any(p < 0 for p in padding):
        raise ValueError(f"{_name(who)}: padding must be non-negative, got padding={padding}")
    if any(p < 0 or (p >= s and p >= d) for p, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{_name(who)}: output_padding must be non-negative and smaller than either stride or dilation, got "
            f"output_padding={output_padding} with stride={stride} and dilation={dilation}"
        )
    in_size = tuple(input.shape[-n:])
    out = tuple(map(conv_transpose_output_size, in_size, kernel, stride, padding, output_padding, dilation))
    if any(o < 1 for o in out):
        raise ValueError(
            f"{_name(who)}: input of spatial size {in_size} with kernel_size={kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation} and output_padding={output_padding} gives output size {out}, expected every size >= 1"
        )
    geom = ConvGeometry(out, in_size, kernel, stride, dilation, padding, padding)
    return ConvTransposeNd.apply(input, weight, bias, geom=geom, groups=groups)


_TRANSPOSE_DOC = """Transposed {n}-D convolution ("deconvolution"): the gradient of ``conv{n}d`` with
    respect to its input, used as a layer that upsamples.

    Each input element scatters ``weight[c_in]`` times itself onto the output, at stride ``S``;
    overlapping contributions sum, then ``padding`` is cropped from each side.

    Args:
        input: ``(N, C_in, {dims})`` or unbatched ``(C_in, {dims})``.
        weight: ``(C_in, C_out/groups, {kdims})`` (the weight of the convolution it transposes).
        bias: ``(C_out,)`` or None.
        stride, padding, dilation: those of the convolution it transposes (ints or tuples).
        output_padding: extra size added to one side of each output dim, to pick among the
            ``S`` input sizes that convolve to the same output size (``< stride`` or ``< dilation``).
        groups: number of independent channel groups.

    Shape:
        each spatial size ``O = (I-1)S - 2P + D(K-1) + output_padding + 1``
        (:func:`conv_transpose_output_size`).

    Example::

        >>> F.conv_transpose{n}d(convlab.ones({example_in}), convlab.ones({example_w}), stride=2).shape
        {example_out}
    """


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return checked_conv_transpose(
        "conv_transpose1d()", 1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return checked_conv_transpose(
        "conv_transpose2d()", 2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return checked_conv_transpose(
        "conv_transpose3d()", 3, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


conv_transpose1d.__doc__ = _TRANSPOSE_DOC.format(
    n=1, dims="L", kdims="kL", example_in="1, 4, 5", example_w="4, 2, 3", example_out="(1, 2, 11)"
)
conv_transpose2d.__doc__ = _TRANSPOSE_DOC.format(
    n=2, dims="H, W", kdims="kH, kW", example_in="1, 4, 5, 5", example_w="4, 2, 3, 3", example_out="(1, 2, 11, 11)"
)
conv_transpose3d.__doc__ = _TRANSPOSE_DOC.format(
    n=3,
    dims="D, H, W",
    kdims="kD, kH, kW",
    example_in="1, 4, 2, 2, 2",
    example_w="4, 2, 3, 3, 3",
    example_out="(1, 2, 5, 5, 5)",
)


def _block_geometry(who, size, kernel_size, dilation, padding, stride) -> ConvGeometry:
    """Geometry of unfold/fold (2-D, symmetric int padding, as PyTorch)."""
    kernel = _ntuple(who, "kernel_size", kernel_size, 2)
    _positive(who, "kernel_size", kernel)
    padding = _ntuple(who, "padding", padding, 2)
    return _conv_geometry(who, tuple(size), kernel, stride, padding, dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding local blocks (im2col): each ``kernel_size`` block of the zero-padded
    input becomes a column.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size, dilation, padding, stride: ints or pairs, as for :func:`conv2d`.

    Shape:
        ``(N, C, H, W) -> (N, C * kH * kW, L)`` with ``L = H_out * W_out`` blocks
        (:func:`conv_output_shape`); column ``l`` lists block ``l`` channel by channel, each in
        row-major order. ``conv2d(x, w)`` equals ``w.reshape(C_out, -1) @ unfold(x, K)``
        reshaped to ``(N, C_out, H_out, W_out)``.

    Example::

        >>> F.unfold(convlab.arange(16.0).reshape(1, 1, 4, 4), 3).shape
        (1, 9, 4)
    """
    return checked_unfold("unfold()", input, kernel_size, dilation, padding, stride)


def checked_unfold(who, input, kernel_size, dilation=1, padding=0, stride=1):
    """:func:`unfold` whose error messages start with ``who`` (a layer, or a function name)."""
    _check_tensor(who, "input", input)
    if input.ndim not in (3, 4) or 0 in input.shape[-3:]:
        raise ValueError(
            f"{_name(who)}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input with non-zero C, H, W, got shape {tuple(input.shape)}"
        )
    geom = _block_geometry(who, input.shape[-2:], kernel_size, dilation, padding, stride)
    return Unfold.apply(input, geom=geom)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding local blocks into a tensor (col2im): the adjoint of :func:`unfold`;
    values of overlapping blocks are summed.

    Args:
        input: ``(N, C * kH * kW, L)`` or unbatched ``(C * kH * kW, L)``.
        output_size: the spatial size ``(H, W)`` (an int means square).
        kernel_size, dilation, padding, stride: ints or pairs, as for :func:`unfold`.

    Shape:
        ``(N, C * kH * kW, L) -> (N, C, H, W)``; ``L`` must equal the number of blocks
        ``H_out * W_out`` that ``unfold`` would give for an ``(H, W)`` input.

    Example::

        >>> cols = F.unfold(convlab.ones(1, 1, 4, 4), 2)
        >>> F.fold(cols, (4, 4), 2)[0, 0].tolist()[0]   # corners belong to 1 block, edges to 2
        [1.0, 2.0, 2.0, 1.0]
    """
    return checked_fold("fold()", input, output_size, kernel_size, dilation, padding, stride)


def checked_fold(who, input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """:func:`fold` whose error messages start with ``who`` (a layer, or a function name)."""
    _check_tensor(who, "input", input)
    if input.ndim not in (2, 3) or 0 in input.shape[-2:-1]:
        raise ValueError(
            f"{_name(who)}: expected a 2-D (C*kH*kW, L) or 3-D (N, C*kH*kW, L) input, got shape {tuple(input.shape)}"
        )
    size = _ntuple(who, "output_size", output_size, 2)
    _positive(who, "output_size", size)
    geom = _block_geometry(who, size, kernel_size, dilation, padding, stride)
    rows, blocks = input.shape[-2:]
    if rows % geom.n_offsets:
        raise ValueError(
            f"{_name(who)}: expected input dimension {input.ndim - 2} (size {rows}) to be divisible by the product of "
            f"kernel_size={geom.kernel} ({geom.n_offsets}), got input shape {tuple(input.shape)}"
        )
    if blocks != math.prod(geom.out_size):
        raise ValueError(
            f"{_name(who)}: output_size={size}, kernel_size={geom.kernel}, dilation={geom.dilation}, padding={geom.pad_lo}, "
            f"stride={geom.stride} give {' * '.join(map(str, geom.out_size))} = {math.prod(geom.out_size)} blocks, "
            f"but the input has {blocks} (shape {tuple(input.shape)})"
        )
    return Fold.apply(input, geom=geom, channels=rows // geom.n_offsets)


def conv_matrix(weight, input_shape, stride=1, padding=0, dilation=1):
    """The convolution as an explicit matrix ``M`` (seed 001, "convolution as matrix
    multiplication"): ``conv(x, weight).flatten() == M @ x.flatten()`` for one sample.

    Each row holds the kernel, scattered to the input positions its window covers, with zeros
    elsewhere (most of ``M`` is zero). ``M.T`` is the transposed convolution:
    ``conv_transpose(y, weight).flatten() == M.T @ y.flatten()``. Differentiable in ``weight``.

    Args:
        weight: ``(C_out, C_in, *K)``, or a single-channel kernel ``K`` (e.g. ``(3, 3)``).
        input_shape: the spatial size of one input channel, e.g. ``(4, 4)``.
        stride, padding, dilation: as for :func:`conv2d` (``padding`` may be ``'same'``/``'valid'``).

    Shape:
        ``(C_out * prod(O), C_in * prod(input_shape))``: rows ordered ``(c_out, *O)``, columns
        ``(c_in, *input_shape)`` (row-major flattening of NCHW samples).

    Example (seed 001: a 3x3 kernel on a 4x4 input gives a 4x16 matrix)::

        >>> w = convlab.arange(1.0, 10.0).reshape(3, 3)
        >>> M = F.conv_matrix(w, (4, 4))
        >>> M.shape
        (4, 16)
        >>> M[0].tolist()
        [1.0, 2.0, 3.0, 0.0, 4.0, 5.0, 6.0, 0.0, 7.0, 8.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    who = "conv_matrix()"
    _check_tensor(who, "weight", weight)
    size = _ntuple(who, "input_shape", input_shape, len(input_shape) if isinstance(input_shape, (tuple, list)) else 1)
    n = len(size)
    if n not in (1, 2, 3):
        raise ValueError(f"{who}: expected input_shape with 1 to 3 spatial sizes, got {input_shape!r}")
    _positive(who, "input_shape", size)
    if weight.ndim == n:
        weight = weight.reshape((1, 1) + tuple(weight.shape))
    if weight.ndim != n + 2:
        raise ValueError(
            f"{who}: expected weight of shape (C_out, C_in, {_KERNEL_NAMES[n]}) or ({_KERNEL_NAMES[n]}) for a "
            f"{n}-D input_shape {size}, got {tuple(weight.shape)}"
        )
    geom = _conv_geometry(who, size, tuple(weight.shape[2:]), stride, padding, dilation)
    c_out, c_in = weight.shape[:2]
    n_off, n_out, n_in = geom.n_offsets, math.prod(geom.out_size), math.prod(size)
    # input position of every (output position, kernel offset) pair, and whether it is inside
    o = np.indices(geom.out_size).reshape(n, n_out, 1)
    k = np.indices(geom.kernel).reshape(n, 1, n_off)
    pos = o * np.array(geom.stride).reshape(n, 1, 1) + k * np.array(geom.dilation).reshape(n, 1, 1)
    pos -= np.array(geom.pad_lo).reshape(n, 1, 1)
    inside = np.all((pos >= 0) & (pos < np.array(size).reshape(n, 1, 1)), axis=0)
    p_idx, k_idx = np.nonzero(inside)
    flat_in = np.ravel_multi_index(tuple(pos[:, p_idx, k_idx]), size)
    # index into weight.flatten() followed by one zero: the zero fills every uncovered entry
    sentinel = c_out * c_in * n_off
    index = np.full((n_out, n_in, c_out, c_in), sentinel, dtype=np.int64)
    base = (np.arange(c_out)[:, None] * c_in + np.arange(c_in)) * n_off
    index[p_idx, flat_in] = base + k_idx[:, None, None]
    index = index.transpose(2, 0, 3, 1).reshape(c_out * n_out, c_in * n_in)
    padded = cat([weight.reshape(-1), weight.new_zeros(1)])
    return padded[index]
