"""convlab.receptive_field / receptive_field_for_unit / effective_receptive_field.

The tables are checked three ways: seed 004's worked example (``seed_examples.json``), the
gradient support of a unit (the input pixels it depends on, found by back-propagation in
PyTorch), and PyTorch's input gradient for the effective receptive field.
"""

import json

import numpy as np
import pytest
import torch
from seed_examples import SEED_EXAMPLES

import convlab
from convlab import models, nn
from convlab.receptive_field import LayerLookupError



# ---------------------------------------------------------------- pairs of equivalent models


def _residual(lib):
    """x -> c(a(x) + b(x)): the sum's units see the union of both windows."""

    class Residual(lib.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = _avg(lib, 3, 1, 1), _avg(lib, 5, 1, 2), _avg(lib, 2, 2, 0)

        def forward(self, x):
            return self.c(self.a(x) + self.b(x))

    return Residual()


def _concat(lib):
    """Concatenation of a 3x3 and a 7x7 branch along the channels, then a strided pool."""
    cat = convlab.cat if lib is nn else torch.cat

    class Concat(lib.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.pool = _avg(lib, 3, 1, 1), _avg(lib, 7, 1, 3), _avg(lib, 3, 2, 0)

        def forward(self, x):
            return self.pool(cat([self.a(x), self.b(x)], 1))

    return Concat()


def _gate(lib):
    """Squeeze-and-excitation style gate: y * mean(y over the map); every unit sees everything."""

    class Gate(lib.Module):
        def __init__(self):
            super().__init__()
            self.pool, self.after = _avg(lib, 2, 2, 0), _avg(lib, 1, 1, 0)

        def forward(self, x):
            y = self.pool(x)
            return self.after(y * y.mean((2, 3), keepdim=True))

    return Gate()


def _avg(lib, k, s, p):
    return lib.AvgPool2d(k, stride=s, padding=p)


def _torch_twin(model):
    """The torch model equivalent to a convlab one (Sequentials, pools, upsampling, the blocks above)."""
    if isinstance(model, nn.Sequential):
        return torch.nn.Sequential(*[_torch_twin(m) for m in model])
    for build in (_residual, _concat, _gate):
        if type(model).__name__ == build.__name__.strip("_").capitalize():
            return build(torch.nn)
    if isinstance(model, nn.AvgPool2d):
        return torch.nn.AvgPool2d(model.kernel_size, model.stride, model.padding)
    if isinstance(model, nn.Upsample):
        return torch.nn.Upsample(scale_factor=model.scale_factor, mode=model.mode, align_corners=model.align_corners)
    if isinstance(model, (nn.Conv2d, nn.ConvTranspose2d)):
        cls = torch.nn.ConvTranspose2d if model.transposed else torch.nn.Conv2d
        twin = cls(model.in_channels, model.out_channels, model.kernel_size, model.stride, model.padding,
                   dilation=model.dilation, groups=model.groups)  # fmt: skip
        twin.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
        return twin
    raise TypeError(type(model))


def _support(torch_model, shape, row_index, unit):
    """Bounding box [(lo, hi)] in pixel coordinates of the input pixels a unit depends on."""
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    calls = []
    leaves = [m for m in torch_model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(lambda mod, a, out: calls.append(out)) for m in leaves]
    torch_model(x)
    for handle in handles:
        handle.remove()
    calls[row_index - 1][(0, slice(None), *unit)].sum().backward()
    nonzero = np.argwhere(x.grad[0].abs().sum(0).numpy() > 0)
    return [(int(nonzero[:, axis].min()), int(nonzero[:, axis].max()) + 1) for axis in range(nonzero.shape[1])]


def _check_against_gradient_support(model, shape, exact=True):
    table = convlab.receptive_field(model, shape)
    twin = _torch_twin(model).double()
    with torch.no_grad():  # positive weights: no cancellation, the gradient support is the whole field
        for p in twin.parameters():
            p.copy_(p.abs() + 0.1)
    for row in table[1:]:
        units = {
            tuple(0 for _ in row.map_size),
            tuple(n - 1 for n in row.map_size),
            tuple(n // 2 for n in row.map_size),
        }
        for unit in units:
            region = convlab.receptive_field_for_unit(table, row.layer, unit)
            support = _support(twin, shape, row.layer, unit)
            if exact:
                assert [(lo, hi) for lo, hi in region] == support, (row, unit)
            else:
                assert all(lo <= s_lo and s_hi <= hi for (lo, hi), (s_lo, s_hi) in zip(region, support)), (row, unit)
    return table


# ---------------------------------------------------------------- tables


def test_seed_004_resnet_stem_table():
    """seed_examples.json -> receptive_field: the pytorch-receptive-field table of a ResNet stem."""
    example = SEED_EXAMPLES["receptive_field"]
    stem = nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    )  # fmt: skip
    table = convlab.receptive_field(stem, tuple(example["input_shape"]))
    assert len(table) == len(example["table"])
    for row, expected in zip(table, example["table"]):
        assert row["layer"] == expected["layer"]
        for key in ("map_size", "start", "jump", "receptive_field"):
            assert row[key] == expected[key], (row, key)
    query = example["unit_query"]
    region = convlab.receptive_field_for_unit(table, str(query["layer"]), tuple(query["unit"]))
    assert region == [tuple(axis) for axis in query["input_region"]]
    assert [r["type"] for r in table] == ["input", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]


@pytest.mark.parametrize(
    "convs,size",
    [
        (
            [{"kernel_size": 3, "padding": 1}, {"kernel_size": 3, "stride": 2}, {"kernel_size": 2, "stride": 2}],
            (13, 12),
        ),
        (
            [
                {"kernel_size": 3, "dilation": 2, "padding": 2},
                {"kernel_size": (5, 3), "stride": (2, 1), "padding": (0, 1)},
            ],
            (15, 9),
        ),
        ([{"kernel_size": 4, "padding": "same"}, {"kernel_size": 3, "dilation": 3, "padding": "same"}], (11, 11)),
        ([{"kernel_size": 1, "stride": 3}, {"kernel_size": 3, "padding": "valid", "groups": 2}], (14, 14)),
    ],
)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_convolutions_match_gradient_support(convs, size):
    model = nn.Sequential(*[nn.Conv2d(2, 2, **options) for options in convs])
    _check_against_gradient_support(model, (2, *size))


def test_transposed_convolution_envelope_contains_the_true_field():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2),
        nn.ConvTranspose2d(2, 2, 2, stride=2),
        nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1),
    )
    table = _check_against_gradient_support(model, (1, 11, 11), exact=False)
    assert table[2]["jump"] == 1.0 and table[3]["jump"] == 0.5


