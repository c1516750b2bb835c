"""The shape every registry of the package shares (neurons, backends, file formats): an immutable mapping from
a record's key to the record, in the order given, extended by copying (:meth:`Registry.with_records`)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

__all__ = ["Registry"]


class Registry(Mapping[str, Any]):
    """``record.<key> → record``; subclasses set :attr:`record_type` and :attr:`key` and may check each record
    in :meth:`_check`. ValueError for a foreign entry or a key given twice."""

    record_type: ClassVar[type]
    key: ClassVar[str]

    def __init__(self, records: Iterable[Any]) -> None:
        table: dict[str, Any] = {}
        who = type(self).__name__
        for r in records:
            if not isinstance(r, self.record_type):
                raise ValueError(f"{who}: expected {self.record_type.__name__} entries, found {type(r).__name__}")
            k = getattr(r, self.key)
            if k in table:
                raise ValueError(f"{who}: {self.key} {k!r} given twice")
            self._check(r)
            table[k] = r
        self._records = MappingProxyType(table)

    def _check(self, record: Any) -> None:
        """Raise ValueError for a record this registry cannot hold (default: accept)."""

    def __getitem__(self, key: str) -> Any:
        return self._records[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._records)})"

    def with_records(self, *records: Any) -> "Registry":
        """A new registry of the same kind: these records after the existing ones."""
        return type(self)([*self._records.values(), *records])
