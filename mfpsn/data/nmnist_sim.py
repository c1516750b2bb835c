"""N-MNIST-style events from real MNIST digits: the saccade simulator in the N-MNIST protocol.

Protocol (Orchard et al. 2015, as reconstructed in :mod:`mfpsn.data.saccades`): every 28x28 MNIST digit
(``pixel / 255``) moves over a 34x34 sensor along three 100 ms saccades that form a triangle (offsets of
its top-left corner (0, 0) → (3, 6) → (6, 0) → (0, 0)), rendered in 60 sub-steps per saccade; ESIM
events (:mod:`mfpsn.data.esim`) with ``log(I + 0.25)``, contrast thresholds 0.15 with a per-pixel
mismatch of σ = 0.02, and 0.2 Hz background noise per pixel: :data:`NMNIST_SIM_CONFIG`.

Determinism: digit ``i`` of the train split draws its randomness from ``SeedSequence([seed, 2 i])``,
digit ``i`` of the test split from ``SeedSequence([seed, 2 i + 1])``, so a digit's events depend on
neither the batch it is simulated in nor how many digits are generated. Timestamps are µs, shifted so
that every sample's first event is at ``t = 0`` (``--task nmnist`` and a card input both bin
``[first event, last event]``).

Frames (:func:`load_nmnist_sim`): ``events_to_frames(events, n_bins=T)`` over each sample's own span
``[0, last event + 1)``, channel 0 = OFF, 1 = ON, exactly what ``--task nmnist`` computes from the
written ``.bin`` files.

Cache: the frame counts of one (MNIST files, split, digit count, T, seed, simulator) combination are
one entry of :mod:`mfpsn.data.array_cache` (``.npz``, no pickle) in ``<cache>/nmnist_sim``, where
``<cache>`` is the ``cache`` argument, else ``$MFPSN_DATA``, else ``~/.cache/mfpsn``; the key holds
the sha256 of the digits' pixels and labels, so another MNIST folder never reuses an entry. The folder
is kept under ``max_cache_bytes`` (1 GiB; about 2 KB per digit at T = 8), least recently used first.

Command line, an N-MNIST-style folder (``{Train,Test}/<digit>/<index>.bin``, ``index`` = the digit's
position in its MNIST split, 5 digits) that ``python -m mfpsn.train --task nmnist --data-root OUT``
reads unchanged::

    python -m mfpsn.data.nmnist_sim --mnist ../shared/data/mnist --out OUT --train 6000 --test 10000
"""
from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from mfpsn.data import array_cache
from mfpsn.data.dvs_digits import data_root as default_cache_root
from mfpsn.data.esim import ESIMConfig
from mfpsn.data.mnist import load_mnist_split
from mfpsn.data.saccades import SaccadeConfig, simulate_batch
from mfpsn.events.core import Events
from mfpsn.events.frames import ToFrames

__all__ = ["GENERATOR_VERSION", "NMNIST_SIM_CONFIG", "SENSOR", "SPLIT_FOLDERS", "mnist_digits", "iter_events",
           "sample_events", "frames_of", "cache_params", "load_nmnist_sim", "write_folder", "main"]

GENERATOR_VERSION = 1
SENSOR = 34
SPLIT_FOLDERS = {"train": "Train", "test": "Test"}
NMNIST_SIM_CONFIG = SaccadeConfig(image_size=28, canvas=SENSOR, saccade_us=100_000, substeps=60,
                                  vertices=((0.0, 0.0), (3.0, 6.0), (6.0, 0.0)),
                                  esim=ESIMConfig(c_on=0.15, c_off=0.15, threshold_sigma=0.02, noise_rate_hz=0.2,
                                                  eps=0.25))
_CHUNK = 128


def _check_split(split: str) -> None:
    if split not in SPLIT_FOLDERS:
        raise ValueError(f"split: expected 'train' or 'test', found {split!r}")


