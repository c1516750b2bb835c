"""Per-class results of a checkpoint on its task's whole test split: ``NAME.eval.json`` beside ``NAME.json``.

The card (``NAME.json``) is signed by the weights (:mod:`mfpsn.checkpoints`), so results computed after training
live in a sidecar that names the weights they belong to::

    {"format": 1, "name", "weights_sha256", "task", "split", "classes": [K names], "samples": n,
     "confusion": [[K ints] × K]}   # confusion[i][j]: test samples of class i predicted as class j

Training writes it with the card (the last epoch's evaluation on the whole split), and
``python -m mfpsn.evaluate --checkpoint NAME --write-eval`` writes it for an existing checkpoint. :func:`read_eval`
refuses a sidecar that is malformed, names other weights (the checkpoint was retrained or edited) or other classes,
with :class:`~mfpsn.checkpoints.CheckpointError` naming the file and what differed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mfpsn.checkpoints import EVAL_SUFFIX, CheckpointError, atomic_write, read_card, resolve

__all__ = ["EVAL_SUFFIX", "EVAL_FORMAT", "CheckpointEval", "eval_path", "write_eval", "read_eval"]

EVAL_FORMAT = 1
_MAX_BYTES = 1 << 20  # a 100-class matrix is ~60 KB; anything far bigger is not a sidecar


@dataclass(frozen=True)
class CheckpointEval:
    """Confusion counts of one checkpoint on ``samples`` test samples; ``confusion: [K, K]`` (true, predicted)."""

    name: str
    task: str
    split: str
    classes: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]

    @property
    def samples(self) -> int:
        return sum(map(sum, self.confusion))

    @property
    def accuracy(self) -> float:
        return sum(self.confusion[i][i] for i in range(len(self.classes))) / max(self.samples, 1)

    def per_class_accuracy(self) -> list[float | None]:
        """Recall of each class (None for a class without test samples)."""
        return [row[i] / sum(row) if sum(row) else None for i, row in enumerate(self.confusion)]


def eval_path(card_path: str | os.PathLike) -> Path:
    """``NAME.eval.json`` beside the card ``NAME.json``."""
    card_path = Path(card_path)
    return card_path.with_name(card_path.name[:-len(".json")] + EVAL_SUFFIX)


def write_eval(card_path: str | os.PathLike, confusion: torch.Tensor, *, split: str = "test") -> Path:
    """Write the sidecar of the checkpoint whose card is ``card_path``; ``confusion: [K, K]`` integer counts
    (rows: true class, columns: predicted class) with K the card's class count. Returns the sidecar's path."""
    card_path = Path(card_path)
    card = read_card(card_path)
    k = len(card["classes"])
    if tuple(confusion.shape) != (k, k) or confusion.dtype.is_floating_point or bool((confusion < 0).any()):
        raise ValueError(f"confusion: expected non-negative integer counts of shape [{k}, {k}] (the card's classes), "
                         f"found {confusion.dtype} {tuple(confusion.shape)}")
    path = eval_path(card_path)
    body = {"format": EVAL_FORMAT, "name": card["name"], "weights_sha256": card["weights_sha256"],
                       "task": card["task"], "split": split, "classes": list(card["classes"]),
                       "samples": int(confusion.sum()), "confusion": confusion.to(torch.int64).tolist()}
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8"))
    return path


def _field(obj: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    if not isinstance(obj.get(key), kind) or isinstance(obj.get(key), bool):
        raise CheckpointError(path, f"field {key!r}: expected {kind.__name__}, found {obj.get(key)!r:.60}")
    return obj[key]


def read_eval(name_or_path: str | os.PathLike, card: dict[str, Any] | None = None) -> CheckpointEval | None:
    """The sidecar of a checkpoint (shipped name or card path), or None when it has none. ``card``: the
    checkpoint's card when the caller has already read and verified it (:func:`mfpsn.checkpoints.read_card`, which
    hashes the weights), so it is not verified a second time.

    Raises:
        CheckpointError: the sidecar is not valid JSON, lacks a field, its matrix is not K × K non-negative
            integers summing to ``samples``, or its weights digest or classes differ from the card's.
    """
    card_path = resolve(name_or_path)
    path = eval_path(card_path)
    if not path.is_file():
        return None
    if path.stat().st_size > _MAX_BYTES:
        raise CheckpointError(path, f"expected at most {_MAX_BYTES} bytes, found {path.stat().st_size}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"not a JSON evaluation file ({exc})") from None
    if not isinstance(obj, dict) or obj.get("format") != EVAL_FORMAT:
        raise CheckpointError(path, f"expected an object with format {EVAL_FORMAT}, found "
                                    f"{obj.get('format') if isinstance(obj, dict) else type(obj).__name__!r}")
    card = read_card(card_path) if card is None else card
    if _field(obj, "weights_sha256", str, path) != card["weights_sha256"]:
        raise CheckpointError(path, f"computed for other weights (sha256 {obj['weights_sha256'][:12]}…, the "
                                    f"checkpoint's are {card['weights_sha256'][:12]}…); run `python -m mfpsn.evaluate "
                                    f"--checkpoint {card['name']} --write-eval` again")
    classes = _field(obj, "classes", list, path)
    if classes != list(card["classes"]):
        raise CheckpointError(path, f"classes {classes!r:.80} differ from the card's {card['classes']!r:.80}")
    rows = _field(obj, "confusion", list, path)
    k = len(classes)
    ok = len(rows) == k and all(isinstance(r, list) and len(r) == k and
                                all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in r) for r in rows)
    if not ok:
        raise CheckpointError(path, f"confusion: expected {k} rows of {k} non-negative integers")
    if sum(map(sum, rows)) != _field(obj, "samples", int, path):
        raise CheckpointError(path, f"confusion: its counts sum to {sum(map(sum, rows))}, the file says "
                                    f"{obj['samples']} samples")
    return CheckpointEval(card["name"], card["task"], str(obj.get("split", "test")), tuple(classes),
                          tuple(tuple(r) for r in rows))
