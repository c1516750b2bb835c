"""Plotly figures of the model zoo (pure: cards, sidecars, models and result rows in, figures out).

- :func:`confusion_figure`: a checkpoint's confusion matrix on its whole test split (``NAME.eval.json``,
  :mod:`mfpsn.checkpoint_eval`), rows normalised to per-class accuracy, counts on hover.
- :func:`taps_figure`: the learned shift exponents of every MFPSN layer (eval taps ``w = ±2^e`` after the
  BatchNorm fold), one histogram per layer, zero taps counted apart.
- :func:`curves_figure`: the card's per-epoch history (training loss, training and test accuracy).
- :func:`scatter_figure`: every configuration of a task in ``results.jsonl``: mean test accuracy (± std over
  seeds) against parameters, marker area ∝ energy per inference.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from torch import nn

from mfpsn.app.plotstyle import axis, layout
from mfpsn.checkpoint_eval import CheckpointEval
from mfpsn.functional import pow2_exponents
from mfpsn.neurons import MFPSN, NEURONS

__all__ = ["confusion_figure", "taps_figure", "curves_figure", "scatter_figure", "scatter_rows", "tap_exponents"]


def confusion_figure(ev: CheckpointEval) -> go.Figure:
    """Heatmap of ``ev``: cell (true i, predicted j) = share of class i's test samples predicted as j (%)."""
    counts = np.asarray(ev.confusion, dtype=np.int64)
    rows = counts.sum(1, keepdims=True)
    share = np.where(rows > 0, 100.0 * counts / np.maximum(rows, 1), np.nan)
    names = list(ev.classes)
    text = [[f"{v:.0f}" if v >= 0.5 else "" for v in r] for r in np.nan_to_num(share)] if len(names) <= 20 else None
    fig = go.Figure(go.Heatmap(z=share, x=names, y=names, customdata=counts, colorscale="Blues", zmin=0, zmax=100,
                               text=text, texttemplate="%{text}" if text else None, textfont={"size": 10},
                               colorbar={"title": "%", "thickness": 12},
                               hovertemplate="true %{y}, predicted %{x}: %{customdata} samples (%{z:.1f} %)"
                                             "<extra></extra>"))
    worst = min(((a, n) for a, n in zip(ev.per_class_accuracy(), names) if a is not None), default=None)
    note = f"; weakest class {worst[1]} at {100 * worst[0]:.1f} %" if worst else ""
    fig.update_layout(**layout(f"confusion on the {ev.split} split: {100 * ev.accuracy:.2f} % of {ev.samples:,} "
                               f"samples<br><sup>rows: true class, normalised to 100 %{note}</sup>", 460,
                               xaxis=axis(title="predicted class", type="category", tickangle=0),
                               yaxis=axis(title="true class", type="category", autorange="reversed"),
                               margin={"l": 70, "r": 20, "t": 70, "b": 50}))
    return fig


