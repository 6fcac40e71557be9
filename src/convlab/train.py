"""The training loop: :func:`fit` / :class:`Trainer`, and :func:`evaluate`.

One step is the textbook one (forward -> loss -> ``zero_grad`` -> ``backward`` -> ``step``);
around it the trainer keeps what a real run needs:

- progress bars (tqdm) with loss, accuracy and images/s; validation after every epoch;
- the metrics history as ``history.csv`` / ``history.json``, a ``curves.png`` loss/accuracy plot
  and ``confusion_matrix.png`` of the validation set, all written atomically into ``out_dir``;
- checkpoints ``last.safetensors`` (after every epoch) and ``best.safetensors`` (best monitored
  metric), with early stopping after ``patience`` epochs without improvement;
- exact resumption: a checkpoint holds the model, optimiser, scheduler, epoch, batch, the
  history and the random states (convlab's generator and the training loader's), so
  ``resume=`` continues an interrupted run to bit-identical weights on the CPU - also from the
  middle of an epoch (the loader redraws the epoch's order from the saved state and skips the
  batches already done);
- a non-finite loss stops the run with :class:`FloatingPointError` naming the epoch and step;
- Ctrl-C never cuts a step in half: while :meth:`Trainer.fit` runs (in the main thread) SIGINT
  only sets a flag, the step in progress (forward, backward, ``optimizer.step()``, scheduler,
  counters) completes, and at that step boundary the trainer saves ``last.safetensors`` and
  returns - so the checkpoint resumes bit-for-bit. A second Ctrl-C raises ``KeyboardInterrupt``
  at once, saving nothing (the last checkpoint written stays valid). The previous SIGINT handler
  is restored when ``fit`` returns. A ``KeyboardInterrupt`` raised by code (e.g. an ``on_step``
  callback) also saves ``last.safetensors`` and returns.

Example::

    >>> model = convlab.models.fmnist_cnn()
    >>> opt = convlab.optim.Adam(model.parameters(), lr=1e-3)
    >>> history = convlab.train.fit(model, train_loader, val_loader, opt, epochs=5, out_dir="runs/demo")
    >>> history[-1]["val_accuracy"]
    0.921...
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import threading
import time

import numpy as np

from . import _random
from .autograd import no_grad
from .backend import cpu_kernels, to_numpy
from .data.dataset import check_generator
from .io import load, save
from .io.atomic import write_atomically
from .nn import functional as F
from .optim.lr_scheduler import ReduceLROnPlateau

__all__ = ["Trainer", "evaluate", "fit"]

_MONITORS = {"val_accuracy": max, "val_loss": min, "train_accuracy": max, "train_loss": min}


class _DeferredInterrupt:
    """Within the ``with`` block, SIGINT (Ctrl-C) sets :attr:`requested` instead of raising
    ``KeyboardInterrupt``, so the training loop can stop at a step boundary; a second SIGINT
    sets :attr:`forced` and raises ``KeyboardInterrupt`` at once. The previous handler is put
    back on exit. Outside the main thread (where Python cannot set handlers), or when SIGINT is
    ignored, it changes nothing."""

    def __init__(self):
        self.requested = self.forced = False
        self._installed, self._previous = False, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
                self._installed = True
        return self

    def _handle(self, signum, frame):
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc_info):
        if self._installed:
            # None: the previous handler was not set from Python; the default one is the nearest equivalent
            signal.signal(signal.SIGINT, signal.SIG_DFL if self._previous is None else self._previous)
            self._installed = False
        return False


class _StopAtBoundary(Exception):
    """Raised at a step boundary after a deferred Ctrl-C."""


def evaluate(model, loader, loss_fn=F.cross_entropy, progress: bool = False, desc: str = "eval",
             flip: bool = False) -> dict:
    """Mean loss and accuracy of ``model`` (in eval mode, without gradients) over ``loader``.

    Args:
        model: a classifier returning logits ``(N, classes)``.
        loader: yields ``(inputs, integer labels)`` batches.
        loss_fn: ``loss_fn(logits, labels)`` returning the batch's mean loss.
        progress: show a progress bar.
        desc: the progress bar's label.
        flip: test-time augmentation: the logits are the mean of those of each image and of its
            horizontal mirror (last axis flipped); loss and predictions come from that mean.

    Returns:
        ``{"loss", "accuracy", "predictions", "targets"}`` (the last two as int64 arrays).
        The model's train/eval mode is restored afterwards.
    """
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    total_loss, predictions, targets = 0.0, [], []
    try:
        with no_grad(), cpu_kernels.tuned():
            for inputs, labels in tqdm(loader, desc=desc, leave=False, disable=not progress):
                logits = model(inputs)
                if flip:
                    logits = (logits + model(inputs.flip(-1))) * 0.5
                total_loss += float(loss_fn(logits, labels).item()) * len(labels)
                predictions.append(to_numpy(logits.data.argmax(axis=1)))
                targets.append(to_numpy(labels.data))
    finally:
        model.train(was_training)
    if not targets:
        raise ValueError("evaluate(): the loader yielded no batches")
    predictions, targets = np.concatenate(predictions), np.concatenate(targets)
    return {"loss": total_loss / len(targets), "accuracy": float(np.mean(predictions == targets)),
            "predictions": predictions, "targets": targets}


class Trainer:
    """Trains a classifier: the loop of :func:`fit`, with its state kept for checkpoints.

    Args:
        model: the network (returns logits).
        optimizer: a ``convlab.optim`` optimiser over ``model``'s parameters.
        train_loader: a :class:`~convlab.data.DataLoader` of ``(inputs, labels)``.
        val_loader: a loader for validation after every epoch (optional).
        scheduler: a learning-rate scheduler (optional), stepped after every epoch, or after
            every batch with ``scheduler_step="batch"`` (as ``OneCycleLR`` expects);
            ``ReduceLROnPlateau`` is given the monitored metric.
        scheduler_step: ``"epoch"`` or ``"batch"``.
        loss_fn: ``loss_fn(logits, labels)`` (default cross-entropy).
        out_dir: where checkpoints, metrics and plots go (created; None writes nothing).
        monitor: the metric for the best checkpoint, early stopping and ``ReduceLROnPlateau``:
            ``"val_accuracy"`` (default; ``"train_accuracy"`` without a val_loader),
            ``"val_loss"``, ``"train_accuracy"`` or ``"train_loss"``.
        patience: stop after this many epochs without improvement of ``monitor`` (None: never).
        class_names: labels for the confusion-matrix plot.
        config: JSON-able facts stored in every checkpoint (e.g. the model's name and the
            dataset, so ``convlab eval`` can rebuild them).
        on_step: called as ``on_step(trainer)`` after every optimisation step.
        progress: show tqdm progress bars.
        verbose: print one line of metrics per epoch.
        distributed: train as one of N MPI processes (see :mod:`convlab.distributed`): the model
            is wrapped in ``DistributedDataParallel``, the training data sharded with a
            ``DistributedSampler`` (global batch = N x the loader's batch size), validation
            shared by all ranks, and only rank 0 prints and writes ``out_dir``. Default None:
            on when started by ``mpiexec -n N`` with N > 1.
        adversary: adversarial training (Madry et al.): an attack ``adversary(inputs, labels)``
            (e.g. ``convlab.attacks.PGD``) whose adversarial inputs replace every training batch;
            the train metrics are then those on the adversarial batches.

    Attributes:
        epoch: epochs completed. batch: batches completed in the current epoch. step: all
        optimisation steps. history: one dict of metrics per completed epoch.
        interrupted: True when the last :meth:`fit` was stopped by Ctrl-C.
        rank, world_size: this process's place in a distributed run (0 and 1 otherwise).
    """

    def __init__(self, model, optimizer, train_loader, val_loader=None, *, scheduler=None, scheduler_step="epoch",
                 loss_fn=F.cross_entropy, out_dir=None, monitor=None, patience=None, class_names=None, config=None,
                 on_step=None, progress=True, verbose=True, distributed=None, adversary=None):
        if scheduler_step not in ("epoch", "batch"):
            raise ValueError(f"Trainer(): scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
        monitor = monitor or ("val_accuracy" if val_loader is not None else "train_accuracy")
        if monitor not in _MONITORS:
            raise ValueError(f"Trainer(): monitor must be one of {sorted(_MONITORS)}, got {monitor!r}")
        if monitor.startswith("val_") and val_loader is None:
            raise ValueError(f"Trainer(): monitor={monitor!r} needs a val_loader")
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ValueError(f"Trainer(): patience must be a positive int or None, got {patience!r}")
        if not hasattr(train_loader, "iterate"):
            raise TypeError(f"Trainer(): train_loader must be a convlab.data.DataLoader (resumable passes), got "
                            f"{type(train_loader).__name__}")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_loader, self.val_loader = train_loader, val_loader
        self.scheduler_step, self.loss_fn = scheduler_step, loss_fn
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.monitor, self.patience = monitor, patience
        self.class_names, self.config = class_names, dict(config or {})
        self.on_step, self.progress, self.verbose = on_step, progress, verbose
        self.adversary = adversary
        self.epoch = self.batch = self.step = 0
        self.history: list[dict] = []
        self.best: float | None = None
        self.bad_epochs = 0
        self.interrupted = False
        self._interrupt = None  # the _DeferredInterrupt of the running fit()
        self._running = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self._epoch_start_loader_state = None
        self._restored_rng = None
        self.rank, self.world_size, self._dist = 0, 1, None
        if distributed or (distributed is None and _launched_by_mpi()):
            from .distributed._trainer import DistributedRun

            self._dist = DistributedRun(self)
            self.rank, self.world_size = self._dist.rank, self._dist.world_size

    # ------------------------------------------------------------------------------ loop
    def fit(self, epochs: int) -> list[dict]:
        """Train until ``epochs`` epochs are complete in all (a resumed trainer continues), early
        stopping fires, or Ctrl-C; returns :attr:`history`.

        Ctrl-C is deferred to the end of the step in progress, then ``last.safetensors`` is
        saved and ``fit`` returns with :attr:`interrupted` set; a second Ctrl-C raises
        ``KeyboardInterrupt`` without saving (see the module docstring).
        """
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"fit(): epochs must be a positive int, got {epochs!r}")
        if self.out_dir is not None:
            os.makedirs(self.out_dir, exist_ok=True)
        self.interrupted = False
        # the CPU runtime settings (BLAS on one thread, malloc keeping freed memory) for the run only
        with _DeferredInterrupt() as interrupt, cpu_kernels.tuned():
            self._interrupt = interrupt
            try:
                while self.epoch < epochs and not self._early_stop():
                    self._train_epoch(epochs)
                    self._end_epoch()
                    self._stop_if_interrupted()
            except (_StopAtBoundary, KeyboardInterrupt):
                if interrupt.forced:  # the second Ctrl-C: possibly mid-step, nothing consistent to save
                    self.interrupted = True
                    raise
                self._save_interrupted()
            finally:
                self._interrupt = None
        return self.history

    def _stop_if_interrupted(self) -> None:
        """At a step boundary: stop if Ctrl-C was pressed during the step."""
        if self._interrupt is not None and self._interrupt.requested:
            raise _StopAtBoundary

    def _save_interrupted(self) -> None:
        self.interrupted = True
        if self._dist is not None:  # all ranks stop at the same step (see step_ok); each will resume its own sums
            self._running["ranks"] = self._dist.running_by_rank(self._running)
        if self.out_dir is not None:
            path = self.save_checkpoint("last.safetensors")
            print(f"\nInterrupted at epoch {self.epoch + 1}, batch {self.batch}: saved {path} "
                  f"(continue with resume=/--resume {path})")

    def _early_stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def _loader_generator(self) -> np.random.Generator:
        return check_generator("Trainer", self.train_loader.generator)

    def _epoch_batches(self):
        """The current epoch's batches from ``self.batch`` on, drawing the order (and restoring a
        checkpoint's random states) exactly as the uninterrupted run did."""
        generator = self._loader_generator()
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # a DistributedSampler's order is drawn from its seed and the epoch
            sampler.set_epoch(self.epoch)
        restored, self._restored_rng = self._restored_rng, None
        redraw = restored is not None and restored["loader_epoch_start"] is not None  # stopped inside an epoch
        if redraw:
            generator.bit_generator.state = restored["loader_epoch_start"]
        elif restored is not None:
            generator.bit_generator.state = restored["loader"]
            _random.set_rng_state(restored["convlab"])
        self._epoch_start_loader_state = generator.bit_generator.state
        batches = self.train_loader.iterate(start_batch=self.batch)
        if redraw:
            generator.bit_generator.state = restored["loader"]
            _random.set_rng_state(restored["convlab"])  # last: it may be the same generator
        return batches

    def _train_epoch(self, epochs: int) -> None:
        from tqdm.auto import tqdm

        model, optimizer = self.model, self.optimizer
        model.train()
        running = self._running
        bar = tqdm(self._epoch_batches(), desc=f"epoch {self.epoch + 1}/{epochs}", total=len(self.train_loader),
                   initial=self.batch, disable=not self.progress, dynamic_ncols=True)
        started = time.perf_counter() - running["seconds"]
        try:
            for inputs, labels in bar:
                if self.adversary is not None:  # the attack runs the model in eval mode and gives it back in train mode
                    inputs = self.adversary(inputs, labels)
                logits = model(inputs)
                loss = self.loss_fn(logits, labels)
                value = float(loss.item())
                if not (math.isfinite(value) if self._dist is None else self._dist.step_ok(value, self._interrupt)):
                    raise FloatingPointError(
                        f"fit(): the training loss is {value if not math.isfinite(value) else 'not finite on another rank'} "
                        f"at epoch {self.epoch + 1}, batch {self.batch + 1} "
                        f"(step {self.step + 1}); stopping. The weights are those before this step; try a lower "
                        f"learning rate or gradient clipping."
                    )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if self.scheduler is not None and self.scheduler_step == "batch":
                    self.scheduler.step()
                self.batch += 1
                self.step += 1
                n = len(labels)
                running["loss"] += value * n
                running["correct"] += int((logits.data.argmax(axis=1) == labels.data).sum())
                running["seen"] += n
                running["seconds"] = time.perf_counter() - started
                bar.set_postfix(loss=f"{running['loss'] / running['seen']:.4f}",
                                acc=f"{running['correct'] / running['seen']:.4f}",
                                img_s=f"{running['seen'] / max(running['seconds'], 1e-9):.0f}", refresh=False)
                if self.on_step is not None:
                    self.on_step(self)
                self._stop_if_interrupted()
        finally:
            bar.close()

    def _end_epoch(self) -> None:
        running = self._running if self._dist is None else self._dist.total(self._running)
        metrics = {
            "epoch": self.epoch + 1,
            "train_loss": running["loss"] / max(running["seen"], 1),
            "train_accuracy": running["correct"] / max(running["seen"], 1),
            "lr": self.optimizer.param_groups[0]["lr"],
            "seconds": running["seconds"],
            "images_per_second": running["seen"] / max(running["seconds"], 1e-9),
        }
        validation = None
        if self.val_loader is not None:
            validate = evaluate if self._dist is None else self._dist.evaluate
            validation = validate(self.model, self.val_loader, self.loss_fn, self.progress, desc="validate")
            metrics["val_loss"], metrics["val_accuracy"] = validation["loss"], validation["accuracy"]
        if self.scheduler is not None and self.scheduler_step == "epoch":
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(metrics[self.monitor])
            else:
                self.scheduler.step()
        value = metrics[self.monitor]
        improved = self.best is None or _MONITORS[self.monitor](value, self.best) != self.best
        self.best = value if improved else self.best
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        self.history.append(metrics)
        self.epoch += 1
        self.batch = 0
        self._epoch_start_loader_state = None
        self._running = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        summary = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
        if self.verbose:
            print(summary + ("  (best)" if improved else ""))
        if self.out_dir is not None:
            self.save_checkpoint("last.safetensors")
            if improved:
                self.save_checkpoint("best.safetensors")
            self._write_history()
            from . import plots

            plots.plot_history(self.history, os.path.join(self.out_dir, "curves.png"))
            if validation is not None and improved:
                plots.plot_confusion_matrix(validation["targets"], validation["predictions"],
                                            os.path.join(self.out_dir, "confusion_matrix.png"),
                                            class_names=self.class_names, title="validation (best epoch)")

    # ------------------------------------------------------------------------------ files
    def _write_history(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(self.history[0]))
        writer.writeheader()
        writer.writerows(self.history)
        write_text(os.path.join(self.out_dir, "history.csv"), text.getvalue())
        write_text(os.path.join(self.out_dir, "history.json"), json.dumps(self.history, indent=1) + "\n")

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: model, optimiser, scheduler, progress, random
        states and ``config``."""
        return {
            "model": _unwrapped(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "progress": {"epoch": self.epoch, "batch": self.batch, "step": self.step, "history": self.history,
                         "best": self.best, "bad_epochs": self.bad_epochs, "running": dict(self._running)},
            "rng": {"convlab": _random.get_rng_state(), "loader": self._loader_generator().bit_generator.state,
                    "loader_epoch_start": self._epoch_start_loader_state},
            "config": self.config,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` (the random states are applied when training resumes)."""
        _unwrapped(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise ValueError(f"Trainer.load_state_dict(): the checkpoint has "
                             f"{'no' if state['scheduler'] is None else 'a'} scheduler state but this trainer has "
                             f"{'none' if self.scheduler is None else type(self.scheduler).__name__}")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        progress = state["progress"]
        self.epoch, self.batch, self.step = progress["epoch"], progress["batch"], progress["step"]
        self.history, self.best, self.bad_epochs = list(progress["history"]), progress["best"], progress["bad_epochs"]
        self._running = _running_of_rank(dict(progress["running"]), self.batch, self.rank, self.world_size)
        self._restored_rng = state["rng"]

    def save_checkpoint(self, name: str) -> str:
        """Write :meth:`state_dict` to ``out_dir/name`` (atomically); returns the path."""
        path = os.path.join(self.out_dir, name)
        save(self.state_dict(), path)
        return path

    def resume(self, path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint` (e.g. ``last.safetensors``)."""
        self.load_state_dict(load(path))


def fit(model, train_loader, val_loader=None, optimizer=None, scheduler=None, epochs: int = 1, *, resume=None,
        **trainer_options) -> list[dict]:
    """Train ``model`` for ``epochs`` epochs; returns the per-epoch metrics history.

    Args:
        model: the network (returns logits).
        train_loader: a :class:`~convlab.data.DataLoader` of ``(inputs, labels)``.
        val_loader: a loader for validation after every epoch (optional).
        optimizer: a ``convlab.optim`` optimiser (default ``Adam(model.parameters(), lr=1e-3)``).
        scheduler: a learning-rate scheduler (optional; see :class:`Trainer`).
        epochs: the total number of epochs (a resumed run counts the epochs already done).
        resume: a checkpoint (``last.safetensors``) to continue from exactly.
        **trainer_options: ``out_dir``, ``scheduler_step``, ``loss_fn``, ``monitor``,
            ``patience``, ``class_names``, ``config``, ``on_step``, ``progress``, ``verbose``,
            ``adversary`` (see :class:`Trainer`).

    Returns:
        A list with one dict per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``lr``,
        ``seconds``, ``images_per_second`` and, with a ``val_loader``, ``val_loss`` and
        ``val_accuracy``.

    Example::

        >>> history = fit(model, train_loader, val_loader, epochs=3, out_dir="runs/demo")
    """
    if optimizer is None:
        from .optim import Adam

        optimizer = Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, optimizer, train_loader, val_loader, scheduler=scheduler, **trainer_options)
    if resume is not None:
        trainer.resume(resume)
    return trainer.fit(epochs)


def _running_of_rank(running: dict, batch: int, rank: int, world_size: int) -> dict:
    """This rank's running sums from a checkpoint (a distributed run stopped mid-epoch saved every
    rank's); such a run resumes only with as many processes, each continuing its own shard."""
    ranks = running.pop("ranks", None)
    saved_by = 1 if ranks is None else len(ranks)
    if batch > 0 and saved_by != world_size:
        raise ValueError(f"Trainer.load_state_dict(): the checkpoint was saved in the middle of an epoch by a run of "
                         f"{saved_by} process(es), this one has {world_size}; resume it with as many (mpiexec -n "
                         f"{saved_by}), or from a checkpoint saved at the end of an epoch")
    if ranks is None:
        return running
    return dict(ranks[rank]) if rank < len(ranks) else {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}


def _launched_by_mpi() -> bool:
    from .distributed import is_mpi_launch

    return is_mpi_launch()


def _unwrapped(model):
    """The model inside a ``DistributedDataParallel`` (checkpoints hold its keys, without ``module.``)."""
    from .nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    write_atomically(path, write, caller="write_text")
