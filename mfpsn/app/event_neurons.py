"""Neuron dynamics on a real event stream, for any recording whatever its class: a region of the sensor and a time
window, binned per pixel, drive one layer of MFPSN neurons and one layer of LIF neurons (one neuron per pixel);
their output spike frames, the membranes of a chosen pixel, and what each layer does to the stream (events in,
spikes out, isolated events let through, latency).

Input ``x[t, y, x]`` = events of the chosen polarities in bin t at pixel (x, y) (counts). The layers:

- **MFPSN**: ``H[t] = Σ_i 2^e · x[t − (k − 1 − i)·d]`` (k taps, all ``+2^e``: a shift-add box filter over the last
  k bins spaced d apart), ``S = Θ(H − θ)``;
- **LIF** (τ, hard reset to 0, threshold ``v_th``): ``H[t] = V[t−1] + (x[t] − V[t−1]) / τ``, ``S = Θ(H − v_th)``.

:func:`event_neurons` is the pure core (tested directly); :func:`event_neurons_ui` is the app callback behind the
named endpoint ``/event_neurons``. Frames and coordinates are in sensor pixels; the region is stated.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from mfpsn.app.plotstyle import axis, layout
from mfpsn.events import Events
from mfpsn.events.regions import most_active_window

__all__ = ["EventNeuronSettings", "EventNeuronsResult", "most_active_roi", "bin_region", "event_neurons",
           "player_figure", "membrane_figure", "summary_markdown", "MAX_ELEMENTS", "MAX_ROI", "MAX_BINS"]

MAX_ROI = 128            # largest region side, pixels
MAX_BINS = 2000          # most time bins
MAX_ELEMENTS = 1 << 23   # most T·H·W elements per layer (bounds memory: a few float32 tensors of 32 MB)
DISPLAY_FRAMES = 30      # frames sent to the browser's player
POLARITIES = ("both", "on", "off")


@dataclass(frozen=True)
class EventNeuronSettings:
    """What to run (see the module docstring). ``roi`` = (x0, y0, width, height) in sensor pixels, ``None`` = the
    most active ``roi_size`` square; ``window_us`` = (start, end) in µs from the first event (end ``None``: to the
    last event), ``None`` = the whole recording; ``bin_us`` ``None`` = chosen so the window has at most 500 bins (at least 1 ms)."""

    roi: tuple[int, int, int, int] | None = None
    roi_size: int = 32
    window_us: tuple[int, int | None] | None = None
    bin_us: int | None = None
    polarity: str = "both"
    denoise_us: int = 0
    order: int = 4
    dilation: int = 1
    tap_exponent: int = 0
    theta: float = 2.0
    lif_tau: float = 2.0
    lif_v_th: float = 1.0
    pixel: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity: expected one of {POLARITIES}, found {self.polarity!r}")
        if not 1 <= self.roi_size <= MAX_ROI:
            raise ValueError(f"region size: expected 1..{MAX_ROI} pixels, found {self.roi_size}")
        if not 1 <= self.order <= 16 or not 1 <= self.dilation <= 64:
            raise ValueError(f"order k, dilation d: expected 1..16 and 1..64, found {self.order}, {self.dilation}")
        if not -8 <= self.tap_exponent <= 8:
            raise ValueError(f"tap exponent e: expected -8..8, found {self.tap_exponent}")
        if not self.lif_tau >= 1.0 or not self.theta > 0 or not self.lif_v_th > 0:
            raise ValueError(f"expected LIF τ >= 1, θ > 0 and v_th > 0, found {self.lif_tau}, {self.theta}, "
                             f"{self.lif_v_th}")
        if self.bin_us is not None and self.bin_us < 1:
            raise ValueError(f"bin width: expected >= 1 µs, found {self.bin_us}")
        if self.denoise_us < 0:
            raise ValueError(f"denoise filter time: expected >= 0 µs (0 = off), found {self.denoise_us}")


@dataclass(frozen=True)
class EventNeuronsResult:
    """Input and both layers' output over the region: arrays ``[T, H, W]`` (float32 counts / 0-1 spikes)."""

    roi: tuple[int, int, int, int]
    window_us: tuple[int, int]
    bin_us: int
    x: np.ndarray
    mfpsn_spikes: np.ndarray
    lif_spikes: np.ndarray
    pixel: tuple[int, int]
    mfpsn_h: np.ndarray           # [T] membrane of the chosen pixel
    lif_h: np.ndarray             # [T]
    stats: dict[str, dict[str, float]]
    seconds: float
    notes: list[str]


