"""convlab.backend.cpu_kernels: every op with a compiled CPU path checked against PyTorch through
both paths (the compiled kernels and the NumPy fallback) on the same realistic shapes (32
channels at 28x28, batch 8), the switch (``CONVLAB_KERNELS``, ``disabled()``), the predicate,
the CPU runtime settings (applied by ``tuned()`` only, never at import), and convlab without
numba (an interpreter where importing numba fails)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from kernel_paths import kernel_path  # noqa: F401  (the fixture)
from parity import check, to_torch

import convlab
import convlab.nn.functional as F
from convlab import nn, optim
from convlab.backend import cpu_kernels

TESTS = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(TESTS), "src")
BATCH, CHANNELS, SIZE = 8, 32, 28
TOL = dict(rtol=2e-4, atol=2e-4)  # float32 sums of a few hundred products


def _randn(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _image(channels=CHANNELS, size=SIZE, seed=0):
    return _randn(BATCH, channels, size, size, seed=seed)


# name -> (convlab function, torch function, arrays): each a forward + backward of every input
OPS = {
    "conv2d 3x3": (
        lambda x, w, b: F.conv2d(x, w, b, padding=1),
        lambda x, w, b: TF.conv2d(x, w, b, padding=1),
        lambda: (_image(), _randn(CHANNELS, CHANNELS, 3, 3, seed=1, scale=0.1), _randn(CHANNELS, seed=2)),
    ),
    "conv2d 3x3 stride 2": (
        lambda x, w: F.conv2d(x, w, stride=2, padding=1),
        lambda x, w: TF.conv2d(x, w, stride=2, padding=1),
        lambda: (_image(), _randn(CHANNELS, CHANNELS, 3, 3, seed=1, scale=0.1)),
    ),
    "conv1d k5": (
        lambda x, w, b: F.conv1d(x, w, b, padding=2),
        lambda x, w, b: TF.conv1d(x, w, b, padding=2),
        lambda: (_randn(BATCH, CHANNELS, SIZE * SIZE), _randn(CHANNELS, CHANNELS, 5, seed=1, scale=0.1), _randn(CHANNELS)),
    ),
    "conv2d depthwise": (
        lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=CHANNELS),
        lambda x, w, b: TF.conv2d(x, w, b, padding=1, groups=CHANNELS),
        lambda: (_image(), _randn(CHANNELS, 1, 3, 3, seed=1), _randn(CHANNELS, seed=2)),
    ),
    "conv_transpose2d k4 s2": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
        lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1),
        lambda: (_image(size=SIZE // 2), _randn(CHANNELS, CHANNELS, 4, 4, seed=1, scale=0.1)),
    ),
    "max_pool2d": (
        lambda x: F.max_pool2d(x, 2),
        lambda x: TF.max_pool2d(x, 2),
        lambda: (_image(),),
    ),
    "batch_norm (training)": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        lambda: (_image(), _randn(CHANNELS, seed=1), _randn(CHANNELS, seed=2)),
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (SIZE,), w, b),
        lambda x, w, b: TF.layer_norm(x, (SIZE,), w, b),
        lambda: (_image(), _randn(SIZE, seed=1), _randn(SIZE, seed=2)),
    ),
    "relu": (F.relu, TF.relu, lambda: (_image(),)),
    "gelu": (F.gelu, TF.gelu, lambda: (_image(),)),
    "interpolate bilinear": (
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
        lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear"),
        lambda: (_image(size=SIZE // 2),),
    ),
}


def _assert_ran(kernel_path):
    """The compiled kernels took the arrays on the compiled path, and never on the NumPy one."""
    assert kernel_path.accepted, "no op asked cpu_kernels.accepts"
    assert any(kernel_path.accepted) if kernel_path == "compiled" else not any(kernel_path.accepted)


@pytest.mark.parametrize("name", list(OPS))
def test_op_matches_torch_on_both_paths(name, kernel_path):
    cl_fn, th_fn, arrays = OPS[name]
    check(cl_fn, th_fn, *arrays(), **TOL)
    _assert_ran(kernel_path)


OPTIMIZERS = {
    "SGD nesterov": (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    "Adam amsgrad": (optim.Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True, weight_decay=1e-2)),
    "AdamW": (optim.AdamW, torch.optim.AdamW, dict(lr=1e-2)),
    "RMSprop centered": (optim.RMSprop, torch.optim.RMSprop, dict(lr=1e-2, momentum=0.5, centered=True)),
    "Adagrad": (optim.Adagrad, torch.optim.Adagrad, dict(lr=1e-1, weight_decay=1e-2)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_step_matches_torch_on_both_paths(name, kernel_path):
    """Three steps on a conv layer's weight and bias, the same gradients fed to both libraries."""
    cl_cls, th_cls, kwargs = OPTIMIZERS[name]
    inits = [_randn(CHANNELS, CHANNELS, 3, 3, seed=1), _randn(CHANNELS, seed=2)]
    cl_params = [nn.Parameter(convlab.tensor(a)) for a in inits]
    th_params = [torch.nn.Parameter(to_torch(a)) for a in inits]
    cl_opt, th_opt = cl_cls(cl_params, **kwargs), th_cls(th_params, **kwargs)
    for step in range(3):
        for k, (c, t) in enumerate(zip(cl_params, th_params)):
            g = _randn(*c.shape, seed=10 * step + k)
            c.grad, t.grad = convlab.tensor(g), torch.from_numpy(g.copy())
        cl_opt.step()
        th_opt.step()
    for c, t in zip(cl_params, th_params):
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    _assert_ran(kernel_path)


