"""The "DVS digits" data set: scikit-learn's 8x8 digits turned into events by simulated saccades.

All 1,797 images of ``sklearn.datasets.load_digits`` (bundled with scikit-learn, nothing is
downloaded) go through :mod:`mfpsn.data.saccades` with :data:`DVS_DIGITS_CONFIG` (34x34 sensor,
three 100 ms saccades, threshold 0.15 with a per-pixel mismatch of 0.02, 0.2 Hz background noise
per pixel); digit ``i`` is seeded by ``SeedSequence([seed, i])``. A fixed stratified split puts
``round(0.2 n_c)`` digits of each class ``c`` (at least one when a class has two or more) in
the test set, chosen by a seeded permutation per class.

Cache: one ``dvs_digits.npz`` (``allow_pickle=False``) under ``root``: the argument, else
``$MFPSN_DATA``, else ``~/.cache/mfpsn`` (subsets and other seeds get their own file, see
:func:`cache_path`). It holds the events of all digits back to back
(``t`` uint32 µs from 0, ``x``, ``y``, ``p`` uint8, ``offsets [N + 1]``), ``labels``,
``digit_index``, ``train_index``, ``test_index`` and ``params`` (JSON of the generator version
and every parameter). It is rebuilt when it is missing, unreadable or its ``params`` differ.

Build from the command line: ``python -m mfpsn.data.dvs_digits --out DIR``.

Training API: :func:`load_dvs_digits` returns a :class:`DVSDigits`, a
``torch.utils.data.Dataset`` whose frames for every sample are computed once, vectorised, at
construction (``.frames [N, T, 2, H, W]`` float32, ``.labels [N]`` int64, or ``.tensors()``).
Frames use ``n_bins`` equal bins over the fixed range ``[0, 300_000]`` µs of every sample
(``time_range=(0, 300_001)`` in :func:`~mfpsn.events.frames.events_to_frames`), channel 0 = OFF,
channel 1 = ON.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mfpsn.data.esim import ESIMConfig
from mfpsn.data.saccades import SaccadeConfig, image_to_events, simulate_batch
from mfpsn.events.core import Events
from mfpsn.events.frames import downsample_coordinates

__all__ = ["GENERATOR_VERSION", "DVS_DIGITS_CONFIG", "N_DIGITS", "data_root", "cache_path",
           "generator_params", "stratified_split", "build_dvs_digits", "DVSDigitsArchive",
           "open_dvs_digits", "DVSDigits", "load_dvs_digits", "sample_events", "digit_images", "main"]

GENERATOR_VERSION = 1
N_DIGITS = 1797
SENSOR = 34
TEST_FRACTION = 0.2
DVS_DIGITS_CONFIG = SaccadeConfig(esim=ESIMConfig(c_on=0.15, c_off=0.15, threshold_sigma=0.02,
                                                  noise_rate_hz=0.2, eps=0.25))
_CHUNK = 256
_FILE = "dvs_digits.npz"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``root``, else ``$MFPSN_DATA``, else ``~/.cache/mfpsn``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("MFPSN_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mfpsn"


def cache_path(root: str | os.PathLike | None = None, *, n_digits: int | None = None, seed: int = 0) -> Path:
    """Path of the cached archive under :func:`data_root`: ``dvs_digits.npz`` for the full set
    with seed 0, ``dvs_digits_n{N}_seed{S}.npz`` otherwise (a subset never overwrites the full set)."""
    n = _check_n_digits(n_digits)
    name = _FILE if (n, int(seed)) == (N_DIGITS, 0) else f"dvs_digits_n{n}_seed{int(seed)}.npz"
    return data_root(root) / name


def _check_n_digits(n_digits: int | None) -> int:
    if n_digits is None:
        return N_DIGITS
    if int(n_digits) != n_digits or not 1 <= n_digits <= N_DIGITS:
        raise ValueError(f"n_digits: expected an integer in [1, {N_DIGITS}] or None, found {n_digits!r}")
    return int(n_digits)


def generator_params(*, n_digits: int | None = None, seed: int = 0) -> dict:
    """Everything that determines the archive; stored in it and compared on load."""
    return {"version": GENERATOR_VERSION, "n_digits": _check_n_digits(n_digits), "seed": int(seed),
            "test_fraction": TEST_FRACTION, "saccades": DVS_DIGITS_CONFIG.as_dict()}


def digit_images(n_digits: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n_digits`` scikit-learn digits: ``([N, 8, 8]`` float64 in ``[0, 1]``, ``[N]`` int64 labels)."""
    from sklearn.datasets import load_digits

    n = _check_n_digits(n_digits)
    digits = load_digits()
    return digits.images[:n] / 16.0, digits.target[:n].astype(np.int64)


