"""convlab.data: Dataset / TensorDataset / Subset / ConcatDataset / random_split, default_collate
and DataLoader, checked against torch.utils.data where PyTorch has the same thing."""

import collections
import gc
import threading
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import convlab
from convlab.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split
from convlab.data import transforms as T
from convlab.data.datasets import ImageArrayDataset


def to_numpy(x):
    """A collated batch (convlab or torch) as nested Python containers of NumPy arrays."""
    if isinstance(x, convlab.Tensor):
        return np.asarray(x.data)
    if isinstance(x, torch.Tensor):
        return x.numpy()
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(to_numpy(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(to_numpy(v) for v in x)
    return x


def assert_same(ours, ref):
    """Same structure, container types, dtypes and values."""
    assert type(ours) is type(ref), (type(ours), type(ref))
    if isinstance(ours, np.ndarray):
        assert ours.dtype == ref.dtype and ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref)
    elif isinstance(ours, dict):
        assert list(ours) == list(ref)
        for k in ours:
            assert_same(ours[k], ref[k])
    elif isinstance(ours, (list, tuple)):
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref):
            assert_same(a, b)
    else:
        assert ours == ref


# ---------------------------------------------------------------- datasets


def test_tensor_dataset_matches_torch():
    x, y = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32), np.arange(7)
    ours, ref = TensorDataset(convlab.tensor(x), y), tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    assert len(ours) == len(ref) == 7
    for i in (0, 3, 6, -1, -7):
        assert_same(to_numpy(list(ours[i])), to_numpy(list(ref[i])))
    with pytest.raises(IndexError, match="index 7 is out of range for a dataset of length 7"):
        ours[7]
    with pytest.raises(IndexError, match="index -8"):
        ours[-8]
    with pytest.raises(TypeError, match="TensorDataset: index must be an int, got str"):
        ours["0"]
    batch = ours.get_batch(np.array([4, -1, 0]))
    np.testing.assert_array_equal(batch[0].data, x[[4, 6, 0]])


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"size mismatch between tensors, first dimensions are \[3, 4\]"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="tensor 1 must be a Tensor or numpy.ndarray, got list"):
        TensorDataset(np.zeros(3), [1, 2, 3])
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="tensor 0 is 0-dimensional"):
        TensorDataset(np.array(1.0))


def test_subset_and_concat_match_torch():
    a, b = np.arange(5) * 10, np.arange(3) * 100 + 1
    ours = ConcatDataset([TensorDataset(a), TensorDataset(b)])
    ref = tud.ConcatDataset([tud.TensorDataset(torch.from_numpy(a)), tud.TensorDataset(torch.from_numpy(b))])
    assert len(ours) == len(ref) == 8 and ours.cumulative_sizes == ref.cumulative_sizes
    for i in range(-8, 8):
        assert int(ours[i][0].data) == int(ref[i][0])
    with pytest.raises(IndexError, match="index 8 is out of range for a dataset of length 8"):
        ours[8]
    assert len(TensorDataset(a) + TensorDataset(b)) == 8
    with pytest.raises(ValueError, match="datasets should not be an empty iterable"):
        ConcatDataset([])

    indices = [4, 0, -1, 2]
    ours_sub, ref_sub = Subset(ours, indices), tud.Subset(ref, [i % 8 for i in indices])
    assert len(ours_sub) == 4
    for i in range(-4, 4):
        assert int(ours_sub[i][0].data) == int(ref_sub[i][0])
    assert len(Subset(ours, [])) == 0
    assert int(Subset(ours, convlab.tensor([7]))[0][0].data) == 201
    with pytest.raises(IndexError, match=r"Subset\(\): index 8 is out of range for a dataset of length 8"):
        Subset(ours, [1, 8])
    with pytest.raises(TypeError, match=r"Subset\(\): expected a 1-D array of integer indices, got dtype float64"):
        Subset(ours, [0.5])


