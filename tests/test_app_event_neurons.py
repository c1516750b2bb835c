"""Neurons on a real event stream (mfpsn.app.event_neurons): region, binning, both layers against the neurons'
own modules, statistics, figures, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mfpsn.app.event_neurons import (MAX_ROI, EventNeuronSettings, bin_region, event_neurons, membrane_figure,
                                     most_active_roi, player_figure, settings_from_controls, summary_markdown)
from mfpsn.events import Events, read_events
from mfpsn.neurons import LIF, MFPSN

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _events(t, x, y, p=None, w=20, h=10) -> Events:
    n = len(t)
    return Events(np.asarray(t, np.int64), np.asarray(x, np.uint16), np.asarray(y, np.uint16),
                  np.asarray(p if p is not None else [1] * n, np.uint8), w, h)


def test_most_active_region_and_binning():
    ev = _events([0, 10, 20, 30, 1500], [15, 16, 16, 2, 16], [7, 7, 8, 1, 7])
    assert most_active_roi(ev, 3) == (14, 6, 3, 3)  # the first window holding all four events near (16, 7)
    assert most_active_roi(ev, 50) == (0, 0, 20, 10)  # clipped to the sensor
    x = bin_region(ev, (15, 7, 2, 2), (0, 2000), 1000)
    assert x.shape == (2, 2, 2)
    np.testing.assert_array_equal(x[0], [[1, 1], [0, 1]])
    np.testing.assert_array_equal(x[1], [[0, 1], [0, 0]])
    off = _events([0, 1], [1, 1], [1, 1], [0, 1])
    assert bin_region(off, (0, 0, 20, 10), (0, 10), 10, "on").sum() == 1
    assert bin_region(off, (0, 0, 20, 10), (0, 10), 10, "off").sum() == 1


def test_layers_equal_the_neuron_modules():
    ev = read_events(ASSETS / "nmnist_digit3.bin")
    s = EventNeuronSettings(order=3, dilation=2, tap_exponent=-1, theta=1.0, lif_tau=3.0, lif_v_th=0.8)
    r = event_neurons(ev, s)
    T, h, w = r.x.shape
    assert (h, w) == (32, 32) and T == 300 and r.bin_us == 1000
    x = torch.from_numpy(r.x).reshape(T, 1, 1, h, w)
    m = MFPSN(1, order=3, dilation=2, backend="reference").eval()
    with torch.no_grad():  # folded taps 2^-1 and θ = 1: identity BN with γ = 1, μ = 0, σ² = 1 - eps, β = -θ
        m.weight.fill_(0.5)
        m.running_var.fill_(1.0 - m.eps)
        m.bn_bias.fill_(-1.0)
        ref = m(x).reshape(T, h, w).numpy()
    np.testing.assert_array_equal(r.mfpsn_spikes, ref)
    lif = LIF(tau=3.0, v_th=0.8, v_reset=0.0, backend="loop")
    with torch.no_grad():
        ref_lif = lif(x).reshape(T, h, w).numpy()
    np.testing.assert_array_equal(r.lif_spikes, ref_lif)
    st = r.stats
    assert st["MFPSN"]["events_in"] == r.x.sum() == st["LIF"]["events_in"]
    assert st["LIF"]["spikes_out"] == r.lif_spikes.sum()
    text = summary_markdown(r)
    assert "| MFPSN |" in text and "| LIF |" in text and "sensor pixels" in text


def test_figures_are_in_sensor_coordinates_and_bounded():
    ev = read_events(ASSETS / "aedat2_dvs128_digit3_first_saccade.aedat")
    r = event_neurons(ev, EventNeuronSettings(roi_size=16))
    x0, y0, w, h = r.roi
    assert x0 >= 40 and y0 >= 40  # the digit sits at (47, 47) on the 128x128 sensor
    fig = player_figure(r)
    assert len(fig.frames) <= 30 and len(fig.data) == 3 and list(fig.frames[1].traces) == [0, 1, 2]
    assert (fig.data[0].x0, fig.data[0].y0, fig.data[0].dx) == (x0, y0, 1)
    assert np.asarray(fig.data[0].z).shape == (h, w)
    sums = sum(np.asarray(f.data[0].z).sum() for f in fig.frames)
    assert sums == r.x.sum()  # display frames sum the bins, none lost
    assert f"x {x0 + r.pixel[0]}" in membrane_figure(r, EventNeuronSettings()).layout.title.text


def test_denoise_polarity_window_and_pixel_options():
    ev = read_events(ASSETS / "nmnist_digit3.bin")
    r = event_neurons(ev, EventNeuronSettings(denoise_us=1000, polarity="on", window_us=(50_000, 150_000),
                                              bin_us=2000, pixel=(3, 4)))
    assert r.x.shape[0] == 50 and r.window_us == (50_000, 150_000) and r.pixel == (3, 4)
    assert any("denoise" in n for n in r.notes)
    s = settings_from_controls(16, -1, -1, 0, 0, 0, "both", 0, 4, 1, 0, 2.0, 2.0, 1.0)
    assert s.roi is None and s.window_us is None and s.bin_us is None
    s = settings_from_controls(16, 3, 4, 10, 0, 0.5, "off", 0, 4, 1, 0, 2.0, 2.0, 1.0)
    assert s.roi == (3, 4, 16, 16) and s.window_us == (10_000, None) and s.bin_us == 500


def test_bad_settings_and_inputs_are_refused_clearly():
    ev = read_events(ASSETS / "nmnist_digit3.bin")
    with pytest.raises(ValueError, match="inside the 34×34 sensor"):
        event_neurons(ev, EventNeuronSettings(roi=(30, 30, 10, 10)))
    with pytest.raises(ValueError, match="too much work"):
        event_neurons(ev, EventNeuronSettings(bin_us=1))
    with pytest.raises(ValueError, match="start < end"):
        event_neurons(ev, EventNeuronSettings(window_us=(5000, 10)))
    with pytest.raises(ValueError, match="region size"):
        EventNeuronSettings(roi_size=MAX_ROI + 1)
    with pytest.raises(ValueError, match="polarity"):
        EventNeuronSettings(polarity="red")
    with pytest.raises(ValueError, match="spike train"):
        event_neurons(read_events(ASSETS / "shd_sweeps_3.h5"))
    with pytest.raises(ValueError, match="inside the"):
        event_neurons(ev, EventNeuronSettings(pixel=(40, 0)))
