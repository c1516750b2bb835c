"""A recording unlike the training data gets a note next to the prediction (issue 13.6)."""
from __future__ import annotations

import numpy as np

from mfpsn.app import models_view
from mfpsn.tools.app_bench import synthetic_recording
from mfpsn.app.ood import ood_notes, training_stats
from mfpsn.checkpoints import load
from mfpsn.events import Events
from mfpsn.events import write_npy

CARD = load("dvs_digits_mfpsn").card
STATS = training_stats("dvs-digits")


def notes_for(events: Events, probs=np.array([0.9] + [0.1 / 9] * 9)) -> list[str]:
    x = models_view.model_input(events, CARD, [])
    return ood_notes(events, CARD, x, probs, STATS)


def test_training_statistics_are_recorded_for_the_camera_task():
    assert STATS["n"] > 1000 and STATS["input_events"]["p1"] < STATS["input_events"]["p50"] < \
        STATS["input_events"]["p99"]


def test_a_training_like_recording_gets_no_note():
    from mfpsn.data.dvs_digits import sample_events

    assert notes_for(sample_events(3)) == []                        # one digit of the generator, built in ~1 s


def test_noise_a_single_event_and_a_big_scene_are_flagged():
    rng = np.random.default_rng(0)
    n = 200
    noise = Events(np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 34, n), rng.integers(0, 34, n),
                   rng.integers(0, 2, n), 34, 34)
    assert any("200 events reach the model; its 1,438 training inputs held" in s for s in notes_for(noise))
    one = Events(np.array([0]), np.array([5]), np.array([5]), np.array([1]), 34, 34)
    assert any("1 events reach the model" in s for s in notes_for(one))
    scene = notes_for(synthetic_recording(200_000, 640, 480))
    assert any("recorded on a 640×480 sensor; the model was trained on 34×34" in s for s in scene)
    assert any("reach the model (the rest lie outside its crop or time window)" in s for s in scene)
    flat = notes_for(noise, np.full(10, 0.1))
    assert any("close to uniform" in s for s in flat)


def test_the_note_stands_under_the_prediction(tmp_path):
    path = tmp_path / "scene.npy"
    write_npy(path, synthetic_recording(100_000, 640, 480))
    md = models_view.run_model(str(path), None, 0, "dvs_digits_mfpsn", "dvs_digits_lif", 0)[-1]
    lines = md.splitlines()
    first = next(i for i, ln in enumerate(lines) if "dvs_digits_mfpsn" in ln and "predicts" in ln)
    assert lines[first + 1].startswith("  - ⚠ **Unlike its training data, so this answer means little:** recorded on "
                                       "a 640×480 sensor")


def test_spike_trains_are_compared_with_the_spoken_digits_training_data():
    from mfpsn.events import read_events

    card = load("spoken_digits_mfpsn").card
    stats = training_stats("spoken-digits")
    assert stats["n"] >= 200

    def notes(path: str, index: int) -> list[str]:
        ev = read_events(path, index=index)
        return ood_notes(ev, card, models_view.model_input(ev, card, []), np.array([0.9] + [0.1 / 19] * 19), stats)

    assets = models_view.SHIPPED_DIR.parent / "assets"
    assert notes(str(assets / "spoken_digits_sample.h5"), 0) == []          # the generator's own kind
    sweep = notes(str(assets / "shd_sweeps_3.h5"), 0)
    assert any("1,200 spikes reach the model; its 240 training inputs held" in s for s in sweep)
