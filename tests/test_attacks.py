"""convlab.attacks against torchattacks 3.5.1 on the same float64 CNN (weights copied from torch),
the no-trace contract, bad input, the robustness measures, the probes and adversarial training."""

import json

import numpy as np
import pytest
import torch
import torchattacks

import convlab
from convlab import attacks, nn
from convlab.attacks import probes
from convlab.cli import main
from convlab.data import DataLoader, datasets
from convlab.recipes import RECIPES

MEAN, STD = [0.4, 0.5, 0.6], [0.2, 0.3, 0.25]
CLASSES = 5

CASES = {
    "FGSM": {"eps": 0.05},
    "BIM": {"eps": 0.1, "alpha": 0.02, "steps": 5},
    "PGD": {"eps": 0.1, "alpha": 0.02, "steps": 5, "random_start": False},
    "PGDL2": {"eps": 0.5, "alpha": 0.1, "steps": 5, "random_start": False},
    "DeepFool": {"steps": 10, "overshoot": 0.02},
    "CW": {"c": 1, "kappa": 0, "steps": 30, "lr": 0.05},
}


def torch_cnn():
    """conv - ReLU - BatchNorm (non-trivial running statistics) - max-pool - dropout - linear, float64:
    eval mode matters (dropout, BatchNorm), as in fmnist_cnn."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.BatchNorm2d(6), torch.nn.MaxPool2d(2),
        torch.nn.Dropout(0.5), torch.nn.Flatten(), torch.nn.Linear(6 * 4 * 4, CLASSES),
    ).double()  # fmt: skip
    with torch.no_grad():
        model[2].running_mean.uniform_(-0.2, 0.2)
        model[2].running_var.uniform_(0.5, 2.0)
        model[2].weight.uniform_(0.5, 1.5)
    return model


def convlab_cnn(reference):
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(6), nn.MaxPool2d(2), nn.Dropout(0.5), nn.Flatten(),
        nn.Linear(6 * 4 * 4, CLASSES),
    ).double()  # fmt: skip
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    return model


@pytest.fixture
def models():
    reference = torch_cnn()
    return reference, convlab_cnn(reference)


@pytest.fixture
def batch():
    rng = np.random.default_rng(7)
    return rng.uniform(0.05, 0.95, (6, 3, 8, 8)), rng.integers(0, CLASSES, 6)


def both(name, models, normalization=False, **overrides):
    reference, model = models
    kwargs = {**CASES[name], **overrides}
    expected, got = getattr(torchattacks, name)(reference, **kwargs), getattr(attacks, name)(model, **kwargs)
    if normalization:
        expected.set_normalization_used(MEAN, STD)
        got.set_normalization_used(MEAN, STD)
    return expected, got


def normalize(x):
    return (x - np.reshape(MEAN, (1, 3, 1, 1))) / np.reshape(STD, (1, 3, 1, 1))


@pytest.mark.parametrize("normalization", [False, True], ids=["pixels", "normalised"])
@pytest.mark.parametrize("name", list(CASES))
def test_same_adversarial_images_as_torchattacks(name, normalization, models, batch):
    x, y = batch
    if normalization:
        x = normalize(x)
    expected_attack, attack = both(name, models, normalization)
    expected = expected_attack(torch.from_numpy(x.copy()), torch.from_numpy(y)).detach().numpy()
    got = attack(convlab.tensor(x), convlab.tensor(y))
    assert isinstance(got, convlab.Tensor) and got.dtype == convlab.float64 and not got.requires_grad
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-4 if name == "CW" else 1e-6)
    assert np.abs(got.numpy() - x).max() > 1e-3  # the attack moved the images
    pixels = got.numpy() * np.reshape(STD, (1, 3, 1, 1)) + np.reshape(MEAN, (1, 3, 1, 1)) if normalization else got.numpy()
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6  # in [0, 1] in pixel space (float32 mean, std)


@pytest.mark.parametrize("name", ["FGSM", "BIM", "PGD", "PGDL2", "CW"])
def test_targeted_by_label_and_back_to_default(name, models, batch):
    x, y = batch
    targets = (y + 1) % CLASSES
    expected_attack, attack = both(name, models)
    for a in (expected_attack, attack):
        a.set_mode_targeted_by_label(quiet=True)
    assert attack.get_mode() == expected_attack.get_mode() == "targeted(label)" and attack.targeted
    expected = expected_attack(torch.from_numpy(x.copy()), torch.from_numpy(targets)).detach().numpy()
    np.testing.assert_allclose(attack(x, targets).numpy(), expected, rtol=0, atol=1e-4 if name == "CW" else 1e-6)
    for a in (expected_attack, attack):
        a.set_mode_default()
    assert attack.get_mode() == "default" and not attack.targeted
    expected = expected_attack(torch.from_numpy(x.copy()), torch.from_numpy(y)).detach().numpy()
    np.testing.assert_allclose(attack(x, y).numpy(), expected, rtol=0, atol=1e-4 if name == "CW" else 1e-6)


def test_targeted_least_likely_and_by_function(models, batch):
    x, y = batch
    expected_attack, attack = both("PGD", models)
    expected_attack.set_mode_targeted_least_likely(quiet=True)
    attack.set_mode_targeted_least_likely(quiet=True)
    expected = expected_attack(torch.from_numpy(x.copy()), torch.from_numpy(y)).detach().numpy()
    np.testing.assert_allclose(attack(x, y).numpy(), expected, rtol=0, atol=1e-6)
    expected_attack.set_mode_targeted_by_function(lambda images, labels: (labels + 2) % CLASSES, quiet=True)
    attack.set_mode_targeted_by_function(lambda images, labels: (labels + 2) % CLASSES, quiet=True)
    expected = expected_attack(torch.from_numpy(x.copy()), torch.from_numpy(y)).detach().numpy()
    np.testing.assert_allclose(attack(x, y).numpy(), expected, rtol=0, atol=1e-6)


def test_targeted_random(models, batch):
    x, y = batch
    attack = attacks.PGD(models[1], eps=0.1, alpha=0.02, steps=2, random_start=False)
    attack.set_mode_targeted_random(quiet=True)
    assert attack.get_mode() == "targeted(random)"
    targets = np.concatenate([attack.get_target_label(x, y) for _ in range(50)])
    assert not np.any(targets == np.tile(y, 50)) and set(targets.tolist()) == set(range(CLASSES))
    convlab.manual_seed(5)
    first = attack(x, y).numpy()
    convlab.manual_seed(5)
    np.testing.assert_array_equal(attack(x, y).numpy(), first)


def test_deepfool_has_no_targeted_mode(models):
    with pytest.raises(ValueError, match="Targeted mode is not supported"):
        torchattacks.DeepFool(models[0]).set_mode_targeted_by_label()
    with pytest.raises(ValueError, match=r"DeepFool: targeted mode is not supported \(modes: default\)"):
        attacks.DeepFool(models[1]).set_mode_targeted_by_label()


def test_attack_inside_no_grad(models, batch):
    """An attack needs gradients even when called from evaluation code under no_grad()."""
    x, y = batch
    attack = attacks.FGSM(models[1], eps=0.05)
    expected = attack(x, y).numpy()
    with convlab.no_grad():
        np.testing.assert_array_equal(attack(x, y).numpy(), expected)


def test_bim_steps_zero_uses_the_papers_rule(models):
    for eps in (4 / 255, 8 / 255, 16 / 255):
        assert attacks.BIM(models[1], eps=eps, steps=0).steps == torchattacks.BIM(models[0], eps=eps, steps=0).steps


def test_random_starts_stay_in_the_ball_and_in_range(models, batch):
    x, y = batch
    _, model = models
    for eps in (0.03, 0.3):
        convlab.manual_seed(3)
        adv = attacks.PGD(model, eps=eps, alpha=0.5 * eps, steps=3)(x, y).numpy()
        assert np.abs(adv - x).max() <= eps + 1e-12 and adv.min() >= 0 and adv.max() <= 1
        assert np.abs(adv - x).max() > 0.5 * eps
        convlab.manual_seed(3)
        np.testing.assert_array_equal(attacks.PGD(model, eps=eps, alpha=0.5 * eps, steps=3)(x, y).numpy(), adv)
    start_only = attacks.PGD(model, eps=0.1, steps=0)(x, y).numpy()  # the random start itself
    assert 0.09 < np.abs(start_only - x).max() <= 0.1
    adv = attacks.PGDL2(model, eps=0.5, alpha=0.2, steps=3)(x, y).numpy()
    assert np.sqrt(((adv - x) ** 2).sum(axis=(1, 2, 3))).max() <= 0.5 + 1e-9 and adv.min() >= 0 and adv.max() <= 1


def test_float32_model_and_images(batch):
    """The common case: float32 everywhere (torchattacks' numbers to float32 rounding)."""
    x, y = batch
    reference = torch_cnn()
    model = convlab_cnn(reference).float()
    reference = reference.float()
    x32 = x.astype(np.float32)
    expected = torchattacks.PGD(reference, eps=0.1, alpha=0.02, steps=3, random_start=False)(
        torch.from_numpy(x32), torch.from_numpy(y)).detach().numpy()
    got = attacks.PGD(model, eps=0.1, alpha=0.02, steps=3, random_start=False)(x32, y)
    assert got.dtype == convlab.float32
    assert np.mean(np.abs(got.numpy() - expected) < 1e-5) > 0.99  # a sign may flip where the gradient is ~0


# ---------------------------------------------------------------------------------- no trace
def _state(model):
    return ([m.training for m in model.modules()], [p.requires_grad for p in model.parameters()],
            [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()],
            [p.detach().numpy().copy() for p in model.parameters()],
            [(dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks)) for m in model.modules()])


