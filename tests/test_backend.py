"""The backend layer (convlab.backend): devices, the array module of a tensor, the clear error
when CUDA is asked for without CuPy or a GPU, and the CuPy path (skipped without a GPU)."""

import numpy as np
import pytest

import convlab
import convlab.nn
from convlab import backend


def test_device_objects_compare_and_print_like_torch():
    cpu, gpu = convlab.device("cpu"), convlab.device("cuda:1")
    assert cpu == "cpu" and str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')"
    assert gpu.type == "cuda" and gpu.index == 1 and repr(gpu) == "device(type='cuda', index=1)"
    assert convlab.device("cuda") == convlab.device("cuda:0") and convlab.device(cpu) == cpu
    assert hash(convlab.device("cpu")) == hash(cpu) and cpu != "cuda" and cpu != "not a device"
    with pytest.raises(ValueError, match="device\\(\\): expected 'cpu' or 'cuda\\[:N\\]', got 'tpu'"):
        convlab.device("tpu")
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        convlab.device("cuda:x")
    with pytest.raises(TypeError, match="expected a string like 'cpu' or 'cuda:0', got int"):
        convlab.device(3)


def test_array_module_and_cpu_tensors():
    t = convlab.tensor([1.0, 2.0])
    assert backend.array_module(t.data) is np and t.device == "cpu" and not t.is_cuda
    assert backend.to_device(t.data, "cpu") is t.data and backend.to_numpy(t.data) is t.data
    assert convlab.cuda.is_available() == convlab.cuda_is_available() == backend.cuda_is_available()


@pytest.mark.skipif(backend.cuda_is_available(), reason="a GPU is present: the error path does not apply")
def test_cuda_requests_without_a_gpu_raise_a_clear_error():
    t = convlab.tensor([1.0, 2.0])
    reason = "CuPy is not installed" if backend.cupy is None else "no CUDA device is visible"
    for move in (
        lambda: t.to("cuda"),
        lambda: t.cuda(),
        lambda: t.to(convlab.device("cuda:0")),
        lambda: convlab.zeros(2, device="cuda"),
        lambda: convlab.tensor([1.0], device="cuda"),
        lambda: convlab.randn(2, device="cuda"),
        lambda: convlab.nn.Linear(2, 2).to("cuda"),
    ):
        with pytest.raises(RuntimeError, match=f"device 'cuda(:0)?' requested but {reason}"):
            move()


def _require_gpu():
    cupy = pytest.importorskip("cupy")
    if not backend.cuda_is_available():
        pytest.skip("CuPy is installed but no CUDA device is visible")
    return cupy


def test_cupy_path_matches_the_cpu_path():
    cupy = _require_gpu()
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 5)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        x = convlab.tensor(a, device=device, requires_grad=True)
        w = convlab.tensor(b, device=device, requires_grad=True)
        y = ((x @ w).relu() * 2 + x.sum(1, keepdim=True)).exp().mean()
        y.backward()
        results.append([y.item(), x.grad.cpu().numpy(), w.grad.cpu().numpy()])
        if device == "cuda":
            assert isinstance(x.data, cupy.ndarray) and x.device == "cuda:0" and x.grad.is_cuda
            assert repr(x).endswith("device='cuda:0', requires_grad=True)")
            with pytest.raises(TypeError, match="copy it to the CPU first"):
                x.detach().numpy()
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for cpu_grad, gpu_grad in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(cpu_grad, gpu_grad, rtol=1e-4, atol=1e-5)
    moved = convlab.tensor(a, requires_grad=True)
    moved.cuda().sum().backward()  # the device move is differentiable
    assert moved.grad.device == "cpu"
    np.testing.assert_array_equal(moved.grad.numpy(), np.ones_like(a))
