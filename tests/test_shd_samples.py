"""SHD splits are read by the format's own reader (issue 11.3): every sample in one pass of the isolated child,
each equal to the single-sample read, hostile contents refused with the file and the sample named."""
from __future__ import annotations

import numpy as np
import pytest

from mfpsn.events import EventFormatError, read_events
from mfpsn.events.formats.shd import read_shd_samples, write_shd_h5


def test_every_sample_equals_the_single_sample_read(tmp_path):
    rng = np.random.default_rng(0)
    times = [rng.uniform(0, 1, 50).astype(np.float16), np.zeros(0, np.float16), np.sort(rng.uniform(0, 1, 9))]
    units = [rng.integers(0, 700, 50).astype(np.uint16), np.zeros(0, np.uint16), rng.integers(0, 700, 9)]
    path = tmp_path / "s.h5"
    write_shd_h5(path, times, units, [3, 1, 19])
    samples, labels = read_shd_samples(path)
    assert list(labels) == [3, 1, 19] and len(samples) == 3 and len(samples[1]) == 0
    for i in (0, 2):                                      # unsorted spikes are sorted as the reader sorts them
        one = read_events(path, index=i)
        assert np.array_equal(samples[i].t, one.t) and np.array_equal(samples[i].x, one.x)
        assert samples[i].meta["label"] == one.meta["label"] and samples[i].meta["index"] == i


def test_a_bad_sample_is_named(tmp_path):
    import h5py

    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:                       # write_shd_h5 refuses NaN times: write it by hand
        t = f.create_dataset("spikes/times", (2,), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (2,), dtype=h5py.vlen_dtype(np.uint16))
        t[0], t[1] = np.array([0.1, 0.2], np.float16), np.array([0.1, np.nan], np.float16)
        u[0], u[1] = np.array([1, 2], np.uint16), np.array([3, 4], np.uint16)
        f.create_dataset("labels", data=np.array([0, 1], np.uint16))
    with pytest.raises(EventFormatError, match="sample 1: spike 1 has time nan") as err:
        read_shd_samples(path)
    assert str(path) in str(err.value)
    with pytest.raises(EventFormatError, match="exceed the limit max_events=1"):
        read_shd_samples(tmp_path / "bad.h5", max_events=1)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(EventFormatError):
        read_shd_samples(junk)
