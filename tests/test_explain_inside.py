"""convlab.explain's "look inside" instruments: filters, kernel spectra, feature maps,
max-activating images, activation maximisation and visualize_image_attr, each against its
oracle (PyTorch forward hooks, numpy.fft, Captum's visualisation, a planted dataset, the
receptive-field table) and checked to leave the model untouched."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

import convlab
from convlab import explain, nn
from convlab.data import TensorDataset
from convlab.explain.maximize import _irfft2_matrices

captum_visualization = pytest.importorskip("captum.attr._utils.visualization")


def small_cnn(dtype=convlab.float64):
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))
    return net.to(dtype)


def torch_small_cnn():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(6, 3)).double()


def twin_models():
    """A convlab and a torch model with the same float64 weights and BatchNorm statistics."""
    torch.manual_seed(0)
    reference = torch_small_cnn()
    with torch.no_grad():
        reference[1].running_mean.uniform_(-0.5, 0.5)
        reference[1].running_var.uniform_(0.5, 2.0)
    model = small_cnn()
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    return model, reference.eval()


def model_state(model):
    """Everything an instrument must leave as it was."""
    return {
        "training": [m.training for m in model.modules()],
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks),
                   len(m._backward_pre_hooks)) for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "params": [p.detach().numpy().copy() for p in model.parameters()],
        "buffers": [b.numpy().copy() for b in model.buffers()],
    }


def assert_same_state(before, after):
    assert before["training"] == after["training"]
    assert before["hooks"] == after["hooks"]
    assert before["requires_grad"] == after["requires_grad"]
    assert all(a is b for a, b in zip(before["grads"], after["grads"]))
    for key in ("params", "buffers"):
        for a, b in zip(before[key], after[key]):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------- filters and spectra
def test_filters_grid_layout_grey_rgb_and_deep():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 1, 3, 3))
    grid = explain.filters(w, nrow=3, padding=1)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 4 + 1, 3 * 4 + 1)
    expected = np.round((0.5 + 0.5 * w / np.abs(w).max()) * 255).astype(np.uint8)
    for i in range(5):
        top, left = 1 + (i // 3) * 4, 1 + (i % 3) * 4
        np.testing.assert_array_equal(grid[top : top + 3, left : left + 3], expected[i, 0])
    assert (grid[0] == 255).all() and (grid[-5:, -4:] == 255).all()  # separators and the empty sixth tile
    assert explain.filters(np.zeros((1, 1, 2, 2))).tolist() == [[255] * 4, [255, 128, 128, 255],
                                                               [255, 128, 128, 255], [255] * 4]

    rgb = rng.standard_normal((4, 3, 2, 2))
    grid = explain.filters(nn.Conv2d(3, 4, 2).to(convlab.float64).requires_grad_(False), normalize=False)
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1, 3)
    conv = nn.Conv2d(3, 4, 2)
    conv.load_state_dict({"weight": rgb.astype(np.float32), "bias": np.zeros(4, np.float32)})
    grid = explain.filters(conv, scale_each=True)
    tile = grid[4:6, 1:3]  # kernel 2: second row, first column (nrow = ceil(sqrt(4)) = 2)
    k = rgb[2].astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(tile, np.round((0.5 + 0.5 * k / np.abs(k).max()) * 255).transpose(1, 2, 0))

    deep = rng.standard_normal((2, 4, 3, 3))
    grid = explain.filters(deep, padding=0)
    assert grid.shape == (2 * 3, 4 * 3)
    expected = np.round((0.5 + 0.5 * deep / np.abs(deep).max()) * 255)
    np.testing.assert_array_equal(grid[3:6, 6:9], expected[1, 2])  # row = output channel, column = input channel


def test_filters_errors():
    with pytest.raises(ValueError, match=r"filters\(\): expected 2-D convolution kernels"):
        explain.filters(np.zeros((3, 3)))
    with pytest.raises(TypeError, match=r"filters\(\): layer ReLU has no weight"):
        explain.filters(nn.ReLU())
    with pytest.raises(TypeError, match=r"filters\(\): expected a Conv2d layer"):
        explain.filters([1, 2])


def test_kernel_spectrum_equals_numpy_fft():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2, 5, 5))
    np.testing.assert_allclose(explain.kernel_spectrum(w, shift=False), np.abs(np.fft.fft2(w)), atol=1e-12)
    np.testing.assert_allclose(explain.kernel_spectrum(w, size=16),
                               np.fft.fftshift(np.abs(np.fft.fft2(w, s=(16, 16))), axes=(-2, -1)), atol=1e-12)
    conv = nn.Conv2d(2, 3, 5).to(convlab.float64)
    np.testing.assert_allclose(explain.kernel_spectrum(conv, size=8),
                               np.fft.fftshift(np.abs(np.fft.fft2(conv.weight.detach().numpy(), s=(8, 8))),
                                               axes=(-2, -1)))
    # a kernel that is one cosine period along x has its peak at +/- 1/size on the x axis
    x = np.arange(8)
    wave = np.tile(np.cos(2 * np.pi * x / 8), (8, 1))[None, None]
    spectrum = explain.kernel_spectrum(wave)[0, 0]
    assert set(zip(*np.nonzero(spectrum > 1e-9))) == {(4, 3), (4, 5)}
    np.testing.assert_allclose(explain.kernel_spectrum(w, size=(6, 9), shift=False),
                               np.abs(np.fft.fft2(w, s=(6, 9))), atol=1e-12)
    with pytest.raises(ValueError, match=r"kernel_spectrum\(\): size must be an int or \(H, W\) at least the "
                                         r"kernel size \(5, 5\), got 4"):
        explain.kernel_spectrum(w, size=4)


def test_plots_are_figures():
    model, _ = twin_models()
    x = convlab.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)))
    figures = [explain.plot_filters(model[0]), explain.plot_filters(model[4]), explain.plot_kernel_spectrum(model[0]),
               explain.plot_feature_maps(explain.feature_maps(model, x, ["0", "4"]), image=x[0])]
    for fig in figures:
        assert isinstance(fig, matplotlib.figure.Figure)
        fig.canvas.draw()  # draws without error
    assert [len(a.images) for a in figures[3].axes if a.images][:2] == [1, 1]


# ---------------------------------------------------------------------------------- feature maps
def test_feature_maps_equal_torch_forward_hooks():
    model, reference = twin_models()
    x = np.random.default_rng(2).standard_normal((3, 3, 10, 10))
    expected = {}
    handles = [reference[i].register_forward_hook(lambda m, a, out, i=i: expected.__setitem__(str(i), out.detach()))
               for i in (0, 2, 5, 8)]
    reference(torch.from_numpy(x))
    for h in handles:
        h.remove()
    model.train()  # the maps are taken in eval mode; the model's own mode comes back
    before = model_state(model)
    maps = explain.feature_maps(model, convlab.tensor(x), ["0", model[2], "5", "8"])
    assert list(maps) == ["0", "2", "5", "8"]
    for name, value in maps.items():
        assert value.requires_grad is False
        np.testing.assert_allclose(value.numpy(), expected[name].numpy(), rtol=1e-10, atol=1e-12)
    assert_same_state(before, model_state(model))


def test_feature_maps_errors_leave_no_trace():
    model, _ = twin_models()
    before = model_state(model)
    with pytest.raises(ValueError, match=r"feature_maps\(\): the model has no layer named 'conv9'; available layers: '0', '1'"):
        explain.feature_maps(model, convlab.zeros(1, 3, 8, 8, dtype=convlab.float64), ["0", "conv9"])
    with pytest.raises(ValueError, match="expected input with 3 channels"):  # raised inside the hooked forward
        explain.feature_maps(model, convlab.zeros(1, 2, 8, 8, dtype=convlab.float64), ["0", "4"])
    assert_same_state(before, model_state(model))


# ---------------------------------------------------------------------------------- max-activating images
def planted_dataset():
    """40 dim noise images; images 7, 23, 31 carry a bright 3x3 blob (brightest first) at known places."""
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 0.1, (40, 1, 12, 12))
    for index, (row, col), level in ((23, (2, 7), 3.0), (7, (8, 3), 2.0), (31, (5, 5), 1.5)):
        images[index, 0, row - 1 : row + 2, col - 1 : col + 2] += level
    return TensorDataset(convlab.tensor(images), convlab.tensor(np.zeros(40, np.int64)))


def blob_detector():
    """conv 3x3 of ones (channel 1) and zeros (channel 0), then a 2x2 max-pool and a 3x3 conv."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 1, 3, padding=1))
    net = net.to(convlab.float64)
    weight = np.zeros((2, 1, 3, 3))
    weight[1] = 1.0
    net.load_state_dict({"0.weight": weight, "0.bias": np.zeros(2), "3.weight": np.ones((1, 2, 3, 3)),
                         "3.bias": np.zeros(1)})
    return net


