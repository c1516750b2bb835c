"""Draw a digit: a sketch or an image becomes the 784-step pixel sequence of the sMNIST/psMNIST models,
which run side by side (MFPSN and LIF by default) with their class probabilities over time.

:func:`classify_image` is the pure core (tested directly); :func:`classify_drawing` is the app callback
behind the named endpoint ``/classify_drawing`` (a Gradio sketchpad value or an uploaded image).

What one model run returns (:class:`DrawingRun`): the input sequence as fed ``[784]``, the final class
probabilities ``[10]``, the probabilities after every prefix ``[784, 10]`` (softmax of the mean readout
over the first t + 1 steps: the logits the model would give if the sequence stopped there), membrane
and spikes of one chosen neuron in every layer, and the receptive field of an MFPSN stack (steps).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from mfpsn.app.checkpoint_cache import CheckpointCache, named_checkpoint
from mfpsn.app.plotstyle import MODEL_COLOURS, axis, layout
from mfpsn.card_inputs import image_input
from mfpsn.checkpoints import SHIPPED_DIR, available
from mfpsn.data.pixels import STEPS, PixelSequence

__all__ = ["DrawingRun", "drawing_checkpoints", "classify_image", "sketch_to_array", "classify_drawing",
           "probability_figure", "sequence_figure", "dynamics_figure"]

PIXEL_TASKS = ("smnist", "psmnist")


@dataclass(frozen=True)
class DrawingRun:
    """One model's answer for one drawing (see the module docstring)."""

    name: str
    neuron: str
    task: str
    sequence: np.ndarray        # [784] the input as fed
    probs: np.ndarray           # [10]
    probs_over_time: np.ndarray  # [784, 10]
    classes: list[str]
    membranes: dict[str, tuple[np.ndarray, np.ndarray, float]]  # layer → (h [T], spikes [T], v_th)
    receptive_field: int | None
    card_accuracy: float

    @property
    def prediction(self) -> str:
        return self.classes[int(self.probs.argmax())]

    def sure_at(self, threshold: float = 0.9) -> int | None:
        """First step from which the final answer keeps a probability ≥ ``threshold`` (None: never)."""
        k = int(self.probs.argmax())
        ok = self.probs_over_time[:, k] >= threshold
        if not ok[-1]:
            return None
        bad = np.nonzero(~ok)[0]
        return 0 if bad.size == 0 else int(bad[-1]) + 1


def drawing_checkpoints(directory: Path = SHIPPED_DIR) -> list[str]:
    """Shipped checkpoints that take a drawn digit (tasks smnist, psmnist), MFPSN first."""
    names = [i for i in available(directory) if i.task in PIXEL_TASKS]
    order = {"mfpsn": 0, "lif": 1}
    return [i.name for i in sorted(names, key=lambda i: (i.task != "smnist", order.get(i.neuron, 2), i.name))]




def _receptive_field(model) -> int | None:
    from mfpsn.neurons import MFPSN

    layers = [m for m in model.neuron_layers().values() if isinstance(m, MFPSN)]
    if not layers:
        return None
    return 1 + sum((m.order - 1) * m.dilation for m in layers)


@torch.no_grad()
def classify_image(image: np.ndarray, names: Sequence[str], *, neuron: int = 0,
                   directory: Path = SHIPPED_DIR, cache: CheckpointCache | None = None) -> list[DrawingRun]:
    """Run ``image`` (any grayscale/RGB(A) array; see :func:`mfpsn.card_inputs.image_input`) through each
    checkpoint in ``names``; ``neuron`` is the index of the neuron whose membrane is recorded in every
    layer (checked against the layer width)."""
    runs = []
    for name in names:
        ckpt = named_checkpoint(name, directory, cache)
        card, model = ckpt.card, ckpt.model.eval()
        if card["task"] not in PIXEL_TASKS:
            raise ValueError(f"checkpoint {name!r} (task {card['task']}) does not take a drawn digit")
        x = image_input(image, card)                       # [784, 1, 1]
        per_step, traces = model.evidence(x, record=True)  # one pass: traces and per-step evidence
        logits, evidence = model.logits_from_evidence(per_step), per_step[:, 0].float()  # [1, 10], [784, 10]
        steps = torch.arange(1, evidence.shape[0] + 1, dtype=torch.float32)[:, None]
        over_time = torch.softmax(evidence.cumsum(0) / steps, dim=1)
        membranes = {}
        for layer, tr in traces.items():
            width = tr.h.shape[2]
            if not 0 <= neuron < width:
                raise ValueError(f"neuron: expected an index in 0..{width - 1} (layer {layer} has {width} neurons), "
                                 f"found {neuron}")
            v_th = tr.v_th.reshape(-1)
            v = float(v_th[neuron] if v_th.numel() > 1 else v_th[0])
            membranes[layer] = (tr.h[:, 0, neuron].numpy(), tr.spikes[:, 0, neuron].numpy(), v)
        runs.append(DrawingRun(name, card["model"]["neuron"], card["task"], x[:, 0, 0].numpy(),
                               torch.softmax(logits[0].float(), 0).numpy(), over_time.numpy(), list(card["classes"]),
                               membranes, _receptive_field(model), float(card["test_accuracy"])))
    return runs


