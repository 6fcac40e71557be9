import numpy as np
import torch

import convlab
from parity import check, gradcheck


def test_broadcast_arith_matches_torch(rng):
    a = rng.standard_normal((3, 1, 4))
    b = rng.standard_normal((5, 1))
    check(lambda x, y: (x * y + x / (y * y + 1) - y).exp(), lambda x, y: (x * y + x / (y * y + 1) - y).exp(), a, b)
    gradcheck(lambda x, y: x * y - x / (y * y + 1), a, b)


def test_matmul_batched(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    check(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
