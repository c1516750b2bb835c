"""Text headers: AEDAT ``#`` lines (ending in \\r\\n) and Prophesee ``% `` lines (ending in \\n).

A header line must be printable ASCII; this keeps a first binary record whose top byte
happens to be ``#`` (0x23) or ``%`` (0x25) from being swallowed as text.
"""
from __future__ import annotations

import re

from mfpsn.events._context import MAX_T0_US, ReadContext
from mfpsn.events.errors import EventFormatError

__all__ = ["hash_header", "percent_header", "PropheseeHeader", "prophesee_kind"]

MAX_HEADER_BYTES = 1 << 20
MAX_LINE = 4096


_PRINTABLE = re.compile(rb"[\x20-\x7e\t]*")


def _printable(line: bytes) -> bool:
    return _PRINTABLE.fullmatch(line) is not None


def hash_header(buf: bytes, ctx: ReadContext, *, end_marker: bytes | None) -> tuple[list[str], int]:
    """Parse AEDAT ``#`` header lines; returns (lines without '#' and \\r\\n, data offset).

    With ``end_marker`` (AEDAT 3.1: ``#!END-HEADER``) every line up to the marker must be a
    valid header line and the marker must be present. Without it (AEDAT 2.0) the header ends
    at the first line that is not a printable ``#`` line ending in \\r\\n.
    """
    lines: list[str] = []
    pos = 0
    limit = min(len(buf), MAX_HEADER_BYTES)
    while pos < limit:
        if buf[pos:pos + 1] != b"#":
            break
        end = buf.find(b"\r\n", pos, min(pos + MAX_LINE, len(buf)))
        body = buf[pos:end] if end >= 0 else b""
        if end < 0 or not _printable(body):
            if end_marker is not None:
                raise ctx.error(f"malformed header line at byte {pos}: expected printable '#' text ending in \\r\\n")
            break
        if end_marker is not None and body == end_marker:
            return lines, end + 2
        lines.append(body[1:].decode("ascii"))
        pos = end + 2
    if end_marker is not None:
        raise ctx.error(f"header has no {end_marker.decode()} line (truncated or not this format)")
    return lines, pos


class PropheseeHeader:
    """Key/value view of ``% `` header lines.

    Attributes:
        lines: the header lines without the leading ``% ``.
        offset: byte offset of the first data byte.
        width, height: sensor size from ``format`` (``;width=..;height=..``), else ``geometry WxH``,
            else ``Width``/``Height`` keys; None when absent.
        t0: the ``% t0`` / ``% T0`` offset in µs (0 when absent), to be added to every timestamp.
        evt: ``"2.0"``, ``"3.0"`` or None (from ``evt X`` or ``format EVTn``).
        version: the DAT ``Version`` number or None.
    """

    def __init__(self, lines: list[str], offset: int, ctx: ReadContext) -> None:
        self.lines, self.offset = lines, offset
        self.width: int | None = None
        self.height: int | None = None
        self.t0 = 0
        self.evt: str | None = None
        self.version: int | None = None
        geometry = None
        wh: dict[str, int] = {}
        for line in lines:
            key, _, value = line.partition(" ")
            value = value.strip()
            low = key.lower()
            try:
                if low == "evt":
                    self.evt = value
                elif low == "format":
                    fmt, *pairs = value.split(";")
                    m = re.fullmatch(r"EVT(\d)(\d?)", fmt.strip().upper())
                    if m:
                        self.evt = f"{m.group(1)}.{m.group(2) or '0'}"
                    for pair in pairs:
                        k, _, v = pair.partition("=")
                        if k.strip().lower() in ("width", "height"):
                            wh[k.strip().lower()] = int(v)
                elif low == "geometry":
                    gw, gh = value.lower().split("x")
                    geometry = (int(gw), int(gh))
                elif key in ("Width", "Height"):
                    wh.setdefault(low + "_key", int(value))
                elif low == "t0":
                    self.t0 = int(value)
                elif key == "Version":
                    self.version = int(value)
            except ValueError:
                shown = line if len(line) <= 80 else line[:80] + "..."
                raise ctx.error(f"cannot parse header line '% {shown}': expected an integer value") from None
        if "width" in wh and "height" in wh:
            self.width, self.height = wh["width"], wh["height"]
        elif geometry is not None:
            self.width, self.height = geometry
        elif "width_key" in wh and "height_key" in wh:
            self.width, self.height = wh["width_key"], wh["height_key"]
        if self.t0 < 0:
            raise ctx.error(f"negative t0 {self.t0} in header")
        if self.t0 > MAX_T0_US:
            raise ctx.error(f"header t0 has {len(str(self.t0))} digits; expected at most {MAX_T0_US} us")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v is not None and not 1 <= v <= 65536:
                raise ctx.error(f"header {name}={v} is not a valid sensor size (1..65536)")


def percent_header(buf: bytes, ctx: ReadContext) -> PropheseeHeader:
    """Parse Prophesee ``% `` lines: stop at ``% end`` or at the first line that is not printable ``% `` text."""
    lines: list[str] = []
    pos = 0
    limit = min(len(buf), MAX_HEADER_BYTES)
    while pos < limit and buf[pos:pos + 2] in (b"% ", b"%\n"):
        end = buf.find(b"\n", pos, min(pos + MAX_LINE, len(buf)))
        if end < 0:
            break
        body = buf[pos:end].rstrip(b"\r")
        if not _printable(body):
            break
        text = body[2:].decode("ascii")
        pos = end + 1
        if text.strip() == "end":
            break
        lines.append(text)
    return PropheseeHeader(lines, pos, ctx)


def prophesee_kind(head: bytes, path: str, ext: str) -> str | None:
    """Which Prophesee format a file's ``% `` header names: ``"evt2"``, ``"evt3"``, ``"dat"`` (``Version`` /
    ``Width`` / ``Height`` keys or a ``.dat`` name); None without a ``% `` header. EventFormatError for an
    unsupported ``evt`` version or a header that names none of them."""
    if not head.startswith(b"% "):
        return None
    hdr = percent_header(head, ReadContext(path, "prophesee-header"))
    if hdr.evt is not None:
        if hdr.evt.startswith("2"):
            return "evt2"
        if hdr.evt.startswith("3"):
            return "evt3"
        raise EventFormatError(path, None, f"unsupported Prophesee encoding 'evt {hdr.evt}'; supported: 2.0, 3.0")
    keys = {ln.split(" ", 1)[0] for ln in hdr.lines}
    if keys & {"Version", "Width", "Height"} or ext == ".dat":
        return "dat"
    raise EventFormatError(path, None, "a Prophesee '% ' header without 'evt', 'format' or DAT keys; "
                                       "pass format='evt2', 'evt3' or 'dat'")
