"""Plotly figures of pretrained-model runs: class probabilities, per-layer activity, membranes, evidence.

Models are compared side by side: one column (or one bar colour) per model, labelled with its checkpoint name.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from plotly.subplots import make_subplots

from mfpsn.app.plotstyle import BASE_LAYOUT, style

__all__ = ["probabilities_figure", "layer_rates_figure", "layer_raster_figure", "membranes_figure",
           "evidence_figure", "input_figure"]

_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")
_CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                  "#17becf")


def probabilities_figure(classes: Sequence[str], probs: Mapping[str, np.ndarray], true_label: str | None) -> go.Figure:
    """Grouped bars: softmax probability per class for each model (``probs[model]: [classes]``)."""
    fig = go.Figure()
    for j, (name, p) in enumerate(probs.items()):
        fig.add_trace(go.Bar(x=list(classes), y=p, name=name, marker_color=_COLOURS[j % len(_COLOURS)]))
    title = "class probabilities" + (f" (true class: {true_label})" if true_label is not None else "")
    fig.update_layout(title=title, barmode="group", yaxis_title="probability", yaxis_range=[0, 1], height=360,
                      xaxis_tickangle=-45 if len(classes) > 10 else 0,
                      legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"), **BASE_LAYOUT)
    return style(fig)


def layer_rates_figure(rates: Mapping[str, Mapping[str, np.ndarray]]) -> go.Figure:
    """Firing rate over time of every neuron layer, one panel per model (``rates[model][layer]: [T]``)."""
    names = list(rates)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True)
    for j, name in enumerate(names, start=1):
        for i, (layer, r) in enumerate(rates[name].items()):
            fig.add_trace(go.Scatter(x=np.arange(r.shape[0]), y=r, mode="lines+markers", name=layer,
                                     legendgroup=layer, showlegend=j == 1,
                                     line=dict(color=_COLOURS[i % len(_COLOURS)])), row=1, col=j)
        fig.update_xaxes(title_text="time step t", row=1, col=j)
    fig.update_yaxes(title_text="fraction of neurons firing", row=1, col=1)
    fig.update_layout(title="per-layer firing rate over time", height=320, **BASE_LAYOUT)
    return style(fig)


def layer_raster_figure(spikes: Mapping[str, np.ndarray], layer: str) -> go.Figure:
    """Spike raster of the first neurons of one layer, one panel per model (``spikes[model]: [T, n]``)."""
    names = list(spikes)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[f"{n}: {layer}" for n in names], shared_yaxes=True)
    for j, name in enumerate(names, start=1):
        s = spikes[name]
        fig.add_trace(go.Heatmap(z=s.T, colorscale=[[0, "#ffffff"], [1, "#222222"]], showscale=False,
                                 hovertemplate="t=%{x}, neuron %{y}: %{z}<extra></extra>"), row=1, col=j)
        fig.update_xaxes(title_text="time step t", row=1, col=j)
    fig.update_yaxes(title_text="neuron (most active)", row=1, col=1)
    fig.update_layout(title=f"spike raster of layer {layer}: its most active neurons (black = spike)", height=360,
                      **BASE_LAYOUT)
    return style(fig)


def membranes_figure(traces: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray, float]]], neuron: int
                     ) -> go.Figure:
    """Membrane H[t] of one neuron per layer with its threshold, one panel per model.

    ``traces[model][layer] = (h [T], spikes [T], threshold)``.
    """
    names = list(traces)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for j, name in enumerate(names, start=1):
        for i, (layer, (h, s, th)) in enumerate(traces[name].items()):
            colour = _COLOURS[i % len(_COLOURS)]
            t = np.arange(h.shape[0])
            fig.add_trace(go.Scatter(x=t, y=h, mode="lines", name=f"{layer} H", legendgroup=layer,
                                     showlegend=j == 1, line=dict(color=colour)), row=1, col=j)
            fig.add_trace(go.Scatter(x=[0, t[-1]], y=[th, th], mode="lines", name=f"{layer} threshold",
                                     legendgroup=layer, showlegend=False,
                                     line=dict(color=colour, dash="dash", width=1)), row=1, col=j)
            on = s > 0
            fig.add_trace(go.Scatter(x=t[on], y=h[on], mode="markers", legendgroup=layer, showlegend=False,
                                     marker=dict(color=colour, symbol="circle-open", size=7)), row=1, col=j)
        fig.update_xaxes(title_text="time step t", row=1, col=j)
    fig.update_yaxes(title_text="H", row=1, col=1)
    fig.update_layout(title=f"membrane potential H of neuron {neuron} in each layer (dashed: threshold; circles: "
                            "spikes)", height=340,
                      legend=dict(orientation="h", y=-0.3), **BASE_LAYOUT)
    return style(fig)


def evidence_figure(classes: Sequence[str], evidence: Mapping[str, np.ndarray], top: int = 4) -> go.Figure:
    """Cumulative per-step class evidence (the readout summed up to t), the ``top`` final classes per model.

    ``evidence[model]: [T, classes]`` per-step readout. A class has the same colour in every panel (classes 10 and
    up, the German words of SHD, are dotted); the final winner of each model is drawn thicker.
    """
    names = list(evidence)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    shown: set[int] = set()
    for j, name in enumerate(names, start=1):
        cum = np.cumsum(evidence[name], axis=0)
        best = np.argsort(cum[-1])[::-1][:top]
        for rank, c in enumerate(best):
            c = int(c)
            fig.add_trace(go.Scatter(x=np.arange(cum.shape[0]), y=cum[:, c], mode="lines", name=f"{classes[c]}",
                                     legendgroup=classes[c], showlegend=c not in shown,
                                     line=dict(color=_CLASS_COLOURS[c % len(_CLASS_COLOURS)],
                                               dash="dot" if c >= 10 else "solid", width=3 if rank == 0 else 1.3)),
                          row=1, col=j)
            shown.add(c)
        fig.update_xaxes(title_text="time step t (10 ms bins)", row=1, col=j)
    fig.update_yaxes(title_text="evidence summed up to t", row=1, col=1)
    fig.update_layout(title=f"class evidence over time (top {top} per model; thick: the winner)",
                      height=400, legend=dict(orientation="h", y=-0.4), **BASE_LAYOUT)
    return style(fig)


def input_figure(inputs: Mapping[str, np.ndarray], windows: Mapping[str, str]) -> go.Figure:
    """The exact tensor each model sees (``inputs[model]``: ``[T, 2, H, W]`` camera frames or ``[T, C]`` spike-train
    bins, batch dimension dropped): camera inputs as ON and OFF event counts summed over T (one row per model),
    spike trains as a time × channel heatmap; ``windows[model]`` says which part of the recording it is. Models fed
    the same tensor share one row."""
    groups: dict[str, list[str]] = {}                  # models fed the same tensor share one row
    for n, x in inputs.items():
        same = next((g for g in groups if inputs[g].shape == x.shape and np.array_equal(inputs[g], x)), None)
        groups.setdefault(same or n, []).append(n)
    inputs = {" and ".join(members): inputs[first] for first, members in groups.items()}
    windows = {" and ".join(members): windows[first] for first, members in groups.items()}
    names = list(inputs)
    camera = all(inputs[n].ndim == 4 for n in names)
    cols = 2 if camera else 1
    titles = [f"{n}: {p}" for n in names for p in ("ON", "OFF")] if camera else list(names)
    fig = make_subplots(rows=len(names), cols=cols, subplot_titles=titles, vertical_spacing=0.12)
    for r, name in enumerate(names, start=1):
        x = inputs[name]
        if camera:
            for c in range(2):
                fig.add_trace(go.Heatmap(z=x[:, c].sum(0), colorscale="Greys", showscale=False,
                                         hovertemplate="x %{x}, y %{y}: %{z} events<extra></extra>"), row=r, col=c + 1)
                fig.update_yaxes(autorange="reversed", scaleanchor=f"x{(r - 1) * 2 + c + 1}", row=r, col=c + 1)
                fig.update_xaxes(constrain="domain", row=r, col=c + 1)
        else:
            fig.add_trace(go.Heatmap(z=x.T, colorscale="Greys", showscale=False,
                                     hovertemplate="bin %{x}, channel %{y}: %{z}<extra></extra>"), row=r, col=1)
            fig.update_xaxes(title_text="time bin", row=r, col=1)
            fig.update_yaxes(title_text="input channel", row=r, col=1)
    shape = "×".join(str(s) for s in inputs[names[0]].shape)
    where = "; ".join(dict.fromkeys(windows[n] for n in names))
    fig.update_layout(title=f"what the model sees: the input tensor [{shape}] (batch 1), summed over T<br><sup>"
                            f"{where}</sup>" if camera else
                      f"what the model sees: the input tensor [{shape}] (batch 1)<br><sup>{where}</sup>",
                      height=300 * len(names) + 80, **BASE_LAYOUT)
    return style(fig)
