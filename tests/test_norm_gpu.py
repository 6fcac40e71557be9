"""Normalisation and dropout on the GPU (CuPy arrays take the array code path): same values and
gradients as on the CPU. Skipped cleanly when CuPy or a CUDA device is absent."""

import numpy as np
import pytest

import convlab
import convlab.nn.functional as F
from convlab import backend, nn


@pytest.fixture
def cupy():
    cp = pytest.importorskip("cupy")
    if not backend.cuda_is_available():
        pytest.skip("CuPy is installed but no CUDA device is visible")
    return cp


CASES = {
    "batch_norm_train": (lambda: nn.BatchNorm2d(3), (4, 3, 5, 5)),
    "batch_norm_1d": (lambda: nn.BatchNorm1d(6), (8, 6)),
    "layer_norm": (lambda: nn.LayerNorm([5, 5]), (4, 3, 5, 5)),
    "group_norm": (lambda: nn.GroupNorm(3, 6), (2, 6, 4)),
    "instance_norm": (lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (4, 3, 5, 5)),
    "local_response_norm": (lambda: nn.LocalResponseNorm(3), (2, 6, 4, 4)),
    "rms_norm": (lambda: nn.RMSNorm(5), (4, 3, 5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gpu_matches_cpu(cupy, name):
    make, shape = CASES[name]
    x_np = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    g_np = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        layer = make().to(device)
        x = convlab.tensor(x_np, device=device, requires_grad=True)
        y = layer(x)
        y.backward(convlab.tensor(g_np, device=device))
        assert y.device == x.device and y.dtype == np.float32
        results.append([y.detach().cpu().numpy(), x.grad.cpu().numpy()]
                       + [p.grad.cpu().numpy() for p in layer.parameters()]
                       + [b.cpu().numpy() for b in layer.buffers()])
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)


def test_gpu_dropout_masks_on_the_device(cupy):
    x = convlab.ones(64, 32, 4, 4, device="cuda", requires_grad=True)
    for fn in (F.dropout, F.dropout2d):
        y = fn(x, 0.25)
        assert isinstance(y.data, cupy.ndarray)
        values = cupy.asnumpy(y.data)
        assert set(np.unique(values)) <= {0.0, np.float32(1 / 0.75)} and 0.7 < (values != 0).mean() < 0.8
        y.sum().backward()
        np.testing.assert_array_equal(cupy.asnumpy(x.grad.data), values)
        x.grad = None
