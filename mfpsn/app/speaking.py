"""Speak a digit: a microphone recording, an uploaded ``.wav`` or a bundled FSDD sample goes through the spoken-digit
models' front end (:class:`mfpsn.data.speech.SpeechFront`: resample, trim, level, cochlea, 10 ms bins), and the FSDD
models (MFPSN and LIF by default) answer side by side with their class evidence over time.

:func:`classify_waveform` is the pure core (tested directly); :func:`classify_audio` is the app callback behind the
named endpoint ``/classify_audio``.
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
from mfpsn.card_inputs import audio_input
from mfpsn.checkpoints import SHIPPED_DIR, available
from mfpsn.data.speech import SpeechFront
from mfpsn.paths import data_dir

__all__ = ["SpeechRun", "audio_checkpoints", "audio_samples", "classify_waveform", "to_waveform", "classify_audio",
           "MAX_SECONDS"]

MAX_SECONDS = 10.0
AUDIO_TASKS = ("fsdd",)


@dataclass(frozen=True)
class SpeechRun:
    """One model's answer for one recording: final probabilities ``[10]``, probabilities after every 10 ms bin
    ``[T, 10]`` (softmax of the summed evidence so far) and the card's accuracy figures."""

    name: str
    neuron: str
    probs: np.ndarray
    probs_over_time: np.ndarray
    classes: list[str]
    card_accuracy: float
    speaker_disjoint: str

    @property
    def prediction(self) -> str:
        return self.classes[int(self.probs.argmax())]


def audio_checkpoints(directory: Path = SHIPPED_DIR) -> list[str]:
    """Shipped checkpoints that take a recording (task ``fsdd``), MFPSN first."""
    order = {"mfpsn": 0, "lif": 1}
    names = [i for i in available(directory) if i.task in AUDIO_TASKS]
    return [i.name for i in sorted(names, key=lambda i: (order.get(i.neuron, 2), i.name))]


def audio_samples() -> list[str]:
    """The bundled FSDD recordings (``assets/fsdd_subset``), by file name."""
    folder = data_dir("assets") / "fsdd_subset"
    return sorted(p.name for p in folder.glob("*.wav")) if folder.is_dir() else []


def to_waveform(value: Any) -> tuple[np.ndarray, int] | None:
    """A ``.wav`` path (the app's ``Audio`` component hands over a file path, read by the bounded
    :func:`mfpsn.data.wav.read_wav`), a ``(rate, int16/float array)`` pair, or None → ``(audio [S] float64 full
    scale ±1, rate)``; stereo is averaged. Longer than :data:`MAX_SECONDS` is refused."""
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        from mfpsn.data.wav import read_wav

        if Path(value).suffix.lower() != ".wav":
            raise ValueError(f"{Path(value).name}: expected a .wav recording (PCM or float WAV), found a "
                             f"{Path(value).suffix or 'suffix-less'} file")
        return read_wav(value, max_seconds=MAX_SECONDS)
    rate, data = value
    a = np.asarray(data)
    if np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float64) / float(np.iinfo(a.dtype).max + 1)
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        a = a.mean(axis=1)
    if a.size == 0:
        return None
    if a.size > MAX_SECONDS * int(rate):
        raise ValueError(f"the recording lasts {a.size / int(rate):.1f} s; expected at most {MAX_SECONDS:g} s "
                         f"(one spoken digit)")
    return a, int(rate)


@torch.no_grad()
def classify_waveform(audio: np.ndarray, rate: int, names: Sequence[str], *,
                      directory: Path = SHIPPED_DIR, cache: CheckpointCache | None = None) -> list[SpeechRun]:
    """Run the waveform through each checkpoint in ``names`` (tasks :data:`AUDIO_TASKS`)."""
    runs = []
    for name in names:
        ckpt = named_checkpoint(name, directory, cache)
        card, model = ckpt.card, ckpt.model.eval()
        if card["task"] not in AUDIO_TASKS:
            raise ValueError(f"checkpoint {name!r} (task {card['task']}) does not take a recording")
        x = audio_input(audio, rate, card)                    # [T, 1, 140]
        evidence = model.evidence(x)[:, 0].float()            # [T, 10]
        over_time = torch.softmax(evidence.cumsum(0), dim=1)
        loso = card.get("speaker_disjoint_accuracy")
        runs.append(SpeechRun(name, card["model"]["neuron"], over_time[-1].numpy(), over_time.numpy(),
                              list(card["classes"]), float(card["test_accuracy"]),
                              "-" if loso is None else f"{100 * float(loso):.1f} %"))
    return runs


def _front(names: Sequence[str], directory: Path, cache: CheckpointCache | None) -> SpeechFront:
    return SpeechFront.from_dict(named_checkpoint(names[0], directory, cache).card["input"]["transform"])