def test_published_figures():
    """Araujo et al. (Distill, 2019): AlexNet's pool5 sees 195 pixels, VGG-16's pool5 212."""
    alexnet = convlab.receptive_field(models.alexnet().features, (3, 224, 224))
    assert alexnet[-1]["receptive_field"] == 195.0 and alexnet[-1]["jump"] == 32.0
    vgg16 = convlab.receptive_field(models.vgg.make_layers(models.vgg.CFGS["D"]), (3, 32, 32))
    assert vgg16[-1]["receptive_field"] == 212.0 and vgg16[-1]["map_size"] == [1, 1]


def test_channel_shuffle_keeps_the_field():
    """ShuffleNet's (N, g, C/g, H, W) reshape between layers: the spatial axes are the last two."""
    net = models.shufflenet.InvertedResidual(8, 8, 1)
    model = nn.Sequential(nn.AvgPool2d(3, 1, 1), net, nn.AvgPool2d(2))
    table = convlab.receptive_field(model, (8, 10, 10))
    assert table[-1]["name"] == "2" and table[-1]["receptive_field"] == 6.0


@pytest.mark.parametrize(
    "layers,size",
    [
        ([(3, 1, 1), (3, 2, 0), (2, 2, 0)], (9, 12)),
        ([(5, 2, 2), (3, 2, 1), (3, 1, 1)], (16, 16)),
        ([(4, 3, 1), (2, 1, 0)], (13, 10)),
    ],
)
def test_window_layers_match_gradient_support(layers, size):
    model = nn.Sequential(*[nn.AvgPool2d(k, stride=s, padding=p) for k, s, p in layers])
    _check_against_gradient_support(model, (2, *size))


@pytest.mark.parametrize("build", [_residual, _concat])
def test_residual_and_concat_are_unions(build):
    table = _check_against_gradient_support(build(nn), (1, 11, 11))
    assert [r.name for r in table] == ["input", "a", "b", "c" if build is _residual else "pool"]
    assert table[3]["receptive_field"] == (6.0 if build is _residual else 9.0)