def tap_exponents(model: nn.Module) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(layer name, exponents e of the non-zero eval taps, number of zero taps as a 0-d array)`` per MFPSN
    layer of ``model``; a layer without quantisation gives ``round(log2 |w|)``."""
    out = []
    for name, module in model.named_modules():
        if isinstance(module, MFPSN):
            sign, e = pow2_exponents(module.folded()[0].reshape(-1))
            nonzero = (sign != 0).numpy()
            out.append((name, e.numpy()[nonzero].astype(np.int64), np.asarray(int((~nonzero).sum()))))
    return out


def taps_figure(model: nn.Module, title: str) -> go.Figure:
    """Histogram of the shift exponents per MFPSN layer of ``model`` (grouped bars); a note when it has none."""
    layers = tap_exponents(model)
    fig = go.Figure()
    if not layers:
        fig.update_layout(**layout(f"{title}: no MFPSN layer (no shift exponents to show)", 200))
        return fig
    every = np.concatenate([e for _, e, _ in layers]) if any(e.size for _, e, _ in layers) else np.zeros(0, int)
    lo, hi = (int(every.min()), int(every.max())) if every.size else (0, 0)
    bins = list(range(lo, hi + 1))
    for i, (name, e, zeros) in enumerate(layers):
        counts = [int((e == b).sum()) for b in bins]
        fig.add_trace(go.Bar(x=[str(b) for b in bins] + ["zero"], y=counts + [int(zeros)],
                             name=f"layer {i + 1}", hovertemplate=f"layer {i + 1} ({name}): " +
                             "e = %{x}: %{y} taps<extra></extra>"))
    fig.update_layout(**layout(f"{title}: learned tap exponents (w = ±2^e) per MFPSN layer<br><sup>eval taps after "
                               "the BatchNorm fold; 'zero': taps quantised to 0</sup>", 340,
                               xaxis=axis(title="shift exponent e", type="category"),
                               yaxis=axis(title="taps"), barmode="group",
                               legend={"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"},
                               margin={"l": 60, "r": 20, "t": 70, "b": 45}))
    return fig


def curves_figure(card: dict[str, Any]) -> go.Figure:
    """Training loss (right axis) and training/test accuracy (%) per epoch from ``card["history"]``."""
    history = card.get("history") if isinstance(card.get("history"), list) else []
    history = [h for h in history if isinstance(h, dict) and "epoch" in h]
    fig = go.Figure()
    if not history:
        fig.update_layout(**layout(f"{card.get('name', '?')}: the card holds no per-epoch history", 200))
        return fig
    ep = [h["epoch"] for h in history]
    for key, label, dash in (("train_accuracy", "training accuracy", "dot"), ("test_accuracy", "test accuracy",
                                                                               "solid")):
        fig.add_trace(go.Scatter(x=ep, y=[100 * h[key] if key in h else None for h in history], name=label,
                                 mode="lines+markers", line={"dash": dash},
                                 customdata=[h.get("test_samples") for h in history],
                                 hovertemplate="epoch %{x}: %{y:.2f} %" + (" (test on %{customdata} samples)"
                                                                          if key == "test_accuracy" else "")
                                               + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=ep, y=[h.get("train_loss") for h in history], name="training loss", yaxis="y2",
                             mode="lines+markers", line={"color": "#888"},
                             hovertemplate="epoch %{x}: loss %{y:.4f}<extra></extra>"))
    fig.update_layout(**layout(f"{card.get('name', '?')}: training curves<br><sup>test accuracy on the first "
                               "epochs' evaluation subset, the whole split at the last</sup>", 340,
                               xaxis=axis(title="epoch", dtick=1), yaxis=axis(title="accuracy (%)"),
                               yaxis2={"title": "loss", "overlaying": "y", "side": "right", "showgrid": False},
                               legend={"orientation": "h", "x": 0, "y": -0.35, "yanchor": "top"},
                               margin={"l": 60, "r": 60, "t": 70, "b": 45}))
    return fig


def _config_label(r: dict[str, Any]) -> str:
    label = r.get("label")
    if label:
        return str(label)
    neuron = str(r.get("neuron", "?"))
    return f"{neuron}_k{r['order']}" if neuron == "mfpsn" and r.get("order") else neuron


def scatter_rows(results: Sequence[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    """One entry per (protocol, group, configuration) of ``task``: mean/std accuracy (%), ``seeds`` = runs (seeds,
    or the folds of a leave-one-speaker-out group), parameters,
    mean energy per inference (nJ, or None when no row recorded it)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        if r.get("task") == task and isinstance(r.get("test_accuracy"), (int, float)) and r.get("n_parameters"):
            groups[(str(r.get("protocol") or "–"), str(r.get("group")), _config_label(r))].append(r)
    out = []
    for (protocol, group, label), rows in sorted(groups.items()):
        acc = np.array([100 * r["test_accuracy"] for r in rows])
        energy = [r["energy_nj_per_sample"] for r in rows if isinstance(r.get("energy_nj_per_sample"), (int, float))]
        out.append({"protocol": protocol, "group": group, "label": label, "neuron": str(rows[0].get("neuron", "?")),
                    "seeds": len(rows), "mean": float(acc.mean()), "std": float(acc.std(ddof=1)) if len(rows) > 1
                    else 0.0, "parameters": int(rows[0]["n_parameters"]),
                    "energy_nj": float(np.mean(energy)) if energy else None})
    return out


def scatter_figure(results: Sequence[dict[str, Any]], task: str) -> go.Figure:
    """Accuracy against parameters for every configuration of ``task`` (colour: neuron; area: energy)."""
    entries = scatter_rows(results, task)
    fig = go.Figure()
    if not entries:
        fig.update_layout(**layout(f"no result rows for task {task!r} in results.jsonl", 200))
        return fig
    energies = [e["energy_nj"] for e in entries if e["energy_nj"]]
    top = max(energies) if energies else 1.0
    for neuron in dict.fromkeys(e["neuron"] for e in entries):
        sel = [e for e in entries if e["neuron"] == neuron]
        rec = NEURONS[neuron] if neuron in NEURONS.kinds else None
        size = [8 + 22 * math.sqrt(e["energy_nj"] / top) if e["energy_nj"] else 8 for e in sel]
        fig.add_trace(go.Scatter(
            x=[e["parameters"] for e in sel], y=[e["mean"] for e in sel], mode="markers",
            name=rec.label if rec is not None else neuron,
            marker={"size": size, "color": rec.colour if rec is not None else None, "opacity": 0.75,
                    "line": {"width": 1, "color": "#333"}},
            error_y={"type": "data", "array": [e["std"] for e in sel], "thickness": 1},
            customdata=[[e["label"], e["protocol"], e["group"], e["seeds"], e["std"],
                         f"{e['energy_nj']:,.0f} nJ" if e["energy_nj"] else "not recorded"] for e in sel],
            hovertemplate="%{customdata[0]} (%{customdata[1]}, %{customdata[2]}): %{y:.2f} ± %{customdata[4]:.2f} % "
                          "over %{customdata[3]} run(s)<br>%{x:,} parameters, energy %{customdata[5]}"
                          "<extra></extra>"))
    fig.update_layout(**layout(f"{task}: accuracy, parameters and energy of every configuration trained<br><sup>"
                               "mean ± std over runs (seeds, or speakers left out); marker area ∝ energy per inference (45 nm figures)</sup>",
                               420, xaxis=axis(title="parameters", type="log"), yaxis=axis(title="test accuracy (%)"),
                               legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
                               margin={"l": 60, "r": 20, "t": 70, "b": 45}))
    return fig
