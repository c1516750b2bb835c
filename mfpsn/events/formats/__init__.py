"""One module per file format, each exporting its :class:`~mfpsn.events.formats.record.FormatRecord` as
``FORMAT``; :data:`FORMAT_REGISTRY` lists them in detection order (magic bytes before extension-only formats).

:mod:`mfpsn.events.io` builds its tables and its detection from the registry. Adding a format is one module and
its record, added here (or, for a test or a user, to a copy: ``FORMAT_REGISTRY.with_records(...)``).
"""
from mfpsn.events.formats import aedat2, aedat4, aedat31, dat, evt2, evt3, nmnist, npy, npz, shd
from mfpsn.events.formats.record import FormatRecord, FormatRegistry

__all__ = ["FORMAT_REGISTRY", "FormatRecord", "FormatRegistry"]

FORMAT_REGISTRY = FormatRegistry(m.FORMAT for m in (aedat2, aedat31, aedat4, shd, npy, npz, evt2, evt3, dat, nmnist))
