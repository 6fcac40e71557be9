"""convlab.nn.utils.prune against torch.nn.utils.prune on the same weights: masks, the
``<name>_orig``/``<name>_mask`` state, repeated and global pruning, ``remove``, forward and
backward of a pruned model (float64, 1e-6), checkpoints moved between the two, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import convlab
from convlab import nn
from convlab.nn.utils import prune


def distinct(shape, rng, scale=1.0):
    """Values whose magnitudes are all different (torch.topk's choice among ties is its own)."""
    n = math.prod(shape)
    values = (rng.permutation(n) + 1.0) / n * scale
    return (values * rng.choice([-1.0, 1.0], n)).reshape(shape)


def pair(rng, kind="conv"):
    """A float64 convlab layer and the torch layer with the same (distinct) weights."""
    if kind == "conv":
        ours, theirs = nn.Conv2d(3, 6, 3).double(), torch.nn.Conv2d(3, 6, 3).double()
    else:
        ours, theirs = nn.Linear(8, 5).double(), torch.nn.Linear(8, 5).double()
    state = {k: distinct(v.shape, rng) for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return ours, theirs


def assert_same_state(ours, theirs):
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key in theirs_state:
        np.testing.assert_array_equal(ours_state[key].numpy(), theirs_state[key].numpy(), err_msg=key)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for name in ("weight", "bias"):
        np.testing.assert_array_equal(getattr(ours, name).detach().numpy(), getattr(theirs, name).detach().numpy())


SINGLE = [
    ("l1_unstructured", {"amount": 0.3}),
    ("l1_unstructured", {"amount": 7}),
    ("l1_unstructured", {"amount": 0.0}),
    ("l1_unstructured", {"amount": 1.0}),
    ("ln_structured", {"amount": 0.5, "n": 2, "dim": 0}),
    ("ln_structured", {"amount": 2, "n": 1, "dim": 1}),
    ("ln_structured", {"amount": 1, "n": float("inf"), "dim": -1}),
    ("ln_structured", {"amount": 0.34, "n": "fro", "dim": 1}),
    ("ln_structured", {"amount": 1, "n": -float("inf"), "dim": 0}),
    ("ln_structured", {"amount": 2, "n": 3, "dim": 0}),
    ("identity", {}),
]


@pytest.mark.parametrize("kind", ["conv", "linear"])
@pytest.mark.parametrize("fn,kwargs", SINGLE)
def test_single_pruning_matches_torch(fn, kwargs, kind, rng):
    ours, theirs = pair(rng, kind)
    if kwargs.get("n") == "fro" and kind == "conv":  # a norm over 3 dims: both refuse
        with pytest.raises(RuntimeError):
            tprune.ln_structured(theirs, "weight", **kwargs)
        with pytest.raises(ValueError, match="n='fro' is a norm over at most 2 dimensions"):
            prune.ln_structured(ours, "weight", **kwargs)
        assert not prune.is_pruned(ours) and list(ours.state_dict()) == ["weight", "bias"]
        return
    getattr(prune, fn)(ours, "weight", **kwargs)
    getattr(tprune, fn)(theirs, "weight", **kwargs)
    assert_same_state(ours, theirs)
    assert prune.is_pruned(ours) and "weight" not in ours._parameters and ours.weight_orig.requires_grad
    assert ours.weight_mask.dtype == np.float64 and not ours.weight_mask.requires_grad


def test_importance_scores_and_bias_match_torch(rng):
    ours, theirs = pair(rng)
    scores = distinct((6, 3, 3, 3), rng)
    prune.l1_unstructured(ours, "weight", 0.5, importance_scores=convlab.tensor(scores))
    tprune.l1_unstructured(theirs, "weight", 0.5, importance_scores=torch.from_numpy(scores))
    prune.l1_unstructured(ours, "bias", 2)
    tprune.l1_unstructured(theirs, "bias", 2)
    assert_same_state(ours, theirs)
    scores = distinct((6, 3, 3, 3), rng)
    prune.ln_structured(ours, "weight", 2, n=1, dim=0, importance_scores=convlab.tensor(scores))
    tprune.ln_structured(theirs, "weight", 2, n=1, dim=0, importance_scores=torch.from_numpy(scores))
    assert_same_state(ours, theirs)


def test_repeated_pruning_composes_like_pruning_container(rng):
    ours, theirs = pair(rng)
    mask = (rng.random((6, 3, 3, 3)) > 0.2).astype(np.float64)
    steps = [
        ("l1_unstructured", {"amount": 0.2}),
        ("ln_structured", {"amount": 0.34, "n": 2, "dim": 0}),  # among filters not yet all zero
        ("l1_unstructured", {"amount": 0.25}),  # a fraction of what is still unpruned
        ("ln_structured", {"amount": 1, "n": 1, "dim": 1}),
        ("custom_from_mask", {"mask": mask}),
        ("l1_unstructured", {"amount": 3}),
    ]
    for fn, kwargs in steps:
        cl_kwargs = {k: convlab.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        th_kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        getattr(prune, fn)(ours, "weight", **cl_kwargs)
        getattr(tprune, fn)(theirs, "weight", **th_kwargs)
        assert_same_state(ours, theirs)
    hooks = [h for h in ours._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == len(steps)
    assert [type(m).__name__ for m in hooks[0]] == [
        "L1Unstructured", "LnStructured", "L1Unstructured", "LnStructured", "CustomFromMask", "L1Unstructured"
    ]  # fmt: skip
    prune.remove(ours, "weight")
    tprune.remove(theirs, "weight")
    assert_same_state(ours, theirs)
    assert not prune.is_pruned(ours) and ours._forward_pre_hooks == {}


def test_global_unstructured_matches_torch(rng):
    def nets():
        ours = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5)).double()
        theirs = torch.nn.Sequential(
            torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 5)
        ).double()
        state = {k: distinct(v.shape, rng, scale=float(i + 1)) for i, (k, v) in enumerate(ours.state_dict().items())}
        ours.load_state_dict(state)
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        return ours, theirs

    ours, theirs = nets()
    prune.l1_unstructured(ours[3], "weight", 0.1)  # global pruning on top of an existing mask
    tprune.l1_unstructured(theirs[3], "weight", 0.1)
    for amount in (0.6, 40):
        prune.global_unstructured(
            [(ours[0], "weight"), (ours[3], "weight"), (ours[3], "bias")], prune.L1Unstructured, amount=amount
        )
        tprune.global_unstructured(
            [(theirs[0], "weight"), (theirs[3], "weight"), (theirs[3], "bias")], tprune.L1Unstructured, amount=amount
        )
        for i in (0, 3):
            assert_same_state(ours[i], theirs[i])
    ours, theirs = nets()  # importance scores
    s0, s3 = distinct((4, 2, 3, 3), rng), distinct((5, 64), rng)
    prune.global_unstructured(
        ((m, "weight") for m in (ours[0], ours[3])), prune.L1Unstructured,
        importance_scores={(ours[0], "weight"): convlab.tensor(s0), (ours[3], "weight"): convlab.tensor(s3)},
        amount=0.5,
    )  # fmt: skip
    tprune.global_unstructured(
        [(m, "weight") for m in (theirs[0], theirs[3])], tprune.L1Unstructured,
        importance_scores={(theirs[0], "weight"): torch.from_numpy(s0), (theirs[3], "weight"): torch.from_numpy(s3)},
        amount=0.5,
    )  # fmt: skip
    for i in (0, 3):
        assert_same_state(ours[i], theirs[i])
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE'):
        prune.global_unstructured([(ours[0], "weight")], prune.LnStructured, amount=1, n=2, dim=0)
    with pytest.raises(TypeError, match="not an Iterable"):
        prune.global_unstructured(ours[0], prune.L1Unstructured, amount=1)
    with pytest.raises(TypeError, match="importance_scores must be of type dict"):
        prune.global_unstructured([(ours[0], "weight")], prune.L1Unstructured, importance_scores=[1], amount=1)


def test_pruned_model_forward_backward_match_torch(rng):
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3)).double()
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(100, 3)
    ).double()
    state = {k: distinct(v.shape, rng) for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    for lib, net in ((prune, ours), (tprune, theirs)):
        lib.l1_unstructured(net[0], "weight", 0.5)
        lib.ln_structured(net[0], "weight", 1, n=2, dim=0)
        lib.l1_unstructured(net[3], "weight", 150)
        lib.l1_unstructured(net[3], "bias", 1)
    x = rng.standard_normal((4, 2, 5, 5))
    for _ in range(2):  # the second pass: after an optimiser step changed the _orig parameters
        out = ours(convlab.tensor(x))
        expected = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-6)
        out.square().sum().backward()
        expected.square().sum().backward()
        grads = {n: p.grad.numpy() for n, p in ours.named_parameters()}
        for name, p in theirs.named_parameters():
            np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-6, atol=1e-6, err_msg=name)
            assert np.all(grads[name][theirs.get_buffer(name.replace("_orig", "_mask")).numpy() == 0] == 0) \
                if name.endswith("_orig") else True  # fmt: skip
        convlab.optim.SGD(ours.parameters(), lr=0.1).step()
        torch.optim.SGD(theirs.parameters(), lr=0.1).step()
        ours.zero_grad()
        theirs.zero_grad()


