"""convlab.summary: shapes and counts against PyTorch, shared layers once, no side effects, errors."""

import numpy as np
import pytest
import torch

import convlab
from convlab import nn


def _pair(seed=0):
    """The same MLP-with-BatchNorm in convlab and torch (nested containers, dropout)."""
    cl = nn.Sequential(
        nn.Flatten(),
        nn.Linear(48, 32),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Dropout(0.5)),
        nn.Linear(16, 5),
    )
    th = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(48, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Dropout(0.5)),
        torch.nn.Linear(16, 5),
    )
    return cl, th


def _torch_leaf_rows(model, x):
    """(qualified name, output shape, own parameter count) of every torch leaf call, in order."""
    names = {m: n for n, m in model.named_modules()}
    rows = []
    hooks = [
        m.register_forward_hook(
            lambda mod, args, out: rows.append(
                (names[mod], list(out.shape), sum(p.numel() for p in mod.parameters(recurse=False)))
            )
        )
        for m in model.modules()
        if not list(m.children())
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return rows


@pytest.mark.parametrize("batch", [1, 3])
def test_rows_match_torch(batch):
    cl, th = _pair()
    s = convlab.summary(cl, input_size=(batch, 3, 4, 4), verbose=0, mode="eval")
    leaves = [(r.name, r.output_size, r.params) for r in s.layers if not r.children and r.depth > 0]
    th.eval()
    assert leaves == _torch_leaf_rows(th, torch.zeros(batch, 3, 4, 4))
    assert s.total_params == s.trainable_params == sum(p.numel() for p in th.parameters())
    assert s.non_trainable_params == 0
    assert s.layers[0].output_size == [batch, 5] and s.layers[0].input_size == [batch, 3, 4, 4]


def test_mult_adds_and_sizes():
    """torchinfo's rule: a linear layer's parameters times the rows it is applied to."""
    cl, _ = _pair()
    n = 4
    s = convlab.summary(cl, input_size=(n, 3, 4, 4), verbose=0, col_names=("output_size", "mult_adds"))
    by_name = {r.name: r for r in s.layers}
    assert by_name["1"].mult_adds == n * (48 * 32 + 32)
    assert by_name["4.0"].mult_adds == n * (32 * 16 + 16)
    assert by_name["2"].mult_adds == n * 2 * 32  # BatchNorm: its parameters times the batch
    assert by_name["3"].mult_adds == 0
    assert s.total_mult_adds == sum(r.mult_adds for r in s.layers)
    assert s.input_bytes == n * 48 * 4
    leaf_outputs = [n * 48, n * 32, n * 32, n * 32, n * 16, n * 16, n * 16, n * 5]
    assert s.activation_bytes == 2 * 4 * sum(leaf_outputs)
    assert s.param_bytes == 4 * s.total_params


class _SharedLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 8)
        self.reused = nn.Linear(8, 8)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.reused(self.reused(self.inp(x)).relu()))


class _TorchSharedLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(6, 8)
        self.reused = torch.nn.Linear(8, 8)
        self.out = torch.nn.Linear(8, 2)


def test_shared_layer_counted_once():
    s = convlab.summary(_SharedLayer(), input_size=(2, 6), verbose=0)
    assert s.total_params == sum(p.numel() for p in _TorchSharedLayer().parameters())
    reused_rows = [r for r in s.layers if r.name == "reused"]
    assert len(reused_rows) == 2
    assert reused_rows[0].params == 8 * 8 + 8 and not reused_rows[0].recursive
    assert reused_rows[1].params == 0 and reused_rows[1].recursive
    assert sum(r.own_params for r in s.layers) == s.total_params
    assert reused_rows[1].mult_adds == reused_rows[0].mult_adds  # the work is done twice
    assert "(recursive)" in str(s)


def test_tied_weights_counted_once():
    cl = nn.Sequential(nn.Linear(5, 5, bias=False), nn.Tanh(), nn.Linear(5, 5))
    cl[2].weight = cl[0].weight
    th = torch.nn.Sequential(torch.nn.Linear(5, 5, bias=False), torch.nn.Tanh(), torch.nn.Linear(5, 5))
    th[2].weight = th[0].weight
    s = convlab.summary(cl, input_size=(1, 5), verbose=0)
    assert s.total_params == sum(p.numel() for p in th.parameters()) == 30
    assert [r.params for r in s.layers[1:]] == [25, 0, 5]


def test_frozen_parameters_and_buffers():
    cl, th = _pair()
    cl[1].requires_grad_(False)
    s = convlab.summary(cl, input_size=(2, 3, 4, 4), verbose=0, col_names=("num_params", "trainable"))
    assert s.non_trainable_params == 48 * 32 + 32
    assert s.trainable_params == sum(p.numel() for p in th.parameters()) - (48 * 32 + 32)
    rows = {r.name: r.trainable for r in s.layers}
    assert rows["1"] == "False" and rows["2"] == "True" and rows["3"] == "--" and rows[""] == "Partial"
    counted = convlab.summary(cl, input_size=(2, 3, 4, 4), verbose=0, count_buffers=True)
    floating_buffers = sum(b.numel() for b in th.buffers() if b.is_floating_point())  # running mean + var
    assert counted.total_params == s.total_params + floating_buffers
    assert counted.non_trainable_params == s.non_trainable_params + floating_buffers


