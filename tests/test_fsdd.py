"""FSDD: the speech front end, augmentation, the batched cochlea, recording lists, splits, the feature cache,
the task and the card's audio input (on the committed 30-recording subset)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mfpsn.card_inputs import CardInputError, audio_input, file_input, input_kind
from mfpsn.data.audio_augment import OPERATIONS, AugmentConfig, augment, band_limit, change_speed
from mfpsn.data.cochlea import CochleaConfig, cochlea_spikes, cochlea_spikes_batch
from mfpsn.data.fsdd import features, features_batch, list_recordings, load_fsdd, split_recordings, speakers
from mfpsn.data.speech import SpeechFront, resample, trim_silence
from mfpsn.data.wav import read_wav, write_wav
from mfpsn.training.tasks import load_task

SUBSET = Path(__file__).resolve().parent.parent / "assets" / "fsdd_subset"
RATE = 8000


def _tone(freq: float, seconds: float, rate: int = RATE) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[spec.argmax()])


def test_resample_keeps_a_tone_and_removes_what_the_new_rate_cannot_hold():
    x = _tone(440, 0.5, 22_050) + _tone(6000, 0.5, 22_050)
    y = resample(x, 22_050, RATE)
    assert y.size == round(x.size * RATE / 22_050)
    assert abs(_peak_hz(y, RATE) - 440) < 5
    spec = np.abs(np.fft.rfft(y))
    f = np.fft.rfftfreq(y.size, 1 / RATE)
    assert spec[np.abs(f - 2000) < 50].max() < 0.05 * spec.max()  # 6 kHz must not alias to 2 kHz


def test_trim_silence_cuts_both_ends_and_keeps_the_margin():
    x = np.concatenate([np.zeros(4000), _tone(300, 0.3), np.zeros(4000)])
    y = trim_silence(x, RATE, trim_db=40, margin_ms=20)
    assert 0.3 * RATE <= y.size <= 0.3 * RATE + 2 * 160 + 80
    np.testing.assert_array_equal(trim_silence(np.zeros(100), RATE), np.zeros(100))


def test_front_is_gain_invariant_deterministic_and_round_trips_its_config():
    front = SpeechFront()
    x = _tone(300, 0.4) * np.hanning(3200)
    a, b = front(x, RATE, seed=1), front(0.05 * x, RATE, seed=1)
    np.testing.assert_allclose(a, b)
    assert a.shape == (100, 140) and a.sum() > 0
    assert not np.array_equal(front(x, RATE, seed=1), front(x, RATE, seed=2))  # the encoder noise is seeded
    assert SpeechFront.from_dict(front.to_dict()) == front
    with pytest.raises(ValueError, match="Nyquist"):
        SpeechFront(cochlea=replace(front.cochlea, f_max=4000.0))
    with pytest.raises(ValueError, match="unknown fields"):
        SpeechFront.from_dict({**front.to_dict(), "colour": 1})


def test_batched_cochlea_equals_one_call_per_waveform():
    cfg = CochleaConfig(n_channels=40, f_max=3800.0, hop=16)
    rng = np.random.default_rng(0)
    waves = [_tone(f, s) + 0.01 * rng.standard_normal(int(s * RATE)) for f, s in ((200, 0.3), (900, 0.05), (2000, 0.6))]
    batch = cochlea_spikes_batch(waves, RATE, cfg, [np.random.default_rng(i) for i in range(3)])
    for i, w in enumerate(waves):
        t, u = cochlea_spikes(w, RATE, cfg, np.random.default_rng(i))
        np.testing.assert_array_equal(batch[i][0], t)
        np.testing.assert_array_equal(batch[i][1], u)
    with pytest.raises(ValueError, match="one generator per input"):
        cochlea_spikes_batch(waves, RATE, cfg, [])


def test_augmentations_are_seeded_and_do_what_they_say():
    x = _tone(500, 0.5)
    a = augment(x, RATE, np.random.default_rng(5))
    np.testing.assert_array_equal(a, augment(x, RATE, np.random.default_rng(5)))
    fast = change_speed(x, 1.25)
    assert abs(fast.size - x.size / 1.25) <= 1 and abs(_peak_hz(fast, RATE) - 625) < 10
    limited = band_limit(_tone(3500, 0.5), RATE, 50.0, 1000.0)
    assert np.abs(limited).max() < 0.01
    none = AugmentConfig().only()
    np.testing.assert_array_equal(augment(x, RATE, np.random.default_rng(0), none), x)
    assert AugmentConfig().only("speed").p_speed > 0 and AugmentConfig().only("speed").p_noise == 0
    assert set(OPERATIONS) == {"speed", "reverb", "band", "noise", "gain"}
    with pytest.raises(ValueError, match="operations"):
        AugmentConfig().only("pitch")


def test_recordings_splits_and_bad_folders(tmp_path):
    recs = list_recordings(SUBSET)
    assert len(recs) == 30 and speakers(recs) == ["george", "jackson", "lucas", "nicolas", "yweweler"]
    train, test = split_recordings(recs, "speaker:lucas")
    assert {r.speaker for r in test} == {"lucas"} and "lucas" not in {r.speaker for r in train}
    train, test = split_recordings(recs, "official")
    assert all(r.index < 5 for r in test) and all(r.index >= 5 for r in train)
    with pytest.raises(ValueError, match="expected a speaker among"):
        split_recordings(recs, "speaker:theo")
    with pytest.raises(ValueError, match="expected 'official'"):
        split_recordings(recs, "random")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="no '"):
        list_recordings(tmp_path)
    with pytest.raises(ValueError, match="expected a folder"):
        list_recordings(tmp_path / "missing")


def test_features_cache_and_batch_agree(tmp_path):
    recs = list_recordings(SUBSET)[:3]
    front = SpeechFront()
    single = np.stack([features(r, front, copy=1, aug=AugmentConfig()) for r in recs])
    np.testing.assert_array_equal(features_batch(recs, front, copy=1, aug=AugmentConfig()), single)
    with pytest.raises(ValueError, match="needs an AugmentConfig"):
        features(recs[0], front, copy=1, aug=None)
    first = load_fsdd(SUBSET, "speaker:george", n_augment=1, cache=tmp_path, progress=False)
    assert first["train_x"].shape == (2 * 24, 100, 140) and first["test_x"].shape == (6, 100, 140)
    assert list(first["train_y"][:24]) == list(first["train_y"][24:])
    again = load_fsdd(SUBSET, "speaker:george", n_augment=1, cache=tmp_path, progress=False)
    np.testing.assert_array_equal(first["train_x"], again["train_x"])
    uncached = load_fsdd(SUBSET, "speaker:george", n_augment=0, cache=None, progress=False)
    np.testing.assert_array_equal(uncached["test_x"], first["test_x"])
    test_only = load_fsdd(SUBSET, "speaker:george", cache=tmp_path, test_only=True, progress=False)
    np.testing.assert_array_equal(test_only["test_x"], first["test_x"])
    assert test_only["train_x"].shape == (0, 100, 140) and test_only["test_speakers"] == ["george"]


def _card(front: SpeechFront) -> dict:
    return {"name": "fsdd_test", "task": "fsdd", "input": {"transform": front.to_dict(), "T": 100,
                                                          "binning": {"method": "spike_train_to_bins"}}}


def test_task_and_card_input_build_the_same_tensor(tmp_path, monkeypatch):
    monkeypatch.setenv("MFPSN_DATA", str(tmp_path))
    data = load_task("fsdd", data_root=SUBSET, options={"split": "speaker:nicolas"}, test_only=True)
    assert data.classes == [str(i) for i in range(10)] and data.train_x.shape[0] == 0
    assert data.test_x.shape == (6, 100, 140) and data.input_spec["test_speakers"] == ["nicolas"]
    assert data.input_spec["licence"].startswith("Free Spoken Digit Dataset")
    card = _card(SpeechFront.from_dict(data.input_spec["transform"]))
    assert input_kind(card) == "audio"
    names = sorted(p for p in SUBSET.glob("*_nicolas_*.wav"))
    x = file_input(names[0], card)
    assert x.shape == (100, 1, 140)
    np.testing.assert_array_equal(x[:, 0].numpy(), data.test_x[0].numpy())
    audio, rate = read_wav(names[0])
    np.testing.assert_array_equal(audio_input(audio, rate, card).numpy(), x.numpy())
    stereo = write_wav(tmp_path / "up.wav", resample(audio, rate, 16_000), 16_000)
    assert file_input(stereo, card).shape == (100, 1, 140)
    with pytest.raises(ValueError, match="takes no options"):
        load_task("random", options={"split": "official"})


def test_card_audio_errors_name_the_file(tmp_path):
    card = _card(SpeechFront())
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(CardInputError, match="bad.wav: expected"):
        file_input(bad, card)
    img = tmp_path / "digit.png"
    img.write_bytes(b"")
    with pytest.raises(CardInputError, match="takes a .wav recording"):
        file_input(img, card)
    with pytest.raises(CardInputError, match="NaN"):
        audio_input(np.array([np.nan, 0.0]), RATE, card)
    with pytest.raises(CardInputError, match="non-empty mono"):
        audio_input(np.zeros(0), RATE, card)
