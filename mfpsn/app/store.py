"""The app's bounded server-side store of loaded recordings.

A loaded recording is kept once, here, and the browser session holds only its key (a random 22-character token)
in ``gr.State``. The store is bounded by entry count and by bytes, evicts the least recently used entry first and
forgets an entry ``ttl_s`` seconds after it was last used; a session whose key was evicted is asked to load the
recording again. One store is owned by the app (``app.py``); nothing here is global.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

from mfpsn.events import Events

__all__ = ["RecordingStore", "ReadCache", "events_nbytes"]


def events_nbytes(events: Events) -> int:
    """Bytes held by the four event arrays."""
    return int(events.t.nbytes + events.x.nbytes + events.y.nbytes + events.p.nbytes)


class RecordingStore:
    """LRU store of :class:`Events` with a count, a byte and a time limit (thread-safe).

    Args:
        max_items: most recordings kept.
        max_bytes: most bytes kept (a recording bigger than this is not kept; its session gets ``None``).
        ttl_s: seconds after the last use at which a recording is forgotten.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, max_items: int = 16, max_bytes: int = 256 << 20, ttl_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_items < 1 or max_bytes < 1 or ttl_s <= 0:
            raise ValueError(f"RecordingStore: expected positive limits, found {max_items}, {max_bytes}, {ttl_s}")
        self.max_items, self.max_bytes, self.ttl_s = int(max_items), int(max_bytes), float(ttl_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Events, int, float]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._items)

    @property
    def nbytes(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return self._bytes

    def put(self, events: Events) -> str | None:
        """Keep ``events``; returns its key, or None when it alone exceeds ``max_bytes``."""
        size = events_nbytes(events)
        if size > self.max_bytes:
            return None
        key = secrets.token_urlsafe(16)
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._items[key] = (events, size, now)
            self._bytes += size
            while len(self._items) > self.max_items or self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))
        return key

    def get(self, key: object) -> Events | None:
        """The recording of ``key`` (marked as just used), or None when unknown, expired or evicted."""
        if not isinstance(key, str):
            return None
        with self._lock:
            now = self._clock()
            self._expire(now)
            item = self._items.get(key)
            if item is None:
                return None
            self._items[key] = (item[0], item[1], now)
            self._items.move_to_end(key)
            return item[0]

    def discard(self, key: object) -> None:
        """Forget ``key`` (a session's delete callback)."""
        if isinstance(key, str):
            with self._lock:
                if key in self._items:
                    self._drop(key)

    def _drop(self, key: str) -> None:
        _, size, _ = self._items.pop(key)
        self._bytes -= size

    def _expire(self, now: float) -> None:
        while self._items:
            key, (_, _, used) = next(iter(self._items.items()))
            if now - used <= self.ttl_s:
                break
            self._drop(key)


class ReadCache:
    """Recordings read from files, kept in a :class:`RecordingStore` under a key of the file's real path, size
    and modification time and the read options, so a second click on the same file (the ``/event_neurons`` and
    ``/run_model`` endpoints name a file on every call) does not read and decode it again. A file changed on disk
    is a new key. The recordings count against the store's limits; at most ``max_keys`` keys are remembered."""

    def __init__(self, store: RecordingStore, max_keys: int = 64) -> None:
        self.store, self.max_keys = store, int(max_keys)
        self._lock = threading.Lock()
        self._tokens: OrderedDict[tuple, str] = OrderedDict()
        self.reads = 0  # files actually read (the tests count them)

    def read(self, path: str, options: tuple, reader: Callable[[], Events]) -> Events:
        """The recording of ``path`` read with ``options`` (hashable): cached, or ``reader()`` (then kept)."""
        import os

        try:
            st = os.stat(path)
        except OSError:
            return reader()  # the reader says what is wrong with the path, in its own words
        key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, options)
        with self._lock:
            token = self._tokens.get(key)
        events = self.store.get(token) if token is not None else None
        if events is not None:
            return events
        events = reader()
        token = self.store.put(events)
        with self._lock:
            self.reads += 1
            if token is not None:
                self._tokens[key] = token
                self._tokens.move_to_end(key)
                while len(self._tokens) > self.max_keys:
                    self._tokens.popitem(last=False)
        return events
