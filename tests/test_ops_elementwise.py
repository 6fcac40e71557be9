"""Elementwise ops (convlab.ops.elementwise): forward and backward parity with PyTorch on random
broadcast shapes, float64 gradchecks, PyTorch's type promotion, and the error messages."""

import itertools

import numpy as np
import pytest
import torch

import convlab
from parity import both_raise, check, gradcheck
from random_cases import array, broadcast_pair, random_shape

DTYPES = [np.float64, np.float32]

BINARY = {
    "add": (lambda a, b: a + b, {}),
    "sub": (lambda a, b: a - b, {}),
    "mul": (lambda a, b: a * b, {}),
    "div": (lambda a, b: a / b, {"b_away": True}),
    "pow": (lambda a, b: a**b, {"a_positive": True}),
    "maximum": (lambda a, b: a.maximum(b), {}),
    "minimum": (lambda a, b: a.minimum(b), {}),
    "add_alpha": (lambda a, b: a.add(b, alpha=0.5), {}),
    "sub_alpha": (lambda a, b: a.sub(b, alpha=2), {}),
}


def _binary_inputs(rng, spec, dtype, max_ndim=4):
    sa, sb = broadcast_pair(rng, max_ndim)
    a = array(rng, sa, dtype, 0.5, 2.0) if spec.get("a_positive") else array(rng, sa, dtype)
    b = array(rng, sb, dtype, away_from_zero=spec.get("b_away", False))
    return a, b


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_matches_torch_on_broadcast_shapes(name, dtype, seed):
    fn, spec = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = _binary_inputs(rng, spec, dtype)
    out = check(fn, fn, a, b)
    assert out[0].dtype == dtype  # no promotion of float32 to float64


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_gradcheck(name, seed):
    fn, spec = BINARY[name]
    a, b = _binary_inputs(np.random.default_rng(100 + seed), spec, np.float64, max_ndim=3)
    gradcheck(fn, a, b)


SCALAR_FORMS = {
    "x+s": lambda x: x + 2.5,
    "s+x": lambda x: 2.5 + x,
    "x-s": lambda x: x - 1.5,
    "s-x": lambda x: 1.5 - x,
    "x*s": lambda x: x * 3,
    "s*x": lambda x: -0.5 * x,
    "x/s": lambda x: x / 4.0,
    "s/x": lambda x: 3.0 / x,
    "x**2": lambda x: x**2,
    "x**0.5": lambda x: x.abs() ** 0.5,
    "x**-1.5": lambda x: x.abs() ** -1.5,
    "x**0": lambda x: x**0,
    "2**x": lambda x: 2**x,
    "2.5**x": lambda x: 2.5**x,
    "x**int_tensor": lambda x: x ** (x * 0 + 3),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SCALAR_FORMS))
def test_tensor_scalar_forms_keep_dtype(name, dtype):
    rng = np.random.default_rng(7)
    x = array(rng, random_shape(rng, 1, 3), dtype, away_from_zero=True)
    out = check(SCALAR_FORMS[name], SCALAR_FORMS[name], x)
    assert out[0].dtype == dtype
    gradcheck(SCALAR_FORMS[name], x.astype(np.float64))


UNARY = {
    "exp": (lambda x: x.exp(), {}),
    "expm1": (lambda x: x.expm1(), {}),
    "log": (lambda x: x.log(), {"positive": True}),
    "log1p": (lambda x: x.log1p(), {"positive": True}),
    "log2": (lambda x: x.log2(), {"positive": True}),
    "log10": (lambda x: x.log10(), {"positive": True}),
    "sqrt": (lambda x: x.sqrt(), {"positive": True}),
    "rsqrt": (lambda x: x.rsqrt(), {"positive": True}),
    "abs": (lambda x: x.abs(), {"away": True}),
    "sin": (lambda x: x.sin(), {}),
    "cos": (lambda x: x.cos(), {}),
    "neg": (lambda x: -x, {}),
    "square": (lambda x: x.square(), {}),
    "reciprocal": (lambda x: x.reciprocal(), {"away": True}),
    "sign": (lambda x: x.sign(), {"away": True}),
    "floor": (lambda x: x.floor(), {}),
    "ceil": (lambda x: x.ceil(), {}),
    "round": (lambda x: x.round(), {}),
    "trunc": (lambda x: x.trunc(), {}),
}