def test_max_activating_finds_the_planted_images_and_their_patches():
    model, dataset = blob_detector(), planted_dataset()
    before = model_state(model)
    top = explain.max_activating(model, dataset, "0", channel=1, k=3, batch_size=16, progress=False)
    assert top.indices.tolist() == [23, 7, 31]
    assert top.units.tolist() == [[2, 7], [8, 3], [5, 5]]  # the blob centres: a 3x3 sum peaks there
    images = dataset.tensors[0].numpy()
    np.testing.assert_allclose(top.scores, [images[i, 0, r - 1 : r + 2, c - 1 : c + 2].sum()
                                            for i, (r, c) in zip(top.indices, top.units)])
    np.testing.assert_array_equal(top.images, images[[23, 7, 31]])
    table = convlab.receptive_field(model, (1, 12, 12))
    rows = {row.name: row.layer for row in table.rows[1:]}  # "0" alone would be the table's row 0, the input
    for i in range(3):
        (y0, y1), (x0, x1) = convlab.receptive_field_for_unit(table, rows["0"], tuple(top.units[i]))
        assert top.boxes[i].tolist() == [y0, y1, x0, x1]
        np.testing.assert_array_equal(top.patches[i], top.images[i][:, int(y0) : int(y1), int(x0) : int(x1)])
    assert top.patches[0].shape == (1, 3, 3)

    deeper = explain.max_activating(model, dataset, model[3], channel=0, k=2, progress=False)
    assert deeper.indices.tolist() == [23, 7]
    (y0, y1), (x0, x1) = convlab.receptive_field_for_unit(table, rows["3"], tuple(deeper.units[0]))
    assert (y1 - y0, x1 - x0) == (8, 8) or y0 == 0 or x0 == 0 or y1 == 12 or x1 == 12  # 3 + 1 (pool) + 2 * 2
    np.testing.assert_array_equal(deeper.patches[0], images[23][:, int(y0) : int(y1), int(x0) : int(x1)])
    assert_same_state(before, model_state(model))
    assert isinstance(explain.plot_max_activating(top), matplotlib.figure.Figure)