def stratified_split(labels: np.ndarray, test_fraction: float = TEST_FRACTION, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: per class ``c`` with ``n_c`` samples, ``max(1, round(f n_c))`` go to
    the test set when ``n_c >= 2`` (none when ``n_c == 1``), chosen by a permutation drawn from
    ``SeedSequence([seed, c])``.

    Returns:
        ``(train_index, test_index)``: sorted int64 positions into ``labels``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a fraction in (0, 1), found {test_fraction!r}")
    labels = np.asarray(labels)
    test = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if members.size < 2:
            continue
        n_test = max(1, int(np.floor(test_fraction * members.size + 0.5)))
        rng = np.random.default_rng(np.random.SeedSequence([seed, int(c)]))
        test.append(rng.permutation(members)[:n_test])
    test_index = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    train_mask = np.ones(labels.size, bool)
    train_mask[test_index] = False
    return np.flatnonzero(train_mask).astype(np.int64), test_index.astype(np.int64)


def _simulate_all(n: int, seed: int) -> dict[str, np.ndarray]:
    images, labels = digit_images(n)
    counts, ts, xs, ys, ps = [], [], [], [], []
    for lo in range(0, n, _CHUNK):
        ids = np.arange(lo, min(lo + _CHUNK, n))
        c, t, x, y, p = simulate_batch(images[ids], config=DVS_DIGITS_CONFIG, seed=seed, sample_ids=ids)
        counts.append(c)
        ts.append(t.astype(np.uint32))
        xs.append(x.astype(np.uint8))
        ys.append(y.astype(np.uint8))
        ps.append(p.astype(np.uint8))
    train_index, test_index = stratified_split(labels, TEST_FRACTION, seed)
    return {"t": np.concatenate(ts), "x": np.concatenate(xs), "y": np.concatenate(ys), "p": np.concatenate(ps),
            "offsets": np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64),
            "labels": labels, "digit_index": np.arange(n, dtype=np.int64),
            "train_index": train_index, "test_index": test_index}


def _read_params(path: Path) -> dict | None:
    """The stored params, or None when the file is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return json.loads(str(archive["params"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None


def build_dvs_digits(root: str | os.PathLike | None = None, *, n_digits: int | None = None, seed: int = 0,
                     force: bool = False) -> tuple[Path, bool]:
    """Make sure the cache exists and matches the generator; build it if not.

    Args:
        root: cache directory (see :func:`data_root`).
        n_digits: the first ``n_digits`` digits only (tests); ``None`` for all 1,797.
        seed: base seed of the simulator and the split.
        force: rebuild even if a matching cache exists.

    Returns:
        ``(path, built)``: the archive and whether it was (re)built now.
    """
    params = generator_params(n_digits=n_digits, seed=seed)
    path = cache_path(root, n_digits=n_digits, seed=seed)
    if not force and _read_params(path) == params:
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = _simulate_all(params["n_digits"], seed)
    fd, tmp = tempfile.mkstemp(prefix=".dvs_digits-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, params=np.array(json.dumps(params, sort_keys=True)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path, True


class DVSDigitsArchive:
    """The cached events in memory (all arrays as stored, see the module docstring)."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as archive:
            self.params = json.loads(str(archive["params"]))
            for name in ("t", "x", "y", "p", "offsets", "labels", "digit_index", "train_index", "test_index"):
                setattr(self, name, archive[name])
        self.path = path

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def split_index(self, split: str) -> np.ndarray:
        """Positions of the ``"train"`` or ``"test"`` samples."""
        if split not in ("train", "test"):
            raise ValueError(f"split: expected 'train' or 'test', found {split!r}")
        return self.train_index if split == "train" else self.test_index

    def events(self, i: int) -> Events:
        """Events of sample ``i`` (a position in the archive)."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return Events(self.t[lo:hi], self.x[lo:hi], self.y[lo:hi], self.p[lo:hi], SENSOR, SENSOR,
                      {"label": int(self.labels[i]), "digit_index": int(self.digit_index[i])})


def open_dvs_digits(root: str | os.PathLike | None = None, *, n_digits: int | None = None,
                    seed: int = 0) -> DVSDigitsArchive:
    """Build the cache if needed and load its events."""
    path, _ = build_dvs_digits(root, n_digits=n_digits, seed=seed)
    return DVSDigitsArchive(path)


def _frames(archive: DVSDigitsArchive, index: np.ndarray, n_bins: int,
            downsample_to: int | tuple[int, int] | None) -> np.ndarray:
    """``[len(index), n_bins, 2, H, W]`` float32 counts of the samples at ``index``."""
    probe = Events(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), SENSOR, SENSOR)
    _, _, height, width = downsample_coordinates(probe, downsample_to)
    out = np.zeros((index.size, n_bins, 2, height, width), np.float32)
    span = DVS_DIGITS_CONFIG.duration_us + 1
    per_sample = n_bins * 2 * height * width
    for lo in range(0, index.size, _CHUNK):
        rows = index[lo:lo + _CHUNK]
        starts, ends = archive.offsets[rows], archive.offsets[rows + 1]
        sizes = ends - starts
        sample = np.repeat(np.arange(rows.size, dtype=np.int64), sizes)
        ev = np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
        t = archive.t[ev].astype(np.int64)
        x = archive.x[ev].astype(np.int64) * width // SENSOR
        y = archive.y[ev].astype(np.int64) * height // SENSOR
        b = t * n_bins // span
        flat = (((sample * n_bins + b) * 2 + archive.p[ev]) * height + y) * width + x
        counts = np.bincount(flat, minlength=rows.size * per_sample)
        out[lo:lo + rows.size] = counts.reshape(rows.size, n_bins, 2, height, width)
    return out


class DVSDigits(Dataset):
    """One split of DVS digits as frames, all computed at construction.

    Attributes:
        frames: ``[N, T, 2, H, W]`` float32 event counts (channel 0 = OFF, 1 = ON).
        labels: ``[N]`` int64 digit classes 0..9.
        digit_index: ``[N]`` int64 positions in ``sklearn.datasets.load_digits()``.

    ``dataset[i]`` is ``(frames[i] [T, 2, H, W], labels[i])``; a ``DataLoader`` batches it to
    ``[B, T, 2, H, W]`` (transpose to time-first ``[T, B, ...]`` for the neurons).
    """

    def __init__(self, frames: torch.Tensor, labels: torch.Tensor, digit_index: torch.Tensor, split: str) -> None:
        self.frames = frames
        self.labels = labels
        self.digit_index = digit_index
        self.split = split

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.frames[i], self.labels[i]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(frames [N, T, 2, H, W] float32, labels [N] int64)``."""
        return self.frames, self.labels