@pytest.mark.parametrize("mode", ["eval", "train", "same"])
def test_summary_leaves_model_unchanged(mode):
    cl, _ = _pair()
    cl.train()
    cl[4].eval()  # mixed flags must come back exactly
    before = {k: v.numpy().copy() for k, v in cl.state_dict().items()}
    flags = [m.training for m in cl.modules()]
    rng = convlab.get_rng_state()
    seen = []
    cl[2].register_forward_hook(lambda m, a, o: seen.append(m.training))
    convlab.summary(cl, input_size=(4, 3, 4, 4), verbose=0, mode=mode)
    assert seen == [{"eval": False, "train": True, "same": True}[mode]]
    for k, v in cl.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    assert [m.training for m in cl.modules()] == flags
    assert convlab.get_rng_state() == rng
    assert all(p.grad is None for p in cl.parameters())


def test_default_mode_is_eval_like_torchinfo():
    """torchinfo runs the model in eval mode unless told otherwise: a train-mode model with
    BatchNorm1d summarised on a batch of one works, and the train flag comes back."""
    cl, _ = _pair()
    cl.train()
    seen = []
    cl[2].register_forward_hook(lambda m, a, o: seen.append(m.training))
    convlab.summary(cl, input_size=(1, 3, 4, 4), verbose=0)
    assert seen == [False] and all(m.training for m in cl.modules())


def test_docstring_example_runs_as_written():
    import doctest
    import sys

    function = sys.modules["convlab.summary"].summary
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(function, "summary", globs={"convlab": convlab}):
        runner.run(test)
    assert runner.tries >= 4 and runner.failures == 0


def test_depth_hides_rows_and_counts_subtrees():
    cl, _ = _pair()
    s = convlab.summary(cl, input_size=(1, 3, 4, 4), verbose=0, depth=1, mode="eval")
    text = str(s)
    assert "4 (Sequential)" in text and "0 (Linear)" not in text
    assert next(r for r in s.layers if r.name == "4").params == 32 * 16 + 16
    s0 = convlab.summary(cl, input_size=(1, 3, 4, 4), verbose=0, depth=0, mode="eval")
    assert "Linear" not in str(s0) and f"Total params: {s0.total_params:,}" in str(s0)


def test_printing_and_static_summary(capsys):
    cl, th = _pair()
    total = sum(p.numel() for p in th.parameters())
    s = convlab.summary(cl, input_size=(1, 3, 4, 4), mode="eval")
    printed = capsys.readouterr().out
    assert printed.strip() == str(s).strip()
    for line in ("Layer (type)", "Output Shape", "Param #", f"Total params: {total:,}", "Total mult-adds (M):",
                 "Input size (MB):", "Forward/backward pass size (MB):", "Params size (MB):"):  # fmt: skip
        assert line in printed
    assert "[1, 32]" in printed and "├─1 (Linear)" in printed
    static = convlab.summary(cl, verbose=0)
    assert static.total_params == s.total_params and "mult-adds" not in str(static)
    assert [r.name for r in static.layers] == [n for n, _ in cl.named_modules()]
    verbose = convlab.summary(cl, input_size=(1, 3, 4, 4), verbose=2, depth=1, mode="eval")
    assert "· weight: [32, 48]" in capsys.readouterr().out and verbose.verbose == 2


def test_all_columns_and_input_data():
    cl, th = _pair()
    x = convlab.randn(2, 3, 4, 4)
    cols = ("input_size", "output_size", "num_params", "params_percent", "kernel_size", "mult_adds", "trainable")
    text = str(convlab.summary(cl, input_data=x, col_names=cols, verbose=0))
    for header in ("Input Shape", "Output Shape", "Param #", "Param %", "Kernel Shape", "Mult-Adds", "Trainable"):
        assert header in text
    share = 100 * (48 * 32 + 32) / sum(p.numel() for p in th.parameters())  # the first linear layer's
    assert f"{share:.2f}%" in text


def test_batch_dim_and_multiple_inputs():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 4), nn.Linear(5, 4)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    s = convlab.summary(TwoInputs(), input_size=[(3,), (5,)], batch_dim=0, verbose=0)
    assert s.layers[0].input_size == [[1, 3], [1, 5]] and s.layers[0].output_size == [1, 4]
    assert s.input_bytes == (3 + 5) * 4