def test_pruned_checkpoint_moves_between_convlab_and_torch(rng, tmp_path):
    ours, theirs = pair(rng)
    prune.l1_unstructured(ours, "weight", 0.5)
    prune.ln_structured(ours, "weight", 2, n=2, dim=0)
    # convlab -> file -> torch (a torch model is pruned with identity to take the keys)
    convlab.save(ours.state_dict(), tmp_path / "pruned.safetensors")
    loaded = convlab.load(tmp_path / "pruned.safetensors")
    fresh_torch = torch.nn.Conv2d(3, 6, 3).double()
    tprune.identity(fresh_torch, "weight")
    fresh_torch.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in loaded.items()})
    x = rng.standard_normal((2, 3, 5, 5))
    expected = ours(convlab.tensor(x)).detach().numpy()
    np.testing.assert_allclose(fresh_torch(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fresh_torch.weight_mask.numpy(), ours.weight_mask.numpy())
    # torch -> convlab
    tprune.l1_unstructured(theirs, "weight", 0.7)
    fresh = nn.Conv2d(3, 6, 3).double()
    prune.identity(fresh, "weight")
    fresh.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(
        fresh(convlab.tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-6, atol=1e-6
    )
    assert_same_state(fresh, theirs)


def test_random_methods_prune_the_requested_amounts(rng):
    linear = nn.Linear(10, 8)
    convlab.manual_seed(3)
    prune.random_unstructured(linear, "weight", 0.25)
    first = linear.weight_mask.numpy().copy()
    assert (first == 0).sum() == 20
    prune.random_unstructured(linear, "weight", 30)  # 30 more among the 60 left
    assert (linear.weight_mask.numpy() == 0).sum() == 50 and np.all(linear.weight_mask.numpy()[first == 0] == 0)
    again = nn.Linear(10, 8)
    convlab.manual_seed(3)
    prune.random_unstructured(again, "weight", 0.25)
    np.testing.assert_array_equal(again.weight_mask.numpy(), first)  # reproducible under manual_seed
    conv = nn.Conv2d(2, 8, 3)
    prune.random_structured(conv, "weight", 0.5, dim=0)
    filters = conv.weight_mask.numpy().reshape(8, -1)
    assert np.all((filters == 0).all(axis=1) | (filters == 1).all(axis=1)) and (filters == 0).all(axis=1).sum() == 4
    prune.random_structured(conv, "weight", 2, dim=0)  # two of the four filters still kept
    assert (conv.weight_mask.numpy().reshape(8, -1) == 0).all(axis=1).sum() == 6
    prune.random_structured(conv, "weight", 0, dim=0)
    assert (conv.weight_mask.numpy().reshape(8, -1) == 0).all(axis=1).sum() == 6


def test_prune_and_method_objects(rng):
    w = distinct((4, 5), rng)
    for ours, theirs in (
        (prune.L1Unstructured(0.5), tprune.L1Unstructured(0.5)),
        (prune.LnStructured(2, n=1, dim=1), tprune.LnStructured(2, n=1, dim=1)),
    ):
        np.testing.assert_array_equal(ours.prune(convlab.tensor(w)).numpy(), theirs.prune(torch.from_numpy(w)).numpy())
    container = prune.PruningContainer(prune.L1Unstructured(0.1))
    container._tensor_name = "weight"
    other = prune.L1Unstructured(0.1)
    other._tensor_name = "bias"
    with pytest.raises(ValueError, match="Found 'bias'"):
        container.add_pruning_method(other)
    with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
        container.add_pruning_method("l1")


def test_bad_input_names_it_and_leaves_no_trace(rng):
    linear = nn.Linear(4, 3)
    before = [n for n, _ in linear.named_parameters()]
    with pytest.raises(AttributeError, match=r"'Linear' object has no attribute 'wieght'.*parameters: weight, bias"):
        prune.l1_unstructured(linear, "wieght", 0.5)
    for amount in (-0.1, 1.5, -2):
        with pytest.raises(ValueError, match=rf"amount={amount} should either be a float in the range \[0, 1\]"):
            prune.l1_unstructured(linear, "weight", amount)
    with pytest.raises(TypeError, match="Invalid type for amount: 0.5. Must be int or float."):
        prune.l1_unstructured(linear, "weight", "0.5")
    with pytest.raises(ValueError, match="amount=13 should be smaller than the number of parameters to prune=12"):
        prune.l1_unstructured(linear, "weight", 13)
    with pytest.raises(ValueError, match=r"Structured pruning can only be applied to multidimensional tensors"):
        prune.ln_structured(linear, "bias", 1, n=2, dim=0)
    with pytest.raises(IndexError, match=r"Invalid index 2 for tensor of size \(3, 4\)"):
        prune.ln_structured(linear, "weight", 1, n=2, dim=2)
    with pytest.raises(AssertionError, match="importance_scores should have the same shape"):
        prune.l1_unstructured(linear, "weight", 1, importance_scores=convlab.zeros(4, 3))
    with pytest.raises(AttributeError, match="'in_features'"):
        prune.l1_unstructured(linear, "in_features", 1)
    assert [n for n, _ in linear.named_parameters()] == before and not prune.is_pruned(linear)
    assert list(linear.state_dict()) == ["weight", "bias"] and "weight" not in linear.__dict__
    # a failing second pruning keeps the first one in place
    prune.l1_unstructured(linear, "weight", 6)
    hook = next(iter(linear._forward_pre_hooks.values()))
    mask = linear.weight_mask.numpy().copy()
    with pytest.raises(ValueError, match="amount=7 should be smaller than the number of parameters to prune=6"):
        prune.l1_unstructured(linear, "weight", 7)
    assert list(linear._forward_pre_hooks.values()) == [hook] and not isinstance(hook, prune.PruningContainer)
    np.testing.assert_array_equal(linear.weight_mask.numpy(), mask)
    with pytest.raises(
        ValueError, match="Parameter 'bias' of module .* has to be pruned before pruning can be removed"
    ):
        prune.remove(linear, "bias")