def load_dvs_digits(split: str, *, root: str | os.PathLike | None = None, n_bins: int = 16,
                    downsample_to: int | tuple[int, int] | None = None, n_digits: int | None = None,
                    seed: int = 0) -> DVSDigits:
    """One split as a :class:`DVSDigits` data set (builds the cache first when needed).

    Args:
        split: ``"train"`` or ``"test"``.
        root: cache directory (see :func:`data_root`).
        n_bins: time bins ``T`` over the fixed 0..300 ms range of every sample.
        downsample_to: ``(height, width)`` or an int, by integer pooling; ``None`` keeps 34x34.
        n_digits: use only the first ``n_digits`` digits (tests); ``None`` for all 1,797.
        seed: base seed of the simulator and the split.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', found {split!r}")
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins: expected a positive integer, found {n_bins!r}")
    archive = open_dvs_digits(root, n_digits=n_digits, seed=seed)
    index = archive.split_index(split)
    frames = _frames(archive, index, int(n_bins), downsample_to)
    return DVSDigits(torch.from_numpy(frames), torch.from_numpy(archive.labels[index].astype(np.int64)),
                     torch.from_numpy(archive.digit_index[index].astype(np.int64)), split)


def sample_events(digit_index: int, *, seed: int = 0) -> Events:
    """Events of one digit, simulated directly (no cache); identical to the archive's entry.

    ``meta`` holds ``label``, ``digit_index`` and ``split``.
    """
    if int(digit_index) != digit_index or not 0 <= digit_index < N_DIGITS:
        raise ValueError(f"digit_index: expected an integer in [0, {N_DIGITS}), found {digit_index!r}")
    i = int(digit_index)
    images, labels = digit_images()
    ev = image_to_events(images[i], config=DVS_DIGITS_CONFIG, seed=seed, sample_id=i)
    _, test_index = stratified_split(labels, TEST_FRACTION, seed)
    split = "test" if np.isin(i, test_index) else "train"
    return Events(ev.t, ev.x, ev.y, ev.p, ev.width, ev.height,
                  {"label": int(labels[i]), "digit_index": i, "split": split, "seed": seed})


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: build (or reuse) the cache and print a summary with the measured build time."""
    parser = argparse.ArgumentParser(prog="python -m mfpsn.data.dvs_digits", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help="cache directory (default $MFPSN_DATA or ~/.cache/mfpsn)")
    parser.add_argument("--n-digits", type=int, default=None, help="only the first N digits (default all 1797)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache matches")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path, built = build_dvs_digits(args.out, n_digits=args.n_digits, seed=args.seed, force=args.force)
    elapsed = time.perf_counter() - start
    archive = DVSDigitsArchive(path)
    counts = np.diff(archive.offsets)
    print(f"{'built' if built else 'reused'} {path} in {elapsed:.2f} s "
          f"({path.stat().st_size / 1e6:.1f} MB)")
    print(f"{len(archive)} digits ({archive.train_index.size} train / {archive.test_index.size} test), "
          f"{int(counts.sum())} events, {counts.mean():.0f} per digit (min {counts.min()}, max {counts.max()}), "
          f"ON fraction {archive.p.mean():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
