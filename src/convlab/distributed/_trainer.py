"""What :class:`convlab.train.Trainer` does differently when it runs as one of N MPI processes.

- the model is wrapped in :class:`~convlab.nn.parallel.DistributedDataParallel` (rank 0's
  weights broadcast, gradients averaged), the training loader rebuilt over a
  :class:`~convlab.data.DistributedSampler` (same batch size per process: the global batch is
  N times ``batch_size``, and that is printed, not hidden);
- only rank 0 shows progress, prints and writes files (checkpoints are atomic writes anyway);
- every step the ranks agree, in one small all-reduce, on whether a loss was non-finite and
  whether Ctrl-C was pressed, so they all raise or all stop at the same step boundary - never
  one rank leaving while the others wait for it;
- validation runs on all ranks, each on every N-th image (no padding: the metrics are those of
  the whole set), and the per-rank sums are gathered and added in rank order on every rank, so
  every rank takes the same decisions (best checkpoint, early stopping, ReduceLROnPlateau).
"""

from __future__ import annotations

import numpy as np

from . import ReduceOp, all_gather_into_tensor, all_reduce, get_rank, get_world_size, init_process_group, is_initialized


class DistributedRun:
    """Turns ``trainer`` (a :class:`~convlab.train.Trainer` being constructed) into one rank of
    a data-parallel run; the Trainer then calls the methods below at its few decision points."""

    def __init__(self, trainer):
        from ..data import DataLoader, DistributedSampler
        from ..nn.parallel import DistributedDataParallel

        if not is_initialized():
            init_process_group(backend="mpi")
        self.rank, self.world_size = get_rank(), get_world_size()
        if not isinstance(trainer.model, DistributedDataParallel):
            trainer.model = DistributedDataParallel(trainer.model)
        loader = trainer.train_loader
        if not isinstance(getattr(loader, "sampler", None), DistributedSampler):
            # the permutation's seed comes from the loader's generator, seeded alike on every rank
            seed = int(loader.generator.integers(2**31)) if loader.generator is not None else 0
            sampler = DistributedSampler(loader.dataset, self.world_size, self.rank, shuffle=loader.shuffle, seed=seed)
            trainer.train_loader = DataLoader(loader.dataset, loader.batch_size, collate_fn=loader.collate_fn,
                                              drop_last=loader.drop_last, generator=loader.generator,
                                              prefetch=loader.prefetch, sampler=sampler)
        if self.rank != 0:
            trainer.out_dir, trainer.progress, trainer.verbose = None, False, False
        else:
            batch = trainer.train_loader.batch_size
            print(f"distributed: {self.world_size} processes (MPI), batch {batch} per process, global batch "
                  f"{batch} x {self.world_size} = {batch * self.world_size}; rank 0 logs and writes checkpoints")

    def step_ok(self, loss_value: float, interrupt) -> bool:
        """Whether the loss is finite on every rank; also spreads a Ctrl-C seen by any rank to all."""
        flags = np.array([not np.isfinite(loss_value), interrupt is not None and interrupt.requested], dtype=np.int32)
        all_reduce(flags, op=ReduceOp.MAX)
        if flags[1] and interrupt is not None:
            interrupt.requested = True
        return not flags[0]

    def _gather(self, values) -> np.ndarray:
        """``(world_size, k)``: every rank's ``values`` (k floats), the same array on every rank."""
        mine = np.asarray(values, dtype=np.float64)
        out = np.empty((self.world_size, mine.size))
        all_gather_into_tensor(out, mine)
        return out

    def total(self, running: dict) -> dict:
        """The epoch's running sums over all ranks (seconds: the slowest rank's)."""
        rows = self._gather([running["loss"], running["correct"], running["seen"], running["seconds"]])
        loss, correct, seen = (float(sum(rows[:, j])) for j in range(3))  # added in rank order: equal everywhere
        return {"loss": loss, "correct": int(correct), "seen": int(seen), "seconds": float(rows[:, 3].max())}

    def running_by_rank(self, running: dict) -> list:
        """Every rank's running sums (for a checkpoint in the middle of an epoch)."""
        rows = self._gather([running["loss"], running["correct"], running["seen"], running["seconds"]])
        return [{"loss": float(r[0]), "correct": int(r[1]), "seen": int(r[2]), "seconds": float(r[3])} for r in rows]

    def evaluate(self, model, loader, loss_fn, progress, desc) -> dict:
        """:func:`convlab.train.evaluate` over the whole of ``loader``'s dataset, every rank taking
        every N-th image, with rank 0's buffers (BatchNorm statistics) on all ranks."""
        from ..data import DataLoader, Subset
        from ..train import evaluate

        model.sync_buffers()
        n = len(loader.dataset)
        shard = DataLoader(Subset(loader.dataset, range(self.rank, n, self.world_size)), loader.batch_size,
                           collate_fn=loader.collate_fn, prefetch=loader.prefetch)
        part = evaluate(model, shard, loss_fn, progress, desc)
        size = -(-n // self.world_size)  # the largest shard; the others are padded to it with -1
        count = len(part["targets"])
        mine = np.full((2, size), -1, dtype=np.int64)
        mine[0, :count], mine[1, :count] = part["predictions"], part["targets"]
        gathered = np.empty((self.world_size, 2, size), dtype=np.int64)
        all_gather_into_tensor(gathered, mine)
        predictions, targets = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        for r in range(self.world_size):
            k = len(range(r, n, self.world_size))
            predictions[r::self.world_size], targets[r::self.world_size] = gathered[r, 0, :k], gathered[r, 1, :k]
        loss = float(sum(self._gather([part["loss"] * count])[:, 0])) / n
        return {"loss": loss, "accuracy": float(np.mean(predictions == targets)), "predictions": predictions,
                "targets": targets}