def _assert_same_state(before, after):
    assert before[0] == after[0] and before[1] == after[1] and before[4] == after[4]
    for a, b in zip(before[2], after[2]):
        assert (a is None and b is None) or np.array_equal(a, b)
    for a, b in zip(before[3], after[3]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(CASES))
def test_attacks_leave_no_trace(name, models, batch):
    x, y = batch
    _, model = models
    model.train()
    model[4].eval()  # a mixed state: restored module by module
    model[0].bias.requires_grad_(False)
    model[6].weight.grad = convlab.tensor(np.ones((CLASSES, 96)))
    model[2].register_forward_hook(lambda module, inputs, output: None)
    before = _state(model)
    attack = getattr(attacks, name)(model, **CASES[name])
    attack.set_normalization_used(MEAN, STD)
    attack(normalize(x), y)
    _assert_same_state(before, _state(model))
    assert attack._normalization_applied is True
    with pytest.raises((ValueError, IndexError)):  # raised inside the attack, after the model was switched
        attack(normalize(x), np.full(6, 99))
    _assert_same_state(before, _state(model))
    assert attack._normalization_applied is True


def test_measures_leave_no_trace(models, batch):
    x, y = batch
    _, model = models
    model.train()
    before = _state(model)
    loader = [(convlab.tensor(x), convlab.tensor(y))]
    attacks.robust_accuracy(model, loader, attacks.FGSM(model, eps=0.05), progress=False)
    attacks.corruption_sweep(model, x, y, corruptions=["contrast"], severities=[1], progress=False)
    _assert_same_state(before, _state(model))


