"""Property tests (hypothesis) of convolution and pooling arguments: for any valid combination of
input size, kernel, stride, padding, dilation, groups and ``ceil_mode`` (the space a grid of
cases samples only sparsely), the output shape follows the formula (``conv_output_shape``) and
the values and input gradients equal PyTorch's; any combination PyTorch refuses, convlab refuses
too. Small float64 arrays, so each example is cheap."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parity import check

import convlab
import convlab.nn.functional as F

SETTINGS = settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_cases(draw):
    n = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(n))
    size = tuple(draw(st.integers(1, 9)) for _ in range(n))
    seed = draw(st.integers(0, 2**16))
    return n, (draw(st.integers(1, 2)), c_in) + size, (c_out, c_in // groups) + kernel, stride, padding, dilation, groups, seed


def _torch_refuses(fn):
    try:
        fn()
    except RuntimeError:
        return True
    return False


@SETTINGS
@given(conv_cases())
def test_conv_shape_values_and_gradients_match_torch(case):
    n, x_shape, w_shape, stride, padding, dilation, groups, seed = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    ours, theirs = (F.conv1d, TF.conv1d) if n == 1 else (F.conv2d, TF.conv2d)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if _torch_refuses(lambda: theirs(torch.from_numpy(x), torch.from_numpy(w), **kw)):  # kernel larger than input
        try:
            ours(convlab.tensor(x), convlab.tensor(w), **kw)
        except ValueError as error:
            assert "does not fit in the input" in str(error)
        else:
            raise AssertionError("convlab accepted a convolution PyTorch refuses")
        return
    (y,) = check(lambda x, w, b: ours(x, w, b, **kw), lambda x, w, b: theirs(x, w, b, **kw), x, w, b)
    expected = F.conv_output_shape(x_shape[2:], w_shape[2:], stride, padding, dilation)
    assert tuple(y.shape[2:]) == (expected if isinstance(expected, tuple) else (expected,))


@st.composite
def pool_cases(draw):
    n = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)  # PyTorch: at most half the kernel
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    size = tuple(draw(st.integers(1, 9)) for _ in range(n))
    ceil_mode = draw(st.booleans())
    return n, (2, 2) + size, kernel, stride, padding, dilation, ceil_mode, draw(st.integers(0, 2**16))


@SETTINGS
@given(pool_cases())
def test_pool_shape_values_and_gradients_match_torch(case):
    n, x_shape, kernel, stride, padding, dilation, ceil_mode, seed = case
    x = np.random.default_rng(seed).standard_normal(x_shape)
    pools = {
        "max": ((F.max_pool1d, TF.max_pool1d) if n == 1 else (F.max_pool2d, TF.max_pool2d), dict(dilation=dilation)),
        "avg": ((F.avg_pool1d, TF.avg_pool1d) if n == 1 else (F.avg_pool2d, TF.avg_pool2d), {}),
    }
    for (ours, theirs), extra in pools.values():
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode, **extra)
        if _torch_refuses(lambda: theirs(torch.from_numpy(x), **kw)):  # an output size below 1
            try:
                ours(convlab.tensor(x), **kw)
            except ValueError:
                continue
            raise AssertionError(f"convlab accepted {ours.__name__}({kw}) on {x_shape}, which PyTorch refuses")
        try:
            ours(convlab.tensor(x), **kw)
        except ValueError as error:  # deliberate: a dilated window over padding only, where PyTorch gives -inf
            assert "contain only padding" in str(error)
            assert np.isinf(theirs(torch.from_numpy(x), **kw).numpy()).any()
            continue
        check(lambda t: ours(t, **kw), lambda t: theirs(t, **kw), x)
