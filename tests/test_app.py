"""Web app: callbacks against plain references, bad input → gr.Error, and the endpoints through gradio_client.

Direct calls test the maths and the limits; one in-process launch on a free loopback port tests the four public
endpoints (``neuron_lab``, ``load_events``, ``run_model``, ``speed_race``) and that the app keeps serving after
bad requests.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from mfpsn.app import events_view, inputs, lab, models_view, race, serve, zoo
from mfpsn.app.limits import Limits, check_float, check_int, check_upload
from mfpsn.events import read_events, write_npy
from mfpsn.events.frames import spike_train_to_bins

ASSETS = events_view.ASSETS_DIR


def lab_args(s: lab.LabSettings) -> list:
    return [getattr(s, f) for f in lab.LabSettings.__dataclass_fields__]


def fir_ref(x: np.ndarray, taps: np.ndarray, lags: list[int]) -> np.ndarray:
    """h[t, c] = Σ_i taps[i] · x[t − lags[i], c] (zero before 0), float64 loops."""
    T, C = x.shape
    h = np.zeros((T, C))
    for t in range(T):
        for w, lag in zip(taps, lags):
            if t - lag >= 0:
                h[t] += float(w) * x[t - lag].astype(np.float64)
    return h


def lif_ref(x: np.ndarray, tau: float, v_th: float, soft: bool) -> tuple[np.ndarray, np.ndarray]:
    """Serial LIF (decay_input, V_reset = 0): charge H, fire H >= v_th, soft or hard reset."""
    v = np.zeros(x.shape[1])
    hs, ss = [], []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) / tau
        s = (h >= v_th).astype(float)
        v = h - v_th * s if soft else h * (1 - s)
        hs.append(h)
        ss.append(s)
    return np.array(hs), np.array(ss)


# ----------------------------------------------------------------------------------------------- limits
def test_checks_name_the_setting_and_the_range():
    assert check_int("T", 5.0, 1, 8) == 5
    with pytest.raises(gr.Error, match=r"T: expected an integer in \[1, 8\], found 9"):
        check_int("T", 9, 1, 8)
    with pytest.raises(gr.Error, match="found 2.5"):
        check_int("T", 2.5, 1, 8)
    with pytest.raises(gr.Error, match="threshold"):
        check_float("threshold", float("nan"), 0, 1)
    with pytest.raises(gr.Error, match="expected an uploaded file"):
        check_upload("upload", "/no/such/file")


def test_upload_size_limit(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (1024 * 1024 + 5))
    with pytest.raises(gr.Error, match=r"1.0 MB, the limit is 1 MB"):
        check_upload("upload", str(big), Limits(max_upload_mb=1))


# ----------------------------------------------------------------------------------------------- inputs
def test_generated_inputs():
    x = inputs.generate_input("step", 40, 2, amplitude=2.0)
    assert x.shape == (40, 2) and x.dtype == np.float32
    assert np.all(x[:5] == 0) and np.all(x[5:] == 2.0)
    x = inputs.generate_input("pulse train", 20, 3, period=7)
    for c in range(3):
        assert list(np.flatnonzero(x[:, c])) == [t for t in range(c, 20, 7)]
    p1 = inputs.generate_input("Poisson spikes", 500, 2, amplitude=1.5, rate=0.3, seed=3)
    assert set(np.unique(p1)) <= {0.0, 1.5} and 0.2 < (p1 > 0).mean() < 0.4
    assert np.array_equal(p1, inputs.generate_input("Poisson spikes", 500, 2, amplitude=1.5, rate=0.3, seed=3))
    s = inputs.generate_input("sine", 64, 1, amplitude=2.0, period=16)
    assert s.min() >= 0 and s.max() <= 2.0 and abs(s[4, 0] - 2.0) < 1e-6
    with pytest.raises(ValueError, match="kind must be one of"):
        inputs.generate_input("square", 10)


def test_load_sequence_csv_and_npy(tmp_path):
    csv = tmp_path / "seq.csv"
    csv.write_text("a,b\n1,2\n3,4\n5,6\n")
    assert np.array_equal(inputs.load_sequence(csv), np.array([[1, 2], [3, 4], [5, 6]], np.float32))
    npy = tmp_path / "seq.npy"
    np.save(npy, np.arange(7, dtype=np.int16))
    assert inputs.load_sequence(npy).shape == (7, 1)


@pytest.mark.parametrize("name, content, match", [
    ("x.txt2", None, "expected a .csv or .npy file"),
    ("ragged.csv", "1,2\n3\n", "same number of columns"),
    ("words.csv", "1,2\nfoo,bar\n", "line 2 is not a comma-separated list"),
    ("nan.csv", "1\nnan\n", "finite numbers"),
    ("cube.npy", np.zeros((2, 2, 2)), r"shape \[T\] or \[T, C\]"),
    ("wide.npy", np.zeros((4, 17)), "1 to 16 channels"),
    ("text.npy", np.array(["a", "b"]), "numeric array"),
])
def test_load_sequence_rejects_bad_files(tmp_path, name, content, match):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content or "1\n")
    with pytest.raises(gr.Error, match=match) as err:
        inputs.load_sequence(path)
    assert name in str(err.value)


# ----------------------------------------------------------------------------------------------- neuron lab
def test_lab_mfpsn_matches_a_plain_filter_and_threshold():
    s = replace(lab.LabSettings(), signal="Poisson spikes", T=61, channels=3, amplitude=1.5, rate=0.4, order=3,
                dilation=2, signs="+ - +", exponents="-1 -3 0", threshold=1.2)
    r = lab.simulate(s)
    assert r.lags == [4, 2, 0]
    assert np.array_equal(r.taps, np.array([0.5, -0.125, 1.0], np.float32))
    h, spikes, th = r.traces["MFPSN"]
    ref = fir_ref(r.x, r.taps, r.lags)
    assert np.allclose(h, ref, atol=1e-6)
    assert th == pytest.approx(1.2)
    assert np.array_equal(spikes, (h >= th).astype(spikes.dtype))
    assert spikes.sum() > 0
    # the surrogate curve is σ'(H − θ) of the chosen surrogate
    alpha = s.alpha
    expect = (alpha / 2) / (1 + (math.pi / 2 * alpha * (h - th)) ** 2)
    assert np.allclose(r.surrogate_grad, expect, rtol=1e-5)


def test_lab_lif_matches_a_serial_reference():
    for reset in ("soft", "hard"):
        s = replace(lab.LabSettings(), signal="noise", T=50, channels=2, amplitude=2.0, lif_tau=3.0, lif_v_th=0.8,
                    lif_reset=reset)
        r = lab.simulate(s)
        h_ref, s_ref = lif_ref(r.x.astype(np.float64), 3.0, 0.8, reset == "soft")
        h, spikes, th = r.traces["LIF"]
        assert np.allclose(h, h_ref, atol=1e-5) and np.array_equal(spikes, s_ref) and th == pytest.approx(0.8)


def test_lab_float_weights_are_quantized_only_when_asked():
    base = replace(lab.LabSettings(), taps_from="float weights", float_weights="0.3, -0.7, 1.1", order=3)
    q = lab.simulate(base)
    assert np.array_equal(q.taps, np.array([0.25, -0.5, 1.0], np.float32))
    assert np.allclose(q.float_taps, [0.3, -0.7, 1.1])
    f = lab.simulate(replace(base, quantize=False))
    assert np.allclose(f.taps, [0.3, -0.7, 1.1])
    assert np.allclose(f.traces["MFPSN"][0], fir_ref(f.x, f.taps, f.lags), atol=1e-5)


def test_lab_lif_kernel_taps_and_the_third_neurons():
    s = replace(lab.LabSettings(), taps_from="LIF kernel", order=4, dilation=1, lif_tau=2.0, quantize=False,
                extra="SlidingPSN", threshold=0.4, T=40, signal="Poisson spikes", amplitude=1.0, rate=0.5)
    r = lab.simulate(s)
    assert np.allclose(r.taps, [0.5 * 0.5 ** 3, 0.5 * 0.5 ** 2, 0.25, 0.5])
    h, sp, th = r.traces["SlidingPSN"]
    assert np.allclose(h, fir_ref(r.x, r.float_taps, [3, 2, 1, 0]), atol=1e-6) and th == pytest.approx(0.4)
    # PSN with the lower-triangular LIF kernel = LIF without reset (Eq. 4): compare below the LIF threshold
    s2 = replace(s, extra="PSN", lif_v_th=1e6)
    r2 = lab.simulate(s2)
    assert np.allclose(r2.traces["PSN"][0], r2.traces["LIF"][0], atol=1e-5)


def test_lab_sawtooth_receptive_field():
    s = replace(lab.LabSettings(), order=2, dilation_mode="sawtooth layer", layer=3, signs="+ +", exponents="0 0")
    r = lab.simulate(s)
    assert r.dilations == [1, 2, 3] and r.lags == [3, 0]
    assert r.reach == [[0, 1], [0, 1, 2, 3], list(range(7))]


def test_lab_tap_lists_are_fitted_with_a_note():
    notes: list[str] = []
    assert lab.parse_signs("+ -", 4, notes) == [0, 0, 1, -1] and "oldest tap(s)" in notes[0]
    assert lab.parse_numbers("1 2 3", 2, "tap exponents", notes, integer=True) == [2, 3] and "dropped" in notes[1]
    with pytest.raises(gr.Error, match="tap signs: expected"):
        lab.parse_signs("+ x", 2, [])
    with pytest.raises(gr.Error, match="tap exponents: expected an integer"):
        lab.parse_numbers("1.5", 1, "tap exponents", [], integer=True)
    assert lab.fit_tap_texts(4, "+ -", "-1 0", "0.5, 1") == ("+ + + -", "-3 -2 -1 0", "0.125, 0.25, 0.5, 1")
    assert lab.fit_tap_texts(1, "+ -", "-1 0", "0.5, 1") == ("-", "0", "1")


def test_neuron_lab_endpoint_function_outputs_and_costs():
    import plotly.graph_objects as go

    s = replace(lab.LabSettings(), T=100, channels=2, order=3, dilation=2)
    out = lab.neuron_lab(*lab_args(s))
    assert len(out) == 7 and all(isinstance(f, go.Figure) for f in out[:6]) and isinstance(out[6], str)
    for fig in out[:6]:
        json.loads(fig.to_json())
    ops = out[5]
    mf_shift = ops.data[1].y[0]                           # SHIFT bars, MFPSN first
    assert mf_shift == pytest.approx(2 * 3 * (100 - 1))  # C · k(T − (k−1)/2), the published count
    assert "MFPSN taps" in out[6] and "pJ" in out[6]
    with pytest.warns(UserWarning, match="the 2 oldest tap"):     # gr.Warning outside a request
        short = lab.neuron_lab(*lab_args(replace(lab.LabSettings(), T=3, order=5, dilation=1)))
    assert short[5].data[1].y[0] == 1 + 2 + 3                  # k > T: taps inside the sequence, exact
    assert "exact counts: k > T" in short[6]


@pytest.mark.parametrize("change, match", [
    (dict(T=0), "T \\(time steps\\)"), (dict(surrogate="tanh"), "surrogate"), (dict(exponents="0 0 99"),
                                                                                 "tap exponents"),
    (dict(lif_tau=1.0), "LIF τ"), (dict(order=99), "order k"), (dict(signal="square"), "signal"),
])
def test_neuron_lab_rejects_bad_settings(change, match):
    with pytest.raises(gr.Error, match=match):
        lab.neuron_lab(*lab_args(replace(lab.LabSettings(), **change)))


def test_neuron_lab_takes_an_uploaded_sequence(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.linspace(0, 3, 30).astype(np.float32).reshape(15, 2))
    r = lab.simulate(replace(lab.LabSettings(), upload=str(path)))
    assert r.x.shape == (15, 2) and r.traces["MFPSN"][0].shape == (15, 2)


# ----------------------------------------------------------------------------------------------- event explorer
def test_bundled_samples_load_and_summaries_count_the_events():
    samples = events_view.bundled_samples()
    assert samples, "assets/ should hold sample recordings"
    for name in samples:
        summary, frame, cloud, rate, events, slider = events_view.load_events(None, name, 0, 10)
        ref = read_events(ASSETS / name)
        assert len(events) == len(ref)
        assert f"{len(ref):,}" in summary
        assert (slider["minimum"], slider["maximum"]) == (1, 10)   # 1-based, as the frame titles
        on = np.asarray(rate.data[0].y)
        total = on.sum() + (np.asarray(rate.data[1].y).sum() if len(rate.data) > 1 else 0)
        span_ms = (events.duration_us + 1) / 1000
        assert total * span_ms / 200 == pytest.approx(len(events), rel=1e-6)


def test_frame_counts_equal_the_events_of_the_bin():
    name = "nmnist_digit3.bin"
    events = events_view.read_recording(str(ASSETS / name))
    fig = events_view.frame_at(events, 10, 3)
    z = np.asarray(fig.data[0].z)
    t0, t1 = int(events.t[0]), int(events.t[-1]) + 1
    lo, hi = t0 + (t1 - t0) * 3 // 10, t0 + (t1 - t0) * 4 // 10
    m = (events.t >= lo) & (events.t < hi)
    ref = np.zeros((events.height, events.width))
    np.add.at(ref, (events.y[m], events.x[m]), np.where(events.p[m] == 1, 1, -1))
    assert np.array_equal(z, ref)


def test_rebinning_updates_the_frame_slider():
    events = events_view.read_recording(str(ASSETS / "nmnist_digit3.bin"))
    fig, slider = events_view.rebin(events, 50)
    assert (slider["minimum"], slider["maximum"], slider["value"]) == (1, 50, 1)     # 1-based, as the titles
    assert fig.layout.title.text.startswith("bin 1 of 50")
    assert events_view.show_frame(events, 50, 50).layout.title.text.startswith("bin 50 of 50")
    assert events_view.show_frame(None, 10, 0).layout.annotations[0].text == "load a recording first"
    with pytest.raises(gr.Error, match="time bins"):
        events_view.rebin(events, 0)


def test_large_sensors_are_pooled_and_clouds_subsampled():
    from mfpsn.tools.app_bench import synthetic_recording

    ev = synthetic_recording(50_000, 640, 480)
    fig = events_view.frame_at(ev, 5, 0, Limits(frame_max_side=128))
    assert np.asarray(fig.data[0].z).shape == (96, 128)
    sub = events_view.subsample(ev, 1000)
    assert len(sub) == 1000 and np.all(np.diff(sub.t) >= 0)


def test_shd_sample_index_and_spike_train_views():
    name = "spoken_digits_sample.h5"
    summary, frame, cloud, rate, events, _ = events_view.load_events(None, name, 2, 10)
    ref = read_events(ASSETS / name, index=2)
    assert np.array_equal(events.t, ref.t) and "2 of 6" in summary
    assert f"| key | {ref.meta['key']} |" in summary
    labels = [int(read_events(ASSETS / name, index=i).meta["label"]) for i in range(6)]
    assert "| labels in the file | " + ", ".join(f"{i}: {v}" for i, v in enumerate(labels)) + " |" in summary
    assert "spike raster" in cloud.layout.title.text
    with pytest.raises(gr.Error, match="out of range"):
        events_view.load_events(None, name, 99, 10)


def test_bad_uploads_raise_gr_error(tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(gr.Error, match="empty"):
        events_view.load_events(str(empty), None, 0, 10)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x01\x02\x03")
    with pytest.raises(gr.Error, match="junk.bin.*multiple of 5"):
        events_view.load_events(str(junk), None, 0, 10)
    odd = tmp_path / "thing.xyz"
    odd.write_bytes(b"hello world")
    with pytest.raises(gr.Error, match="unknown format"):
        events_view.load_events(str(odd), None, 0, 10)
    with pytest.raises(gr.Error, match="No recording"):
        events_view.load_events(None, None, 0, 10)
    with pytest.raises(gr.Error, match="bundled files"):
        events_view.load_events(None, "../README.md", 0, 10)
    with pytest.raises(gr.Error, match="time bins"):
        events_view.load_events(None, "nmnist_digit3.bin", 0, 0)


def test_event_count_limit(tmp_path):
    from mfpsn.tools.app_bench import synthetic_recording

    path = tmp_path / "many.npy"
    write_npy(path, synthetic_recording(5_000, 64, 48))
    with pytest.raises(gr.Error, match="exceed the limit max_events=1000"):
        events_view.load_events(str(path), None, 0, 10, limits=Limits(max_events=1000))


# ----------------------------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """Untrained tiny DVS and SHD networks (MFPSN and LIF) saved as checkpoints in a temporary folder."""
    from mfpsn.checkpoints import save
    from mfpsn.models import build_model

    d = tmp_path_factory.mktemp("ckpt")
    cam = {"layout": "[T, B, 2, 34, 34]", "shape": [6, 2, 34, 34], "T": 6, "sensor_size": [34, 34],
           "binning": {"method": "events_to_frames n_bins", "n_bins": 6, "time_range_us": [0, 300_001]}}
    shd = {"layout": "[T, B, 140]", "shape": [30, 140], "T": 30, "sensor_size": [700, 1],
           "binning": {"method": "spike_train_to_bins", "n_bins": 30, "bin_us": 10_000, "pool": 5, "t_start_us": 0}}
    for neuron in ("mfpsn", "lif"):
        torch.manual_seed(1)
        m = build_model({"arch": "dvs_convnet", "num_classes": 10, "T": 6, "channels": [4, 4], "neuron": neuron})
        save(m, d, f"cam_{neuron}", task="dvs-digits", classes=[str(i) for i in range(10)], input_spec=cam,
             training={}, seed=1, test_accuracy=0.1, test_samples=1, fixed_subset={"limit": 1, "accuracy": 0.1})
        m = build_model({"arch": "shd_net", "T": 30, "hidden": 16, "neuron": neuron})
        save(m, d, f"shd_{neuron}", task="spoken-digits", classes=[f"w{i}" for i in range(20)], input_spec=shd,
             training={}, seed=1, test_accuracy=0.1, test_samples=1, fixed_subset={"limit": 1, "accuracy": 0.1})
    return d


def test_run_model_camera_side_by_side(tiny_checkpoints):
    from mfpsn.checkpoints import load

    figs_md = models_view.run_model(None, "nmnist_digit3.bin", 0, "cam_mfpsn", "cam_lif", 5,
                                    directory=tiny_checkpoints)
    probs, rates, raster, membranes, evidence, model_input, md = figs_md
    assert [t.name for t in probs.data] == ["cam_mfpsn", "cam_lif"]
    assert sum(probs.data[0].y) == pytest.approx(1.0, abs=1e-5)
    # per-layer firing rates equal the recorded spikes of a direct run
    events = read_events(ASSETS / "nmnist_digit3.bin")
    ck = load(tiny_checkpoints / "cam_mfpsn.json")
    x = models_view.model_input(events, ck.card, [])
    with torch.no_grad():
        logits, traces = ck.model(x, record=True)
    assert np.allclose(probs.data[0].y, torch.softmax(logits[0], 0).numpy(), atol=1e-6)
    rate0 = traces["conv0"].spikes[:, 0].reshape(6, -1).mean(1).numpy()
    assert np.allclose(rates.data[0].y, rate0)
    assert "cam_mfpsn" in md and "predicts" in md
    # spikes and energy per inference, from the same pass, equal a separate count (issue 13)
    from mfpsn.models import count_network

    spikes = int(sum(float(t.spikes.sum()) for t in traces.values()))
    energy = count_network(ck.model, x).energy_pj / 1e6
    assert f"{spikes:,} spikes and about {energy:.3g} µJ per inference" in md
    assert len(evidence.data) > 0                     # camera models give per-step evidence too


def test_run_model_spike_train_evidence_and_binning(tiny_checkpoints):
    out = models_view.run_model(None, "spoken_digits_sample.h5", 1, "shd_mfpsn", "shd_lif", 3,
                                directory=tiny_checkpoints)
    evidence = out[4]
    assert len(evidence.data) == 8  # top 4 classes per model
    ev = read_events(ASSETS / "spoken_digits_sample.h5", index=1)
    card = json.loads((tiny_checkpoints / "shd_mfpsn.json").read_text())
    x = models_view.model_input(ev, card, [])
    assert torch.equal(x[:, 0], torch.from_numpy(spike_train_to_bins(ev, n_bins=30, bin_us=10_000, pool=5)))
    assert np.array_equal(np.asarray(out[5].data[0].z), x[:, 0].numpy().T)   # the tensor shown is the one fed
    assert "True class" in out[6]


def test_run_model_errors(tiny_checkpoints):
    with pytest.raises(gr.Error, match="takes camera recordings"):
        models_view.run_model(None, "spoken_digits_sample.h5", 0, "cam_mfpsn", None, 0,
                              directory=tiny_checkpoints)
    with pytest.raises(gr.Error, match="pick at least one model"):
        models_view.run_model(None, "nmnist_digit3.bin", 0, None, None, 0, directory=tiny_checkpoints)
    with pytest.raises(gr.Error, match="no model card found"):
        models_view.run_model(None, "nmnist_digit3.bin", 0, "nope", None, 0, directory=tiny_checkpoints)


def test_sensor_fitting_crops_the_centre():
    frames = np.arange(2 * 2 * 6 * 8, dtype=np.float32).reshape(2, 2, 6, 8)
    notes: list[str] = []
    from mfpsn.card_inputs import fit_sensor

    out = fit_sensor(frames, (2, 4), notes)
    assert np.array_equal(out, frames[:, :, 2:4, 2:6]) and "cropped" in notes[0]
    pad = fit_sensor(frames, (8, 10), [])
    assert np.array_equal(pad[:, :, 1:7, 1:9], frames) and pad.sum() == frames.sum()


def test_real_data_models_are_suggested_first_for_a_camera_recording():
    names, left, right = models_view.compatible_checkpoints(read_events(ASSETS / "nmnist_digit3.bin"))
    assert (left, right) == ("nmnist_sim_mfpsn", "nmnist_sim_lif")
    assert names.index("nmnist_sim_lif") < names.index("dvs_digits_mfpsn")


def test_suggested_checkpoints_fit_the_recording(tiny_checkpoints):
    ev = read_events(ASSETS / "spoken_digits_sample.h5")
    names, left, right = models_view.compatible_checkpoints(ev, directory=tiny_checkpoints)
    assert names == ["shd_lif", "shd_mfpsn"] and (left, right) == ("shd_mfpsn", "shd_lif")


# ----------------------------------------------------------------------------------------------- race, zoo, serve
def test_race_parses_and_times():
    assert race.parse_T_list("64, 16 16;32") == [16, 32, 64]
    for bad, match in (("", "at least one"), ("a, 2", "integers"), ("0", r"\[1, 4096\]")):
        with pytest.raises(gr.Error, match=match):
            race.parse_T_list(bad)
    names = ["MFPSN (shift_add)", "MFPSN (conv1d)", race.LIF_LOOP]
    times = race.race([8, 20], 70, 3, 2, names, race.MODES[1], 3, torch.device("cpu"))
    assert set(times) == set(names) and all(len(v) == 2 for v in times.values())
    assert all(0 < t.low <= t.q1 <= t.median <= t.q3 <= t.high and t.repeats == 3 for v in times.values() for t in v)
    from mfpsn.backends import BACKENDS

    big = 2048                                                   # C·T² = 64 · 2048² is over the record's bound
    assert 64 * big * big > BACKENDS["toeplitz"].memory_bound
    assert race.race([big], 64, 2, 1, ["MFPSN (toeplitz)"], race.MODES[0], 1,
                     torch.device("cpu"))["MFPSN (toeplitz)"] == [None]   # the record refuses it: not run
    with pytest.raises(gr.Error, match="T·N"):
        race.speed_race("4096", 4096, 2, 1, names, race.MODES[0], 1)
    with pytest.raises(gr.Error, match="contender"):
        race.speed_race("8", 8, 2, 1, ["MFPSN (nope)"], race.MODES[0], 1)


def test_race_contenders_on_cpu():
    names = race.contenders(torch.device("cpu"))
    assert race.LIF_LOOP in names and "MFPSN (auto)" in names
    assert race.LIF_FUSED not in names and "MFPSN (triton)" not in names and "MFPSN (reference)" not in names
    from mfpsn.bench.subjects import PEER_NAMES

    default = race.default_contenders(torch.device("cpu"))
    assert not set(default) & set(PEER_NAMES) and set(default) <= set(names)


@pytest.mark.parametrize("peer,package", [("SpikingJelly LIFNode", "spikingjelly"), ("snnTorch Leaky", "snntorch"),
                                          ("norse LIF", "norse")])
def test_race_peer_contenders_when_installed(peer, package):
    """An installed peer LIF is offered (not ticked by default) and raced in both modes like the others."""
    pytest.importorskip(package)
    assert peer in race.contenders(torch.device("cpu"))
    for mode in race.MODES:
        times = race.race([8], 64, 2, 1, [peer, race.LIF_LOOP], mode, 2, torch.device("cpu"))
        assert times[peer][0] is not None and times[peer][0].median > 0


def test_recorded_results(tmp_path):
    assert "none recorded" in race.recorded_markdown(race.load_recorded(tmp_path))
    (tmp_path / "gpu").mkdir()
    rows = [{"impl": "triton", "device": "cuda", "T": t, "N": 1024, "k": 8, "d": 2, "fwd_ms": 0.1 * t, "fwdbwd_ms": 1}
            for t in (16, 64)]
    (tmp_path / "gpu" / "h100.json").write_text(json.dumps({"machine": {"gpu": "NVIDIA H100", "cpu": "x",
                                                                        "date_utc": "2026-11-27"}, "rows": rows}))
    (tmp_path / "gpu" / "junk.json").write_text("{not json")
    recs = race.load_recorded(tmp_path)
    assert len(recs) == 1 and recs[0]["machine"] == "NVIDIA H100" and recs[0]["date"] == "2026-11-27"
    md, fig = race.recorded_view(tmp_path)
    assert "NVIDIA H100, 2026-11-27" in md and list(fig.data[0].y) == [1.6, 6.4]
    assert list(fig.layout.xaxis.ticktext) == ["16", "64"] and fig.layout.yaxis.dtick == 1  # ticks: the T raced
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "bench.json").write_text(json.dumps({"card": "old style", "date": "2026-01-01", "rows": rows}))
    (tmp_path / "cpu" / "cpu.json").write_text(json.dumps({"machine": {"cpu": "AMD EPYC", "cpu_count": 2, "gpu": None,
                                                                       "date_utc": "2026-11-27T05:00"}, "rows": rows}))
    labels = {r["machine"]: r["date"] for r in race.load_recorded(tmp_path)}
    assert labels == {"NVIDIA H100": "2026-11-27", "old style": "2026-01-01", "AMD EPYC, 2 cores": "2026-11-27T05:00"}


def test_zoo(tiny_checkpoints, tmp_path):
    assert "No checkpoints" in zoo.zoo_table(tmp_path)
    table = zoo.zoo_table(tiny_checkpoints)
    assert "`cam_mfpsn` | dvs-digits | mfpsn | 10.00 %" in table
    card = zoo.card_markdown("shd_lif", directory=tiny_checkpoints)
    assert "shd_net" in card and "sha256" in card
    assert "```" not in card and "{" not in card              # tables, not raw JSON (issue 13.5)
    assert "| arch | shd_net |" in card and "| input › binning › pool | 5 |" in card
    assert "has not been written" in zoo.results_markdown(tmp_path)


def test_zoo_model_confusion_taps_and_curves(tiny_checkpoints):
    """Issue 13: per-class results from the sidecar, learned tap exponents per MFPSN layer, training curves."""
    from mfpsn.checkpoint_eval import eval_path, write_eval
    from mfpsn.checkpoints import load

    md, confusion, taps, curves = zoo.zoo_model("cam_mfpsn", directory=tiny_checkpoints)
    assert "cam_mfpsn" in md and "--write-eval" in confusion.layout.annotations[0].text   # none stored yet
    counts = torch.zeros(10, 10, dtype=torch.int64)
    counts[3, 3], counts[3, 5], counts[7, 7] = 6, 2, 4
    write_eval(tiny_checkpoints / "cam_mfpsn.json", counts)
    try:
        _, confusion, taps, _ = zoo.zoo_model("cam_mfpsn", directory=tiny_checkpoints)
        heat = confusion.data[0]
        assert heat.type == "heatmap" and heat.z[3][3] == 75.0 and heat.z[3][5] == 25.0 and heat.z[7][7] == 100.0
        assert heat.customdata[3][5] == 2 and "83.33 % of 12 samples" in confusion.layout.title.text
        model = load(tiny_checkpoints / "cam_mfpsn.json").model
        layers = [m for m in model.modules() if type(m).__name__ == "MFPSN"]
        assert len(taps.data) == len(layers)                         # one histogram per MFPSN layer
        for bar, layer in zip(taps.data, layers):                    # every eval tap counted once
            assert sum(bar.y) == layer.folded()[0].numel()
        eval_path(tiny_checkpoints / "cam_mfpsn.json").write_text("{broken")
        assert "refused" in zoo.zoo_model("cam_mfpsn", directory=tiny_checkpoints)[1].layout.annotations[0].text
    finally:
        eval_path(tiny_checkpoints / "cam_mfpsn.json").unlink()
    _, _, taps, curves = zoo.zoo_model("shd_lif", directory=tiny_checkpoints)
    assert "no shift exponents" in taps.layout.annotations[0].text
    assert "no per-epoch history" in curves.layout.title.text
    from mfpsn.app.figures_zoo import curves_figure

    fig = curves_figure({"name": "x", "history": [{"epoch": 1, "train_loss": 2.0, "train_accuracy": 0.2,
                                                    "test_accuracy": 0.25, "test_samples": 10},
                                                   {"epoch": 2, "train_loss": 1.0, "train_accuracy": 0.5,
                                                    "test_accuracy": 0.5, "test_samples": 40}]})
    assert [list(t.y) for t in fig.data] == [[20.0, 50.0], [25.0, 50.0], [2.0, 1.0]]


def test_zoo_scatter_groups_runs_by_configuration(tmp_path):
    rows = [{"task": "psmnist", "protocol": "budget", "group": "seq-main", "label": "mfpsn_k8", "neuron": "mfpsn",
             "seed": s, "test_accuracy": a, "n_parameters": 100, "energy_nj_per_sample": 10.0}
            for s, a in ((0, 0.2), (1, 0.3))]
    rows += [{"task": "psmnist", "protocol": "budget", "group": "seq-main", "label": "lif", "neuron": "lif", "seed": 0,
              "test_accuracy": 0.1, "n_parameters": 90}, {"task": "smnist", "test_accuracy": 0.5, "n_parameters": 1},
             {"task": "psmnist", "group": "integer", "float_accuracy": 0.2}]                # no accuracy: left out
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert zoo.zoo_tasks(tmp_path) == ["psmnist", "smnist"]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [{"task": "random", "n_parameters": 1}, *rows]))
    assert zoo.zoo_tasks(tmp_path) == ["psmnist", "smnist", "random"]          # the real-data tasks first
    fig = zoo.zoo_scatter("psmnist", directory=tmp_path)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"MFPSN", "LIF"}
    assert list(by_name["MFPSN"].y) == [pytest.approx(25.0)] and list(by_name["MFPSN"].x) == [100]
    assert by_name["MFPSN"].error_y.array[0] == pytest.approx(7.0710678)            # std over the two seeds
    assert by_name["LIF"].customdata[0][5] == "not recorded"                        # energy missing: said
    assert "no result rows" in zoo.zoo_scatter("nope", directory=tmp_path).layout.title.text


def test_app_structure_queue_and_limits():
    import app

    demo = serve.configure_queue(app.demo)
    # uploads and cached files are swept every minute and removed after five minutes (issue 10: was (600, 3600))
    assert demo.delete_cache == (60, 300)
    assert demo._queue.default_concurrency_limit == 2 and demo._queue.max_size == 64
    by_name = {fn.api_name: fn for fn in demo.fns.values()}
    assert by_name["speed_race"].concurrency_limit == 1      # timings must not share the CPU with each other
    public = sorted(n for n, fn in by_name.items() if fn.api_visibility == "public")
    assert public == ["classify_audio", "classify_drawing", "event_neurons", "load_events", "neuron_lab", "run_model",
                      "speed_race"]


def test_serve_flags_and_offline_theme():
    args = serve.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    args = serve.parse_args(["--host", "0.0.0.0", "--port", "8000", "--share"])
    assert (args.host, args.port, args.share) == ("0.0.0.0", 8000, True)
    theme = serve.theme()
    fonts = list(theme._font) + list(theme._font_mono)
    assert not any(isinstance(f, gr.themes.GoogleFont) for f in fonts)
    assert serve.launch_kwargs()["max_file_size"] == "50mb"


# ----------------------------------------------------------------------------------------------- endpoints
@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    from mfpsn.tools.loadtest import launch_app

    demo = launch_app()
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def test_api_lists_the_seven_endpoints(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/neuron_lab", "/load_events", "/run_model", "/classify_drawing",
                                           "/classify_audio", "/event_neurons", "/speed_race"}


def test_every_endpoint_names_its_outputs_and_needs_no_explicit_none(client):
    """Issue 13.5: outputs were listed as value_39, and /neuron_lab failed without upload=None."""
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, ep in api.items():
        assert not [r["label"] for r in ep["returns"] if r["label"].startswith("value_")], name
        assert [p["parameter_name"] for p in ep["parameters"] if not p["parameter_has_default"]] == [], name
    out = client.predict(T=32, api_name="/neuron_lab")            # nothing else named: the lab's defaults
    assert "T = 32" in out[6]
    *_, summary = client.predict(None, "nmnist_digit3.bin", left="dvs_digits_mfpsn", right="dvs_digits_lif",
                                 api_name="/run_model")            # the README's call
    assert summary.startswith("Results for **nmnist_digit3.bin**") and "dvs_digits_lif" in summary


def test_endpoint_classify_drawing_png(client, tmp_path):
    """The README's call: an MNIST test digit as PNG through the shipped sMNIST models; a clean error without one."""
    from gradio_client import handle_file
    from PIL import Image

    from mfpsn.data.mnist import load_mnist_split
    from mfpsn.predict import predict_files

    images, _ = load_mnist_split(Path(__file__).resolve().parent.parent / "assets" / "mnist_subset", "test")
    png = tmp_path / "digit.png"
    Image.fromarray(images[0]).save(png)
    summary, seq, prob, dyn = client.predict(None, handle_file(str(png)), "smnist_mfpsn", "smnist_lif", 0,
                                             api_name="/classify_drawing")
    expected = predict_files("smnist_mfpsn", [str(png)])[0]
    assert f"| smnist_mfpsn | mfpsn | **{expected['class']}** |" in summary and "smnist_lif" in summary
    assert json.loads(prob["plot"])["data"] and json.loads(dyn["plot"])["data"]
    with pytest.raises(Exception, match="draw a digit"):
        client.predict(None, None, "smnist_mfpsn", "smnist_lif", 0, api_name="/classify_drawing")


