"""Resumable training state without pickle: tensors in safetensors, the rest in JSON.

``RUN_DIR/last.safetensors`` holds ``model.*`` (the state_dict), ``optim.<param index>.<name>``
(AdamW moments and step counts), ``rng.torch`` (the CPU generator state) and ``rng.cuda`` when
CUDA is used; ``RUN_DIR/last.json`` holds the epoch to resume at, the optimizer's param groups,
the scheduler and grad-scaler states, the history so far and the run's config (a resume with a
different config is refused).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

__all__ = ["save_state", "load_state", "has_state"]

_TENSORS = "last.safetensors"
_META = "last.json"


def has_state(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds a saved training state."""
    return (Path(run_dir) / _TENSORS).is_file() and (Path(run_dir) / _META).is_file()


def save_state(run_dir: str | os.PathLike, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: Any, scaler: Any, next_epoch: int, history: list, config: dict) -> None:
    """Write the state after an epoch (``next_epoch`` = the epoch a resume starts with)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for index, entry in opt["state"].items():
        for name, value in entry.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    # the two files are replaced one after the other: this stamp lets load_state detect a pair torn by a crash
    tensors["meta.next_epoch"] = torch.tensor(int(next_epoch))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = {"next_epoch": int(next_epoch), "param_groups": opt["param_groups"],
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler is not None else None,
            "history": history, "config": config}
    tmp_t, tmp_m = run_dir / f".{_TENSORS}.tmp", run_dir / f".{_META}.tmp"
    save_file(tensors, str(tmp_t))
    tmp_m.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_t, run_dir / _TENSORS)
    os.replace(tmp_m, run_dir / _META)


def load_state(run_dir: str | os.PathLike, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: Any, scaler: Any, config: dict, device: torch.device) -> tuple[int, list]:
    """Restore a state written by :func:`save_state`; returns ``(next_epoch, history)``.

    Raises:
        ValueError: the stored run config differs from ``config`` (names the differing keys); either file is
            unreadable (names it); or the two files come from different epochs (a save torn by a crash).
    """
    run_dir = Path(run_dir)
    try:
        meta = json.loads((run_dir / _META).read_text())
        stored_config, next_epoch = meta["config"], int(meta["next_epoch"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"resume from {run_dir / _META}: expected the JSON state written by a training run "
                         f"(with 'config' and 'next_epoch'), found an unreadable file ({err!r})") from err
    differ = sorted(k for k in set(stored_config) | set(config) if stored_config.get(k) != config.get(k))
    if differ:
        raise ValueError(f"resume from {run_dir / _META}: the run config differs in {differ} "
                         f"(stored {[stored_config.get(k) for k in differ]}, now {[config.get(k) for k in differ]})")
    try:
        tensors = load_file(str(run_dir / _TENSORS))
    except Exception as err:  # safetensors raises its own error types for bad files
        raise ValueError(f"resume from {run_dir / _TENSORS}: expected a safetensors state, found an unreadable "
                         f"file ({err!r})") from err
    stamp = tensors.pop("meta.next_epoch", None)
    if stamp is None or int(stamp) != next_epoch:
        raise ValueError(f"resume from {run_dir}: {_TENSORS} holds epoch {None if stamp is None else int(stamp)} but {_META} epoch "
                         f"{next_epoch} (a save was interrupted); resume from an intact state or start over")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value.to(device) if name != "step" else value
    groups = meta["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    scheduler.load_state_dict(meta["scheduler"])
    if scaler is not None and meta["scaler"] is not None:
        scaler.load_state_dict(meta["scaler"])
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return next_epoch, list(meta["history"])
