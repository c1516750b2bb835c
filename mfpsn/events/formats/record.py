"""The format record: what one file format tells :mod:`mfpsn.events.io`, exported by its module as ``FORMAT``.

:class:`FormatRegistry` is the immutable, ordered list of records that ``read_events``, ``write_events`` and
``detect_format`` read (their tables are built from it; nothing is registered globally). Adding a format is one
module plus its record; a test or a user extends a copy and passes it on::

    formats = FORMAT_REGISTRY.with_records(FormatRecord("toy", read_toy, extensions=(".toy",), sniff=is_toy))
    events = read_events("a.toy", formats=formats)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mfpsn._registry import Registry
from mfpsn.events._context import ReadContext
from mfpsn.events.core import Events

__all__ = ["Sniff", "FormatRecord", "FormatRegistry"]

#: ``(head, path, ext, size) → bool``: the first bytes (up to 1 MiB), the path, its lower-case suffix and the
#: file size; True claims the file. May raise EventFormatError for a file of its family that it cannot read
#: (an unsupported version), which ends detection with that message.
Sniff = Callable[[bytes, str, str, int], bool]


def _never(head: bytes, path: str, ext: str, size: int) -> bool:
    return False


@dataclass(frozen=True)
class FormatRecord:
    """One file format.

    Attributes:
        name: ``read_events(format=name)``, ``meta["format"]``.
        read: ``ReadContext → Events``.
        write: ``(path, events, **options) → None``, or None (read only).
        extensions: lower-case suffixes of its files (``write_events`` takes the format from a suffix that
            exactly one writable format claims; the app lists them all).
        sniff: detection (:data:`Sniff`); records are asked in the registry's order, so magic-byte formats
            come before those claimed by extension alone.
        options: the format-specific keywords ``read_events`` passes on.
    """

    name: str
    read: Callable[[ReadContext], Events]
    write: Callable[..., None] | None = None
    extensions: tuple[str, ...] = ()
    sniff: Sniff = _never
    options: tuple[str, ...] = ()


class FormatRegistry(Registry):
    """An immutable ``name → FormatRecord`` mapping, in detection order (``with_records`` extends a copy)."""

    record_type = FormatRecord
    key = "name"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._records)

    @property
    def writable(self) -> tuple[str, ...]:
        return tuple(n for n, r in self._records.items() if r.write is not None)

    @property
    def extensions(self) -> tuple[str, ...]:
        """Every suffix some format claims, in order, once each."""
        return tuple(dict.fromkeys(e for r in self._records.values() for e in r.extensions))

    def writer_for_extension(self, ext: str) -> str | None:
        """The one writable format claiming ``ext``; None when none or several do (``.raw``, ``.aedat``)."""
        names = [n for n, r in self._records.items() if r.write is not None and ext in r.extensions]
        return names[0] if len(names) == 1 else None