def test_subset_get_batch_maps_indices():
    data = np.arange(10)
    sub = Subset(TensorDataset(data), [9, 7, 5])
    assert sub.supports_batch
    np.testing.assert_array_equal(sub.get_batch([2, 0, -1])[0].data, [5, 9, 5])


@pytest.mark.filterwarnings("ignore:Length of split at index")
@pytest.mark.parametrize(
    "lengths",
    [[3, 7], [0.3, 0.7], [0.5, 0.5], [0.34, 0.33, 0.33], [0.1, 0.2, 0.3, 0.4], [1], [0, 1], [0.0, 0.25, 0.75]],
)
def test_random_split_sizes_match_torch(lengths):
    n = 10
    ours = random_split(TensorDataset(np.arange(n)), lengths, generator=np.random.default_rng(0))
    ref = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in ref]
    picked = np.concatenate([s.indices for s in ours])
    assert sorted(picked.tolist()) == list(range(n))  # disjoint and complete


def test_random_split_determinism_and_errors():
    ds = TensorDataset(np.arange(20))
    first = random_split(ds, [5, 15], generator=np.random.default_rng(3))
    again = random_split(ds, [5, 15], generator=np.random.default_rng(3))
    other = random_split(ds, [5, 15], generator=np.random.default_rng(4))
    np.testing.assert_array_equal(first[0].indices, again[0].indices)
    assert not np.array_equal(np.concatenate([s.indices for s in first]), np.concatenate([s.indices for s in other]))
    with pytest.raises(ValueError, match="sum of input lengths 19 does not equal the length of the input dataset 20"):
        random_split(ds, [4, 15])
    with pytest.raises(ValueError, match="fraction at index 2 is not between 0 and 1, got -0.2"):
        random_split(ds, [0.5, 0.7, -0.2])
    with pytest.raises(TypeError, match="lengths must be ints or fractions"):
        random_split(ds, ["a", 20])
    with pytest.raises(TypeError, match=r"generator must be a numpy.random.Generator .* got int"):
        random_split(ds, [10, 10], generator=0)


# ---------------------------------------------------------------- default_collate

Point = collections.namedtuple("Point", "x y")

COLLATE_CASES = {
    "array_and_int": lambda r: [(r.standard_normal((2, 3)).astype(np.float32), int(k)) for k in range(4)],
    "python_floats": lambda r: [float(v) for v in r.standard_normal(3)],
    "python_bools": lambda r: [True, False, True],
    "ints_then_float": lambda r: [1, 2.5],
    "numpy_scalars_f32": lambda r: [np.float32(v) for v in r.standard_normal(3)],
    "numpy_scalars_i32": lambda r: [np.int32(v) for v in (1, -2, 3)],
    "numpy_scalars_u8": lambda r: [np.uint8(v) for v in (1, 200)],
    "numpy_bool": lambda r: [np.bool_(True), np.bool_(False)],
    "uint8_images": lambda r: [r.integers(0, 256, (4, 4), dtype=np.uint8) for _ in range(3)],
    "zero_dim_arrays": lambda r: [np.array(v, np.float64) for v in (1.0, 2.0)],
    "dict": lambda r: [{"image": r.standard_normal(2), "label": k, "name": f"s{k}"} for k in range(3)],
    "nested_lists": lambda r: [[k, [float(k), np.int64(k)]] for k in range(3)],
    "namedtuple": lambda r: [Point(r.standard_normal(2).astype(np.float32), k) for k in range(3)],
    "strings": lambda r: ["a", "bc"],
}


def _torch_version(sample):
    """The same sample with convlab Tensors replaced by torch tensors (torch collates those)."""
    if isinstance(sample, convlab.Tensor):
        return torch.from_numpy(np.asarray(sample.data))
    if isinstance(sample, dict):
        return {k: _torch_version(v) for k, v in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*map(_torch_version, sample))
    if isinstance(sample, (list, tuple)):
        return type(sample)(map(_torch_version, sample))
    return sample