def test_endpoint_classify_audio(client):
    """The README's call: a real FSDD recording through the shipped FSDD models, as an upload and as a sample."""
    from gradio_client import handle_file

    from mfpsn.predict import predict_files

    path = Path(__file__).resolve().parent.parent / "assets" / "fsdd_subset" / "3_jackson_0.wav"
    summary, waveform, prob = client.predict(handle_file(str(path)), None, "fsdd_mfpsn", "fsdd_lif",
                                             api_name="/classify_audio")
    expected = predict_files("fsdd_mfpsn", [str(path)])[0]
    assert f"| fsdd_mfpsn | mfpsn | **{expected['class']}** |" in summary and "fsdd_lif" in summary
    assert json.loads(waveform["plot"])["data"] and len(json.loads(prob["plot"])["data"]) == 4
    sample, *_ = client.predict(None, "3_jackson_0.wav", "fsdd_mfpsn", None, api_name="/classify_audio")
    assert f"**{expected['class']}**" in sample
    with pytest.raises(Exception, match="record or upload"):
        client.predict(None, None, "fsdd_mfpsn", None, api_name="/classify_audio")


def test_endpoint_classify_audio_unseen_speaker(client):
    """Issue 13 must-show: /classify_audio on recordings of a speaker the model never heard. The shipped
    fsdd_mfpsn_unseen_yweweler was trained on the other four FSDD speakers (its card's split); every bundled
    recording of yweweler is classified correctly."""
    from gradio_client import handle_file

    from mfpsn.checkpoints import load

    card = load("fsdd_mfpsn_unseen_yweweler").card
    assert card["input"]["test_speakers"] == ["yweweler"] and "yweweler" not in card["input"]["train_speakers"]
    folder = Path(__file__).resolve().parent.parent / "assets" / "fsdd_subset"
    paths = sorted(folder.glob("*_yweweler_*.wav"))
    assert len(paths) >= 5
    for path in paths:
        summary, *_ = client.predict(handle_file(str(path)), None, "fsdd_mfpsn_unseen_yweweler", None,
                                     api_name="/classify_audio")
        assert f"| fsdd_mfpsn_unseen_yweweler | mfpsn | **{path.name[0]}** |" in summary, path.name


