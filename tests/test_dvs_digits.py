"""The DVS-digits set on a 20-digit subset: cache, split, frames, sample events, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mfpsn.data import dvs_digits
from mfpsn.data.dvs_digits import (DVSDigitsArchive, build_dvs_digits, cache_path, data_root, generator_params,
                                   load_dvs_digits, main, sample_events, stratified_split)
from mfpsn.events.frames import events_to_frames

N = 20


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("dvs")
    build_dvs_digits(path, n_digits=N)
    return path


def test_cache_is_reused_and_rebuilt_when_params_change_or_file_is_broken(tmp_path, monkeypatch):
    path, built = build_dvs_digits(tmp_path, n_digits=5)
    assert built and path == tmp_path / "dvs_digits_n5_seed0.npz"
    stamp = path.stat().st_mtime_ns
    assert build_dvs_digits(tmp_path, n_digits=5) == (path, False)
    assert path.stat().st_mtime_ns == stamp
    other, built = build_dvs_digits(tmp_path, n_digits=5, seed=1)         # other seed: its own file
    assert built and other == tmp_path / "dvs_digits_n5_seed1.npz"
    with np.load(other, allow_pickle=False) as archive:
        assert json.loads(str(archive["params"])) == generator_params(n_digits=5, seed=1)
    monkeypatch.setattr(dvs_digits, "GENERATOR_VERSION", dvs_digits.GENERATOR_VERSION + 1)
    assert build_dvs_digits(tmp_path, n_digits=5) == (path, True)          # generator changed: rebuilt
    assert DVSDigitsArchive(path).params["version"] == dvs_digits.GENERATOR_VERSION
    path.write_bytes(b"not a zip file")
    assert build_dvs_digits(tmp_path, n_digits=5) == (path, True)          # unreadable: rebuilt
    assert build_dvs_digits(tmp_path, n_digits=5, force=True) == (path, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, path.name])  # no temporary files left


def test_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("MFPSN_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert cache_path() == tmp_path / "env" / "dvs_digits.npz"
    assert cache_path(n_digits=1797, seed=0) == cache_path()
    monkeypatch.delenv("MFPSN_DATA")
    assert str(data_root()).endswith(".cache/mfpsn")


def test_archive_contents(root):
    archive = DVSDigitsArchive(cache_path(root, n_digits=N))
    assert len(archive) == N and archive.params == generator_params(n_digits=N)
    assert archive.offsets[0] == 0 and archive.offsets[-1] == archive.t.size
    assert archive.t.dtype == np.uint32 and archive.x.dtype == np.uint8
    for i in range(N):
        ev = archive.events(i)
        ev.validate()
        assert ev.sensor_size == (34, 34) and len(ev) > 1000 and ev.t[-1] <= 300_000
    both = np.concatenate([archive.train_index, archive.test_index])
    assert np.array_equal(np.sort(both), np.arange(N))


def test_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(10), [180, 181, 179, 183, 177, 182, 181, 179, 174, 180])
    train, test = stratified_split(labels, 0.2, seed=0)
    assert np.intersect1d(train, test).size == 0 and train.size + test.size == labels.size
    for c in range(10):
        n_c = int((labels == c).sum())
        assert int((labels[test] == c).sum()) == int(np.floor(0.2 * n_c + 0.5))
    again = stratified_split(labels, 0.2, seed=0)
    assert np.array_equal(again[1], test)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=1)[1], test)
    _, small = stratified_split(np.array([0, 0, 1, 2, 2, 2]), 0.2)
    assert small.size == 2                                               # one per class of >= 2, none of class 1


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("n_bins, downsample_to", [(16, None), (5, 16), (7, (10, 12))])
def test_frames_equal_events_to_frames_of_each_sample(root, split, n_bins, downsample_to):
    ds = load_dvs_digits(split, root=root, n_bins=n_bins, downsample_to=downsample_to, n_digits=N)
    archive = DVSDigitsArchive(cache_path(root, n_digits=N))
    index = archive.split_index(split)
    frames, labels = ds.tensors()
    assert frames.dtype == torch.float32 and labels.dtype == torch.int64
    assert frames.shape[:3] == (index.size, n_bins, 2) and len(ds) == index.size
    for k, i in enumerate(index):
        want = events_to_frames(archive.events(i), n_bins=n_bins, time_range=(0, 300_001),
                                downsample_to=downsample_to)
        np.testing.assert_array_equal(frames[k].numpy(), want)
        assert int(labels[k]) == int(archive.labels[i])
        x, y = ds[k]
        assert torch.equal(x, frames[k]) and int(y) == int(archive.labels[i])


def test_dataloader_batches(root):
    ds = load_dvs_digits("train", root=root, n_digits=N, n_bins=4)
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert x.shape == (3, 4, 2, 34, 34) and y.shape == (3,)


def test_sample_events_equal_the_archive(root):
    archive = DVSDigitsArchive(cache_path(root, n_digits=N))
    for i in (0, 7, 19):
        ev = sample_events(i)
        ref = archive.events(i)
        assert ev.meta["label"] == ref.meta["label"] and ev.meta["digit_index"] == i
        assert ev.meta["split"] in ("train", "test")
        for name in ("t", "x", "y", "p"):
            np.testing.assert_array_equal(getattr(ev, name), getattr(ref, name))


def test_bad_arguments(root):
    with pytest.raises(ValueError, match="split"):
        load_dvs_digits("val", root=root, n_digits=N)
    with pytest.raises(ValueError, match="n_bins"):
        load_dvs_digits("train", root=root, n_digits=N, n_bins=0)
    with pytest.raises(ValueError, match="n_digits"):
        build_dvs_digits(root, n_digits=5000)
    with pytest.raises(ValueError, match="digit_index"):
        sample_events(1797)


def test_cli_builds_then_reuses(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--n-digits", "3"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("built") and "3 digits" in first
    assert main(["--out", str(tmp_path), "--n-digits", "3"]) == 0
    assert capsys.readouterr().out.startswith("reused")