# ------------------------------------------------------------------------------ the switch
def test_disabled_forces_the_numpy_path_and_nests():
    x = np.ones(4, np.float32)
    if not cpu_kernels.enabled():
        pytest.skip("compiled kernels unavailable or switched off")
    assert cpu_kernels.enabled() and cpu_kernels.accepts(x)
    with cpu_kernels.disabled():
        with cpu_kernels.disabled():
            assert not cpu_kernels.accepts(x)
        assert not cpu_kernels.enabled()
    assert cpu_kernels.enabled()


def test_environment_switch(monkeypatch):
    monkeypatch.setenv("CONVLAB_KERNELS", "0")
    assert not cpu_kernels.enabled() and not cpu_kernels.accepts(np.ones(4))
    monkeypatch.setenv("CONVLAB_KERNELS", "yes")
    with pytest.raises(ValueError, match="CONVLAB_KERNELS: expected 0 .* or 1 .*, got 'yes'"):
        cpu_kernels.enabled()


@pytest.mark.skipif(not cpu_kernels.enabled(), reason="compiled kernels unavailable")
def test_accepts_is_the_one_predicate():
    a = np.zeros((4, 5), np.float32)
    assert cpu_kernels.accepts(a, a.copy(), same_shape=True, contiguous=True, writable=True)
    assert not cpu_kernels.accepts(a.astype(np.float16))  # numba has no float16
    assert not cpu_kernels.accepts(a.astype(np.int64))
    assert cpu_kernels.accepts(a.astype(np.int64), dtypes=(np.dtype(np.int64),))
    assert not cpu_kernels.accepts(a, a.astype(np.float64))  # dtypes differ
    assert not cpu_kernels.accepts(a.tolist())  # not an ndarray
    assert not cpu_kernels.accepts(a, a[:2], same_shape=True) and cpu_kernels.accepts(a, a[:2])
    assert not cpu_kernels.accepts(a, a.T, contiguous=True)
    frozen = a.copy()
    frozen.flags.writeable = False
    assert not cpu_kernels.accepts(a, frozen, writable=True)
    assert not cpu_kernels.accepts(a, min_size=21) and cpu_kernels.accepts(a, min_size=20)


@pytest.mark.skipif(not cpu_kernels.available(), reason="numba is not installed")
def test_cpu_features_follow_numba():
    from numba.core import codegen, config

    flat = config.CPU_FEATURES or codegen.get_host_cpu_features()
    assert cpu_kernels.cpu_features() == {f[1:] for f in flat.split(",") if f.startswith("+")}
    assert cpu_kernels.has_avx512() == ("+avx512f" in flat.split(","))
    assert 1 <= cpu_kernels.threads() <= cpu_kernels.max_threads()


# ------------------------------------------------------------------------------ runtime settings
def _python(code, env=None, block_numba=False):
    """Run ``code`` in a fresh interpreter with this checkout's convlab; ``(returncode, stdout, stderr)``."""
    prelude = f"import sys; sys.path.insert(0, {TESTS!r}); import without_numba; without_numba.block(); " if block_numba else ""
    environ = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    done = subprocess.run([sys.executable, "-c", prelude + code], env=environ, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


_BLAS_THREADS = "[p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']"


def test_import_changes_no_process_state():
    """``import convlab`` leaves the BLAS thread counts alone and does not load numba."""
    code = (
        "import json, sys, numpy; from threadpoolctl import threadpool_info; "
        f"before = {_BLAS_THREADS}; import convlab; after = {_BLAS_THREADS}; "
        "print(json.dumps([before, after, 'numba' in sys.modules]))"
    )
    rc, out, err = _python(code)
    assert rc == 0, err
    before, after, numba_loaded = json.loads(out)
    assert before == after and not numba_loaded


def test_tuned_applies_and_restores_the_blas_limit(monkeypatch):
    from threadpoolctl import threadpool_info

    def counts():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = counts()
    monkeypatch.setenv("CONVLAB_BLAS_THREADS", "1")
    with cpu_kernels.tuned():
        assert set(counts()) == {1}
        with cpu_kernels.tuned():  # nested: nothing changes
            assert set(counts()) == {1}
        assert set(counts()) == {1}
    assert counts() == before
    monkeypatch.setenv("CONVLAB_BLAS_THREADS", "zero")
    with pytest.raises(ValueError, match="CONVLAB_BLAS_THREADS: expected a positive integer, got 'zero'"):
        with cpu_kernels.tuned():
            pass
    assert counts() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="NumPy's huge-page switch is Linux-only")
