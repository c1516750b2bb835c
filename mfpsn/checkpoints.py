"""Checkpoints: safetensors weights (never pickle) plus a JSON model card.

A checkpoint ``NAME`` is two files side by side: ``NAME.safetensors`` (the ``state_dict``, with the
model config JSON in the safetensors metadata under ``"model"``) and ``NAME.json``, the card::

    {"format": 1, "name", "model": {build_model config}, "task", "classes": [...],
     "input": {"layout", "shape", "T", "sensor_size", "binning", ...}, "training": {...}, "seed",
     "test_accuracy", "test_samples", "fixed_subset": {"limit", "accuracy"}, "weights_file",
     "weights_sha256", "weights_bytes", "n_parameters", "date", "torch_version", "mfpsn_version"}

:func:`load` checks, in this order, that the card is valid JSON with every required key, that
the weights file's sha256 equals the card's, that the config stored in the weights equals the
card's ``model``, and that the tensor names and shapes equal those of the rebuilt model. Any
failure raises :class:`CheckpointError` (a ``ValueError``) naming the file and what differed.
Shipped checkpoints live in the repository's ``checkpoints/`` folder (:data:`SHIPPED_DIR`; ``$MFPSN_CHECKPOINTS`` overrides it, see :mod:`mfpsn.paths`).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mfpsn.models import SpikingNet, build_model
from mfpsn.paths import data_dir

__all__ = ["CARD_FORMAT", "SHIPPED_DIR", "REQUIRED_KEYS", "CheckpointError", "Checkpoint", "CheckpointInfo",
           "sha256_file", "save", "load", "read_card", "resolve", "available"]

CARD_FORMAT = 1
SHIPPED_DIR = data_dir("checkpoints")  # repository folder or $MFPSN_CHECKPOINTS (mfpsn.paths)
REQUIRED_KEYS = ("format", "name", "model", "task", "classes", "input", "training", "seed", "test_accuracy",
                 "fixed_subset", "weights_file", "weights_sha256", "date", "torch_version")


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or used; ``path`` names the offending file."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path}: {problem}")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the rebuilt ``model`` (eval mode), its ``card`` and the two files."""

    model: SpikingNet
    card: dict[str, Any]
    card_path: Path
    weights_path: Path


@dataclass(frozen=True)
class CheckpointInfo:
    """One entry of :func:`available`."""

    name: str
    task: str
    neuron: str
    test_accuracy: float
    path: Path


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(model: SpikingNet, directory: str | os.PathLike, name: str, *, task: str, classes: list[str],
         input_spec: dict[str, Any], training: dict[str, Any], seed: int, test_accuracy: float,
         test_samples: int, fixed_subset: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write ``NAME.safetensors`` and ``NAME.json`` into ``directory``; returns the card's path.

    Args:
        model: a network from :mod:`mfpsn.models` (its ``get_config()`` goes into the card).
        task, classes, input_spec, training, seed: card fields (JSON-able).
        test_accuracy: accuracy on the whole held-out split, in [0, 1]; ``test_samples`` its size.
        fixed_subset: ``{"limit": N, "accuracy": a}``, the accuracy on the first N held-out samples.
        extra: more JSON-able card fields (e.g. per-epoch history).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name: expected a plain file stem, found {name!r}")
    config = model.get_config()
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    weights = directory / f"{name}.safetensors"
    _atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata={"model": _canonical(config)}))
    card = {"format": CARD_FORMAT, "name": name, "model": config, "task": task, "classes": list(classes),
            "input": input_spec, "training": training, "seed": int(seed),
            "test_accuracy": float(test_accuracy), "test_samples": int(test_samples),
            "fixed_subset": fixed_subset, "weights_file": weights.name, "weights_sha256": sha256_file(weights),
            "weights_bytes": weights.stat().st_size,
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "torch_version": torch.__version__, "mfpsn_version": _mfpsn_version(), **(extra or {})}
    path = directory / f"{name}.json"
    _atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(card, indent=1) + "\n"))
    return path


def _mfpsn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mfpsn")
    except PackageNotFoundError:
        return "source tree"