def test_bad_arguments():
    cl, _ = _pair()
    with pytest.raises(
        ValueError, match="unknown column 'params' in col_names; valid columns: input_size, output_size"
    ):
        convlab.summary(cl, input_size=(1, 48), col_names=("params",), verbose=0)
    with pytest.raises(ValueError, match="mode must be one of 'eval', 'train', 'same', got 'test'"):
        convlab.summary(cl, input_size=(1, 48), mode="test", verbose=0)
    with pytest.raises(ValueError, match="depth must be a non-negative int, got -1"):
        convlab.summary(cl, input_size=(1, 48), depth=-1, verbose=0)
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2, got 3"):
        convlab.summary(cl, input_size=(1, 48), verbose=3)
    with pytest.raises(ValueError, match=r"input_size must hold positive ints, got \(1, 0\)"):
        convlab.summary(cl, input_size=(1, 0), verbose=0)
    with pytest.raises(TypeError, match="input_size must be a tuple of ints"):
        convlab.summary(cl, input_size=48, verbose=0)
    with pytest.raises(TypeError, match="expected an nn.Module, got Linear"):
        convlab.summary(torch.nn.Linear(2, 2), input_size=(1, 2), verbose=0)
    with pytest.raises(ValueError, match="got 2 dtypes for 1 input shapes"):
        convlab.summary(cl, input_size=(1, 48), dtypes=[convlab.float32, convlab.float32], verbose=0)


def test_failing_forward_names_the_layer():
    cl, _ = _pair()
    with pytest.raises(ValueError) as info:
        convlab.summary(cl, input_size=(2, 5, 4, 4), verbose=0)
    message = str(info.value)
    assert message.startswith("summary(): running Sequential on input (2, 5, 4, 4) failed in layer '1' (Linear)")
    assert "expected input with last dimension 48" in message
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in cl.modules())


def test_convolution_rows_match_torch():
    cl = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.ConvTranspose2d(8, 4, 2, stride=2), nn.MaxPool2d(2), nn.Conv2d(4, 6, 1, groups=2, bias=False),
    )  # fmt: skip
    th = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(8, 4, 2, stride=2), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 1, groups=2, bias=False),
    )  # fmt: skip
    n = 2
    s = convlab.summary(cl, input_size=(n, 3, 16, 16), verbose=0, col_names=("kernel_size", "mult_adds"))
    th.eval()
    leaves = [(r.name, r.output_size, r.params) for r in s.layers[1:]]
    assert leaves == _torch_leaf_rows(th, torch.zeros(n, 3, 16, 16))
    rows = s.layers[1:]
    assert [r.kernel_size for r in rows] == [[3, 3], None, None, [2, 2], [2, 2], [1, 1]]
    # torchinfo's rule: parameters x output positions (input positions for a transposed convolution)
    assert rows[0].mult_adds == (8 * 3 * 3 * 3 + 8) * n * 8 * 8
    assert rows[3].mult_adds == (8 * 4 * 2 * 2 + 4) * n * 8 * 8
    assert rows[5].mult_adds == (6 * 2 * 1 * 1) * n * 8 * 8
    assert "[3, 3]" in str(s)


def test_seed_004_keras_table():
    """The lecture's Keras summary: per-layer counts (BatchNorm with its 2 running statistics per
    channel, as Keras counts them), 1,677,674 trainable, 1,408 non-trainable, 1,679,082 total."""
    keras_rows = [  # (output shape without batch, in PyTorch's NCHW order; Keras "Param #")
        ([32, 28, 28], 320), ([32, 28, 28], 0), ([32, 28, 28], 128),
        ([32, 28, 28], 9248), ([32, 28, 28], 0), ([32, 28, 28], 128), ([32, 14, 14], 0), ([32, 14, 14], 0),
        ([64, 14, 14], 18496), ([64, 14, 14], 0), ([64, 14, 14], 256),
        ([64, 14, 14], 36928), ([64, 14, 14], 0), ([64, 14, 14], 256), ([64, 7, 7], 0), ([64, 7, 7], 0),
        ([3136], 0), ([512], 1606144), ([512], 0), ([512], 2048), ([512], 0), ([10], 5130),
    ]  # fmt: skip
    net = convlab.models.fmnist_cnn()  # as the seed-004 lecture specifies it (tests/test_seed_models.py)
    s = convlab.summary(net, input_size=(1, 1, 28, 28), verbose=0, mode="eval")
    floating_buffers = {name.rpartition(".")[0]: 0 for name, _ in net.named_buffers()}
    for name, b in net.named_buffers():
        if b.dtype.kind == "f":
            floating_buffers[name.rpartition(".")[0]] += b.numel()
    rows = [(r.output_size[1:], r.params + floating_buffers.get(r.name, 0)) for r in s.layers[1:]]
    assert rows == keras_rows
    assert s.trainable_params == s.total_params == 1_677_674
    keras = convlab.summary(net, input_size=(1, 1, 28, 28), verbose=0, count_buffers=True, mode="eval")
    assert (keras.total_params, keras.trainable_params, keras.non_trainable_params) == (1_679_082, 1_677_674, 1_408)
    assert "Trainable params: 1,677,674" in str(s)
