"""Plotly figures of event streams and spike trains (pure: arrays in, figures out).

Conventions: time in milliseconds on every axis; camera frames drawn with the origin at the top left
(y pointing down, as :class:`mfpsn.events.Events` stores it); ON events red, OFF events blue.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from mfpsn.app.plotstyle import BASE_LAYOUT, style

__all__ = ["ON_COLOUR", "OFF_COLOUR", "frame_figure", "spike_bin_figure", "scatter3d_figure", "raster_figure",
           "rate_figure", "empty_figure"]

ON_COLOUR = "#d62728"
OFF_COLOUR = "#1f77b4"


def empty_figure(message: str) -> go.Figure:
    """A blank figure that shows ``message`` in its middle (used before anything is loaded)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=14, color="#666"))
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=300, **BASE_LAYOUT)
    return fig


def frame_figure(frame: np.ndarray, title: str, sensor: tuple[int, int] | None = None) -> go.Figure:
    """One time bin of a camera recording, its axes in sensor pixels.

    Args:
        frame: ``[2, H', W']`` event counts, channel 0 = OFF, channel 1 = ON.
        title: figure title.
        sensor: the sensor's ``(width, height)`` when the frame was pooled down from it for display
            (``x' = x·W'//W``): each drawn cell sits over the block of sensor pixels it sums, so a 1280 × 720
            recording spans x 0–1279 whatever its display size; None when the frame is the sensor itself.
    The colour is ON − OFF per pixel: red where brightness rose, blue where it fell, white where nothing
    (or as much of both) happened.
    """
    diff = frame[1] - frame[0]
    lim = float(max(1.0, np.abs(diff).max()))
    h, w = diff.shape
    W, H = sensor or (w, h)
    dx, dy = W / w, H / h
    pooled = sensor is not None and (W, H) != (w, h)
    fig = go.Figure(go.Heatmap(
        z=diff, zmin=-lim, zmax=lim, zmid=0, x0=dx / 2 - 0.5, dx=dx, y0=dy / 2 - 0.5, dy=dy,
        colorscale=[[0.0, OFF_COLOUR], [0.5, "#ffffff"], [1.0, ON_COLOUR]],
        colorbar=dict(title="ON − OFF", thickness=12),
        hovertemplate=("x≈%{x:.0f}, y≈%{y:.0f}" if pooled else "x=%{x}, y=%{y}")
        + "<br>ON − OFF = %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", title="y (sensor pixel)")
    fig.update_xaxes(constrain="domain", title="x (sensor pixel)")
    if pooled:
        title += (f"<br><sup>{W} × {H} sensor pooled to {w} × {h} for display ({dx:.3g} × {dy:.3g} pixels per "
                  "cell)</sup>")
    fig.update_layout(title=title, height=440, **BASE_LAYOUT)
    return style(fig)


def spike_bin_figure(counts: np.ndarray, title: str) -> go.Figure:
    """Spike counts per input unit in one time bin of a spike train (``counts: [units]``)."""
    fig = go.Figure(go.Bar(x=np.arange(counts.shape[0]), y=counts, marker_color=ON_COLOUR,
                           hovertemplate="unit %{x}: %{y} spikes<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="unit (channel)", yaxis_title="spikes in this bin",
                      height=420, bargap=0, **BASE_LAYOUT)
    return style(fig)


def scatter3d_figure(t_ms: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, title: str, width: int,
                     height: int) -> go.Figure:
    """x-y-t point cloud of (already subsampled) events on a ``width × height`` sensor, whose full extent the x and
    y axes span; ON red, OFF blue. Rendered with WebGL."""
    fig = go.Figure()
    for pol, name, colour in ((1, "ON", ON_COLOUR), (0, "OFF", OFF_COLOUR)):
        m = p == pol
        fig.add_trace(go.Scatter3d(x=x[m], y=t_ms[m], z=y[m], mode="markers", name=name,
                                   marker=dict(size=1.5, color=colour, opacity=0.6)))
    fig.update_layout(title=title, height=420, legend=dict(itemsizing="constant"),
                      scene=dict(xaxis=dict(title="x (sensor pixel)", range=[0, width - 1]), yaxis_title="t (ms)",
                                 zaxis=dict(title="y (sensor pixel)", range=[height - 1, 0]), aspectmode="manual",
                                 aspectratio=dict(x=1, y=2, z=1)),
                      **BASE_LAYOUT)
    return style(fig)


def raster_figure(t_ms: np.ndarray, unit: np.ndarray, title: str) -> go.Figure:
    """Spike raster (one dot per spike; WebGL) of a spike train."""
    fig = go.Figure(go.Scattergl(x=t_ms, y=unit, mode="markers", marker=dict(size=2, color="#333"),
                                 hovertemplate="t=%{x:.1f} ms, unit %{y}<extra></extra>", name="spikes"))
    fig.update_layout(title=title, xaxis_title="t (ms)", yaxis_title="unit (channel)", height=420,
                      showlegend=False, **BASE_LAYOUT)
    return style(fig)


def rate_figure(t_ms: np.ndarray, on_rate: np.ndarray, off_rate: np.ndarray | None, title: str) -> go.Figure:
    """Event rate over time (events per ms = kHz); ON and OFF separately when ``off_rate`` is given."""
    fig = go.Figure()
    label = "ON" if off_rate is not None else "spikes"
    fig.add_trace(go.Scatter(x=t_ms, y=on_rate, mode="lines", name=label, line=dict(color=ON_COLOUR)))
    if off_rate is not None:
        fig.add_trace(go.Scatter(x=t_ms, y=off_rate, mode="lines", name="OFF", line=dict(color=OFF_COLOUR)))
    fig.update_layout(title=title, xaxis_title="t (ms)", yaxis_title="events per ms", height=300, **BASE_LAYOUT)
    return style(fig)