def resolve(name_or_path: str | os.PathLike) -> Path:
    """The card path of a shipped name (``"dvs_digits_mfpsn"``), a card, a weights file or a stem."""
    raw = Path(name_or_path)
    candidates = [raw] if raw.suffix == ".json" else [raw.with_suffix(".json")] if raw.suffix == ".safetensors" \
        else [Path(f"{raw}.json")]
    if raw.parent == Path(".") and raw.suffix == "":
        candidates.append(SHIPPED_DIR / f"{raw.name}.json")
    for path in candidates:
        if path.is_file():
            return path
    shipped = ", ".join(i.name for i in available()) or "none"
    raise CheckpointError(name_or_path, f"no model card found (looked for {', '.join(map(str, candidates))}); "
                                        f"shipped checkpoints: {shipped}")


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and check a model card (required keys, types); raises :class:`CheckpointError`."""
    path = Path(path)
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"model card is not readable JSON: {exc}") from exc
    if not isinstance(card, dict):
        raise CheckpointError(path, f"model card: expected a JSON object, found {type(card).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise CheckpointError(path, f"model card lacks required keys {missing}")
    if card["format"] != CARD_FORMAT:
        raise CheckpointError(path, f"card format: expected {CARD_FORMAT}, found {card['format']!r}")
    if not isinstance(card["model"], dict) or "arch" not in card["model"]:
        raise CheckpointError(path, f"card 'model': expected a config dict with 'arch', found {card['model']!r}")
    name = card["weights_file"]
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors"):
        raise CheckpointError(path, f"card 'weights_file': expected a bare '*.safetensors' file name next to the "
                                    f"card, found {name!r}")
    return card


def load(name_or_path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Verify and load a checkpoint; the model comes back in eval mode on ``device``.

    Raises:
        CheckpointError: missing or unreadable card or weights, sha256 mismatch, weights saved for
            another config, or tensor names / shapes that do not fit the rebuilt model.
    """
    card_path = resolve(name_or_path)
    card = read_card(card_path)
    weights = card_path.parent / card["weights_file"]
    if not weights.is_file():
        raise CheckpointError(weights, f"weights file named by {card_path.name} is missing")
    digest = sha256_file(weights)
    if digest != card["weights_sha256"]:
        raise CheckpointError(weights, f"sha256 mismatch: the card {card_path.name} says {card['weights_sha256']}, "
                                       f"the file has {digest} (file modified or replaced)")
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as fh:
            stored = (fh.metadata() or {}).get("model")
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(weights, f"not a readable safetensors file: {exc}") from exc
    if stored is None or stored != _canonical(card["model"]):
        raise CheckpointError(weights, f"model config in the weights ({stored}) differs from the card "
                                       f"{card_path.name} ({_canonical(card['model'])})")
    try:
        model = build_model(card["model"])
    except ValueError as exc:
        raise CheckpointError(card_path, f"cannot rebuild the model: {exc}") from exc
    _check_tensors(model, tensors, weights)
    model.load_state_dict(tensors, strict=True)
    model.to(device).eval()
    return Checkpoint(model, card, card_path, weights)


def _check_tensors(model: nn.Module, tensors: dict[str, torch.Tensor], weights: Path) -> None:
    expected = {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
    found = {k: (tuple(v.shape), v.dtype) for k, v in tensors.items()}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise CheckpointError(weights, f"tensor names differ from the rebuilt model: missing {missing[:5]}"
                                       f"{' …' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                                       f"{' …' if len(unexpected) > 5 else ''}")
    wrong = [f"{k}: expected {expected[k][0]} {expected[k][1]}, found {found[k][0]} {found[k][1]}"
             for k in expected if expected[k] != found[k]]
    if wrong:
        raise CheckpointError(weights, "tensor shapes/dtypes differ from the rebuilt model: " + "; ".join(wrong[:5]))


def available(directory: str | os.PathLike | None = None) -> list[CheckpointInfo]:
    """Checkpoints in ``directory`` (default: the shipped ones), sorted by name; unreadable cards are skipped."""
    where = Path(directory) if directory is not None else SHIPPED_DIR
    out = []
    for path in sorted(where.glob("*.json")) if where.is_dir() else []:
        try:
            card = read_card(path)
        except CheckpointError:
            continue
        out.append(CheckpointInfo(card["name"], card["task"], str(card["model"].get("neuron", "?")),
                                  float(card["test_accuracy"]), path))
    return out
