"""Checkpoints: safetensors weights (never pickle) plus a JSON model card.

A checkpoint ``NAME`` is two files side by side: ``NAME.safetensors`` (the ``state_dict``, with the
model config JSON in the safetensors metadata under ``"model"``) and ``NAME.json``, the card::

    {"format": 1, "name", "model": {build_model config}, "task", "classes": [...],
     "input": {"layout", "shape", "T", "sensor_size", "binning", ...}, "training": {...}, "seed",
     "test_accuracy", "test_samples", "fixed_subset": {"limit", "accuracy"}, "weights_file",
     "weights_sha256", "weights_bytes", "n_parameters", "date", "torch_version", "mfpsn_version"}

:func:`load` checks, in this order, that the card is valid JSON with every required key, that
the weights file's sha256 equals the card's, that the config stored in the weights equals the
card's ``model``, that the tensor names and shapes equal those of the rebuilt model, that the card
digest stored in the weights equals the digest of the card, and that the tensor digest stored in the
weights equals the digest of the tensors read. Any failure raises :class:`CheckpointError` (a
``ValueError``) naming the file and what differed.

Tamper evidence: the safetensors metadata holds ``card_sha256``, the sha256 of the canonical JSON of
the *whole* card except the two fields that describe the weights file itself (``weights_sha256``,
``weights_bytes``): test accuracy, classes, input spec and binning, config, training, history, every
field. It also holds ``tensors_sha256``, a digest of every tensor's name, dtype, shape and bytes. So
editing the card alone (its digest no longer matches the weights) or the weights alone (the file hash
in the card and the tensor digest no longer match) is refused. This is tamper *evidence*, not a
signature: there is no secret key, so someone who rewrites both files consistently (what
:func:`resign` does, ``python -m mfpsn.checkpoints resign NAME``) makes a checkpoint that loads, as
with any unsigned artifact; trust a checkpoint only as far as you trust where both files came from.
:func:`read_card` verifies the card against the weights too (cheap: one hash and the header), so
listings never show an edited card.
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

from mfpsn.models import SpikingNet, build_model, with_backend
from mfpsn.paths import data_dir

__all__ = ["CARD_FORMAT", "SHIPPED_DIR", "REQUIRED_KEYS", "UNSIGNED_KEYS", "EVAL_SUFFIX", "CheckpointError", "Checkpoint",
           "CheckpointInfo", "sha256_file", "card_digest", "tensors_digest", "save", "load", "read_card", "resolve",
           "available", "resign", "atomic_write", "main"]

CARD_FORMAT = 1
SHIPPED_DIR = data_dir("checkpoints")  # repository folder or $MFPSN_CHECKPOINTS (mfpsn.paths)
REQUIRED_KEYS = ("format", "name", "model", "task", "classes", "input", "training", "seed", "test_accuracy",
                 "fixed_subset", "weights_file", "weights_sha256", "date", "torch_version")
UNSIGNED_KEYS = ("weights_sha256", "weights_bytes")  # they describe the file that holds the card digest
EVAL_SUFFIX = ".eval.json"  # a checkpoint's per-class results beside its card (mfpsn.checkpoint_eval), not a card


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


def card_digest(card: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of every card field except :data:`UNSIGNED_KEYS`."""
    body = {k: v for k, v in card.items() if k not in UNSIGNED_KEYS}
    return hashlib.sha256(_canonical(json.loads(json.dumps(body))).encode()).hexdigest()


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the sorted tensor names with each tensor's dtype, shape and raw bytes."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _metadata(config: dict[str, Any], card: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    return {"model": _canonical(config), "card_sha256": card_digest(card), "tensors_sha256": tensors_digest(tensors)}


def atomic_write(path: Path, write) -> None:
    """Write ``path`` through ``write(tmp)`` on a temporary file beside it, then rename it into place (readers see
    the old file or the new one, never half of one)."""
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
    card = {"format": CARD_FORMAT, "name": name, "model": config, "task": task, "classes": list(classes),
            "input": input_spec, "training": training, "seed": int(seed),
            "test_accuracy": float(test_accuracy), "test_samples": int(test_samples),
            "fixed_subset": fixed_subset, "weights_file": weights.name, "weights_sha256": "",
            "weights_bytes": 0,
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "torch_version": torch.__version__, "mfpsn_version": _mfpsn_version(), **(extra or {})}
    card = json.loads(json.dumps(card))  # the card as it will be read back
    return _write_pair(directory / f"{name}.json", weights, config, card, tensors)


def _write_pair(card_path: Path, weights: Path, config: dict[str, Any], card: dict[str, Any],
                tensors: dict[str, torch.Tensor]) -> Path:
    """Write the weights with the card and tensor digests in their metadata, then the card with the file hash."""
    meta = _metadata(config, card, tensors)
    atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata=meta))
    card = {**card, "weights_sha256": sha256_file(weights), "weights_bytes": weights.stat().st_size}
    atomic_write(card_path, lambda tmp: Path(tmp).write_text(json.dumps(card, indent=1) + "\n"))
    return card_path


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


