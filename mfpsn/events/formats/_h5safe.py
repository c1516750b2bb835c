"""Reading HDF5 without leaving the file: link resolution and storage checks done before any read.

HDF5 can make a dataset's bytes come from elsewhere: *external storage* (raw data in another file,
``dset.external``), *virtual datasets* (data mapped from other files), *external links* (an object in
another file) and soft links (to any path, including an external link). Any of these turns a reader
into a reader of files on the server. This module resolves a dataset path link by link, refusing
external links and following soft links only inside the file, and then checks the dataset itself:

- layout contiguous, chunked or compact (never virtual) and no external storage;
- contiguous storage lies inside the file (offset + size <= file size);
- declared bytes (shape x item size, and one chunk for chunked data) within ``budget`` bytes,
  which bounds what a compressed "bomb" can decompress to.

Errors are :class:`EventFormatError` naming the dataset and the problem, never the data.
"""
from __future__ import annotations

import struct

from mfpsn.events.errors import EventFormatError

__all__ = ["resolve_dataset", "check_storage", "declared_bytes", "vlen_length", "file_budget", "MAX_LINK_DEPTH"]

MAX_LINK_DEPTH = 8


def resolve_dataset(f, name: str, path: str, fmt: str, *, required: bool = True):
    """The ``h5py.Dataset`` at ``name`` reached through hard links (and soft links inside the file) only.

    Returns None when ``required`` is False and the name does not exist. Never touches another file.
    """
    import h5py

    obj = _walk(f, name, path, fmt, 0)
    if obj is None:
        if required:
            raise EventFormatError(path, fmt, f"missing dataset '{name}' (not an SHD/SSC-layout file)")
        return None
    if not isinstance(obj, h5py.Dataset):
        if required:
            raise EventFormatError(path, fmt, f"'{name}' is not a dataset (not an SHD/SSC-layout file)")
        return None
    return obj


def _walk(f, name: str, path: str, fmt: str, depth: int):
    import h5py

    if depth > MAX_LINK_DEPTH:
        raise EventFormatError(path, fmt, f"'{name}': more than {MAX_LINK_DEPTH} nested soft links")
    obj = f
    for part in [p for p in name.split("/") if p]:
        if not isinstance(obj, h5py.Group):
            return None
        try:
            link = obj.get(part, getlink=True)
        except (KeyError, ValueError, RuntimeError, OSError):
            return None
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise EventFormatError(path, fmt, f"'{name}' is an external link to another file; refused "
                                              "(only data stored inside the uploaded file is read)")
        if isinstance(link, h5py.SoftLink):
            target = link.path
            if not target.startswith("/"):
                target = f"{obj.name.rstrip('/')}/{target}"
            obj = _walk(f, target, path, fmt, depth + 1)
            if obj is None:
                return None
            continue
        if not isinstance(link, h5py.HardLink):
            raise EventFormatError(path, fmt, f"'{name}' is a user-defined link; refused")
        try:
            obj = obj[part]
        except (KeyError, ValueError, RuntimeError, OSError) as exc:
            raise EventFormatError(path, fmt, f"'{name}': corrupt object ({type(exc).__name__})") from None
    return obj


def declared_bytes(dset) -> int:
    """Bytes that reading the whole dataset into memory takes (vlen elements count as 16-byte handles)."""
    n = 1
    for s in dset.shape or ():
        n *= int(s)
    return n * max(int(dset.dtype.itemsize), 1)


