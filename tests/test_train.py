"""The training loop (convlab.train): learning, exact resume, Ctrl-C, NaN, files, early stopping."""

import json
import os
import signal

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

import convlab
from convlab import nn, optim, plots
from convlab.data import DataLoader, Subset, datasets
from convlab.data import transforms as T
from convlab.train import Trainer, evaluate, fit


def _digits(train=True, augment=False, n=None):
    steps = [T.RandomCrop(8, padding=1)] if augment else []
    data = datasets.Digits(train=train, transform=T.Compose([*steps, T.ToTensor(), T.Normalize((0.3,), (0.37,))]))
    return data if n is None else Subset(data, np.arange(n))


def _small_cnn():
    """Conv, BatchNorm, max-pool and dropout: every random and stateful piece of the main job."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(6), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(6 * 4 * 4, 32), nn.ReLU(), nn.BatchNorm1d(32), nn.Dropout(0.5), nn.Linear(32, 10),
    )  # fmt: skip


def _trainer(out_dir, epochs, on_step=None, scheduler="onecycle", **options):
    """A fresh model, optimiser, scheduler and loaders, all seeded: identical every call."""
    convlab.manual_seed(7)
    model = _small_cnn()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    train_loader = DataLoader(_digits(augment=True, n=640), batch_size=64, shuffle=True,
                              generator=np.random.default_rng(3))
    val_loader = DataLoader(_digits(train=False), batch_size=128)
    if scheduler == "onecycle":
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, epochs=epochs, steps_per_epoch=len(train_loader))
        step = "batch"
    else:
        sched, step = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), "epoch"
    return Trainer(model, opt, train_loader, val_loader, scheduler=sched, scheduler_step=step, out_dir=out_dir,
                   on_step=on_step, progress=False, verbose=False, **options)


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_one_epoch_learns_digits(tmp_path):
    convlab.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    train_loader = DataLoader(_digits(), batch_size=32, shuffle=True, generator=np.random.default_rng(0))
    history = fit(model, train_loader, DataLoader(_digits(train=False), batch_size=256), epochs=1, progress=False,
                  verbose=False)
    assert len(history) == 1 and history[0]["epoch"] == 1
    assert history[0]["val_accuracy"] > 0.85, history
    assert history[0]["images_per_second"] > 0 and history[0]["seconds"] > 0


def _interrupt_at(step):
    def on_step(trainer):
        if trainer.step == step:
            raise KeyboardInterrupt

    return on_step


@pytest.mark.parametrize("stop_step, scheduler", [(13, "onecycle"), (10, "step")])
def test_resume_reproduces_uninterrupted_run_bit_for_bit(tmp_path, stop_step, scheduler, capsys):
    """Stopped by Ctrl-C in the middle of epoch 2 (step 13 of 10 per epoch) or exactly at an epoch's
    end (step 10), then resumed in a fresh process state: the same weights, optimiser state and
    history as a run that was never stopped."""
    reference = _trainer(tmp_path / "a", epochs=3, scheduler=scheduler)
    reference.fit(3)
    # another run, interrupted
    stopped = _trainer(tmp_path / "b", epochs=3, on_step=_interrupt_at(stop_step), scheduler=scheduler)
    stopped.fit(3)
    assert stopped.interrupted and stopped.step == stop_step
    assert "Interrupted at epoch" in capsys.readouterr().out
    assert os.path.exists(tmp_path / "b" / "last.safetensors")
    convlab.manual_seed(12345)  # the resumed run must not depend on the state it starts in
    np.random.default_rng(99).random(10)
    resumed = _trainer(tmp_path / "b", epochs=3, scheduler=scheduler)
    resumed.resume(tmp_path / "b" / "last.safetensors")
    assert resumed.step == stop_step
    resumed.fit(3)
    assert not resumed.interrupted and resumed.epoch == 3
    expected, got = _weights(reference.model), _weights(resumed.model)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    ref_state, res_state = reference.optimizer.state_dict(), resumed.optimizer.state_dict()
    for index, state in ref_state["state"].items():
        np.testing.assert_array_equal(res_state["state"][index]["exp_avg"].numpy(), state["exp_avg"].numpy())
    drop_time = [{k: v for k, v in row.items() if k not in ("seconds", "images_per_second")} for row in reference.history]
    assert [{k: v for k, v in row.items() if k not in ("seconds", "images_per_second")} for row in resumed.history] \
        == drop_time


@pytest.fixture
def sigint_default():
    """SIGINT handled by Python's default handler (KeyboardInterrupt) during the test, whatever the
    test runner set; the runner's handler is put back afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ctrl_c_at(trainer, step, where):
    """Send a real SIGINT at optimisation step ``step``: right after ``optimizer.step()`` updated the
    weights (before the trainer's counters move), or in the forward pass after dropout drew from
    convlab's generator."""
    calls = [0]
    if where == "after optimizer.step":
        real_step = trainer.optimizer.step

        def step_then_ctrl_c(*args, **kwargs):
            out = real_step(*args, **kwargs)
            calls[0] += 1
            if calls[0] == step:
                signal.raise_signal(signal.SIGINT)
            return out

        trainer.optimizer.step = step_then_ctrl_c
    else:
        def hook(module, args, output):
            if module.training:
                calls[0] += 1
                if calls[0] == step:
                    signal.raise_signal(signal.SIGINT)

        trainer.model[4].register_forward_hook(hook)  # the first Dropout