def mnist_digits(root: str | os.PathLike, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``min(limit, N)`` digits of ``split`` in the MNIST folder ``root`` (all when ``limit`` is None).

    Returns:
        ``(images [n, 28, 28] uint8, labels [n] int64)``.
    """
    _check_split(split)
    if limit is not None and (int(limit) != limit or limit < 1):
        raise ValueError(f"limit: expected a positive integer or None, found {limit!r}")
    images, labels = load_mnist_split(root, split)
    n = images.shape[0] if limit is None else min(int(limit), images.shape[0])
    return images[:n], labels[:n]


def iter_events(images: np.ndarray, split: str, *, seed: int = 0, first_index: int = 0,
                progress: bool = False) -> Iterator[Events]:
    """Events of each digit of ``images [n, 28, 28]`` uint8, in order; digit ``k`` is digit
    ``first_index + k`` of ``split`` (its seed, see the module docstring). Sensor 34x34, ``t[0] = 0``."""
    _check_split(split)
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"images: expected [n, 28, 28] uint8 MNIST digits, found {images.dtype} {list(images.shape)}")
    parity = 0 if split == "train" else 1
    with tqdm(total=images.shape[0], desc=f"nmnist-sim {split}: simulating", unit="digit",
              disable=not progress) as bar:
        for lo in range(0, images.shape[0], _CHUNK):
            chunk = images[lo:lo + _CHUNK]
            ids = 2 * (first_index + lo + np.arange(chunk.shape[0])) + parity
            counts, t, x, y, p = simulate_batch(chunk / 255.0, config=NMNIST_SIM_CONFIG, seed=seed, sample_ids=ids)
            bounds = np.concatenate([[0], np.cumsum(counts)])
            for a, b in zip(bounds[:-1], bounds[1:]):
                ts = t[a:b] - (t[a] if b > a else 0)
                yield Events(ts, x[a:b], y[a:b], p[a:b], SENSOR, SENSOR)
            bar.update(chunk.shape[0])


def sample_events(root: str | os.PathLike, split: str, index: int, *, seed: int = 0) -> Events:
    """Events of digit ``index`` of ``split`` alone (equal to its entry in any batch); ``meta`` holds
    ``label``, ``split``, ``index`` and ``seed``."""
    images, labels = mnist_digits(root, split)
    if int(index) != index or not 0 <= index < images.shape[0]:
        raise ValueError(f"index: expected an integer in [0, {images.shape[0]}) for the {split} split of "
                         f"{str(root)!r}, found {index!r}")
    ev = next(iter_events(images[index:index + 1], split, seed=seed, first_index=int(index)))
    return Events(ev.t, ev.x, ev.y, ev.p, SENSOR, SENSOR,
                  {"label": int(labels[index]), "split": split, "index": int(index), "seed": int(seed)})


def frames_of(events: Events, T: int) -> np.ndarray:
    """``[T, 2, 34, 34]`` float32 counts over the sample's own span (the binning of ``--task nmnist``, the
    ``ToFrames(n_bins=T)`` of its card)."""
    return ToFrames(n_bins=T)(events)


def cache_params(images: np.ndarray, labels: np.ndarray, split: str, T: int, seed: int) -> dict:
    """Everything that determines a split's frames (the cache key)."""
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes() + labels.astype(np.int64).tobytes()).hexdigest()
    return {"generator": "mfpsn.data.nmnist_sim", "version": GENERATOR_VERSION, "split": split,
            "n_digits": int(images.shape[0]), "digits_sha256": digest, "T": int(T), "seed": int(seed),
            "saccades": NMNIST_SIM_CONFIG.as_dict()}


def _simulate_frames(images: np.ndarray, split: str, T: int, seed: int, progress: bool) -> np.ndarray:
    out = np.zeros((images.shape[0], T, 2, SENSOR, SENSOR), np.uint16)
    for i, ev in enumerate(iter_events(images, split, seed=seed, progress=progress)):
        out[i] = frames_of(ev, T)
    return out