def check_storage(dset, name: str, path: str, fmt: str, file_size: int, budget: int) -> None:
    """Refuse a dataset whose bytes do not all come from inside the file, or that declares more than ``budget``."""
    import h5py

    try:
        if dset.is_virtual:
            raise EventFormatError(path, fmt, f"'{name}' is a virtual dataset (data mapped from other files); refused")
        if dset.external:
            raise EventFormatError(path, fmt, f"'{name}' uses external storage (raw data in another file); refused")
        dcpl = dset.id.get_create_plist()
        layout = dcpl.get_layout()
        if dcpl.get_external_count() > 0:
            raise EventFormatError(path, fmt, f"'{name}' uses external storage (raw data in another file); refused")
    except EventFormatError:
        raise
    except (KeyError, ValueError, TypeError, RuntimeError, OSError, AttributeError) as exc:
        raise EventFormatError(path, fmt, f"'{name}': unreadable storage description ({type(exc).__name__})") from None
    allowed = {h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked", h5py.h5d.COMPACT: "compact"}
    if layout not in allowed:
        raise EventFormatError(path, fmt, f"'{name}' has storage layout {layout}; expected contiguous, chunked or "
                                          "compact data inside the file")
    nbytes = declared_bytes(dset)
    if nbytes > budget:
        raise EventFormatError(path, fmt, f"'{name}' declares {nbytes} bytes of data; at most {budget} are read "
                                          f"from a {file_size}-byte file")
    if layout == h5py.h5d.CHUNKED:
        chunk = 1
        for c in dset.chunks or ():
            chunk *= int(c)
        chunk *= max(int(dset.dtype.itemsize), 1)
        if chunk > budget:
            raise EventFormatError(path, fmt, f"'{name}' has chunks of {chunk} bytes; at most {budget} are read "
                                              f"from a {file_size}-byte file")
    elif layout == h5py.h5d.CONTIGUOUS:
        offset = dset.id.get_offset()
        stored = int(dset.id.get_storage_size())
        if offset is not None and int(offset) + stored > file_size:
            raise EventFormatError(path, fmt, f"'{name}': {stored} data bytes at offset {offset} run past the end "
                                              f"of the file ({file_size} bytes)")
        if offset is None and nbytes and stored:
            raise EventFormatError(path, fmt, f"'{name}': contiguous data without a position inside the file")


def vlen_length(f, dset, index: int, name: str, path: str, fmt: str, file_size: int) -> int:
    """The length of variable-length element ``index`` of a contiguous or unfiltered chunked vlen dataset, read
    from its on-disk handle (4-byte length, heap address, 4-byte object index) before HDF5 allocates it."""
    import h5py

    try:
        sizeof_addr = int(f.id.get_create_plist().get_sizes()[0])
        dcpl = dset.id.get_create_plist()
        layout = dcpl.get_layout()
    except (ValueError, RuntimeError, OSError, AttributeError) as exc:
        raise EventFormatError(path, fmt, f"'{name}': unreadable storage description ({type(exc).__name__})") from None
    rec = 4 + sizeof_addr + 4
    if layout == h5py.h5d.CONTIGUOUS:
        offset = dset.id.get_offset()
        if offset is None:
            raise EventFormatError(path, fmt, f"'{name}': element {index} has no storage in the file")
        at = int(offset) + index * rec
        if at + 4 > file_size:
            raise EventFormatError(path, fmt, f"'{name}': element {index} lies past the end of the file")
        with open(path, "rb") as fh:
            fh.seek(at)
            raw = fh.read(4)
    elif layout == h5py.h5d.CHUNKED and dcpl.get_nfilters() == 0 and dset.ndim == 1:
        c = int(dset.chunks[0])
        try:
            _mask, raw_chunk = dset.id.read_direct_chunk(((index // c) * c,))
        except (ValueError, RuntimeError, OSError, KeyError) as exc:
            raise EventFormatError(path, fmt, f"'{name}': cannot locate element {index} ({type(exc).__name__})") from None
        j = (index % c) * rec
        raw = raw_chunk[j:j + 4]
    else:
        raise EventFormatError(path, fmt, f"'{name}': variable-length data must be stored contiguous or in "
                                          "unfiltered chunks (its lengths are checked before reading)")
    if len(raw) != 4:
        raise EventFormatError(path, fmt, f"'{name}': element {index} is truncated")
    return int(struct.unpack("<I", raw)[0])


def file_budget(file_size: int, ratio: int, floor: int = 1 << 20) -> int:
    """Bytes a dataset may decompress to: ``ratio`` times the file size plus ``floor``."""
    return int(file_size) * int(ratio) + int(floor)

