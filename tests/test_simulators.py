"""ESIM and saccade simulators against plain per-pixel loop references."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpsn.data.esim import ESIMConfig, esim_batch, noise_events, simulate_video, thresholds
from mfpsn.data.saccades import (SaccadeConfig, image_to_events, images_to_events, render_matrices, saccade_path,
                                 simulate_batch)


def ref_esim(logs: np.ndarray, times: np.ndarray, c_on: np.ndarray, c_off: np.ndarray, refractory: float):
    """Per pixel, per interval, one crossing at a time (the loop of ESIM's C++ simulator)."""
    out = []
    _, height, width = logs.shape
    for y in range(height):
        for x in range(width):
            ref, last = logs[0, y, x], None
            for s in range(1, logs.shape[0]):
                l0, l1 = logs[s - 1, y, x], logs[s, y, x]
                while True:
                    if l1 - ref >= c_on[y, x]:
                        level, pol = ref + c_on[y, x], 1
                    elif ref - l1 >= c_off[y, x]:
                        level, pol = ref - c_off[y, x], 0
                    else:
                        break
                    tc = times[s - 1] + (times[s] - times[s - 1]) * (level - l0) / (l1 - l0)
                    if last is None or tc - last >= refractory:
                        out.append((x, y, pol, tc))
                        last = tc
                    ref = level
    return out


def random_video(seed: int, frames: int = 7, height: int = 3, width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logs = rng.normal(0, 0.5, (frames, height, width))
    times = np.cumsum(rng.integers(100, 2000, frames)).astype(np.float64)
    return logs, times


def sort_by_pixel(x, y, p, t):
    order = np.lexsort((t, x, y))
    return x[order], y[order], p[order], t[order]


@pytest.mark.parametrize("refractory", [0.0, 150.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_esim_matches_loop_reference(seed, refractory):
    logs, times = random_video(seed)
    rng = np.random.default_rng(seed + 100)
    c_on = rng.uniform(0.08, 0.3, logs.shape[1:])
    c_off = rng.uniform(0.08, 0.3, logs.shape[1:])
    b, t, x, y, p = esim_batch(iter(logs[:, None]), times, c_on[None], c_off[None], refractory)
    assert (b == 0).all() and np.all(np.diff(t) >= 0)
    ref = ref_esim(logs, times, c_on, c_off, refractory)
    assert len(ref) == t.size > 0
    rx, ry, rp, rt = (np.array(col) for col in zip(*ref))
    got, want = sort_by_pixel(x, y, p, t), sort_by_pixel(rx, ry, rp, rt)
    for a, w in zip(got[:3], want[:3]):
        np.testing.assert_array_equal(a, w)
    np.testing.assert_allclose(got[3], want[3], rtol=0, atol=1e-6)


def test_esim_batch_of_videos_equals_each_video_alone():
    videos = [random_video(s) for s in range(3)]
    times = videos[0][1]
    logs = np.stack([v[0] for v in videos], axis=1)            # [S, B, H, W]
    c = np.full(logs.shape[1:], 0.2)
    b, t, x, y, p = esim_batch(iter(logs), times, c, c)
    assert np.all(np.diff(b) >= 0)
    for i in range(3):
        _, ti, xi, yi, pi = esim_batch(iter(logs[:, i:i + 1]), times, c[i:i + 1], c[i:i + 1])
        sel = b == i
        for got, want in zip((t[sel], x[sel], y[sel], p[sel]), (ti, xi, yi, pi)):
            np.testing.assert_array_equal(got, want)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c_on=st.floats(0.05, 0.5), c_off=st.floats(0.05, 0.5))
def test_signed_event_sum_tracks_the_log_change(seed, c_on, c_off):
    logs, times = random_video(seed, frames=6)
    ev = simulate_video(logs, times, config=ESIMConfig(c_on=c_on, c_off=c_off), log_input=True)
    on = np.zeros(logs.shape[1:])
    off = np.zeros(logs.shape[1:])
    np.add.at(on, (ev.y[ev.p == 1], ev.x[ev.p == 1]), 1)
    np.add.at(off, (ev.y[ev.p == 0], ev.x[ev.p == 0]), 1)
    residual = (logs[-1] - logs[0]) - (on * c_on - off * c_off)
    assert np.all(residual > -c_off - 1e-9) and np.all(residual < c_on + 1e-9)


def test_simulate_video_events_and_determinism():
    rng = np.random.default_rng(0)
    frames = rng.uniform(0, 255, (5, 6, 9))
    times = np.array([0, 1000, 2500, 4000, 9000])
    cfg = ESIMConfig(threshold_sigma=0.03, noise_rate_hz=20.0, hot_pixels=1, refractory_us=50)
    a = simulate_video(frames, times, config=cfg, seed=3)
    b = simulate_video(frames, times, config=cfg, seed=3)
    c = simulate_video(frames, times, config=cfg, seed=4)
    assert a.sensor_size == (9, 6) and len(a) > 0
    a.validate()
    assert a.t[0] >= 0 and a.t[-1] <= 9000 and a.meta["simulator"] == "esim"
    for name in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert len(a) != len(c) or not np.array_equal(a.t, c.t)


def test_rgb_video_is_simulated_as_its_luma():
    rgb = np.random.default_rng(5).uniform(0, 1, (4, 3, 5, 3))
    times = np.array([0, 10, 20, 30])
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    a, b = simulate_video(rgb, times), simulate_video(luma, times)
    assert len(a) > 0 and a.sensor_size == (5, 3)
    for name in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_constant_video_gives_only_noise_at_the_configured_rate():
    frames = np.full((3, 10, 10), 0.5)
    times = np.array([0, 500_000, 1_000_000])
    assert len(simulate_video(frames, times)) == 0
    ev = simulate_video(frames, times, config=ESIMConfig(noise_rate_hz=50.0), seed=1)
    expected = 50.0 * 1.0 * 100                                   # rate x seconds x pixels
    assert abs(len(ev) - expected) < 5 * np.sqrt(expected)
    assert 0.45 < ev.p.mean() < 0.55


def test_hot_pixels_fire_one_polarity_each():
    frames = np.full((2, 8, 8), 0.5)
    times = np.array([0, 1_000_000])
    ev = simulate_video(frames, times, config=ESIMConfig(hot_pixels=3, hot_pixel_rate_hz=1000.0), seed=2)
    pix = ev.y.astype(int) * 8 + ev.x
    assert np.unique(pix).size == 3
    for q in np.unique(pix):
        assert np.unique(ev.p[pix == q]).size == 1
    assert abs(len(ev) - 3000) < 5 * np.sqrt(3000)


def test_threshold_mismatch_and_noise_helpers():
    cfg = ESIMConfig(c_on=0.2, c_off=0.1, threshold_sigma=0.05, min_threshold=0.05)
    c_on, c_off = thresholds(np.random.default_rng(0), 50, 60, cfg)
    assert c_on.shape == (50, 60) and abs(c_on.mean() - 0.2) < 0.01 and c_off.min() >= 0.05
    t, x, y, p = noise_events(np.random.default_rng(0), 4, 5, 0.0, 1000.0, ESIMConfig())
    assert t.size == x.size == y.size == p.size == 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(frames=-np.ones((2, 3, 3)), times_us=np.array([0, 1])), "non-negative"),
    (dict(frames=np.ones((2, 3, 3)), times_us=np.array([0, 0])), "increasing"),
    (dict(frames=np.ones((2, 3, 3)), times_us=np.array([0, 1, 2])), "times_us"),
    (dict(frames=np.ones((3, 3)), times_us=np.array([0, 1, 2])), "frames"),
])
def test_simulate_video_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_video(**kwargs)


