"""convlab.distributed, DistributedDataParallel, SyncBatchNorm and DistributedSampler.

The collectives and DDP run as two real processes (``mpiexec -n 2`` over loopback, one launch for
all of them); their results are compared here with NumPy and with one process training the same
model on the global batch (float64, 1e-6). The sampler is compared with PyTorch's."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch.utils.data

import convlab
import convlab.distributed as dist
from convlab import nn
from convlab.data import DataLoader, DistributedSampler, TensorDataset
from convlab.nn import functional as F
from convlab.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(__file__))
import distributed_worker as worker

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def _mpiexec():
    """The MPI launcher next to this Python (a virtual environment's mpich wheel), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.path.exists(beside) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py and mpiexec (pip install 'convlab[distributed]')")


def mpirun(*args, n=2, timeout=120):
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One ``mpiexec -n 2`` run of all the worker's cases; ``results[case][rank]`` -> arrays."""
    out = tmp_path_factory.mktemp("mpi")
    cases = ("collectives", "ddp", "ddp_no_sync", "syncbn", "trainer")
    done = mpirun(WORKER, ",".join(cases), str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return {case: [dict(np.load(out / f"{case}-rank{r}.npz")) for r in range(2)] for case in cases}


# ------------------------------------------------------------------------------- collectives
@needs_mpi
@pytest.mark.parametrize("dtype", worker.DTYPES)
def test_collectives_equal_numpy(results, dtype):
    inputs = [worker.rank_array(r, dtype) for r in range(2)]
    stacked = np.stack(inputs)
    expected = {"SUM": stacked.any(axis=0) if dtype == "bool" else stacked.sum(axis=0, dtype=dtype),
                "MAX": stacked.max(axis=0), "MIN": stacked.min(axis=0)}
    if dtype.startswith("float"):
        expected["AVG"] = (stacked.astype(np.float64).mean(axis=0)).astype(dtype)
    for rank in range(2):
        got = results["collectives"][rank]
        for op, want in expected.items():
            value = got[f"all_reduce_{op}_{dtype}"]
            assert value.dtype == np.dtype(dtype)
            np.testing.assert_allclose(value.astype(np.float64), want.astype(np.float64),
                                       rtol=1e-3 if dtype == "float16" else 1e-6, err_msg=f"{op} {dtype}")
        np.testing.assert_array_equal(got[f"broadcast_{dtype}"], inputs[1])
        np.testing.assert_array_equal(got[f"all_gather_{dtype}"], stacked)


@needs_mpi
def test_collectives_on_strided_and_async(results):
    for rank in range(2):
        np.testing.assert_array_equal(results["collectives"][rank]["all_reduce_strided"], np.full((4, 3), 3.0))
        assert results["collectives"][rank]["async_completed"]
    assert results["collectives"][0]["errors"].tolist() == [
        "ValueError: broadcast(): src must be a rank in [0, 1], got 2",
        "ValueError: all_gather(): tensor_list must be a list of world_size (2) tensors, got 1 items",
        "TypeError: all_reduce(): ReduceOp.AVG needs a floating-point tensor, got int64",
        "TypeError: all_reduce(): op must be a ReduceOp (SUM, AVG, MAX, MIN), got 'sum'",
    ]


@needs_mpi
def test_a_discarded_ddp_leaves_no_hooks(results):
    """After ``del ddp`` a backward on the bare model gives each rank its own gradient (no
    averaging hook left behind, and no collective that would hang)."""
    a, b = (results["collectives"][r]["grad_local_after_del"] for r in range(2))
    assert not np.allclose(a, b)


# ---------------------------------------------------------------------------------------- DDP
def single_process(batchnorm: bool, accumulate: bool) -> dict:
    """The same model and steps in one process on the global batch (2 x BATCH)."""
    model = worker.net(batchnorm)
    optimizer = convlab.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    images, labels = worker.batches(2)
    half = worker.BATCH // 2
    for k in range(worker.STEPS):
        optimizer.zero_grad()
        if accumulate:  # rank r's first half of its shard, then its second half: two global micro-batches
            for part in (slice(0, half), slice(half, worker.BATCH)):
                idx = np.r_[np.arange(worker.BATCH)[part], worker.BATCH + np.arange(worker.BATCH)[part]]
                F.cross_entropy(model(convlab.tensor(images[k][idx])), convlab.tensor(labels[k][idx])).backward()
        else:
            F.cross_entropy(model(convlab.tensor(images[k])), convlab.tensor(labels[k])).backward()
        optimizer.step()
    return {k: v.numpy() for k, v in model.state_dict().items()}


@needs_mpi
@pytest.mark.parametrize(("case", "batchnorm", "accumulate"),
                         [("ddp", False, False), ("ddp_no_sync", False, True), ("syncbn", True, False)])
def test_ddp_equals_one_process_on_the_global_batch(results, case, batchnorm, accumulate):
    """After 3 SGD steps with batch 4 per rank, both ranks' weights are identical, and equal to
    one process's with batch 8 (with SyncBatchNorm: BatchNorm2d on the 8 images, running
    statistics included)."""
    reference = single_process(batchnorm, accumulate)
    ranks = results[case]
    for key, want in reference.items():
        np.testing.assert_array_equal(ranks[0][f"state.{key}"], ranks[1][f"state.{key}"], err_msg=key)
        np.testing.assert_allclose(ranks[0][f"state.{key}"], want, rtol=0, atol=1e-6, err_msg=key)
    assert int(ranks[0]["buckets"]) > 1
    # gradients are sent while backward still runs: buckets started before the walk ended
    assert (ranks[0]["started_early"] >= 1).all(), ranks[0]["started_early"]
    initial = worker.net(batchnorm).state_dict()
    assert not np.allclose(ranks[0]["state.0.weight"], initial["0.weight"].numpy())  # it did train


# ------------------------------------------------------------------------------ failure handling
@needs_mpi
@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_stops_all_ranks(tmp_path, how):
    """Rank 1 raises (or is killed with SIGKILL) in the middle of DDP training while rank 0 waits
    in a collective: the whole job ends within seconds with a non-zero status, never hangs."""
    started = time.perf_counter()
    done = mpirun(WORKER, how, str(tmp_path), timeout=60)
    assert done.returncode != 0
    assert time.perf_counter() - started < 60
    if how == "raise":
        assert "[rank 1] ValueError: rank 1 fails on purpose" in done.stderr
        assert "aborting all 2 ranks (MPI_Abort)" in done.stderr


# ------------------------------------------------------------------ Trainer and CLI, distributed
@needs_mpi
def test_trainer_resumes_a_distributed_run_bit_for_bit(results):
    """A 2-process Trainer run stopped in the middle of epoch 1 and resumed from its checkpoint
    ends with the same weights (BatchNorm statistics included) and metrics, bit for bit, as the
    uninterrupted run; the ranks agree on everything."""
    ranks = results["trainer"]
    got = ranks[0]
    assert int(got["world_size"]) == 2 and int(got["steps_per_epoch"]) == 6  # ceil(45 / 2) = 23 images, batch 4
    assert got["interrupted"] and got["stopped_at"].tolist() == [0, 4]
    keys = [k[len("full."):] for k in got if k.startswith("full.")]
    assert "0.weight" in keys and "1.running_var" in keys
    for key in keys:
        np.testing.assert_array_equal(got[f"resumed.{key}"], got[f"full.{key}"], err_msg=key)
        np.testing.assert_array_equal(ranks[1][f"full.{key}"], got[f"full.{key}"], err_msg=key)


@needs_mpi
def test_mpiexec_convlab_train(tmp_path):
    """`mpiexec -n 2 python -m convlab train` just works: the global batch is printed, rank 0
    alone prints and writes the run, and the checkpoint is the plain model's (no ``module.``)."""
    out = tmp_path / "run"
    done = mpirun("-m", "convlab", "train", "--dataset", "digits", "--limit", "256", "--batch-size", "32",
                  "--epochs", "1", "--no-progress", "--out", str(out), timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "global batch 32 x 2 = 64" in done.stdout
    assert done.stdout.count("convlab train: mlp on digits") == 1 and done.stdout.count("epoch=1") == 1
    state = convlab.load(out / "last.safetensors")
    assert state["progress"]["step"] == 4  # 128 images per rank, batch 32
    assert all(not key.startswith("module.") for key in state["model"])
    assert (out / "results.json").exists()


# ------------------------------------------------------------------------------ one process
def test_importing_convlab_starts_no_mpi():
    code = "import sys, convlab, convlab.distributed, convlab.nn.parallel; print('mpi4py' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"


def test_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    with pytest.raises(RuntimeError, match=r"pip install 'convlab\[distributed\]'"):
        dist.init_process_group(backend="mpi")
    assert not dist.is_initialized()


def test_bad_arguments_and_uninitialised_group():
    with pytest.raises(ValueError, match="backend must be 'mpi'.*got 'nccl'"):
        dist.init_process_group(backend="nccl")
    with pytest.raises(ValueError, match="init_method must be None"):
        dist.init_process_group(init_method="tcp://localhost:23456")
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(convlab.ones(2))):
        with pytest.raises(RuntimeError, match="Default process group has not been initialized"):
            call()
    with pytest.raises(RuntimeError, match=r"DistributedDataParallel\(\): Default process group has not"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="init_process_group\\(\\) has not been called; pass them"):
        DistributedSampler(range(10))


def test_mpi_launch_is_read_from_the_environment(monkeypatch):
    for name in dist._WORLD_SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not dist.is_mpi_launch()
    monkeypatch.setenv("PMI_SIZE", "1")  # mpiexec -n 1: a plain run
    assert not dist.is_mpi_launch()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert dist.is_mpi_launch()


# ------------------------------------------------------------------------- DistributedSampler
@pytest.mark.parametrize("n", [10, 11, 13, 3])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


@pytest.mark.parametrize("n", [100, 101, 7])
def test_sampler_shards_are_disjoint_cover_and_change_with_the_epoch(n):
    replicas = 3
    samplers = [DistributedSampler(range(n), replicas, r, seed=5) for r in range(replicas)]
    shards = [list(s) for s in samplers]
    assert len({len(s) for s in shards}) == 1  # equal lengths (padded)
    flat = [i for s in shards for i in s]
    assert set(flat) == set(range(n))  # cover the dataset
    assert len(flat) - len(set(flat)) == samplers[0].total_size - n  # only the padding repeats
    if n % replicas == 0:
        assert not set(shards[0]) & set(shards[1])
    first = [list(s) for s in samplers]
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert first != second and {i for shard in second for i in shard} == set(range(n))
    for s in samplers:
        s.set_epoch(0)
    assert [list(s) for s in samplers] == first  # a pure function of (seed, epoch)
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(n), 3, 3)


def test_dataloader_takes_a_sampler():
    dataset = TensorDataset(convlab.arange(10))
    sampler = DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=False)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler)
    assert len(loader) == 3
    assert [b[0].tolist() for b in loader] == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(dataset, shuffle=True, sampler=sampler)


