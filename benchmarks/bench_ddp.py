"""Data-parallel training cost: ``fmnist_cnn`` steps in 1 and 2 MPI processes (DistributedDataParallel).

Run it plainly; it times one process itself, then starts ``mpiexec -n 2`` on itself for the rest::

    python benchmarks/bench_ddp.py [--batch 64] [--steps 5] [--rounds 3] [--resnet18]

Each process trains on its own batch of ``--batch`` random 1x28x28 images (a global batch of
N x batch). Under ``mpiexec`` four variants are timed, alternated round by round, best round kept
(the slowest rank's time, all ranks starting together after a barrier):

- ``compute``: forward + backward (inside ``no_sync``: no communication) + step;
- ``ddp``: the real thing - buckets all-reduced with ``MPI_Iallreduce`` as backward produces them;
- ``no overlap``: backward inside ``no_sync``, then the same buckets all-reduced one after the
  other with blocking ``MPI_Allreduce``, then step (what DDP would cost without overlap);
- ``comm``: those blocking all-reduces alone.

The share of communication hidden behind backward is ``(no overlap - ddp) / comm``. Bytes
all-reduced per step are the gradient buckets' sizes; a ring all-reduce sends 2(N-1)/N times that
per process. On a 2-core machine the two processes also share the cores, so the 2-process step is
not faster than the 1-process one: see docs/distributed.md for the model of N machines.
``--resnet18`` also times one process's ``resnet18`` step (3x224x224, batch 8) for that model.

Last, the predicted speed-up on N = 2...64 machines (docs/distributed.md): one step costs
``T1 + (1 - h) * Tcomm(N)`` with ``Tcomm(N) = 2(N-1)/N * bytes / bandwidth + 2(N-1) * buckets *
latency`` (a ring all-reduce), ``h`` the hidden share; speed-up = N * T1 / step. ``--fmnist-ms``
and ``--resnet18-s`` replace the measured single-process step times (e.g. by figures from a quiet
machine), ``--hidden`` the hidden share.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import timing

import convlab
from convlab import models
from convlab.nn import functional as F


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="images per process and step (default 64)")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed block (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the variants (default 3)")
    parser.add_argument("--resnet18", action="store_true", help="also time one resnet18 step in one process")
    parser.add_argument("--fmnist-ms", type=float, help="fmnist_cnn step time for the prediction (default: measured)")
    parser.add_argument("--resnet18-s", type=float, help="resnet18 step time for the prediction (default: measured "
                        "with --resnet18)")
    parser.add_argument("--hidden", type=float, help="hidden share for the prediction (default: measured)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def batch(size, shape=(1, 28, 28), classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return (convlab.tensor(rng.standard_normal((size, *shape)).astype(np.float32)),
            convlab.tensor(rng.integers(0, classes, size)))


def single_process_step(model, x, y, steps: int, rounds: int) -> float:
    """Best seconds per step of plain training (no DDP) in this process."""
    optimizer = convlab.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    step()  # warm-up (compilation)
    best = float("inf")
    for _ in range(rounds):
        time.sleep(0.15)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def worker(args) -> None:
    import convlab.distributed as dist
    from convlab.nn.parallel import DistributedDataParallel

    dist.init_process_group(backend="mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    convlab.manual_seed(0)
    ddp = DistributedDataParallel(models.fmnist_cnn())
    optimizer = convlab.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    x, y = batch(args.batch, seed=rank)
    comm, mpi = ddp._comm, ddp._mpi

    def compute():
        optimizer.zero_grad()
        with ddp.no_sync():
            F.cross_entropy(ddp(x), y).backward()
        optimizer.step()

    def reduce_buckets():  # what DDP sends, blocking, one bucket after the other
        for bucket in ddp._buckets:
            comm.Allreduce(mpi.IN_PLACE, bucket.buffer, mpi.SUM)

    def no_overlap():
        optimizer.zero_grad()
        with ddp.no_sync():
            F.cross_entropy(ddp(x), y).backward()
        for bucket in ddp._buckets:
            for i, p in enumerate(bucket.params):
                bucket.buffer[bucket.offsets[i]:bucket.offsets[i + 1]] = p.grad.data.ravel()
        reduce_buckets()
        for bucket in ddp._buckets:
            bucket.buffer *= 1.0 / size
            for i, p in enumerate(bucket.params):
                p.grad.data[...] = bucket.buffer[bucket.offsets[i]:bucket.offsets[i + 1]].reshape(p.data.shape)
        optimizer.step()

    def overlapped():
        optimizer.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        optimizer.step()

    variants = {"compute": compute, "ddp": overlapped, "no overlap": no_overlap, "comm": reduce_buckets}
    for fn in variants.values():  # warm-up
        fn()
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(args.rounds):
        for name, fn in variants.items():
            time.sleep(0.15)
            dist.barrier()
            start = time.perf_counter()
            for _ in range(args.steps):
                fn()
            seconds = np.array([(time.perf_counter() - start) / args.steps])
            dist.all_reduce(seconds, op=dist.ReduceOp.MAX)  # the slowest rank sets the pace
            best[name] = min(best[name], float(seconds[0]))
    if rank == 0:
        nbytes = sum(bucket.buffer.nbytes for bucket in ddp._buckets)
        print(json.dumps({"processes": size, "buckets": len(ddp._buckets), "bytes": nbytes, **best}))
    dist.destroy_process_group()


NETWORKS = ((10e9, 30e-6, "10 Gbit/s (TCP, 30 us)"), (100e9, 3e-6, "100 Gbit/s (RDMA, 3 us)"))


def predicted_step(t1: float, nbytes: float, buckets: int, n: int, bandwidth: float, latency: float,
                   hidden: float) -> float:
    """Seconds per step on ``n`` machines: compute plus the ring all-reduce's exposed part."""
    comm = 2 * (n - 1) / n * nbytes * 8 / bandwidth + 2 * (n - 1) * buckets * latency
    return t1 + (1 - hidden) * comm


