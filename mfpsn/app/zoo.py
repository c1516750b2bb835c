"""Model zoo tab: the shipped checkpoints, their model cards and the accuracy table of ``checkpoints/README.md``."""
from __future__ import annotations

import json
from pathlib import Path

from mfpsn.checkpoints import SHIPPED_DIR, CheckpointError, available, read_card

__all__ = ["checkpoint_choices", "zoo_table", "card_markdown", "results_markdown", "zoo_view"]

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


def card_markdown(name: str | None, directory: Path = SHIPPED_DIR) -> str:
    """The model card of ``name`` as Markdown (architecture config and every card field)."""
    if not name:
        return "Pick a checkpoint to see its model card."
    try:
        card = read_card(directory / f"{Path(name).name}.json")
    except CheckpointError as exc:
        return f"**Cannot read the card:** {exc}"
    lines = [f"### `{card['name']}`", "", "**Architecture and neuron configuration**", "",
             "```json", json.dumps(card["model"], indent=1), "```", "", "| field | value |", "|---|---|"]
    for key in _CARD_FIELDS:
        if key in card:
            value = card[key]
            if key == "test_accuracy":
                value = f"{float(value) * 100:.2f} %"
            elif isinstance(value, (dict, list)):
                value = "`" + json.dumps(value)[:300] + "`"
            lines.append(f"| {key} | {value} |")
    lines += ["", "**Training configuration**", "", "```json", json.dumps(card["training"], indent=1)[:3000], "```",
              "", f"weights sha256 `{card['weights_sha256']}` (verified when the model is loaded)"]
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
