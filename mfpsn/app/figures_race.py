"""Plotly figures of a live speed race (pure: timings in, figures out).

The time and speed-up figures put T on a categorical axis (one evenly spaced tick per T raced, labelled with that
T) and time or speed-up on a log axis with ticks at the powers of ten. Markers and bars are medians; error bars
span the interquartile range of the repeats (for a speed-up: the ratio of the two ranges, best and worst case).
The throughput figure is the scaling view: log–log, T at its true position (ticks at the T raced), and the
fitted slope of time against T per contender.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from mfpsn.app.plotstyle import BASE_LAYOUT, log_axis, style
from mfpsn.app.race_stats import Timing
from mfpsn.bench.scaling import fit_slope

__all__ = ["time_figure", "speedup_figure", "throughput_figure", "scaling_figure"]

_LEGEND = dict(orientation="h", x=0, y=-0.22, yanchor="top")


def _t_axis(T_values: Sequence[int]) -> dict:
    labels = [str(t) for t in T_values]
    return dict(type="category", categoryorder="array", categoryarray=labels, title="time steps T")


def _median_and_bars(cells: Sequence[Timing | None]) -> tuple[list, list, list]:
    med = [c.median if c else None for c in cells]
    up = [c.q3 - c.median if c else None for c in cells]
    down = [c.median - c.q1 if c else None for c in cells]
    return med, up, down


def time_figure(T_values: Sequence[int], times: Mapping[str, Sequence[Timing | None]], N: int, mode: str,
                repeats: int) -> go.Figure:
    """Median time per call against T, one line per contender (dotted: serial LIF), IQR error bars."""
    fig = go.Figure()
    x = [str(t) for t in T_values]
    for name, cells in times.items():
        med, up, down = _median_and_bars(cells)
        fig.add_trace(go.Scatter(x=x, y=med, mode="lines+markers", name=name,
                                 error_y=dict(type="data", symmetric=False, array=up, arrayminus=down),
                                 line=dict(dash="dot" if name.startswith("LIF") else "solid")))
    fig.update_layout(title=f"time per call, N = {N} neurons<br><sup>{mode}; median, bars: IQR of {repeats} "
                            "repeats</sup>",
                      xaxis=_t_axis(T_values), yaxis=log_axis("time per call (ms)"), height=420, legend=_LEGEND,
                      **BASE_LAYOUT)
    return style(fig)


def speedup_figure(T_values: Sequence[int], times: Mapping[str, Sequence[Timing | None]], baseline: str | None
                   ) -> go.Figure:
    """Speed-up of every other contender over ``baseline`` (a serial LIF) per T, grouped bars with range bars."""
    fig = go.Figure()
    if baseline is None:
        fig.update_layout(title="speed-up: include a serial LIF contender to compare against it", height=420,
                          **BASE_LAYOUT)
        return fig
    x = [str(t) for t in T_values]
    base = times[baseline]
    labelled = len(times) <= 5  # values written on the bars while they are wide enough; hover shows them always
    for name, cells in times.items():
        if name == baseline:
            continue
        ratio, up, down = [], [], []
        for b, c in zip(base, cells):
            if b is None or c is None:
                ratio.append(None), up.append(None), down.append(None)
                continue
            r = b.median / c.median
            ratio.append(r)
            up.append(b.q3 / c.q1 - r)
            down.append(r - b.q1 / c.q3)
        fig.add_trace(go.Bar(x=x, y=ratio, name=name, text=[f"{r:.3g}×" if r and labelled else "" for r in ratio],
                             hovertemplate="T = %{x}: %{y:.3g}× " + f"({name})<extra></extra>",
                             textposition="outside", textangle=-90, textfont=dict(size=10), cliponaxis=False,
                             error_y=dict(type="data", symmetric=False, array=up, arrayminus=down)))
    fig.add_hline(y=1, line=dict(color="#555", dash="dash"))
    ratios = [v for tr in fig.data for v in tr.y if v]
    top = np.log10(max(ratios + [1.0])) + 0.5
    bottom = np.log10(min(ratios + [1.0])) - 0.3
    fig.update_layout(title=f"speed-up over {baseline}<br><sup>× faster; above the dashed line = faster than "
                            "it</sup>",
                      xaxis=_t_axis(T_values), yaxis=dict(log_axis("speed-up (×)"), range=[bottom, top]),
                      barmode="group", height=420, legend=_LEGEND, **BASE_LAYOUT)
    return style(fig)


def throughput_figure(T_values: Sequence[int], times: Mapping[str, Sequence[Timing | None]], N: int) -> go.Figure:
    """Throughput (neuron-steps per second, from the medians) against T on log–log axes, one line per contender,
    each labelled with the fitted slope of its time against T (time ∝ T^s: s ≈ 1 is linear scaling)."""
    fig = go.Figure()
    for name, cells in times.items():
        pts = [(t, c.median) for t, c in zip(T_values, cells) if c is not None]
        if not pts:
            continue
        slope = fit_slope(pts)
        label = f"{name}: time ∝ T^{slope:.2f}" if slope is not None else name
        fig.add_trace(go.Scatter(x=[t for t, _ in pts], y=[t * N * 1e3 / m for t, m in pts], mode="lines+markers",
                                 name=label, line=dict(dash="dot" if name.startswith("LIF") else "solid"),
                                 hovertemplate="T = %{x}: %{y:.3g} neuron-steps/s" + f" ({name})<extra></extra>"))
    ticks = [int(t) for t in T_values]
    fig.update_layout(title=f"throughput and scaling with T, N = {N} neurons<br><sup>log–log; legend: the "
                            "least-squares slope of log time on log T (1 = linear in T)</sup>",
                      xaxis=dict(type="log", title="time steps T", tickvals=ticks, ticktext=[str(t) for t in ticks]),
                      yaxis=log_axis("neuron-steps per second"), height=420, legend=_LEGEND, **BASE_LAYOUT)
    return style(fig)


def scaling_figure(rows: Sequence[Mapping], machine: str) -> go.Figure:
    """Recorded scaling (``python -m mfpsn.bench`` rows over T at fixed N and over N at fixed T): forward +
    backward time against T (left) and against N (right) on log–log axes, one line per subject, the legend
    giving each fitted slope (:func:`mfpsn.bench.scaling.scaling_rows`). Neuron subjects only (the copy floors and
    the bare filters are in the markdown tables beside the JSON)."""
    from mfpsn.bench.scaling import scaling_rows

    table = [t for t in scaling_rows(list(rows)) if not t["impl"].startswith(("copy", "filter"))]  # neurons only
    fig = go.Figure()
    if not table:
        fig.update_layout(title="recorded scaling: none recorded (results/*/scaling_*.json)", height=200,
                          **BASE_LAYOUT)
        return fig
    axes = {"T": ("x", "y"), "N": ("x2", "y2")}
    palette = ("#d62728", "#ff7f0e", "#1f77b4", "#17becf", "#9467bd", "#2ca02c", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22")
    colour = {impl: palette[i % len(palette)] for i, impl in enumerate(dict.fromkeys(t["impl"] for t in table))}
    for t in table:
        xa, ya = axes[t["axis"]]
        key, slope = (1, t["fwdbwd_slope"]) if t["fwdbwd_slope"] is not None else (0, t["fwd_slope"])
        xs = [x for x in t["points"] if t["points"][x][key] is not None]
        if len(xs) < 2:
            continue
        other = "N" if t["axis"] == "T" else "T"
        fig.add_trace(go.Scatter(x=xs, y=[t["points"][x][key] for x in xs], mode="lines+markers", xaxis=xa,
                                 yaxis=ya, name=f"{t['impl']} over {t['axis']} ({other} = {t['fixed']:,}): "
                                                f"∝ {t['axis']}^{slope:.2f}",
                                 legendgroup=t["impl"], marker=dict(color=colour[t["impl"]]),
                                 line=dict(color=colour[t["impl"]],
                                           dash="dot" if "LIF" in t["impl"] or "lif" in t["impl"] else "solid")))
    ticks = {a: sorted({x for t in table if t["axis"] == a for x in t["points"]}) for a in ("T", "N")}
    fig.update_layout(
        title=f"recorded scaling on {machine}: training step (forward + backward) time<br><sup>log–log; legend: the "
              "least-squares slope (1 = linear)</sup>",
        xaxis=dict(type="log", domain=[0, 0.46], title="time steps T", tickvals=ticks["T"],
                   ticktext=[f"{v:,}" for v in ticks["T"]]),
        xaxis2=dict(type="log", domain=[0.54, 1], title="neurons N", tickvals=ticks["N"],
                    ticktext=[f"{v:,}" for v in ticks["N"]], anchor="y2"),
        yaxis=log_axis("time (ms)"), yaxis2=dict(log_axis("time (ms)"), anchor="x2"), height=520,
        legend=dict(orientation="h", x=0, y=-0.25, yanchor="top", font=dict(size=10)), **BASE_LAYOUT)
    return style(fig)