def print_prediction(models_: dict, hidden: float) -> None:
    """``models_``: name -> (single-process seconds per step, bytes all-reduced, buckets)."""
    print(f"\npredicted speed-up (efficiency) on N machines, hidden share {hidden:.0%}:")
    print("  N" + "".join(f" | {name + ' ' + label.split(' (')[0]:<22}" for name in models_ for _, _, label in NETWORKS))
    for n in (2, 4, 8, 16, 32, 64):
        cells = []
        for t1, nbytes, buckets in models_.values():
            for bandwidth, latency, _ in NETWORKS:
                speedup = n * t1 / predicted_step(t1, nbytes, buckets, n, bandwidth, latency, hidden)
                cells.append(f" | {f'{speedup:5.1f} ({speedup / n:.0%})':<22}")
        print(f"{n:>3}" + "".join(cells))


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args)
        return
    print(f"# bench_ddp: fmnist_cnn, batch {args.batch} per process, best of {args.rounds} rounds of {args.steps} "
          f"steps; {os.cpu_count()} CPUs (the processes share them)")
    print(f"# CPU: {timing.cpu_description()}")
    convlab.manual_seed(0)
    one = single_process_step(models.fmnist_cnn(), *batch(args.batch), args.steps, args.rounds)
    print(f"1 process:   {one * 1e3:8.1f} ms/step  ({args.batch / one:.0f} images/s)")
    launcher = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    launcher = launcher if os.path.exists(launcher) else "mpiexec"
    done = subprocess.run([launcher, "-n", "2", sys.executable, __file__, "--worker", "--batch", str(args.batch),
                           "--steps", str(args.steps), "--rounds", str(args.rounds)],
                          capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"mpiexec -n 2 failed:\n{done.stdout}\n{done.stderr}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    n = r["processes"]
    hidden = min(max((r["no overlap"] - r["ddp"]) / r["comm"], 0.0), 1.0) if r["comm"] > 0 else 0.0
    print(f"{n} processes: {r['ddp'] * 1e3:8.1f} ms/step with DDP ({n * args.batch / r['ddp']:.0f} images/s, global "
          f"batch {n * args.batch})")
    print(f"  compute alone (no communication)   {r['compute'] * 1e3:8.1f} ms/step")
    print(f"  DDP without overlap                {r['no overlap'] * 1e3:8.1f} ms/step")
    print(f"  blocking all-reduces alone         {r['comm'] * 1e3:8.1f} ms/step")
    print(f"  all-reduced per step: {r['bytes'] / 1e6:.2f} MB in {r['buckets']} buckets (ring: "
          f"{2 * (n - 1) / n * r['bytes'] / 1e6:.2f} MB sent per process)")
    print(f"  communication hidden behind backward: {hidden:.0%}")
    predicted = {"fmnist_cnn": ((args.fmnist_ms / 1e3) if args.fmnist_ms else one, r["bytes"], r["buckets"])}
    resnet_s = args.resnet18_s
    if args.resnet18:
        convlab.manual_seed(0)
        resnet_s = single_process_step(models.resnet18(), *batch(8, (3, 224, 224), 1000), 1, 2)
        print(f"resnet18, 1 process, batch 8 at 224x224: {resnet_s:.2f} s/step")
    if resnet_s:
        from convlab.nn.parallel import DistributedDataParallel

        buckets = DistributedDataParallel._make_buckets(list(models.resnet18().parameters()), 25)
        predicted["resnet18"] = (resnet_s, sum(b.buffer.nbytes for b in buckets), len(buckets))
    print_prediction(predicted, hidden if args.hidden is None else args.hidden)


if __name__ == "__main__":
    main()