def test_endpoint_event_neurons(client):
    """Both layers on a bundled camera recording through the client, and a clean error for a spike train."""
    summary, player, membrane = client.predict(None, "nmnist_digit3.bin", 32, -1, -1, 0, 0, 0, "both", 0, 4, 1, 0,
                                               2.0, 2.0, 1.0, api_name="/event_neurons")
    assert "| MFPSN | 14,825 |" in summary and "| LIF | 14,825 |" in summary
    fig = json.loads(player["plot"])
    assert len(fig["data"]) == 3 and len(fig["frames"]) == 30
    assert json.loads(membrane["plot"])["data"]
    with pytest.raises(Exception, match="spike train"):
        client.predict(None, "shd_sweeps_3.h5", 32, -1, -1, 0, 0, 0, "both", 0, 4, 1, 0, 2.0, 2.0, 1.0,
                       api_name="/event_neurons")


def test_endpoint_neuron_lab(client):
    out = client.predict(*lab_args(replace(lab.LabSettings(), T=64, extra="SlidingPSN")), api_name="/neuron_lab")
    assert len(out) == 7
    for plot in out[:6]:
        assert plot["type"] == "plotly" and json.loads(plot["plot"])["data"]
    assert "MFPSN taps" in out[6]


def test_endpoint_load_events_upload_and_errors(client):
    from gradio_client import handle_file

    out = client.predict(handle_file(str(ASSETS / "evt3_digit3.raw")), None, 0, 12, api_name="/load_events")
    assert "evt3" in out[0] and "15,595" in out[0]
    assert all(p["type"] == "plotly" for p in out[1:4])
    with pytest.raises(Exception, match="not in the list of choices") as err:
        client.predict(None, "no_such_sample.bin", 0, 12, api_name="/load_events")
    assert type(err.value).__name__ == "AppError"
    with pytest.raises(Exception, match="Invalid file type"):
        client.predict(handle_file(str(Path(__file__))), None, 0, 12, api_name="/load_events")
    out = client.predict(None, "spoken_digits_sample.h5", 1, 12, api_name="/load_events")  # still serving
    assert "1 of 6" in out[0]