def test_global_gate_sees_everything():
    table = _check_against_gradient_support(_gate(nn), (1, 8, 6))
    assert convlab.receptive_field_for_unit(table, "pool", (0, 0)) == [(0, 2.0), (0, 2.0)]
    for unit in ((0, 0), (3, 2), (1, 1)):
        assert convlab.receptive_field_for_unit(table, "after", unit) == [(0, 8), (0, 6)]


def test_upsampling_envelope_contains_the_true_field():
    for mode, align in (("nearest", None), ("bilinear", False), ("bilinear", True)):
        model = nn.Sequential(
            nn.AvgPool2d(2, stride=2),
            nn.Upsample(scale_factor=2, mode=mode, align_corners=align),
            nn.AvgPool2d(3, 1, 1),
        )
        table = _check_against_gradient_support(model, (1, 12, 12), exact=False)
        assert table[2]["map_size"] == [12, 12] and table[2]["jump"] == (1.0 if not align else 2 * 5 / 11)


def test_table_rows_and_printing():
    model = nn.Sequential(nn.AvgPool2d((3, 1), stride=(2, 1)), nn.ReLU())
    table = convlab.receptive_field(model, (1, 9, 4))
    row = table[1]
    assert dict(row) == {
        "layer": 1, "name": "0", "type": "AvgPool2d", "map_size": [4, 4],
        "start": (1.5, 0.5), "jump": (2.0, 1.0), "receptive_field": (3.0, 1.0),
    }  # fmt: skip
    assert table["1"] is row and table[-1] is table[2] and table["input"] is table[0]
    text = str(table)
    assert "receptive_field" in text and "0 (AvgPool2d)" in text and "(3.0, 1.0)" in text
    assert len(table) == 3 and table.input_size == (1, 9, 4)


def test_non_map_layers_are_left_out():
    model = nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    table = convlab.receptive_field(model, (1, 8, 8))
    assert [r["type"] for r in table] == ["input", "AvgPool2d"]


def test_model_left_unchanged():
    model = nn.Sequential(nn.BatchNorm2d(2), nn.AvgPool2d(2), nn.Dropout(0.5))
    model.train()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    rng = convlab.get_rng_state()
    convlab.receptive_field(model, (2, 6, 6), mode="train")
    convlab.effective_receptive_field(model, (2, 6, 6), mode="train", samples=2)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    assert all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert convlab.get_rng_state() == rng
    assert all(not m._forward_hooks for m in model.modules())


# ---------------------------------------------------------------- effective receptive field


@pytest.mark.parametrize("channel", [None, 1])
def test_effective_receptive_field_matches_torch_gradient(channel):
    model = nn.Sequential(nn.AvgPool2d(3, 1, 1), nn.AvgPool2d(2, 2), nn.AvgPool2d(3, 1, 1))
    shape, unit, samples, seed = (3, 10, 10), (2, 3), 2, 5
    erf = convlab.effective_receptive_field(
        model, shape, layer=3, unit=unit, channel=channel, samples=samples, seed=seed
    )
    rng = np.random.default_rng(seed)
    twin, expected = _torch_twin(model), np.zeros(shape[1:])
    for _ in range(samples):
        x = torch.from_numpy(rng.standard_normal((1, *shape)).astype(np.float32)).requires_grad_(True)
        out = twin(x)
        out[0, slice(None) if channel is None else channel, unit[0], unit[1]].sum().backward()
        expected += x.grad[0].abs().sum(0).double().numpy()
    np.testing.assert_allclose(erf, expected / samples, rtol=1e-6, atol=1e-7)
    assert erf.shape == (10, 10) and erf.dtype == np.float64


def test_effective_receptive_field_of_convolutions_matches_torch():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, stride=2, dilation=2))
    erf = convlab.effective_receptive_field(model, (2, 12, 12), layer=3, unit=(1, 2), samples=3, seed=1)
    twin = torch.nn.Sequential(_torch_twin(model[0]), torch.nn.ReLU(), _torch_twin(model[2]))
    rng, expected = np.random.default_rng(1), np.zeros((12, 12))
    for _ in range(3):
        x = torch.from_numpy(rng.standard_normal((1, 2, 12, 12)).astype(np.float32)).requires_grad_(True)
        twin(x)[0, :, 1, 2].sum().backward()
        expected += x.grad[0].abs().sum(0).double().numpy()
    np.testing.assert_allclose(erf, expected / 3, rtol=1e-5, atol=1e-7)


