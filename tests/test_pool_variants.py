"""The pooling variants of seed 003 that no mainstream library ships, checked by their defining
properties: stochastic pooling (Zeiler & Fergus 2013) and spectral pooling (Rippel et al. 2015)."""

import numpy as np
import pytest
from parity import gradcheck

import convlab
import convlab.nn.functional as F
from convlab import nn


def _windows(x, k, s):
    """(N, C, oh, ow, k*k) windows of x (a plain NumPy reference)."""
    h, w = x.shape[-2:]
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    return np.stack(
        [x[:, :, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s] for i in range(k) for j in range(k)], axis=-1
    )


# ------------------------------------------------------------------------------ stochastic pooling
@pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (3, 1)])
def test_stochastic_pool_eval_is_the_probability_weighted_average(k, s):
    x = np.random.default_rng(0).uniform(0, 2, (2, 3, 7, 7))
    x[0, 0, :3, :3] = 0  # an all-zero window outputs 0
    y = F.stochastic_pool2d(convlab.tensor(x), k, s, training=False).numpy()
    w = _windows(x, k, s)
    total = w.sum(-1)
    probabilities = w / np.where(total > 0, total, 1)[..., None]
    np.testing.assert_allclose(y, (probabilities * w).sum(-1), rtol=1e-12)
    assert y[0, 0, 0, 0] == 0


@pytest.mark.parametrize("k, s", [(2, 2), (3, 2)])
def test_stochastic_pool_training_samples_are_window_elements(k, s):
    x = np.random.default_rng(1).uniform(0, 1, (4, 5, 9, 9)).astype(np.float32)
    x[x < 0.3] = 0  # zero activations must never be drawn
    y = F.stochastic_pool2d(convlab.tensor(x), k, s).numpy()
    w = _windows(x, k, s)
    member = (w == y[..., None]) & (w > 0)
    assert np.all(member.any(-1) | (w.sum(-1) == 0))


def test_stochastic_pool_frequencies_match_the_probabilities():
    """One window [1, 2, 3, 4] repeated 40,000 times: element j drawn with probability j/10."""
    x = np.broadcast_to(np.array([[1.0, 2.0], [3.0, 4.0]]), (100, 400, 2, 2)).copy()
    y = F.stochastic_pool2d(convlab.tensor(x), 2).numpy().ravel()
    counts = np.array([(y == v).sum() for v in (1.0, 2.0, 3.0, 4.0)])
    assert counts.sum() == y.size
    expected = y.size * np.array([0.1, 0.2, 0.3, 0.4])
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 16.27  # chi-square, 3 degrees of freedom, p = 0.001


def test_stochastic_pool_is_reproducible_with_manual_seed():
    x = convlab.rand(2, 3, 8, 8)
    convlab.manual_seed(7)
    a = F.stochastic_pool2d(x, 2).numpy()
    convlab.manual_seed(7)
    b = F.stochastic_pool2d(x, 2).numpy()
    np.testing.assert_array_equal(a, b)


def test_stochastic_pool_training_gradient_goes_to_the_sampled_element():
    rng = np.random.default_rng(2)
    x = (rng.permutation(2 * 3 * 6 * 6) + 1.0).reshape(2, 3, 6, 6)  # distinct: a value names its position
    xt = convlab.tensor(x, requires_grad=True)
    y = F.stochastic_pool2d(xt, 2)
    g = rng.standard_normal(y.shape)
    (y * convlab.tensor(g)).sum().backward()
    expected = np.zeros_like(x)
    for value, grad in zip(y.detach().numpy().ravel(), g.ravel()):
        expected[x == value] += grad
    np.testing.assert_allclose(xt.grad.numpy(), expected)


@pytest.mark.parametrize("training", [False, True])
def test_stochastic_pool_gradcheck(training):
    x = np.random.default_rng(3).uniform(0.5, 2, (2, 2, 5, 5))

    def pool(t):
        convlab.manual_seed(0)  # the same draw at every evaluation
        return F.stochastic_pool2d(t, 3, 2, training=training)

    gradcheck(pool, x)


def test_stochastic_pool_module_samples_in_train_and_averages_in_eval():
    pool = nn.StochasticPool2d(2)
    assert repr(pool) == "StochasticPool2d(kernel_size=2, stride=2)"
    x = convlab.rand(2, 2, 4, 4)
    np.testing.assert_array_equal(pool.eval()(x).numpy(), F.stochastic_pool2d(x, 2, training=False).numpy())
    convlab.manual_seed(3)
    sampled = pool.train()(x).numpy()
    convlab.manual_seed(3)
    np.testing.assert_array_equal(sampled, F.stochastic_pool2d(x, 2).numpy())