def input_figure(audio: np.ndarray, rate: int, front: SpeechFront) -> go.Figure:
    """The waveform as the models hear it (resampled, trimmed, levelled) and its cochlea spike raster."""
    x = front.prepare(audio, rate)
    times, units = front.spikes(x, seed=0)
    step = max(1, x.size // 4000)  # at most ~4,000 points to the browser
    t_audio = np.arange(0, x.size, step) / front.sample_rate
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=t_audio, y=x[::step], mode="lines", line=dict(width=1, color="#333"),
                               name="waveform", xaxis="x", yaxis="y"))
    keep = np.arange(times.size)[:: max(1, times.size // 20_000)]
    fig.add_trace(go.Scattergl(x=times[keep], y=units[keep], mode="markers", marker=dict(size=2, color="#1f77b4"),
                               name="cochlea spikes", xaxis="x2", yaxis="y2",
                               hovertemplate="%{x:.3f} s, channel %{y}<extra></extra>"))
    fc = front.cochlea
    fig.update_layout(**layout(f"what the models hear: {x.size / front.sample_rate:.2f} s at "
                               f"{front.sample_rate} Hz after trimming, and {times.size:,} cochlea spikes", 420,
                               showlegend=False,
                               xaxis=axis(anchor="y", matches="x2", showticklabels=False),
                               yaxis=axis(domain=[0.72, 1], title="amplitude"),
                               xaxis2=axis(anchor="y2", title="time (s)"),
                               yaxis2=axis(domain=[0, 0.64], title=f"channel ({fc.f_min:.0f}–{fc.f_max:.0f} Hz)",
                                           range=[0, fc.n_channels])))
    return fig


def probability_figure(runs: Sequence[SpeechRun], bin_ms: float) -> go.Figure:
    """Probability of each model's answer (solid) and runner-up (dotted) after every bin."""
    fig = go.Figure()
    for j, run in enumerate(runs):
        colour = MODEL_COLOURS[j % len(MODEL_COLOURS)]
        t = np.arange(1, run.probs_over_time.shape[0] + 1) * bin_ms / 1000.0
        k, runner = int(run.probs.argmax()), int(np.argsort(run.probs)[-2])
        fig.add_trace(go.Scatter(x=t, y=run.probs_over_time[:, k], mode="lines", line=dict(color=colour, width=2),
                                 name=f"{run.name}: p('{run.classes[k]}')"))
        fig.add_trace(go.Scatter(x=t, y=run.probs_over_time[:, runner], mode="lines",
                                 line=dict(color=colour, width=1, dash="dot"),
                                 name=f"{run.name}: p('{run.classes[runner]}') (runner-up)"))
    fig.update_layout(**layout("when does each model become sure? probability of its answer after t", 360,
                               xaxis=axis(title="time (s, 10 ms bins from the start of the trimmed recording)"),
                               yaxis=axis(title="probability", range=[0, 1.02]),
                               margin={"l": 60, "r": 20, "t": 50, "b": 110},
                               legend=dict(orientation="h", x=0, y=-0.3, yanchor="top")))
    return fig


def _summary(runs: Sequence[SpeechRun], seconds: float, front: SpeechFront) -> str:
    lines = ["| model | neuron | answer | p | official-split test accuracy | speaker-disjoint accuracy (card) |",
             "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r.name} | {r.neuron} | **{r.prediction}** | {r.probs.max():.2f} | "
                     f"{100 * r.card_accuracy:.1f} % | {r.speaker_disjoint} |")
    window = front.n_bins * front.bin_us / 1e6
    if seconds > window:
        lines.append(f"\nThe trimmed recording lasts {seconds:.2f} s; the models hear its first {window:.1f} s.")
    if any(r.probs.max() < 0.5 for r in runs):
        lines.append("\nA model below p = 0.5 is unsure: the recording may be unlike the FSDD digits it learned "
                     "(another language, a long phrase, music or noise).")
    return "\n".join(lines)


def classify_audio(recording: Any, sample: str | None, left: str | None, right: str | None,
                   directory: Path = SHIPPED_DIR, cache: CheckpointCache | None = None):
    """App callback (``/classify_audio``): returns (summary markdown, input figure, probability figure). The
    recording (microphone or upload) wins over the bundled sample."""
    wav = to_waveform(recording)
    if wav is None and sample:
        if sample not in audio_samples():
            raise ValueError(f"sample {sample!r}: expected one of the bundled FSDD recordings")
        wav = to_waveform(data_dir("assets") / "fsdd_subset" / sample)
    if wav is None:
        raise ValueError("record or upload a spoken digit (or pick a bundled sample) first")
    names = [n for n in (left, right) if n]
    if not names:
        raise ValueError("choose at least one FSDD checkpoint")
    audio, rate = wav
    runs = classify_waveform(audio, rate, names, directory=directory, cache=cache)
    front = _front(names, directory, cache)
    seconds = front.prepare(audio, rate).size / front.sample_rate
    return (_summary(runs, seconds, front), input_figure(audio, rate, front),
            probability_figure(runs, front.bin_us / 1000.0))


def classify_audio_ui(recording: Any = None, sample: str | None = None, left: str | None = "fsdd_mfpsn",
                      right: str | None = "fsdd_lif", cache: CheckpointCache | None = None):
    """:func:`classify_audio` for the app: a bad input becomes a clean ``gr.Error`` message."""
    import gradio as gr

    from mfpsn.data.wav import WavFormatError

    try:
        return classify_audio(recording, sample, left, right, cache=cache)
    except (ValueError, OSError, WavFormatError) as exc:
        raise gr.Error(str(exc)) from None
