import numpy as np
import pytest
import torch

import convlab

torch.set_num_threads(1)  # tests compare numbers, not speed; keep xdist workers from oversubscribing


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state in numpy, convlab and torch."""
    np.random.seed(0)
    convlab.manual_seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
