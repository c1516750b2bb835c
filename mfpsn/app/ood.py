"""Is a recording like the data a model was trained on? Notes shown next to its prediction when it is not.

A network answers on any input, confidently or not; these checks say when the answer means little. Each compares
one statistic of the recording, or of the exact tensor the model sees (:func:`mfpsn.card_inputs.events_input`), with
the model's training data, and returns a sentence with both numbers when they are far apart:

- **sensor**: a camera recording from another sensor size than the card's ``input.sensor_size``;
- **coverage**: under half of the recording's events reach the model (centre crop, fixed time window);
- **activity**: the events (or spikes) in the model input outside ``[p1 / 2, 2 · p99]`` of the training inputs';
- **duration**: the recording's duration outside ``[p1 / 2, 2 · p99]`` of the training recordings';
- **confidence**: a top probability under twice the uniform one (the model cannot tell the classes apart).

The training statistics (1st, 50th and 99th percentiles) live in ``checkpoints/input_stats.json`` by task, written
by ``python -m mfpsn.app.ood`` from the task's training split; a task missing there gets the checks that need none.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mfpsn.checkpoints import SHIPPED_DIR
from mfpsn.events import Events

__all__ = ["STATS_FILE", "percentiles", "training_stats", "ood_notes", "build_stats", "main"]

STATS_FILE = SHIPPED_DIR / "input_stats.json"


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """``{"p1", "p50", "p99"}`` of ``values``."""
    p1, p50, p99 = np.percentile(np.asarray(values, dtype=np.float64), [1, 50, 99])
    return {"p1": float(p1), "p50": float(p50), "p99": float(p99)}


def training_stats(task: str, path: Path = STATS_FILE) -> dict[str, Any] | None:
    """The recorded training statistics of ``task``, or None when none are recorded."""
    try:
        return json.loads(path.read_text()).get(task)
    except (OSError, ValueError):
        return None


def _outside(value: float, ref: dict[str, float]) -> bool:
    return value < ref["p1"] / 2 or value > 2 * ref["p99"]


def ood_notes(events: Events, card: dict[str, Any], x, probs: np.ndarray, stats: dict[str, Any] | None) -> list[str]:
    """Sentences saying how ``events`` (its model input ``x`` and the softmax ``probs``) differ from the training
    data of ``card``; empty when nothing is far off."""
    notes = []
    camera = events.height > 1
    sensor = card["input"].get("sensor_size")
    if camera and sensor and [events.width, events.height] != list(sensor):
        notes.append(f"recorded on a {events.width}×{events.height} sensor; the model was trained on "
                     f"{sensor[0]}×{sensor[1]} recordings")
    seen = float(x.sum())
    if camera and len(events) and seen < 0.5 * len(events):
        notes.append(f"only {seen:,.0f} of its {len(events):,} events ({seen / len(events):.0%}) reach the model "
                     "(the rest lie outside its crop or time window)")
    if stats:
        what = "events" if camera else "spikes"
        ref = stats["input_events"]
        if _outside(seen, ref):
            notes.append(f"{seen:,.0f} {what} reach the model; its {stats['n']:,} training inputs held "
                         f"{ref['p1']:,.0f}–{ref['p99']:,.0f} (1st–99th percentile, median {ref['p50']:,.0f})")
        dur = stats.get("duration_us")
        if dur and _outside(events.duration_us, dur):
            notes.append(f"it lasts {events.duration_us / 1000:,.1f} ms; the training recordings lasted "
                         f"{dur['p1'] / 1000:,.0f}–{dur['p99'] / 1000:,.0f} ms")
    top = float(np.max(probs))
    if top < 2.0 / len(probs):
        notes.append(f"its top probability {top:.2f} is close to uniform (1/{len(probs)} = {1 / len(probs):.2f}): "
                     "the model cannot tell the classes apart")
    return notes


def build_stats(task: str, recordings: Sequence[Events], card: dict[str, Any], source: str) -> dict[str, Any]:
    """The statistics :func:`ood_notes` compares with, from a task's training ``recordings`` and a card of it."""
    from mfpsn.card_inputs import events_input

    seen = [float(events_input(ev, card, []).sum()) for ev in recordings]
    return {"task": task, "source": source, "n": len(recordings), "input_events": percentiles(seen),
            "duration_us": percentiles([ev.duration_us for ev in recordings])}


def _dvs_digits_training() -> tuple[list[Events], str]:
    from mfpsn.data.dvs_digits import open_dvs_digits

    archive = open_dvs_digits()
    index = archive.split_index("train")
    return [archive.events(int(i)) for i in index], f"mfpsn.data.dvs_digits training split ({len(index)} recordings)"


def _spoken_digits_training(every: int = 4) -> tuple[list[Events], str]:
    """Every ``every``-th recording of the spoken-digits training split, rendered by its generator (espeak-ng)."""
    from mfpsn.data.spoken_digits import GeneratorConfig, _to_events, generate_split, plan_split

    cfg = GeneratorConfig()
    specs = plan_split(cfg, "train")
    chosen = specs[::every]
    recordings = [_to_events(times, units) for times, units in generate_split(chosen, cfg)]
    return recordings, (f"mfpsn.data.spoken_digits training split, every {every}th recording ({len(chosen)} of "
                        f"{len(specs)})")


_TASKS = {"dvs-digits": (_dvs_digits_training, "dvs_digits_mfpsn"),
          "spoken-digits": (_spoken_digits_training, "spoken_digits_mfpsn")}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mfpsn.app.ood [--out checkpoints/input_stats.json]``: write the training statistics of the
    dvs-digits and spoken-digits tasks (their generators build the training recordings)."""
    from mfpsn.checkpoints import load

    parser = argparse.ArgumentParser(prog="python -m mfpsn.app.ood", description=main.__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=STATS_FILE)
    args = parser.parse_args(argv)
    out = {}
    for task, (training, checkpoint) in _TASKS.items():
        recordings, source = training()
        out[task] = build_stats(task, recordings, load(SHIPPED_DIR / f"{checkpoint}.json").card, source)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