def _unary_input(rng, spec, dtype, max_ndim=4):
    shape = random_shape(rng, 0, max_ndim)
    if spec.get("positive"):
        return array(rng, shape, dtype, 0.2, 3.0)
    return array(rng, shape, dtype, -3.0, 3.0, away_from_zero=spec.get("away", False))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_matches_torch(name, dtype, seed):
    fn, spec = UNARY[name]
    x = _unary_input(np.random.default_rng(seed), spec, dtype)
    out = check(fn, fn, x)
    assert out[0].dtype == dtype and out[0].requires_grad  # sign/floor/...: zero gradient, like torch


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_gradcheck(name):
    fn, spec = UNARY[name]
    x = _unary_input(np.random.default_rng(11), spec, np.float64, max_ndim=3)
    if name in ("floor", "ceil", "round", "trunc"):
        x = np.asarray(np.floor(x) + 0.25)  # keep the finite differences away from the jumps
    gradcheck(fn, x)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "expm1", "log1p", "rsqrt", "log2"])
def test_float_math_on_int_tensor_gives_default_float(name):
    fn = UNARY[name][0]
    ints = np.array([1, 2, 5], dtype=np.int64)
    check(fn, fn, ints, grad=False)


@pytest.mark.parametrize("name", ["abs", "neg", "sign", "floor", "ceil", "round", "trunc", "square"])
def test_integer_preserving_unary_ops_on_int_tensor(name):
    fn = UNARY[name][0]
    check(fn, fn, np.array([-3, 0, 4], dtype=np.int64), grad=False)


# ---------------------------------------------------------------------- clamp and where
CLAMP_BOUNDS = [(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.5, -0.5)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lo,hi", CLAMP_BOUNDS)
def test_clamp_scalar_bounds_matches_torch(lo, hi, dtype):
    rng = np.random.default_rng(3)
    x = array(rng, (4, 5), dtype)
    check(lambda t: t.clamp(lo, hi), lambda t: t.clamp(lo, hi), x)
    check(lambda t: convlab.clamp(t, min=lo, max=hi), lambda t: torch.clamp(t, min=lo, max=hi), x)


@pytest.mark.parametrize("seed", range(4))
def test_clamp_tensor_bounds_matches_torch_and_gradchecks(seed):
    rng = np.random.default_rng(seed)
    x = array(rng, (3, 4))
    lo = array(rng, (4,), low=-1.0, high=0.0)
    hi = array(rng, (3, 1), low=-0.5, high=1.0)  # some hi < lo: PyTorch gives hi, gradient to hi
    check(lambda t, a, b: t.clamp(a, b), lambda t, a, b: t.clamp(a, b), x, lo, hi)
    check(lambda t, a: t.clamp(min=a), lambda t, a: t.clamp(min=a), x, lo)
    check(lambda t, b: t.clamp(max=b), lambda t, b: t.clamp(max=b), x, hi)
    x = np.where(np.abs(x - lo) < 0.05, x + 0.1, x)
    x = np.where(np.abs(x - hi) < 0.05, x + 0.1, x)
    gradcheck(lambda t, a, b: t.clamp(a, b), x, lo, hi)


def test_clamp_at_the_bounds_passes_the_gradient_like_torch():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    check(lambda t: t.clamp(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5), x)


def test_clamp_int_tensor_with_float_bound_promotes_like_torch():
    check(lambda t: t.clamp(min=0.5), lambda t: t.clamp(min=0.5), np.array([0, 1, 2]), grad=False)
    check(lambda t: t.clamp(0, 1), lambda t: t.clamp(0, 1), np.array([-3, 1, 5]), grad=False)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", DTYPES)
def test_where_matches_torch_on_broadcast_shapes(seed, dtype):
    rng = np.random.default_rng(seed)
    sa, sb = broadcast_pair(rng)
    a, b = array(rng, sa, dtype), array(rng, sb, dtype)
    cond = np.asarray(rng.random(np.broadcast_shapes(sa, sb)[-2:]) < 0.5)
    check(lambda x, y: convlab.where(convlab.tensor(cond), x, y), lambda x, y: torch.where(torch.from_numpy(cond), x, y), a, b)
    check(lambda x: convlab.where(x > 0, x, 0.0), lambda x: torch.where(x > 0, x, 0.0), a)
    check(lambda x: x.where(x < 0.5, -1), lambda x: x.where(x < 0.5, -1), a)
    check(lambda x, m: x.masked_fill(m > 0, 2.0), lambda x, m: x.masked_fill(m > 0, 2.0), a, b, grad_inputs=[0])
    gradcheck(lambda x, y: convlab.where(convlab.tensor(cond), x, y), a.astype(np.float64), b.astype(np.float64))


def test_where_dtype_promotion_matches_torch():
    cond = np.array([True, False, True])
    ints, floats = np.array([1, 2, 3]), np.array([0.5, 1.5, 2.5], dtype=np.float32)
    for a, b in [(ints, 0.5), (ints, 7), (floats, ints), (1.0, 0), (2, 3)]:
        cl = convlab.where(convlab.tensor(cond), *(convlab.tensor(v) if isinstance(v, np.ndarray) else v for v in (a, b)))
        th = torch.where(torch.from_numpy(cond), *(torch.from_numpy(v) if isinstance(v, np.ndarray) else v for v in (a, b)))
        assert cl.dtype == np.dtype(str(th.dtype).split(".")[1])
        np.testing.assert_array_equal(cl.numpy(), th.numpy())


# ---------------------------------------------------------------------- special cases
def test_maximum_minimum_split_gradient_on_ties_like_torch():
    a = np.array([1.0, 2.0, 3.0, 2.0])
    b = np.array([1.0, 3.0, 1.0, 2.0])
    for fn in (lambda x, y: x.maximum(y), lambda x, y: x.minimum(y)):
        check(fn, fn, a, b)
    check(lambda x, y: convlab.maximum(x, y), lambda x, y: torch.maximum(x, y), a, b)


def test_maximum_propagates_nan_like_torch():
    a, b = np.array([np.nan, 1.0]), np.array([0.0, np.nan])
    check(lambda x, y: x.maximum(y), lambda x, y: x.maximum(y), a, b, grad=False)


def test_pow_gradient_special_cases_match_torch():
    base = np.array([0.0, 0.0, 2.0, 1.5, 0.0])
    exponent = np.array([0.0, 2.0, 0.0, -1.0, 0.5])
    check(lambda a, b: a**b, lambda a, b: a**b, base, exponent)
    check(lambda a: a**0, lambda a: a**0, base)
    check(lambda a: a**2.0, lambda a: a**2.0, np.array([-1.5, 0.0, 2.0]))
    check(lambda b: 0.0**b, lambda b: 0.0**b, np.array([0.5, 1.0, 2.0]))


def test_division_by_zero_gives_inf_like_torch():
    check(lambda a, b: a / b, lambda a, b: a / b, np.array([1.0, -1.0, 0.0]), np.array([0.0, 0.0, 2.0]), grad=False)


# ---------------------------------------------------------------------- type promotion
_PROMO_DTYPES = [np.bool_, np.uint8, np.int32, np.int64, np.float16, np.float32, np.float64]
_PROMO_OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: a.maximum(b),  # tensors only, in both libraries
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
}


