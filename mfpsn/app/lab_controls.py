"""Which neuron-lab controls apply to the current setting: the others are greyed out, so no control looks as if
it acted while its value is ignored (a Poisson rate under a sine, a manual dilation in sawtooth mode, …)."""
from __future__ import annotations

import gradio as gr

__all__ = ["CONTROLS", "active_controls"]

#: The controls :func:`active_controls` returns updates for, in order.
CONTROLS = ("signal", "T", "channels", "amplitude", "period", "rate", "seed", "dilation", "layer", "signs",
            "exponents", "float_weights", "quantize", "channel")


def active_controls(signal: str, upload: str | None, dilation_mode: str, taps_from: str, channels: float,
                    channel: float) -> tuple[dict, ...]:
    """``gr.update`` per entry of :data:`CONTROLS`: ``interactive`` where the control applies, and the
    channel-to-plot slider bounded by the channels (an uploaded sequence sets its own, so it keeps the limit)."""
    generated = not upload
    uses = {"signal": generated, "T": generated, "channels": generated, "amplitude": generated,
            "period": generated and signal in ("pulse train", "sine"),
            "rate": generated and signal == "Poisson spikes",
            "seed": generated and signal in ("Poisson spikes", "noise"),
            "dilation": dilation_mode == "manual", "layer": dilation_mode != "manual",
            "signs": taps_from == "shift weights", "exponents": taps_from == "shift weights",
            "float_weights": taps_from == "float weights", "quantize": taps_from != "shift weights"}
    updates = [gr.update(interactive=uses[name]) for name in CONTROLS[:-1]]
    if generated:
        top = max(int(channels) - 1, 0)
        updates.append(gr.update(maximum=max(top, 1), value=min(int(channel), top)))
    else:
        updates.append(gr.update())
    return tuple(updates)
