"""Errors raised by the event readers."""
from __future__ import annotations

__all__ = ["EventFormatError"]


class EventFormatError(ValueError):
    """A file could not be read as events.

    The message names the file, the format that was tried and what is wrong:
    ``EventFormatError("rec.raw", "evt3", "truncated word at byte 1023")``.
    """

    def __init__(self, path: object, fmt: str | None, problem: str) -> None:
        self.path = str(path)
        self.format = fmt
        self.problem = problem
        where = f"{self.path}" + (f" (as {fmt})" if fmt else "")
        super().__init__(f"{where}: {problem}")
