"""Model zoo tab: the shipped checkpoints, their model cards and the accuracy table of ``checkpoints/README.md``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from mfpsn.app import figures_zoo as fz
from mfpsn.app.figures_events import empty_figure
from mfpsn.checkpoint_eval import read_eval
from mfpsn.app.checkpoint_cache import CheckpointCache, load_checkpoint
from mfpsn.checkpoints import SHIPPED_DIR, CheckpointError, available, read_card
from mfpsn.experiments import read_results

__all__ = ["checkpoint_choices", "zoo_table", "card_markdown", "results_markdown", "zoo_view", "zoo_model",
           "zoo_tasks", "zoo_scatter"]

REAL_TASKS = ("psmnist", "smnist", "sfmnist", "fsdd", "nmnist-sim", "nmnist", "shd")  # shown first in the scatter
_CARD_FIELDS = ("task", "classes", "input", "seed", "test_accuracy", "test_samples", "fixed_subset",
                "n_parameters", "weights_bytes", "date", "torch_version")


def checkpoint_choices(task: str | None = None, directory: Path = SHIPPED_DIR) -> list[str]:
    """Names of the shipped checkpoints (optionally only those of ``task``), sorted."""
    return [i.name for i in available(directory) if task is None or i.task == task]


def zoo_table(directory: Path = SHIPPED_DIR) -> str:
    """Markdown table of the shipped checkpoints: name, task, neuron, test accuracy; or 'none shipped'."""
    infos = available(directory)
    if not infos:
        return "No checkpoints are shipped in `checkpoints/` yet."
    rows = "\n".join(f"| `{i.name}` | {i.task} | {i.neuron} | {i.test_accuracy * 100:.2f} % |" for i in infos)
    return "| checkpoint | task | neuron | test accuracy |\n|---|---|---|---|\n" + rows


def _rows(value: Any, key: str = "") -> list[tuple[str, str]]:
    """(field, value) rows of a card section: nested fields as ``outer › inner`` (spaces, so a narrow column
    wraps between names, never inside one), lists of plain values joined by commas."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _rows(v, f"{key} › {k}" if key else str(k))]
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return [(key, ", ".join(str(v) for v in value) or "–")]
    if isinstance(value, list):
        return [row for i, v in enumerate(value) for row in _rows(v, f"{key} › {i}")]
    if isinstance(value, float):
        return [(key, f"{value:.6g}")]
    return [(key, "–" if value is None else str(value))]


def _table(title: str, rows: list[tuple[str, str]]) -> list[str]:
    return [f"**{title}**", "", "| field | value |", "|---|---|",
            *(f"| {k} | {v.replace('|', '/')} |" for k, v in rows), ""]


def card_markdown(name: str | None, directory: Path = SHIPPED_DIR) -> str:
    """The model card of ``name`` as Markdown tables: architecture and neuron, card fields, training."""
    if not name:
        return "Pick a checkpoint to see its model card."
    try:
        card = read_card(directory / f"{Path(name).name}.json")
    except CheckpointError as exc:
        return f"**Cannot read the card:** {exc}"
    return _card_tables(card)


def _card_tables(card: dict[str, Any]) -> str:
    """A verified card as the Markdown tables of :func:`card_markdown`."""
    fields = {k: card[k] for k in _CARD_FIELDS if k in card}
    if "test_accuracy" in fields:
        fields["test_accuracy"] = f"{float(fields['test_accuracy']) * 100:.2f} %"
    lines = [f"### `{card['name']}`", "", *_table("Architecture and neuron configuration", _rows(card["model"])),
             *_table("Card", _rows(fields)), *_table("Training configuration", _rows(card["training"])),
             f"weights sha256 `{card['weights_sha256']}` (verified when the model is loaded)"]
    return "\n".join(lines)


def results_markdown(directory: Path = SHIPPED_DIR) -> str:
    """The text of ``checkpoints/README.md`` (the accuracy table), or a note that it does not exist yet."""
    path = directory / "README.md"
    if not path.is_file():
        return "`checkpoints/README.md` (the accuracy table) has not been written yet."
    return path.read_text(encoding="utf-8")


def zoo_view(directory: Path = SHIPPED_DIR) -> tuple[str, str]:
    """(checkpoint table, accuracy table) for the model-zoo tab."""
    return zoo_table(directory), results_markdown(directory)


def zoo_model(name: str | None, directory: Path = SHIPPED_DIR, cache: CheckpointCache | None = None
              ) -> tuple[str, go.Figure, go.Figure, go.Figure]:
    """(card as Markdown, confusion matrix, tap exponents, training curves) of checkpoint ``name``.

    The confusion matrix comes from ``NAME.eval.json`` (:mod:`mfpsn.checkpoint_eval`); a missing or refused
    sidecar gives a figure that says so and how to write it. The taps need the weights (loaded and verified),
    so they are read for MFPSN checkpoints only."""
    if not name:
        blank = empty_figure("pick a checkpoint")
        return card_markdown(name, directory), blank, blank, blank
    path = directory / f"{Path(name).name}.json"
    try:
        card = read_card(path)  # verified once here (it hashes the weights); the helpers below take it as read
    except CheckpointError as exc:
        blank = empty_figure("the card cannot be read (see above)")
        return f"**Cannot read the card:** {exc}", blank, blank, blank
    md = _card_tables(card)
    try:
        ev = read_eval(path, card=card)
        confusion = fz.confusion_figure(ev) if ev is not None else empty_figure(
            f"no per-class results stored for {card['name']}: run python -m mfpsn.evaluate --checkpoint "
            f"{card['name']} --write-eval")
    except CheckpointError as exc:
        confusion = empty_figure(f"per-class results refused: {exc}")
    if card["model"].get("neuron") == "mfpsn":
        try:
            taps = fz.taps_figure(load_checkpoint(path, cache).model, card["name"])
        except CheckpointError as exc:
            taps = empty_figure(f"cannot load the weights: {exc}")
    else:
        taps = empty_figure(f"{card['name']}: a {card['model'].get('neuron', '?')} network has no shift exponents")
    return md, confusion, taps, fz.curves_figure(card)


def zoo_tasks(directory: Path = SHIPPED_DIR) -> list[str]:
    """Tasks with result rows in ``directory``'s ``results.jsonl``: the real-data tasks first (psMNIST, sMNIST,
    FSDD, ...), then the others in first-seen order."""
    rows = read_results(directory / "results.jsonl")
    seen = list(dict.fromkeys(str(r["task"]) for r in rows if r.get("task") and r.get("n_parameters")))
    return sorted(seen, key=lambda t: (REAL_TASKS.index(t) if t in REAL_TASKS else len(REAL_TASKS), seen.index(t)))


def zoo_scatter(task: str | None, directory: Path = SHIPPED_DIR) -> go.Figure:
    """Accuracy–parameters–energy scatter of every configuration of ``task`` in ``results.jsonl``."""
    if not task:
        return empty_figure("pick a task")
    return fz.scatter_figure(read_results(directory / "results.jsonl"), task)