def test_max_activating_errors_leave_no_trace():
    model, dataset = blob_detector(), planted_dataset()
    model.train()
    before = model_state(model)
    with pytest.raises(ValueError, match=r"max_activating\(\): channel must be an int in \[0, 1\] \(layer '0' has 2"):
        explain.max_activating(model, dataset, "0", channel=5, progress=False)  # raised with the hook in place
    with pytest.raises(ValueError, match=r"max_activating\(\): k must be an int in \[1, 40\]"):
        explain.max_activating(model, dataset, "0", channel=0, k=0)
    assert_same_state(before, model_state(model))


# ---------------------------------------------------------------------------------- activation maximisation
def test_fourier_parametrisation_is_numpys_irfft2():
    rng = np.random.default_rng(4)
    for height, width in ((8, 8), (7, 9), (6, 5)):
        real, imag = rng.standard_normal((2, height, width // 2 + 1))
        cy, sy, pc, ps = _irfft2_matrices(height, width)
        np.testing.assert_allclose((cy @ real - sy @ imag) @ pc - (cy @ imag + sy @ real) @ ps,
                                   np.fft.irfft2(real + 1j * imag, s=(height, width)), atol=1e-12)


def test_activation_maximization_is_seeded_and_increases_the_objective():
    model, _ = twin_models()
    model.train()
    before = model_state(model)
    kwargs = {"input_size": (3, 10, 10), "steps": 40, "lr": 0.1, "progress": False}
    first = explain.activation_maximization(model, "4", channel=2, **kwargs)
    again = explain.activation_maximization(model, "4", channel=2, **kwargs)
    other = explain.activation_maximization(model, "4", channel=2, seed=1, **kwargs)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.shape == (3, 10, 10) and 0 < first.min() and first.max() < 1
    assert_same_state(before, model_state(model))
    model.eval()

    def channel_mean(image):
        return explain.feature_maps(model, convlab.tensor(image[None]), "4")["4"].numpy()[0, 2].mean()

    still = {"input_size": (3, 10, 10), "steps": 40, "lr": 0.1, "jitter": 0, "rotate": 0, "scale": 1, "progress": False}
    start = explain.activation_maximization(model, "4", channel=2, **{**still, "steps": 1, "lr": 1e-9})
    for param in ("fourier", "pixel"):
        image = explain.activation_maximization(model, "4", channel=2, param=param, **still)
        assert channel_mean(image) > channel_mean(start) + 0.04
    unit = explain.activation_maximization(model, "4", channel=2, unit=(1, 2), param="pixel", **still)
    at_unit = explain.feature_maps(model, convlab.tensor(unit[None]), "4")["4"].numpy()[0, 2, 1, 2]
    assert at_unit > explain.feature_maps(model, convlab.tensor(start[None]), "4")["4"].numpy()[0, 2, 1, 2] + 0.1
    classes = explain.activation_maximization(model, class_index=[0, 2], **kwargs)
    assert classes.shape == (2, 3, 10, 10)
    with convlab.no_grad():
        logits = model(convlab.tensor(classes)).numpy()
    assert logits[0, 0] - logits[0, 2] > logits[1, 0] - logits[1, 2]  # each image favours its own class


def test_activation_maximization_errors_leave_no_trace():
    model, _ = twin_models()
    before = model_state(model)
    with pytest.raises(ValueError, match=r"activation_maximization\(\): channel \(or class_index\) must be an int in "
                                         r"\[0, 5\], got 9"):
        explain.activation_maximization(model, "4", channel=9, input_size=(3, 10, 10), steps=2, progress=False)
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\)"):
        explain.activation_maximization(model, "4", channel=0)
    with pytest.raises(ValueError, match="param must be one of 'pixel', 'fourier'"):
        explain.activation_maximization(model, "4", channel=0, input_size=(3, 10, 10), param="fft")
    with pytest.raises(ValueError, match="either a layer"):
        explain.activation_maximization(model, "4", class_index=1, input_size=(3, 10, 10))
    assert_same_state(before, model_state(model))


def _train_orientation_cnn(epochs=4):
    """Seed 000's orientation CNN trained for a few seconds (2 channels, 5x5 kernels)."""
    import convlab.nn.functional as F
    from convlab.data import DataLoader
    from convlab.recipes import RECIPES, build_model

    recipe = RECIPES["orientation"]
    splits = recipe.splits(seed=0, augment=False)
    convlab.manual_seed(0)
    model = build_model("orientation_cnn", recipe)
    optimizer = convlab.optim.Adam(model.parameters(), lr=3e-2)
    for epoch in range(epochs):
        for x, y in DataLoader(splits["train"], batch_size=64, shuffle=True, generator=np.random.default_rng(epoch)):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return model.eval(), splits


def test_seed_000_activation_maximization_finds_the_kernels_spectral_peak():
    model, _ = _train_orientation_cnn()
    spectra = explain.kernel_spectrum(model[0], size=32)[:, 0]  # (2, 32, 32), zero frequency at (16, 16)
    channel = int(spectra.reshape(2, -1).max(axis=1).argmax())  # the channel that measures a frequency
    peak = np.unravel_index(spectra[channel].argmax(), (32, 32))
    assert peak != (16, 16)
    image = explain.activation_maximization(model, "0", channel=channel, input_size=(1, 32, 32), param="pixel",
                                            objective="energy", steps=192, progress=False)[0]
    spectrum = np.fft.fftshift(np.abs(np.fft.fft2(image - image.mean())))
    dominant = np.unravel_index(spectrum.argmax(), (32, 32))
    mirrored = (32 - peak[0]) % 32, (32 - peak[1]) % 32  # |DFT| of a real image is symmetric
    assert dominant in (peak, mirrored), (dominant, peak)
    # striped: the dominant frequency (and its twin) hold a large share of the image's energy
    assert (2 * spectrum[dominant] ** 2) / (spectrum**2).sum() > 0.3


# ---------------------------------------------------------------------------------- visualize_image_attr
@pytest.mark.parametrize("sign", ["positive", "absolute_value", "negative", "all"])
@pytest.mark.parametrize("outlier_perc", [1, 2, 10])
def test_normalisation_equals_captum(sign, outlier_perc):
    from convlab.explain.visualize import _normalize_attr

    attr = np.random.default_rng(5).standard_normal((9, 11))
    np.testing.assert_array_equal(_normalize_attr(attr, sign, outlier_perc),
                                  captum_visualization._normalize_attr(attr, sign, outlier_perc))


@pytest.mark.parametrize("method", ["heat_map", "blended_heat_map", "original_image", "masked_image",
                                    "alpha_scaling"])
@pytest.mark.parametrize("sign", ["positive", "absolute_value", "negative", "all"])
def test_visualize_image_attr_draws_what_captum_draws(method, sign):
    rng = np.random.default_rng(6)
    attr, image = rng.standard_normal((6, 7, 3)), rng.uniform(0, 1, (6, 7, 3))
    kwargs = {"method": method, "sign": sign, "outlier_perc": 5, "show_colorbar": True, "title": "t", "use_pyplot": False}
    if sign == "all" and method in ("masked_image", "alpha_scaling"):
        with pytest.raises(ValueError, match="cannot show positive and negative"):
            explain.visualize_image_attr(attr, image, **kwargs)
        return
    fig, axis = explain.visualize_image_attr(attr, image, **kwargs)
    ref_fig, ref_axis = captum_visualization.visualize_image_attr(attr, image, **kwargs)
    assert len(axis.images) == len(ref_axis.images)
    for mine, theirs in zip(axis.images, ref_axis.images):
        np.testing.assert_array_equal(np.asarray(mine.get_array()), np.asarray(theirs.get_array()))
        assert mine.get_cmap().name == theirs.get_cmap().name
        assert mine.get_clim() == theirs.get_clim()
        assert mine.get_alpha() == theirs.get_alpha()
    assert axis.get_title() == ref_axis.get_title() == "t"
    assert len(fig.axes) == len(ref_fig.axes)  # the colour-bar axis


def test_visualize_image_attr_heat_map_without_image_and_errors():
    attr = np.random.default_rng(7).standard_normal((5, 5))
    _fig, axis = explain.visualize_image_attr(attr, use_pyplot=False)
    _ref_fig, ref_axis = captum_visualization.visualize_image_attr(attr, use_pyplot=False)
    np.testing.assert_array_equal(axis.images[0].get_array(), ref_axis.images[0].get_array())
    with pytest.raises(ValueError, match=r"visualize_image_attr\(\): method 'blended_heat_map' draws the image"):
        explain.visualize_image_attr(attr, method="blended_heat_map", use_pyplot=False)
    with pytest.raises(ValueError, match="method must be one of"):
        explain.visualize_image_attr(attr, method="heatmap", use_pyplot=False)
    with pytest.raises(ValueError, match="sign must be one of"):
        explain.visualize_image_attr(attr, sign="abs", use_pyplot=False)
    with pytest.raises(ValueError, match=r"original_image must be \(H, W, C\) with the attribution's H, W"):
        explain.visualize_image_attr(attr, np.zeros((4, 4, 3)), method="blended_heat_map", use_pyplot=False)
    with pytest.raises(ValueError, match="every attribution of sign 'positive' is 0"):
        explain.visualize_image_attr(-np.abs(attr), sign="positive", use_pyplot=False)


def test_max_activating_several_channels_in_one_pass_equal_one_at_a_time():
    model, dataset = blob_detector(), planted_dataset()
    both = explain.max_activating(model, dataset, "0", channel=[1, 0], k=4, progress=False)
    for result, channel in zip(both, (1, 0)):
        alone = explain.max_activating(model, dataset, "0", channel=channel, k=4, progress=False)
        for got, expected in zip(result, alone):
            if isinstance(got, list):
                for a, b in zip(got, expected):
                    np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_array_equal(got, expected)


def test_the_guides_examples_run():
    from guides import run_examples

    ns = run_examples("docs/explain.md", 5)
    assert ns["grid"].dtype == np.uint8 and ns["spectrum"].shape == (2, 1, 32, 32)
    assert ns["cam"].shape == (4, 1, 32, 32) and ns["classes"].shape == (2, 1, 32, 32)
    assert [t.indices.tolist() for t in ns["tops"]][1] == ns["top"].indices.tolist()