def most_active_roi(events: Events, size: int) -> tuple[int, int, int, int]:
    """The ``size`` x ``size`` window (clipped to the sensor) holding the most events: ``(x0, y0, w, h)``
    (:func:`mfpsn.events.regions.most_active_window`, bounded memory for any declared sensor size)."""
    return most_active_window(events, size, size)[:4]


def _window(events: Events, settings: EventNeuronSettings) -> tuple[int, int]:
    t0 = int(events.t[0]) if len(events) else 0
    if settings.window_us is None:
        return t0, (int(events.t[-1]) + 1) if len(events) else 1
    lo = int(settings.window_us[0])
    end = settings.window_us[1]
    hi = (int(events.t[-1]) + 1 - t0) if end is None else int(end)
    if not 0 <= lo < hi:
        raise ValueError(f"time window: expected 0 <= start < end (µs from the first event), found [{lo}, {hi}]")
    return t0 + lo, t0 + hi


def bin_region(events: Events, roi: tuple[int, int, int, int], window: tuple[int, int], bin_us: int,
               polarity: str = "both") -> np.ndarray:
    """``x: [T, h, w]`` float32 event counts of the region ``roi`` in ``window`` (µs, end exclusive), ``T = ⌈span /
    bin_us⌉``; ``polarity`` ``"on"``/``"off"`` keeps one polarity."""
    x0, y0, w, h = roi
    t_lo, t_hi = window
    T = -(-(t_hi - t_lo) // bin_us)
    keep = (events.x >= x0) & (events.x < x0 + w) & (events.y >= y0) & (events.y < y0 + h) & \
           (events.t >= t_lo) & (events.t < t_hi)
    if polarity != "both":
        keep &= events.p == (1 if polarity == "on" else 0)
    t = ((events.t[keep] - t_lo) // bin_us).astype(np.int64)
    idx = (t * h + (events.y[keep].astype(np.int64) - y0)) * w + (events.x[keep].astype(np.int64) - x0)
    return np.bincount(idx, minlength=T * h * w).astype(np.float32).reshape(T, h, w)


def _layers(x: np.ndarray, s: EventNeuronSettings, pixel: tuple[int, int]):
    from mfpsn.functional.lif import lif_multistep
    from mfpsn.backends import mfpsn_trace
    from mfpsn.functional.surrogate import get_surrogate

    T, h, w = x.shape
    xt = torch.from_numpy(x).reshape(T, 1, 1, h, w)                     # [T, B=1, C=1, H, W]
    taps = torch.full((1, s.order), 2.0 ** s.tap_exponent)
    with torch.no_grad():
        ms, mh = mfpsn_trace(xt, taps, torch.tensor([s.theta]), s.dilation, get_surrogate("atan"), "shift_add")
        ls, lh, _ = lif_multistep(xt, 1.0 / s.lif_tau, s.lif_v_th, 0.0, False, get_surrogate("atan"))
    px, py = pixel
    return (ms.reshape(T, h, w).numpy(), ls.reshape(T, h, w).numpy(),
            mh[:, 0, 0, py, px].numpy().copy(), lh[:, 0, 0, py, px].numpy().copy())


def _latency_ms(x: np.ndarray, spikes: np.ndarray, bin_us: int) -> float | None:
    """Median over pixels with input and output of (first output spike − first input event), ms."""
    has_in, has_out = x.any(0), spikes.any(0)
    both = has_in & has_out
    if not both.any():
        return None
    first_in = np.argmax(x > 0, axis=0)[both]
    first_out = np.argmax(spikes > 0, axis=0)[both]
    return float(np.median(first_out - first_in)) * bin_us / 1000.0


def _isolated_passed(x: np.ndarray, isolated: np.ndarray, spikes: np.ndarray, reach: int) -> float | None:
    """Fraction of bins holding only isolated input events that are followed by an output spike at the same
    pixel within ``reach`` bins."""
    if not isolated.any():
        return None
    csum = np.concatenate([np.zeros((1,) + spikes.shape[1:], np.float32), spikes.cumsum(0)])
    T = x.shape[0]
    t = np.arange(T)[:, None, None]
    hi = np.minimum(t + reach, T)
    ahead = np.take_along_axis(csum, np.broadcast_to(hi, spikes.shape), 0) - csum[:-1]
    return float((ahead[isolated] > 0).mean())


def _crop(events: Events, roi: tuple[int, int, int, int], window: tuple[int, int], margin: int) -> Events:
    """The events of ``window`` inside ``roi`` grown by ``margin`` pixels, in sensor coordinates."""
    x0, y0, w, h = roi
    keep = (events.t >= window[0]) & (events.t < window[1]) & (events.x + margin >= x0) & \
           (events.x < x0 + w + margin) & (events.y + margin >= y0) & (events.y < y0 + h + margin)
    return Events(events.t[keep], events.x[keep], events.y[keep], events.p[keep], events.width, events.height)


def event_neurons(events: Events, settings: EventNeuronSettings = EventNeuronSettings()) -> EventNeuronsResult:
    """Run both layers on ``events`` (a camera recording) with ``settings``; see the module docstring."""
    from mfpsn.events.denoise import denoise_mask

    if events.height == 1:
        raise ValueError("this view takes a camera recording (x, y events); the file is a spike train (one row of "
                         "units): use the spike-train raster of the Event explorer")
    if len(events) == 0:
        raise ValueError("the recording holds no events")
    start = time.perf_counter()
    notes: list[str] = []
    roi = most_active_roi(events, settings.roi_size) if settings.roi is None else tuple(int(v) for v in settings.roi)
    x0, y0, w, h = roi
    if not (0 <= x0 and 0 <= y0 and 1 <= w <= MAX_ROI and 1 <= h <= MAX_ROI and x0 + w <= events.width
            and y0 + h <= events.height):
        raise ValueError(f"region: expected x0, y0 >= 0, 1..{MAX_ROI} pixels wide and high, inside the "
                         f"{events.width}×{events.height} sensor, found x0={x0}, y0={y0}, {w}×{h}")
    window = _window(events, settings)
    span = window[1] - window[0]
    bin_us = settings.bin_us or max(1000, -(-span // 500))
    T = -(-span // bin_us)
    if T > MAX_BINS or T * w * h > MAX_ELEMENTS:
        raise ValueError(f"{T} bins × {w}×{h} pixels is too much work: expected at most {MAX_BINS} bins and "
                         f"{MAX_ELEMENTS:,} bin-pixels; widen the bins, shorten the window or shrink the region")
    ev = _crop(events, roi, window, margin=1)  # everything below touches only the region (and its border)
    if settings.denoise_us:
        keep = denoise_mask(ev, settings.denoise_us)
        notes.append(f"denoise filter ({settings.denoise_us} µs) removed {int((~keep).sum()):,} of {len(ev):,} "
                     f"events of the region before binning")
        ev = Events(ev.t[keep], ev.x[keep], ev.y[keep], ev.p[keep], ev.width, ev.height)
    x = bin_region(ev, roi, window, bin_us, settings.polarity)
    pixel = settings.pixel
    if pixel is None:
        py, px = np.unravel_index(int(np.argmax(x.sum(0))), x.shape[1:])
        pixel = (int(px), int(py))
    elif not (0 <= pixel[0] < w and 0 <= pixel[1] < h):
        raise ValueError(f"pixel: expected a position inside the {w}×{h} region, found {pixel}")
    ms, ls, mh, lh = _layers(x, settings, pixel)
    flags = ~denoise_mask(ev, 5 * bin_us)
    iso_events = Events(ev.t[flags], ev.x[flags], ev.y[flags], ev.p[flags], ev.width, ev.height)
    iso = bin_region(iso_events, roi, window, bin_us, settings.polarity)
    isolated_bins = (iso > 0) & (iso == x)
    stats = {}
    for name, s, reach in (("MFPSN", ms, (settings.order - 1) * settings.dilation + 1), ("LIF", ls, 4)):
        stats[name] = {"events_in": float(x.sum()), "spikes_out": float(s.sum()),
                       "active_pixels_in": float(x.any(0).sum()), "active_pixels_out": float(s.any(0).sum()),
                       "latency_ms": _latency_ms(x, s, bin_us),
                       "isolated_passed": _isolated_passed(x, isolated_bins, s, reach)}
    return EventNeuronsResult(roi, (window[0] - int(events.t[0]), window[1] - int(events.t[0])), int(bin_us), x,
                              ms, ls, pixel, mh, lh, stats, time.perf_counter() - start, notes)


# ------------------------------------------------------------------------------------------------ figures
def _display(frames: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``[T, h, w]`` summed into at most ``n`` display frames, and each display frame's first bin."""
    T = frames.shape[0]
    edges = np.linspace(0, T, min(n, T) + 1).round().astype(int)
    return np.add.reduceat(frames, edges[:-1], axis=0), edges[:-1]


def player_figure(r: EventNeuronsResult) -> go.Figure:
    """Input, MFPSN and LIF frames side by side, with a play button and a time slider (sensor coordinates)."""
    x0, y0, w, h = r.roi
    panels = [("input events", r.x), ("MFPSN spikes", r.mfpsn_spikes), ("LIF spikes", r.lif_spikes)]
    shown = [_display(a, DISPLAY_FRAMES) for _, a in panels]
    starts = shown[0][1]
    zmax = [max(1.0, float(a.max())) for a, _ in shown]

    def traces(i: int) -> list[go.Heatmap]:  # x0/dx instead of coordinate arrays: 3x cheaper to validate
        return [go.Heatmap(z=shown[j][0][i], x0=x0, dx=1, y0=y0, dy=1, zmin=0, zmax=zmax[j], colorscale="Viridis",
                           showscale=False, xaxis=f"x{j + 1}" if j else "x", yaxis=f"y{j + 1}" if j else "y",
                           hovertemplate="x %{x}, y %{y}: %{z}<extra></extra>") for j in range(3)]

    # Frames carry only the new z of the three traces (the rest is inherited): far cheaper to build and send.
    fig = go.Figure(data=traces(0), frames=[go.Frame(data=[go.Heatmap(z=shown[j][0][i]) for j in range(3)],
                                                     traces=[0, 1, 2], name=str(i)) for i in range(len(starts))])
    ms = [f"{(r.window_us[0] + s * r.bin_us) / 1000:.1f} ms" for s in starts]
    kw: dict[str, Any] = {}
    for j, (title, _) in enumerate(panels):
        dom = [j / 3 + 0.01, (j + 1) / 3 - 0.01]
        kw["xaxis" if j == 0 else f"xaxis{j + 1}"] = axis(domain=dom, title=f"{title}: x (sensor px)",
                                                         anchor="y" if j == 0 else f"y{j + 1}")
        kw["yaxis" if j == 0 else f"yaxis{j + 1}"] = axis(domain=[0, 1], autorange="reversed", scaleanchor=
                                                         "x" if j == 0 else f"x{j + 1}", title="y" if j == 0 else None,
                                                         anchor="x" if j == 0 else f"x{j + 1}")
    fig.update_layout(**layout(f"region x {x0}–{x0 + w - 1}, y {y0}–{y0 + h - 1} of the sensor; each frame sums "
                               f"{max(1, r.x.shape[0] // max(1, len(starts)))} bins of {r.bin_us / 1000:g} ms", 470,
                               margin={"l": 50, "r": 20, "t": 50, "b": 150}, **kw),
                      updatemenus=[{"type": "buttons", "x": 0, "y": -0.42, "xanchor": "left", "yanchor": "top",
                                    "direction": "left", "showactive": False,
                                    "buttons": [{"label": "play", "method": "animate",
                                                 "args": [None, {"frame": {"duration": 150, "redraw": True},
                                                                 "fromcurrent": True}]},
                                                {"label": "pause", "method": "animate",
                                                 "args": [[None], {"mode": "immediate",
                                                                   "frame": {"duration": 0, "redraw": False}}]}]}],
                      sliders=[{"x": 0.16, "y": -0.3, "len": 0.84, "yanchor": "top", "currentvalue": {"prefix": "from "},
                                "steps": [{"label": ms[i], "method": "animate",
                                           "args": [[str(i)], {"mode": "immediate", "frame": {"redraw": True}}]}
                                          for i in range(len(starts))]}])
    return fig


def membrane_figure(r: EventNeuronsResult, s: EventNeuronSettings) -> go.Figure:
    """The chosen pixel: its input counts, both membranes with their thresholds, and their spikes."""
    px, py = r.pixel
    t = (r.window_us[0] + np.arange(r.x.shape[0]) * r.bin_us) / 1000.0
    fig = go.Figure()
    fig.add_trace(go.Bar(x=t, y=r.x[:, py, px], name="input events per bin", marker_color="#999", yaxis="y2"))
    for name, hv, th, spk, colour in (("MFPSN", r.mfpsn_h, s.theta, r.mfpsn_spikes, "#d62728"),
                                      ("LIF", r.lif_h, s.lif_v_th, r.lif_spikes, "#1f77b4")):
        fig.add_trace(go.Scatter(x=t, y=hv, mode="lines", name=f"{name} membrane H", line=dict(color=colour)))
        fig.add_hline(y=th, line=dict(color=colour, dash="dash", width=1))
        fired = np.nonzero(spk[:, py, px])[0]
        fig.add_trace(go.Scatter(x=t[fired], y=np.full(fired.size, th), mode="markers", name=f"{name} spikes",
                                 marker=dict(symbol="line-ns-open", size=10, color=colour)))
    x0, y0 = r.roi[:2]
    fig.update_layout(**layout(f"pixel x {x0 + px}, y {y0 + py}: membranes (thresholds dashed) and spikes", 380,
                               xaxis=axis(title="time (ms from the first event)"),
                               yaxis=axis(title="membrane H"),
                               yaxis2=axis(title="events", overlaying="y", side="right", showgrid=False),
                               legend=dict(orientation="h", x=0, y=-0.42, yanchor="top"),
                               margin={"l": 60, "r": 60, "t": 50, "b": 140}))
    return fig


def summary_markdown(r: EventNeuronsResult) -> str:
    """What each layer does to the stream, as a table."""
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.0f} %"

    x0, y0, w, h = r.roi
    lines = [f"Region x {x0}–{x0 + w - 1}, y {y0}–{y0 + h - 1} ({w}×{h} sensor pixels), window "
             f"{r.window_us[0] / 1000:.1f}–{r.window_us[1] / 1000:.1f} ms, {r.x.shape[0]} bins of "
             f"{r.bin_us / 1000:g} ms; computed in {r.seconds:.2f} s.", "",
             "| layer | events in | spikes out | active pixels in → out | isolated events followed by a spike | "
             "median latency |", "|---|---|---|---|---|---|"]
    for name, st in r.stats.items():
        lat = "–" if st["latency_ms"] is None else f"{st['latency_ms']:.1f} ms"
        lines.append(f"| {name} | {st['events_in']:,.0f} | {st['spikes_out']:,.0f} | "
                     f"{st['active_pixels_in']:,.0f} → {st['active_pixels_out']:,.0f} | "
                     f"{pct(st['isolated_passed'])} | {lat} |")
    lines += ["", "Isolated events: events with no neighbour event within 5 bins (the package's background-activity "
              "filter); a low share means the layer suppresses that noise. Latency: first output spike after the "
              "first input event, per pixel."]
    lines += [f"\nNote: {n}." for n in r.notes]
    return "\n".join(lines)


def settings_from_controls(roi_size: float, x0: float, y0: float, t_start_ms: float, t_end_ms: float, bin_ms: float,
                           polarity: str, denoise_us: float, order: float, dilation: float, tap_exponent: float,
                           theta: float, lif_tau: float, lif_v_th: float) -> EventNeuronSettings:
    """The app's controls → settings: ``x0`` or ``y0`` < 0 = the most active region, ``t_end_ms`` <= 0 = to the end
    of the recording, ``bin_ms`` <= 0 = automatic."""
    size = int(roi_size)
    roi = None if x0 < 0 or y0 < 0 else (int(x0), int(y0), size, size)
    window = None if t_end_ms <= 0 and t_start_ms <= 0 else \
        (int(round(t_start_ms * 1000)), int(round(t_end_ms * 1000)) if t_end_ms > 0 else None)
    return EventNeuronSettings(roi=roi, roi_size=size, window_us=window,
                               bin_us=None if bin_ms <= 0 else max(1, int(round(bin_ms * 1000))), polarity=polarity,
                               denoise_us=int(denoise_us), order=int(order), dilation=int(dilation),
                               tap_exponent=int(tap_exponent), theta=float(theta), lif_tau=float(lif_tau),
                               lif_v_th=float(lif_v_th))


def event_neurons_ui(upload: str | None = None, sample: str | None = None, roi_size: float = 32, x0: float = -1, y0: float = -1,
                     t_start_ms: float = 0, t_end_ms: float = 0, bin_ms: float = 0, polarity: str = "both",
                     denoise_us: float = 0, order: float = 4, dilation: float = 1, tap_exponent: float = 0,
                     theta: float = 2.0, lif_tau: float = 2.0, lif_v_th: float = 1.0, reads=None):
    """App callback (``/event_neurons``): returns (summary markdown, player figure, membrane figure). ``reads``:
    the app's :class:`mfpsn.app.store.ReadCache` (a file already read is not read again)."""
    import gradio as gr

    from mfpsn.app.events_view import read_recording, resolve_source

    path = resolve_source(upload, sample)
    events = read_recording(path, reads=reads)
    try:
        s = settings_from_controls(roi_size, x0, y0, t_start_ms, t_end_ms, bin_ms, polarity, denoise_us, order,
                                   dilation, tap_exponent, theta, lif_tau, lif_v_th)
        r = event_neurons(events, s)
    except ValueError as exc:
        raise gr.Error(f"{path.rsplit('/', 1)[-1]}: {exc}") from None
    return summary_markdown(r), player_figure(r), membrane_figure(r, s)
