"""Synthetic spoken digits: cochlea model against plain references, SHD layout, determinism, split."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

import mfpsn.events
from mfpsn.data import cochlea as co
from mfpsn.data import spoken_digits as sd

ASSET = Path(__file__).resolve().parents[1] / "assets" / "spoken_digits_sample.h5"
SR = 22050

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install -y espeak-ng); the generator needs it",
)

TINY = sd.GeneratorConfig(seed=3, n_per_class=1, n_test_per_class=1)


# ----------------------------------------------------------------------------- cochlea
def test_erb_space_is_equally_spaced_on_the_erb_rate_scale() -> None:
    fc = co.erb_space(37, 50.0, 8000.0)
    assert fc[0] == pytest.approx(50.0) and fc[-1] == pytest.approx(8000.0)
    rate = 21.4 * np.log10(4.37e-3 * fc + 1.0)
    np.testing.assert_allclose(np.diff(rate), np.diff(rate)[0], rtol=1e-9)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 4000.0])
def test_tone_at_a_centre_frequency_gives_its_rms_in_that_channel(freq: float) -> None:
    cfg = co.CochleaConfig(preemphasis=0.0)
    _, fc = co.filterbank(SR, cfg)
    f0 = fc[int(np.argmin(np.abs(fc - freq)))]
    t = np.arange(int(0.2 * SR)) / SR
    env = co.band_envelopes(0.1 * np.sin(2 * np.pi * f0 * t), SR, cfg)
    steady = env[40:-40]
    best = np.argmax(steady.mean(axis=0))
    assert fc[best] == pytest.approx(f0, rel=0.01)
    np.testing.assert_allclose(steady[:, best], 0.1 / np.sqrt(2), rtol=0.02)


def test_cached_filterbank_is_read_only() -> None:
    weights, fc = co.filterbank(SR, co.CochleaConfig())
    assert weights is co.filterbank(SR, co.CochleaConfig())[0]   # one cached array shared by every caller
    for array in (weights, fc):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0.0


def test_low_channels_hear_low_frequencies() -> None:
    cfg = co.CochleaConfig(preemphasis=0.0)
    t = np.arange(int(0.1 * SR)) / SR
    peaks = [int(np.argmax(co.band_envelopes(np.sin(2 * np.pi * f * t), SR, cfg).mean(0))) for f in (200, 800, 3000, 7000)]
    assert peaks == sorted(peaks) and peaks[0] < 150 and peaks[-1] > 600


def test_preemphasis_gain_matches_the_first_order_filter() -> None:
    a, f = 0.7, 2000.0
    t = np.arange(int(0.2 * SR)) / SR
    x = np.sin(2 * np.pi * f * t)
    flat = co.band_envelopes(x, SR, co.CochleaConfig(preemphasis=0.0))[40:-40].mean(0)
    tilt = co.band_envelopes(x, SR, co.CochleaConfig(preemphasis=a))[40:-40].mean(0)
    c = int(np.argmax(flat))
    expected = abs(1 - a * np.exp(-2j * np.pi * f / SR))
    assert tilt[c] / flat[c] == pytest.approx(expected, rel=0.01)


def _lif_reference(drive: np.ndarray, dt: float, cfg: co.CochleaConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scalar loops over channels and steps, same equations and noise draws as lif_encode."""
    n_steps, n_ch = drive.shape
    noise = np.random.default_rng(seed).standard_normal((n_steps, n_ch))
    alpha, decay = np.exp(-dt / cfg.tau_m), np.exp(-dt / cfg.tau_adapt)
    gains = cfg.gain * np.exp(cfg.gain_spread * np.random.default_rng(cfg.fibre_seed).standard_normal(n_ch))
    out = []
    for c in range(n_ch):
        v = a = 0.0
        for i in range(n_steps):
            v_new = alpha * v + (1 - alpha) * gains[c] * drive[i, c] + cfg.noise * noise[i, c]
            a *= decay
            if v_new >= 1 + a:
                frac = min(max((1 + a - v) / max(v_new - v, 1e-12), 0.0), 1.0)
                out.append((max((i - 1 + frac) * dt, 0.0), c))
                v_new = 0.0
                a += cfg.adapt_step
            v = v_new
    out.sort()
    return np.array([o[0] for o in out]), np.array([o[1] for o in out])


