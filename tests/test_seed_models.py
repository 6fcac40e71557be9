"""The main job's networks (convlab.models.seed_models) against the same torch.nn.Sequential."""

import numpy as np
import pytest
import torch
from torch import nn as tnn
from torch_reference import torch_fmnist_cnn

import convlab
from convlab import models


def _torch_mlp():
    return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Dropout(0.2), tnn.Linear(512, 512),
                          tnn.ReLU(), tnn.Dropout(0.2), tnn.Linear(512, 10))


def _torch_orientation_cnn():
    return tnn.Sequential(tnn.Conv2d(1, 2, 5, padding=2), tnn.ReLU(), tnn.AdaptiveAvgPool2d(1), tnn.Flatten(),
                          tnn.Linear(2, 2))


CASES = [("fmnist_cnn", torch_fmnist_cnn, (4, 1, 28, 28), 1_677_674),
         ("mlp", _torch_mlp, (4, 1, 28, 28), 669_706),
         ("orientation_cnn", _torch_orientation_cnn, (4, 1, 32, 32), 58)]


@pytest.mark.parametrize("name, torch_builder, shape, params", CASES)
def test_same_network_as_torch(name, torch_builder, shape, params, rng):
    """Same parameter count, state_dict keys and shapes; with torch's weights loaded, the same
    outputs (eval mode) and parameter gradients."""
    model, reference = models.get_model(name), torch_builder()
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == params
    assert sum(p.numel() for p in reference.parameters()) == params
    torch_state = reference.state_dict()
    assert list(model.state_dict()) == list(torch_state)
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for key, value in torch_state.items():
            if key.endswith("running_mean"):
                value.copy_(torch.randn_like(value) * 0.1)
            elif key.endswith("running_var"):
                value.copy_(torch.rand_like(value) + 0.5)
    model.load_state_dict({k: v.numpy() for k, v in torch_state.items()})
    model.eval()
    reference.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    labels = rng.integers(0, 2, shape[0])
    out = model(convlab.tensor(x))
    expected = reference(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    convlab.nn.functional.cross_entropy(out, convlab.tensor(labels)).backward()
    torch.nn.functional.cross_entropy(expected, torch.from_numpy(labels)).backward()
    for (key, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=key)


def test_fmnist_cnn_summary_matches_the_seed():
    s = convlab.summary(models.fmnist_cnn(), input_size=(1, 1, 28, 28), verbose=0, mode="eval")
    assert s.trainable_params == 1_677_674
    assert convlab.summary(models.fmnist_cnn(), input_size=(1, 1, 28, 28), verbose=0, mode="eval",
                           count_buffers=True).total_params == 1_679_082


def test_registered_with_their_input_sizes():
    from convlab.models._registry import default_input_size

    assert {"fmnist_cnn", "mlp", "orientation_cnn"} <= set(models.list_models())
    assert default_input_size("fmnist_cnn") == (1, 28, 28)
    assert default_input_size("orientation_cnn") == (1, 32, 32)
