"""Event-explorer session: a new or failed load clears every result of the previous recording (issue 13.1), and
the models run on the recording the plots show."""
from __future__ import annotations

import gradio as gr
import pytest

from mfpsn.app import events_view, models_view
from mfpsn.app.session import EventsSession
from mfpsn.app.store import RecordingStore


@pytest.fixture()
def session() -> EventsSession:
    return EventsSession(RecordingStore())


def test_reset_forgets_the_recording_and_blanks_every_output(session):
    key = session.load(None, "nmnist_digit3.bin", 0, 10)[4]
    out = session.reset(key)
    assert session.store.get(key) is None
    assert len(out) == 13                                   # the six load outputs, then the seven model outputs
    assert out[0] == events_view.NOTHING_LOADED and out[4] is None and out[-1] == models_view.NO_RESULTS
    assert all(not fig.data for fig in out[1:4] + out[6:12])


def test_models_run_on_the_loaded_recording_and_name_it(session):
    key = session.load(None, "spoken_digits_sample.h5", 2, 10)[4]
    *figs, md = session.run(key, "spoken_digits_mfpsn", None, 0)
    assert md.startswith("Results for **spoken_digits_sample.h5, sample 2**")
    with pytest.raises(gr.Error, match="No recording loaded"):
        session.run(None, "spoken_digits_mfpsn", None, 0)
    with pytest.raises(gr.Error, match="no shipped checkpoint takes this kind"):
        session.run(key, None, None, 0)


def test_reload_without_a_file_keeps_the_outputs_blank(session):
    assert session.reload(None, None, 3, 10)[0] == events_view.NOTHING_LOADED
    assert "| sample | 3 of 6" in session.reload(None, "spoken_digits_sample.h5", 3, 10)[0]


def test_a_file_whose_labels_are_not_the_models_classes_gets_no_true_class(session):
    """Issue 13.5: shd_sweeps_3.h5 labels its sweeps 0–2, which are not SHD's english-0 … english-2."""
    key = session.load(None, "shd_sweeps_3.h5", 0, 10)[4]
    md = session.run(key, "spoken_digits_mfpsn", None, 0)[-1]
    assert "True class" not in md and "'sweep_up'" in md and "not the model's class 'english-0'" in md
    key = session.load(None, "spoken_digits_sample.h5", 3, 10)[4]
    assert "True class (from the file): **german-1**" in session.run(key, "spoken_digits_mfpsn", None, 0)[-1]


def test_a_neuron_index_beyond_a_layer_is_not_wrapped_around(session):
    """Issue 13.5: neuron 300 of a 256-neuron layer was drawn as neuron 44 (index modulo the layer size)."""
    key = session.load(None, "spoken_digits_sample.h5", 0, 10)[4]
    membranes, md = session.run(key, "spoken_digits_mfpsn", None, 255)[3:7:3]
    assert {tr.name for tr in membranes.data if tr.name} >= {"fc0 H", "fc1 H"} and "no neuron" not in md
    membranes, md = session.run(key, "spoken_digits_mfpsn", None, 300)[3:7:3]
    assert not [tr for tr in membranes.data if tr.name and tr.name.endswith(" H")]
    assert "no neuron 300 in fc0 (256 neurons), fc1 (256 neurons)" in md


def test_read_cache_reads_a_file_once_until_it_changes(tmp_path):
    """Issue 11.5: the endpoints that name a file on every call read it once while it is unchanged."""
    import os
    import shutil

    from mfpsn.app.events_view import ASSETS_DIR, read_recording
    from mfpsn.app.store import ReadCache, RecordingStore

    reads = ReadCache(RecordingStore())
    path = tmp_path / "rec.bin"
    shutil.copy(ASSETS_DIR / "nmnist_digit3.bin", path)
    first = read_recording(str(path), reads=reads)
    again = read_recording(str(path), reads=reads)
    assert again is first and reads.reads == 1
    assert read_recording(str(path), reads=reads, sensor="40 x 40") is not first and reads.reads == 2  # other options
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))                              # changed on disk
    assert read_recording(str(path), reads=reads) is not first and reads.reads == 3
    path.write_bytes(b"junk")
    with pytest.raises(gr.Error):
        read_recording(str(path), reads=reads)                                               # errors still raise
    with pytest.raises(gr.Error, match="gone.bin"):
        read_recording(str(tmp_path / "gone.bin"), reads=reads)                              # the reader's message
