"""Run by tests/test_distributed.py under ``mpiexec -n 2``: ``python distributed_worker.py CASE OUT_DIR``.

Each rank writes what it computed to ``OUT_DIR/<case>-rank<r>.npz``; the tests compare those
arrays with NumPy and with single-process runs of the same model on the global batch.
"""

from __future__ import annotations

import os
import signal
import sys

import numpy as np

import convlab
import convlab.distributed as dist
from convlab import nn
from convlab.nn import functional as F
from convlab.nn.parallel import DistributedDataParallel

DTYPES = ("float32", "float64", "int32", "int64", "uint8", "float16", "bool")
STEPS, BATCH = 3, 4  # DDP steps, batch per rank


def rank_array(rank: int, dtype: str, shape=(3, 5)) -> np.ndarray:
    """Rank ``rank``'s random input for the collectives (the tests rebuild it the same way)."""
    rng = np.random.default_rng([rank, DTYPES.index(dtype)])
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 50, shape).astype(dtype)


def collectives(rank: int, size: int) -> dict:
    out = {}
    for dtype in DTYPES:
        for op in ("SUM", "AVG", "MAX", "MIN"):
            if op == "AVG" and not dtype.startswith("float"):
                continue
            t = convlab.tensor(rank_array(rank, dtype))
            dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
            out[f"all_reduce_{op}_{dtype}"] = t.numpy()
        a = rank_array(rank, dtype)
        dist.broadcast(a, src=1)  # a NumPy array, in place
        out[f"broadcast_{dtype}"] = a
        parts = [convlab.tensor(np.zeros((3, 5), dtype=dtype)) for _ in range(size)]
        dist.all_gather(parts, convlab.tensor(rank_array(rank, dtype)))
        out[f"all_gather_{dtype}"] = np.stack([p.numpy() for p in parts])
    strided = np.zeros((4, 6))[:, ::2]  # not contiguous: reduced through a copy, written back
    strided[...] = rank + 1
    dist.all_reduce(strided)
    out["all_reduce_strided"] = strided
    work = dist.all_reduce(convlab.tensor(rank_array(rank, "float64")), async_op=True)
    out["async_completed"] = np.array(work.wait())
    errors = []
    for call in (lambda: dist.broadcast(convlab.zeros(2), src=size),
                 lambda: dist.all_gather([convlab.zeros(2)], convlab.zeros(2)),
                 lambda: dist.all_reduce(convlab.zeros(2, dtype=convlab.int64), op=dist.ReduceOp.AVG),
                 lambda: dist.all_reduce(convlab.zeros(2), op="sum")):
        try:
            call()
        except (TypeError, ValueError) as error:
            errors.append(f"{type(error).__name__}: {error}")
    out["errors"] = np.array(errors)
    model = net(False)
    hooked = DistributedDataParallel(model)
    del hooked  # a discarded wrapper leaves no hook on the parameters
    images, labels = batches(size)
    mine = slice(rank * BATCH, (rank + 1) * BATCH)  # each rank its own images
    F.cross_entropy(model(convlab.tensor(images[0][mine])), convlab.tensor(labels[0][mine])).backward()
    out["grad_local_after_del"] = model[0].weight.grad.numpy()
    return out


def net(batchnorm: bool):
    """A small float64 CNN; with ``batchnorm`` one BatchNorm2d after the convolution."""
    convlab.manual_seed(0)
    layers = [nn.Conv2d(1, 4, 3, padding=1)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(4))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5)]
    return nn.Sequential(*layers).to(convlab.float64)


def batches(size: int):
    """``STEPS`` global batches (size * BATCH images and labels), the same on every rank."""
    rng = np.random.default_rng(7)
    return rng.standard_normal((STEPS, size * BATCH, 1, 6, 6)), rng.integers(0, 5, (STEPS, size * BATCH))


