"""The format registry: io's tables and detection come from the records; a toy format registered in a copy is
read, written and detected without any change to ``mfpsn.events.io``."""
from __future__ import annotations

import numpy as np
import pytest

from mfpsn.events import (EXTENSIONS, FORMAT_REGISTRY, FORMATS, WRITABLE, Events, EventFormatError, FormatRecord,
                          FormatRegistry, detect_format, read_events, write_events)

MAGIC = b"TOYEV1\n"


def _read_toy(ctx):
    rows = np.loadtxt(ctx.path, skiprows=1, dtype=np.int64, ndmin=2)
    scale = int(ctx.options.get("scale", 1))
    return Events(rows[:, 0] * scale, rows[:, 1], rows[:, 2], rows[:, 3].astype(np.uint8), 8, 8,
                  meta={"format": "toy", "source": ctx.path})


def _write_toy(path, events):
    with open(path, "wb") as fh:
        fh.write(MAGIC)
        np.savetxt(fh, np.stack([events.t, events.x, events.y, events.p], 1).astype(np.int64), fmt="%d")


TOY = FormatRecord("toy", _read_toy, _write_toy, extensions=(".toy",), options=("scale",),
                   sniff=lambda head, path, ext, size: head.startswith(MAGIC))


def test_the_package_tables_come_from_the_records():
    assert FORMATS == FORMAT_REGISTRY.names and set(FORMATS) == {
        "nmnist", "aedat2", "aedat31", "aedat4", "evt2", "evt3", "dat", "shd", "npy", "npz"}
    assert "aedat4" not in WRITABLE and set(WRITABLE) == set(FORMATS) - {"aedat4"}
    assert {".bin", ".aedat", ".aedat4", ".raw", ".dat", ".h5", ".hdf5", ".npy", ".npz"} == set(EXTENSIONS)
    assert FORMAT_REGISTRY.writer_for_extension(".raw") is None       # evt2 and evt3: ambiguous
    assert FORMAT_REGISTRY.writer_for_extension(".aedat4") is None    # read only
    assert FORMAT_REGISTRY.writer_for_extension(".h5") == "shd"


def test_a_toy_format_is_one_record(tmp_path):
    formats = FORMAT_REGISTRY.with_records(TOY)
    ev = Events(np.array([1, 5, 9]), np.array([0, 3, 7]), np.array([1, 2, 3]), np.array([1, 0, 1]), 8, 8)
    path = tmp_path / "a.toy"
    write_events(path, ev, formats=formats)                          # format from the extension
    assert path.read_bytes().startswith(MAGIC)
    assert detect_format(path, formats=formats) == "toy"
    back = read_events(path, formats=formats, scale=2)
    assert back.t.tolist() == [2, 10, 18] and back.x.tolist() == [0, 3, 7]
    with pytest.raises(ValueError, match="not understood by format 'toy'"):
        read_events(path, formats=formats, layout="dvs128")
    with pytest.raises(EventFormatError, match="unknown format"):
        detect_format(path)                                          # the package's registry knows no toy


def test_a_registry_refuses_duplicates_and_foreign_entries():
    with pytest.raises(ValueError, match="given twice"):
        FORMAT_REGISTRY.with_records(FORMAT_REGISTRY["npy"])
    with pytest.raises(ValueError, match="expected FormatRecord"):
        FormatRegistry(["npy"])


def test_the_app_takes_its_extensions_from_the_format_records():
    from mfpsn.app.events_view import EXTENSIONS
    from mfpsn.events.formats import FORMAT_REGISTRY

    assert set(EXTENSIONS) == {e for n in FORMAT_REGISTRY for e in FORMAT_REGISTRY[n].extensions}
    assert len(EXTENSIONS) == len(set(EXTENSIONS))
