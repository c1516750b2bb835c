"""Plotly figures of the neuron lab (pure: numpy arrays in, figures out).

Every figure shares the time axis convention ``t`` = step index 0 … T−1; lags count steps into the past.
Built with :mod:`mfpsn.app.plotstyle` (no named template, no ``make_subplots``) so that one lab update with all
six figures stays well inside its time budget. Long traces are thinned to ``max_points`` per line
(:mod:`mfpsn.app.decimate`), so what the browser draws stays bounded at every size the lab allows.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from mfpsn.app.decimate import envelope, spike_image, thin_events
from mfpsn.app.plotstyle import axis, axis_ref, grid, layout
from mfpsn.neurons.registry import NEURONS

__all__ = ["NEURON_COLOURS", "input_figure", "membrane_figure", "raster_figure", "kernel_figure",
           "receptive_field_figure", "ops_figure"]

#: Plot colour by neuron label, from the neuron registry (one record per kind).
NEURON_COLOURS = {r.label: r.colour for r in NEURONS.values()}


def _thinned(T: int, max_points: int) -> str:
    return f" · thinned to {max_points:,} points per line for display" if T > max_points else ""


def input_figure(x: np.ndarray, channel: int, max_points: int, t0: int = 0) -> go.Figure:
    """The input current ``x: [T, C]`` (steps ``t0 .. t0 + T − 1`` of the sequence); the plotted channel in black,
    the others faint (and thinner still)."""
    T, C = x.shape
    data = []
    for c in range(C):
        if c != channel:
            t, y = envelope(x[:, c], max(64, max_points // 4))
            data.append(go.Scatter(x=t + t0, y=y, mode="lines", line=dict(width=1, color="#c8c8c8"),
                                   hoverinfo="skip"))
    t, y = envelope(x[:, channel], max_points)
    data.append(go.Scatter(x=t + t0, y=y, mode="lines", line=dict(width=1.5, color="#222"), name=f"channel {channel}"))
    return go.Figure(data, layout(f"input current X[t] (channel {channel} of {C}; others grey)"
                                  f"{_thinned(T, max_points)}", 230, showlegend=False,
                                  xaxis=axis(title="time step t", range=[t0, t0 + max(T - 1, 1)]),
                                  yaxis=axis(title="X")))


def membrane_figure(traces: Mapping[str, tuple[np.ndarray, np.ndarray, float]], channel: int,
                    surrogate: tuple[str, np.ndarray] | None, max_points: int, t0: int = 0) -> go.Figure:
    """One row per neuron: membrane ``H[t]`` of ``channel``, its threshold (dashed) and spikes (circles).

    Args:
        traces: neuron name → ``(h [T], spikes [T], threshold)`` for the plotted channel.
        channel: the channel shown (for the title).
        surrogate: optional ``(name, σ'(H − θ) [T])`` of the MFPSN, drawn as a last row.
        max_points: most points per line (its envelope) and spike markers (one per bucket) drawn.
        t0: the sequence step of the first sample (a time window of a longer run).
    """
    names = list(traces)
    rows = len(names) + (surrogate is not None)
    titles = [f"<b>{n}</b>: membrane H[t] (line), threshold (dashed), spikes (circles)" for n in names]
    if surrogate is not None:
        titles.append(f"<b>MFPSN surrogate gradient</b> σ'(H − θ), {surrogate[0]}: where training signal flows")
    data = []
    T = 1
    for r, name in enumerate(names, start=1):
        xa, ya = axis_ref(r, 1, 1)
        h, s, th = traces[name]
        T = h.shape[0]
        colour = NEURON_COLOURS.get(name, "#444")
        t, y = envelope(h, max_points)
        data.append(go.Scatter(x=t + t0, y=y, mode="lines", name=f"{name} H", line=dict(color=colour), xaxis=xa,
                               yaxis=ya))
        data.append(go.Scatter(x=[t0, t0 + max(T - 1, 1)], y=[th, th], mode="lines", name=f"θ = {th:g}", xaxis=xa,
                               yaxis=ya, line=dict(color="#555", dash="dash", width=1)))
        on = thin_events(np.nonzero(s > 0)[0], T, max_points)
        data.append(go.Scatter(x=on + t0, y=h[on], mode="markers", name=f"{name} spikes", xaxis=xa, yaxis=ya,
                               marker=dict(color=colour, size=7, symbol="circle-open", line=dict(width=1.5))))
    if surrogate is not None:
        xa, ya = axis_ref(rows, 1, 1)
        t, y = envelope(surrogate[1], max_points)
        data.append(go.Scatter(x=t + t0, y=y, mode="lines", name="σ'(H − θ)", xaxis=xa, yaxis=ya,
                               line=dict(color="#ff7f0e")))
    g = grid(rows, 1, titles, gap=0.1 if rows > 1 else 0.0, shared_x=True)
    g[f"xaxis{rows}" if rows > 1 else "xaxis"]["title"] = "time step t"
    g["xaxis"]["range"] = [t0, t0 + max(T - 1, 1)]  # the others match it
    return go.Figure(data, layout(f"membrane potentials, channel {channel}{_thinned(T, max_points)}",
                                  175 * rows + 80, showlegend=False, **g))


def raster_figure(spikes: Mapping[str, np.ndarray], max_points: int, t0: int = 0) -> go.Figure:
    """Spike raster: one row per (neuron, channel), ``spikes[name]: [T, C]`` of 0/1; row labels give the
    firing rate (spikes per step). One marker per spike while there are at most ``max_points`` of them and
    T ≤ ``max_points``; beyond that one image per neuron, a column per bucket of steps (dark: a spike in it)."""
    data = []
    labels: list[str] = []
    T = next(iter(spikes.values())).shape[0]
    total = sum(int(s.sum()) for s in spikes.values())
    as_image = T > max_points or total > max_points
    size = 1
    for name, s in spikes.items():
        C = s.shape[1]
        base = len(labels)
        labels += [f"{name}{f' c{c}' if C > 1 else ''} ({s[:, c].mean() * 100:.1f} %)" for c in range(C)]
        colour = NEURON_COLOURS.get(name, "#444")
        if as_image:
            z, size = spike_image(s, max_points)
            data.append(go.Heatmap(z=z, x0=t0 + (size - 1) / 2, dx=size, y0=base, dy=1, zmin=0, zmax=1, showscale=False,
                                   colorscale=[[0, "rgba(255,255,255,0)"], [1, colour]], name=name,
                                   hovertemplate=f"{name}, t≈%{{x:.0f}}: %{{z}}<extra></extra>"))
            continue
        tt, cc = np.nonzero(s)
        data.append(go.Scatter(x=tt + t0, y=base + cc, mode="markers", name=name,
                               marker=dict(symbol="line-ns-open", size=10, line=dict(width=2), color=colour),
                               hovertemplate=f"{name}, t=%{{x}}<extra></extra>"))
    what = f" · one column per {size} steps" if size > 1 else ""
    return go.Figure(data, layout(
        f"spike rasters (row label: firing rate, spikes per step){what}", max(190, 24 * len(labels) + 110),
        showlegend=False, xaxis=axis(title="time step t", range=[t0 - 0.5, t0 + T - 0.5]),
        yaxis=axis(tickmode="array", tickvals=list(range(len(labels))), ticktext=labels, autorange="reversed",
                   showgrid=False)))


def _label_positions(k: int) -> list[str]:
    """Tap labels above their markers; above and below in turn for more than 8 taps, so neighbours do not
    overlap."""
    if k <= 8:
        return ["top center"] * k
    return ["top center" if i % 2 else "bottom center" for i in range(k)]


def kernel_figure(lags: Sequence[int], taps: np.ndarray, labels: Sequence[str], float_taps: np.ndarray | None,
                  lif_kernel: np.ndarray | None) -> go.Figure:
    """The MFPSN's effective kernel: tap ``i`` at lag ``lags[i]`` with value ``taps[i]`` (labelled ±2^e).

    Args:
        lags: ``[k]`` lag of each tap (steps into the past; the last tap has lag 0).
        taps: ``[k]`` tap values used (after quantization when it is on).
        labels: ``[k]`` text per tap (e.g. ``+2^-1``).
        float_taps: ``[k]`` float weights before quantization, drawn as open markers, or None.
        lif_kernel: ``[L]`` the LIF's impulse response over lags 0 … L−1 for comparison, or None.
    """
    lags = np.asarray(lags)
    stems_x = np.repeat(lags, 3).astype(float)
    stems_y = np.stack([np.zeros_like(taps), taps, np.full_like(taps, np.nan)], axis=1).reshape(-1)
    stems_x[2::3] = np.nan
    data = [go.Scatter(x=stems_x, y=stems_y, mode="lines", line=dict(color="#d62728", width=2), hoverinfo="skip",
                       showlegend=False),
            go.Scatter(x=lags, y=taps, mode="markers+text", text=list(labels), textposition=_label_positions(len(lags)),
                       textfont=dict(size=11 if len(lags) <= 8 else 9), marker=dict(color="#d62728", size=10),
                       name="MFPSN taps used")]
    if float_taps is not None:
        data.append(go.Scatter(x=lags, y=float_taps, mode="markers", name="float weights before quantization",
                               marker=dict(color="#333", size=10, symbol="circle-open")))
    if lif_kernel is not None:
        data.append(go.Scatter(x=np.arange(lif_kernel.shape[0]), y=lif_kernel, mode="lines",
                               name="LIF impulse response (no reset)", line=dict(color="#1f77b4", dash="dot")))
    top = float(max(np.max(taps), 0.0, np.max(float_taps) if float_taps is not None else 0.0))
    bottom = float(min(np.min(taps), 0.0, np.min(float_taps) if float_taps is not None else 0.0))
    pad = 0.25 * max(top - bottom, 1e-6)
    return go.Figure(data, layout(
        "effective kernel: H[t] = Σ_i w_i · X[t − lag_i]", 300,
        xaxis=axis(title="lag (steps into the past)", autorange="reversed"),
        yaxis=axis(title="weight w_i", range=[bottom - pad * (bottom < 0), top + pad], zeroline=True,
                   zerolinecolor="#999"),
        legend=dict(x=0.01, y=0.99, bgcolor="rgba(255,255,255,0.8)", bordercolor="#ddd", borderwidth=1)))


def receptive_field_figure(order: int, dilations: Sequence[int], reach: Sequence[Sequence[int]]) -> go.Figure:
    """Which lags a stack of MFPSN layers can see: row ``l`` marks the lags reachable after layer ``l``.

    Args:
        order: k. dilations: ``[L]`` dilation per layer. reach: ``[L]`` sorted reachable lags after each layer.
    """
    L = len(dilations)
    R = max((max(r) for r in reach if len(r)), default=0) + 1
    z = np.zeros((L, R))
    for l, lags in enumerate(reach):
        z[l, list(lags)] = 1
    ylabels = [f"after layer {l + 1} (d = {d})" for l, d in enumerate(dilations)]
    gaps = [lag for lag in range(R) if z[-1, lag] == 0]
    gap_text = "no gaps" if not gaps else f"gaps at lags {gaps[:10]}{' …' if len(gaps) > 10 else ''}"
    fig = go.Figure([go.Heatmap(z=z, x=np.arange(R), y=ylabels, colorscale=[[0, "#f0f0f0"], [1, "#d62728"]],
                                showscale=False, xgap=1, ygap=2, zmin=0, zmax=1,
                                hovertemplate="%{y}: lag %{x}, reachable = %{z}<extra></extra>")],
                    layout(f"receptive field: {R} steps after {L} layer(s), k = {order}<br>"
                           f"<span style='font-size:11px'>red = lag reachable; {gap_text}</span>",
                           max(190, 38 * L + 130), xaxis=axis(title="lag (steps into the past)", showgrid=False),
                           yaxis=axis(autorange="reversed", showgrid=False)))
    return fig


def ops_figure(rows: Mapping[str, tuple[float, float, float, float]], T: int, channels: int) -> go.Figure:
    """Operation counts and energy per sequence for the current setting.

    Args:
        rows: neuron name → ``(mul, shift, add, energy_pj)`` for all channels over T steps.
    """
    names = list(rows)
    xa2, ya2 = axis_ref(1, 2, 2)
    data = [go.Bar(x=names, y=[rows[n][j] for n in names], name=op, marker_color=colour)
            for j, (op, colour) in enumerate((("MUL", "#9467bd"), ("SHIFT", "#d62728"), ("ADD", "#7f7f7f")))]
    energy = [rows[n][3] for n in names]
    data.append(go.Bar(x=names, y=energy, marker_color=[NEURON_COLOURS.get(n, "#444") for n in names],
                       text=[f"{e:,.0f}" for e in energy], textposition="outside", showlegend=False, xaxis=xa2,
                       yaxis=ya2, cliponaxis=False))
    g = grid(1, 2, ("operations per sequence (log)", "energy in pJ, 45 nm estimate (log)"), gap=0.12)
    g["yaxis"].update(type="log", dtick=1)
    g["yaxis2"].update(type="log", dtick=1, range=[0, math.log10(max(max(energy), 10.0)) + 0.9])  # room for labels
    return go.Figure(data, layout(f"cost of one sequence: T = {T}, {channels} neuron(s)", 320, barmode="group",
                                  legend=dict(orientation="h", y=-0.2), **g))