def read_card(path: str | os.PathLike, verify: bool = True) -> dict[str, Any]:
    """Parse and check a model card (required keys, types) and, with ``verify``, that it is the card the weights
    next to it were saved with (file hash, config, card digest); raises :class:`CheckpointError`."""
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
    if verify:
        weights, metadata = _check_file(card, path)
        _check_card_digest(card, metadata, path, weights)
    return card


def _check_file(card: dict[str, Any], card_path: Path) -> tuple[Path, dict[str, str]]:
    """The weights file named by the card: present, its sha256 the card's, its stored config the card's model."""
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
            metadata = dict(fh.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(weights, f"not a readable safetensors file: {exc}") from exc
    stored = metadata.get("model")
    if stored is None or stored != _canonical(card["model"]):
        raise CheckpointError(weights, f"model config in the weights ({stored}) differs from the card "
                                       f"{card_path.name} ({_canonical(card['model'])})")
    return weights, metadata


def _check_card_digest(card: dict[str, Any], metadata: dict[str, str], card_path: Path, weights: Path) -> None:
    stored = metadata.get("card_sha256")
    if stored is None:
        raise CheckpointError(weights, "unsigned checkpoint: the weights hold no card digest (saved before cards "
                                       "were covered); re-sign it with `python -m mfpsn.checkpoints resign "
                                       f"{card_path}` if you trust both files")
    if stored != card_digest(card):
        raise CheckpointError(card_path, f"the card was edited after it was saved: its digest {card_digest(card)} "
                                         f"differs from the one stored in {weights.name} ({stored}); refusing the "
                                         "card (test accuracy, classes, input spec or another field changed)")


def load(name_or_path: str | os.PathLike, device: str | torch.device = "cpu", backend: str = "auto") -> Checkpoint:
    """Verify and load a checkpoint; the model comes back in eval mode on ``device``.

    ``backend`` is the neuron's backend knob (:func:`mfpsn.models.with_backend`): the card records the one it
    was trained with, which need not run here; ``"auto"`` (default) lets the neuron choose per input.

    Raises:
        CheckpointError: missing or unreadable card or weights, sha256 mismatch, weights saved for
            another config, tensor names / shapes that do not fit the rebuilt model, a card edited after it
            was saved (card digest) or tensors edited with the file hash recomputed (tensor digest).
        ValueError: ``backend`` is not one the checkpoint's neuron takes.
    """
    card_path = resolve(name_or_path)
    card = read_card(card_path, verify=False)
    weights, metadata = _check_file(card, card_path)
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(weights, f"not a readable safetensors file: {exc}") from exc
    config = with_backend(card["model"], backend)   # ValueError for a backend the neuron does not have
    try:
        model = build_model(config)
    except ValueError as exc:
        raise CheckpointError(card_path, f"cannot rebuild the model: {exc}") from exc
    _check_tensors(model, tensors, weights)
    _check_card_digest(card, metadata, card_path, weights)
    if metadata.get("tensors_sha256") != tensors_digest(tensors):
        raise CheckpointError(weights, f"tensor digest mismatch: the tensors differ from the ones the card "
                                       f"{card_path.name} was saved with (weights edited and file hash recomputed)")
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
        if path.name.endswith(EVAL_SUFFIX):
            continue
        try:
            card = read_card(path)
        except CheckpointError:
            continue
        out.append(CheckpointInfo(card["name"], card["task"], str(card["model"].get("neuron", "?")),
                                  float(card["test_accuracy"]), path))
    return out


def resign(name_or_path: str | os.PathLike) -> Path:
    """Re-sign a checkpoint whose card and weights you trust: store the digests of the current card and tensors in
    the weights' metadata and the new file hash in the card. Refuses weights whose stored config is not the
    card's model. This is how a card edited on purpose (or a checkpoint saved before cards were covered) is made
    loadable again, and the only way."""
    card_path = resolve(name_or_path)
    card = read_card(card_path, verify=False)
    weights = card_path.parent / card["weights_file"]
    if not weights.is_file():
        raise CheckpointError(weights, f"weights file named by {card_path.name} is missing")
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as fh:
            stored = (fh.metadata() or {}).get("model")
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(weights, f"not a readable safetensors file: {exc}") from exc
    if stored != _canonical(card["model"]):
        raise CheckpointError(weights, f"model config in the weights ({stored}) differs from the card; not re-signing")
    _check_tensors(build_model(with_backend(card["model"])), tensors, weights)
    return _write_pair(card_path, weights, card["model"], card, tensors)


def main(argv: list[str] | None = None) -> int:
    """``python -m mfpsn.checkpoints resign NAME_OR_CARD...``: re-sign checkpoints (see :func:`resign`);
    ``python -m mfpsn.checkpoints verify NAME_OR_CARD...``: load each and report."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mfpsn.checkpoints", description="Re-sign or verify checkpoints.")
    parser.add_argument("action", choices=("resign", "verify"))
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.names:
        try:
            if args.action == "resign":
                print(f"re-signed {resign(name)}")
            else:
                print(f"ok {load(name).card_path}")
        except CheckpointError as exc:
            failed += 1
            print(f"FAILED {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