@pytest.mark.parametrize("noise", [0.0, 0.08])
def test_lif_encode_matches_a_scalar_reference(noise: float) -> None:
    cfg = co.CochleaConfig(n_channels=3, noise=noise, gain=1.3)
    rng = np.random.default_rng(11)
    drive = np.abs(rng.normal(2.0, 1.5, size=(57, 3)))
    drive[20:30] = 0.0
    times, units = co.lif_encode(drive, 0.001, cfg, np.random.default_rng(5))
    ref_t, ref_u = _lif_reference(drive, 0.001, cfg, 5)
    assert times.size > 10
    np.testing.assert_allclose(times, ref_t, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(units, ref_u)


def test_lif_encode_is_silent_without_drive_and_rejects_bad_shapes() -> None:
    cfg = co.CochleaConfig()
    times, units = co.lif_encode(np.zeros((200, 700)), 0.001, cfg, np.random.default_rng(0))
    assert times.size == 0 and units.size == 0
    with pytest.raises(ValueError, match=r"\[F, C\]"):
        co.lif_encode(np.zeros(5), 0.001, cfg, np.random.default_rng(0))
    with pytest.raises(ValueError, match="expected 700 channels"):
        co.lif_encode(np.zeros((5, 3)), 0.001, cfg, np.random.default_rng(0))
    with pytest.raises(ValueError, match="f_max"):
        co.filterbank(16000, co.CochleaConfig(f_max=9000.0))


# ----------------------------------------------------------------------------- configuration
def test_config_rejects_bad_values_and_splits_speakers() -> None:
    with pytest.raises(ValueError, match="test_speakers"):
        sd.GeneratorConfig(test_speakers=("nobody",))
    with pytest.raises(ValueError, match="pitch"):
        sd.GeneratorConfig(pitch=(10, 120))
    with pytest.raises(ValueError, match="split"):
        sd.plan_split(TINY, "val")
    train, test = TINY.split_speakers("train"), TINY.split_speakers("test")
    assert set(train).isdisjoint(test) and set(train) | set(test) == set(sd.SPEAKERS)
    assert TINY.to_dict() != replace(TINY, cochlea=replace(TINY.cochlea, tau_m=0.005)).to_dict()


def test_plan_is_deterministic_balanced_and_split_by_voice() -> None:
    cfg = replace(TINY, n_per_class=5, n_test_per_class=3)
    train = sd.plan_split(cfg, "train")
    test = sd.plan_split(cfg, "test")
    assert train == sd.plan_split(cfg, "train")
    assert train != sd.plan_split(replace(cfg, seed=4), "train")
    assert np.bincount([s.label for s in train], minlength=20).tolist() == [5] * 20
    assert np.bincount([s.label for s in test], minlength=20).tolist() == [3] * 20
    assert {s.speaker for s in train}.isdisjoint({s.speaker for s in test})
    assert {s.voice.split("+")[1] for s in test} <= set(cfg.test_speakers)
    for s in train + test:
        assert s.word == sd.KEYS[s.label]
        assert s.voice.startswith("de") == (s.label >= 10)


def test_missing_espeak_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="apt-get install -y espeak-ng"):
        sd.espeak_path()


# ----------------------------------------------------------------------------- generated files
@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install -y espeak-ng); the generator needs it")
    root = tmp_path_factory.mktemp("spoken")
    sd.load_spoken_digits("train", root=root, config=TINY, workers=1)
    return root


def _check_shd_layout(path: Path) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        for name in ("spikes/times", "spikes/units", "labels", "extra/keys", "extra/speaker"):
            assert name in f, f"{path}: missing {name}"
        assert h5py.check_vlen_dtype(f["spikes/times"].dtype) == np.float16
        assert h5py.check_vlen_dtype(f["spikes/units"].dtype) == np.uint16
        assert f["labels"].dtype == np.uint16
        times = list(f["spikes/times"][:])
        units = list(f["spikes/units"][:])
        labels = f["labels"][:]
        speakers = f["extra/speaker"][:]
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in f["extra/keys"][:]]
    assert keys == list(sd.KEYS)
    assert len(times) == len(units) == labels.size == speakers.size > 0
    assert labels.min() >= 0 and labels.max() <= 19
    for t, u in zip(times, units):
        assert t.dtype == np.float16 and u.dtype == np.uint16 and t.size == u.size > 100
        assert np.all(np.diff(t.astype(np.float64)) >= 0)
        assert u.max() <= 699
        assert 0.0 <= float(t[0]) and float(t[-1]) < 2.0
    return times, units, labels, speakers


@needs_espeak
def test_generated_files_have_the_shd_layout_and_unseen_test_voices(tiny_root: Path) -> None:
    _, _, train_labels, train_speakers = _check_shd_layout(tiny_root / "shd_train.h5")
    _, _, test_labels, test_speakers = _check_shd_layout(tiny_root / "shd_test.h5")
    assert sorted(train_labels.tolist()) == list(range(20)) == sorted(test_labels.tolist())
    assert set(train_speakers.tolist()).isdisjoint(test_speakers.tolist())
    with h5py.File(tiny_root / "shd_test.h5", "r") as f:
        voices = [v.decode() if isinstance(v, bytes) else v for v in f["extra/meta_info/voice"][:]]
        assert json.loads(f.attrs["mfpsn_generator"]) == TINY.to_dict()
    assert {voices[s] for s in test_speakers} <= set(TINY.test_speakers)