def load_nmnist_sim(root: str | os.PathLike, split: str, *, T: int, limit: int | None = None, seed: int = 0,
                    cache: str | os.PathLike | None = None, max_cache_bytes: int = array_cache.DEFAULT_MAX_BYTES,
                    progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``min(limit, N)`` digits of ``split`` as frames, from the cache or simulated now.

    Args:
        root: folder with the MNIST IDX files.
        split: ``"train"`` or ``"test"``.
        T: time bins per sample.
        limit: at most this many digits (the first ones); ``None`` for the whole split.
        seed: base seed of the simulator.
        cache: cache folder (see the module docstring); ``max_cache_bytes`` bounds its ``nmnist_sim`` folder.

    Returns:
        ``(x [n, T, 2, 34, 34] float32 counts, y [n] int64)``.
    """
    if int(T) != T or T < 1:
        raise ValueError(f"T: expected a positive integer, found {T!r}")
    images, labels = mnist_digits(root, split, limit)
    params = cache_params(images, labels, split, int(T), seed)
    folder = default_cache_root(cache) / "nmnist_sim"
    stored = array_cache.load(folder, params)
    shape = (images.shape[0], int(T), 2, SENSOR, SENSOR)
    if stored is not None and "frames" in stored and stored["frames"].shape == shape:
        counts = stored["frames"]
    else:
        counts = _simulate_frames(images, split, int(T), seed, progress)
        array_cache.store(folder, params, {"frames": counts}, max_bytes=max_cache_bytes)
    return torch.from_numpy(counts.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


def write_folder(root: str | os.PathLike, out: str | os.PathLike, *, n_train: int, n_test: int, seed: int = 0,
                 progress: bool = True) -> dict[str, int]:
    """Write the first ``n_train`` / ``n_test`` digits as ``out/{Train,Test}/<digit>/<index:05d>.bin``.

    Raises:
        ValueError: a count below 0, more digits than the split holds, or a split folder under ``out`` that
            already holds files (stale files would mix into the set).

    Returns:
        ``{"train": files written, "test": files written}``.
    """
    from mfpsn.events.formats.nmnist import write

    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        if int(n) != n or n < 0:
            raise ValueError(f"n_{split}: expected a non-negative integer, found {n!r}")
        folder = Path(out) / SPLIT_FOLDERS[split]
        if folder.is_dir() and any(folder.iterdir()):
            raise ValueError(f"{folder}: expected an empty or missing folder, found one that holds files; "
                             f"choose another --out")
        if n == 0:
            written[split] = 0
            continue
        images, labels = mnist_digits(root, split)
        if n > images.shape[0]:
            raise ValueError(f"n_{split}: the {split} split of {str(root)!r} holds {images.shape[0]} digits, "
                             f"found a request for {n}")
        for digit in range(10):
            (folder / str(digit)).mkdir(parents=True, exist_ok=True)
        for i, ev in enumerate(iter_events(images[:n], split, seed=seed, progress=progress)):
            write(folder / str(int(labels[i])) / f"{i:05d}.bin", ev)
        written[split] = int(n)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write an N-MNIST-style folder and print where it went."""
    p = argparse.ArgumentParser(prog="python -m mfpsn.data.nmnist_sim", description=__doc__.split("\n")[0])
    p.add_argument("--mnist", required=True, help="folder with the MNIST IDX files")
    p.add_argument("--out", required=True, help="output folder (Train/ and Test/ are created in it)")
    p.add_argument("--train", type=int, default=6000, help="first N training digits (default 6000)")
    p.add_argument("--test", type=int, default=10000, help="first N test digits (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        written = write_folder(args.mnist, args.out, n_train=args.train, n_test=args.test, seed=args.seed)
    except ValueError as err:
        p.error(str(err))
    for split, n in written.items():
        if n:
            print(f"wrote {n} files to {Path(args.out) / SPLIT_FOLDERS[split]}")
    print(f"done in {time.perf_counter() - start:.1f} s; train on it with "
          f"python -m mfpsn.train --task nmnist --data-root {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
