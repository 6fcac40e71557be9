"""convlab.io.load_torch_state_dict: files written by torch.save read without torch, safely."""

import collections
import io
import pickle
import zipfile

import numpy as np
import pytest
import torch

import convlab
from convlab import nn
from convlab.io import load_torch_state_dict


def _saved(obj, zip_format=True):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    buf.seek(0)
    return buf


def _reference(t):
    return (t.float() if t.dtype == torch.bfloat16 else t).detach().numpy()


def _mixed_state(seed):
    """Tensors of every common dtype, plus views (transposed, offset, shared storage) and empties."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(6, 5, generator=g)
    return collections.OrderedDict(
        weight=torch.randn(4, 3, 2, 2, generator=g),
        double=torch.randn(3, generator=g, dtype=torch.float64),
        half=torch.randn(5, generator=g).half(),
        bfloat16=torch.randn(5, generator=g).bfloat16(),
        long=torch.randint(-9, 9, (2, 3), generator=g),
        int32=torch.randint(-9, 9, (4,), generator=g, dtype=torch.int32),
        uint8=torch.randint(0, 255, (3,), generator=g, dtype=torch.uint8),
        int8=torch.randint(-9, 9, (3,), generator=g, dtype=torch.int8),
        flags=torch.rand(4, generator=g) > 0.5,
        scalar=torch.tensor(7),
        transposed=base.t(),
        offset_view=base[2:5, 1:4],
        shared=base,
        empty=torch.zeros(0, 3),
        parameter=torch.nn.Parameter(torch.randn(2, generator=g)),
    )


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("seed", [0, 1])
def test_round_trip_all_dtypes_and_views(zip_format, seed):
    state = _mixed_state(seed)
    loaded = load_torch_state_dict(_saved(state, zip_format))
    assert isinstance(loaded, collections.OrderedDict)
    assert list(loaded) == list(state)
    for key, tensor in state.items():
        expected = _reference(tensor)
        got = loaded[key]
        assert isinstance(got, np.ndarray), key
        assert got.dtype == expected.dtype and got.shape == expected.shape, key
        np.testing.assert_array_equal(got, expected, err_msg=key)
        assert got.flags.c_contiguous and got.flags.writeable, key


def test_nested_checkpoint_and_path(tmp_path):
    """A training checkpoint (nested dicts, numbers, strings) loads with the same structure."""
    net = torch.nn.Linear(3, 2)
    ckpt = {"model": net.state_dict(), "epoch": 3, "name": "run", "history": [0.5, (1, 2)]}
    path = tmp_path / "ckpt.pt"
    torch.save(ckpt, path)
    loaded = load_torch_state_dict(path)
    assert loaded["epoch"] == 3 and loaded["name"] == "run" and loaded["history"] == [0.5, (1, 2)]
    np.testing.assert_array_equal(loaded["model"]["weight"], net.weight.detach().numpy())
    assert load_torch_state_dict(str(path))["epoch"] == 3


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_loads_into_convlab_module_same_outputs(zip_format):
    torch_net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    net.load_state_dict(load_torch_state_dict(_saved(torch_net.state_dict(), zip_format)), strict=True)
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    expected = torch_net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(net(convlab.tensor(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-6)


def test_big_endian_archive():
    """A zip archive tagged big-endian (written on such a machine) is byte-swapped on reading."""
    state = {"w": torch.randn(3, 2), "i": torch.arange(4)}
    source = zipfile.ZipFile(_saved(state))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as target:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in name and not name.endswith("serialization_id"):
                itemsize = 4 if name.endswith("/0") else 8
                data = np.frombuffer(data, dtype=f"<u{itemsize}").byteswap().tobytes()
            target.writestr(name, data)
    buf.seek(0)
    loaded = load_torch_state_dict(buf)
    np.testing.assert_array_equal(loaded["w"], state["w"].numpy())
    np.testing.assert_array_equal(loaded["i"], state["i"].numpy())


# ---------------------------------------------------------------- refusing bad files


def _archive_with_pickle(payload: bytes, extra=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    buf.seek(0)
    return buf


class _RunsCode:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_refuses_code_in_zip_pickle(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _RunsCode(marker)}, protocol=2)
    with pytest.raises(ValueError, match=r"refusing to load 'io.open'.*weights_only=True"):
        load_torch_state_dict(_archive_with_pickle(payload))
    assert not marker.exists()


def test_refuses_code_in_legacy_pickle(tmp_path):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(part, buf, protocol=2)
    pickle.dump({"w": _RunsCode(marker)}, buf, protocol=2)
    buf.seek(0)
    with pytest.raises(ValueError, match="refusing to load 'io.open'"):
        load_torch_state_dict(buf)
    assert not marker.exists()


def test_refuses_torch_module_pickle():
    """A whole pickled nn.Module (torch.save(model)) is refused like weights_only=True does."""
    with pytest.raises(ValueError, match=r"refusing to load 'torch.nn.modules.linear.Linear'"):
        load_torch_state_dict(_saved(torch.nn.Linear(2, 2)))


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"hello, not a pickle")
    with pytest.raises(ValueError, match=r"junk.pt' is not a file written by torch.save"):
        load_torch_state_dict(path)
    with pytest.raises(FileNotFoundError):
        load_torch_state_dict(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="expected a file path or a seekable binary file, got int"):
        load_torch_state_dict(3)


def test_zip_that_is_not_a_torch_archive():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("readme.txt", "hi")
    buf.seek(0)
    with pytest.raises(ValueError, match=r"not a torch.save archive \(expected one '<name>/data.pkl' entry, found 0\)"):
        load_torch_state_dict(buf)


def _corrupted(edit):
    """A saved 4x3 float tensor with its archive entries changed by ``edit(name, data)``."""
    source = zipfile.ZipFile(_saved({"w": torch.randn(4, 3)}))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as target:
        for name in source.namelist():
            data = edit(name, source.read(name))
            if data is not None:
                target.writestr(name, data)
    buf.seek(0)
    return buf


def test_missing_and_short_storage():
    with pytest.raises(ValueError, match=r"has no storage entry 'archive/data/0'"):
        load_torch_state_dict(_corrupted(lambda name, data: None if name.endswith("data/0") else data))
    with pytest.raises(ValueError, match=r"holds 20 bytes, expected 12 elements of 4 bytes"):
        load_torch_state_dict(_corrupted(lambda name, data: data[:20] if name.endswith("data/0") else data))


def test_layout_outside_storage_is_refused():
    """A crafted size/stride that would read past the storage is refused, never viewed."""

    def stretch(name, data):
        if name.endswith("data.pkl"):
            # size (4, 3) -> (4, 9): with strides (3, 1) the view would reach element 3*3 + 8 = 17 of 12
            return data.replace(b"K\x04K\x03\x86", b"K\x04K\x09\x86")
        return data

    with pytest.raises(
        ValueError,
        match=r"load_torch_state_dict\(\): tensor record of size \(4, 9\), stride \(3, 1\) at offset 0 reaches element 17, but its storage holds 12 elements",
    ):
        load_torch_state_dict(_corrupted(stretch))


def test_truncated_legacy_file():
    data = _saved({"w": torch.randn(50)}, zip_format=False).getvalue()
    with pytest.raises(ValueError, match=r"is truncated: storage '\d+' needs 200 bytes"):
        load_torch_state_dict(io.BytesIO(data[:-10]))
