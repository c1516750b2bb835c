"""The app holds nothing it was not asked for and tells clients clean messages (issue 10).

Unit tests of the recording store, the work budgets, the error boundary and the exposure warning; then one
in-process launch on loopback that receives crafted uploads through ``gradio_client`` (HDF5 external storage,
npz bomb, EVT 3.0 header declaring 4096 x 4096, oversized and hostile lab files, an over-budget race) and checks
each message and that the server still answers."""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import replace

import gradio as gr
import numpy as np
import pytest

from mfpsn.app import budget, lab, serve
from mfpsn.app.errors import clean_errors
from mfpsn.app.limits import LIMITS
from mfpsn.app.store import RecordingStore, events_nbytes
from mfpsn.events import Events, write_events

SECRET = b"root:x:0:0:TOPSECRET-PASSWD-LINE\n"


def _events(n, w=34, h=34):
    rng = np.random.default_rng(n)
    return Events(np.sort(rng.integers(0, 100_000, n)), rng.integers(0, w, n), rng.integers(0, h, n),
                  rng.integers(0, 2, n), w, h)


# --------------------------------------------------------------------------------------------- store
class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_store_is_bounded_by_count_bytes_and_time():
    clock = _Clock()
    one = events_nbytes(_events(1000))
    store = RecordingStore(max_items=3, max_bytes=int(3.5 * one), ttl_s=60, clock=clock)
    keys = [store.put(_events(1000)) for _ in range(3)]
    assert all(isinstance(k, str) and len(k) == 22 for k in keys) and len(store) == 3
    assert store.get(keys[0]) is not None          # key 0 is now the most recently used
    k3 = store.put(_events(1000))                   # evicts the least recently used: key 1
    assert store.get(keys[1]) is None and store.get(keys[0]) is not None and len(store) == 3
    assert store.nbytes <= 3.5 * one
    assert store.put(_events(5000)) is None         # bigger than the whole store: not kept
    clock.now = 61
    assert store.get(k3) is None and len(store) == 0 and store.nbytes == 0
    k = store.put(_events(10))
    store.discard(k)
    assert store.get(k) is None and store.get(None) is None and store.get(123) is None


def test_session_state_holds_a_key_not_the_recording():
    import app

    state = next(b for b in app.demo.blocks.values() if isinstance(b, gr.State))
    assert state.time_to_live == LIMITS.session_ttl_s and state.delete_callback == app.STORE.discard
    out = app.EV.load(None, "nmnist_digit3.bin", 0, 10)
    key = out[4]
    assert isinstance(key, str) and len(key) == 22
    assert len(app.STORE.get(key)) > 1000
    fig = app.EV.show_frame(key, 10, 3)
    assert fig.layout.title.text.startswith("bin 3 of 10")
    assert "load it again" in app.EV.show_frame("no-such-key-000000000000", 10, 3).layout.annotations[0].text
    app.STORE.discard(key)


# --------------------------------------------------------------------------------------------- budgets
def test_race_budget_refuses_up_front_naming_the_limit():
    from mfpsn.app import race

    worst = budget.race_cost_s([4096] * 8, 1024, 16, race.contenders(serve.compute_device()), True, 20)
    assert worst > LIMITS.race_max_seconds * 100
    with pytest.raises(gr.Error, match=r"speed race: estimated [\d,.]+ s, over the per-request budget of 20"):
        race.speed_race(", ".join(["4096"] * 8), 1024, 16, 1, race.contenders(serve.compute_device()),
                        race.MODES[1], 20)
    assert budget.race_cost_s([16, 64, 256], 1024, 8, race.contenders(serve.compute_device()), False, 5) \
        < LIMITS.race_max_seconds  # the UI's defaults fit


def test_lab_budget_refuses_a_huge_psn():
    s = replace(lab.LabSettings(), T=4096, channels=16, extra="PSN")
    with pytest.raises(gr.Error, match="neuron lab: estimated .* elements, over the per-request budget"):
        lab.simulate(s)
    assert budget.lab_cost(4096, 16, 16, "none") < LIMITS.lab_max_work


def test_lab_uploads_are_size_checked_before_parsing(tmp_path):
    from mfpsn.app.inputs import load_sequence

    big = tmp_path / "big.csv"
    with open(big, "w") as f:
        f.write(("1," * 15 + "1\n") * 140_000)  # ~4.5 MB
    with pytest.raises(gr.Error, match="kB; a lab sequence may be at most 4,096 kB"):
        load_sequence(big)
    rows = tmp_path / "rows.csv"
    rows.write_text("1\n" * 5000)
    with pytest.raises(gr.Error, match="expected 1 to 4096 time steps"):
        load_sequence(rows)
    lying = tmp_path / "lying.npy"
    buf = io.BytesIO()
    np.save(buf, np.zeros(4, np.float32))
    lying.write_bytes(buf.getvalue().replace(b"(4,)", b"(4000000000,)"))
    with pytest.raises(gr.Error, match="cannot read as a NumPy .npy array"):
        load_sequence(lying)


# --------------------------------------------------------------------------------------------- errors, serve
def test_clean_errors_logs_details_and_tells_a_clean_message(caplog):
    def boom(x, progress=gr.Progress()):
        raise OverflowError("Python int too large to convert to C long: 8 TiB at 0xdeadbeef")

    wrapped = clean_errors(boom)
    import inspect
    assert list(inspect.signature(wrapped).parameters) == ["x", "progress"]
    with pytest.raises(gr.Error) as err:
        wrapped(1)
    assert "internal error" in str(err.value) and "TiB" not in str(err.value) and "Overflow" not in str(err.value)
    assert "8 TiB" in caplog.text and "OverflowError" in caplog.text
    with pytest.raises(gr.Error, match="T: expected"):
        clean_errors(lambda: (_ for _ in ()).throw(gr.Error("T: expected 1")))()


