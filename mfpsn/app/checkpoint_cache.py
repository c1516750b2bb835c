"""The app's bounded cache of verified checkpoints, so a click does not reload and re-hash the weights.

:func:`mfpsn.checkpoints.load` verifies a checkpoint fully (file hash, stored config, tensor names and shapes, card
and tensor digests) and builds its model; that is done once per checkpoint here. An entry is keyed by the card's
path, the weights digest the card names and the size and modification time of both files, so a checkpoint that is
retrained, re-signed or edited on disk is a different key and goes through the full verification again. The cache
is owned by the app (``app.py`` makes one and passes it to the callbacks); nothing here is global.

Cached models are shared by concurrent requests: callers run them in eval mode under ``torch.no_grad()`` and never
change their parameters or mode.
"""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

from mfpsn.checkpoints import Checkpoint, CheckpointError, load

__all__ = ["CheckpointCache", "load_checkpoint", "named_checkpoint"]


class CheckpointCache:
    """LRU of at most ``max_items`` loaded :class:`~mfpsn.checkpoints.Checkpoint` objects (thread-safe)."""

    def __init__(self, max_items: int = 8) -> None:
        if max_items < 1:
            raise ValueError(f"CheckpointCache: expected max_items >= 1, found {max_items}")
        self.max_items = int(max_items)
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, Checkpoint] = OrderedDict()
        self.loads = 0  # full loads done (the tests count them)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @staticmethod
    def _key(card_path: Path) -> tuple:
        """(card path, weights digest named by the card, size and mtime of card and weights); CheckpointError
        when the card cannot be read (the full load then says why)."""
        try:
            st = card_path.stat()
            card = json.loads(card_path.read_text(encoding="utf-8")) if st.st_size < (1 << 24) else {}
            weights = card_path.parent / str(card.get("weights_file", ""))
            wst = weights.stat()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise CheckpointError(card_path, f"cannot read the card or its weights ({type(exc).__name__})") from None
        return (str(card_path.resolve()), str(card.get("weights_sha256")), st.st_size, st.st_mtime_ns,
                wst.st_size, wst.st_mtime_ns)

    def load(self, card_path: str | os.PathLike) -> Checkpoint:
        """The checkpoint of ``card_path`` (``NAME.json``): from the cache when neither file changed, else fully
        verified by :func:`mfpsn.checkpoints.load` and kept. Raises :class:`CheckpointError` as ``load`` does."""
        card_path = Path(card_path)
        try:
            key = self._key(card_path)
        except CheckpointError:
            return load(card_path)  # raises the precise error (missing file, bad card, ...)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        ckpt = load(card_path)  # outside the lock: a slow load does not hold up other checkpoints
        ckpt.model.eval()
        with self._lock:
            self.loads += 1
            stale = [k for k in self._items if k[0] == key[0]]
            for k in stale:  # an older version of the same file
                del self._items[k]
            self._items[key] = ckpt
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return ckpt


def load_checkpoint(card_path: str | os.PathLike, cache: CheckpointCache | None = None) -> Checkpoint:
    """``cache.load(card_path)``, or an uncached :func:`mfpsn.checkpoints.load` without a cache."""
    return cache.load(card_path) if cache is not None else load(card_path)


def named_checkpoint(name: str, directory: Path, cache: CheckpointCache | None = None) -> Checkpoint:
    """The checkpoint ``name`` of ``directory`` (a plain name, no path parts); ValueError when it has no card."""
    path = Path(directory) / f"{Path(str(name)).name}.json"
    if not path.is_file():
        raise ValueError(f"checkpoint {name!r}: not found in {directory}")
    return load_checkpoint(path, cache)
