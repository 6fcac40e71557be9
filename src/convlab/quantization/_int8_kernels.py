"""Compiled int8 convolution (and linear) kernels: uint8 activations x int8 weights, int32 sums,
one requantisation to uint8 per output.

Same plan as the float kernels of :mod:`convlab.ops._conv_kernels` (a register tile of outputs
kept for the whole reduction, the padded channels-last input read in place), but the products
are 8-bit. The tile is emitted as LLVM IR because no compiler turns a plain loop into the
instructions that make int8 fast:

- AVX-512 VNNI ``vpdpbusd``: per 32-bit lane, four u8 x s8 products summed into an int32
  accumulator, 64 multiply-adds per instruction (four times a float32 FMA);
- AVX2 ``vpmaddubsw`` (u8 x s8 pairs summed to int16, saturating) then ``vpmaddwd`` by ones
  (pairs of int16 summed to int32), 32 multiply-adds per 256-bit pair. Activations use 7 bits
  (``reduce_range``, as fbgemm does), so a pair sum ``2 * 127 * 128`` never saturates and both
  paths give the exact integer sums.

Both read the reduction four input channels at a time: one 32-bit word of the input, broadcast,
against a weight vector holding, for each of 16 output channels, its four weights of those
input channels (see :func:`pack_weight`). Input channels are therefore padded to a multiple of 4
(``prepare_input``), output channels to a multiple of 16 (zero weights). Each finished tile of
int32 sums is requantised at once, in float64, exactly as :func:`requantize` does it for the
NumPy path, so both give identical integers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..backend import cpu_kernels
from ..ops._conv_kernels import _chunks, _reduction, _splat

BLOCK = 16  # output channels per block: one int32 vector with AVX-512, two with AVX2
_SCRATCH = 32  # int32 sums per tile row in the scratch buffer (two blocks)


_FEATURES = cpu_kernels.cpu_features()  # what numba compiles for (NUMBA_CPU_FEATURES or the host)
#: Which instructions the tile uses: "vnni" (AVX-512 VNNI), "avx2", or None (no kernel: NumPy path).
ISA = "vnni" if {"avx512vnni", "avx512bw", "avx512f"} <= _FEATURES else "avx2" if "avx2" in _FEATURES else None
#: The tile heights compiled (every other height costs compile time, not speed): a run of ``w``
#: output pixels is cut greedily into them (28 = 14 + 14). With AVX-512 (32 zmm registers) a
#: tile of 14 rows x 2 blocks keeps 28 accumulators; with AVX2 (16 ymm) 5 rows x 1 block keep 10.
ROW_SIZES = (14, 7, 4, 2, 1) if ISA == "vnni" else (5, 4, 2, 1)
TILE_BLOCKS = 2 if ISA == "vnni" else 1  # most blocks of 16 output channels per tile
_SIZES = np.array(ROW_SIZES, np.int64)


@intrinsic
def _tile(typingctx, rows, blocks, a, a_off, a_rows, a_k2, a_k3, b, b_off, b_bs, b_k2, b_k3, c, n1, n2, n3):
    """``C[r, 16*m + j] = sum_{k3, k2, k1, t < 4} A[r, k, t] * B[m, k, j, t]`` for ``r < rows``,
    ``m < blocks``, in int32, with (offsets in bytes of the flat uint8 ``a`` and int8 ``b``)
    ``A[r, k, t] = a[a_off + a_rows[r] + 4*k1 + k2*a_k2 + k3*a_k3 + t]`` and
    ``B[m, k, j, t] = b[b_off + m*b_bs + 64*k1 + k2*b_k2 + k3*b_k3 + 4*j + t]``;
    ``C[r, i] = c[32*r + i]`` (int32). Every ``(rows, blocks)`` shape is unrolled behind a switch."""
    sig = types.void(rows, blocks, a, a_off, a_rows, a_k2, a_k3, b, b_off, b_bs, b_k2, b_k3, c, n1, n2, n3)

    def codegen(context, builder, signature, args):
        i8, i16, i32, i64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)

        def as_i64(value):
            return builder.sext(value, i64) if value.type.width < 64 else value

        def data(index):
            return context.make_array(signature.args[index])(context, builder, args[index]).data

        ints = [as_i64(v) for i, v in enumerate(args) if i not in (2, 4, 7, 12)]
        rows_v, blocks_v, a_off_v, a2, a3, b_off_v, b_bs_v, b2, b3, k1n, k2n, k3n = ints
        row_offsets = data(4)
        a0 = builder.gep(data(2), [a_off_v])
        b0 = builder.gep(data(7), [b_off_v])
        c0 = data(12)
        lanes = 16 if ISA == "vnni" else 8  # int32 lanes of one vector
        acc_t = ir.VectorType(i32, lanes)
        per_block = BLOCK // lanes
        if ISA == "vnni":
            dot = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(acc_t, [acc_t, acc_t, acc_t]), "llvm.x86.avx512.vpdpbusd.512"
            )
        else:
            bytes_t, words_t = ir.VectorType(i8, 32), ir.VectorType(i16, 16)
            maddubs = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(words_t, [bytes_t, bytes_t]), "llvm.x86.avx2.pmadd.ub.sw"
            )
            maddwd = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(acc_t, [words_t, words_t]), "llvm.x86.avx2.pmadd.wd"
            )
            ones = ir.Constant(words_t, [1] * 16)

        def const(value):
            return ir.Constant(i64, value)

        def multiply_add(acc, word, weights):
            if ISA == "vnni":
                return builder.call(dot, [acc, word, weights])
            pairs = builder.call(maddubs, [builder.bitcast(word, bytes_t), builder.bitcast(weights, bytes_t)])
            return builder.add(acc, builder.call(maddwd, [pairs, ones]))

        def emit(n_rows, n_blocks):
            zero = ir.Constant(acc_t, [0] * lanes)
            accs = [
                [cgutils.alloca_once_value(builder, zero) for _ in range(n_blocks * per_block)] for _ in range(n_rows)
            ]
            vec_offsets = [
                builder.add(builder.mul(b_bs_v, const(m)), const(v * lanes * 4))
                for m in range(n_blocks)
                for v in range(per_block)
            ]
            a_rows = [builder.gep(a0, [builder.load(builder.gep(row_offsets, [const(r)]))]) for r in range(n_rows)]
            # k1 steps over groups of 4 input channels: 4 bytes of the input, 64 of the packed weight
            with _reduction(builder, (k1n, k2n, k3n), (const(4), a2, a3), (const(64), b2, b3)) as (a_at, b_at):
                b_row = builder.gep(b0, [b_at])
                weights = [
                    builder.load(builder.bitcast(builder.gep(b_row, [off]), acc_t.as_pointer()), align=1)
                    for off in vec_offsets
                ]
                for r in range(n_rows):
                    word = builder.load(builder.bitcast(builder.gep(a_rows[r], [a_at]), i32.as_pointer()), align=1)
                    splat = _splat(builder, acc_t, word)
                    for acc, w in zip(accs[r], weights):
                        builder.store(multiply_add(builder.load(acc), splat, w), acc)
            for r in range(n_rows):
                for v, acc in enumerate(accs[r]):
                    at = builder.gep(c0, [const(r * _SCRATCH + v * lanes)])
                    builder.store(builder.load(acc), builder.bitcast(at, acc_t.as_pointer()), align=4)

        done = builder.append_basic_block("tile.done")
        switch = builder.switch(builder.add(builder.mul(rows_v, const(4)), blocks_v), done)
        for n_blocks in range(1, TILE_BLOCKS + 1):
            for n_rows in ROW_SIZES:
                case = builder.append_basic_block(f"tile.{n_rows}x{n_blocks}")
                switch.add_case(const(n_rows * 4 + n_blocks), case)
                builder.position_at_end(case)
                emit(n_rows, n_blocks)
                builder.branch(done)
        builder.position_at_end(done)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _rows(remaining, sizes):
    """The largest compiled tile height that fits in ``remaining`` rows."""
    for size in sizes:
        if size <= remaining:
            return size
    return 1


class _ConvPlan(NamedTuple):
    """Everything :func:`_conv_rows` needs but its range of rows, passed to the compiled drivers
    as one typed tuple (the signature is written here only)."""

    xf: np.ndarray  # the padded input's flat uint8 buffer (N, Hp, Wp, C)
    sn: int  # the input's byte strides (N, H, W)
    sh: int
    sw: int
    c: int  # input channels (a multiple of 4)
    kh: int
    kw: int
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    oh: int  # output rows and columns per image
    ow: int
    wf: np.ndarray  # the packed weight's flat int8 buffer (see pack_weight)
    n_blocks: int  # blocks of 16 output channels
    offset: np.ndarray  # the requantisation of each output channel (see conv2d)
    mult: np.ndarray
    shift: np.ndarray
    zero_point: int
    lo: np.ndarray
    hi: np.ndarray
    yf: np.ndarray  # the output's flat uint8 buffer (N, OH, OW, C_store)
    c_store: int  # output channels stored (those of the padded weight beyond are dropped)
    tile_blocks: int  # most blocks per tile
    sizes: np.ndarray  # the compiled tile heights, largest first (_SIZES)


@njit(cache=True)
def _conv_rows(plan, row0, row1):
    """Output rows ``row0 <= n*OH + i < row1`` of :func:`conv2d` (``plan``: a :class:`_ConvPlan`)."""
    xf, sn, sh, sw, c, kh, kw, stride_h, stride_w, dil_h, dil_w, oh, ow = plan[:13]
    wf, n_blocks, offset, mult, shift, zero_point, lo, hi, yf, c_store, tile_blocks, sizes = plan[13:]
    block = kh * kw * c * BLOCK
    if dil_w == 1 and sw == c:  # (kw, c) is one contiguous run of the input and of the packed weight
        n1, n2, a2, b2 = kw * c // 4, 1, 0, 0
    else:
        n1, n2, a2, b2 = c // 4, kw, dil_w * sw, c * BLOCK
    a3, b3 = dil_h * sh, kw * c * BLOCK
    pixels = np.arange(sizes[0]) * (stride_w * sw)
    scratch = np.empty(sizes[0] * _SCRATCH, np.int32)
    for row in range(row0, row1):
        n = row // oh
        i = row - n * oh
        a_row = n * sn + i * stride_h * sh
        y_row = row * ow * c_store
        for blk in range(0, n_blocks, tile_blocks):
            blocks = min(tile_blocks, n_blocks - blk)
            j = 0
            while j < ow:
                r = _rows(ow - j, sizes)
                _tile(
                    r,
                    blocks,
                    xf,
                    a_row + j * stride_w * sw,
                    pixels,
                    a2,
                    a3,
                    wf,
                    blk * block,
                    block,
                    b2,
                    b3,
                    scratch,
                    n1,
                    n2,
                    kh,
                )
                for t in range(r):
                    out = y_row + (j + t) * c_store
                    for k in range(min(blocks * BLOCK, c_store - blk * BLOCK)):
                        o = blk * BLOCK + k
                        v = np.rint(np.float64(scratch[t * _SCRATCH + k] - offset[o]) * mult[o] + shift[o])
                        q = np.int64(v) + zero_point
                        yf[out + o] = min(max(q, lo[o]), hi[o])
                j += r


@njit(parallel=True, cache=True)
def _conv_parallel(plan, rows, chunks):
    for t in prange(chunks):
        _conv_rows(plan, t * rows // chunks, (t + 1) * rows // chunks)


def pack_weight(w):
    """``(C_out, C, KH, KW)`` int8, ``C_out % 16 == 0`` and ``C % 4 == 0`` ->
    ``(C_out/16, KH, KW, C/4, 16, 4)``: for each block of 16 output channels and each group of 4
    input channels, the 64 bytes one multiply-add instruction reads."""
    c_out, c, kh, kw = w.shape
    return np.ascontiguousarray(w.reshape(c_out // BLOCK, BLOCK, c // 4, 4, kh, kw).transpose(0, 4, 5, 2, 1, 3))


def conv2d(xp, wpk, out, stride, dilation, offset, mult, shift, zero_point, lo, hi):
    """Requantised int8 convolution into ``out`` ``(N, OH, OW, C_store)`` uint8, C-contiguous:
    ``out[n, i, j, o] = clamp(rint((acc - offset[o]) * mult[o] + shift[o]) + zero_point, lo[o], hi[o])``
    with ``acc = sum_{p, q, c} xp[n, i*sh + p*dh, j*sw + q*dw, c] * w[o, c, p, q]`` (int32).

    Args:
        xp: padded input ``(N, Hp, Wp, C)`` uint8, C-contiguous, ``C % 4 == 0``.
        wpk: :func:`pack_weight` of the int8 weight.
    """
    n_batch, _, _, c = xp.shape
    _, oh, ow, c_store = out.shape
    n_blocks, kh, kw = wpk.shape[:3]
    sn, sh, sw = xp.strides[:3]
    tile_blocks = min(TILE_BLOCKS, n_blocks)
    rows = n_batch * oh
    chunks = min(_chunks(rows * ow * wpk.size), rows)
    plan = _ConvPlan(
        xp.reshape(-1), sn, sh, sw, c, kh, kw, stride[0], stride[1], dilation[0], dilation[1], oh, ow,
        wpk.reshape(-1), n_blocks, offset, mult, shift, zero_point, lo, hi, out.reshape(-1), c_store, tile_blocks, _SIZES,
    )  # fmt: skip
    if chunks == 1:
        _conv_rows(plan, 0, rows)
    else:
        _conv_parallel(plan, rows, chunks)
