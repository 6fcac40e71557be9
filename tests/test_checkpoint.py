"""convlab.save / convlab.load: safetensors checkpoints, bit-exact round trips, atomic writes,
clear errors on bad files, and no code execution on load."""

import collections
import os
import pickle
import struct

import numpy as np
import pytest
import safetensors
import safetensors.numpy
import torch

import convlab
from convlab import nn, optim
from convlab.io import checkpoint


def small_model():
    return nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))


def assert_same(a, b, path="obj"):
    """Deep equality: same types, same keys in the same order, tensors bit-identical."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, convlab.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=path)
        assert a.requires_grad == b.requires_grad, path
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert type(k) is type(list(b)[list(a).index(k)]), f"{path}: key {k!r} type"
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"
        if isinstance(a, np.generic):
            assert a.dtype == b.dtype, path


def test_state_dict_round_trip_is_bit_exact_and_readable_by_safetensors(tmp_path):
    model = small_model()
    sd = model.state_dict()
    path = tmp_path / "model.safetensors"
    convlab.save(sd, path)
    loaded = convlab.load(path)
    assert_same(sd, loaded)
    plain = safetensors.numpy.load_file(path)
    assert sorted(plain) == sorted(sd)
    for key, value in sd.items():
        np.testing.assert_array_equal(plain[key], value.numpy())
    fresh = small_model()
    fresh.load_state_dict(loaded)
    for (ka, a), (kb, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=ka)


def test_torch_reads_our_weights_and_we_read_torchs(tmp_path):
    """Interop both ways through the safetensors format."""
    import safetensors.torch

    model = small_model()
    path = tmp_path / "ours.safetensors"
    convlab.save(model.state_dict(), path)
    th_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 3))
    th_model.load_state_dict(safetensors.torch.load_file(path))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(th_model(torch.tensor(x)).detach().numpy(), model(convlab.tensor(x)).detach().numpy(), rtol=1e-6)
    theirs = tmp_path / "theirs.safetensors"
    safetensors.torch.save_file(th_model.state_dict(), theirs)
    loaded = convlab.load(theirs)
    assert isinstance(loaded, collections.OrderedDict) and sorted(loaded) == sorted(th_model.state_dict())
    assert all(isinstance(v, convlab.Tensor) for v in loaded.values())
    small_model().load_state_dict(loaded)


def test_full_training_checkpoint_round_trip(tmp_path):
    """Model + optimiser + scheduler + metadata + RNG state come back identical, and training resumes."""
    from convlab.optim import lr_scheduler

    model = small_model()
    opt = optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
    sched = lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    x, y = convlab.randn(6, 4), convlab.randn(6, 3)
    for _ in range(3):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        sched.step()
    ckpt = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": 3,
        "rng": convlab.get_rng_state(),
        "metrics": {"loss": [0.5, 0.25, float("inf"), float("nan")], "best": np.float32(0.125), "ok": True, "note": None},
        "shape": (2, 3),
        "raw": np.arange(6, dtype=np.int16).reshape(2, 3).T,  # non-contiguous array
        "frozen": nn.Parameter(convlab.ones(2)),
    }
    path = tmp_path / "ckpt.safetensors"
    convlab.save(ckpt, path)
    loaded = convlab.load(path)
    expected = dict(ckpt, frozen=convlab.ones(2).requires_grad_())  # a Parameter comes back as a Tensor
    assert_same(expected, loaded)
    assert isinstance(loaded["scheduler"]["milestones"], collections.Counter)
    assert all(type(k) is int for k in loaded["optimizer"]["state"])

    # resume: the restored trio continues exactly like the original
    model2 = small_model()
    model2.load_state_dict(loaded["model"])
    opt2 = optim.Adam(model2.parameters(), lr=1.0)
    sched2 = lr_scheduler.MultiStepLR(opt2, milestones=[9], gamma=0.1)
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        for _ in range(3):
            o.zero_grad()
            ((m(x) - y) ** 2).mean().backward()
            o.step()
            s.step()
    assert sched.get_last_lr() == sched2.get_last_lr()
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_unsupported_objects_are_refused_with_their_place(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store a Sequential at the top level .*save its state_dict\(\) instead"):
        convlab.save(small_model(), tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match=r"cannot store a function at obj\['a'\]\[1\]"):
        convlab.save({"a": [1, lambda: 0]}, tmp_path / "f.safetensors")
    with pytest.raises(TypeError, match="dict keys must be"):
        convlab.save({convlab.ones(1): 1}, tmp_path / "k.safetensors")
    with pytest.raises(TypeError, match="expected a file path"):
        convlab.save({}, 3)
    assert not list(tmp_path.iterdir())


def test_key_escaping_and_colliding_names(tmp_path):
    obj = {"a/b": convlab.ones(1), "a": {"b": convlab.zeros(1)}, 0: convlab.full((1,), 2.0), "0": convlab.full((1,), 3.0)}
    path = tmp_path / "odd.safetensors"
    convlab.save(obj, path)
    assert_same(obj, convlab.load(path))
    assert "a%2Fb" in safetensors.numpy.load_file(path)


def test_missing_file_and_directory_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file: '.*nope.safetensors'"):
        convlab.load(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="directory '.*missing' does not exist"):
        convlab.save({}, tmp_path / "missing" / "x.safetensors")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        convlab.load(tmp_path)


@pytest.mark.parametrize("cut", [0, 4, 8, 30, -1])
def test_truncated_file_is_a_clear_error(tmp_path, cut):
    path = tmp_path / "ckpt.safetensors"
    convlab.save({"w": convlab.randn(10, 10), "epoch": 1}, path)
    data = path.read_bytes()
    path.write_bytes(data[: cut if cut >= 0 else len(data) + cut])
    with pytest.raises(ValueError, match=f"load\\(\\): '{path}' is not a readable safetensors checkpoint"):
        convlab.load(path)


def test_corrupted_tensor_bytes_fail_the_checksum(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    convlab.save({"w": convlab.randn(10, 10)}, path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # flip bits inside the tensor data; the header still parses
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"'{path}' is corrupted: the bytes of tensor 'w' fail their CRC-32 checksum"):
        convlab.load(path)


def test_malformed_structure_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    safetensors.numpy.save_file({"w": np.zeros(2)}, path, metadata={checkpoint.STRUCTURE_KEY: '{"__tensor__": "missing"}'})
    with pytest.raises(ValueError, match="malformed convlab structure: .*'missing' is referenced but not in the file"):
        convlab.load(path)
    safetensors.numpy.save_file({}, path, metadata={checkpoint.STRUCTURE_KEY: '{"x": NaN'})
    with pytest.raises(ValueError, match=f"'{path}' has a malformed convlab structure"):
        convlab.load(path)
    safetensors.numpy.save_file({}, path, metadata={checkpoint.STRUCTURE_KEY: '{"__dict__": {}, "type": "os.system"}'})
    with pytest.raises(ValueError, match="malformed"):
        convlab.load(path)
    safetensors.numpy.save_file({}, path, metadata={checkpoint.STRUCTURE_KEY: '{"__scalar__": 1, "dtype": "O"}'})
    with pytest.raises(ValueError, match="malformed convlab structure: .*bad scalar dtype 'O'"):
        convlab.load(path)
    safetensors.numpy.save_file({}, path, metadata={checkpoint.STRUCTURE_KEY: "[" * 100_000 + "]" * 100_000})
    with pytest.raises(ValueError, match="malformed"):
        convlab.load(path)


class _Boom:
    """Unpickling this runs ``open(marker, 'w')``: proof of code execution if it ever happens."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_files_are_rejected_without_running_them(tmp_path):
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        convlab.load(evil)
    torch_file = tmp_path / "torch.pt"
    torch.save({"w": torch.zeros(2)}, torch_file)
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        convlab.load(torch_file)
    assert not marker.exists()