def test_esim_config_rejects_bad_values():
    with pytest.raises(ValueError, match="c_on"):
        ESIMConfig(c_on=0)
    with pytest.raises(ValueError, match="hot_pixels"):
        ESIMConfig(hot_pixels=-1)


# ----------------------------------------------------------------------------- saccades
def ref_upscale(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of an ``[h, w]`` image to ``[size, size]`` (pixel centres, clamped edges)."""
    h, w = img.shape
    out = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            pi = min(max((i + 0.5) * h / size - 0.5, 0), h - 1)
            pj = min(max((j + 0.5) * w / size - 0.5, 0), w - 1)
            i0, j0 = int(np.floor(pi)), int(np.floor(pj))
            i1, j1 = min(i0 + 1, h - 1), min(j0 + 1, w - 1)
            wi, wj = pi - i0, pj - j0
            out[i, j] = ((1 - wi) * (1 - wj) * img[i0, j0] + (1 - wi) * wj * img[i0, j1]
                         + wi * (1 - wj) * img[i1, j0] + wi * wj * img[i1, j1])
    return out


def ref_place(up: np.ndarray, canvas: int, dx: float, dy: float) -> np.ndarray:
    """Canvas pixel (Y, X) samples the upscaled image at (Y - dy, X - dx), bilinear, zero outside."""
    n = up.shape[0]
    out = np.zeros((canvas, canvas))
    for yy in range(canvas):
        for xx in range(canvas):
            r, c = yy - dy, xx - dx
            r0, c0 = int(np.floor(r)), int(np.floor(c))
            for ri, wr in ((r0, 1 - (r - r0)), (r0 + 1, r - r0)):
                for ci, wc in ((c0, 1 - (c - c0)), (c0 + 1, c - c0)):
                    if 0 <= ri < n and 0 <= ci < n:
                        out[yy, xx] += wr * wc * up[ri, ci]
    return out


def test_saccade_path_is_a_closed_triangle_of_three_100ms_saccades():
    times, offsets = saccade_path(SaccadeConfig())
    assert times.shape == (181,) and times[0] == 0 and times[-1] == 300_000
    np.testing.assert_allclose(offsets[[0, 60, 120, 180]], [[0, 0], [3, 6], [6, 0], [0, 0]])
    assert np.all(np.diff(times) > 0)


@pytest.mark.parametrize("step", [0, 1, 60, 97, 150])
def test_rendered_frames_match_loop_reference(step):
    img = np.random.default_rng(step).uniform(0, 1, (8, 6))
    cfg = SaccadeConfig(image_size=12, canvas=16)
    _, a_y, a_x = render_matrices(8, 6, cfg)
    _, offsets = saccade_path(cfg)
    full = ref_upscale(img, 12)
    want = ref_place(full, 16, *offsets[step])
    np.testing.assert_allclose(a_y[step] @ img @ a_x[step].T, want, atol=1e-12)


def test_saccade_batch_equals_single_and_video_simulator():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 1, (3, 8, 8)) * (rng.uniform(0, 1, (3, 8, 8)) > 0.5)
    cfg = SaccadeConfig(esim=ESIMConfig(eps=0.25, threshold_sigma=0.02, noise_rate_hz=5.0))
    batch = images_to_events(imgs, config=cfg, seed=7, sample_ids=[40, 41, 42])
    single = image_to_events(imgs[1], config=cfg, seed=7, sample_id=41)
    times, a_y, a_x = render_matrices(8, 8, cfg)
    video = np.stack([a_y[s] @ imgs[1] @ a_x[s].T for s in range(times.size)])
    direct = simulate_video(video, times, config=cfg.esim,
                            seed=np.random.default_rng(np.random.SeedSequence([7, 41])))
    for ev in (single, direct):
        for name in ("t", "x", "y", "p"):
            np.testing.assert_array_equal(getattr(batch[1], name), getattr(ev, name))


def test_saccade_events_of_a_digit():
    from sklearn.datasets import load_digits

    img = load_digits().images[0] / 16.0
    ev = image_to_events(img, config=SaccadeConfig(esim=ESIMConfig(eps=0.25)))
    ev.validate()
    assert ev.sensor_size == (34, 34)
    assert 3_000 < len(ev) < 20_000
    assert ev.t[0] >= 0 and ev.t[-1] <= 300_000
    assert 0.4 < ev.p.mean() < 0.6
    # The whole path is covered: events in each of the three saccades.
    assert all(np.any((ev.t >= k * 100_000) & (ev.t < (k + 1) * 100_000)) for k in range(3))
    assert len(image_to_events(np.zeros((8, 8)))) == 0


def test_saccade_counts_and_bad_input():
    imgs = np.random.default_rng(1).uniform(0, 1, (4, 8, 8))
    counts, t, x, y, p = simulate_batch(imgs)
    assert counts.shape == (4,) and counts.sum() == t.size == x.size == y.size == p.size
    assert x.max() < 34 and y.max() < 34
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        simulate_batch(imgs * 16)
    with pytest.raises(ValueError, match="sample_ids"):
        simulate_batch(imgs, sample_ids=[1, 2])
    with pytest.raises(ValueError, match="image"):
        image_to_events(imgs)
    with pytest.raises(ValueError, match="canvas"):
        SaccadeConfig(image_size=40)
