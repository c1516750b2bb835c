"""Neuron-lab controls that do not apply to the current setting are greyed out (issue 13.5)."""
from __future__ import annotations

from mfpsn.app.lab_controls import CONTROLS, active_controls


def interactive(*args) -> dict:
    return {name: u.get("interactive") for name, u in zip(CONTROLS, active_controls(*args))}


def test_each_control_is_active_only_where_it_acts():
    on = interactive("sine", None, "manual", "shift weights", 4, 9)
    assert on["period"] and not on["rate"] and not on["seed"] and on["dilation"] and not on["layer"]
    assert on["signs"] and on["exponents"] and not on["float_weights"] and not on["quantize"]
    on = interactive("Poisson spikes", None, "sawtooth layer", "float weights", 4, 0)
    assert on["rate"] and on["seed"] and not on["period"] and not on["dilation"] and on["layer"]
    assert on["float_weights"] and on["quantize"] and not on["signs"]
    on = interactive("sine", "/tmp/seq.csv", "manual", "LIF kernel", 4, 0)
    assert not any(on[n] for n in ("signal", "T", "channels", "amplitude", "period", "rate", "seed"))
    assert on["quantize"] and not on["float_weights"]


def test_the_channel_to_plot_follows_the_channels():
    channel = active_controls("sine", None, "manual", "shift weights", 4, 9)[-1]
    assert channel["maximum"] == 3 and channel["value"] == 3