def test_tuned_turns_numpy_hugepages_off_and_back(monkeypatch):
    multiarray = (np._core if hasattr(np, "_core") else np.core).multiarray
    before = multiarray._get_madvise_hugepage()
    monkeypatch.delenv("CONVLAB_MALLOC_TUNING", raising=False)
    with cpu_kernels.tuned():
        assert multiarray._get_madvise_hugepage() is False
        with cpu_kernels.tuned():
            assert multiarray._get_madvise_hugepage() is False
    assert multiarray._get_madvise_hugepage() == before
    with pytest.raises(RuntimeError, match="inside"):
        with cpu_kernels.tuned():
            raise RuntimeError("inside")
    assert multiarray._get_madvise_hugepage() == before
    monkeypatch.setenv("CONVLAB_MALLOC_TUNING", "0")
    with cpu_kernels.tuned():
        assert multiarray._get_madvise_hugepage() == before


def test_trainer_runs_tuned(monkeypatch):
    """The Trainer applies the runtime settings for its run (and evaluate() for its pass)."""
    from convlab.data import DataLoader, TensorDataset
    from convlab.train import Trainer

    entered = []
    original = cpu_kernels.tuned

    def spy():
        entered.append(True)
        return original()

    monkeypatch.setattr(cpu_kernels, "tuned", spy)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    data = TensorDataset(convlab.randn(8, 4), convlab.randint(0, 2, (8,)))
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), DataLoader(data, batch_size=4), progress=False,
                      verbose=False)
    trainer.fit(1)
    assert entered


# ------------------------------------------------------------------------------ without numba
def test_import_and_ops_without_numba():
    """With numba unimportable: convlab imports, runs a training step on the NumPy path, and says
    once what is lost."""
    code = (
        "import warnings, sys; warnings.simplefilter('always'); "
        "import convlab; from convlab import nn, optim; from convlab.nn import functional as F; "
        "from convlab.backend import cpu_kernels; "
        "model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(16), nn.MaxPool2d(2), "
        "nn.Flatten(), nn.Linear(16 * 4 * 4, 3)); opt = optim.Adam(model.parameters()); "
        "x, y = convlab.randn(2, 1, 8, 8), convlab.tensor([0, 2]); "
        "\nwith warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    for _ in range(2):\n"
        "        loss = F.cross_entropy(model(x), y); opt.zero_grad(); loss.backward(); opt.step()\n"
        "print(len(caught), str(caught[0].message) if caught else '', cpu_kernels.available(), "
        "any(m.partition('.')[0] in ('numba', 'llvmlite') for m in sys.modules))"
    )
    rc, out, err = _python(code, env={"CONVLAB_KERNELS": "1"}, block_numba=True)  # the warning is for numba's absence
    assert rc == 0, err
    count, rest = out.split(" ", 1)
    assert int(count) == 1, out
    assert "every op runs on its NumPy path" in rest and "slower" in rest and "pip install numba" in rest
    assert rest.rstrip().endswith("False False")


def test_op_conformance_without_numba():
    """This file's conformance tests, NumPy path, in an interpreter where numba cannot be imported."""
    done = subprocess.run(
        [sys.executable, os.path.join(TESTS, "without_numba.py"), "-o", "addopts=", "-q", "-p", "no:cacheprovider",
         "-W", "ignore::RuntimeWarning", os.path.join(TESTS, "test_cpu_kernels.py"), "-k", "both_paths"],
        env={**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")},
        capture_output=True, text=True, timeout=600, cwd=os.path.dirname(TESTS),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert f"{len(OPS) + len(OPTIMIZERS)} passed" in summary and "skipped" in summary, summary  # compiled: skipped


# ------------------------------------------------------------------------------ thread counts
@pytest.mark.skipif(
    not cpu_kernels.enabled() or cpu_kernels.max_threads() < 2, reason="needs the compiled kernels and 2 threads"
)
def test_training_steps_are_the_same_on_any_thread_count():
    """Two Adam steps of a small CNN give bit-identical weights on 1 and on 2 numba threads (so
    a run resumes bit for bit after a change of thread count)."""
    numba = cpu_kernels.numba()
    x, y = _randn(16, 1, SIZE, SIZE), np.arange(16) % 10
    results, before = [], numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            convlab.manual_seed(0)
            model = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(32), nn.Conv2d(32, 32, 3, padding=1),
                nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 14 * 14, 10),
            )  # fmt: skip
            opt = optim.Adam(model.parameters(), lr=1e-3)
            with cpu_kernels.tuned():
                for _ in range(2):
                    loss = F.cross_entropy(model(convlab.tensor(x)), convlab.tensor(y))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            results.append({k: v.numpy().copy() for k, v in model.state_dict().items()})
    finally:
        numba.set_num_threads(before)
    for key, value in results[0].items():
        np.testing.assert_array_equal(value, results[1][key], err_msg=key)
