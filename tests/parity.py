"""Run the same computation in convlab and in PyTorch (the oracle) and compare.

``check(cl_fn, torch_fn, *arrays)`` feeds copies of the NumPy ``arrays`` to both functions
(floating arrays require grad), compares every output, back-propagates the same random
output-gradient through both, and compares the gradients of every floating input.
``both_raise(cl_fn, torch_fn, *arrays)`` checks that both libraries refuse the input and returns
convlab's exception for the test to inspect its message.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convlab

TOL = {np.dtype("float64"): dict(rtol=1e-6, atol=1e-6), np.dtype("float32"): dict(rtol=1e-5, atol=1e-5)}


def to_torch(a, requires_grad=False):
    t = torch.from_numpy(np.array(a, copy=True))
    return t.requires_grad_(requires_grad and t.is_floating_point())


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(cl_fn, torch_fn, *arrays, grad=True, rtol=None, atol=None, seed=0, grad_inputs=None):
    """Assert that ``cl_fn`` and ``torch_fn`` agree on values and input gradients.

    Args:
        cl_fn / torch_fn: functions of tensors of their own library.
        arrays: NumPy arrays (or Python scalars passed through unchanged).
        grad: also compare gradients.
        grad_inputs: indices of the arrays to differentiate (default: all floating arrays).
    Returns:
        the convlab outputs (a list).
    """
    def wants(i, a):
        floating = isinstance(a, np.ndarray) and a.dtype.kind == "f"
        return grad and floating and (grad_inputs is None or i in grad_inputs)

    cl_in = [convlab.tensor(a, requires_grad=wants(i, a)) if isinstance(a, np.ndarray) else a for i, a in enumerate(arrays)]
    th_in = [to_torch(a, wants(i, a)) if isinstance(a, np.ndarray) else a for i, a in enumerate(arrays)]
    cl_out, th_out = _as_list(cl_fn(*cl_in)), _as_list(torch_fn(*th_in))
    assert len(cl_out) == len(th_out), f"{len(cl_out)} outputs vs torch's {len(th_out)}"
    rng = np.random.default_rng(seed)
    cl_loss, th_loss = None, None
    for k, (c, t) in enumerate(zip(cl_out, th_out)):
        expected = t.detach().numpy()
        got = np.asarray(c.detach().numpy() if isinstance(c, convlab.Tensor) else c)
        assert got.shape == expected.shape, f"output {k}: shape {got.shape} vs torch {expected.shape}"
        assert got.dtype == expected.dtype, f"output {k}: dtype {got.dtype} vs torch {expected.dtype}"
        tol = TOL.get(got.dtype, dict(rtol=0, atol=0))
        np.testing.assert_allclose(got, expected, rtol=rtol or tol["rtol"], atol=atol or tol["atol"], err_msg=f"output {k}")
        if grad and t.requires_grad and c.requires_grad:
            v = rng.standard_normal(expected.shape).astype(expected.dtype)
            cl_term = (c * convlab.tensor(v)).sum()
            th_term = (t * torch.from_numpy(v)).sum()
            cl_loss = cl_term if cl_loss is None else cl_loss + cl_term
            th_loss = th_term if th_loss is None else th_loss + th_term
    if th_loss is not None:
        th_loss.backward()
        cl_loss.backward()
        for i, (c, t) in enumerate(zip(cl_in, th_in)):
            if isinstance(t, torch.Tensor) and t.requires_grad:
                tol = TOL[np.dtype(c.dtype)]
                if t.grad is None:
                    assert c.grad is None or not np.any(c.grad.numpy()), f"input {i}: torch has no gradient"
                    continue
                assert c.grad is not None, f"input {i}: convlab computed no gradient"
                np.testing.assert_allclose(
                    c.grad.numpy(), t.grad.numpy(), rtol=rtol or tol["rtol"], atol=atol or tol["atol"], err_msg=f"grad of input {i}"
                )
    return cl_out


def both_raise(cl_fn, torch_fn, *arrays, match=None):
    """Assert both libraries raise on the same input; return convlab's exception."""
    with pytest.raises(Exception):
        torch_fn(*[to_torch(a) if isinstance(a, np.ndarray) else a for a in arrays])
    with pytest.raises((ValueError, TypeError, RuntimeError, IndexError)) as info:
        cl_fn(*[convlab.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays])
    if match is not None:
        assert match in str(info.value), f"message {str(info.value)!r} lacks {match!r}"
    return info.value


def gradcheck(fn, *arrays, **kwargs):
    """convlab's float64 finite-difference gradcheck on fresh tensors made from ``arrays``."""
    inputs = [convlab.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) if isinstance(a, np.ndarray) else a for a in arrays]
    assert convlab.autograd.gradcheck(fn, inputs, **kwargs)