def test_pickle_payloads_inside_a_valid_file_stay_data(tmp_path):
    marker = tmp_path / "executed"
    payload = pickle.dumps(_Boom(str(marker)))
    path = tmp_path / "payload.safetensors"
    convlab.save({"blob": np.frombuffer(payload, dtype=np.uint8).copy(), "text": payload.decode("latin-1")}, path)
    loaded = convlab.load(path)
    assert loaded["blob"].tobytes() == payload and loaded["text"].encode("latin-1") == payload
    header = payload.decode("latin-1")
    safetensors.numpy.save_file({}, path, metadata={checkpoint.STRUCTURE_KEY: '"x"', "__reduce__": header})
    assert convlab.load(path) == "x"
    assert not marker.exists()


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    convlab.save({"v": convlab.ones(3)}, path)
    before = path.read_bytes()

    def crash_midway(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        convlab.save({"v": convlab.zeros(3)}, path)
    assert path.read_bytes() == before  # the old checkpoint is untouched
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]  # and no temporary file is left
    monkeypatch.undo()

    def failing_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        convlab.save({"v": convlab.zeros(3)}, tmp_path / "new.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]


def test_write_flushes_to_disk_before_renaming(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    convlab.save({"v": convlab.ones(3)}, tmp_path / "c.safetensors")
    assert events[:2] == ["fsync", "replace"]


def test_header_is_standard_safetensors(tmp_path):
    path = tmp_path / "c.safetensors"
    convlab.save({"w": convlab.ones(2, 2), "step": 7}, path)
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    import json

    header = json.loads(data[8 : 8 + header_len])
    assert header["w"]["dtype"] == "F32" and header["w"]["shape"] == [2, 2]
    assert header["__metadata__"]["format"] == "pt"
    with safetensors.safe_open(path, framework="np") as f:
        assert list(f.keys()) == ["w"]


def test_map_location(tmp_path):
    path = tmp_path / "c.safetensors"
    convlab.save({"w": convlab.ones(2)}, path)
    assert convlab.load(path, map_location="cpu")["w"].device == "cpu"
    if not convlab.cuda.is_available():
        with pytest.raises(RuntimeError, match="requested but"):
            convlab.load(path, map_location="cuda")
