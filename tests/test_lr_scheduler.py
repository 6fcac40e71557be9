"""Learning-rate schedulers against torch.optim.lr_scheduler: the same lr (and momentum) at every
step, the same state_dict, and resumption from a state_dict."""

import math
import warnings

import numpy as np
import pytest
import torch

import convlab
from convlab import nn, optim
from convlab.optim import lr_scheduler


def make_optimizers(opt_name="SGD", lrs=(0.1, 0.02), **kwargs):
    """The same optimiser in both libraries, with two parameter groups of different lrs."""
    cl_groups = [{"params": [nn.Parameter(convlab.zeros(2))], "lr": lr} for lr in lrs]
    th_groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]
    return getattr(optim, opt_name)(cl_groups, **kwargs), getattr(torch.optim, opt_name)(th_groups, **kwargs)


def group_values(opt, keys=("lr", "momentum", "betas")):
    return [{k: g[k] for k in keys if k in g} for g in opt.param_groups]


def run_both(factory, steps, opt_name="SGD", opt_kwargs=None, metrics=None):
    """Step both schedulers ``steps`` times after optimizer.step(); the lrs must be equal floats."""
    cl_opt, th_opt = make_optimizers(opt_name, **(opt_kwargs or {}))
    cl_sched, th_sched = factory(cl_opt, lr_scheduler), factory(th_opt, torch.optim.lr_scheduler)
    assert cl_sched.get_last_lr() == th_sched.get_last_lr()
    history = []
    for step in range(steps):
        cl_opt.step()
        th_opt.step()
        if metrics is None:
            cl_sched.step()
            th_sched.step()
        else:
            cl_sched.step(metrics[step])
            th_sched.step(metrics[step])
        assert cl_sched.get_last_lr() == th_sched.get_last_lr(), f"step {step}"
        assert isinstance(cl_sched.get_last_lr(), list)
        assert group_values(cl_opt) == group_values(th_opt), f"step {step}"
        history.append(cl_sched.get_last_lr())
    assert_state_dicts_equal(cl_sched.state_dict(), th_sched.state_dict())
    return cl_sched, th_sched, history


def assert_state_dicts_equal(ours, theirs):
    assert list(ours) == list(theirs)
    for key in theirs:
        if key == "_schedulers":
            for a, b in zip(ours[key], theirs[key]):
                assert_state_dicts_equal(a, b)
        else:
            assert ours[key] == theirs[key], key