def sketch_to_array(value: Any) -> np.ndarray | None:
    """A Gradio ``Sketchpad``/``ImageEditor`` value (dict with ``composite``), an image array or a file path
    → an array; None when nothing was drawn."""
    if value is None:
        return None
    if isinstance(value, dict):
        comp = value.get("composite")
        if comp is None:
            layers = [v for v in value.get("layers") or [] if v is not None]
            comp = layers[-1] if layers else value.get("background")
        value = comp
    if isinstance(value, (str, Path)):
        from mfpsn.card_inputs import read_image

        value = read_image(value)
    if value is None:
        return None
    a = np.asarray(value)
    if a.ndim == 3 and a.shape[2] == 4 and not a[..., 3].any():
        return None  # a transparent, empty canvas
    return a


# ------------------------------------------------------------------------------------------------ figures
def sequence_figure(image28: np.ndarray, run: DrawingRun | None) -> go.Figure:
    """The 28x28 digit the models see, and its 784-step sequence as fed to the first model."""
    fig = go.Figure()
    fig.add_trace(go.Heatmap(z=image28[::-1], colorscale="gray", showscale=False, xaxis="x", yaxis="y",
                             hovertemplate="row %{customdata}<extra></extra>",
                             customdata=np.repeat(np.arange(27, -1, -1)[:, None], 28, 1)))
    if run is not None:
        fig.add_trace(go.Scattergl(x=np.arange(STEPS), y=run.sequence, mode="lines", line=dict(width=1, color="#333"),
                                   xaxis="x2", yaxis="y2", name="pixel value",
                                   hovertemplate="step %{x}: %{y:.2f}<extra></extra>"))
    order = "permuted order" if run is not None and run.task == "psmnist" else "row-major order"
    fig.update_layout(**layout(f"the 28×28 digit the models see, and the sequence fed one pixel per step ({order})",
                               300, showlegend=False,
                               xaxis=axis(domain=[0, 0.22], showticklabels=False, scaleanchor="y"),
                               yaxis=axis(domain=[0, 1], showticklabels=False),
                               xaxis2=axis(domain=[0.3, 1], title="time step t", anchor="y2"),
                               yaxis2=axis(domain=[0, 1], title="pixel / 255", anchor="x2", range=[-0.05, 1.05])))
    return fig


def probability_figure(runs: Sequence[DrawingRun]) -> go.Figure:
    """Probability of each model's final answer over time (softmax of the mean readout of each prefix),
    with the receptive field of the MFPSN stack marked at the start."""
    fig = go.Figure()
    for j, run in enumerate(runs):
        k = int(run.probs.argmax())
        colour = MODEL_COLOURS[j % len(MODEL_COLOURS)]
        fig.add_trace(go.Scattergl(x=np.arange(STEPS), y=run.probs_over_time[:, k], mode="lines",
                                   line=dict(color=colour, width=2),
                                   name=f"{run.name}: p('{run.classes[k]}')",
                                   hovertemplate="t %{x}: %{y:.3f}<extra></extra>"))
        runner = np.argsort(run.probs)[-2]
        fig.add_trace(go.Scattergl(x=np.arange(STEPS), y=run.probs_over_time[:, runner], mode="lines",
                                   line=dict(color=colour, width=1, dash="dot"),
                                   name=f"{run.name}: p('{run.classes[runner]}') (runner-up)"))
        if run.receptive_field:
            fig.add_vrect(x0=0, x1=run.receptive_field, fillcolor=colour, opacity=0.08, line_width=0)
            fig.add_annotation(x=run.receptive_field, y=1.0, text=f"MFPSN receptive field {run.receptive_field} steps",
                               showarrow=False, xanchor="left", yanchor="top", font=dict(size=11, color=colour))
    fig.update_layout(**layout("when does each model become sure? probability of its answer after t steps", 380,
                               xaxis=axis(title="time step t (pixels seen)", range=[0, STEPS]),
                               yaxis=axis(title="probability", range=[0, 1.02]),
                               margin={"l": 60, "r": 20, "t": 50, "b": 110},
                               legend=dict(orientation="h", x=0, y=-0.3, yanchor="top")))
    return fig


