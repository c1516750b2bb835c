"""The lab at its own limits sends a bounded number of points to the browser (issue 13.4)."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from mfpsn.app import lab
from mfpsn.app.decimate import envelope, spike_image, thin_events
from mfpsn.app.limits import LIMITS


def test_envelope_keeps_every_bucket_extreme_in_time_order():
    y = np.sin(np.arange(10_000) / 7.0)
    y[1234] = 9.0
    t, v = envelope(y, 500)
    assert len(t) <= 500 and np.all(np.diff(t) > 0) and np.array_equal(v, y[t])
    assert 1234 in t and v.max() == 9.0 and v.min() == y.min()
    t, v = envelope(y[:300], 500)
    assert np.array_equal(t, np.arange(300))                           # short lines are sent whole


def test_thinned_spikes_and_spike_images():
    t = np.arange(0, 4096, 2)
    kept = thin_events(t, 4096, 100)
    assert len(kept) <= 100 and kept[0] == 0
    s = np.zeros((4096, 3))
    s[5, 0] = s[4095, 2] = 1
    z, size = spike_image(s, 1000)
    assert z.shape == (3, 820) and size == 5 and z[0, 1] == 1 and z[2, -1] == 1 and z.sum() == 2


def points_sent(figs) -> int:
    total = 0
    for fig in figs:
        for tr in json.loads(fig.to_json())["data"]:
            z = tr.get("z")
            total += np.asarray(z).size if z is not None else len(tr.get("x") or [])
    return total


def test_the_lab_at_its_largest_setting_stays_within_the_point_budget():
    s = replace(lab.LabSettings(), T=LIMITS.lab_max_T, channels=LIMITS.lab_max_channels, extra="SlidingPSN",
                signal="Poisson spikes", rate=0.5)
    out = lab.neuron_lab(*[getattr(s, f) for f in lab.LabSettings.__dataclass_fields__])
    figs = out[:6]
    # three rasters of 16 rows at ≤ 1500 columns, ≤ 16 input lines, 4 membrane rows of ≤ 1500 points + markers
    assert points_sent(figs) < 3 * 16 * LIMITS.plot_max_points + 16 * LIMITS.plot_max_points + 8 * 1500
    assert figs[2].data[0].type == "heatmap" and "one column per 3 steps" in figs[2].layout.title.text
    assert "thinned" in figs[1].layout.title.text
    small = lab.neuron_lab(*[getattr(lab.LabSettings(), f) for f in lab.LabSettings.__dataclass_fields__])
    assert small[2].data[0].type == "scatter" and "thinned" not in small[1].layout.title.text


def test_labels_do_not_collide_at_the_largest_order():
    """Issue 13.5: tap labels overlapped at k = 16 and the largest energy label ran into the subplot title."""
    s = replace(lab.LabSettings(), order=16, signs=" ".join("+" * 16), exponents=" ".join(["-1"] * 16), extra="PSN")
    figs = lab.neuron_lab(*[getattr(s, f) for f in lab.LabSettings.__dataclass_fields__])
    taps = next(tr for tr in figs[3].data if tr.name == "MFPSN taps used")
    positions = list(taps.textposition)
    assert all(a != b for a, b in zip(positions, positions[1:]))     # neighbours alternate above / below
    energy = figs[5].data[-1]
    assert figs[5].layout.yaxis2.range[1] >= np.log10(max(energy.y)) + 0.8
