"""Frames, spike-train bins and the denoise filter against plain loop references."""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpsn.events.core import Events
from mfpsn.events.denoise import Denoise, denoise, denoise_mask
from mfpsn.events.frames import ToFrames, ToSpikeBins, events_to_frames, spike_train_to_bins


def make_events(seed: int, n: int, width: int = 7, height: int = 5, t_max: int = 5_000, t0: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    return Events(np.sort(rng.integers(t0, t0 + t_max, n)), rng.integers(0, width, n), rng.integers(0, height, n),
                  rng.integers(0, 2, n), width, height)


# ----------------------------------------------------------------------------- references
def ref_windows(ev: Events, *, n_bins=None, duration_us=None, event_count=None, overlap=0, time_range=None):
    """A list of predicates ``(i, t) -> bool``, one per window, written from the documented rules."""
    n = len(ev)
    if time_range is not None:
        t0, t1 = time_range
    else:
        t0, t1 = (int(ev.t[0]), int(ev.t[-1]) + 1) if n else (0, 0)
    wins = []
    if n_bins is not None:
        for k in range(n_bins):
            if overlap == 0:
                lo, hi = t0 + Fraction(k * (t1 - t0), n_bins), t0 + Fraction((k + 1) * (t1 - t0), n_bins)
            else:
                w = (t1 - t0) / (1 + (n_bins - 1) * (1 - overlap))
                lo = t0 + k * (w * (1 - overlap))
                hi = min(lo + w, t1)
            wins.append(lambda i, t, lo=lo, hi=hi: lo <= t < hi)
    elif duration_us is not None:
        if n or time_range is not None:
            stride, k = duration_us - overlap, 0
            while True:
                lo = t0 + k * stride
                wins.append(lambda i, t, lo=lo: lo <= t < min(lo + duration_us, t1))
                if lo + duration_us >= t1:
                    break
                k += 1
    elif n:
        stride, k = event_count - overlap, 0
        while True:
            lo = k * stride
            wins.append(lambda i, t, lo=lo: lo <= i < lo + event_count)
            if lo + event_count >= n:
                break
            k += 1
    return wins


def ref_frames(ev: Events, downsample_to=None, **kw) -> np.ndarray:
    h, w = (ev.height, ev.width) if downsample_to is None else downsample_to
    wins = ref_windows(ev, **kw)
    out = np.zeros((len(wins), 2, h, w), np.float32)
    for i in range(len(ev)):
        t = int(ev.t[i])
        for k, inside in enumerate(wins):
            if inside(i, t):
                out[k, int(ev.p[i]), int(ev.y[i]) * h // ev.height, int(ev.x[i]) * w // ev.width] += 1
    return out


def ref_denoise(ev: Events, filter_time_us: int, connectivity: int) -> np.ndarray:
    last = {}
    keep = []
    offsets = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
               if (dx, dy) != (0, 0) and (connectivity == 8 or dx == 0 or dy == 0)]
    for i in range(len(ev)):
        x, y, t = int(ev.x[i]), int(ev.y[i]), int(ev.t[i])
        keep.append(any((x + dx, y + dy) in last and t - last[(x + dx, y + dy)] <= filter_time_us
                        for dx, dy in offsets))
        last[(x, y)] = t
    return np.array(keep, bool)


# ----------------------------------------------------------------------------- frames
@pytest.mark.parametrize("kw", [
    dict(n_bins=1), dict(n_bins=3), dict(n_bins=7), dict(n_bins=5, overlap=0.5), dict(n_bins=4, overlap=0.25),
    dict(duration_us=700), dict(duration_us=1000, overlap=300), dict(duration_us=10_000),
    dict(event_count=13), dict(event_count=10, overlap=4), dict(event_count=1),
    dict(n_bins=6, time_range=(1000, 4000)), dict(n_bins=3, overlap=0.3, time_range=(1000, 4001)),
    dict(duration_us=900, time_range=(500, 4500), overlap=100),
])
@pytest.mark.parametrize("seed", [0, 1])
def test_frames_match_loop_reference(kw, seed):
    ev = make_events(seed, 61, t0=1_000_000 * seed)
    if "time_range" in kw:
        kw = dict(kw, time_range=tuple(v + 1_000_000 * seed for v in kw["time_range"]))
    out = events_to_frames(ev, **kw)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref_frames(ev, **kw))


@pytest.mark.parametrize("target", [(3, 4), (5, 7), (2, 2), (10, 9)])
def test_downsampling_matches_reference(target):
    ev = make_events(3, 80)
    out = events_to_frames(ev, n_bins=3, downsample_to=target)
    assert out.shape == (3, 2) + target
    np.testing.assert_array_equal(out, ref_frames(ev, downsample_to=target, n_bins=3))


