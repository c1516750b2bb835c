"""The Free Spoken Digit Dataset (Jakobovski et al., CC BY-SA 4.0): real recordings of spoken digits,
8 kHz mono WAV named ``{digit}_{speaker}_{index}.wav``, as the binned cochlea spike trains of
:class:`mfpsn.data.speech.SpeechFront`.

Splits (``split`` argument):

- ``"official"``: FSDD's own split, recordings 0–4 of every speaker are the test set. Its test speakers also
  speak in training, so it measures little about new voices.
- ``"speaker:NAME"``: leave one speaker out (speaker-disjoint): NAME's recordings are the test set, the other
  speakers' the training set. Report these (over every speaker) for how a model does on a new voice.

Training recordings can be repeated ``n_augment`` times through :func:`mfpsn.data.audio_augment.augment`;
every augmented copy has its own seed derived from (``seed``, recording name, copy), so the set does not depend
on the order of files or the number of workers. The clean copy uses cochlea noise seed 0, as
:func:`mfpsn.card_inputs.audio_input` does, so a user's file gives exactly the tensor the model was tested on. Features are cached in ``cache``: for each copy one ``.npy`` array of
uint8 spike counts over every recording of the folder, in a sub-folder keyed by a digest of the front end, the
augmentation and the seed, so that every split reads the same files and a changed config never reads stale
features.

Command line::

    python -m mfpsn.data.fsdd --data-root ../shared/data/fsdd [--augment 4] [--workers 2]   # build the cache
    python -m mfpsn.data.fsdd --data-root ../shared/data/fsdd --write-subset assets/fsdd_subset --per-speaker 4
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from mfpsn.data.audio_augment import AugmentConfig, augment
from mfpsn.data.speech import SpeechFront
from mfpsn.data.wav import read_wav

__all__ = ["Recording", "list_recordings", "resolve_root", "split_recordings", "speakers", "features",
           "features_batch",
           "load_fsdd", "default_cache", "write_subset", "main"]

_NAME = re.compile(r"^([0-9])_([A-Za-z0-9-]+)_([0-9]+)\.wav$")
OFFICIAL_TEST_INDICES = range(5)


@dataclass(frozen=True)
class Recording:
    """One FSDD file: its path, digit label, speaker and index."""

    path: Path
    digit: int
    speaker: str
    index: int

    @property
    def stem(self) -> str:
        return self.path.stem


def resolve_root(root: str | os.PathLike) -> Path:
    """The folder holding the ``.wav`` files: ``root`` itself or its ``recordings/`` sub-folder."""
    root = Path(root).expanduser()
    if (root / "recordings").is_dir():
        root = root / "recordings"
    if not root.is_dir():
        raise ValueError(f"fsdd: expected a folder of '{{digit}}_{{speaker}}_{{index}}.wav' files (or one with a "
                         f"'recordings/' sub-folder), found {str(root)!r}")
    return root


def list_recordings(root: str | os.PathLike) -> list[Recording]:
    """Every ``{digit}_{speaker}_{index}.wav`` under ``root`` (see :func:`resolve_root`), sorted by name.
    Files with other names are ignored; none matching is an error."""
    folder = resolve_root(root)
    out = []
    for path in sorted(folder.iterdir()):
        m = _NAME.match(path.name)
        if m and path.is_file():
            out.append(Recording(path, int(m.group(1)), m.group(2), int(m.group(3))))
    if not out:
        raise ValueError(f"fsdd: no '{{digit}}_{{speaker}}_{{index}}.wav' files in {str(folder)!r}")
    return out


def speakers(recordings: Sequence[Recording]) -> list[str]:
    """The speakers, sorted."""
    return sorted({r.speaker for r in recordings})


def split_recordings(recordings: Sequence[Recording], split: str) -> tuple[list[Recording], list[Recording]]:
    """``(train, test)`` for ``split`` = ``"official"`` or ``"speaker:NAME"`` (see the module docstring)."""
    if split == "official":
        test = [r for r in recordings if r.index in OFFICIAL_TEST_INDICES]
        train = [r for r in recordings if r.index not in OFFICIAL_TEST_INDICES]
    elif split.startswith("speaker:"):
        name = split.split(":", 1)[1]
        if name not in speakers(recordings):
            raise ValueError(f"fsdd split {split!r}: expected a speaker among {speakers(recordings)}, found {name!r}")
        test = [r for r in recordings if r.speaker == name]
        train = [r for r in recordings if r.speaker != name]
    else:
        raise ValueError(f"fsdd split: expected 'official' or 'speaker:NAME', found {split!r}")
    return train, test


def _seed(seed: int, stem: str, copy: int) -> int:
    digest = hashlib.sha256(f"{seed}/{stem}/{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _prepared(rec: Recording, front: SpeechFront, copy: int, aug: AugmentConfig | None,
              seed: int) -> tuple[np.ndarray, int]:
    """The recording at the front end's rate, trimmed and levelled (augmented for ``copy >= 1``), and the seed of
    its cochlea noise."""
    audio, rate = read_wav(rec.path)
    x = front.prepare(audio, rate)
    if copy == 0:  # noise seed 0, as mfpsn.card_inputs.audio_input: a user's file gives the training tensor
        return x, 0
    if aug is None:
        raise ValueError("fsdd.features: an augmented copy (copy >= 1) needs an AugmentConfig")
    s = _seed(seed, rec.stem, copy)
    x = front.prepare(augment(x, front.sample_rate, np.random.default_rng(s), aug), front.sample_rate)
    return x, s & 0xFFFF_FFFF


def features_batch(recs: Sequence[Recording], front: SpeechFront, copy: int = 0, aug: AugmentConfig | None = None,
                   seed: int = 0) -> np.ndarray:
    """``[N, n_bins, features]`` uint8 spike counts of ``recs``; ``copy`` 0 is the clean recording, ``copy >= 1``
    an augmented one (``aug`` required). The same as :func:`features` one by one."""
    prepared = [_prepared(r, front, copy, aug, seed) for r in recs]
    spikes = front.spikes_batch([p[0] for p in prepared], [p[1] for p in prepared])
    return np.stack([np.minimum(front.bins(t, u), 255).astype(np.uint8) for t, u in spikes]) if recs else \
        np.zeros((0, front.n_bins, front.features), np.uint8)


def features(rec: Recording, front: SpeechFront, copy: int = 0, aug: AugmentConfig | None = None,
             seed: int = 0) -> np.ndarray:
    """``[n_bins, features]`` uint8 spike counts of one recording (see :func:`features_batch`)."""
    return features_batch([rec], front, copy, aug, seed)[0]


def default_cache() -> Path:
    """Where features are cached unless a folder is named: ``$MFPSN_DATA/fsdd`` when ``MFPSN_DATA`` is set, else
    ``~/.cache/mfpsn/fsdd`` (as the generated data sets)."""
    base = os.environ.get("MFPSN_DATA")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "mfpsn") / "fsdd"


def _tag(front: SpeechFront, aug: AugmentConfig | None, copy: int, seed: int) -> str:
    text = json.dumps({"front": front.to_dict(), "aug": None if copy == 0 or aug is None else aug.to_dict(),
                       "copy": copy, "seed": seed if copy > 0 else 0, "version": 2}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_CHUNK = 32


def _job(args: tuple[Sequence[Recording], SpeechFront, int, AugmentConfig | None, int]) -> np.ndarray:
    return features_batch(*args)


def _build(recs: Sequence[Recording], front: SpeechFront, copy: int, aug: AugmentConfig | None, seed: int,
           workers: int, progress: bool) -> np.ndarray:
    from tqdm import tqdm

    jobs = [(recs[i:i + _CHUNK], front, copy, aug, seed) for i in range(0, len(recs), _CHUNK)]
    desc = f"fsdd features, copy {copy} ({len(recs)} recordings, {_CHUNK} a chunk)"
    if workers <= 1:
        out = [_job(j) for j in tqdm(jobs, desc=desc, disable=not progress, file=sys.stderr)]
    else:
        with ProcessPoolExecutor(workers) as pool:
            out = list(tqdm(pool.map(_job, jobs), total=len(jobs), desc=desc, disable=not progress, file=sys.stderr))
    return np.concatenate(out)


def _cached(recs: Sequence[Recording], front: SpeechFront, copy: int, aug: AugmentConfig | None, seed: int,
            cache: Path | None, workers: int, progress: bool) -> np.ndarray:
    """``[N, n_bins, features]`` uint8 for ``recs``, read from or added to the cache, one file per recording set."""
    if cache is None:
        return _build(recs, front, copy, aug, seed, workers, progress)
    folder = Path(cache) / _tag(front, aug, copy, seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [r.stem for r in recs]
    key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    path = folder / f"{key}.npy"
    if path.is_file():
        x = np.load(path, allow_pickle=False)
        if x.shape == (len(recs), front.n_bins, front.features) and x.dtype == np.uint8:
            return x
    x = _build(recs, front, copy, aug, seed, workers, progress)
    tmp = folder / f".{key}.{os.getpid()}.npy"
    np.save(tmp, x)
    os.replace(tmp, path)
    (folder / "config.json").write_text(json.dumps({"front": front.to_dict(),
                                                    "aug": None if aug is None or copy == 0 else aug.to_dict(),
                                                    "copy": copy, "seed": seed}, indent=1))
    return x


def load_fsdd(root: str | os.PathLike, split: str = "official", *, front: SpeechFront | None = None,
              n_augment: int = 0, aug: AugmentConfig | None = None, seed: int = 0,
              cache: str | os.PathLike | None = "default", workers: int = 1, test_only: bool = False,
              progress: bool = True) -> dict[str, np.ndarray | list]:
    """Features of ``split`` (see the module docstring).

    The cache holds one array per copy for every recording in ``root``, so every split reads the same files.

    Returns a dict with ``train_x [N_train · (1 + n_augment), n_bins, features]`` uint8 (the clean set, then
    each augmented copy), ``train_y``, ``test_x [N_test, n_bins, features]`` uint8, ``test_y`` int64, and the
    ``test_names`` / ``train_speakers`` / ``test_speakers`` lists.
    """
    front = SpeechFront() if front is None else front
    aug = AugmentConfig() if aug is None else aug
    cache_path = default_cache() if cache == "default" else (None if cache is None else Path(cache))
    recs = list_recordings(root)
    train, test = split_recordings(recs, split)
    if test_only:  # the test recordings alone, not through the whole-folder cache (the same values: copy 0 is seed 0)
        return {"train_x": np.zeros((0, front.n_bins, front.features), np.uint8), "train_y": np.zeros(0, np.int64),
                "test_x": _build(test, front, 0, None, seed, workers, progress),
                "test_y": np.array([r.digit for r in test], dtype=np.int64), "test_names": [r.stem for r in test],
                "train_speakers": [], "test_speakers": speakers(test)}
    position = {r.stem: i for i, r in enumerate(recs)}
    test_i = np.array([position[r.stem] for r in test], dtype=np.int64)
    train_i = np.array([position[r.stem] for r in train], dtype=np.int64)
    clean = _cached(recs, front, 0, None, seed, cache_path, workers, progress)
    parts = [clean[train_i]]
    for c in range(1, 1 + n_augment if train else 1):
        parts.append(_cached(recs, front, c, aug, seed, cache_path, workers, progress)[train_i])
    train_y = np.array([r.digit for r in train] * len(parts), dtype=np.int64)
    return {"train_x": np.concatenate(parts), "train_y": train_y, "test_x": clean[test_i],
            "test_y": np.array([r.digit for r in test], dtype=np.int64), "test_names": [r.stem for r in test],
            "train_speakers": speakers(train) if train else [], "test_speakers": speakers(test)}


def write_subset(root: str | os.PathLike, out: str | os.PathLike, per_speaker: int = 4) -> list[Path]:
    """Copy ``per_speaker`` recordings of every speaker (spread over the digits, official test indices first)
    into ``out``; returns the copied paths."""
    recs = list_recordings(root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in speakers(recs):
        mine = sorted((r for r in recs if r.speaker == name), key=lambda r: (r.index, r.digit))
        chosen, digits = [], set()
        for r in mine:
            if r.digit not in digits:
                chosen.append(r)
                digits.add(r.digit)
            if len(chosen) == per_speaker:
                break
        for r in chosen:
            copied.append(Path(shutil.copyfile(r.path, out / r.path.name)))
    return copied


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m mfpsn.data.fsdd", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", required=True, help="FSDD folder (with the .wav files or a recordings/ folder)")
    p.add_argument("--split", default="official")
    p.add_argument("--augment", type=int, default=4, help="augmented copies per training recording")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--cache", default=None, help="cache folder (default: $MFPSN_DATA/fsdd or ~/.cache/mfpsn/fsdd)")
    p.add_argument("--write-subset", help="instead, copy a few recordings per speaker into this folder")
    p.add_argument("--per-speaker", type=int, default=4)
    args = p.parse_args(argv)
    if args.write_subset:
        for path in write_subset(args.data_root, args.write_subset, args.per_speaker):
            print(path)
        return 0
    t0 = time.perf_counter()
    data = load_fsdd(args.data_root, args.split, n_augment=args.augment, seed=args.seed, workers=args.workers,
                     cache=args.cache or "default")
    print(f"fsdd: {data['train_x'].shape[0]} train / {data['test_x'].shape[0]} test feature sets in "
          f"{args.cache or default_cache()} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