@pytest.mark.parametrize("where", ["after optimizer.step", "in the forward pass"])
def test_ctrl_c_mid_step_is_deferred_to_the_step_boundary(tmp_path, where, sigint_default, capsys):
    """A real Ctrl-C inside a step lets the step finish, then saves and stops: the resumed run equals
    the uninterrupted one bit for bit, and the SIGINT handler in place before fit() is restored."""
    reference = _trainer(tmp_path / "a", epochs=2)
    reference.fit(2)
    stopped = _trainer(tmp_path / "b", epochs=2)
    _ctrl_c_at(stopped, 13, where)
    stopped.fit(2)
    assert stopped.interrupted and stopped.step == 13 and stopped.batch == 3
    assert "Interrupted at epoch 2, batch 3" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    resumed = _trainer(tmp_path / "b", epochs=2)
    resumed.resume(tmp_path / "b" / "last.safetensors")
    assert resumed.step == 13
    resumed.fit(2)
    assert not resumed.interrupted and resumed.step == reference.step
    expected, got = _weights(reference.model), _weights(resumed.model)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert [row["train_loss"] for row in resumed.history] == [row["train_loss"] for row in reference.history]


def test_second_ctrl_c_stops_at_once_without_saving(tmp_path, sigint_default):
    trainer = _trainer(tmp_path / "run", epochs=2)

    def hook(module, args, output):  # two Ctrl-C in the forward pass of step 4
        if trainer.step == 3:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)

    trainer.model[0].register_forward_hook(hook)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(2)
    assert trainer.interrupted and trainer.step == 3
    assert not (tmp_path / "run" / "last.safetensors").exists()  # no checkpoint of a half-done step
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_files_written(tmp_path):
    out = tmp_path / "run"
    trainer = _trainer(out, epochs=2, class_names=[str(d) for d in range(10)], config={"model": "small"})
    trainer.fit(2)
    for name in ("last.safetensors", "best.safetensors", "history.csv", "history.json", "curves.png",
                 "confusion_matrix.png"):
        assert (out / name).exists(), name
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "images_per_second"}
    csv_lines = (out / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,train_loss,train_accuracy,lr") and len(csv_lines) == 3
    with Image.open(out / "curves.png") as image:
        assert image.format == "PNG" and image.size[0] > 500
    checkpoint = convlab.load(out / "best.safetensors")
    assert checkpoint["config"] == {"model": "small"}
    assert checkpoint["progress"]["epoch"] == max(history, key=lambda r: r["val_accuracy"])["epoch"]
    assert not [f for f in os.listdir(out) if f.endswith(".tmp") or ".tmp." in f]  # atomic writes leave nothing


def test_nan_loss_stops_with_the_step():
    calls = []

    def loss_fn(logits, labels):
        calls.append(1)
        loss = nn.functional.cross_entropy(logits, labels)
        return loss * float("nan") if len(calls) == 5 else loss

    trainer = _trainer(None, epochs=1, loss_fn=loss_fn)
    before = _weights(trainer.model)
    with pytest.raises(FloatingPointError, match=r"training loss is nan at epoch 1, batch 5 \(step 5\)"):
        trainer.fit(1)
    assert trainer.step == 4
    assert any(not np.array_equal(before[k], v) for k, v in _weights(trainer.model).items())


def test_early_stopping(tmp_path):
    trainer = _trainer(None, epochs=10, scheduler="step", monitor="val_loss", patience=1)
    for group in trainer.optimizer.param_groups:  # no learning: the validation loss never improves
        group["lr"] = 0.0
    trainer.scheduler.base_lrs = [0.0]
    history = trainer.fit(10)
    assert len(history) == 2 and trainer.bad_epochs == 1


def test_evaluate_restores_mode_and_matches_manual_count():
    model = _small_cnn()
    model.train()
    loader = DataLoader(_digits(train=False), batch_size=100)
    result = evaluate(model, loader)
    assert model.training
    model.eval()
    with convlab.no_grad():
        images, labels = _digits(train=False).get_batch(np.arange(len(_digits(train=False))))
        predictions = model(images).numpy().argmax(1)
    np.testing.assert_array_equal(result["predictions"], predictions)
    assert result["accuracy"] == pytest.approx(np.mean(predictions == labels.numpy()))


def test_trainer_rejects_bad_arguments():
    model = _small_cnn()
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(_digits(n=64), batch_size=32)
    with pytest.raises(ValueError, match="monitor='val_loss' needs a val_loader"):
        Trainer(model, opt, loader, monitor="val_loss")
    with pytest.raises(ValueError, match="monitor must be one of"):
        Trainer(model, opt, loader, monitor="accuracy")
    with pytest.raises(ValueError, match="scheduler_step must be 'epoch' or 'batch', got 'step'"):
        Trainer(model, opt, loader, scheduler_step="step")
    with pytest.raises(TypeError, match="train_loader must be a convlab.data.DataLoader"):
        Trainer(model, opt, [(convlab.zeros(1, 1, 8, 8), convlab.zeros(1, dtype=convlab.int64))])
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        Trainer(model, opt, loader, progress=False).fit(0)


def test_confusion_matrix_matches_sklearn(tmp_path, rng):
    targets, predictions = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    np.testing.assert_array_equal(plots.confusion_matrix(targets, predictions, 5),
                                  sklearn_confusion_matrix(targets, predictions, labels=range(5)))
    counts = plots.plot_confusion_matrix(targets, predictions, tmp_path / "cm.png", class_names=list("abcde"))
    assert counts.sum() == 300 and (tmp_path / "cm.png").exists()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        plots.confusion_matrix([0, 1, 3], [0, 1, 2], 3)
    with pytest.raises(ValueError, match="must be 1-D of equal length"):
        plots.confusion_matrix([0, 1], [0, 1, 2])