def test_effective_receptive_field_defaults_to_last_layer_centre():
    model = nn.Sequential(nn.AvgPool2d(3, 1, 1), nn.AvgPool2d(3, 1, 1))
    erf = convlab.effective_receptive_field(model, (1, 9, 9))
    support = np.argwhere(erf > 0)
    assert support.min(0).tolist() == [2, 2] and support.max(0).tolist() == [6, 6]  # 5x5 around (4, 4)


# ---------------------------------------------------------------- errors


def test_bad_input_size_and_queries():
    model = nn.Sequential(nn.AvgPool2d(2))
    with pytest.raises(ValueError, match=r"input_size must be \(channels, \*spatial\)"):
        convlab.receptive_field(model, (8,))
    with pytest.raises(ValueError, match="mode must be one of"):
        convlab.receptive_field(model, (1, 8, 8), mode="test")
    table = convlab.receptive_field(model, (1, 8, 8))
    with pytest.raises(ValueError, match=r"unit \(4, 0\) is outside layer 1's map \[4, 4\] \(axis 0: 0..3\)"):
        convlab.receptive_field_for_unit(table, 1, (4, 0))
    with pytest.raises(ValueError, match=r"has a 2-d map \[4, 4\]; unit \(1,\) has 1 indices"):
        convlab.receptive_field_for_unit(table, 1, 1)
    with pytest.raises(KeyError, match="no layer named 'conv1'; layers: '0'"):
        convlab.receptive_field_for_unit(table, "conv1", (0, 0))
    with pytest.raises(IndexError, match=r"row 5 is out of range \(0..1\)"):
        table[5]
    with pytest.raises(TypeError, match="expected the table returned by receptive_field"):
        convlab.receptive_field_for_unit({}, 1, (0, 0))
    with pytest.raises(ValueError, match="unit \\(9, 9\\) is outside layer '0'"):
        convlab.effective_receptive_field(model, (1, 8, 8), unit=(9, 9))


def test_reused_layer_name_is_ambiguous_and_row_numbers_pick_the_call():
    """A module called twice has two rows; its name raises listing them (no silent first call),
    the row number selects a call, in the table, receptive_field_for_unit and the effective field."""

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool, self.down = nn.AvgPool2d(3, 1, 1), nn.AvgPool2d(2, 2)

        def forward(self, x):
            return self.pool(self.down(self.pool(x)))

    table = convlab.receptive_field(Twice(), (1, 12, 12))
    assert [r["name"] for r in table] == ["input", "pool", "down", "pool"]
    message = r"layer 'pool' is ambiguous: it is called 2 times, in rows 1, 3; pass the row number of the call you mean"
    for lookup in (
        lambda: table["pool"],
        lambda: convlab.receptive_field_for_unit(table, "pool", (0, 0)),
        lambda: convlab.effective_receptive_field(Twice(), (1, 12, 12), layer="pool"),
    ):
        with pytest.raises(KeyError, match=message) as info:
            lookup()
        assert isinstance(info.value, LayerLookupError)
        assert str(info.value).startswith("receptive field table: layer 'pool'")  # no KeyError quotes
    assert table["down"] is table[2]
    assert convlab.receptive_field_for_unit(table, 1, (0, 0)) == [(0, 2.0), (0, 2.0)]
    assert convlab.receptive_field_for_unit(table, 3, (0, 0)) == [(0, 5.0), (0, 5.0)]
    erf = convlab.effective_receptive_field(Twice(), (1, 12, 12), layer=3, unit=(0, 0))
    assert np.argwhere(erf > 0).max(0).tolist() == [4, 4]  # the second call: pixels 0..4, not the first call's 0..1
    with pytest.raises(KeyError) as info:
        table["nope"]
    assert str(info.value) == "receptive field table: no layer named 'nope'; layers: 'pool', 'down'"


def test_functional_resize_is_reported():
    class FunctionalPool(nn.Module):
        def forward(self, x):
            return convlab.nn.functional.max_pool2d(x, 2)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = FunctionalPool()
            self.after = nn.AvgPool2d(3, 1, 1)

        def forward(self, x):
            return self.after(self.inner(x))

    with pytest.raises(ValueError) as info:
        convlab.receptive_field(Net(), (1, 8, 8))
    assert "receptive_field(): layer 'inner' (FunctionalPool()) changes the feature-map size [8, 8] -> [4, 4]" in str(
        info.value
    )