def _operand(dtype, kind):
    values = np.array([1, 0, 2]) if dtype != np.bool_ else np.array([True, False, True])
    if kind == "dim":
        return values.astype(dtype)
    if kind == "zero-dim":
        return np.asarray(values[0], dtype=dtype)
    return {np.bool_: True, np.float16: 1.5, np.float32: 1.5, np.float64: 2.5}.get(dtype, 2)  # python scalar


def _both(value, lib):
    if isinstance(value, np.ndarray):
        return convlab.tensor(value) if lib == "cl" else torch.from_numpy(value.copy())
    return value


@pytest.mark.parametrize("op", list(_PROMO_OPS))
@pytest.mark.parametrize("kind_b", ["dim", "zero-dim", "scalar"])
def test_result_dtype_matches_torch(op, kind_b):
    fn = _PROMO_OPS[op]
    for da, db in itertools.product(_PROMO_DTYPES, _PROMO_DTYPES):
        if kind_b == "scalar" and (db in (np.uint8, np.int32, np.float16, np.float32) or op == "maximum"):
            continue  # Python scalars are just bool / int / float; maximum takes tensors only
        a, b = _operand(da, "dim"), _operand(db, kind_b)
        try:
            expected = fn(_both(a, "th"), _both(b, "th"))
        except RuntimeError:
            with pytest.raises((TypeError, RuntimeError, ValueError)):
                fn(_both(a, "cl"), _both(b, "cl"))
            continue
        got = fn(_both(a, "cl"), _both(b, "cl"))
        assert str(got.dtype) == str(expected.dtype).split(".")[1], (op, da, db, kind_b)
        np.testing.assert_allclose(got.numpy().astype(np.float64), expected.numpy().astype(np.float64), rtol=1e-3)