CASES = {
    "StepLR": (lambda o, m: m.StepLR(o, step_size=7, gamma=0.5), 40),
    "StepLR-default-gamma": (lambda o, m: m.StepLR(o, step_size=3), 30),
    "MultiStepLR": (lambda o, m: m.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3), 40),
    "ExponentialLR": (lambda o, m: m.ExponentialLR(o, gamma=0.93), 50),
    "ConstantLR": (lambda o, m: m.ConstantLR(o, factor=0.25, total_iters=6), 30),
    "CosineAnnealingLR": (lambda o, m: m.CosineAnnealingLR(o, T_max=20), 70),
    "CosineAnnealingLR-eta_min": (lambda o, m: m.CosineAnnealingLR(o, T_max=13, eta_min=1e-3), 60),
    "LinearLR-warmup": (lambda o, m: m.LinearLR(o, start_factor=0.1, total_iters=10), 30),
    "LinearLR-decay": (lambda o, m: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=25), 40),
    "LinearLR-default": (lambda o, m: m.LinearLR(o), 30),
    "SequentialLR-warmup-cosine": (
        lambda o, m: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.2, total_iters=5), m.CosineAnnealingLR(o, T_max=30)], milestones=[5]),
        60,
    ),
    "SequentialLR-three": (
        lambda o, m: m.SequentialLR(
            o, [m.ConstantLR(o, factor=0.1, total_iters=4), m.ExponentialLR(o, gamma=0.9), m.StepLR(o, step_size=4)], milestones=[6, 15]
        ),
        40,
    ),
    "SequentialLR-multistep-first": (
        lambda o, m: m.SequentialLR(o, [m.MultiStepLR(o, [2, 4]), m.LinearLR(o, start_factor=0.5, total_iters=3)], milestones=[8]),
        30,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_schedule_matches_torch(name):
    factory, steps = CASES[name]
    run_both(factory, steps)


ONE_CYCLE = {
    "cos": dict(max_lr=0.5, total_steps=40),
    "linear": dict(max_lr=[0.5, 0.1], total_steps=40, anneal_strategy="linear", pct_start=0.25),
    "three_phase-cos": dict(max_lr=0.3, epochs=5, steps_per_epoch=9, three_phase=True),
    "three_phase-linear": dict(max_lr=0.3, total_steps=33, three_phase=True, anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0),
    "momentum-bounds": dict(max_lr=0.2, total_steps=30, base_momentum=[0.8, 0.7], max_momentum=0.99),
    "no-momentum-cycle": dict(max_lr=0.2, total_steps=30, cycle_momentum=False),
}


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("case", list(ONE_CYCLE))
def test_one_cycle_matches_torch(case, opt_name):
    """lr and momentum (SGD) or beta1 (Adam) follow torch's curve for the whole cycle."""
    kwargs = ONE_CYCLE[case]
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    opt_kwargs = dict(momentum=0.9) if opt_name == "SGD" else {}
    _, _, history = run_both(lambda o, m: m.OneCycleLR(o, **kwargs), total - 1, opt_name, opt_kwargs)
    peak = max(lr for lrs in history for lr in lrs)
    first_max = kwargs["max_lr"][0] if isinstance(kwargs["max_lr"], list) else kwargs["max_lr"]
    assert peak == pytest.approx(first_max, rel=0.05)


def test_one_cycle_stepping_past_the_end_raises_like_torch():
    cl_opt, th_opt = make_optimizers(momentum=0.9)
    cl, th = lr_scheduler.OneCycleLR(cl_opt, max_lr=0.1, total_steps=3), torch.optim.lr_scheduler.OneCycleLR(th_opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        cl_opt.step(), th_opt.step(), cl.step(), th.step()
    with pytest.raises(ValueError):
        th.step()
    with pytest.raises(ValueError, match="tried to step 4 times, but the schedule has total_steps=3"):
        cl.step()


PLATEAU = {
    "min-rel": dict(mode="min", patience=2),
    "max-abs": dict(mode="max", threshold=0.05, threshold_mode="abs", patience=1, factor=0.5),
    "min-abs-cooldown": dict(mode="min", threshold=0.01, threshold_mode="abs", patience=0, cooldown=3, factor=0.5),
    "min_lr-list": dict(mode="min", patience=1, factor=0.2, min_lr=[0.01, 0.001]),
    "min_lr-eps": dict(mode="min", patience=0, factor=0.5, min_lr=0.005, eps=1e-3),
    "max-rel-threshold": dict(mode="max", threshold=0.1, patience=2, cooldown=1),
}


@pytest.mark.parametrize("case", list(PLATEAU))
def test_reduce_lr_on_plateau_matches_torch(case):
    rng = np.random.default_rng(sum(map(ord, case)))
    metrics = list(np.cumsum(rng.standard_normal(60) * 0.3) + 5.0)  # a noisy walk: both plateaus and improvements
    metrics[10] = convlab.tensor(metrics[10])  # a one-element tensor is accepted as the metric
    th_metrics = [float(m) for m in metrics]
    cl_opt, th_opt = make_optimizers()
    cl, th = lr_scheduler.ReduceLROnPlateau(cl_opt, **PLATEAU[case]), torch.optim.lr_scheduler.ReduceLROnPlateau(th_opt, **PLATEAU[case])
    lrs = set()
    for step in range(60):
        cl.step(metrics[step])
        th.step(th_metrics[step])
        assert cl.get_last_lr() == th.get_last_lr(), f"step {step}"
        assert (cl.best, cl.num_bad_epochs, cl.cooldown_counter) == (th.best, th.num_bad_epochs, th.cooldown_counter)
        lrs.add(cl.get_last_lr()[0])
    assert len(lrs) > 1, "the metric sequence never triggered a reduction"
    assert_state_dicts_equal(cl.state_dict(), th.state_dict())


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR-eta_min", "SequentialLR-warmup-cosine", "MultiStepLR"])
def test_resume_from_state_dict(name, tmp_path):
    """A scheduler rebuilt from a saved state_dict (through convlab.save/load) continues identically."""
    factory, steps = CASES[name]
    opt, _ = make_optimizers()
    sched = factory(opt, lr_scheduler)
    for _ in range(steps // 2):
        opt.step()
        sched.step()
    convlab.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "s.safetensors")
    ckpt = convlab.load(tmp_path / "s.safetensors")
    opt2, _ = make_optimizers(lrs=(5.0, 5.0))
    sched2 = factory(opt2, lr_scheduler)
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    for _ in range(steps // 2, steps):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched.get_last_lr() == sched2.get_last_lr()


def test_plateau_state_round_trip_keeps_infinities(tmp_path):
    opt, _ = make_optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="max")
    convlab.save(sched.state_dict(), tmp_path / "p.safetensors")
    loaded = convlab.load(tmp_path / "p.safetensors")
    assert loaded["best"] == -math.inf and loaded == sched.state_dict()
    fresh = lr_scheduler.ReduceLROnPlateau(make_optimizers()[0])
    fresh.load_state_dict(loaded)
    assert fresh.mode == "max" and fresh.best == -math.inf


def test_resume_with_last_epoch_matches_torch():
    """Creating a scheduler with last_epoch >= 0 (after loading initial_lr) resumes like torch."""
    for factory in (lambda o, m, e: m.CosineAnnealingLR(o, T_max=10, last_epoch=e), lambda o, m, e: m.ExponentialLR(o, 0.9, last_epoch=e)):
        cl_opt, th_opt = make_optimizers()
        for group in cl_opt.param_groups + th_opt.param_groups:
            group["initial_lr"] = group["lr"] * 2
        cl, th = factory(cl_opt, lr_scheduler, 4), factory(th_opt, torch.optim.lr_scheduler, 4)
        for _ in range(8):
            assert cl.get_last_lr() == th.get_last_lr()
            cl_opt.step(), th_opt.step(), cl.step(), th.step()


def test_deprecated_epoch_argument_uses_closed_form():
    cl_opt, th_opt = make_optimizers()
    cl, th = lr_scheduler.StepLR(cl_opt, 3, gamma=0.5), torch.optim.lr_scheduler.StepLR(th_opt, 3, gamma=0.5)
    cl_opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th.step(7)
    with pytest.warns(UserWarning, match="deprecated"):
        cl.step(7)
    assert cl.get_last_lr() == th.get_last_lr()


def test_warns_when_stepped_before_the_optimizer():
    opt, _ = make_optimizers()
    sched = lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"StepLR.step\(\) was called before optimizer.step\(\)"):
        sched.step()
    opt2, _ = make_optimizers()
    sched2 = lr_scheduler.StepLR(opt2, 2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()
    with pytest.warns(UserWarning, match="use get_last_lr"):
        sched2.get_lr()
    # an optimiser resumed from a state that has stepped: its scheduler's next step does not warn
    for p in opt2.param_groups[0]["params"]:
        p.grad = convlab.ones(2)
    optim_m = optim.SGD(opt2.param_groups[0]["params"], lr=0.1, momentum=0.9)
    optim_m.step()
    resumed = optim.SGD(opt2.param_groups[0]["params"], lr=0.1, momentum=0.9)
    resumed.load_state_dict(optim_m.state_dict())
    sched3 = lr_scheduler.StepLR(resumed, 2)
    sched3.load_state_dict(lr_scheduler.StepLR(optim_m, 2).state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched3.step()


def test_bad_arguments_raise_clear_errors():
    opt, _ = make_optimizers()
    with pytest.raises(TypeError, match=r"StepLR\(\): expected a convlab.optim Optimizer, got list"):
        lr_scheduler.StepLR([], 3)
    with pytest.raises(ValueError, match=r"StepLR\(\): step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match=r"CosineAnnealingLR\(\): T_max must be a positive integer, got -3"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=-3)
    with pytest.raises(ValueError, match=r"LinearLR\(\): start_factor must be in \(0, 1\], got 0"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match=r"LinearLR\(\): end_factor must be in \[0, 1\], got 1.5"):
        lr_scheduler.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match=r"ConstantLR\(\): factor must be between 0 and 1, got 2"):
        lr_scheduler.ConstantLR(opt, factor=2)
    with pytest.raises(TypeError, match=r"MultiStepLR\(\): milestones must be integers"):
        lr_scheduler.MultiStepLR(opt, [1.5])
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        lr_scheduler.StepLR(make_optimizers()[0], 3, last_epoch=4)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau\(\): mode must be 'min' or 'max', got 'up'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match=r"threshold_mode must be 'rel' or 'abs', got 'x'"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="x")
    with pytest.raises(ValueError, match=r"factor should be < 1.0, got 1.5"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match=r"min_lr must have one value per parameter group \(2\), got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(ValueError, match=r"OneCycleLR\(\): give either total_steps or both epochs and steps_per_epoch"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match=r"OneCycleLR\(\): pct_start must be a float between 0 and 1, got 1.5"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match=r"anneal_strategy must be 'cos' or 'linear', got 'exp'"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match=r"max_lr must have one value per parameter group \(2\), got 1"):
        lr_scheduler.OneCycleLR(opt, max_lr=[0.1], total_steps=10)
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with momentum or betas, got Adagrad"):
        lr_scheduler.OneCycleLR(optim.Adagrad([nn.Parameter(convlab.zeros(1))]), max_lr=0.1, total_steps=10)
    other, _ = make_optimizers()
    with pytest.raises(ValueError, match=r"schedulers\[1\] \(StepLR\) belongs to another optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(other, 2)], milestones=[3])
    with pytest.raises(ValueError, match="one milestone fewer than schedulers, got 2 schedulers and 2 milestones"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 2)], milestones=[3, 4])
    with pytest.raises(ValueError, match=r"schedulers\[0\] is a ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)], milestones=[])
