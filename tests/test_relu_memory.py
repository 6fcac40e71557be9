"""ReLU keeps one bool per element for its backward (not a float copy of its output), so a conv
net's activations are not held twice; its gradient is PyTorch's on both kernel paths, including
at 0, -0, NaN and infinite inputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from kernel_paths import kernel_path  # noqa: F401  (the fixture)

import convlab
import convlab.nn.functional as F


def _special_values(size, rng):
    x = rng.standard_normal(size).astype(np.float32)
    x[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30]
    g = rng.standard_normal(size).astype(np.float32)
    g[6:10] = [np.nan, np.inf, -np.inf, 0.0]
    x[6:10] = [-1.0, -2.0, 3.0, -4.0]  # a non-finite gradient where the input is negative gives 0
    return x, g


@pytest.mark.parametrize("size", [1000, 1 << 17])  # below and above the compiled pass's minimum size
def test_relu_gradient_matches_torch_at_special_values(size, kernel_path):  # noqa: F811
    x, g = _special_values(size, np.random.default_rng(0))
    xc = convlab.tensor(x, requires_grad=True)
    y = F.relu(xc)
    y.backward(convlab.tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.relu(xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(xc.grad.numpy(), xt.grad.numpy())
    if size > 1000 and kernel_path == "compiled":
        assert any(kernel_path.accepted)


def test_relu_keeps_one_byte_per_element_for_backward(kernel_path):  # noqa: F811
    x = convlab.tensor(np.random.default_rng(1).standard_normal((8, 16, 32, 32)).astype(np.float32),
                       requires_grad=True)
    node = F.relu(x).grad_fn
    kept = [v for v in vars(node).values() if isinstance(v, np.ndarray)]
    assert sum(a.nbytes for a in kept) == x.numel()  # the bool mask, not the 4-byte output
