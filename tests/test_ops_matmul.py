"""Matrix products (convlab.ops.matmul): ``@``/matmul with 1-D, 2-D and broadcast batched operands,
and the fused linear; parity with PyTorch, float64 gradchecks and the error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convlab
import convlab.nn.functional as F
from parity import both_raise, check, gradcheck
from random_cases import array

DTYPES = [np.float64, np.float32]


def _matmul_shapes(rng):
    """Two operand shapes with a matching inner dim: vectors, matrices, broadcast batches."""
    m, k, n = (int(v) for v in rng.integers(1, 5, 3))
    batch = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    kind = int(rng.integers(0, 6))
    if kind == 0:
        return (k,), (k,)
    if kind == 1:
        return (k,), batch + (k, n)
    if kind == 2:
        return batch + (m, k), (k,)
    if kind == 3:
        return (m, k), (k, n)
    left = tuple(1 if rng.random() < 0.4 else b for b in batch)
    right = tuple(1 if rng.random() < 0.4 else b for b in batch)[int(rng.integers(0, len(batch) + 1)):]
    return left + (m, k), right + (k, n)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    sa, sb = _matmul_shapes(rng)
    a, b = array(rng, sa, dtype), array(rng, sb, dtype)
    out = check(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    assert out[0].dtype == dtype
    check(lambda x, y: convlab.matmul(x, y), lambda x, y: torch.matmul(x, y), a, b)


@pytest.mark.parametrize("seed", range(8))
def test_matmul_gradcheck(seed):
    rng = np.random.default_rng(40 + seed)
    sa, sb = _matmul_shapes(rng)
    gradcheck(lambda x, y: x @ y, array(rng, sa), array(rng, sb))


def test_mm_bmm_and_integer_matmul_match_torch():
    rng = np.random.default_rng(0)
    check(lambda x, y: x.mm(y), lambda x, y: x.mm(y), array(rng, (2, 3)), array(rng, (3, 4)))
    check(lambda x, y: convlab.bmm(x, y), lambda x, y: torch.bmm(x, y), array(rng, (2, 2, 3)), array(rng, (2, 3, 4)))
    ints_a, ints_b = rng.integers(-3, 3, (2, 3)), rng.integers(-3, 3, (3, 2))
    check(lambda x, y: x @ y, lambda x, y: x @ y, ints_a, ints_b, grad=False)


def test_matmul_with_one_operand_not_requiring_grad():
    rng = np.random.default_rng(1)
    a, b = array(rng, (4, 2, 3)), array(rng, (3, 5))
    check(lambda x, y: x @ y, lambda x, y: x @ y, a, b, grad_inputs=[1])
    check(lambda x, y: x @ y, lambda x, y: x @ y, a, b, grad_inputs=[0])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_matches_torch(seed, dtype):
    rng = np.random.default_rng(seed)
    lead = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    fan_in, fan_out = (int(v) for v in rng.integers(1, 6, 2))
    x, w, b = array(rng, lead + (fan_in,), dtype), array(rng, (fan_out, fan_in), dtype), array(rng, (fan_out,), dtype)
    check(lambda x, w, b: F.linear(x, w, b), lambda x, w, b: TF.linear(x, w, b), x, w, b)
    check(lambda x, w: F.linear(x, w), lambda x, w: TF.linear(x, w), x, w)
    gradcheck(lambda x, w, b: F.linear(x, w, b), x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "sa,sb",
    [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((5,), (4, 2)), ((2, 2, 3), (3, 3, 4)), ((3,), ())],
)
def test_matmul_shape_errors_name_function_and_both_shapes(sa, sb):
    err = both_raise(lambda x, y: x @ y, lambda x, y: x @ y, np.zeros(sa), np.zeros(sb))
    assert "matmul()" in str(err) and str(tuple(sa)) in str(err) and str(tuple(sb)) in str(err)


def test_matmul_dtype_mismatch_and_linear_errors():
    err = both_raise(lambda x, y: x @ y, lambda x, y: x @ y, np.zeros((2, 2), np.float32), np.zeros((2, 2)))
    assert "matmul()" in str(err) and "float32" in str(err) and "float64" in str(err)
    x, w = np.zeros((4, 3), np.float32), np.zeros((5, 2), np.float32)
    err = both_raise(lambda a, b: F.linear(a, b), lambda a, b: TF.linear(a, b), x, w)
    assert "linear()" in str(err) and "(4, 3)" in str(err) and "in_features=2" in str(err)
    with pytest.raises(ValueError, match="linear\\(\\): bias must have shape \\(5,\\), got \\(3,\\)"):
        F.linear(convlab.zeros(4, 2), convlab.zeros(5, 2), convlab.zeros(3))