@needs_espeak
def test_generated_file_reads_back_through_read_events(tiny_root: Path) -> None:
    path = tiny_root / "shd_test.h5"
    with h5py.File(path, "r") as f:
        times, units, label = f["spikes/times"][2], f["spikes/units"][2], int(f["labels"][2])
    ev = mfpsn.events.read_events(path, index=2)
    assert (ev.width, ev.height) == (700, 1)
    np.testing.assert_array_equal(ev.x, units)
    np.testing.assert_array_equal(ev.t, np.round(times.astype(np.float64) * 1e6).astype(np.int64))
    assert np.all(ev.y == 0) and np.all(ev.p == 1)
    assert ev.meta["label"] == label


@needs_espeak
def test_loader_bins_caches_and_rebuilds_on_a_changed_generator(tiny_root: Path, tmp_path: Path) -> None:
    x, labels = sd.load_spoken_digits("test", root=tiny_root, config=TINY)
    assert x.dtype.is_floating_point and str(x.dtype) == "torch.float32" and str(labels.dtype) == "torch.int64"
    assert tuple(x.shape) == (20, 100, 140)
    with h5py.File(tiny_root / "shd_test.h5", "r") as f:
        n_in_window = sum(int(np.sum(t.astype(np.float64) < 1.0)) for t in f["spikes/times"][:])
        np.testing.assert_array_equal(labels.numpy(), f["labels"][:].astype(np.int64))
    assert float(x.sum()) == n_in_window
    stamp = (tiny_root / "shd_test.h5").stat().st_mtime_ns
    x7, _ = sd.load_spoken_digits("test", root=tiny_root, config=TINY, n_bins=7, pool=1, bin_us=3_000)
    assert tuple(x7.shape) == (20, 7, 700)
    assert (tiny_root / "shd_test.h5").stat().st_mtime_ns == stamp, "an up-to-date cache must not be rebuilt"
    with pytest.raises(ValueError, match="divisor"):
        sd.load_spoken_digits("test", root=tiny_root, config=TINY, pool=3)

    other = tmp_path / "cache"
    shutil.copytree(tiny_root, other)
    changed = replace(TINY, seed=TINY.seed + 1)
    x2, _ = sd.load_spoken_digits("test", root=other, config=changed)
    assert json.loads((other / "generator.json").read_text())["config"] == changed.to_dict()
    assert not np.array_equal(x2.numpy(), x.numpy())


@needs_espeak
def test_rendering_is_deterministic_and_independent_of_workers() -> None:
    specs = sd.plan_split(TINY, "test")[:4]
    one = sd.generate_split(specs, TINY, workers=1)
    two = sd.generate_split(specs, TINY, workers=2)
    for (t1, u1), (t2, u2) in zip(one, two):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(u1, u2)
    other = sd.render_sample(replace(specs[0], seed=specs[0].seed + 1), TINY)
    assert not (other[0].size == one[0][0].size and np.array_equal(other[0], one[0][0]))


@needs_espeak
def test_synthesize_returns_16bit_mono_speech() -> None:
    audio, rate = sd.synthesize("sieben", "de+f3", 150, 60, 120)
    assert rate == SR and audio.ndim == 1 and 0.2 * SR < audio.size < 2 * SR
    assert 0.05 < np.abs(audio).max() < 1.0


@needs_espeak
def test_cli_writes_a_sample_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sample.h5"
    assert sd.main(["--sample-file", str(path), "--sample-count", "3", "--seed", "1"]) == 0
    _, _, labels, _ = _check_shd_layout(path)
    assert labels.size == 3 and (labels < 10).sum() == 2
    assert "3 samples" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        sd.main([])


def test_bundled_sample_has_the_shd_layout() -> None:
    assert ASSET.exists(), f"{ASSET} is missing; make it with python -m mfpsn.data.spoken_digits --sample-file"
    _, units, labels, speakers = _check_shd_layout(ASSET)
    assert 4 <= labels.size <= 8
    assert (labels < 10).any() and (labels >= 10).any()
    test_ids = {sd.SPEAKERS.index(s) for s in sd.GeneratorConfig().test_speakers}
    assert set(speakers.tolist()) <= test_ids


@needs_espeak
def test_bundled_sample_regenerates_exactly(tmp_path: Path) -> None:
    with h5py.File(ASSET, "r") as f:
        recorded = str(f.attrs["mfpsn_espeak_version"])
        cfg_dict = json.loads(f.attrs["mfpsn_generator"])
        times, units = list(f["spikes/times"][:]), list(f["spikes/units"][:])
    if recorded != sd._espeak_version():
        pytest.skip(f"the asset was made with {recorded!r}; this machine has {sd._espeak_version()!r}")
    assert cfg_dict["seed"] == 0
    path = tmp_path / "again.h5"
    sd.main(["--sample-file", str(path), "--sample-count", str(len(times)), "--seed", "0"])
    with h5py.File(path, "r") as f:
        for i, (t, u) in enumerate(zip(times, units)):
            np.testing.assert_array_equal(f["spikes/times"][i], t)
            np.testing.assert_array_equal(f["spikes/units"][i], u)
