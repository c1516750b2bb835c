"""Issue 11.4: the binning a model was trained with is one frozen transform object (ToFrames, ToSpikeBins) that the
card stores (``input.events_transform``) and that training, ``predict`` and the app use; a recording fed through the
training path and through the card path gives the same tensor exactly, and cards written before the field (with
only ``input.binning``) rebuild the same object."""
from __future__ import annotations

import numpy as np
import pytest

from mfpsn.card_inputs import CardInputError, events_input, events_transform
from mfpsn.events import Events, read_events, write_events
from mfpsn.events.formats.shd import write_shd_h5
from mfpsn.events.frames import ToFrames, ToSpikeBins
from mfpsn.training.tasks import load_task


def _legacy(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "events_transform"}


@pytest.mark.parametrize("t", [ToFrames(n_bins=8), ToFrames(n_bins=4, time_range=(0, 300_001), time_range_from_first=True),
                               ToFrames(duration_us=5_000, overlap=1_000, downsample_to=(17, 17)),
                               ToFrames(event_count=50), ToSpikeBins(n_bins=100, bin_us=10_000, pool=5),
                               ToSpikeBins(bin_us=1_000, n_units=64, t_start=None)])
def test_transforms_round_trip_through_json(t):
    import json

    assert type(t).from_dict(json.loads(json.dumps(t.to_dict()))) == t


def test_malformed_transforms_are_refused():
    card = {"name": "x", "input": {"events_transform": {"name": "to_frames", "n_bins": 8, "extra": 1}}}
    with pytest.raises(CardInputError, match="unknown fields"):
        events_transform(card)
    card["input"]["events_transform"] = {"name": "rotate"}
    with pytest.raises(CardInputError, match="expected one of"):
        events_transform(card)
    with pytest.raises(ValueError, match="two integers"):
        ToFrames.from_dict({"name": "to_frames", "n_bins": 8, "time_range": [0, "a"]})


def test_nmnist_training_path_equals_card_path_new_and_legacy_cards(tmp_path):
    rng = np.random.default_rng(1)
    for split in ("Train", "Test"):
        for digit in (2, 7):
            (tmp_path / split / str(digit)).mkdir(parents=True)
            t = np.sort(rng.integers(4_200, 310_000, 400))        # starts 4.2 ms in: no clock assumptions
            ev = Events(t, rng.integers(0, 34, 400), rng.integers(0, 34, 400), rng.integers(0, 2, 400), 34, 34)
            write_events(tmp_path / split / str(digit) / "00000.bin", ev, format="nmnist")
    data = load_task("nmnist", data_root=tmp_path, T=6)
    assert events_transform({"input": data.input_spec}) == ToFrames(n_bins=6)
    assert events_transform({"input": _legacy(data.input_spec)}) == ToFrames(n_bins=6)
    for i, digit in enumerate((2, 7)):
        ev = read_events(tmp_path / "Test" / str(digit) / "00000.bin", format="nmnist", sensor_size=(34, 34))
        for spec in (data.input_spec, _legacy(data.input_spec)):
            x = events_input(ev, {"name": "n", "input": spec})
            np.testing.assert_array_equal(x[:, 0].numpy(), data.test_x[i].numpy())


def test_shd_training_path_equals_card_path(tmp_path):
    rng = np.random.default_rng(2)
    for split in ("train", "test"):
        times = [np.sort(rng.uniform(0, 0.9, 300)).astype(np.float16) for _ in range(3)]
        units = [rng.integers(0, 700, 300).astype(np.uint16) for _ in range(3)]
        write_shd_h5(tmp_path / f"shd_{split}.h5", times, units, [0, 5, 19])
    data = load_task("shd", data_root=tmp_path, T=40)
    assert events_transform({"input": data.input_spec}) == ToSpikeBins(n_bins=40, bin_us=10_000, pool=5, t_start=0)
    for i in range(3):
        ev = read_events(tmp_path / "shd_test.h5", index=i)
        for spec in (data.input_spec, _legacy(data.input_spec)):
            x = events_input(ev, {"name": "s", "input": spec})
            np.testing.assert_array_equal(x[:, 0].numpy(), data.test_x[i].numpy())


def test_a_cropped_window_keeps_the_recordings_timing():
    """A bigger sensor is cropped before binning; the bins still span the whole recording's first to last event
    (a window whose own events start later is not re-timed)."""
    t = np.array([0, 100, 200, 900, 1000], np.int64)
    x = np.array([0, 50, 51, 52, 99], np.uint16)                  # only the middle three fall in the centre window
    ev = Events(t, x, np.full(5, 50, np.uint16), np.ones(5, np.uint8), 100, 100)
    card = {"name": "c", "input": {"shape": [4, 2, 34, 34], "events_transform": ToFrames(n_bins=4).to_dict()}}
    frames = events_input(ev, card)[:, 0].numpy()
    assert frames.sum() == 3 and list(frames.sum(axis=(1, 2, 3))) == [2, 0, 0, 1]   # bins of 250 µs from t = 0


def test_the_input_window_is_the_one_the_frames_are_cut_from():
    """``input_window`` is the window ``fitted_frames`` crops (its note is the window's sentence), so the app's
    caption for the model input is computed, not read back from the notes list."""
    from mfpsn.card_inputs import fitted_frames, input_window
    from mfpsn.events import Events, ToFrames

    rng = np.random.default_rng(4)
    n = 3000
    ev = Events(np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 60, n), rng.integers(0, 50, n),
                rng.integers(0, 2, n).astype(np.uint8), 60, 50)
    for origin in (None, "active", (7, 3)):
        notes: list[str] = []
        frames = fitted_frames(ev, ToFrames(n_bins=4), (34, 34), notes, origin=origin)
        win = input_window(ev, (34, 34), origin)
        assert notes == [win.sentence] and (win.width, win.height) == (34, 34)
        assert int(frames.sum()) == int(win.keep.sum())          # every event inside, and only those, is counted
    whole = input_window(ev, (50, 60))
    assert whole.sentence == "the whole 60×50 sensor" and whole.keep.all()
