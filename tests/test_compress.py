"""convlab.compress: shrink_channels (the smaller model computes what the channel-masked original
computes; parameters and FLOPs as convlab.summary counts them, against the formula), the
prune-to-sparsity schedule and `convlab compress prune` on a short digits run."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

import convlab
from convlab import compress, nn
from convlab.cli import main
from convlab.nn.utils import prune


def trained_ish(model, shape, steps=3, seed=0):
    """A few Adam steps on random data, so that BatchNorm statistics and weights are not the
    initial ones (and filters have different norms)."""
    rng = np.random.default_rng(seed)
    optimizer = convlab.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        x = convlab.tensor(rng.standard_normal(shape).astype(np.float32))
        y = convlab.tensor(rng.integers(0, 10, shape[0]))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


def state(model):
    return (
        [(n, p.requires_grad) for n, p in model.named_parameters()],
        {k: v.numpy().copy() for k, v in model.state_dict().items()},
        model.training,
        len(model._forward_pre_hooks),
    )


def assert_same_state(before, after):
    assert before[0] == after[0] and before[2:] == after[2:]
    for key, value in before[1].items():
        np.testing.assert_array_equal(after[1][key], value)


def test_fmnist_cnn_shrinks_to_the_masked_original(rng):
    net = trained_ish(convlab.models.fmnist_cnn(), (8, 1, 28, 28))
    before = state(net)
    small = compress.shrink_channels(net, 0.5)
    assert_same_state(before, state(net))  # the original is left as it was
    assert [m.out_channels for m in small.modules() if isinstance(m, nn.Conv2d)] == [16, 16, 32, 32]
    assert small[17].in_features == 32 * 7 * 7 and small[2].num_features == 16 and small[13].running_mean.shape == (32,)
    masked = copy.deepcopy(net)
    compress.mask_channels(masked, 0.5)
    x = convlab.tensor(rng.standard_normal((4, 1, 28, 28)).astype(np.float32))
    with convlab.no_grad():
        out, expected, original = small(x).numpy(), masked(x).numpy(), net(x).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(out - original).max() > 1e-3  # channels really went
    # the kept filters are those of largest L1 norm
    norms = np.abs(net[0].weight.detach().numpy()).sum(axis=(1, 2, 3))
    kept = np.sort(np.argsort(-norms)[:16])
    np.testing.assert_array_equal(small[0].weight.detach().numpy(), net[0].weight.detach().numpy()[kept])

    # parameters and mult-adds as summary counts them, against the formula
    def conv(cin, cout, hw):
        return cin * cout * 9 + cout, (cin * cout * 9 + cout) * hw * hw

    def count(c1, c2):
        layers = [conv(1, c1, 28), conv(c1, c1, 28), conv(c1, c2, 14), conv(c2, c2, 14)]
        linear = (c2 * 49 * 512 + 512, c2 * 49 * 512 + 512)
        batchnorm = [(2 * c, 2 * c) for c in (c1, c1, c2, c2)]  # torchinfo: params x batch for a norm layer
        last = [(512 * 2, 512 * 2), (512 * 10 + 10, 512 * 10 + 10)]
        rows = layers + batchnorm + [linear] + last
        return sum(p for p, _ in rows), sum(m for _, m in rows)

    for model, channels in ((net, (32, 64)), (small, (16, 32))):
        report = convlab.summary(model, input_size=(1, 1, 28, 28), verbose=0)
        assert (report.total_params, report.total_mult_adds) == count(*channels)
    assert convlab.summary(small, (1, 1, 28, 28), verbose=0).total_params < 0.55 * before[1]["17.weight"].size


def test_resnet18_shrinks_its_blocks_inner_convolutions(rng):
    net = trained_ish(convlab.models.resnet18(num_classes=10), (2, 3, 32, 32), steps=1)
    plan = compress.channel_plan(net, 0.5)
    assert sorted(plan) == sorted(f"layer{s}.{b}.conv1" for s in range(1, 5) for b in range(2))
    small = compress.shrink_channels(net, 0.5)
    assert small.layer2[0].conv1.out_channels == 64 and small.layer2[0].conv2.in_channels == 64
    assert small.layer2[0].conv2.out_channels == 128 and small.layer2[0].bn1.num_features == 64
    masked = copy.deepcopy(net)
    compress.mask_channels(masked, 0.5)
    x = convlab.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    with convlab.no_grad():
        np.testing.assert_allclose(small(x).numpy(), masked(x).numpy(), rtol=1e-5, atol=1e-5)
    full = convlab.summary(net, (1, 3, 32, 32), verbose=0)
    reduced = convlab.summary(small, (1, 3, 32, 32), verbose=0)
    # each block's conv1 loses half its filters and conv2 half its inputs (+ bn1's halves)
    saved = sum(
        c // 2 * cin * 9 + c // 2 * c * 9 + c
        for c, cin in [(64, 64)] * 2 + [(128, 64), (128, 128)] + [(256, 128), (256, 256)] + [(512, 256), (512, 512)]
    )
    assert full.total_params - reduced.total_params == saved
    assert reduced.total_mult_adds < 0.8 * full.total_mult_adds


def test_layers_that_would_not_keep_a_pruned_channel_zero_stop_the_chain():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Sigmoid(), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4, affine=False),
                        nn.Conv2d(4, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 1))  # fmt: skip
    assert list(compress.channel_plan(net, 0.5)) == ["4"]
    small = compress.shrink_channels(net, 0.5)
    assert small[4].out_channels == 1 and small[6].in_channels == 1 and small[2].out_channels == 4


def test_summary_counts_a_pruned_layer_like_the_dense_one():
    conv = nn.Conv2d(3, 8, 3)
    dense = convlab.summary(conv, (1, 3, 10, 10), verbose=0)
    prune.l1_unstructured(conv, "weight", 0.5)
    pruned = convlab.summary(conv, (1, 3, 10, 10), verbose=0)
    assert (pruned.total_params, pruned.total_mult_adds) == (dense.total_params, dense.total_mult_adds)


def test_shrink_channels_bad_input():
    net = convlab.models.fmnist_cnn()
    for amount, error, message in (
        (1.5, ValueError, r"shrink_channels\(\): amount=1.5 should either be a float in the range \[0, 1\]"),
        (-1, ValueError, "amount=-1 should either be"),
        ("half", TypeError, "Invalid type for amount"),
        (1.0, ValueError, "would remove all 32 filters of 0"),
        (40, ValueError, "would remove all 32 filters of 0"),
    ):
        with pytest.raises(error, match=message):
            compress.shrink_channels(net, amount)
    with pytest.raises(ValueError, match="MLP|no convolution whose filters can be removed"):
        compress.shrink_channels(convlab.models.mlp(), 0.5)
    prune.l1_unstructured(net[0], "weight", 0.5)
    with pytest.raises(ValueError, match="pruning hooks"):
        compress.shrink_channels(net, 0.5)


def test_prune_to_sparsity_reaches_the_targets():
    net = convlab.models.lenet5()
    pairs = compress.prunable_weights(net)
    assert len(pairs) == 5
    total = sum(m.weight.numel() for m, _ in pairs)
    for target in (0.5, 0.8, 0.9):
        compress.prune_to_sparsity(pairs, target)
        assert compress.sparsity(pairs) == round(target * total) / total
    weights = np.concatenate([np.abs(m.weight_orig.detach().numpy()).ravel() for m, _ in pairs])
    masks = np.concatenate([m.weight_mask.numpy().ravel() for m, _ in pairs])
    assert weights[masks == 0].max() <= weights[masks == 1].min()  # global: the smallest went, in any layer
    with pytest.raises(ValueError, match="target must be a fraction"):
        compress.prune_to_sparsity(pairs, 1.2)


def test_compress_prune_command(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--limit", "600", "--out", str(run),
                 "--no-progress"]) == 0  # fmt: skip
    argv = ["compress", "prune", str(run / "best.safetensors"), "--sparsity", "0.5,0.8", "--finetune-epochs", "1",
            "--limit", "300", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((run / "pruned" / "results.json").read_text())
    assert [r["sparsity"] for r in results] == [0.0, 0.5, 0.8]
    weights = results[0]["nonzero_weights"]
    assert [r["nonzero_weights"] for r in results[1:]] == [
        weights - round(0.5 * weights),
        weights - round(0.8 * weights),
    ]
    capsys.readouterr()
    assert main(["eval", str(run / "pruned" / "sparsity-0.8.safetensors")]) == 0
    assert f"accuracy {results[2]['test_accuracy']:.2%}" in capsys.readouterr().out
    # from the shell: a bad schedule is a one-line parser error
    bad = subprocess.run([sys.executable, "-m", "convlab.cli", "compress", "prune", str(run / "best.safetensors"),
                          "--sparsity", "0.8,0.5"], capture_output=True, text=True, check=False)  # fmt: skip
    assert bad.returncode == 2 and "expected increasing fractions in (0, 1)" in bad.stderr
    assert main(["compress", "prune", str(tmp_path / "missing.safetensors")]) == 2
    assert "convlab compress prune:" in capsys.readouterr().err


def test_model_size_in_each_format():
    dense = 1677674 * 4 + 4 * (32 + 32 + 64 + 64 + 512) * 2  # float32 parameters + BatchNorm statistics
    net = convlab.models.fmnist_cnn()
    assert compress.model_size(net) == dense
    pairs = compress.prunable_weights(net)
    compress.prune_to_sparsity(pairs, 0.9)
    weights = sum(m.weight_orig.numel() for m, _ in pairs)
    nonzero = weights - round(0.9 * weights)
    bitmaps = sum(-(-m.weight_orig.numel() // 8) for m, _ in pairs)
    assert compress.model_size(net) == dense  # dense storage of a pruned model: no saving
    assert compress.model_size(net, sparse_weights=True) == dense - 4 * weights + 4 * nonzero + bitmaps
    sparse = convlab.models.fmnist_cnn_sparse()
    kept = 32 * 1 * 2 + 32 * 32 * 2 + 64 * 32 * 2 + 64 * 64 * 2 + 512 * 784  # 2 of 9 taps; 784 of 3136 inputs
    assert compress.model_size(sparse) == dense - 4 * (weights - 512 * 10) + 4 * kept  # the classifier stays dense
    binary_weights = 32 * 32 * 9 + 64 * 32 * 9 + 64 * 64 * 9 + 512 * 3136
    for name, alphas in (("fmnist_cnn_binary", 0), ("fmnist_cnn_xnor", 32 + 64 + 64 + 512)):
        expected = dense - 4 * binary_weights + binary_weights // 8 + 4 * alphas
        assert compress.model_size(convlab.models.get_model(name)) == expected