def test_endpoint_run_model_without_a_choice(client):
    with pytest.raises(Exception, match="pick at least one model"):
        client.predict(None, "nmnist_digit3.bin", 0, None, None, 0, api_name="/run_model")


def test_endpoint_speed_race(client):
    lifs = [n for n in (race.LIF_LOOP, race.LIF_FUSED_CPU) if n in race.contenders(torch.device("cpu"))]
    fig_t, fig_s, table, device, files, fig_r = client.predict("8, 16, 100", 32, 2, 1, ["MFPSN (shift_add)", *lifs],
                                                               race.MODES[0], 3, api_name="/speed_race")
    exported = json.loads(Path(files[0]).read_text())                       # the table, exported
    assert len(exported["rows"]) == 3 * (1 + len(lifs)) and "load average" in exported["load_after"]
    assert Path(files[1]).read_text().startswith("contender,T,N,repeats,median_ms")
    time_fig, speedup = json.loads(fig_t["plot"]), json.loads(fig_s["plot"])
    assert len(time_fig["data"]) == 1 + len(lifs)
    for fig in (time_fig, speedup):      # one tick per T raced, labelled with it (issue 13.2)
        assert fig["layout"]["xaxis"]["type"] == "category"
        assert fig["layout"]["xaxis"]["categoryarray"] == ["8", "16", "100"]
    assert all(tr["error_y"]["array"] for tr in time_fig["data"])          # spread over the repeats
    baseline = lifs[-1]                                                      # the fused C++ loop where it builds
    assert f"over {baseline}" in speedup["layout"]["title"]["text"]
    assert f"than {baseline}** (the fastest serial LIF raced) at T = 100" in table
    assert "load average" in table and "LIF (Python loop)" in table and "T = 16" in table and "torch" in device
    assert "neuron-steps per second" in table
    scaling = json.loads(fig_r["plot"])                                      # log–log, ticks at the T raced
    assert scaling["layout"]["xaxis"]["type"] == "log" and scaling["layout"]["xaxis"]["ticktext"] == ["8", "16", "100"]
    assert len(scaling["data"]) == 1 + len(lifs) and all("time ∝ T^" in tr["name"] for tr in scaling["data"])


