"""nmnist-sim: real MNIST digits through the saccade simulator (mfpsn.data.nmnist_sim, task ``nmnist-sim``).

Everything runs on the first few digits of ``assets/mnist_subset`` (the heads of the real MNIST files)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mfpsn.card_inputs import events_input
from mfpsn.data import nmnist_sim as ns
from mfpsn.data.mnist import write_subset
from mfpsn.events import read_events
from mfpsn.paths import data_dir
from mfpsn.training.tasks import DIGITS, load_task

N_TRAIN, N_TEST, T = 12, 10, 4


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """An MNIST folder with the first 12 train and 10 test digits."""
    return write_subset(data_dir("assets") / "mnist_subset", tmp_path_factory.mktemp("mnist"), n_train=N_TRAIN,
                        n_test=N_TEST)


@pytest.fixture(scope="module")
def folder(mnist, tmp_path_factory):
    """The N-MNIST-style folder the CLI writes for that MNIST folder."""
    out = tmp_path_factory.mktemp("nmnist_sim") / "out"
    assert ns.main(["--mnist", str(mnist), "--out", str(out), "--train", str(N_TRAIN), "--test", str(N_TEST)]) == 0
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MFPSN_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _same(a, b) -> bool:
    same_size = (a.width, a.height) == (b.width, b.height)
    return same_size and all(np.array_equal(getattr(a, f), getattr(b, f)) for f in "txyp")


def test_generation_is_seeded_per_sample(mnist):
    images, _ = ns.mnist_digits(mnist, "test")
    batch = list(ns.iter_events(images, "test"))
    assert all(_same(a, b) for a, b in zip(batch, ns.iter_events(images, "test")))
    for i in (0, 7):  # a digit alone equals its entry in the batch
        assert _same(ns.sample_events(mnist, "test", i), batch[i])
    shifted = list(ns.iter_events(images[3:5], "test", first_index=3))
    assert _same(shifted[0], batch[3]) and _same(shifted[1], batch[4])
    assert not _same(next(ns.iter_events(images[:1], "train")), batch[0])  # train and test digits draw apart
    assert not _same(next(ns.iter_events(images[:1], "test", seed=1)), batch[0])
    for ev in batch:
        assert len(ev) > 1000 and ev.t[0] == 0 and (ev.width, ev.height) == (34, 34)
        assert np.all(np.diff(ev.t) >= 0) and ev.t[-1] < ns.NMNIST_SIM_CONFIG.duration_us
        assert 0.3 < ev.p.mean() < 0.7


def test_bin_folder_round_trips(mnist, folder):
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images, labels = ns.mnist_digits(mnist, split)
        files = sorted((folder / ns.SPLIT_FOLDERS[split]).glob("*/*.bin"))
        assert len(files) == n
        for i, ev in enumerate(ns.iter_events(images, split)):
            path = folder / ns.SPLIT_FOLDERS[split] / str(labels[i]) / f"{i:05d}.bin"
            assert _same(read_events(path), ev), path


def test_nmnist_task_reads_the_folder_as_nmnist_sim_bins_it(mnist, folder, cache):
    sim = load_task("nmnist-sim", data_root=mnist, T=T)
    real = load_task("nmnist", data_root=folder, T=T)
    for sx, sy, rx, ry in ((sim.train_x, sim.train_y, real.train_x, real.train_y),
                           (sim.test_x, sim.test_y, real.test_x, real.test_y)):
        order = np.argsort(sy.numpy(), kind="stable")  # the nmnist reader goes digit by digit, then by file name
        assert torch.equal(sy[order], ry) and torch.equal(sx[order], rx)
    assert sim.model == real.model


def test_task_shapes_and_card(mnist, cache):
    data = load_task("nmnist-sim", data_root=mnist, T=T)
    assert data.train_x.shape == (N_TRAIN, T, 2, 34, 34) and data.test_x.shape == (N_TEST, T, 2, 34, 34)
    assert data.train_x.dtype == torch.float32 and data.train_y.dtype == torch.int64
    assert data.classes == DIGITS == [str(i) for i in range(10)]
    assert data.input_spec["shape"] == [T, 2, 34, 34] and "CC BY-SA 3.0" in data.input_spec["licence"]
    assert data.model["arch"] == "dvs_convnet" and data.model["input_size"] == 34
    assert data.train_x.sum() > 0 and torch.all(data.train_x == data.train_x.round())
    only = load_task("nmnist-sim", data_root=mnist, T=T, test_only=True)
    assert only.train_x.shape[0] == 0 and torch.equal(only.test_x, data.test_x)
    from mfpsn.models import build_model

    model = build_model({**data.model, "neuron": "mfpsn", "order": 2}).eval()
    with torch.no_grad():
        assert model(data.test_x[:2].transpose(0, 1)).shape == (2, 10)


def test_card_input_equals_the_training_frames_bit_for_bit(mnist, folder, cache):
    data = load_task("nmnist-sim", data_root=mnist, T=T, test_only=True)
    card = {"name": "nmnist_sim_test", "input": data.input_spec}
    _, labels = ns.mnist_digits(mnist, "test")
    for i in range(N_TEST):
        ev = read_events(folder / "Test" / str(labels[i]) / f"{i:05d}.bin")
        x = events_input(ev, card)
        assert x.shape == (T, 1, 2, 34, 34) and torch.equal(x[:, 0], data.test_x[i]), i


def test_cache_is_reused_bounded_and_keyed_by_the_digits(mnist, tmp_path):
    cache = tmp_path / "c"
    x, y = ns.load_nmnist_sim(mnist, "test", T=T, limit=3, cache=cache, progress=False)
    entries = sorted((cache / "nmnist_sim").glob("*.npz"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    x2, y2 = ns.load_nmnist_sim(mnist, "test", T=T, limit=3, cache=cache, progress=False)
    assert torch.equal(x, x2) and torch.equal(y, y2) and entries[0].stat().st_mtime_ns >= stamp
    entries[0].write_bytes(b"not an npz")  # a broken entry is rebuilt
    x3, _ = ns.load_nmnist_sim(mnist, "test", T=T, limit=3, cache=cache, progress=False)
    assert torch.equal(x, x3)
    ns.load_nmnist_sim(mnist, "test", T=T, limit=4, cache=cache, progress=False)
    assert len(list((cache / "nmnist_sim").glob("*.npz"))) == 2  # another count is another entry
    size = max(p.stat().st_size for p in (cache / "nmnist_sim").glob("*.npz"))
    ns.load_nmnist_sim(mnist, "test", T=T + 1, limit=3, cache=cache, progress=False, max_cache_bytes=size + 1)
    assert len(list((cache / "nmnist_sim").glob("*.npz"))) == 1  # trimmed to the bound, newest kept
    images, labels = ns.mnist_digits(mnist, "test", 3)
    other = ns.cache_params(255 - images, labels, "test", T, 0)
    assert other["digits_sha256"] != ns.cache_params(images, labels, "test", T, 0)["digits_sha256"]


def test_array_cache_refuses_oversized_entries_and_mismatched_params(tmp_path):
    from mfpsn.data import array_cache

    params = {"a": 1}
    assert array_cache.store(tmp_path, params, {"v": np.arange(10_000)}, max_bytes=100) is None
    assert not list(tmp_path.glob("*.npz")) and array_cache.load(tmp_path, params) is None
    path = array_cache.store(tmp_path, params, {"v": np.arange(5)})
    assert np.array_equal(array_cache.load(tmp_path, params)["v"], np.arange(5))
    other = tmp_path / "other"
    other.mkdir()
    path.rename(array_cache.entry_path(other, {"a": 2}))  # a file whose stored params differ from its key's
    assert array_cache.load(other, {"a": 2}) is None
    with pytest.raises(ValueError, match="reserved"):
        array_cache.store(tmp_path, params, {"params": np.zeros(1)})


def test_bad_inputs_raise_naming_the_problem(mnist, folder, tmp_path, capsys):
    with pytest.raises(ValueError, match="expected a directory"):
        ns.load_nmnist_sim(tmp_path / "missing", "test", T=T)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        ns.load_nmnist_sim(tmp_path, "train", T=T)
    with pytest.raises(ValueError, match="split: expected 'train' or 'test', found 'val'"):
        ns.mnist_digits(mnist, "val")
    with pytest.raises(ValueError, match="limit: expected a positive integer"):
        ns.load_nmnist_sim(mnist, "test", T=T, limit=0)
    with pytest.raises(ValueError, match="T: expected a positive integer"):
        ns.load_nmnist_sim(mnist, "test", T=0)
    with pytest.raises(ValueError, match=r"index: expected an integer in \[0, 10\)"):
        ns.sample_events(mnist, "test", 10)
    with pytest.raises(ValueError, match=r"expected \[n, 28, 28\] uint8"):
        next(ns.iter_events(np.zeros((2, 8, 8)), "test"))
    with pytest.raises(ValueError, match="holds 10 digits, found a request for 11"):
        ns.write_folder(mnist, tmp_path / "new", n_train=0, n_test=11)
    with pytest.raises(ValueError, match="Train: expected an empty or missing folder"):
        ns.write_folder(mnist, folder, n_train=1, n_test=1)
    with pytest.raises(SystemExit):
        ns.main(["--mnist", str(mnist), "--out", str(folder)])
    assert "expected an empty or missing folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="pass data_root"):
        load_task("nmnist-sim")


def test_nmnist_task_bins_from_the_first_event_as_a_card_input_does(tmp_path):
    """A real N-MNIST file need not start at t = 0: the task and the card path must still agree bit for bit."""
    import numpy as np

    from mfpsn.card_inputs import events_input
    from mfpsn.events import Events, read_events, write_events
    from mfpsn.training.tasks import load_task

    rng = np.random.default_rng(0)
    for split in ("Train", "Test"):
        (tmp_path / split / "3").mkdir(parents=True)
        t = np.sort(rng.integers(5_000, 300_000, 500))
        ev = Events(t, rng.integers(0, 34, 500), rng.integers(0, 34, 500), rng.integers(0, 2, 500), 34, 34)
        write_events(tmp_path / split / "3" / "00000.bin", ev, format="nmnist")
    data = load_task("nmnist", data_root=tmp_path, T=8)
    path = tmp_path / "Test" / "3" / "00000.bin"
    card = {"name": "nmnist_x", "input": data.input_spec}
    x = events_input(read_events(path, format="nmnist", sensor_size=(34, 34)), card)
    np.testing.assert_array_equal(x[:, 0].numpy(), data.test_x[0].numpy())