# ---------------------------------------------------------------------------------- bad input
def test_bad_input(models, batch):
    x, y = batch
    _, model = models
    attack = attacks.PGD(model)
    with pytest.raises(ValueError, match=r"PGD\(\): expected floating-point images \(N, C, H, W\), got shape \(3, 8, 8\)"):
        attack(x[0], y[:1])
    with pytest.raises(ValueError, match=r"got shape \(6, 3, 8, 8\) and dtype int64"):
        attack(np.zeros((6, 3, 8, 8), np.int64), y)
    with pytest.raises(ValueError, match=r"PGD\(\): labels are required \(true labels of shape \(6,\)\)"):
        attack(x)
    with pytest.raises(ValueError, match=r"expected integer labels of shape \(6,\), got shape \(5,\)"):
        attack(x, y[:5])
    with pytest.raises(ValueError, match=r"expected integer labels .* dtype float64"):
        attack(x, y.astype(np.float64))
    with pytest.raises(ValueError, match=r"PGD\(\): eps must be a number >= 0.0, got -0.1"):
        attacks.PGD(model, eps=-0.1)
    with pytest.raises(ValueError, match=r"BIM\(\): steps must be an int >= 0, got 2.5"):
        attacks.BIM(model, steps=2.5)
    with pytest.raises(ValueError, match=r"CW\(\): lr must be a positive number, got 0"):
        attacks.CW(model, lr=0)
    with pytest.raises(TypeError, match=r"FGSM\(\): model must be a convlab.nn.Module, got str"):
        attacks.FGSM("model")
    with pytest.raises(ValueError, match="mean and std need one value per channel each, got 3 and 1"):
        attack.set_normalization_used(MEAN, [0.5])
    attack.set_normalization_used([0.5], [0.5])
    with pytest.raises(ValueError, match=r"set_normalization_used\(\) has 1 channels, the images have 3"):
        attack(x, y)
    with pytest.raises(ValueError, match=r"corrupt\(\): unknown corruption 'fog'"):
        attacks.corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match=r"corrupt\(\): severity must be an int in 0..5, got 6"):
        attacks.corrupt(x, "contrast", 6)
    with pytest.raises(ValueError, match=r"modulation_probe\(\): expected integer labels of shape \(6,\)"):
        attacks.modulation_probe(model, x, y[:2], [0.1])
    with pytest.raises(ValueError, match=r"robustness_curve\(\): eps_list is empty"):
        attacks.robustness_curve(model, [], attacks.FGSM, [])