def test_float32_results_stay_float32_with_numpy_scalars():
    x = convlab.tensor([1.0, 2.0])
    for value in (np.float64(2.0), np.int64(3), 0.1):
        assert (x * value).dtype == np.float32 and (value + x).dtype == np.float32
    assert (convlab.tensor([1, 2]) + np.float64(0.5)).dtype == np.float32


# ---------------------------------------------------------------------- comparisons and logic
COMPARE = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", list(COMPARE))
def test_comparisons_match_torch(name, seed):
    rng = np.random.default_rng(seed)
    sa, sb = broadcast_pair(rng)
    a = rng.integers(0, 3, sa).astype(np.float32)
    b = rng.integers(0, 3, sb).astype(np.int64)
    check(COMPARE[name], COMPARE[name], a, b, grad=False)
    check(lambda x: COMPARE[name](x, 1), lambda x: COMPARE[name](x, 1), a, grad=False)


def test_logical_and_bitwise_ops_match_torch():
    rng = np.random.default_rng(0)
    p, q = rng.random((3, 4)) < 0.5, rng.random((4,)) < 0.5
    i, j = rng.integers(0, 8, (3, 4)), rng.integers(0, 8, (4,))
    for fn in (lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b):
        check(fn, fn, p, q, grad=False)
        check(fn, fn, i, j, grad=False)
    for name in ("logical_and", "logical_or", "logical_xor"):
        check(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), i, j, grad=False)
    check(lambda a: ~a, lambda a: ~a, p, grad=False)
    check(lambda a: a.logical_not(), lambda a: a.logical_not(), i, grad=False)
    f = np.array([np.nan, np.inf, 1.0])
    for name in ("isnan", "isinf", "isfinite"):
        check(lambda a: getattr(a, name)(), lambda a: getattr(a, name)(), f, grad=False)


def test_floor_divide_and_remainder_match_torch():
    a, b = np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2])
    for fn in (lambda x, y: x // y, lambda x, y: x % y, lambda x, y: x // 2.0, lambda x, y: x % 3):
        check(fn, fn, a, b, grad=False)
        check(fn, fn, a.astype(np.float32), b.astype(np.float32), grad=False)
    for mode in ("floor", "trunc"):
        check(lambda x, y: x.div(y, rounding_mode=mode) if False else convlab.div(x, y, rounding_mode=mode),
              lambda x, y: torch.div(x, y, rounding_mode=mode), a, b, grad=False)


def test_equality_with_non_numbers_is_false_like_torch():
    x = convlab.tensor([1.0])
    assert (x == None) is False  # noqa: E711
    assert (x != "text") is True


# ---------------------------------------------------------------------- errors
def test_broadcast_mismatch_names_function_and_both_shapes():
    a, b = np.zeros((2, 3)), np.zeros((4,))
    for name, fn in [("add", lambda x, y: x + y), ("mul", lambda x, y: x * y), ("div", lambda x, y: x / y),
                     ("maximum", lambda x, y: x.maximum(y)), ("eq", lambda x, y: x == y)]:
        err = both_raise(fn, fn, a, b)
        assert f"{name}()" in str(err) and "(2, 3)" in str(err) and "(4,)" in str(err)


def test_bad_operands_raise_clear_errors():
    x = convlab.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="add\\(\\): expected a Tensor or a number, got str"):
        x + "a"
    err = both_raise(lambda t: -t, lambda t: -t, np.array([True, False]))
    assert "neg()" in str(err) and "bool" in str(err)
    err = both_raise(lambda a, b: a - b, lambda a, b: a - b, np.array([True]), np.array([False]))
    assert "sub()" in str(err)
    err = both_raise(lambda a, b: a & b, lambda a, b: a & b, np.array([1.0]), np.array([2.0]))
    assert "float" in str(err)
    with pytest.raises(ValueError, match="clamp\\(\\): at least one"):
        x.clamp()
    with pytest.raises(TypeError, match="where\\(\\): expected a bool condition tensor, got float32"):
        convlab.where(x, x, x)
    with pytest.raises(ValueError, match="where\\(\\): condition of shape \\(3,\\)"):
        convlab.where(convlab.tensor([True, False, True]), x, 0.0)
    with pytest.raises(ValueError, match="rounding_mode"):
        convlab.div(x, x, rounding_mode="up")