def test_downsampling_int_means_square_and_divisible_sizes_pool_blocks():
    ev = make_events(4, 200, width=8, height=8)
    full = events_to_frames(ev, n_bins=2)
    pooled = events_to_frames(ev, n_bins=2, downsample_to=4)
    np.testing.assert_array_equal(pooled, full.reshape(2, 2, 4, 2, 4, 2).sum(axis=(3, 5)))


def test_channels_are_off_then_on():
    ev = Events([0, 1, 2], [0, 1, 1], [0, 0, 0], [1, 0, 1], 2, 1)
    out = events_to_frames(ev, n_bins=1)
    assert out[0, 1, 0, 0] == 1 and out[0, 0, 0, 1] == 1 and out[0, 1, 0, 1] == 1 and out.sum() == 3


def test_last_event_lands_in_last_bin_and_awkward_spans():
    ev = Events(np.arange(11), np.zeros(11), np.zeros(11), np.ones(11), 1, 1)
    out = events_to_frames(ev, n_bins=3)     # span 11 us: bins [0, 11/3), [11/3, 22/3), [22/3, 11)
    np.testing.assert_array_equal(out[:, 1, 0, 0], [4, 4, 3])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 60), t_max=st.integers(1, 40), n_bins=st.integers(1, 9),
       overlap=st.sampled_from([0, 0.2, 0.5]))
def test_dense_timestamps_match_reference(seed, n, t_max, n_bins, overlap):
    ev = make_events(seed, n, width=3, height=2, t_max=t_max)
    np.testing.assert_array_equal(events_to_frames(ev, n_bins=n_bins, overlap=overlap),
                                  ref_frames(ev, n_bins=n_bins, overlap=overlap))


def test_empty_streams():
    ev = Events(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 4, 3)
    assert events_to_frames(ev, n_bins=5).shape == (5, 2, 3, 4)
    assert not events_to_frames(ev, n_bins=5).any()
    assert events_to_frames(ev, duration_us=100).shape == (0, 2, 3, 4)
    assert events_to_frames(ev, event_count=3).shape == (0, 2, 3, 4)
    assert events_to_frames(ev, duration_us=100, time_range=(0, 250)).shape == (3, 2, 3, 4)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 120), n_bins=st.integers(1, 9),
       duration=st.integers(1, 3000), count=st.integers(1, 50))
def test_total_count_and_pixel_histograms_conserved(seed, n, n_bins, duration, count):
    ev = make_events(seed, n)
    hist = np.zeros((2, ev.height, ev.width))
    np.add.at(hist, (ev.p, ev.y, ev.x), 1)
    for out in (events_to_frames(ev, n_bins=n_bins), events_to_frames(ev, duration_us=duration),
                events_to_frames(ev, event_count=count)):
        assert out.sum() == n
        np.testing.assert_array_equal(out.sum(axis=0), hist)
    assert events_to_frames(ev, n_bins=n_bins, downsample_to=(2, 3)).sum() == n


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 120), count=st.integers(2, 40), data=st.data())
def test_event_count_windows_hold_count_events(seed, n, count, data):
    overlap = data.draw(st.integers(0, count - 1))
    out = events_to_frames(make_events(seed, n), event_count=count, overlap=overlap)
    sizes = out.sum(axis=(1, 2, 3))
    stride = count - overlap
    expected = [min(count, n - k * stride) for k in range(out.shape[0])]
    np.testing.assert_array_equal(sizes, expected)
    assert (out.shape[0] - 1) * stride + count >= n


@pytest.mark.parametrize("kw, match", [
    (dict(), "exactly one"), (dict(n_bins=3, duration_us=5), "exactly one"), (dict(n_bins=0), "n_bins"),
    (dict(n_bins=2, overlap=1.0), "overlap"), (dict(duration_us=10, overlap=10), "overlap"),
    (dict(event_count=5, overlap=-1), "overlap"), (dict(duration_us=2.5), "duration_us"),
    (dict(n_bins=3, downsample_to=(0, 3)), "downsample_to"), (dict(n_bins=3, downsample_to="x"), "downsample_to"),
    (dict(n_bins=3, downsample_to="34"), "downsample_to"),
    (dict(n_bins=3, time_range=(5, 5)), "time_range"), (dict(event_count=3, time_range=(0, 5)), "time_range"),
])
def test_bad_arguments_name_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        events_to_frames(make_events(0, 10), **kw)


