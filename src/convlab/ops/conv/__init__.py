"""Convolution over 1, 2 or 3 spatial dimensions: conv, transposed conv, unfold (im2col), fold
(col2im), the explicit convolution matrix, and the output-size formulas.

Geometry, per spatial dimension of size ``I`` with kernel ``K``, stride ``S``, padding ``P``
(``P_lo`` before and ``P_hi`` after) and dilation ``D``: output position ``o`` reads the padded
input at ``o*S + k*D`` for ``k = 0..K-1`` (cross-correlation, as PyTorch), so there are

    O = floor((I + P_lo + P_hi - D*(K-1) - 1) / S) + 1

outputs (:func:`conv_output_size`). A transposed convolution maps ``I`` back to
``(I-1)*S - 2P + D*(K-1) + output_padding + 1`` (:func:`conv_transpose_output_size`).

How it is computed. Tensors are NCHW at the API (every output and gradient is C-contiguous
NCHW, like the other ops'); inside, arrays are handled *channels-last*, ``(N, *spatial, C)``,
reached by a free ``moveaxis`` view.

- Compiled path (``ops/_conv_kernels.py``; NumPy float32/float64, 1-D and 2-D): ungrouped
  convolutions with a multiple of 16 output channels run a direct convolution whose register
  tiles (float32: up to 14 pixels x 32 channels with AVX-512, 6 x 16 or 2 x 32 with AVX2; see
  ``_conv_kernels.TILE_ROWS``) read the zero-padded channels-last input in place - no column
  matrix, no BLAS. It runs when ``cpu_kernels.accepts`` the input (numba installed,
  ``CONVLAB_KERNELS`` not 0); the GEMM path below is the fallback. The input gradient is the
  same forward kernel applied to the padded output gradient with the reflected, channel-swapped
  kernel (seed 001): at stride 1 one call,
  at stride ``S`` one call per input phase (residue class mod ``S``) with the taps that reach
  it. The weight gradient tiles ``(c_in, 16 c_out)`` blocks of one kernel offset over every
  output pixel. Depthwise convolutions (one channel per group) run plane by plane on NCHW views
  with implicit zero padding.
- GEMM path (everything else: 3-D, grouped, other channel counts, CuPy on a GPU): im2col is a
  strided *view* ``(N, *O, *K, C)`` of the zero-padded input (:func:`_windows`); reshaping it to
  the GEMM's ``(N*O, K*C)`` matrix is the one copy, and the forward is a single GEMM
  ``cols @ W`` (groups: one batched matmul over the groups, never a Python loop over them); a
  1x1 convolution at stride 1 needs no im2col at all. The weight gradient is one GEMM
  ``cols^T @ g`` over the columns saved by the forward; the input gradient is the flipped-kernel
  correlation at stride 1, and ``g @ W^T`` followed by col2im at stride > 1, which adds the
  ``prod(K)`` strided slices back onto the padded input (:func:`_col2im`; never ``np.add.at``).

The package, by concern: ``geometry`` (sizes, arguments, :class:`ConvGeometry`; shared with
pooling), ``layout`` (channels-last views, outputs, padding), ``gemm`` (the GEMM path),
``direct`` (the compiled kernels and :func:`conv_paths`, which picks every pass's path once per
call), ``functions`` (the autograd Functions and the dispatch) and ``api`` (the public functions).

A transposed convolution *is* the input gradient of the convolution it transposes, and its
gradient is that convolution's forward (input) and weight gradient: the same routines.
``unfold``/``fold`` are the im2col/col2im of the GEMM path in PyTorch's ``(N, C*K, L)`` layout.
"""

from __future__ import annotations

from .api import (  # noqa: F401
    _TRANSPOSE_DOC,
    _block_geometry,
    checked_conv,
    checked_conv_transpose,
    checked_fold,
    checked_unfold,
    conv1d,
    conv2d,
    conv3d,
    conv_matrix,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    fold,
    unfold,
)
from .direct import (  # noqa: F401
    _BLOCK,
    ConvPaths,
    _compiled_kind,
    _depthwise_direct_forward,
    _depthwise_direct_weight_grad,
    _direct_forward,
    _direct_weight_grad,
    _kernels,
    _padded,
    _Phase,
    _phased_input_grad,
    _phases,
    _planar,
    _planar_steps,
    _planes,
    conv_paths,
)
from .functions import (  # noqa: F401
    ConvNd,
    ConvTransposeNd,
    Fold,
    Unfold,
    _bias_grad,
    _blocks_to_columns,
    _columns_to_blocks,
    _conv_backward,
    _conv_forward,
    _conv_input_grad,
    _conv_weight_grad,
    _flipped_geometry,
    _flipped_weight,
)
from .gemm import (  # noqa: F401
    _col2im,
    _columns,
    _conv_col2im_grad,
    _depthwise_forward,
    _depthwise_weight_grad,
    _gemm_forward,
    _gemm_weight_grad,
    _is_depthwise,
    _weight_matrix,
    _windows,
)

# Every name of the former single module, so ``convlab.ops.conv.<name>`` keeps working.
from .geometry import (  # noqa: F401
    _KERNEL_NAMES,
    _SPATIAL_NAMES,
    PADDING_STRINGS,
    ConvGeometry,
    _check_groups,
    _check_operands,
    _check_tensor,
    _conv_geometry,
    _name,
    _ntuple,
    _padding_pairs,
    _positive,
    conv_output_shape,
    conv_output_size,
    conv_transpose_output_size,
)
from .layout import (  # noqa: F401
    _batched_channels_last,
    _channels_first,
    _channels_last,
    _new_output,
    _pad_spatial,
    _unbatched_channels_first,
)
