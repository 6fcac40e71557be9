"""Losses: forward and backward parity with PyTorch on randomized shapes and options, float64
gradchecks, the fused cross entropy against a reference built from primitives, module forms
(repr, buffers) and the error messages."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from parity import both_raise, check, gradcheck

DTYPES = [np.float64, np.float32]
REDUCTIONS = ["none", "mean", "sum"]


def _opt(array):
    return None if array is None else convlab.tensor(array)


def _opt_torch(array):
    return None if array is None else torch.from_numpy(array)


def _classification_case(seed, dtype):
    """A random input shape (unbatched, (N, C) or K-dimensional) with class-index targets,
    some of them ignored."""
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 6))
    layout = seed % 3
    if layout == 0:
        shape = (int(rng.integers(1, 7)), n_classes)
    elif layout == 1:
        shape = (int(rng.integers(1, 4)), n_classes) + tuple(
            int(s) for s in rng.integers(1, 4, size=int(rng.integers(1, 3)))
        )
    else:
        shape = (n_classes,)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    target_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = np.asarray(rng.integers(0, n_classes, target_shape), dtype=np.int64)
    if target.ndim and target.size > 1:
        target.reshape(-1)[0] = -100  # one ignored position
    weight = rng.random(n_classes).astype(dtype) + 0.1 if rng.random() < 0.5 else None
    probs = rng.random(shape).astype(dtype)
    return rng, x, target, weight, probs


# ---------------------------------------------------------------------- cross_entropy
@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_class_indices_matches_torch(seed, dtype):
    rng, x, target, weight, _ = _classification_case(seed, dtype)
    for reduction in REDUCTIONS:
        eps = float(rng.choice([0.0, 0.0, 0.1, 0.45]))
        check(
            lambda a, t: F.cross_entropy(a, t, weight=_opt(weight), reduction=reduction, label_smoothing=eps),
            lambda a, t: TF.cross_entropy(a, t, weight=_opt_torch(weight), reduction=reduction, label_smoothing=eps),
            x,
            target,
        )


@pytest.mark.parametrize("seed", range(9))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_probabilities_matches_torch(seed, dtype):
    rng, x, _, weight, probs = _classification_case(seed, dtype)
    for reduction in REDUCTIONS:
        eps = float(rng.choice([0.0, 0.2]))
        arrays = (x, probs) if weight is None else (x, probs, weight)
        check(
            lambda a, t, *w: F.cross_entropy(a, t, *w, reduction=reduction, label_smoothing=eps),
            lambda a, t, *w: TF.cross_entropy(a, t, *w, reduction=reduction, label_smoothing=eps),
            *arrays,
        )


def test_cross_entropy_custom_ignore_index_and_all_ignored():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4))
    target = np.array([0, 3, 3, 1, 2, 3])
    for eps in (0.0, 0.3):
        check(
            lambda a, t: F.cross_entropy(a, t, ignore_index=3, label_smoothing=eps),
            lambda a, t: TF.cross_entropy(a, t, ignore_index=3, label_smoothing=eps),
            x,
            target,
        )
    all_ignored = np.full(6, -100)
    for kwargs in ({}, {"label_smoothing": 0.2}, {"weight": np.ones(4)}):
        cl_kwargs = {k: (convlab.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
        th_kwargs = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
        # the mean over nothing is nan and the gradient is zero, as in PyTorch
        xt = convlab.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, convlab.tensor(all_ignored), **cl_kwargs)
        xth = torch.from_numpy(x).requires_grad_()
        ref = TF.cross_entropy(xth, torch.from_numpy(all_ignored), **th_kwargs)
        assert np.isnan(loss.item()) and np.isnan(ref.item())
        loss.backward()
        ref.backward()
        np.testing.assert_array_equal(xt.grad.numpy(), xth.grad.numpy())


def test_cross_entropy_empty_batch_matches_torch():
    x = np.zeros((0, 5), dtype=np.float32)
    target = np.zeros((0,), dtype=np.int64)
    for reduction in REDUCTIONS:
        got = F.cross_entropy(convlab.tensor(x), convlab.tensor(target), reduction=reduction).numpy()
        ref = TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(target), reduction=reduction).numpy()
        np.testing.assert_array_equal(got, ref)


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 5e3 - 1]], dtype=np.float32)
    target = np.array([1, 2])
    out = check(
        lambda a, t: F.cross_entropy(a, t, label_smoothing=0.1),
        lambda a, t: TF.cross_entropy(a, t, label_smoothing=0.1),
        x,
        target,
    )
    assert np.isfinite(out[0].item())


def test_cross_entropy_keeps_float32():
    x = convlab.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x, convlab.tensor([0, 1, 2, 0]), label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_cross_entropy_accepts_uint8_targets():
    x = np.random.default_rng(0).standard_normal((3, 4))
    target = np.array([0, 3, 1], dtype=np.uint8)
    check(lambda a, t: F.cross_entropy(a, t), lambda a, t: TF.cross_entropy(a, t), x, target)


def _reference_cross_entropy(x, target, weight, eps, reduction):
    """The slow path from primitives: log_softmax, a one-hot gather, explicit weights."""
    n_classes = x.shape[1]
    logp = F.log_softmax(x, dim=1)
    onehot = convlab.tensor(np.eye(n_classes)[target.numpy()])
    w = convlab.ones(n_classes, dtype=x.dtype) if weight is None else weight
    w_t = (onehot * w).sum(dim=1)
    nll = -(logp * onehot).sum(dim=1) * w_t
    smooth = -(logp * w).sum(dim=1)
    loss = (1 - eps) * nll + eps / n_classes * smooth
    if reduction == "mean":
        return loss.sum() / w_t.sum()
    return loss.sum() if reduction == "sum" else loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fused_cross_entropy_equals_composed_reference(reduction, rng):
    x = convlab.tensor(rng.standard_normal((7, 5)), requires_grad=True)
    x_ref = convlab.tensor(x.detach().numpy().copy(), requires_grad=True)
    target = convlab.tensor(rng.integers(0, 5, 7))
    weight = convlab.tensor(rng.random(5) + 0.5)
    fused = F.cross_entropy(x, target, weight=weight, label_smoothing=0.2, reduction=reduction)
    ref = _reference_cross_entropy(x_ref, target, weight, 0.2, reduction)
    np.testing.assert_allclose(fused.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    fused.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x_ref.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cross_entropy_gradcheck():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 2))
    target = convlab.tensor(np.array([[0, 3], [-100, 2], [1, 1]]))
    weight = convlab.tensor(rng.random(4) + 0.5)
    for reduction in REDUCTIONS:
        gradcheck(lambda a: F.cross_entropy(a, target, weight=weight, label_smoothing=0.3, reduction=reduction), x)
    probs = rng.random((3, 4, 2))
    gradcheck(lambda a, t, w: F.cross_entropy(a, t, w, label_smoothing=0.2), x, probs, rng.random(4))
    gradcheck(lambda a: F.cross_entropy(a, convlab.tensor(np.array(2)), label_smoothing=0.1), rng.standard_normal(4))


# ---------------------------------------------------------------------- nll_loss
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", DTYPES)
def test_nll_loss_matches_torch(seed, dtype):
    _, x, target, weight, _ = _classification_case(seed, dtype)
    for reduction in REDUCTIONS:
        check(
            lambda a, t: F.nll_loss(a, t, weight=_opt(weight), reduction=reduction),
            lambda a, t: TF.nll_loss(a, t, weight=_opt_torch(weight), reduction=reduction),
            x,
            target,
        )


def test_nll_loss_gradcheck():
    rng = np.random.default_rng(2)
    target = convlab.tensor(np.array([1, -100, 0, 2]))
    weight = convlab.tensor(rng.random(3) + 0.1)
    for reduction in REDUCTIONS:
        gradcheck(lambda a: F.nll_loss(a, target, weight=weight, reduction=reduction), rng.standard_normal((4, 3)))


# ---------------------------------------------------------------------- regression losses
def _regression_case(seed, dtype):
    rng = np.random.default_rng(100 + seed)
    shape = tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    x = rng.standard_normal(shape).astype(dtype)
    y = (rng.standard_normal(shape) * 1.5).astype(dtype)
    return rng, x, y


REGRESSION = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("smooth_l1_loss", {"beta": 1.0}),
    ("smooth_l1_loss", {"beta": 0.3}),
    ("smooth_l1_loss", {"beta": 0.0}),
    ("huber_loss", {"delta": 1.0}),
    ("huber_loss", {"delta": 0.4}),
]


@pytest.mark.parametrize("name, kwargs", REGRESSION)
@pytest.mark.parametrize("seed", range(3))
def test_regression_losses_match_torch(name, kwargs, seed):
    _, x, y = _regression_case(seed, DTYPES[seed % 2])
    for reduction in REDUCTIONS:
        check(
            lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kwargs),
            lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kwargs),
            x,
            y,
        )


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses_match_torch(name):
    _, x, y = _regression_case(5, np.float64)
    w = np.random.default_rng(5).random(x.shape)
    for reduction in REDUCTIONS:
        check(
            lambda a, b, c: getattr(F, name)(a, b, reduction=reduction, weight=c),
            lambda a, b, c: getattr(TF, name)(a, b, reduction=reduction, weight=c),
            x,
            y,
            w,
        )


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_losses_broadcast_with_a_warning(name):
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((3, 1)), rng.standard_normal((4,))
    with pytest.warns(UserWarning, match="different to the input size"):
        check(lambda a, b: getattr(F, name)(a, b), lambda a, b: getattr(TF, name)(a, b), x, y)


def test_regression_losses_type_promotion_matches_torch():
    rng = np.random.default_rng(4)
    x32, y64 = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5)
    for name in ["mse_loss", "l1_loss", "smooth_l1_loss"]:
        check(lambda a, b: getattr(F, name)(a, b), lambda a, b: getattr(TF, name)(a, b), x32, y64)
    # huber_loss keeps the input's dtype (PyTorch's own backward fails on this mix, so values only)
    check(lambda a, b: F.huber_loss(a, b), lambda a, b: TF.huber_loss(a, b), x32, y64, grad=False)
    ints = np.array([0, 1, 2, 1, 0])
    check(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), x32, ints)


def test_regression_losses_gradcheck():
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) * 2
    for fn in (
        F.mse_loss,
        F.l1_loss,
        lambda a, b: F.smooth_l1_loss(a, b, beta=0.7),
        lambda a, b: F.huber_loss(a, b, delta=0.8, reduction="sum"),
    ):
        gradcheck(fn, x, y)
    gradcheck(lambda a, b, w: F.mse_loss(a, b, weight=w), x, y, rng.random((3, 4)))
    with pytest.warns(UserWarning, match="different to the input size"):
        gradcheck(lambda a, b: F.l1_loss(a, b, reduction="none"), rng.standard_normal((2, 3)), rng.standard_normal(3))


def test_mean_of_empty_is_nan_like_torch():
    x = np.zeros((0, 3))
    for name in ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]:
        got = getattr(F, name)(convlab.tensor(x), convlab.tensor(x)).item()
        assert np.isnan(got) and np.isnan(getattr(TF, name)(torch.from_numpy(x), torch.from_numpy(x)).item())


# ---------------------------------------------------------------------- binary cross entropy
@pytest.mark.parametrize("seed", range(4))
def test_binary_cross_entropy_matches_torch(seed):
    rng, x, _ = _regression_case(seed, DTYPES[seed % 2])
    p = (1 / (1 + np.exp(-x))).astype(x.dtype)
    t = rng.random(x.shape).astype(x.dtype)
    w = rng.random(x.shape[-1:]).astype(x.dtype)
    for reduction in REDUCTIONS:
        check(
            lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
            lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction),
            p,
            t,
        )
        check(
            lambda a, b: F.binary_cross_entropy(a, b, weight=convlab.tensor(w), reduction=reduction),
            lambda a, b: TF.binary_cross_entropy(a, b, weight=torch.from_numpy(w), reduction=reduction),
            p,
            t,
        )


def test_binary_cross_entropy_clamps_logs_at_the_edges():
    p = np.array([0.0, 1.0, 1e-30, 0.5])
    t = np.array([1.0, 0.0, 1.0, 0.5])
    check(
        lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
        lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"),
        p,
        t,
        grad_inputs=(0,),
    )


@pytest.mark.parametrize("seed", range(4))
def test_binary_cross_entropy_with_logits_matches_torch(seed):
    rng, x, _ = _regression_case(seed, DTYPES[seed % 2])
    x = x * 10  # well into the saturated range
    t = rng.random(x.shape).astype(x.dtype)
    w = rng.random(x.shape).astype(x.dtype)
    pw = (rng.random(x.shape[-1:]) * 3).astype(x.dtype)
    for reduction in REDUCTIONS:
        for weight, pos_weight in ((None, None), (w, None), (None, pw), (w, pw)):
            check(
                lambda a, b: F.binary_cross_entropy_with_logits(
                    a, b, weight=_opt(weight), reduction=reduction, pos_weight=_opt(pos_weight)
                ),
                lambda a, b: TF.binary_cross_entropy_with_logits(
                    a, b, weight=_opt_torch(weight), reduction=reduction, pos_weight=_opt_torch(pos_weight)
                ),
                x,
                t,
            )


def test_binary_losses_gradcheck():
    rng = np.random.default_rng(13)
    p, t = rng.random((3, 4)) * 0.9 + 0.05, rng.random((3, 4))
    w = convlab.tensor(rng.random(4))
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=w), p, t)
    pw = convlab.tensor(rng.random(4) * 2)
    gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=pw), rng.standard_normal((3, 4)), t
    )
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"), rng.standard_normal((3, 4)), t)


# ---------------------------------------------------------------------- kl_div
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(seed, log_target):
    rng, x, _ = _regression_case(seed, DTYPES[seed % 2])
    logp = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    q = rng.random(x.shape).astype(x.dtype) + 0.01
    target = np.log(q).astype(x.dtype) if log_target else q
    for reduction in ["none", "batchmean", "sum", "mean"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(
                lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                logp,
                target,
            )


def test_kl_div_zero_target_probability_contributes_nothing():
    logp = np.log(np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]]))
    q = np.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]])
    # PyTorch's target gradient at q = 0 is nan (0/0 inside its xlogy derivative); convlab gives 0,
    # the limit of the loss's own convention 0 log 0 = 0, so only the input gradient is compared.
    check(
        lambda a, b: F.kl_div(a, b, reduction="none"),
        lambda a, b: TF.kl_div(a, b, reduction="none"),
        logp,
        q,
        grad_inputs=(0,),
    )
    t = convlab.tensor(q, requires_grad=True)
    F.kl_div(convlab.tensor(logp), t, reduction="sum").backward()
    assert np.all(np.isfinite(t.grad.numpy())) and t.grad.numpy()[0, 0] == 0


def test_kl_div_mean_warns_and_broadcasts_like_torch():
    rng = np.random.default_rng(1)
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(convlab.randn(2, 3), convlab.rand(2, 3))
    check(
        lambda a, b: F.kl_div(a, b, reduction="sum"),
        lambda a, b: TF.kl_div(a, b, reduction="sum"),
        rng.standard_normal(3),
        rng.random((2, 3)),
    )


def test_kl_div_gradcheck():
    rng = np.random.default_rng(17)
    gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), rng.standard_normal((3, 4)), rng.random((3, 4)) + 0.1)
    gradcheck(
        lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True),
        rng.standard_normal((3, 4)),
        rng.standard_normal((3, 4)),
    )


# ---------------------------------------------------------------------- modules
def test_loss_modules_repr_and_forward_match_torch(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 4)
    probs = rng.random((4, 3)).astype(np.float32)
    w = np.array([0.2, 1.0, 2.0], dtype=np.float32)
    cases = [
        ("CrossEntropyLoss", dict(label_smoothing=0.1), labels),
        ("CrossEntropyLoss", dict(weight=w, ignore_index=1), labels),
        ("NLLLoss", dict(weight=w, reduction="sum"), labels),
        ("MSELoss", dict(reduction="none"), probs),
        ("L1Loss", {}, probs),
        ("SmoothL1Loss", dict(beta=0.5), probs),
        ("HuberLoss", dict(delta=0.5), probs),
        ("BCELoss", dict(weight=w), probs),
        ("BCEWithLogitsLoss", dict(pos_weight=w), probs),
        ("KLDivLoss", dict(reduction="batchmean", log_target=False), probs),
    ]
    for name, kwargs, target in cases:
        cl_mod = getattr(nn, name)(
            **{k: convlab.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        )
        th_mod = getattr(torch.nn, name)(
            **{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        )
        assert repr(cl_mod) == repr(th_mod)
        assert list(cl_mod.state_dict()) == list(th_mod.state_dict())
        inp = 1 / (1 + np.exp(-x)) if name == "BCELoss" else x
        check(cl_mod, th_mod, inp.astype(np.float32), target)


def test_loss_module_weight_follows_to():
    crit = nn.CrossEntropyLoss(weight=convlab.tensor([1.0, 2.0]))
    crit.to(convlab.float64)
    assert crit.weight.dtype == np.float64
    loss = crit(convlab.randn(3, 2, dtype=convlab.float64), convlab.tensor([0, 1, 1]))
    assert loss.dtype == np.float64


def test_legacy_size_average_and_reduce_flags():
    x, y = convlab.tensor([1.0, 2.0]), convlab.tensor([0.0, 0.0])
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert F.mse_loss(x, y, size_average=False).item() == 5.0
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.L1Loss(reduce=False).reduction == "none"


# ---------------------------------------------------------------------- errors
def test_cross_entropy_errors_name_the_argument():
    x = np.zeros((3, 4), dtype=np.float32)
    err = both_raise(F.cross_entropy, TF.cross_entropy, x, np.array([0, 1, 4]))
    assert isinstance(err, IndexError) and "target 4 is out of bounds for 4 classes" in str(err)
    err = both_raise(F.cross_entropy, TF.cross_entropy, x, np.array([0, -1, 2]))
    assert "target -1 is out of bounds" in str(err)
    err = both_raise(F.cross_entropy, TF.cross_entropy, x, np.array([0.0, 1.0, 2.0], dtype=np.float32))
    assert "cross_entropy()" in str(err) and "(3, 4)" in str(err) and "(3,)" in str(err)
    err = both_raise(F.cross_entropy, TF.cross_entropy, x, np.array([0, 1]))
    assert "expected class-index target of shape (3,)" in str(err) and "got (2,)" in str(err)
    err = both_raise(F.cross_entropy, TF.cross_entropy, x, np.zeros((3, 4), dtype=np.int64))
    assert "must be floating point" in str(err) and "int64" in str(err)
    err = both_raise(F.cross_entropy, TF.cross_entropy, np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 4), dtype=np.int64))
    assert "(2, 4, 5)" in str(err) and "(2, 4, 4)" in str(err)
    err = both_raise(
        lambda a, b: F.cross_entropy(a, b, weight=convlab.ones(3)),
        lambda a, b: TF.cross_entropy(a, b, weight=torch.ones(3)),
        x,
        np.array([0, 1, 2]),
    )
    assert "weight of shape (4,)" in str(err) and "(3,)" in str(err)
    err = both_raise(
        lambda a, b: F.cross_entropy(a, b, label_smoothing=1.5),
        lambda a, b: TF.cross_entropy(a, b, label_smoothing=1.5),
        x,
        np.array([0, 1, 2]),
    )
    assert "label_smoothing" in str(err) and "1.5" in str(err)
    err = both_raise(
        lambda a, b: F.cross_entropy(a, b, reduction="avg"),
        lambda a, b: TF.cross_entropy(a, b, reduction="avg"),
        x,
        np.array([0, 1, 2]),
    )
    assert "reduction" in str(err) and "'avg'" in str(err)
    err = both_raise(
        lambda a, b: F.cross_entropy(a, b, ignore_index=1),
        lambda a, b: TF.cross_entropy(a, b, ignore_index=1),
        x,
        np.ones((3, 4), dtype=np.float32),
    )
    assert "ignore_index" in str(err)
    err = both_raise(F.cross_entropy, TF.cross_entropy, np.array([[1, 2]]), np.array([1]))
    assert "floating point input" in str(err) and "int64" in str(err)
    with pytest.raises(TypeError, match="argument 'target' must be a Tensor, got list"):
        F.cross_entropy(convlab.tensor(x), [0, 1, 2])
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        F.cross_entropy(convlab.tensor(x), convlab.tensor([0, 1, 2]), weight=convlab.ones(4, requires_grad=True))


def test_other_loss_errors_name_the_argument():
    p = np.full((3,), 0.5, dtype=np.float32)
    err = both_raise(F.binary_cross_entropy, TF.binary_cross_entropy, p, np.array([0, 1, 1]))
    assert "binary_cross_entropy()" in str(err) and "int64" in str(err)
    err = both_raise(F.binary_cross_entropy, TF.binary_cross_entropy, p, np.ones((3, 1), dtype=np.float32))
    assert "(3, 1)" in str(err) and "(3,)" in str(err)
    err = both_raise(
        F.binary_cross_entropy,
        TF.binary_cross_entropy,
        np.array([1.5], dtype=np.float32),
        np.array([1.0], dtype=np.float32),
    )
    assert "input should be between 0 and 1" in str(err)
    err = both_raise(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, p, np.array([0, 1, 1]))
    assert "floating point target" in str(err)
    err = both_raise(
        F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, p, np.ones((3, 1), dtype=np.float32)
    )
    assert "binary_cross_entropy_with_logits()" in str(err) and "(3, 1)" in str(err)
    err = both_raise(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=convlab.ones(2)),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, pos_weight=torch.ones(2)),
        p,
        p,
    )
    assert "pos_weight" in str(err) and "(2,)" in str(err)
    with pytest.warns(UserWarning):  # PyTorch warns before it fails
        err = both_raise(F.mse_loss, TF.mse_loss, p, np.ones(4, dtype=np.float32))
    assert "mse_loss()" in str(err) and "(4,)" in str(err) and "(3,)" in str(err)
    err = both_raise(
        lambda a, b: F.mse_loss(a, b, weight=convlab.ones(1)),
        lambda a, b: TF.mse_loss(a, b, weight=torch.ones(1)),
        p,
        p,
    )
    assert "weight" in str(err) and "(1,)" in str(err)
    err = both_raise(
        lambda a, b: F.smooth_l1_loss(a, b, beta=-1.0), lambda a, b: TF.smooth_l1_loss(a, b, beta=-1.0), p, p
    )
    assert "beta" in str(err)
    err = both_raise(lambda a, b: F.huber_loss(a, b, delta=0.0), lambda a, b: TF.huber_loss(a, b, delta=0.0), p, p)
    assert "delta" in str(err)
    err = both_raise(
        F.nll_loss, TF.nll_loss, np.zeros((2, 3), dtype=np.float32), np.array([0.0, 1.0], dtype=np.float32)
    )
    assert "nll_loss()" in str(err) and "integer target" in str(err)
    err = both_raise(
        lambda a, b: F.kl_div(a, b, reduction="batch"), lambda a, b: TF.kl_div(a, b, reduction="batch"), p, p
    )
    assert "'batchmean'" in str(err)
