"""MNIST-layout IDX files (MNIST, Fashion-MNIST): a bounded, verified reader.

The four standard files, gzip-compressed or not, in one folder (``train-images-idx3-ubyte[.gz]``,
``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``),
as the original sites and torchvision's ``MNIST/raw/`` folder hold them. Nothing is downloaded.

IDX layout: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, then one big-endian
uint32 per dimension, then the data. The reader checks every field against what the file holds
(declared size = actual size, exactly) before it allocates, and decompresses with a budget of
that declared size, so a gzip "bomb" or a truncated file raises :class:`IDXFormatError` naming the
file, what was expected and what was found.
"""
from __future__ import annotations

import gzip
import os
import stat
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDXFormatError", "SPLIT_FILES", "read_idx", "write_idx", "write_subset", "find_idx_files", "load_mnist_split",
           "MAX_IDX_BYTES"]

MAX_IDX_BYTES = 256 * 2**20  # MNIST's largest file holds 47 MB; far larger files are refused
SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class IDXFormatError(ValueError):
    """A file that is not a well-formed IDX file of the expected rank; the message names the file."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: not a usable IDX file: {problem}")


def _open_regular(path: Path):
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise IDXFormatError(path, "expected a regular file, found a special file (FIFO, device or folder)")
    return open(path, "rb")


def _read_bounded(path: Path, limit: int) -> bytes:
    """The (decompressed) bytes of ``path``, at most ``limit`` + 1 of them (so an excess is detectable)."""
    with _open_regular(path) as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=raw) as gz:
                    chunks, total = [], 0
                    while total <= limit:
                        chunk = gz.read(min(1 << 20, limit + 1 - total))
                        if not chunk:
                            break
                        chunks.append(chunk)
                        total += len(chunk)
                    return b"".join(chunks)
            except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
                raise IDXFormatError(path, f"corrupt gzip stream ({type(exc).__name__})") from None
        size = os.fstat(raw.fileno()).st_size
        return raw.read(min(size, limit + 1))


def read_idx(path: str | os.PathLike, *, ndim: int, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """The uint8 array stored in the IDX file ``path`` (gzip or raw), with ``ndim`` dimensions.

    Raises:
        IDXFormatError: wrong magic or type, another rank, a size that disagrees with the header
            (truncated or trailing bytes), more than ``max_bytes`` of data, or a corrupt gzip stream.
    """
    path = Path(path)
    data = _read_bounded(path, max_bytes)
    if len(data) > max_bytes:
        raise IDXFormatError(path, f"expected at most {max_bytes} bytes of data, found more")
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise IDXFormatError(path, "expected the magic 0x0000 followed by a type and a rank byte")
    if data[2] != 0x08:
        raise IDXFormatError(path, f"expected element type 0x08 (uint8), found 0x{data[2]:02x}")
    if data[3] != ndim:
        raise IDXFormatError(path, f"expected {ndim} dimension(s), found {data[3]}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(path, f"expected a {header}-byte header, found {len(data)} bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if header + count != len(data):
        raise IDXFormatError(path, f"header declares shape {list(shape)} = {count} bytes of data, "
                                   f"found {len(data) - header}")
    return np.frombuffer(data, np.uint8, count=count, offset=header).reshape(shape).copy()


def find_idx_files(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """``(images, labels)`` paths of ``split`` ("train" or "test") in ``root`` (``.gz`` or not)."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split: expected 'train' or 'test', found {split!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"MNIST folder: expected a directory, found {str(root)!r}")
    found = []
    for stem in SPLIT_FILES[split]:
        for name in (stem + ".gz", stem):
            if (root / name).is_file():
                found.append(root / name)
                break
        else:
            raise ValueError(f"MNIST folder {str(root)!r}: expected {stem}.gz or {stem} (the standard IDX "
                             f"files, e.g. torchvision's MNIST/raw folder); found none")
    return found[0], found[1]


def load_mnist_split(root: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images [N, 28, 28] uint8, labels [N] int64)`` of ``split`` from the IDX files in ``root``.

    Raises:
        ValueError: missing files; IDXFormatError for a malformed one, or images and labels that
            disagree in count, or labels outside 0..9.
    """
    images_path, labels_path = find_idx_files(root, split)
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1).astype(np.int64)
    if images.shape[1:] != (28, 28):
        raise IDXFormatError(images_path, f"expected 28x28 images, found {images.shape[1]}x{images.shape[2]}")
    if images.shape[0] != labels.shape[0]:
        raise IDXFormatError(labels_path, f"expected {images.shape[0]} labels (one per image in "
                                          f"{images_path.name}), found {labels.shape[0]}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise IDXFormatError(labels_path, f"expected labels 0..9, found {labels.min()}..{labels.max()}")
    return images, labels


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"write_idx: expected an array with 1..255 dimensions, found {a.ndim}")
    data = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in a.shape) + a.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.GzipFile(path, "wb", mtime=0) as gz:
            gz.write(data)
    else:
        path.write_bytes(data)
    return path


def write_subset(source: str | os.PathLike, out: str | os.PathLike, *, n_train: int, n_test: int) -> Path:
    """Copy the first ``n_train`` / ``n_test`` digits of the IDX files in ``source`` to ``out`` (gzip)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = load_mnist_split(source, split)
        stem_images, stem_labels = SPLIT_FILES[split]
        write_idx(out / f"{stem_images}.gz", images[:n])
        write_idx(out / f"{stem_labels}.gz", labels[:n].astype(np.uint8))
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mfpsn.data.mnist",
                                     description="copy the first digits of an MNIST IDX folder (test subsets)")
    parser.add_argument("--source", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--test", type=int, default=300)
    a = parser.parse_args()
    print(write_subset(a.source, a.out, n_train=a.train, n_test=a.test))
