"""Compiled CPU kernels for 2-D convolution on channels-last (NHWC) arrays.

Why not im2col + BLAS here: on the thin GEMMs of 32-256-channel 3x3 layers, OpenBLAS spends a
large share of its time packing the huge column matrix (each of its elements is used by only
``C_out`` multiply-adds) and reaches ~55-65% of the FPU's peak, on top of the column copy
itself. A direct convolution that reads the padded input in place and keeps a register tile of
outputs for the whole reduction runs at 85-95% of peak and needs no column matrix at all.

The building block is :func:`_tile`: ``C[r, :] = Z[r, :] + sum_k A[r, k] * B[k, :]`` for a
block of up to 14 rows and one or two blocks of 16 consecutive output channels, with the
reduction index ``k`` running over three nested strided loops. It is emitted directly as LLVM
IR (vector FMAs, the accumulators kept in registers for the whole reduction) because neither
NumPy nor numba's auto-vectoriser produce a register-blocked micro-kernel. Every tile shape is
compiled once, unrolled, behind one ``switch``; :func:`tile_shape` picks the shape that keeps
the most accumulators busy. The vectors are 512-bit where the CPU has AVX-512 (32 registers:
28 accumulators, e.g. 14 rows x 2 blocks in float32) and 256-bit otherwise (AVX2, 16
registers); 256-bit FMAs on an AVX-512 machine reach only half its peak. The drivers map the
convolution's passes onto it:

- forward (and the input gradient: a forward convolution of the padded output gradient with the
  reflected kernel, per stride phase): a tile is ``r`` consecutive output pixels of one row x 16 or
  32 output channels, the reduction runs over ``(kh, kw, c_in)`` of the padded input, read in
  place through its strides; rows of an NCHW output go through a small channels-last buffer so
  every store to the output is a contiguous run;
- weight gradient: a tile is ``r`` taps x 16 or 32 output channels, the taps being input
  channels of one kernel offset, or all ``(kw, c_in)`` taps of a kernel row when they are one
  contiguous run of a channels-last input (so a 1-channel first layer still fills 3 rows);
  the reduction runs over a strip of output rows of one image, or over several whole images
  when an image is shorter than the strip (4 x 4 maps still reduce over 64 pixels per tile,
  not 16, between the tile's loads and stores of its accumulators). An NCHW output gradient (a
  first layer's: no input gradient made a channels-last copy of it) is read a strip at a time
  through 8x8 transposes into a small buffer that stays in the cache, and the bias gradient is
  summed from each strip while it is there: one pass over the gradient, not three (a copy, the
  weight gradient, the bias sum). Threads split the images into a fixed number of shares (not
  one per thread), each summed into its own copy of the gradient, the copies added up in order
  at the end, or, where those copies would outweigh the data (late layers), the taps: the
  result is the same on any number of threads.

Zero padding is skipped where it is known (the callers pass which rows and columns of the
padded input hold data): the forward skips an output row's kernel rows that read only padding,
the weight gradient a tile's output rows and columns whose taps read only padding. On the small
maps of a network's last stages that is real work: 1/6 of a 4 x 4 map's multiply-adds per
direction for a 3 x 3 kernel with padding 1 (PyTorch's oneDNN skips them too). The result only
differs where the padding meets an inf or NaN, which is why the callers then pass nothing (and
where checking for those would cost more than the skip saves: a first layer's weight gradient).

Depthwise convolution is not a GEMM: its kernels loop over NCHW planes with implicit zero
padding, vectorised along output rows. A call runs on all of numba's threads only when it is
large enough to pay for a parallel region (small calls, e.g. in tests, stay on one thread).
The output-channel count of the dense drivers must be a multiple of 16; the caller falls back to
the GEMM path otherwise.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils, errors
from numba.extending import intrinsic

from ..backend import cpu_kernels

BLOCK = 16  # output channels per block; a tile covers one or two blocks

# One vector register: 512 bits with AVX-512 (32 registers), else 256 bits (AVX2, 16 registers),
# for the CPU numba compiles for (cpu_kernels.cpu_features: NUMBA_CPU_FEATURES or the host's).
VECTOR_BYTES = 64 if cpu_kernels.has_avx512() else 32
_REGISTERS = 32 if VECTOR_BYTES == 64 else 16
_MAX_TILE_ROWS = 14  # beyond this the a_rows offsets and the unrolled code outgrow their use


def _tile_rows(dtype):
    """Most rows of a tile of (1 block, 2 blocks) of 16 output channels: the tile holds
    ``rows * v`` accumulators, the ``v`` weight vectors of its blocks and one broadcast operand
    (``v = blocks * 16 / lanes``), and all of them must stay in the vector registers, else LLVM
    spills accumulators to the stack inside the reduction loop (an AVX2 tile of 3 rows x 2
    blocks in float32, 17 registers, ran at half the speed of 6 rows x 1 block, 15 registers):
    ``rows = min(14, (registers - 1 - v) // v)``."""
    lanes = VECTOR_BYTES // np.dtype(dtype).itemsize
    return tuple(min(_MAX_TILE_ROWS, (_REGISTERS - 1 - v) // v) for v in (BLOCK // lanes, 2 * BLOCK // lanes))


#: Most tile rows for a tile of (1 block, 2 blocks) of 16 output channels, per dtype
#: (:func:`_tile_rows`). AVX-512: float32 (14, 14), float64 (14, 6); AVX2: float32 (6, 2),
#: float64 (2, 0) (a float64 block is 4 registers there: one block per tile).
TILE_ROWS = {np.dtype(t): _tile_rows(t) for t in (np.float32, np.float64)}
_L2_BYTES = 256 * 1024  # weight slice kept hot while a parallel sweep runs over the output rows
_STRIP_ELEMENTS = 16384  # input + gradient elements of the output rows one weight-gradient strip covers
_STRIP_PIXELS = 64  # but at least this many pixels: the reduction must outweigh a tile's loads and stores
_PARALLEL_MIN_WORK = 1 << 21  # multiply-adds below which a kernel call runs on one thread
_COPY_WORK = 8  # a copied element costs about as much time as this many multiply-adds
_WEIGHT_GRAD_SHARES = 8  # partial weight gradients of a large call (threads beyond this idle there)


_FMA = "fma" if "fma" in cpu_kernels.cpu_features() else "fmuladd"
_TILE_OPERANDS = (
    "rows", "blocks", "a", "a_off", "a_rows", "a_k1", "a_k2", "a_k3", "b", "b_off", "b_bs", "b_k1", "b_k2", "b_k3",
    "c", "c_off", "c_rs", "z", "z_off", "z_rs", "n1", "n2", "n3",
)  # fmt: skip


def _check_tile_operands(operands) -> None:
    """Raise numba's TypingError unless :func:`_tile`'s operands have the types its code assumes:
    ``a``, ``b``, ``c``, ``z`` contiguous 1-D arrays of one float32/float64 dtype (``c``
    writable), ``a_rows`` a contiguous 1-D int64 array, every other operand an integer."""
    arrays = {name: operands[name] for name in ("a", "b", "c", "z")}
    for name, t in (*arrays.items(), ("a_rows", operands["a_rows"])):
        if not (isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C"):
            raise errors.TypingError(f"_tile(): {name} must be a C-contiguous 1-D array, got {t}")
    if operands["a_rows"].dtype != types.int64:
        raise errors.TypingError(f"_tile(): a_rows must hold int64 offsets, got {operands['a_rows'].dtype}")
    dtypes = {t.dtype for t in arrays.values()}
    if len(dtypes) != 1 or not dtypes <= {types.float32, types.float64}:
        found = ", ".join(f"{name} {t.dtype}" for name, t in arrays.items())
        raise errors.TypingError(f"_tile(): a, b, c and z must share one dtype, float32 or float64; got {found}")
    if not arrays["c"].mutable:
        raise errors.TypingError("_tile(): c (the output) must be writable")
    for name, t in operands.items():
        if name not in arrays and name != "a_rows" and not isinstance(t, types.Integer):
            raise errors.TypingError(f"_tile(): {name} must be an integer, got {t}")


@contextlib.contextmanager
def _reduction(builder, counts, a_steps, b_steps):
    """The three nested loops of a tile's reduction, ``k3`` outermost (``counts = (n1, n2, n3)``):
    the body, emitted inside the ``with``, gets the offsets ``(k1*a1 + k2*a2 + k3*a3, k1*b1 +
    k2*b2 + k3*b3)`` of its operands (the ``a_steps`` and ``b_steps``: i64 values)."""
    (n1, n2, n3), (a1, a2, a3), (b1, b2, b3) = counts, a_steps, b_steps
    with cgutils.for_range(builder, n3) as loop3:
        a_at3, b_at3 = builder.mul(loop3.index, a3), builder.mul(loop3.index, b3)
        with cgutils.for_range(builder, n2) as loop2:
            a_at2 = builder.add(a_at3, builder.mul(loop2.index, a2))
            b_at2 = builder.add(b_at3, builder.mul(loop2.index, b2))
            with cgutils.for_range(builder, n1) as loop1:
                yield builder.add(a_at2, builder.mul(loop1.index, a1)), builder.add(b_at2, builder.mul(loop1.index, b1))


def _splat(builder, vec, value):
    """``value`` in every lane of the vector type ``vec``: an insert into lane 0 and an all-zero
    shuffle, which LLVM emits as one broadcast instruction."""
    undef = ir.Constant(vec, ir.Undefined)
    lane0 = builder.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(lane0, undef, ir.Constant(ir.VectorType(ir.IntType(32), vec.count), [0] * vec.count))


@intrinsic
def _tile(
    typingctx, rows, blocks, a, a_off, a_rows, a_k1, a_k2, a_k3, b, b_off, b_bs, b_k1, b_k2, b_k3,
    c, c_off, c_rs, z, z_off, z_rs, n1, n2, n3,
):  # fmt: skip
    """``C[r, 0:16*blocks] = Z[r, :] + sum_{k3,k2,k1} A[r, k] * B[k, :]`` for ``r < rows``, where
    (all offsets in elements of the flat arrays ``a``, ``b``, ``c``, ``z``)
    ``A[r, k] = a[a_off + a_rows[r] + k1*a_k1 + k2*a_k2 + k3*a_k3]`` (``a_rows``: each row's offset),
    ``B[k, 16*m + j] = b[b_off + m*b_bs + k1*b_k1 + k2*b_k2 + k3*b_k3 + j]`` (block ``m`` of 16
    channels ``b_bs`` elements after block 0), ``C[r, j] = c[c_off + r*c_rs + j]`` and the
    starting values ``Z[r, j] = z[z_off + r*z_rs + j]`` (zeros, a bias with ``z_rs = 0``, or ``C``
    itself to accumulate). ``1 <= rows <= TILE_ROWS[dtype][blocks - 1]``, ``blocks`` 1 or 2:
    every such shape is compiled once, fully unrolled, and a ``switch`` on ``(rows, blocks)``
    jumps to it; any other ``(rows, blocks)`` traps (the process stops: an output left unwritten
    would be silently wrong). The operands' types are checked when a caller is compiled."""
    operands = list(locals().values())[1:]  # the operands' types, in parameter order
    _check_tile_operands(dict(zip(_TILE_OPERANDS, operands)))
    dtype = a.dtype
    sig = types.void(*operands)
    itemsize = np.dtype(str(dtype)).itemsize

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)

        def as_i64(value):
            return builder.sext(value, i64) if value.type.width < 64 else value

        def data(index):
            return context.make_array(signature.args[index])(context, builder, args[index]).data

        arrays = (2, 4, 8, 14, 17)
        ints = [as_i64(value) for i, value in enumerate(args) if i not in arrays]
        rows_v, blocks_v, a_off_v, a1, a2, a3, b_off_v, b_bs_v, b1, b2, b3 = ints[:11]
        c_off_v, c_rs_v, z_off_v, z_rs_v, k1n, k2n, k3n = ints[11:]
        row_offsets = data(4)
        a0 = builder.gep(data(2), [a_off_v])
        b0 = builder.gep(data(8), [b_off_v])
        c0 = builder.gep(data(14), [c_off_v])
        z0 = builder.gep(data(17), [z_off_v])
        scalar = context.get_value_type(dtype)
        lanes = VECTOR_BYTES // itemsize
        vec = ir.VectorType(scalar, lanes)
        per_block = BLOCK // lanes  # vector registers per block of 16 channels
        # a fused multiply-add where the target has one, else multiply and add (llvm.fma would
        # become a libm call per lane on a CPU without FMA)
        fma = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(vec, [vec, vec, vec]),
            f"llvm.{_FMA}.v{lanes}{'f32' if itemsize == 4 else 'f64'}",
        )

        def vector_at(base, offset):
            return builder.bitcast(builder.gep(base, [offset]), vec.as_pointer())

        def const(value):
            return ir.Constant(i64, value)

        def emit(n_rows, n_blocks):
            """The fully unrolled tile of ``n_rows x n_blocks`` blocks; accumulators in registers."""
            lane_offsets = [m * BLOCK + v * lanes for m in range(n_blocks) for v in range(per_block)]
            accs = [[cgutils.alloca_once(builder, vec) for _ in lane_offsets] for _ in range(n_rows)]
            for r in range(n_rows):
                z_row = builder.gep(z0, [builder.mul(z_rs_v, const(r))])
                for acc, lane in zip(accs[r], lane_offsets):
                    builder.store(builder.load(vector_at(z_row, const(lane)), align=itemsize), acc)
            b_blocks = [builder.mul(b_bs_v, const(m)) for m in range(n_blocks)]
            b_offsets = [builder.add(b_blocks[m], const(v * lanes)) for m in range(n_blocks) for v in range(per_block)]
            a_rows = [builder.gep(a0, [builder.load(builder.gep(row_offsets, [const(r)]))]) for r in range(n_rows)]
            with _reduction(builder, (k1n, k2n, k3n), (a1, a2, a3), (b1, b2, b3)) as (a_at, b_at):
                b_row = builder.gep(b0, [b_at])
                b_vecs = [builder.load(vector_at(b_row, off), align=itemsize) for off in b_offsets]
                for r in range(n_rows):
                    splat = _splat(builder, vec, builder.load(builder.gep(a_rows[r], [a_at])))
                    for acc, b_vec in zip(accs[r], b_vecs):
                        builder.store(builder.call(fma, [splat, b_vec, builder.load(acc)]), acc)
            for r in range(n_rows):
                c_row = builder.gep(c0, [builder.mul(c_rs_v, const(r))])
                for acc, lane in zip(accs[r], lane_offsets):
                    builder.store(builder.load(acc), vector_at(c_row, const(lane)), align=itemsize)

        done = builder.append_basic_block("tile.done")
        bad_shape = builder.append_basic_block("tile.bad_shape")
        shape = builder.add(builder.mul(rows_v, const(4)), blocks_v)
        switch = builder.switch(shape, bad_shape)
        for n_blocks, max_rows in enumerate(TILE_ROWS[np.dtype(str(dtype))], start=1):
            for n_rows in range(1, max_rows + 1):
                case = builder.append_basic_block(f"tile.{n_rows}x{n_blocks}")
                switch.add_case(const(n_rows * 4 + n_blocks), case)
                builder.position_at_end(case)
                emit(n_rows, n_blocks)
                builder.branch(done)
        builder.position_at_end(bad_shape)
        builder.call(cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.trap"), [])
        builder.unreachable()
        builder.position_at_end(done)
        return context.get_dummy_value()

    return sig, codegen


_T = 8  # the side of a transposed square (:func:`_transpose8`)
# an 8x8 transpose in three rounds of shufflevectors; each round: (the two input vectors, the
# two output slots) per pair, then the masks of the first and of the second output. Rows k,
# elements j: after round 1 slot 2m holds rows 2m, 2m+1 interleaved at j = 0, 1, 4, 5 (slot
# 2m+1: j = 2, 3, 6, 7); after round 2 slot j holds rows 0-3 (slots 4-7: rows 4-7) at j, j+4;
# round 3 joins the halves: slot j is column j.
_TRANSPOSE_ROUNDS = (
    ((((0, 1), (0, 1)), ((2, 3), (2, 3)), ((4, 5), (4, 5)), ((6, 7), (6, 7))),
     (0, 8, 1, 9, 4, 12, 5, 13), (2, 10, 3, 11, 6, 14, 7, 15)),
    ((((0, 2), (0, 1)), ((1, 3), (2, 3)), ((4, 6), (4, 5)), ((5, 7), (6, 7))),
     (0, 1, 8, 9, 4, 5, 12, 13), (2, 3, 10, 11, 6, 7, 14, 15)),
    ((((0, 4), (0, 4)), ((1, 5), (1, 5)), ((2, 6), (2, 6)), ((3, 7), (3, 7))),
     (0, 1, 2, 3, 8, 9, 10, 11), (4, 5, 6, 7, 12, 13, 14, 15)),
)  # fmt: skip


@intrinsic
def _transpose8(typingctx, src, s_off, s_stride, dst, d_off, d_stride):
    """``dst[d_off + j*d_stride + k] = src[s_off + k*s_stride + j]`` for ``j, k < 8``: an 8x8
    block moved between a channel-major (NCHW) and a channels-last layout, as 8 vector loads,
    24 shuffles and 8 vector stores (a scalar copy, one element per load and store, ran at a
    third of the speed and stalled on 4 KiB-aliased channel planes). ``src`` and ``dst``:
    C-contiguous 1-D arrays of one float dtype; the offsets and strides: integers."""
    for name, t in (("src", src), ("dst", dst)):
        if not (isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C" and t.dtype in (types.float32, types.float64)):
            raise errors.TypingError(f"_transpose8(): {name} must be a C-contiguous 1-D float array, got {t}")
    if src.dtype != dst.dtype or not dst.mutable:
        raise errors.TypingError(f"_transpose8(): src and a writable dst of one dtype expected, got {src}, {dst}")
    for name, t in (("s_off", s_off), ("s_stride", s_stride), ("d_off", d_off), ("d_stride", d_stride)):
        if not isinstance(t, types.Integer):
            raise errors.TypingError(f"_transpose8(): {name} must be an integer, got {t}")
    sig = types.void(src, s_off, s_stride, dst, d_off, d_stride)
    itemsize = np.dtype(str(src.dtype)).itemsize

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        ints = [builder.sext(v, i64) if v.type.width < 64 else v for v in (args[1], args[2], args[4], args[5])]
        s_off_v, s_stride_v, d_off_v, d_stride_v = ints
        src_p = context.make_array(signature.args[0])(context, builder, args[0]).data
        dst_p = context.make_array(signature.args[3])(context, builder, args[3]).data
        vec = ir.VectorType(context.get_value_type(signature.args[0].dtype), _T)

        def at(base, offset, stride, m):
            address = builder.gep(base, [builder.add(offset, builder.mul(stride, ir.Constant(i64, m)))])
            return builder.bitcast(address, vec.as_pointer())

        rows = [builder.load(at(src_p, s_off_v, s_stride_v, k), align=itemsize) for k in range(_T)]
        for pairs, first, second in _TRANSPOSE_ROUNDS:
            out = [None] * _T
            masks = [ir.Constant(ir.VectorType(ir.IntType(32), _T), list(m)) for m in (first, second)]
            for (u, v), (p, q) in pairs:
                out[p], out[q] = (builder.shuffle_vector(rows[u], rows[v], mask) for mask in masks)
            rows = out
        for j in range(_T):
            builder.store(rows[j], at(dst_p, d_off_v, d_stride_v, j), align=itemsize)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _balanced(remaining, max_rows):
    """Rows of the next tile when ``remaining`` rows are left: tiles of near-equal size
    (30 = 10 + 10 + 10, not 14 + 14 + 2), so no tile is much smaller than the register budget."""
    n_tiles = (remaining + max_rows - 1) // max_rows
    return (remaining + n_tiles - 1) // n_tiles


def tile_shape(dtype, n_blocks, width):
    """``(blocks, rows)``: the tile for ``n_blocks`` blocks of 16 output channels and a run of
    ``width`` tile rows that keeps the most accumulators busy on average (more rows and blocks
    per tile: each loaded weight vector and broadcast input value feeds more FMAs)."""
    best, best_busy = (1, 1), 0.0
    for blocks, max_rows in enumerate(TILE_ROWS[np.dtype(dtype)], start=1):
        if blocks > n_blocks or max_rows == 0:
            break
        rows = _balanced(width, max_rows)
        busy = rows * n_blocks / -(-n_blocks // blocks)  # rows x blocks, averaged over the block steps
        if busy >= best_busy:
            best, best_busy = (blocks, rows), busy
    return best


def _chunks(work) -> int:
    """How many threads a kernel call of ``work`` multiply-adds should use: one for small
    calls, where starting a parallel region costs more than it saves (and where several test
    processes would fight over the cores)."""
    threads = cpu_kernels.threads()
    return threads if threads > 1 and work >= _PARALLEL_MIN_WORK else 1


def flat_strides(x):
    """``(flat, (s_n, s_h, s_w, s_c))``: the 1-D buffer behind a 4-D ``(N, H, W, C)`` view whose
    memory is one contiguous block in some axis order (e.g. an NCHW array seen as NHWC), and
    the element strides of its axes; None for any other view."""
    order = np.argsort(x.strides)[::-1]
    dense = x.transpose(order)
    if not dense.flags.c_contiguous:
        return None
    return dense.reshape(-1), tuple(st // x.itemsize for st in x.strides)


class _ForwardPlan(NamedTuple):
    """Everything :func:`_forward_rows` needs but its range of rows, passed to the compiled
    drivers as one typed tuple (the signature is written here only)."""

    xf: np.ndarray  # the input's flat buffer
    x_base: int  # element offset of the first input pixel read
    x_row0: int  # the input row of that pixel
    data_lo: int  # input rows data_lo <= h < data_hi hold data; the others are zero padding, skipped
    data_hi: int
    sn: int  # the input's element strides, (N, H, W, C)
    sh: int
    sw: int
    sc: int
    c: int  # input channels
    wpk: np.ndarray  # packed weight (C_out/16, KH, KW, C, 16)
    init: np.ndarray  # (C_out,) starting values: the bias or zeros
    yf: np.ndarray  # the output's flat buffer
    y_base: int  # element offset of the first output pixel written
    ysn: int  # the output's element strides (N, H, W, C), H and W scaled by y_step
    ysh: int
    ysw: int
    ysc: int
    oh: int  # output rows and columns computed per image
    ow: int
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    tile_blocks: int  # the tile shape (tile_shape)
    tile_rows: int


@njit(cache=True)
def _window(offset, stride, lo, hi, out0, out1):
    """The range ``out0 <= o < out1`` narrowed to the ``o`` whose input ``offset + o*stride`` lies
    in ``[lo, hi)`` (empty: end <= start): the outputs (or kernel taps) that read data, not zero
    padding. With 3 x 3 kernels and padding 1, a 4 x 4 map's first and last output rows read a
    row of zeros through one kernel row each: 1/6 of the multiply-adds, skipped."""
    return max(out0, -((offset - lo) // stride)), min(out1, (hi - 1 - offset) // stride + 1)


@njit(cache=True)
def _forward_rows(plan, row0, row1):
    """Output rows ``row0 <= n*OH + i < row1`` of :func:`conv2d_forward` (``plan``: a
    :class:`_ForwardPlan`). The input is read through its element strides (any layout). A
    channels-last output is written by the tiles directly; any other layout (NCHW) gets each row's tiles in a small channels-last buffer that
    is then copied out channel by channel, so every write to the output is a contiguous run
    (16 channel planes written pixel by pixel would evict each other from the cache when the
    plane size is a multiple of 4 KiB)."""
    xf, x_base, x_row0, data_lo, data_hi, sn, sh, sw, sc, c, wpk, init, yf, y_base, ysn, ysh, ysw, ysc = plan[:18]
    oh, ow, stride_h, stride_w, dil_h, dil_w, tile_blocks, tile_rows = plan[18:]
    kh, kw = wpk.shape[1], wpk.shape[2]
    c_out = wpk.shape[0] * BLOCK
    direct = ysc == 1
    wf = wpk.reshape(-1)
    block = kh * kw * c * BLOCK
    if dil_w == 1 and sc == 1 and sw == c:
        # channels-last, undilated: (kw, c) is one contiguous run of the input and of the weight
        n1, a1, b1, n2, a2, b2 = kw * c, 1, BLOCK, 1, 0, 0
    else:
        n1, a1, b1, n2, a2, b2 = c, sc, BLOCK, kw, dil_w * sw, c * BLOCK
    a3, b3 = dil_h * sh, kw * c * BLOCK
    pixels = np.arange(tile_rows) * (stride_w * sw)  # a tile's rows: consecutive output pixels
    n_blocks = c_out // BLOCK
    # weight blocks that stay in cache together: a whole number of tiles
    group = max(tile_blocks, _L2_BYTES // (block * wf.itemsize) // tile_blocks * tile_blocks)
    row_buffer = np.empty(0 if direct else ow * min(group, n_blocks) * BLOCK, dtype=yf.dtype)
    for g0 in range(0, n_blocks, group):
        g1 = min(n_blocks, g0 + group)
        width = (g1 - g0) * BLOCK  # channels of this group
        for row in range(row0, row1):
            n = row // oh
            i = row - n * oh
            p0, p1 = _window(x_row0 + i * stride_h, dil_h, data_lo, data_hi, 0, kh)  # kernel rows on data
            a_row = x_base + n * sn + (i * stride_h + p0 * dil_h) * sh
            y_row = y_base + n * ysn + i * ysh
            for blk in range(g0, g1, tile_blocks):
                blocks = min(tile_blocks, g1 - blk)
                j = 0
                while j < ow:
                    r = _balanced(ow - j, tile_rows)
                    if direct:
                        c_buf, c_off, c_rs = yf, y_row + j * ysw + blk * BLOCK, ysw
                    else:
                        c_buf, c_off, c_rs = row_buffer, j * width + (blk - g0) * BLOCK, width
                    _tile(
                        r,
                        blocks,
                        xf,
                        a_row + j * stride_w * sw,
                        pixels,
                        a1,
                        a2,
                        a3,
                        wf,
                        blk * block + p0 * b3,
                        block,
                        b1,
                        b2,
                        b3,
                        c_buf,
                        c_off,
                        c_rs,
                        init,
                        blk * BLOCK,
                        0,
                        n1,
                        n2,
                        max(0, p1 - p0),
                    )
                    j += r
            if not direct and ysw == 1 and ow >= _T:  # channel-major rows (NCHW): 8x8 transposes
                for k0 in range(0, width, _T):
                    for j in range(0, ow, _T):
                        j0 = min(j, ow - _T)  # the last block overlaps the one before
                        _transpose8(row_buffer, j0 * width + k0, width, yf, y_row + (g0 * BLOCK + k0) * ysc + j0, ysc)
            elif not direct:
                for k in range(width):
                    out = y_row + (g0 * BLOCK + k) * ysc
                    for j in range(ow):
                        yf[out + j * ysw] = row_buffer[j * width + k]


@njit(parallel=True, cache=True)
def _forward_parallel(plan, rows, chunks):
    for t in prange(chunks):
        _forward_rows(plan, t * rows // chunks, (t + 1) * rows // chunks)


def conv2d_forward(
    xp, wpk, bias, y, stride_h, stride_w, dil_h, dil_w, x_corner=(0, 0), y_corner=(0, 0), y_step=(1, 1), out_size=None,
    data=None,
):  # fmt: skip
    """``y[n, i, j, o] = bias[o] + sum_{p, q, c} xp[n, i*sh + p*dh, j*sw + q*dw, c] * w[o, c, p, q]``.

    Args:
        xp: padded input seen as ``(N, Hp, Wp, C)``, in any layout :func:`flat_strides` accepts.
        wpk: packed weight ``(C_out/16, KH, KW, C, 16)`` (see :func:`pack_weight`).
        bias: ``(C_out,)`` or None.
        y: output seen as ``(N, OH, OW, C_out)``, any layout :func:`flat_strides` accepts
            (channels-last is fastest), overwritten.
        x_corner, y_corner, y_step, out_size: compute only the ``out_size`` outputs
            ``y[:, y_corner + i*y_step]`` (default: all of ``y``), reading the input from
            ``x_corner`` on (the phases of a strided input gradient).
        data: ``(row_lo, row_hi, col_lo, col_hi)``: only rows ``row_lo <= h < row_hi`` (and
            columns) of ``xp`` hold data, the others are zero padding: an output row skips the
            kernel rows that read it (default: all of ``xp`` holds data).
    """
    (xf, (sn, sh, sw, sc)), c = flat_strides(xp), xp.shape[3]
    yf, (ysn, ysh, ysw, ysc) = flat_strides(y)
    oh, ow = y.shape[1:3] if out_size is None else out_size
    init = np.zeros(y.shape[3], y.dtype) if bias is None else np.ascontiguousarray(bias, dtype=y.dtype)
    tile_blocks, tile_rows = tile_shape(y.dtype, wpk.shape[0], ow)
    n_batch = y.shape[0]
    x_base = x_corner[0] * sh + x_corner[1] * sw
    y_base = y_corner[0] * ysh + y_corner[1] * ysw
    chunks = _chunks(n_batch * oh * ow * wpk.size)
    data_lo, data_hi = (0, xp.shape[1]) if data is None else data[:2]
    plan = _ForwardPlan(
        xf, x_base, x_corner[0], data_lo, data_hi, sn, sh, sw, sc, c, wpk, init, yf, y_base, ysn, y_step[0] * ysh, y_step[1] * ysw, ysc,
        oh, ow, stride_h, stride_w, dil_h, dil_w, tile_blocks, tile_rows,
    )  # fmt: skip
    if chunks == 1:
        _forward_rows(plan, 0, n_batch * oh)
    else:
        _forward_parallel(plan, n_batch * oh, chunks)


@njit(cache=True)
def _row_to_channels_last(src, s_at, s_c, dst, d_at, c, w):
    """``dst[d_at + j*c + k] = src[s_at + k*s_c + j]`` for ``j < w`` pixels and ``k < c``
    channels (both at least 8): one row of a channel-major (NCHW) array moved into channels-last
    order by :func:`_transpose8` blocks, the last ones overlapping their neighbours (the same
    values written twice)."""
    for k in range(0, c, _T):
        k0 = min(k, c - _T)
        for j in range(0, w, _T):
            j0 = min(j, w - _T)
            _transpose8(src, s_at + k0 * s_c + j0, s_c, dst, d_at + j0 * c + k0, c)


@njit(cache=True)
def _channels_last_strip(gf, gsn, gsh, gsw, gsc, at, images, rows, ow, c_out, buffer):
    """Copies ``rows`` rows of ``ow`` pixels of ``images`` consecutive images of a channel-major
    output gradient (first pixel at ``gf[at]``, element strides ``gsn, gsh, gsw, gsc``) into the
    C-contiguous channels-last ``buffer`` ``(images, rows, ow, C_out)``: rows with contiguous
    pixels (NCHW) by 8x8 vector transposes, the last blocks overlapping their neighbours."""
    for m in range(images):
        for i in range(rows):
            src = at + m * gsn + i * gsh
            dst = (m * rows + i) * ow * c_out
            if gsw == 1 and ow >= _T:
                _row_to_channels_last(gf, src, gsc, buffer, dst, c_out, ow)
            else:
                for j in range(ow):
                    for k in range(c_out):
                        buffer[dst + j * c_out + k] = gf[src + j * gsw + k * gsc]


@njit(cache=True)
def _weight_grad_images(
    xf, sn, sh, sw, grad, oh, ow, steps, data, taps, acc, bias_acc, tile_blocks, tile_rows, n0, n1, t0, t1
):  # fmt: skip
    """Adds the weight gradient of images ``n0 <= n < n1``, taps ``t0 <= t < t1``, into ``acc``
    ``(KH, KW, C, C_out)``, and, where ``bias_acc`` ``(C_out,)`` is not empty and ``t0 = 0``, the
    bias gradient (the sum of ``g``, added up strip by strip while each strip is in the cache:
    no second pass over ``g``); the input is read through its element strides. ``grad``:
    ``(gf, s_n, s_h, s_w, s_c, base)``, the output gradient's flat buffer, element strides and
    the offset of its first pixel; one whose pixels are runs of ``C_out`` channels is read in
    place, any other (NCHW) a strip at a time through a channels-last buffer (a copy that stays
    in the cache).
    ``taps[t]`` is the input offset of tap ``t`` of the flattened ``(KH, KW, C)`` kernel: a
    tile's rows are any ``r`` consecutive taps (so a 1-channel 3x3 layer fills 9 rows), and its
    ``C`` rows are ``C_out`` apart in ``acc``. ``steps``: ``(stride_h, stride_w, dil_h, dil_w)``.
    ``data``: ``(row_lo, row_hi, col_lo, col_hi)``, the rows and columns of the input that hold
    data (the others are zero padding): a tile whose taps share one kernel row (column) skips
    the output rows (columns) that read that kernel row (column) from the padding."""
    gf, gsn, gsh, gsw, gsc, g_base = grad
    kw, c, c_out = acc.shape[1], acc.shape[2], acc.shape[3]
    row_taps = kw * c  # taps per kernel row
    stride_h, stride_w, dil_h, dil_w = steps
    row_lo, row_hi, col_lo, col_hi = data
    af = acc.reshape(-1)
    n_blocks = c_out // BLOCK
    # a strip of output rows at a time: the input and gradient rows it reads stay in cache
    # while every tile of the weight gradient sweeps over them
    strip = max(_STRIP_ELEMENTS // (ow * (c + c_out)), (_STRIP_PIXELS + ow - 1) // ow, 1)
    # a strip taller than an image covers several whole images, the tile's outermost reduction
    # loop: small late-stage maps (4 x 4) still give each tile a reduction of _STRIP_PIXELS
    per_step = max(1, strip // oh)
    in_place = gsc == 1 and gsw == c_out
    strip_rows = min(strip, oh)
    buffer = np.empty(0 if in_place else per_step * strip_rows * ow * c_out, dtype=af.dtype)
    strip_sum, zeros = np.empty(c_out, af.dtype), np.zeros(c_out, af.dtype)
    one, first = np.ones(1, af.dtype), np.zeros(1, np.int64)  # the bias tile's A and row offset
    if in_place:  # the gradient's element strides: pixel, row, image
        b_pixel, b_row, b_image = gsw, gsh, gsn
    else:
        b_pixel, b_row, b_image = c_out, ow * c_out, strip_rows * ow * c_out
    for n in range(n0, n1, per_step):
        images = min(per_step, n1 - n)
        for i0 in range(0, oh, strip):
            n_rows = min(strip, oh - i0)
            g_at = g_base + n * gsn + i0 * gsh
            b_buf, b_at = gf, g_at
            if not in_place:
                _channels_last_strip(gf, gsn, gsh, gsw, gsc, g_at, images, n_rows, ow, c_out, buffer)
                b_buf, b_at = buffer, 0
            if bias_acc.size and t0 == 0:
                # the bias gradient is the weight gradient of an input that is 1 everywhere: one
                # tile row over the strip, its A a single 1 (strides 0); per strip, then in total
                for blk in range(0, n_blocks, tile_blocks):
                    at = blk * BLOCK
                    _tile(
                        1, min(tile_blocks, n_blocks - blk), one, 0, first, 0, 0, 0,
                        b_buf, b_at + at, BLOCK, b_pixel, b_row, b_image,
                        strip_sum, at, 0, zeros, at, 0, ow, n_rows, images,
                    )  # fmt: skip
                bias_acc += strip_sum
            a_at = n * sn + i0 * stride_h * sh
            t = t0
            while t < t1:
                r = _balanced(t1 - t, tile_rows)
                i_lo, i_hi, j_lo, j_hi = i0, i0 + n_rows, 0, ow
                if (t + r - 1) // row_taps == t // row_taps:  # one kernel row p: i*stride_h + p*dil_h in the data
                    i_lo, i_hi = _window(t // row_taps * dil_h, stride_h, row_lo, row_hi, i_lo, i_hi)
                if (t + r - 1) // c == t // c:  # one kernel column q
                    j_lo, j_hi = _window(t // c % kw * dil_w, stride_w, col_lo, col_hi, j_lo, j_hi)
                if i_lo < i_hi and j_lo < j_hi:
                    for blk in range(0, n_blocks, tile_blocks):
                        at = t * c_out + blk * BLOCK
                        _tile(
                            r,
                            min(tile_blocks, n_blocks - blk),
                            xf,
                            a_at + (i_lo - i0) * stride_h * sh + j_lo * stride_w * sw,
                            taps[t:],
                            stride_w * sw,
                            stride_h * sh,
                            sn,
                            b_buf,
                            b_at + (i_lo - i0) * b_row + j_lo * b_pixel + blk * BLOCK,
                            BLOCK,
                            b_pixel,
                            b_row,
                            b_image,
                            af,
                            at,
                            c_out,
                            af,
                            at,
                            c_out,
                            j_hi - j_lo,
                            i_hi - i_lo,
                            images,
                        )
                t += r


@njit(parallel=True, cache=True)
def _weight_grad_parallel(
    xf, sn, sh, sw, n_batch, grad, oh, ow, steps, data, taps, out, bias_out, tile_blocks, tile_rows, chunks
):  # fmt: skip
    """The chunks of :func:`conv2d_weight_grad` on numba's threads: with one gradient in ``out``
    (``(1, KH, KW, C, C_out)``) chunk ``t`` computes its share of the taps over every image (the
    chunk of tap 0 the bias gradient, into ``bias_out[0]``); with ``chunks`` gradients, chunk
    ``t`` computes every tap (and ``bias_out[t]``) over its share of the images."""
    n_taps = taps.size
    by_taps = out.shape[0] == 1
    for t in prange(chunks):
        if by_taps:
            acc, n0, n1, t0, t1 = out[0], 0, n_batch, t * n_taps // chunks, (t + 1) * n_taps // chunks
        else:
            acc, n0, n1, t0, t1 = out[t], t * n_batch // chunks, (t + 1) * n_batch // chunks, 0, n_taps
        bias_acc = bias_out[0] if by_taps else bias_out[t]
        _weight_grad_images(
            xf, sn, sh, sw, grad, oh, ow, steps, data, taps, acc, bias_acc, tile_blocks, tile_rows, n0, n1, t0, t1
        )


def conv2d_weight_grad(xp, g, g_top, g_left, oh, ow, kh, kw, stride_h, stride_w, dil_h, dil_w, data=None, bias=False):
    """``dw[p, q, c, o] = sum_{n, i, j} xp[n, i*sh + p*dh, j*sw + q*dw, c] * g[n, i, j, o]``, shape
    ``(KH, KW, C, C_out)``, and with ``bias`` the bias gradient ``db[o] = sum_{n, i, j} g[n, i, j, o]``
    in the same pass over ``g``. Returns ``(dw, db)`` (``db`` None without ``bias``).

    Args:
        xp: padded input seen as ``(N, Hp, Wp, C)``, any layout :func:`flat_strides` accepts.
        g: output gradient seen as ``(N, Hg, Wg, C_out)``: channels-last is read in place, an
            NCHW gradient through small in-cache transposes (no channels-last copy of the whole
            gradient), any other layout is copied first. Its ``(oh, ow)`` window starts at
            ``(g_top, g_left)`` (so a padded gradient buffer can be passed as is).
        data: ``(row_lo, row_hi, col_lo, col_hi)``: only rows ``row_lo <= h < row_hi`` and
            columns ``col_lo <= w < col_hi`` of ``xp`` hold data, the others are zero padding,
            skipped (default: all of ``xp`` holds data).

    Threads split the work one of two ways, chosen by the shapes alone, and the result does not
    depend on the number of threads either way (a run resumes bit for bit after a change of
    NUMBA_NUM_THREADS). Where the gradient is small next to the data it is computed from (early
    layers: large maps, few channels), the images are split into ``_WEIGHT_GRAD_SHARES`` shares,
    whatever the thread count, each summed into its own copy of the gradient, and the copies are
    added last, in order. Where eight copies of the gradient would outweigh the data (late
    layers: 4 x 4 maps, 512 channels, 9.4 MB per copy), each thread computes its share of the taps
    over every image, straight into the one gradient: every element is then summed by one thread
    in the same order on any thread count, and no copies are made, zeroed or added.
    """
    (xf, (sn, sh, sw, sc)), (n_batch, c), c_out = flat_strides(xp), (xp.shape[0], xp.shape[3]), g.shape[-1]
    flat = flat_strides(g)
    if flat is None or not flat[0].flags.writeable:  # a view the kernels cannot index: one copy
        g = np.ascontiguousarray(g)
        flat = flat_strides(g)
    gf, (gsn, gsh, gsw, gsc) = flat
    grad = (gf, gsn, gsh, gsw, gsc, g_top * gsh + g_left * gsw)
    p, q, k = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(c), indexing="ij")
    taps = (p * (dil_h * sh) + q * (dil_w * sw) + k * sc).reshape(-1).astype(np.int64)
    tile_blocks, tile_rows = tile_shape(xp.dtype, c_out // BLOCK, taps.size)
    work = n_batch * oh * ow * kh * kw * c * c_out
    box = (0, xp.shape[1], 0, xp.shape[2]) if data is None else data
    geometry = (oh, ow, (stride_h, stride_w, dil_h, dil_w), box, taps)
    data_elements = xp.size + n_batch * oh * ow * c_out
    if work < _PARALLEL_MIN_WORK:
        shares = chunks = 1  # one thread
    elif _WEIGHT_GRAD_SHARES * taps.size * c_out > data_elements:  # split the taps: one gradient
        shares, chunks = 1, min(cpu_kernels.threads(), taps.size)
    else:  # split the images: a fixed number of shares
        shares = chunks = min(_WEIGHT_GRAD_SHARES, n_batch)
    dw = np.zeros((shares, kh, kw, c, c_out), dtype=xp.dtype)
    db = np.zeros((shares, c_out if bias else 0), dtype=xp.dtype)
    if work < _PARALLEL_MIN_WORK:
        everything = (0, n_batch, 0, taps.size)  # images, taps
        _weight_grad_images(xf, sn, sh, sw, grad, *geometry, dw[0], db[0], tile_blocks, tile_rows, *everything)
    else:
        _weight_grad_parallel(xf, sn, sh, sw, n_batch, grad, *geometry, dw, db, tile_blocks, tile_rows, chunks)
    if shares > 1:  # the shares' gradients, added in order
        dw, db = dw.sum(axis=0, keepdims=True), db.sum(axis=0, keepdims=True)
    return dw[0], db[0] if bias else None


def pack_weight(w):
    """``(C_out, C, KH, KW) -> (C_out/16, KH, KW, C, 16)``: each tile's 16-channel weight slice
    contiguous, in the order the forward kernel reads it."""
    c_out, c, kh, kw = w.shape
    return np.ascontiguousarray(w.reshape(c_out // BLOCK, BLOCK, c, kh, kw).transpose(0, 3, 4, 2, 1))


@njit(cache=True)
def _pad_rows(x, planes, out, top, left, row0, row1):
    """Rows ``row0 <= n*Hp + i < row1`` of :func:`pad`. ``planes``: None, or ``(flat, s_n,
    s_h, s_c)``, the flat buffer and element strides of a channel-major ``x`` whose rows are
    contiguous (NCHW) and that has at least 8 channels and columns: its 8-channel x 8-pixel
    blocks are then moved by :func:`_transpose8`, the last ones overlapping their neighbours."""
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = out.shape[1], out.shape[2]
    of = out.reshape(-1)
    for row in range(row0, row1):
        n = row // hp
        i = row - n * hp
        src = i - top
        at = row * wp * c
        if src < 0 or src >= h:
            of[at : at + wp * c] = 0
            continue
        of[at : at + left * c] = 0
        of[at + (left + w) * c : at + wp * c] = 0
        at += left * c
        if planes is None:
            out[n, i, left : left + w] = x[n, src]
            continue
        xf, sn, sh, sc = planes
        _row_to_channels_last(xf, n * sn + src * sh, sc, of, at, c, w)


@njit(parallel=True, cache=True)
def _pad_parallel(x, planes, out, top, left, chunks):
    rows = out.shape[0] * out.shape[1]
    for t in prange(chunks):
        _pad_rows(x, planes, out, top, left, t * rows // chunks, (t + 1) * rows // chunks)


def pad(x, out, top, left):
    """``out[n, top + h, left + w, c] = x[n, h, w, c]``, zeros around: one pass that also turns
    any memory layout of ``x`` (e.g. an NCHW tensor seen as NHWC) into the C-contiguous
    channels-last buffer ``out`` (a channel-major ``x`` of at least 8 channels and 8 columns
    through 8x8 vector transposes)."""
    flat = flat_strides(x)
    planes = None
    if flat is not None and flat[1][2] == 1 and x.shape[3] >= _T and x.shape[2] >= _T:
        xf, (sn, sh, _, sc) = flat
        planes = (xf, sn, sh, sc)
    chunks = _chunks(out.size * _COPY_WORK)
    if chunks == 1:
        _pad_rows(x, planes, out, top, left, 0, out.shape[0] * out.shape[1])
    else:
        _pad_parallel(x, planes, out, top, left, chunks)


# Depthwise convolution works plane by plane on NCHW views (each channel is its own 2-D
# correlation): the input is read in place, zero padding is implicit (taps that fall outside
# the input are skipped), and the inner loop runs along an output row.
@njit(cache=True)
def _row_span(offset, stride, size, n_out):
    """Output columns ``j`` whose input column ``j*stride + offset`` lies in ``[0, size)``."""
    first = max(0, (stride - 1 - offset) // stride)
    return first, min(n_out, (size - 1 - offset) // stride + 1)


@njit(cache=True)
def _depthwise_planes(x, taps, bias, y, top, left, stride_h, stride_w, dil_h, dil_w, plane0, plane1):
    c, kh, kw = taps.shape
    h, w = x.shape[2], x.shape[3]
    oh, ow = y.shape[2], y.shape[3]
    for plane in range(plane0, plane1):
        n = plane // c
        k = plane - n * c
        for i in range(oh):
            row = y[n, k, i]
            row[:] = bias[k]
            for p in range(kh):
                src_i = i * stride_h + p * dil_h - top
                if src_i < 0 or src_i >= h:
                    continue
                src = x[n, k, src_i]
                for q in range(kw):
                    offset = q * dil_w - left
                    j0, j1 = _row_span(offset, stride_w, w, ow)
                    tap = taps[k, p, q]
                    if stride_w == 1:  # contiguous windows: the loop LLVM vectorises
                        out, window = row[j0:j1], src[j0 + offset : j1 + offset]
                        for j in range(j1 - j0):
                            out[j] += tap * window[j]
                    else:
                        for j in range(j0, j1):
                            row[j] += tap * src[j * stride_w + offset]


@njit(parallel=True, cache=True)
def _depthwise_parallel(x, taps, bias, y, top, left, stride_h, stride_w, dil_h, dil_w, chunks):
    planes = y.shape[0] * y.shape[1]
    for t in prange(chunks):
        _depthwise_planes(
            x,
            taps,
            bias,
            y,
            top,
            left,
            stride_h,
            stride_w,
            dil_h,
            dil_w,
            t * planes // chunks,
            (t + 1) * planes // chunks,
        )


def depthwise_forward(x, taps, bias, y, top, left, stride_h, stride_w, dil_h, dil_w):
    """Depthwise ``y[n, c, i, j] = bias[c] + sum_{p,q} x[n, c, i*sh + p*dh - top, j*sw + q*dw - left] * taps[c, p, q]``
    on NCHW views, ``x`` zero outside its bounds (``top``/``left`` may be negative: a crop)."""
    init = np.zeros(y.shape[1], y.dtype) if bias is None else np.ascontiguousarray(bias, dtype=y.dtype)
    chunks = min(_chunks(y.size * taps.shape[1] * taps.shape[2]), y.shape[0] * y.shape[1])
    args = (x, taps, init, y, top, left, stride_h, stride_w, dil_h, dil_w)
    if chunks == 1:
        _depthwise_planes(*args, 0, y.shape[0] * y.shape[1])
    else:
        _depthwise_parallel(*args, chunks)


@njit(cache=True)
def _depthwise_grad_planes(x, g, top, left, stride_h, stride_w, dil_h, dil_w, dw, c0, c1):
    h, w = x.shape[2], x.shape[3]
    n_batch, oh, ow = g.shape[0], g.shape[2], g.shape[3]
    kh, kw = dw.shape[1], dw.shape[2]
    # per-column partial sums (plain vectorised multiply-adds), summed once per channel at the end
    partial = np.empty((kh, kw, ow), dtype=dw.dtype)
    for k in range(c0, c1):
        partial[:] = 0
        for n in range(n_batch):
            for i in range(oh):
                grow = g[n, k, i]
                for p in range(kh):
                    src_i = i * stride_h + p * dil_h - top
                    if src_i < 0 or src_i >= h:
                        continue
                    src = x[n, k, src_i]
                    for q in range(kw):
                        offset = q * dil_w - left
                        j0, j1 = _row_span(offset, stride_w, w, ow)
                        out = partial[p, q]
                        if stride_w == 1:
                            window = src[j0 + offset : j1 + offset]
                            for j in range(j1 - j0):
                                out[j0 + j] += grow[j0 + j] * window[j]
                        else:
                            for j in range(j0, j1):
                                out[j] += grow[j] * src[j * stride_w + offset]
        for p in range(kh):
            for q in range(kw):
                dw[k, p, q] = partial[p, q].sum()


@njit(parallel=True, cache=True)
def _depthwise_grad_parallel(x, g, top, left, stride_h, stride_w, dil_h, dil_w, dw, chunks):
    c = dw.shape[0]
    for t in prange(chunks):
        _depthwise_grad_planes(
            x, g, top, left, stride_h, stride_w, dil_h, dil_w, dw, t * c // chunks, (t + 1) * c // chunks
        )


def depthwise_weight_grad(x, g, kh, kw, top, left, stride_h, stride_w, dil_h, dil_w):
    """``dw[c, p, q] = sum_{n,i,j} x[n, c, i*sh + p*dh - top, j*sw + q*dw - left] * g[n, c, i, j]``
    on NCHW views (``x`` zero outside its bounds), shape ``(C, KH, KW)``; each thread owns whole
    channels."""
    c = g.shape[1]
    dw = np.empty((c, kh, kw), dtype=x.dtype)
    chunks = min(_chunks(g.size * kh * kw), c)
    args = (x, g, top, left, stride_h, stride_w, dil_h, dil_w, dw)
    if chunks == 1:
        _depthwise_grad_planes(*args, 0, c)
    else:
        _depthwise_grad_parallel(*args, chunks)
    return dw