@pytest.mark.parametrize("k,d,quantize", [(1, 1, True), (3, 2, True), (5, 3, False)])
def test_lab_mfpsn_pass_equals_the_module_after_its_fold(k, d, quantize):
    """Issue 11.5: the lab calls the pure eval pass; it equals an MFPSN module whose BatchNorm fold gives the same
    taps and threshold (γ = √(1 + ε), μ = 0, σ² = 1, β = −θ), spikes and membranes."""
    import math

    from mfpsn.neurons import MFPSN

    torch.manual_seed(k)
    x = torch.randn(40, 1, 3) * 2
    s = lab.LabSettings(order=k, quantize=quantize)
    taps = np.array([0.5, -0.25, 1.0, 0.125, -2.0][:k], dtype=np.float32)
    ours = lab._mfpsn_trace(x, taps, 0.7, s, d)
    ref = MFPSN(3, order=k, dilation=d, quantize=quantize, surrogate=s.surrogate, alpha=s.alpha, backend="shift_add")
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(taps).expand(3, -1))
        ref.running_mean.zero_()
        ref.running_var.fill_(1.0)
        ref.bn_weight.fill_(math.sqrt(1.0 + ref.eps))
        ref.bn_bias.fill_(-0.7)
        tr = ref.eval().run(x)
    torch.testing.assert_close(ours.h, tr.h, rtol=1e-6, atol=1e-6)
    assert torch.equal(ours.spikes, tr.spikes)
    assert float(ours.v_th.reshape(-1)[0]) == pytest.approx(float(tr.v_th.reshape(-1)[0]))