@pytest.mark.parametrize("case", sorted(COLLATE_CASES))
def test_default_collate_matches_torch(case):
    batch = COLLATE_CASES[case](np.random.default_rng(0))
    assert_same(to_numpy(default_collate(batch)), to_numpy(tud.default_collate(batch)))


def test_default_collate_of_convlab_tensors_matches_torch():
    rng = np.random.default_rng(1)
    batch = [(convlab.tensor(rng.standard_normal((3, 2)).astype(np.float32)), k) for k in range(4)]
    ours = default_collate(batch)
    assert isinstance(ours, list) and isinstance(ours[0], convlab.Tensor)
    assert_same(to_numpy(ours), to_numpy(tud.default_collate([_torch_version(s) for s in batch])))


def test_default_collate_errors():
    with pytest.raises(
        RuntimeError, match=r"each element in the batch should be of equal size, got shapes \[\(2,\), \(3,\)\]"
    ):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="expected a non-empty list of samples, got list of length 0"):
        default_collate([])


# ---------------------------------------------------------------- DataLoader


class Squares(Dataset):
    """Per-sample dataset (no get_batch) that records the indices it serves."""

    def __init__(self, n, fail_at=None):
        self.n, self.fail_at, self.served = n, fail_at, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"sample {i} is broken")
        self.served.append(i)
        return np.array([i, i * i], np.int64), i


def images_dataset(n=37, transform=None):
    images = np.random.default_rng(5).integers(0, 256, (n, 6, 6), dtype=np.uint8)
    return ImageArrayDataset(images, np.arange(n) % 3, transform)


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last"),
    [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True), (0, 4, False)],
)
def test_loader_batches_len_and_order_match_torch(n, batch_size, drop_last):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    ours = DataLoader(TensorDataset(x), batch_size=batch_size, drop_last=drop_last)
    ref = tud.DataLoader(tud.TensorDataset(torch.from_numpy(x)), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(ref)
    got, expected = [to_numpy(b) for b in ours], [to_numpy(b) for b in ref]
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert_same(a, b)


def test_loader_shuffle_is_seeded_and_changes_per_epoch():
    ds = TensorDataset(np.arange(50))
    first = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(7))
    second = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(7))
    epoch1, epoch1_again = labels_of_tensor(first), labels_of_tensor(second)
    assert epoch1 == epoch1_again
    epoch2 = labels_of_tensor(first)
    assert epoch2 != epoch1
    for epoch in (epoch1, epoch2):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(50)) and [len(b) for b in epoch] == [8] * 6 + [2]
    assert labels_of_tensor(DataLoader(ds, batch_size=8)) == [list(range(k, min(k + 8, 50))) for k in range(0, 50, 8)]


def labels_of_tensor(loader):
    return [np.asarray(b[0].data).tolist() for b in loader]


def test_loader_default_generator_follows_manual_seed():
    ds = TensorDataset(np.arange(30))
    convlab.manual_seed(11)
    a = labels_of_tensor(DataLoader(ds, batch_size=30, shuffle=True))
    convlab.manual_seed(11)
    assert labels_of_tensor(DataLoader(ds, batch_size=30, shuffle=True)) == a


@pytest.mark.parametrize("batched", [True, False])
def test_prefetch_yields_the_same_batches(batched):
    tf = T.Compose([T.RandomCrop(6, padding=1), T.RandomHorizontalFlip(), T.ToTensor()])
    ds = images_dataset(transform=tf)
    collate = None if batched else (lambda samples: default_collate(samples))
    runs = []
    for prefetch in (True, False):
        loader = DataLoader(
            ds, batch_size=8, shuffle=True, collate_fn=collate, generator=np.random.default_rng(2), prefetch=prefetch
        )
        assert loader.uses_batch_path == batched
        runs.append([to_numpy(b) for _ in range(2) for b in loader])
    assert len(runs[0]) == 10
    for a, b in zip(*runs):
        assert_same(a, b)