def ddp_training(rank: int, size: int, batchnorm: bool, accumulate: bool) -> dict:
    """``STEPS`` SGD steps of DDP on this rank's quarter of each global batch; with ``accumulate``
    each step is two half-batches, the first under ``no_sync``."""
    model = net(batchnorm)
    if rank == 1:  # construction must broadcast rank 0's weights over whatever this rank holds
        for p in model.parameters():
            p.data[...] = 0.5
    if batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DistributedDataParallel(model, bucket_cap_mb=1e-4)  # tiny buckets: several per backward
    started_early = []
    finish = ddp._finish_pass

    def finish_and_count():  # how many buckets were already sent when the backward walk ended
        started_early.append(ddp._next_bucket)
        finish()

    ddp._finish_pass = finish_and_count
    optimizer = convlab.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    images, labels = batches(size)
    mine = slice(rank * BATCH, (rank + 1) * BATCH)
    for k in range(STEPS):
        x, y = convlab.tensor(images[k][mine]), convlab.tensor(labels[k][mine])
        optimizer.zero_grad()
        if accumulate:
            with ddp.no_sync():
                F.cross_entropy(ddp(x[: BATCH // 2]), y[: BATCH // 2]).backward()
            F.cross_entropy(ddp(x[BATCH // 2:]), y[BATCH // 2:]).backward()
        else:
            F.cross_entropy(ddp(x), y).backward()
        optimizer.step()
    out = {f"state.{k}": v.numpy() for k, v in model.state_dict().items()}
    out["buckets"] = np.array(len(ddp._buckets))
    out["started_early"] = np.array(started_early)
    return out


def trainer_runs(rank: int, size: int, out_dir: str) -> dict:
    """Trainer under mpiexec: 2 epochs in one go, and 2 epochs stopped by a KeyboardInterrupt in
    the middle of epoch 1 (on every rank at the same step) and resumed from ``last.safetensors``
    by a new model, optimiser and Trainer."""
    from convlab.data import DataLoader, TensorDataset
    from convlab.train import Trainer

    rng = np.random.default_rng(3)
    train = TensorDataset(convlab.tensor(rng.standard_normal((45, 1, 6, 6))), convlab.tensor(rng.integers(0, 5, 45)))
    val = TensorDataset(convlab.tensor(rng.standard_normal((13, 1, 6, 6))), convlab.tensor(rng.integers(0, 5, 13)))

    def run(name, **options):
        model = net(True)  # with BatchNorm: its running statistics are part of the state
        optimizer = convlab.optim.Adam(model.parameters(), lr=1e-2)
        loader = DataLoader(train, batch_size=4, shuffle=True, generator=np.random.default_rng(1))
        trainer = Trainer(model, optimizer, loader, DataLoader(val, batch_size=5), out_dir=os.path.join(out_dir, name),
                          progress=False, verbose=False, **options)
        return trainer

    full = run("full")
    full.fit(2)

    def interrupt(trainer):
        if trainer.step == 4:  # epoch 1 has 6 steps per rank (23 images per rank, batch 4)
            raise KeyboardInterrupt

    stopped = run("part", on_step=interrupt)
    stopped.fit(2)
    dist.barrier()  # rank 0 has written part/last.safetensors
    resumed = run("part")
    resumed.resume(os.path.join(out_dir, "part", "last.safetensors"))
    resumed.fit(2)
    out = {"world_size": np.array(full.world_size), "stopped_at": np.array([stopped.epoch, stopped.batch]),
           "interrupted": np.array(stopped.interrupted), "steps_per_epoch": np.array(len(full.train_loader))}
    for name, trainer in (("full", full), ("resumed", resumed)):
        for key, value in trainer.model.module.state_dict().items():
            out[f"{name}.{key}"] = value.numpy()
        out[f"{name}.val_loss"] = np.array([row["val_loss"] for row in trainer.history])
        out[f"{name}.train_loss"] = np.array([row["train_loss"] for row in trainer.history])
    return out


def fail(rank: int, size: int, how: str) -> None:
    """Train a few DDP steps; rank 1 raises (``raise``) or kills itself (``kill``) at step 2."""
    ddp = DistributedDataParallel(net(False))
    optimizer = convlab.optim.SGD(ddp.parameters(), lr=0.1)
    images, labels = batches(size)
    for k in range(1000):
        if rank == 1 and k == 2:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise ValueError("rank 1 fails on purpose")
        optimizer.zero_grad()
        F.cross_entropy(ddp(convlab.tensor(images[k % STEPS][:BATCH])), convlab.tensor(labels[k % STEPS][:BATCH])).backward()
        optimizer.step()


def main(case: str, out_dir: str) -> None:
    dist.init_process_group(backend="mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    if case in ("raise", "kill"):
        fail(rank, size, case)
        return
    results = {
        "collectives": lambda: collectives(rank, size),
        "ddp": lambda: ddp_training(rank, size, batchnorm=False, accumulate=False),
        "ddp_no_sync": lambda: ddp_training(rank, size, batchnorm=False, accumulate=True),
        "syncbn": lambda: ddp_training(rank, size, batchnorm=True, accumulate=False),
        "trainer": lambda: trainer_runs(rank, size, out_dir),
    }
    for name in case.split(","):
        np.savez(os.path.join(out_dir, f"{name}-rank{rank}.npz"), **results[name]())
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