def test_lab_time_window_zooms_every_time_plot_with_full_detail():
    """Issue 13: one zoom control for the input, membrane and raster plots; inside the window the traces are not
    thinned (T = 4096 is thinned to 1,500 points per line, a 300-step window is drawn point for point)."""
    full = lab.neuron_lab(T=4096, signal="Poisson spikes", rate=0.5)
    assert "thinned" in full[0].layout.title.text
    fig_in, fig_mem, fig_raster, *_, md = lab.neuron_lab(T=4096, signal="Poisson spikes", rate=0.5, view_from=1000,
                                                         view_to=1300)
    assert list(fig_in.layout.xaxis.range) == [1000, 1299] and "thinned" not in fig_in.layout.title.text
    line = fig_in.data[-1]
    assert len(line.x) == 300 and line.x[0] == 1000 and line.x[-1] == 1299
    mem = [t for t in fig_mem.data if t.name == "MFPSN H"][0]
    ref = lab.simulate(lab.LabSettings(T=4096, signal="Poisson spikes", rate=0.5))
    assert np.allclose(mem.y, ref.traces["MFPSN"][0][1000:1300, 0])                 # the same run, windowed
    assert list(fig_raster.layout.xaxis.range) == [999.5, 1299.5]
    assert "steps 1000–1299 of 4096" in md
    with pytest.raises(gr.Error, match="time window"):
        lab.neuron_lab(T=64, view_from=64)