def test_to_frames_transform_is_frozen_and_matches_the_function():
    ev = make_events(5, 50)
    tf = ToFrames(duration_us=800, overlap=200, downsample_to=3)
    np.testing.assert_array_equal(tf(ev), events_to_frames(ev, duration_us=800, overlap=200, downsample_to=3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        tf.n_bins = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="exactly one"):
        ToFrames(n_bins=2, event_count=3)


# ----------------------------------------------------------------------------- spike trains
def spike_train(seed: int, n: int, units: int = 20, t_max: int = 95_000) -> Events:
    rng = np.random.default_rng(seed)
    return Events(np.sort(rng.integers(0, t_max, n)), rng.integers(0, units, n), np.zeros(n), np.ones(n), 700, 1)


def ref_spike_bins(ev: Events, n_bins, bin_us, n_units, pool, t_start):
    start = (int(ev.t[0]) if t_start is None else t_start)
    end = int(ev.t[-1]) + 1
    if n_bins is None and bin_us is None:
        bin_us = 10_000
    if bin_us is not None:
        n_t = n_bins if n_bins is not None else -(-(end - start) // bin_us)
        bounds = [(start + k * bin_us, start + (k + 1) * bin_us) for k in range(n_t)]
    else:
        n_t = n_bins
        bounds = [(start + Fraction(k * (end - start), n_t), start + Fraction((k + 1) * (end - start), n_t))
                  for k in range(n_t)]
    out = np.zeros((n_t, n_units // pool), np.float32)
    for t, u in zip(ev.t.tolist(), ev.x.tolist()):
        for k, (lo, hi) in enumerate(bounds):
            if lo <= t < hi:
                out[k, u // pool] += 1
    return out


@pytest.mark.parametrize("n_bins, bin_us, pool, t_start", [
    (None, None, 1, 0), (None, 7_000, 5, 0), (13, None, 1, 0), (4, 10_000, 7, 0), (6, None, 2, None),
    (None, 3_000, 1, 20_000),
])
def test_spike_bins_match_reference(n_bins, bin_us, pool, t_start):
    ev = spike_train(1, 300, units=35)
    out = spike_train_to_bins(ev, n_bins=n_bins, bin_us=bin_us, n_units=700, pool=pool, t_start=t_start)
    ref = ref_spike_bins(ev, n_bins, bin_us, 700, pool, t_start)
    assert out.shape == ref.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)
    assert ToSpikeBins(n_bins=n_bins, bin_us=bin_us, pool=pool, t_start=t_start)(ev).shape == ref.shape


def test_spike_bins_default_is_10ms_and_counts_conserved():
    ev = spike_train(2, 500)
    out = spike_train_to_bins(ev)
    assert out.shape == (-(-(int(ev.t[-1]) + 1) // 10_000), 700)
    assert out.sum() == 500


def test_spike_bins_bad_input():
    with pytest.raises(ValueError, match="height 1"):
        spike_train_to_bins(make_events(0, 5))
    with pytest.raises(ValueError, match="pool"):
        spike_train_to_bins(spike_train(0, 5), pool=3)
    with pytest.raises(ValueError, match="n_units"):
        spike_train_to_bins(spike_train(0, 50, units=30), n_units=20)
    with pytest.raises(ValueError, match="pool"):
        ToSpikeBins(pool=0)


# ----------------------------------------------------------------------------- denoise
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(0, 200), filt=st.integers(0, 800),
       connectivity=st.sampled_from([4, 8]), width=st.integers(1, 6), height=st.integers(1, 5))
def test_denoise_matches_loop_reference(seed, n, filt, connectivity, width, height):
    ev = make_events(seed, n, width=width, height=height, t_max=2000)
    np.testing.assert_array_equal(denoise_mask(ev, filt, connectivity), ref_denoise(ev, filt, connectivity))


def test_denoise_rules_on_handmade_stream():
    # (t, x, y): lone event; neighbour 5 us later (kept, 8-neighbour diagonal); same pixel repeats
    # (not support); a far pixel; a 4-neighbour too late; equal timestamps later in the stream.
    t = [0, 5, 6, 7, 100, 200, 205, 205]
    x = [2, 3, 3, 9, 2, 5, 5, 6]
    y = [2, 3, 3, 9, 3, 5, 5, 5]
    ev = Events(t, x, y, np.ones(8), 10, 10)
    np.testing.assert_array_equal(denoise_mask(ev, 10, 8), [0, 1, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(denoise_mask(ev, 10, 4), [0, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(denoise_mask(ev, 100, 4), [0, 0, 0, 0, 1, 0, 0, 1])
    kept = denoise(ev, 10)
    assert len(kept) == 3 and kept.sensor_size == (10, 10)
    assert len(Denoise(10, connectivity=4)(ev)) == 1


def test_denoise_bad_arguments():
    ev = make_events(0, 5)
    with pytest.raises(ValueError, match="filter_time_us"):
        denoise(ev, -1)
    with pytest.raises(ValueError, match="connectivity"):
        denoise(ev, 10, connectivity=6)
    with pytest.raises(ValueError, match="connectivity"):
        Denoise(10, connectivity=5)