def test_batch_path_equals_per_sample_collate_for_deterministic_transforms():
    ds = images_dataset(transform=T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.25,))]))
    fast = DataLoader(ds, batch_size=10, generator=np.random.default_rng(0))
    slow = DataLoader(ds, batch_size=10, collate_fn=lambda s: default_collate(s), generator=np.random.default_rng(0))
    assert fast.uses_batch_path and not slow.uses_batch_path
    for a, b in zip(fast, slow):
        assert_same(to_numpy(a), to_numpy(b))


def test_custom_collate_fn():
    def collate(samples):
        return {"sum": sum(int(s[1]) for s in samples), "n": len(samples)}

    loader = DataLoader(Squares(7), batch_size=3, collate_fn=collate)
    assert list(loader) == [{"sum": 3, "n": 3}, {"sum": 12, "n": 3}, {"sum": 6, "n": 1}]
    batches = list(DataLoader(Squares(4), batch_size=2))  # default collate on (array, int) samples
    np.testing.assert_array_equal(batches[1][0].data, [[2, 4], [3, 9]])
    assert batches[1][1].dtype == np.int64


@pytest.mark.parametrize("prefetch", [True, False])
def test_iterate_start_batch_resumes_the_pass(prefetch):
    ds = images_dataset(transform=T.Compose([T.RandomCrop(6, padding=2), T.ToTensor()]))
    generator = np.random.default_rng(9)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=generator, prefetch=prefetch)
    next(iter(loader))  # not the first pass
    state = generator.bit_generator.state
    full = [to_numpy(b) for b in loader]
    after = generator.bit_generator.state
    generator.bit_generator.state = state
    tail = [to_numpy(b) for b in loader.iterate(start_batch=3)]
    assert len(tail) == len(full) - 3 == 5
    for a, b in zip(tail, full[3:]):
        assert_same(a, b)
    assert generator.bit_generator.state == after  # resuming draws exactly what the full pass drew
    assert list(loader.iterate(start_batch=len(loader))) == []


def test_iterate_skips_building_the_first_batches():
    ds = Squares(12)
    list(DataLoader(ds, batch_size=4, prefetch=False).iterate(start_batch=2))
    assert ds.served == [8, 9, 10, 11]


@pytest.mark.parametrize("prefetch", [True, False])
def test_dataset_error_propagates(prefetch):
    loader = DataLoader(Squares(10, fail_at=5), batch_size=2, prefetch=prefetch)
    seen = []
    with pytest.raises(KeyError, match="sample 5 is broken"):
        for batch in loader:
            seen.append(np.asarray(batch[1].data).tolist())
    assert seen == [[0, 1], [2, 3]]


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "convlab-prefetch"]


def test_break_out_of_a_prefetching_loop_stops_the_thread():
    before = len(_prefetch_threads())
    loader = DataLoader(TensorDataset(np.arange(1000)), batch_size=2)  # 500 batches, a queue of 2
    for k, _ in enumerate(loader):
        if k == 1:
            break
    gc.collect()
    deadline = time.monotonic() + 5
    while len(_prefetch_threads()) > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(_prefetch_threads()) == before
    it = iter(loader)  # an iterator closed by hand
    next(it)
    it.close()
    with pytest.raises(StopIteration):
        next(it)


def test_loader_argument_errors():
    ds = TensorDataset(np.arange(4))
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="batch_size=2.0"):
        DataLoader(ds, batch_size=2.0)
    with pytest.raises(TypeError, match="dataset must define __getitem__ and __len__, got int"):
        DataLoader(3)
    with pytest.raises(TypeError, match="collate_fn must be callable, got str"):
        DataLoader(ds, collate_fn="stack")
    with pytest.raises(TypeError, match=r"DataLoader\(\): generator must be a numpy.random.Generator"):
        DataLoader(ds, generator=np.random.RandomState(0))
    with pytest.raises(ValueError, match=r"start_batch must be an int in \[0, 2\], got 3"):
        DataLoader(ds, batch_size=2).iterate(start_batch=3)