# ---------------------------------------------------------------------------------- measures
def test_robust_accuracy_and_curve_match_torchattacks(models, batch, tmp_path):
    x, y = batch
    reference, model = models
    x2, y2 = np.concatenate([x, x[::-1]]), np.concatenate([y, y[::-1]])
    loader = [(convlab.tensor(x2[:7]), convlab.tensor(y2[:7])), (convlab.tensor(x2[7:]), convlab.tensor(y2[7:]))]
    curve = attacks.robustness_curve(model, loader, attacks.PGD, [0.0, 0.02, 0.2], path=tmp_path / "curve.png",
                                     alpha=0.01, steps=4, random_start=False, progress=False)
    assert list(curve) == [0.0, 0.02, 0.2] and (tmp_path / "curve.png").stat().st_size > 1000
    with torch.no_grad():
        clean = (reference.eval()(torch.from_numpy(x2)).argmax(1).numpy() == y2).mean()
    assert curve[0.0] == pytest.approx(clean)
    for eps in (0.02, 0.2):
        adv = torchattacks.PGD(reference, eps=eps, alpha=0.01, steps=4, random_start=False)(
            torch.from_numpy(x2), torch.from_numpy(y2))
        with torch.no_grad():
            assert curve[eps] == pytest.approx((reference(adv).argmax(1).numpy() == y2).mean())
    assert 0 <= curve[0.2] <= curve[0.02] <= curve[0.0] <= 1


# ---------------------------------------------------------------------------------- probes
def test_modulation_probe_is_the_datasets_construction(tmp_path):
    recipe = RECIPES["orientation"]
    convlab.manual_seed(0)
    model = convlab.models.orientation_cnn().eval()
    test = datasets.LineOrientation(train=False, num_images=200)
    result = attacks.modulation_probe(model, test.data, test.targets, [0.0, 0.25], path=tmp_path / "probe.png",
                                      class_names=recipe.classes)
    assert (tmp_path / "probe.png").stat().st_size > 1000
    for frequency, images in ((0.0, test.data), (0.25, datasets.modulate(test.data, 0.25))):
        dataset = datasets.ImageArrayDataset(images, test.targets, recipe.eval_transform())
        expected = convlab.train.evaluate(model, DataLoader(dataset, batch_size=64))["accuracy"]
        assert result[frequency] == pytest.approx(expected)
    wave = np.cos(2 * np.pi * 0.25 * np.arange(32))  # the probe multiplies each row by this wave
    np.testing.assert_allclose(datasets.modulate(test.data[:1], 0.25)[0], test.data[0] * wave, atol=1e-6)


def test_kernel_spectra():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False))
    weight = np.zeros((2, 1, 3, 3))
    weight[0, 0, 1, 1] = 2.0  # a delta: a flat spectrum
    weight[1, 0, :, 1] = [1.0, 0.0, -1.0]  # a vertical derivative: zero at vertical frequency 0
    model[0].weight.data[...] = weight
    spectra = attacks.kernel_spectra(model, (8, 8))
    assert spectra.shape == (2, 8, 8)
    np.testing.assert_allclose(spectra[0], 2.0)
    np.testing.assert_allclose(spectra[1][4, :], 0, atol=1e-12)  # fftshift: row 4 is vertical frequency 0


