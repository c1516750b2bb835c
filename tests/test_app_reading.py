"""Reading a recording in the explorer: a sensor size for files that store none, a format list instead of a
``format=`` hint, a one-event file (issue 13.5)."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from mfpsn.app import events_view
from mfpsn.events import Events, write_npy

ASSETS = events_view.ASSETS_DIR


@pytest.fixture()
def npy_digit(tmp_path):
    """A 34×34 recording whose events reach x 27 and y 30 only: a .npy stores no sensor size."""
    n = 200
    rng = np.random.default_rng(0)
    ev = Events(np.arange(n) * 100, rng.integers(0, 28, n), rng.integers(0, 31, n), rng.integers(0, 2, n), 34, 34)
    path = tmp_path / "digit.npy"
    write_npy(path, ev)
    return str(path)


def test_a_guessed_sensor_size_is_said_and_can_be_set(npy_digit):
    summary = events_view.load_events(npy_digit, None, 0, 4)[0]
    assert "28 × 31 pixels (the file stores no size: guessed from the largest coordinates" in summary
    summary, *_, events, _ = events_view.load_events(npy_digit, None, 0, 4, sensor="34 x 34")
    assert "34 × 34 pixels (as set under 'sensor size')" in summary and (events.width, events.height) == (34, 34)
    with pytest.raises(gr.Error, match="sensor size: expected width × height"):
        events_view.load_events(npy_digit, None, 0, 4, sensor="34 by 34")
    with pytest.raises(gr.Error, match=r"lies outside the 20x20 sensor"):
        events_view.load_events(npy_digit, None, 0, 4, sensor="20×20")


def test_an_undetectable_format_points_to_the_format_list(tmp_path):
    raw = (ASSETS / "evt3_digit3.raw").read_bytes()
    body = raw[raw.index(b"% end\n") + len(b"% end\n"):] if b"% end\n" in raw else raw.split(b"\n% ")[-1]
    headerless = tmp_path / "digit.raw"
    headerless.write_bytes(body)
    with pytest.raises(gr.Error, match="pick it under 'file format'") as err:
        events_view.load_events(str(headerless), None, 0, 4)
    assert "format=" not in str(err.value)
    with pytest.raises(gr.Error, match="file format: expected one of"):
        events_view.load_events(str(headerless), None, 0, 4, fmt="mp4")


def test_a_single_event_has_no_rate_instead_of_nan(tmp_path):
    path = tmp_path / "one.npy"
    write_npy(path, Events(np.array([5]), np.array([3]), np.array([4]), np.array([1]), 34, 34))
    summary = events_view.load_events(str(path), None, 0, 4)[0]
    assert "nan" not in summary.lower() and "– (all events at one instant)" in summary


def test_a_csv_header_is_reported_and_a_time_column_flagged(tmp_path):
    """Issue 13.5: a CSV's header and time column silently became the input of channel 0."""
    from mfpsn.app import inputs, lab

    path = tmp_path / "current.csv"
    path.write_text("time_ms,current\n0,0.5\n1,0\n2,1.5\n3,0\n")
    notes: list[str] = []
    x = inputs.load_sequence(path, notes=notes)
    assert x.shape == (4, 2)
    assert "'time_ms' → channel 0, 'current' → channel 1" in notes[0] and "looks like time stamps" in notes[1]
    summary = lab.neuron_lab(upload=str(path))[6]
    assert "looks like time stamps" in summary
    plain = tmp_path / "plain.csv"
    plain.write_text("0.5\n0\n1.5\n")
    notes = []
    inputs.load_sequence(plain, notes=notes)
    assert notes == []
    (tmp_path / "short.csv").write_text("a,b,c\n1,2\n")
    with pytest.raises(gr.Error, match="header row names 3 columns, the rows hold 2"):
        inputs.load_sequence(tmp_path / "short.csv")
