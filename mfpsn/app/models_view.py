"""Run pretrained checkpoints on a recording (the ``run_model`` endpoint), models side by side.

The recording is turned into the model's input exactly as its card's ``input.binning`` says:

- ``events_to_frames n_bins`` (camera tasks): ``n_bins = T`` equal bins over ``time_range_us`` (a list, from the
  first event) or over ``[first event, last event]``; a sensor bigger than the model's input is centre-cropped to it (the bundled DVS128 and
  DAVIS346 samples hold a centred 34×34 digit), a smaller one is centred on a zero canvas; both with a warning.
- ``spike_train_to_bins`` (spike-train tasks): ``n_bins`` bins of ``bin_us`` from ``t_start_us``, ``pool``
  neighbouring channels summed (700 → 140).

The models run on the CPU with ``record=True``, which returns one :class:`~mfpsn.neurons.NeuronTrace` per
neuron layer; spike-train networks also give their per-time-step class evidence (``evidence``). Under each
prediction, :func:`mfpsn.app.ood.ood_notes` says how the recording differs from the model's training data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch

from mfpsn.app import figures_models as fm
from mfpsn.app.events_view import DETECT, read_recording, resolve_source
from mfpsn.app.store import ReadCache
from mfpsn.app.figures_events import empty_figure
from mfpsn.app.limits import LIMITS, Limits, check_choice, check_int
from mfpsn.app.ood import ood_notes, training_stats
from mfpsn.app.checkpoint_cache import CheckpointCache, load_checkpoint
from mfpsn.checkpoints import SHIPPED_DIR, Checkpoint, CheckpointError
from mfpsn.models import EvidenceNet, counting
from mfpsn.events import Events
from mfpsn.card_inputs import CardInputError, events_input, events_transform, input_window
from mfpsn.events.frames import ToSpikeBins

__all__ = ["WINDOWS", "window_origin", "model_input", "compatible", "compatible_checkpoints", "suggest_checkpoints", "run_checkpoint",
           "run_model", "run_on_recording", "file_true_class", "cleared_results", "NO_RESULTS"]

_RASTER_NEURONS = 64
NO_RESULTS = "No model results yet for this recording: press **Run the models**."


def file_true_class(meta: dict[str, Any], classes: list[str], notes: list[str]) -> str | None:
    """The model's class that the file's label names, or None. A spike-train file that also names its class
    (``key``, SHD's ``extra/keys[label]``) must name the word of that class in SHD's order (English 0–9, German
    10–19), otherwise its labels count something else (e.g. the synthetic sweeps 0–2) and ``notes`` says so."""
    from mfpsn.data.spoken_digits import KEYS

    label = meta.get("label")
    if label is None or not 0 <= int(label) < len(classes):
        return None
    key = meta.get("key")
    if key is not None and len(classes) == len(KEYS) and str(key).replace("fuenf", "fünf") != KEYS[int(label)]:
        notes.append(f"the file labels this sample {int(label)} ({key!r}), which is not the model's class "
                     f"{classes[int(label)]!r} ({KEYS[int(label)]!r}): the file's classes are not the model's, so "
                     "no true class is shown")
        return None
    return classes[int(label)]


def cleared_results() -> tuple[go.Figure, go.Figure, go.Figure, go.Figure, go.Figure, go.Figure, str]:
    """The outputs of :func:`run_model` before it ran: blank figures and a summary saying so (a new recording,
    or a failed load, clears the results computed for the previous one)."""
    blank = empty_figure("run the models to see this plot")
    return blank, blank, blank, blank, blank, blank, NO_RESULTS


def compatible(card: dict[str, Any], events: Events) -> bool:
    """Whether a checkpoint's input fits the recording (spike-train model for spike trains, frames for cameras)."""
    try:
        transform = events_transform(card)
    except CardInputError:
        return False
    return isinstance(transform, ToSpikeBins) == (events.height == 1)


WINDOWS = ("centre", "most active", "at x0, y0")  # where a camera model's input window sits on a bigger sensor


def window_origin(window: str, x0: float, y0: float) -> tuple[int, int] | str | None:
    """The ``origin`` of :func:`mfpsn.card_inputs.events_input` for the window control and its x0, y0 fields."""
    window = check_choice("model window", window, WINDOWS)
    if window == "centre":
        return None
    if window == "most active":
        return "active"
    return check_int("window x0", x0, 0, 65_535), check_int("window y0", y0, 0, 65_535)


def model_input(events: Events, card: dict[str, Any], notes: list[str], limits: Limits = LIMITS,
                origin: tuple[int, int] | str | None = None) -> torch.Tensor:
    """The model input ``[T, 1, ...]`` float32 for ``events`` following the card
    (:func:`mfpsn.card_inputs.events_input`, the one path ``python -m mfpsn.predict`` takes too); ``origin``
    places a camera model's window on a bigger sensor (None: the centre)."""
    try:
        return events_input(events, card, notes, max_bytes=limits.frame_max_bytes, origin=origin)
    except CardInputError as exc:
        raise gr.Error(str(exc)) from None


# Models trained on real data first (real N-MNIST, MNIST digits through the saccade simulator, SHD), then the
# synthetic sets (scikit-learn 8x8 digits as events, espeak-ng voices).
TASK_PREFERENCE = ("nmnist", "nmnist-sim", "shd", "fsdd", "dvs-digits", "spoken-digits")


def compatible_checkpoints(events: Events, directory: Path = SHIPPED_DIR) -> tuple[list[str], str | None, str | None]:
    """Checkpoints that fit ``events``: (all names, real-data tasks first (:data:`TASK_PREFERENCE`), the suggested
    MFPSN one, the suggested LIF one)."""
    from mfpsn.checkpoints import available, read_card

    fits = []
    for info in available(directory):
        try:
            if compatible(read_card(info.path), events):
                fits.append(info)
        except CheckpointError:
            continue
    fits.sort(key=lambda i: (TASK_PREFERENCE.index(i.task) if i.task in TASK_PREFERENCE else len(TASK_PREFERENCE),
                             i.name))
    names = [i.name for i in fits]
    left = next((i.name for i in fits if i.neuron == "mfpsn"), names[0] if names else None)
    right = next((i.name for i in fits if i.neuron == "lif"), names[-1] if names else None)
    return names, left, right


def suggest_checkpoints(events: Events | None, directory: Path = SHIPPED_DIR) -> tuple[dict, dict]:
    """Dropdown updates listing the checkpoints that fit the loaded recording; MFPSN first on the left, LIF on
    the right when such checkpoints exist."""
    if events is None:
        return gr.update(), gr.update()
    names, left, right = compatible_checkpoints(events, directory)
    return gr.update(choices=names, value=left), gr.update(choices=names, value=right)


def _load(name: str, directory: Path, cache: CheckpointCache | None) -> Checkpoint:
    try:
        return load_checkpoint(directory / f"{Path(name).name}.json", cache)
    except CheckpointError as exc:
        raise gr.Error(f"checkpoint {name}: {exc.problem}") from None


def run_checkpoint(ckpt: Checkpoint, events: Events, neuron: int, notes: list[str],
                   origin: tuple[int, int] | str | None = None) -> dict[str, Any]:
    """Run one checkpoint on ``events``; returns probabilities, per-layer firing rates, rasters of the (at most 64)
    most active neurons of each layer, the membrane of neuron ``neuron`` in every layer that has it (``too_small``
    names the others), the per-step class evidence where the network gives one, and the input tensor ``x``
    (batch dimension dropped) with ``window``, the sentence saying what part of the recording it holds."""
    card = ckpt.card
    if not compatible(card, events):
        kind = "spike trains (SHD .h5)" if str(card["input"]["binning"].get("method", "")).startswith("spike") \
            else "camera recordings"
        raise gr.Error(f"checkpoint {card['name']} takes {kind}; the loaded recording is "
                       f"{'a spike train' if events.height == 1 else 'a camera recording'}")
    x = model_input(events, card, notes, origin=origin)
    window = (input_window(events, tuple(int(n) for n in card["input"]["shape"][-2:]), origin).sentence
              if events.height > 1 else f"{x.shape[0]} bins of the spike train, {x.shape[-1]} input channels")
    model = ckpt.model.eval()
    with torch.no_grad(), counting(model, x.shape[0], x.shape[1]) as count:
        if isinstance(model, EvidenceNet):  # one pass gives the traces, the per-step evidence and the count
            per_step, traces = model.evidence(x, record=True)
            logits, evidence = model.logits_from_evidence(per_step), per_step[:, 0].numpy()
        else:
            (logits, traces), evidence = model(x, record=True), None
        count.add_traces(model, traces)
    probs = torch.softmax(logits[0], dim=0).numpy()
    out: dict[str, Any] = {"probs": probs, "rates": {}, "raster": {}, "membrane": {}, "evidence": evidence,
                           "x": x[:, 0].numpy(), "window": window, "energy_nj": count.energy_pj / 1e3,
                           "spikes": int(sum(float(tr.spikes.sum()) for tr in traces.values())),
                           "too_small": [], "ood": ood_notes(events, card, x, probs, training_stats(card["task"]))}
    for layer, tr in traces.items():
        T = tr.spikes.shape[0]
        s = tr.spikes[:, 0].reshape(T, -1).numpy()
        h = tr.h[:, 0].reshape(T, -1).numpy()
        th = torch.broadcast_to(tr.v_th, tr.h.shape)[:, 0].reshape(T, -1).numpy()
        out["rates"][layer] = s.mean(axis=1)
        busiest = np.sort(np.argsort(-s.sum(axis=0), kind="stable")[:_RASTER_NEURONS])
        out["raster"][layer] = s[:, busiest]
        if neuron < s.shape[1]:
            out["membrane"][layer] = (h[:, neuron], s[:, neuron], float(th[0, neuron]))
        else:
            out["too_small"].append(f"{layer} ({s.shape[1]} neurons)")
    return out


def run_model(upload: str | None = None, sample: str | None = None, shd_index: float = 0, left: str | None = None,
              right: str | None = None, neuron: float = 0, fmt: str = DETECT, sensor: str | None = "",
              window: str = WINDOWS[0], x0: float = 0, y0: float = 0, directory: Path = SHIPPED_DIR,
              limits: Limits = LIMITS, cache: CheckpointCache | None = None, reads: ReadCache | None = None
              ) -> tuple[go.Figure, go.Figure, go.Figure, go.Figure, go.Figure, go.Figure, str]:
    """The ``run_model`` endpoint: run one or two checkpoints on the recording, side by side.

    Returns: probabilities, per-layer firing rates, first-layer raster, membranes of neuron ``neuron`` per layer,
    per-step class evidence (spike-train models; a note otherwise), the input tensor each model saw, and a
    Markdown summary. ``window`` (:data:`WINDOWS`) with ``x0``, ``y0``: where a camera model's input window sits on a
    bigger sensor.
    """
    path = resolve_source(upload, sample, limits=limits)
    return run_on_recording(read_recording(path, shd_index, limits, fmt, sensor, reads), left, right, neuron, directory,
                            cache, window, x0, y0)


def run_on_recording(events: Events, left: str | None, right: str | None, neuron: float,
                     directory: Path = SHIPPED_DIR, cache: CheckpointCache | None = None, window: str = WINDOWS[0],
                     x0: float = 0, y0: float = 0
                     ) -> tuple[go.Figure, go.Figure, go.Figure, go.Figure, go.Figure, go.Figure, str]:
    """:func:`run_model` on a recording already read (the event explorer passes the one it shows)."""
    names = [n for n in (left, right) if n]
    if not names:
        raise gr.Error("checkpoints: pick at least one model in the lists above (when they are empty, no shipped "
                       "checkpoint takes this kind of recording)")
    neuron = check_int("neuron index", neuron, 0, 10**6)
    origin = window_origin(window, x0, y0)
    notes: list[str] = []
    runs, cards = {}, {}
    for name in dict.fromkeys(names):
        ckpt = _load(name, directory, cache)
        cards[name] = ckpt.card
        runs[name] = run_checkpoint(ckpt, events, neuron, notes, origin)
    for note in dict.fromkeys(notes):
        gr.Warning(note)
    first = cards[names[0]]
    classes = list(first["classes"])
    if any(list(c["classes"]) != classes for c in cards.values()):
        raise gr.Error("checkpoints: the two models have different classes; pick two models of one task")
    label_notes: list[str] = []
    true_label = file_true_class(events.meta, classes, label_notes)
    layer0 = next(iter(runs[names[0]]["raster"]))
    figs = [fm.probabilities_figure(classes, {n: r["probs"] for n, r in runs.items()}, true_label),
            fm.layer_rates_figure({n: r["rates"] for n, r in runs.items()}),
            fm.layer_raster_figure({n: r["raster"].get(layer0, next(iter(r["raster"].values())))
                                    for n, r in runs.items()}, layer0),
            fm.membranes_figure({n: r["membrane"] for n, r in runs.items()}, neuron)]
    if all(r["evidence"] is not None for r in runs.values()):
        figs.append(fm.evidence_figure(classes, {n: r["evidence"] for n, r in runs.items()}))
    else:
        figs.append(empty_figure("per-time-step class evidence: shown when every model reads out at each step"))
    lines = []
    for n, r in runs.items():
        c = cards[n]
        best = int(np.argmax(r["probs"]))
        lines.append(f"- **{n}** ({c['model'].get('neuron', '?')}, card test accuracy "
                     f"{float(c['test_accuracy']) * 100:.1f} %): predicts **{classes[best]}** "
                     f"(p = {r['probs'][best]:.2f}); {r['spikes']:,} spikes and about {r['energy_nj'] / 1e3:.3g} µJ "
                     "per inference (45 nm estimate, mfpsn.energy)")
        if r["ood"]:  # right under the prediction it qualifies
            lines.append(f"  - ⚠ **Unlike its training data, so this answer means little:** {'; '.join(r['ood'])}.")
    source = Path(str(events.meta.get("source", "the recording"))).name
    source += f", sample {events.meta.get('index', 0)}" if events.meta.get("format") == "shd" else ""
    md = f"Results for **{source}**:\n\n" + "\n".join(lines)
    if notes:  # next to the predictions: what part of the recording the models saw
        md += "\n\n" + "\n".join(f"⚠ **Model input:** {n}" for n in dict.fromkeys(notes))
    md += f"\n\nTrue class (from the file): **{true_label}**" if true_label else ""
    md += "".join(f"\n\n⚠ {n}" for n in label_notes)
    md += "".join(f"\n\n⚠ **{n}**: no neuron {neuron} in {', '.join(r['too_small'])}, so no membrane is drawn there "
                  "(pick a lower neuron index)" for n, r in runs.items() if r["too_small"])
    preview = fm.input_figure({n: r["x"] for n, r in runs.items()}, {n: r["window"] for n, r in runs.items()})
    return (*figs, preview, md)