def test_corruptions_at_severity():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.3, 0.7, (4, 1, 12, 12)).astype(np.float32)
    np.testing.assert_array_equal(attacks.corrupt(images, "contrast", 0), images)
    noisy = attacks.corrupt(np.full((8, 1, 64, 64), 0.5, np.float32), "gaussian_noise", 1)
    assert np.std(noisy - 0.5) == pytest.approx(0.08, rel=0.02)
    np.testing.assert_allclose(attacks.corrupt(images, "brightness", 2), np.clip(images + 0.2, 0, 1))
    contrast = attacks.corrupt(images, "contrast", 1)
    np.testing.assert_allclose(contrast.mean(axis=(1, 2, 3)), images.mean(axis=(1, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(contrast.std(axis=(1, 2, 3)), 0.4 * images.std(axis=(1, 2, 3)), rtol=1e-5)
    shifted = attacks.corrupt(images, "translation", 5)  # round(0.2 * 12) = 2 pixels right and down
    np.testing.assert_array_equal(shifted[..., 2:, 2:], images[..., :10, :10])
    assert not shifted[..., :2, :].any() and not shifted[..., :, :2].any()
    np.testing.assert_allclose(probes._rotate(images, 90.0), np.rot90(images, axes=(2, 3)), atol=1e-6)
    np.testing.assert_allclose(probes._rotate(images, 0.0), images, atol=1e-7)
    rotated = attacks.corrupt(images, "rotation", 5)  # 30 degrees: the centre stays, corners leave
    assert rotated[0, 0, 0, 0] == 0 and rotated[0, 0, 6, 6] > 0
    np.testing.assert_allclose(attacks.corrupt(np.full((1, 1, 12, 12), 0.3), "gaussian_blur", 5), 0.3)
    delta = np.zeros((1, 1, 21, 21))
    delta[0, 0, 10, 10] = 1.0
    blurred = attacks.corrupt(delta, "gaussian_blur", 2)  # sigma 1: the normalised Gaussian
    profile = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    np.testing.assert_allclose(blurred[0, 0, 7:14, 7:14], np.outer(profile, profile) / profile.sum() ** 2, atol=1e-12)


def test_corruption_sweep(models, batch, tmp_path):
    x, y = batch
    reference, model = models
    result = attacks.corruption_sweep(model, x, y, normalization=(MEAN, STD), path=tmp_path / "c.png", progress=False)
    assert list(result) == ["clean", *attacks.CORRUPTIONS] and all(len(v) == 5 for k, v in result.items() if k != "clean")
    assert (tmp_path / "c.png").stat().st_size > 1000
    with torch.no_grad():
        blurred = attacks.corrupt(x, "gaussian_blur", 3)
        expected = (reference.eval()(torch.from_numpy(normalize(blurred))).argmax(1).numpy() == y).mean()
    assert result["gaussian_blur"][2] == pytest.approx(expected)


# ---------------------------------------------------------------------------------- adversarial training
def test_trainer_adversary_replaces_every_batch():
    convlab.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 10))
    data = datasets.Digits(transform=RECIPES["digits"].eval_transform())
    loader = DataLoader(convlab.data.Subset(data, np.arange(64)), batch_size=16, shuffle=True,
                        generator=np.random.default_rng(0))
    seen_modes = []

    class Recording(attacks.FGSM):
        def __call__(self, images, labels=None):
            adv = super().__call__(images, labels)
            seen_modes.append(self.model.training)  # back in train mode for the training step
            return adv

    adversary = Recording(model, eps=0.1)
    adversary.set_normalization_used(RECIPES["digits"].mean, RECIPES["digits"].std)
    trainer = convlab.train.Trainer(model, convlab.optim.SGD(model.parameters(), lr=0.1), loader, adversary=adversary,
                                    progress=False, verbose=False)
    trainer.fit(1)
    assert seen_modes == [True] * 4 and trainer.step == 4


def test_cli_adversarial_training_and_robustness(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--limit", "256", "--adversarial", "pgd", "--eps",
                 "0.1", "--steps", "2", "--robust-eval", "100", "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["test_robust_accuracy"] <= 1 and 0 <= results["test_accuracy"] <= 1
    assert results["robust_attack"] == "PGD-10 eps=0.1 alpha=0.025 random start"
    assert results["robust_test_images"] == 100
    config = convlab.load(out / "best.safetensors")["config"]
    assert (config["adversarial"], config["eps"], config["steps"]) == ("pgd", 0.1, 2)
    capsys.readouterr()
    assert main(["robustness", str(out / "best.safetensors"), "--limit", "40", "--eps", "0.1", "--steps", "2",
                 "--out", str(tmp_path / "rob"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "clean" in text and "FGSM eps=0.1" in text and "PGD-2 eps=0.1" in text and "gaussian_noise" in text
    report = json.loads((tmp_path / "rob" / "robustness.json").read_text())
    assert report["images"] == 40 and set(report["attacks"]) == {"FGSM", "PGD-2"}
    assert report["attacks"]["FGSM"]["0"] == report["clean_accuracy"]
    for name in ("attacks", "corruptions"):
        assert (tmp_path / "rob" / f"robustness_{name}.png").stat().st_size > 1000
    assert main(["robustness", str(tmp_path / "missing.safetensors")]) == 2