# --------------------------------------------------------------------------- engine hooks
def test_post_accumulate_grad_hook_like_torch():
    """The hook runs with ``.grad`` final, as soon as the parameter's last gradient arrives (here
    before the earlier layer's gradient exists), and as often as PyTorch's."""
    import torch

    def run(lib, make):
        first, second = make(), make()
        calls = []
        for name, p in (("first", first), ("second", second)):
            p.register_post_accumulate_grad_hook(
                lambda t, name=name: calls.append((name, t.grad.numpy().copy().tolist(), first.grad is None)))
        x = lib.ones(3, dtype=lib.float64)
        ((x * first).sum() * 2 + (x * first * second).sum()).backward()
        return calls

    def convlab_leaf():
        return convlab.tensor([1.0, 2.0, 3.0], dtype=convlab.float64, requires_grad=True)

    def torch_leaf():
        return torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)

    assert run(convlab, convlab_leaf) == run(torch, torch_leaf)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (convlab_leaf() * 2).register_post_accumulate_grad_hook(print)


def test_queue_callback_runs_after_the_walk():
    from convlab.autograd.engine import queue_callback

    w = convlab.ones(2, requires_grad=True)
    seen = []
    w.register_hook(lambda g: queue_callback(lambda: seen.append(w.grad.tolist())))
    (w * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    with pytest.raises(RuntimeError, match="only valid during a backward pass"):
        queue_callback(print)


def test_sync_batchnorm_without_a_group_is_batchnorm():
    """Converted layers share the BatchNorm's parameters, buffers and state_dict keys; without a
    process group (or in evaluation) SyncBatchNorm computes what BatchNorm2d computes."""
    convlab.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, momentum=None), nn.ReLU())
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(plain)
    assert isinstance(synced[1], nn.SyncBatchNorm) and synced[1].weight is plain[1].weight
    assert synced[1].running_mean is plain[1].running_mean and synced[1].momentum is None
    assert list(synced.state_dict()) == list(plain.state_dict())
    reference = nn.BatchNorm2d(3, momentum=None)
    reference.load_state_dict(plain[1].state_dict())
    x = convlab.randn(4, 3, 5, 5)
    for training in (True, False):
        synced[1].train(training), reference.train(training)
        with convlab.no_grad():
            np.testing.assert_allclose(synced[1](x).numpy(),
                                       reference(x).numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(synced[1].running_var.numpy(), reference.running_var.numpy())
    with pytest.raises(ValueError, match="process_group must be None"):
        nn.SyncBatchNorm(3, process_group="world")
