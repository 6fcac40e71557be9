"""End to end: a 3-layer MLP trained in convlab and in PyTorch from the same initial weights, on
the same batches, follows the same loss curve (optimiser + scheduler + clipping together)."""

import numpy as np
import pytest
import torch
from guides import run_examples
from sklearn.datasets import load_digits

import convlab
import convlab.nn.functional as F
from convlab import nn, optim
from convlab.optim import lr_scheduler

STEPS = 50
BATCH = 64


def digits():
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    return x, data.target.astype(np.int64)


def mlp(lib):
    return lib.Sequential(lib.Linear(64, 48), lib.ReLU(), lib.Linear(48, 32), lib.ReLU(), lib.Linear(32, 10))


def copy_weights(th_model, cl_model):
    """convlab starts from torch's random initial weights (same state_dict keys)."""
    cl_model.load_state_dict({k: v.detach().numpy().copy() for k, v in th_model.state_dict().items()})


CONFIGS = {
    "sgd-momentum": (lambda m, o: o.SGD(m.parameters(), lr=0.05, momentum=0.9), None, None),
    "adam": (lambda m, o: o.Adam(m.parameters(), lr=3e-3), None, None),
    "sgd-nesterov-steplr-clip": (
        lambda m, o: o.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
        lambda opt, s: s.StepLR(opt, step_size=15, gamma=0.5),
        1.0,
    ),
    "adamw-onecycle-clip": (
        lambda m, o: o.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05),
        lambda opt, s: s.OneCycleLR(opt, max_lr=1e-2, total_steps=STEPS),
        0.5,
    ),
    "rmsprop-cosine": (
        lambda m, o: o.RMSprop(m.parameters(), lr=1e-3, momentum=0.5, centered=True),
        lambda opt, s: s.CosineAnnealingLR(opt, T_max=20, eta_min=1e-4),
        None,
    ),
}


def train(lib, F_lib, model, make_opt, make_sched, clip, optim_mod, sched_mod, clip_fn, batches, tensor):
    opt = make_opt(model, optim_mod)
    sched = make_sched(opt, sched_mod) if make_sched else None
    losses, norms = [], []
    for xb, yb in batches:
        opt.zero_grad()
        loss = F_lib.cross_entropy(model(tensor(xb)), tensor(yb))
        loss.backward()
        if clip is not None:
            norms.append(float(clip_fn(model.parameters(), clip)))
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    return np.array(losses), np.array(norms)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mlp_loss_curve_matches_torch(name):
    make_opt, make_sched, clip = CONFIGS[name]
    x, y = digits()
    rng = np.random.default_rng(0)
    batches = [(x[idx], y[idx]) for idx in (rng.choice(len(x), BATCH, replace=False) for _ in range(STEPS))]

    torch.manual_seed(0)
    th_model = mlp(torch.nn)
    cl_model = mlp(nn)
    copy_weights(th_model, cl_model)

    th_losses, th_norms = train(
        torch, torch.nn.functional, th_model, make_opt, make_sched, clip, torch.optim, torch.optim.lr_scheduler,
        torch.nn.utils.clip_grad_norm_, batches, torch.from_numpy,
    )
    cl_losses, cl_norms = train(
        convlab, F, cl_model, make_opt, make_sched, clip, optim, lr_scheduler, nn.utils.clip_grad_norm_, batches,
        convlab.tensor,
    )
    np.testing.assert_allclose(cl_losses, th_losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cl_norms, th_norms, rtol=1e-4)
    assert th_losses[-5:].mean() < 0.6 * th_losses[:5].mean(), "the reference run did not learn; the test would be vacuous"
    for key, value in th_model.state_dict().items():
        np.testing.assert_allclose(cl_model.state_dict()[key].numpy(), value.numpy(), rtol=1e-4, atol=1e-5, err_msg=key)
        assert cl_model.state_dict()[key].dtype == np.float32


def test_docs_training_example_runs():
    """The training-step example of docs/optim.md runs as written."""
    run_examples("docs/optim.md", min_examples=1)