def test_stochastic_pool_refuses_negative_input():
    with pytest.raises(ValueError, match=r"stochastic_pool2d\(\): expected a non-negative input .* got a minimum of -1.0"):
        F.stochastic_pool2d(convlab.tensor([[[[1.0, -1.0], [0.0, 2.0]]]]), 2)
    with pytest.raises(ValueError, match=r"StochasticPool2d\(kernel_size=3, stride=3\): kernel_size=\(3, 3\) .* does not fit"):
        nn.StochasticPool2d(3)(convlab.rand(1, 1, 2, 2))


# ------------------------------------------------------------------------------ spectral pooling
def _band_limited(h, w, freqs):
    """Sum of cosines with frequencies (a, b) in cycles per image, sampled on an h x w grid."""
    rows, cols = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    return sum(np.cos(2 * np.pi * (a * rows + b * cols) + phase) for a, b, phase in freqs)


@pytest.mark.parametrize("size, out", [((16, 16), (8, 8)), ((12, 15), (7, 5)), ((9, 10), (9, 4))])
def test_spectral_pool_reproduces_a_band_limited_signal(size, out):
    """Frequencies below out/2 survive: the output is the same signal sampled on the coarser grid."""
    freqs = [(0, 0, 0.3), (1, 2, 0.1), (-2, 1, 1.0), (1, -1, 2.0)]
    freqs = [(a, b, p) for a, b, p in freqs if 2 * abs(a) < out[0] and 2 * abs(b) < out[1]]
    x = _band_limited(*size, freqs)
    y = F.spectral_pool2d(convlab.tensor(x[None, None]), out).numpy()[0, 0]
    np.testing.assert_allclose(y, _band_limited(*out, freqs), atol=1e-12)


def test_spectral_pool_matches_a_centred_crop_of_the_shifted_spectrum():
    """An independent formulation: fftshift, crop the centre, inverse-shift, rescale."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 11, 12))
    for out in [(5, 7), (6, 4), (11, 12), (1, 1)]:
        spectrum = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
        r0, c0 = 11 // 2 - out[0] // 2, 12 // 2 - out[1] // 2
        crop = np.fft.ifftshift(spectrum[..., r0 : r0 + out[0], c0 : c0 + out[1]], axes=(-2, -1))
        expected = np.fft.ifft2(crop).real * (out[0] * out[1]) / (11 * 12)
        got = F.spectral_pool2d(convlab.tensor(x), out).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_spectral_pool_keeps_constants_and_identity():
    x = np.random.default_rng(1).standard_normal((3, 8, 8)).astype(np.float32)  # unbatched, float32
    y = F.spectral_pool2d(convlab.tensor(x), (8, None))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), x, atol=1e-5)
    np.testing.assert_allclose(F.spectral_pool2d(convlab.full((1, 1, 8, 8), 2.5), 3).numpy(), 2.5, rtol=1e-6)


@pytest.mark.parametrize("out", [(3, 4), (4, 4), (5, 6)])
def test_spectral_pool_gradcheck(out):
    gradcheck(lambda t: F.spectral_pool2d(t, out), np.random.default_rng(2).standard_normal((2, 1, 6, 7)))


def test_spectral_pool_module_and_errors():
    pool = nn.SpectralPool2d((19, 19))
    assert repr(pool) == "SpectralPool2d(output_size=(19, 19))"
    assert pool(convlab.randn(2, 3, 28, 28)).shape == (2, 3, 19, 19)
    with pytest.raises(ValueError, match=r"SpectralPool2d\(output_size=\(19, 19\)\): output_size must be between 1 and the input size \(14, 14\)"):
        pool(convlab.randn(2, 3, 14, 14))
    with pytest.raises(ValueError, match=r"spectral_pool2d\(\): output_size must be between 1 and the input size"):
        F.spectral_pool2d(convlab.randn(1, 1, 4, 4), 0)
    with pytest.raises(TypeError, match=r"spectral_pool2d\(\): expected a floating-point input, got dtype int64"):
        F.spectral_pool2d(convlab.zeros(1, 1, 4, 4, dtype=convlab.int64), 2)
