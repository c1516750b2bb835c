"""NumPy ``.npz`` archives of event columns: the reader and writer live with ``.npy`` in
:mod:`mfpsn.events.formats.npy`; this module is the format's record."""
from __future__ import annotations

from mfpsn.events.formats.npy import MAGIC_ZIP, OPTIONS, read, write_npz
from mfpsn.events.formats.record import FormatRecord

__all__ = ["FORMAT"]

FORMAT = FormatRecord("npz", read, write_npz, extensions=(".npz",), options=OPTIONS,
                      sniff=lambda head, path, ext, size: head.startswith(MAGIC_ZIP))