def dynamics_figure(runs: Sequence[DrawingRun], neuron: int) -> go.Figure:
    """Membrane (line) and spikes (ticks) of neuron ``neuron`` in every layer, one row per layer, models
    overlaid; the threshold dashed."""
    layers = list(runs[0].membranes) if runs else []
    n = max(1, len(layers))
    gap = 0.04
    h = (1 - gap * (n - 1)) / n
    fig = go.Figure()
    kw: dict[str, Any] = {}
    for i, layer in enumerate(layers):
        xa, ya = ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")
        top = 1 - i * (h + gap)
        kw["xaxis" if i == 0 else f"xaxis{i + 1}"] = axis(anchor=ya, matches="x" if i else None,
                                                         showticklabels=i == n - 1,
                                                         title="time step t" if i == n - 1 else None)
        kw["yaxis" if i == 0 else f"yaxis{i + 1}"] = axis(domain=[max(0.0, top - h), min(1.0, top)], anchor=xa,
                                                         title=layer)
        for j, run in enumerate(runs):
            hv, sp, vth = run.membranes[layer]
            colour = MODEL_COLOURS[j % len(MODEL_COLOURS)]
            fig.add_trace(go.Scattergl(x=np.arange(len(hv)), y=hv, mode="lines", line=dict(width=1, color=colour),
                                       name=run.name, legendgroup=run.name, showlegend=i == 0, xaxis=xa, yaxis=ya))
            t = np.nonzero(sp)[0]
            fig.add_trace(go.Scattergl(x=t, y=np.full(t.size, vth), mode="markers", marker=dict(symbol="line-ns-open",
                                       size=8, color=colour), name=f"{run.name} spikes", legendgroup=run.name,
                                       showlegend=False, xaxis=xa, yaxis=ya,
                                       hovertemplate="spike at t %{x}<extra></extra>"))
    fig.update_layout(**layout(f"membrane H[t] and spikes of neuron {neuron} in every layer (ticks at the threshold)",
                               120 + 130 * n, legend=dict(orientation="h", x=0, y=1.06, yanchor="bottom"), **kw))
    return fig


def _summary(runs: Sequence[DrawingRun]) -> str:
    lines = ["| model | neuron | answer | p | sure (p ≥ 0.9) from step | receptive field | card test accuracy |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        sure = r.sure_at(0.9)
        lines.append(f"| {r.name} | {r.neuron} | **{r.prediction}** | {r.probs.max():.2f} | "
                     f"{'never' if sure is None else sure} | "
                     f"{'-' if r.receptive_field is None else f'{r.receptive_field} steps'} | "
                     f"{100 * r.card_accuracy:.1f} % |")
    return "\n".join(lines)


def classify_drawing(sketch: Any, upload: Any, left: str | None, right: str | None, neuron: float = 0,
                     directory: Path = SHIPPED_DIR, cache: CheckpointCache | None = None):
    """App callback (``/classify_drawing``): returns (summary markdown, sequence figure, probability
    figure, dynamics figure). The upload wins over the sketch when both are given."""
    image = sketch_to_array(upload) if upload is not None else sketch_to_array(sketch)
    if image is None:
        raise ValueError("draw a digit on the sketchpad or upload an image first")
    names = [n for n in (left, right) if n]
    if not names:
        raise ValueError("choose at least one sMNIST/psMNIST checkpoint")
    runs = classify_image(image, names, neuron=int(neuron), directory=directory, cache=cache)
    first = PixelSequence.from_dict(named_checkpoint(names[0], directory, cache).card["input"]["transform"])
    image28 = first.image_of(torch.from_numpy(runs[0].sequence)).numpy()
    return (_summary(runs), sequence_figure(image28, runs[0]), probability_figure(runs),
            dynamics_figure(runs, int(neuron)))


def classify_drawing_ui(sketch: Any = None, upload: Any = None, left: str | None = None, right: str | None = None,
                        neuron: float = 0, cache: CheckpointCache | None = None):
    """:func:`classify_drawing` for the app: a bad input becomes a clean ``gr.Error`` message."""
    import gradio as gr

    try:
        return classify_drawing(sketch, upload, left, right, neuron, cache=cache)
    except (ValueError, OSError) as exc:
        raise gr.Error(str(exc)) from None
