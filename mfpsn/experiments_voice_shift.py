"""How the shipped spoken-digit models hold up on voices unlike FSDD's five men: every test recording played
faster or slower by a factor, which moves its pitch and formants together (vocal-tract length perturbation).

``python -m mfpsn.experiments_voice_shift [--checkpoints fsdd_mfpsn_unseen_yweweler fsdd_mfpsn fsdd_lif]
[--factors 0.85 1.0 1.1 1.2 1.3] [--data-root ../shared/data/fsdd] [--out results/fsdd_voice_shift]``

For each checkpoint, the recordings it was tested on (its card's ``input.split``: a held-out speaker's 500, or the
official split's 300) go through the card's own speech front end exactly as ``python -m mfpsn.predict`` feeds a
``.wav`` (cochlea noise seed 0), after :func:`mfpsn.data.audio_augment.change_speed` on the prepared waveform;
factor 1.0 is the unchanged card path, so it reproduces the card's test accuracy. Writes ``OUT.json`` (rows, machine
facts, date) and ``OUT.md`` (the table).

What this proxy is and is not: adult female voices have formants about 15–20 % above male ones (a factor 1.15–1.2
here) but a fundamental about 1.7–2× higher, which a speed change of 1.2 does not reach; durations also shrink by
the factor. It measures how far the models' accuracy falls when the spectral envelope moves the way it does
between male and female speakers; it is not a recording of a female speaker, and no such recording is in
``../shared``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["ShiftRow", "shifted_inputs", "evaluate_shifts", "render", "main"]

DEFAULT_CHECKPOINTS = ("fsdd_mfpsn_unseen_yweweler", "fsdd_mfpsn", "fsdd_lif")
DEFAULT_FACTORS = (0.85, 1.0, 1.1, 1.2, 1.3)
BATCH = 128


@dataclass(frozen=True)
class ShiftRow:
    """Accuracy of one checkpoint on its test recordings played ``factor`` times faster."""

    checkpoint: str
    split: str
    factor: float
    correct: int
    total: int
    card_accuracy: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total


def shifted_inputs(paths: Sequence[Path], card: dict, factor: float) -> np.ndarray:
    """``[N, T, features]`` float32: each WAV file through the card's front end after a speed change by
    ``factor`` (1.0: the card path itself, :func:`mfpsn.card_inputs.audio_input`)."""
    from mfpsn.data.wav import read_wav

    return _shifted([read_wav(path) for path in paths], card, factor)


def _shifted(audios: Sequence[tuple[np.ndarray, int]], card: dict, factor: float) -> np.ndarray:
    """:func:`shifted_inputs` of waveforms already read (``(samples, rate)`` pairs)."""
    from mfpsn.data.audio_augment import change_speed
    from mfpsn.data.speech import SpeechFront

    if not factor > 0:
        raise ValueError(f"voice shift: expected a factor > 0, found {factor!r}")
    front = SpeechFront.from_dict(card["input"]["transform"])
    out = []
    for audio, rate in audios:
        if factor != 1.0:
            audio, rate = change_speed(front.prepare(audio, rate), factor), front.sample_rate
        out.append(front(np.asarray(audio, dtype=np.float64), int(rate), seed=0))
    return np.stack(out).astype(np.float32)


def evaluate_shifts(checkpoint: str, data_root: str | Path, factors: Sequence[float], progress: bool = True
                    ) -> list[ShiftRow]:
    """One :class:`ShiftRow` per factor for ``checkpoint`` on its card's test split of the FSDD folder."""
    import torch
    from tqdm import tqdm

    from mfpsn.checkpoints import load
    from mfpsn.data.fsdd import list_recordings, split_recordings
    from mfpsn.data.wav import read_wav

    ckpt = load(checkpoint)
    card = ckpt.card
    if card["input"].get("transform", {}).get("name") != "cochlea":
        raise ValueError(f"voice shift: {checkpoint!r} does not take audio (its input transform is "
                         f"{card['input'].get('transform', {}).get('name')!r})")
    split = card["input"].get("split", "official")
    _, test = split_recordings(list_recordings(data_root), split)
    labels = torch.tensor([r.digit for r in test])
    audios = [read_wav(r.path) for r in test]          # read once, shifted once per factor
    rows = []
    for factor in tqdm(factors, desc=f"{checkpoint}: factors", disable=not progress):
        x = torch.from_numpy(_shifted(audios, card, float(factor)))
        with torch.no_grad():
            pred = torch.cat([ckpt.model(x[i:i + BATCH].transpose(0, 1)).argmax(1) for i in range(0, len(x), BATCH)])
        rows.append(ShiftRow(checkpoint, split, float(factor), int((pred == labels).sum()), len(test),
                             float(card["test_accuracy"])))
    return rows


def render(rows: Sequence[ShiftRow]) -> str:
    """The markdown table: one row per checkpoint, one column per factor."""
    factors = sorted({r.factor for r in rows})
    names = list(dict.fromkeys(r.checkpoint for r in rows))
    lines = ["| checkpoint | tested on | card | " + " | ".join(f"× {f:g}" for f in factors) + " |",
             "|---|---|---|" + "---|" * len(factors)]
    for name in names:
        mine = {r.factor: r for r in rows if r.checkpoint == name}
        first = next(iter(mine.values()))
        cells = [f"{100 * mine[f].accuracy:.1f}" if f in mine else "–" for f in factors]
        lines.append(f"| {name} | {first.split} ({first.total} recordings) | {100 * first.card_accuracy:.1f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from mfpsn.bench.timing import machine_facts

    p = argparse.ArgumentParser(prog="python -m mfpsn.experiments_voice_shift", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoints", nargs="+", default=list(DEFAULT_CHECKPOINTS))
    p.add_argument("--factors", nargs="+", type=float, default=list(DEFAULT_FACTORS))
    p.add_argument("--data-root", default="../shared/data/fsdd", help="the FSDD folder (its recordings/ WAV files)")
    p.add_argument("--out", default="results/fsdd_voice_shift", help="writes OUT.json and OUT.md")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = [r for name in args.checkpoints for r in evaluate_shifts(name, args.data_root, args.factors)]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    facts = machine_facts(torch.device("cpu"))
    payload = {"rows": [{**r.__dict__, "accuracy": r.accuracy} for r in rows], "machine": facts,
               "wall_seconds": round(time.perf_counter() - start, 1),
               "command": " ".join(["python -m mfpsn.experiments_voice_shift",
                                    *(sys.argv[1:] if argv is None else argv)])}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    table = render(rows)
    out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