def test_exposure_warning_and_auth_flags(capsys):
    assert serve.exposure_warning("127.0.0.1", False, None) is None
    assert serve.exposure_warning("0.0.0.0", False, "u:p") is None
    text = serve.exposure_warning("0.0.0.0", False, None)
    assert "WITHOUT a password" in text and "/load_events" in text and "50 MB" in text and "--auth" in text
    assert "gradio.live" in serve.exposure_warning("127.0.0.1", True, None)
    assert serve.parse_auth("me:secret") == ("me", "secret")
    with pytest.raises(SystemExit):
        serve.parse_args(["--auth", "nocolon"])
    kw = serve.launch_kwargs()
    assert kw["show_error"] is False and kw["state_session_capacity"] == LIMITS.max_sessions


def test_main_warns_and_passes_auth(monkeypatch, capsys):
    calls = []

    class _Blocks:
        def queue(self, **kw):
            return self

        def launch(self, **kw):
            calls.append(kw)

    monkeypatch.setattr(serve, "warm_kernels", lambda: None)
    serve.main(_Blocks(), ["--host", "0.0.0.0"])
    assert "WITHOUT a password" in capsys.readouterr().err and calls[-1]["auth"] is None
    serve.main(_Blocks(), ["--host", "0.0.0.0", "--auth", "a:b"])
    assert "WITHOUT" not in capsys.readouterr().err and calls[-1]["auth"] == ("a", "b")
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


# --------------------------------------------------------------------------------------------- through the API
@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    from mfpsn.tools.loadtest import launch_app

    demo = launch_app()
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def _hostile_files(folder):
    import h5py

    secret = folder / "secret.txt"
    secret.write_bytes(SECRET * 4)
    ext = folder / "external.h5"
    with h5py.File(ext, "w") as f:
        t = f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))
        t[0] = np.array([0.1], np.float16)
        u[0] = np.array([1], np.uint16)
        f.create_dataset("labels", (1,), dtype="u2", external=[(str(secret), 0, 2)])
    bomb = folder / "bomb.npz"
    m = io.BytesIO()
    np.save(m, np.zeros(30_000_000, np.uint8))
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for k in "txyp":
            z.writestr(f"{k}.npy", m.getvalue())
    wide = folder / "wide.raw"
    write_events(wide, Events(np.array([0, 5, 9]), np.array([2000, 2001, 2040]), np.array([2000, 2040, 2047]),
                              np.array([1, 0, 1]), 4096, 4096), format="evt3")
    t0 = folder / "t0.raw"
    t0.write_bytes(b"% evt 3.0\n% t0 " + b"9" * 30 + b"\n% end\n" + bytes(8))
    return {"external": ext, "bomb": bomb, "wide": wide, "t0": t0}


def _app_error(call):
    with pytest.raises(Exception) as err:
        call()
    assert type(err.value).__name__ == "AppError", repr(err.value)
    return str(err.value)


def test_crafted_uploads_get_clean_messages_and_the_server_keeps_answering(client, tmp_path):
    from gradio_client import handle_file

    files = _hostile_files(tmp_path)
    msg = _app_error(lambda: client.predict(handle_file(str(files["external"])), None, 0, 10,
                                            api_name="/load_events"))
    assert "external storage" in msg and "TOPSECRET" not in msg and "root" not in msg
    msg = _app_error(lambda: client.predict(handle_file(str(files["bomb"])), None, 0, 10, api_name="/load_events"))
    assert "uncompressed bytes" in msg
    msg = _app_error(lambda: client.predict(handle_file(str(files["t0"])), None, 0, 10, api_name="/load_events"))
    assert "t0" in msg and "Overflow" not in msg
    # a 4096 x 4096 header: the frame view is pooled and the model input is cropped before counting
    out = client.predict(handle_file(str(files["wide"])), None, 0, 10, api_name="/load_events")
    assert "4096 × 4096" in out[0]
    out = client.predict(handle_file(str(files["wide"])), None, 0, "dvs_digits_mfpsn", None, 0, api_name="/run_model")
    assert "predicts" in out[-1] and "centre-cropped" in out[-1]
    msg = _app_error(lambda: client.predict(", ".join(str(512 * i) for i in range(1, 9)), 1024, 16, 1,
                                            ["MFPSN (shift_add)"],
                                            "forward + backward (training)", 20, api_name="/speed_race"))
    assert "over the per-request budget" in msg
    out = client.predict(None, "nmnist_digit3.bin", 0, 10, api_name="/load_events")  # still serving
    assert "nmnist" in out[0]
    assert len(out) == 5  # the session state (a key into the store) never leaves the server


@pytest.mark.slow
def test_oversized_upload_is_refused_before_it_is_stored(client, tmp_path):
    from gradio_client import handle_file

    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate((LIMITS.max_upload_mb + 1) * 1024 * 1024)
    with pytest.raises(Exception, match="(?i)exceeds|too large|maximum|file size"):
        client.predict(handle_file(str(big)), None, 0, 10, api_name="/load_events")
    out = client.predict(None, "nmnist_digit3.bin", 0, 10, api_name="/load_events")
    assert "nmnist" in out[0]
