"""Synthetic spoken digits in the Spiking Heidelberg Digits (SHD) layout.

The real SHD (Cramer et al., 2020; 20 classes, 700 cochlear channels) cannot be downloaded here,
so this module builds a look-alike offline:

1. **Speech** from Debian's ``espeak-ng`` (``apt-get install espeak-ng``; a GPL-3 tool, the data it
   makes is ours), called through :mod:`subprocess` with ``-w`` into a temporary WAV file that the
   standard-library :mod:`wave` module reads (22,050 Hz, mono, 16 bit).
2. **Classes** in SHD's label order: labels 0–9 are the English words "zero" … "nine", labels
   10–19 the German words "null" … "neun" (SHD's documented convention: English digits first,
   then German). ``extra/keys[label]`` holds these words as UTF-8 strings; whether the real SHD
   file spells its keys exactly like this could not be checked offline.
3. **Speakers** are espeak voice variants (``m1`` … ``m7``, ``f1`` … ``f5``, ``klatt``, ``Andy``,
   ``steph``, ``norbert``), each speaking both languages like SHD's speakers do; English samples
   also draw an accent (``en``, ``en-us``, ``en-gb-scotland``, ``en-gb-x-rp``). Every sample draws
   its own speed (words per minute), pitch and amplitude. ``extra/speaker`` is the index into
   :data:`SPEAKERS`; ``extra/meta_info/voice[speaker]`` names the variant.
4. **Split by speaker**: the test file uses only :attr:`GeneratorConfig.test_speakers`, which
   never speak in the training file, so test voices are unseen (SHD also holds out speakers).
5. **Cochlea**: :mod:`mfpsn.data.cochlea` (ERB-spaced 700-channel gammatone-shaped filterbank,
   log compression, adaptive LIF encoders).

Leading and trailing silence of the espeak output is trimmed (5 ms raised-cosine fades against
clicks), then a random onset delay (``onset_s``) and a short tail (``tail_s``) of silence are
added, so a sample lasts as long as its word (a few hundred ms to about 1 s, longer at low
``speed_wpm``).

Determinism: a single ``seed`` fixes every random draw; each sample gets its own child seed in
the main process, so the output does not depend on the number of worker processes.

Command line::

    python -m mfpsn.data.spoken_digits --out DIR [--n-per-class N] [--n-test-per-class M]
                                       [--seed S] [--workers W]
    python -m mfpsn.data.spoken_digits --sample-file assets/spoken_digits_sample.h5 --sample-count 6

For training, :func:`load_spoken_digits` builds (once) and caches a small set and returns binned
tensors like SNN-delays uses (10 ms bins, 5 neighbouring channels pooled: 700 → 140).
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import h5py
import numpy as np
from threadpoolctl import threadpool_limits

from mfpsn.data.cochlea import CochleaConfig, cochlea_spikes
from mfpsn.events import Events, write_shd_h5
from mfpsn.events.frames import spike_train_to_bins

if TYPE_CHECKING:
    import torch

__all__ = [
    "ENGLISH",
    "GERMAN",
    "KEYS",
    "SPEAKERS",
    "GeneratorConfig",
    "SampleSpec",
    "espeak_path",
    "synthesize",
    "plan_split",
    "render_sample",
    "generate_split",
    "write_split",
    "build_dataset",
    "write_sample_file",
    "default_root",
    "load_spoken_digits",
    "main",
]

ENGLISH = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
GERMAN = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun")
KEYS = ENGLISH + GERMAN
"""Class names by label (SHD order: English 0–9, German 10–19)."""

SPEAKERS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "Andy", "steph", "norbert",
)
"""espeak-ng voice variants used as speakers; ``extra/speaker`` indexes this tuple."""

ACCENTS = {"en": ("en", "en-us", "en-gb-scotland", "en-gb-x-rp"), "de": ("de",)}
"""espeak-ng base voices per language."""

FORMAT_VERSION = 1
"""Bumped whenever the generator's code changes its output for the same configuration."""

SPLITS = ("train", "test")
N_UNITS = 700


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that determines the generated data (stored with every cache).

    Ranges are inclusive ``(low, high)`` and drawn uniformly per sample. All defaults are our
    choice (reconstructed, not from SHD):

    Attributes:
        seed: fixes every random draw (voices, prosody, onset, encoder noise).
        n_per_class, n_test_per_class: samples per class in the train and test files.
        speakers: espeak-ng variants; ``extra/speaker`` is the index into this tuple.
        test_speakers: the held-out variants (a proper, non-empty subset of ``speakers``).
        speed_wpm, pitch, amplitude: espeak-ng ``-s`` (80–450), ``-p`` (0–99), ``-a`` (0–200).
        onset_s: silence before the word, seconds.
        silence_level: |sample| below which leading/trailing audio counts as silence (full scale 1).
        fade_ms: raised-cosine fade at both ends of the trimmed word.
        tail_s: silence after the word, seconds.
        cochlea: the :class:`~mfpsn.data.cochlea.CochleaConfig`.
    """

    seed: int = 0
    n_per_class: int = 48
    n_test_per_class: int = 16
    speakers: tuple[str, ...] = SPEAKERS
    test_speakers: tuple[str, ...] = ("m6", "m7", "f4", "steph")
    speed_wpm: tuple[int, int] = (100, 170)
    pitch: tuple[int, int] = (25, 75)
    amplitude: tuple[int, int] = (60, 160)
    onset_s: tuple[float, float] = (0.02, 0.12)
    silence_level: float = 1e-3
    fade_ms: float = 5.0
    tail_s: float = 0.03
    cochlea: CochleaConfig = field(default_factory=CochleaConfig)

    def __post_init__(self) -> None:
        if self.n_per_class < 0 or self.n_test_per_class < 0:
            raise ValueError(
                "GeneratorConfig: n_per_class and n_test_per_class must be >= 0, found "
                f"{self.n_per_class} and {self.n_test_per_class}"
            )
        if len(set(self.speakers)) != len(self.speakers):
            raise ValueError(f"GeneratorConfig.speakers: expected distinct names, found {self.speakers}")
        unknown = [s for s in self.test_speakers if s not in self.speakers]
        if unknown:
            raise ValueError(f"GeneratorConfig.test_speakers: {unknown} are not in speakers {self.speakers}")
        if not self.test_speakers or len(self.test_speakers) == len(self.speakers):
            raise ValueError(
                "GeneratorConfig.test_speakers: expected a non-empty proper subset of speakers, found "
                f"{self.test_speakers}"
            )
        for name in ("speed_wpm", "pitch", "amplitude", "onset_s"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"GeneratorConfig.{name}: expected low <= high, found ({lo}, {hi})")
        if not (80 <= self.speed_wpm[0] and self.speed_wpm[1] <= 450):
            raise ValueError(f"GeneratorConfig.speed_wpm: espeak-ng accepts 80..450, found {self.speed_wpm}")
        if not (0 <= self.pitch[0] and self.pitch[1] <= 99):
            raise ValueError(f"GeneratorConfig.pitch: espeak-ng accepts 0..99, found {self.pitch}")
        if not (0 <= self.amplitude[0] and self.amplitude[1] <= 200):
            raise ValueError(f"GeneratorConfig.amplitude: espeak-ng accepts 0..200, found {self.amplitude}")
        if self.onset_s[0] < 0:
            raise ValueError(f"GeneratorConfig.onset_s: expected >= 0, found {self.onset_s}")

    def split_speakers(self, split: str) -> tuple[str, ...]:
        """The speakers of one split (``"train"`` or ``"test"``), in :attr:`speakers` order."""
        _check_split(split)
        if split == "test":
            return tuple(s for s in self.speakers if s in self.test_speakers)
        return tuple(s for s in self.speakers if s not in self.test_speakers)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view (tuples become lists), including :data:`FORMAT_VERSION`."""
        return json.loads(json.dumps({"format_version": FORMAT_VERSION, **asdict(self)}))


@dataclass(frozen=True)
class SampleSpec:
    """One utterance to render."""

    label: int
    word: str
    voice: str
    speaker: int
    speed_wpm: int
    pitch: int
    amplitude: int
    onset_s: float
    seed: int


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, found {split!r}")


def espeak_path() -> str:
    """Path of the ``espeak-ng`` executable; ``RuntimeError`` naming the fix when it is missing."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise RuntimeError(
            "espeak-ng was not found on PATH; the spoken-digit generator needs it "
            "(Debian/Ubuntu: apt-get install -y espeak-ng)"
        )
    return path


def _espeak_version() -> str:
    out = subprocess.run([espeak_path(), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().split("  Data at")[0]


def synthesize(word: str, voice: str, speed_wpm: int, pitch: int, amplitude: int) -> tuple[np.ndarray, int]:
    """Speak ``word`` with espeak-ng.

    Returns:
        audio: ``[S]`` float64 in [-1, 1).
        sample_rate: Hz (22,050 for espeak-ng).
    """
    exe = espeak_path()
    with tempfile.TemporaryDirectory(prefix="mfpsn-espeak-") as tmp:
        wav_path = os.path.join(tmp, "word.wav")
        cmd = [exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-a", str(amplitude), "-w", wav_path, word]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(wav_path):
            raise RuntimeError(f"espeak-ng failed ({' '.join(cmd)}): exit {proc.returncode}, {proc.stderr.strip()}")
        with wave.open(wav_path, "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise RuntimeError(
                    f"espeak-ng wrote {wav.getnchannels()} channel(s) of {8 * wav.getsampwidth()} bit; "
                    "expected mono 16-bit"
                )
            rate = wav.getframerate()
            data = wav.readframes(wav.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0, rate


def _prepare(audio: np.ndarray, rate: int, onset_s: float, cfg: GeneratorConfig) -> np.ndarray:
    """Trim silence, fade the ends, prepend ``onset_s`` of silence and append ``cfg.tail_s``."""
    loud = np.flatnonzero(np.abs(audio) > cfg.silence_level)
    if loud.size == 0:
        raise RuntimeError("espeak-ng produced silence (no sample above GeneratorConfig.silence_level)")
    audio = audio[loud[0] : loud[-1] + 1].copy()
    n_fade = min(int(round(cfg.fade_ms * 1e-3 * rate)), audio.size // 2)
    if n_fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_fade) + 0.5) / n_fade)
        audio[:n_fade] *= ramp
        audio[-n_fade:] *= ramp[::-1]
    head = np.zeros(int(round(onset_s * rate)))
    tail = np.zeros(int(round(cfg.tail_s * rate)))
    return np.concatenate([head, audio, tail])


def plan_split(cfg: GeneratorConfig, split: str) -> list[SampleSpec]:
    """The utterances of one split, in file order (shuffled, classes balanced).

    Each class gets ``n_per_class`` (train) or ``n_test_per_class`` (test) samples whose speakers
    cycle through the split's speakers in a random order, so speakers are balanced per class.
    """
    _check_split(split)
    n = cfg.n_per_class if split == "train" else cfg.n_test_per_class
    speakers = cfg.split_speakers(split)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, SPLITS.index(split)]))
    specs: list[SampleSpec] = []
    for label, word in enumerate(KEYS):
        language = "en" if label < len(ENGLISH) else "de"
        order = rng.permutation(len(speakers))
        for i in range(n):
            variant = speakers[order[i % len(speakers)]]
            accent = ACCENTS[language][int(rng.integers(len(ACCENTS[language])))]
            specs.append(
                SampleSpec(
                    label=label,
                    word=word,
                    voice=f"{accent}+{variant}",
                    speaker=cfg.speakers.index(variant),
                    speed_wpm=int(rng.integers(cfg.speed_wpm[0], cfg.speed_wpm[1] + 1)),
                    pitch=int(rng.integers(cfg.pitch[0], cfg.pitch[1] + 1)),
                    amplitude=int(rng.integers(cfg.amplitude[0], cfg.amplitude[1] + 1)),
                    onset_s=float(rng.uniform(cfg.onset_s[0], cfg.onset_s[1])),
                    seed=int(rng.integers(2**63)),
                )
            )
    return [specs[i] for i in rng.permutation(len(specs))]


def render_sample(spec: SampleSpec, cfg: GeneratorConfig) -> tuple[np.ndarray, np.ndarray]:
    """Speak, trim and encode one utterance: ``(times [N] float64 s sorted, units [N] uint16)``."""
    audio, rate = synthesize(spec.word, spec.voice, spec.speed_wpm, spec.pitch, spec.amplitude)
    audio = _prepare(audio, rate, spec.onset_s, cfg)
    times, units = cochlea_spikes(audio, rate, cfg.cochlea, np.random.default_rng(spec.seed))
    return times, units.astype(np.uint16)


def _render_star(args: tuple[SampleSpec, GeneratorConfig]) -> tuple[np.ndarray, np.ndarray]:
    return render_sample(*args)


def _one_blas_thread() -> None:
    """Worker initializer: the filterbank product is small; a multi-threaded BLAS only spins."""
    threadpool_limits(1)


def generate_split(
    specs: Sequence[SampleSpec], cfg: GeneratorConfig, workers: int = 2
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Render ``specs`` with ``workers`` processes (1 = in this process); results in ``specs`` order.

    BLAS runs single-threaded while rendering: for the small ``[F, 513] @ [513, 700]``
    filterbank product a multi-threaded OpenBLAS mostly spins, which is slow on shared cores
    (``python -m mfpsn.data.spoken_digits`` prints the rate it reaches).
    """
    if workers < 1:
        raise ValueError(f"workers: expected >= 1, found {workers}")
    jobs = [(s, cfg) for s in specs]
    if workers == 1 or len(jobs) < 4:
        with threadpool_limits(1):
            return [_render_star(j) for j in jobs]
    chunk = max(1, min(16, len(jobs) // (4 * workers)))
    # fork: workers inherit the loaded modules and need no ``if __name__ == "__main__"`` guard
    # in the caller's script; spawn where fork does not exist.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_one_blas_thread) as pool:
        return list(pool.map(_render_star, jobs, chunksize=chunk))


def write_split(
    path: str | os.PathLike, specs: Sequence[SampleSpec], spikes: Sequence[tuple[np.ndarray, np.ndarray]],
    cfg: GeneratorConfig, split: str,
) -> None:
    """Write one SHD-layout file through :func:`mfpsn.events.write_shd_h5`, then add provenance.

    Besides the SHD datasets, the file gets ``extra/meta_info/voice`` (variant name per speaker
    id) and root attributes ``mfpsn_generator`` (JSON of the configuration), ``mfpsn_split``
    and ``mfpsn_espeak_version``; SHD readers ignore them.
    """
    if len(specs) != len(spikes):
        raise ValueError(f"write_split: {len(specs)} specs but {len(spikes)} spike trains")
    write_shd_h5(
        path,
        [t for t, _ in spikes],
        [u for _, u in spikes],
        np.array([s.label for s in specs], dtype=np.uint16),
        keys=list(KEYS),
        speakers=np.array([s.speaker for s in specs], dtype=np.uint16),
    )
    with h5py.File(path, "a") as f:
        meta = f.require_group("extra").require_group("meta_info")
        if "voice" in meta:
            del meta["voice"]
        meta.create_dataset("voice", data=np.array(cfg.speakers, dtype=h5py.string_dtype("utf-8")))
        f.attrs["mfpsn_generator"] = json.dumps(cfg.to_dict())
        f.attrs["mfpsn_split"] = split
        f.attrs["mfpsn_espeak_version"] = _espeak_version()


def _stats(spikes: Sequence[tuple[np.ndarray, np.ndarray]]) -> str:
    counts = np.array([t.size for t, _ in spikes])
    ends = np.array([t[-1] if t.size else 0.0 for t, _ in spikes])
    return (
        f"spikes/sample mean {counts.mean():.0f} (min {counts.min()}, max {counts.max()}), "
        f"last spike at {ends.mean():.3f} s mean (min {ends.min():.3f}, max {ends.max():.3f})"
    )


def build_dataset(
    out_dir: str | os.PathLike, cfg: GeneratorConfig = GeneratorConfig(), *, workers: int = 2, verbose: bool = False
) -> dict[str, Path]:
    """Generate ``shd_train.h5`` and ``shd_test.h5`` in ``out_dir``; returns their paths by split."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for split in SPLITS:
        specs = plan_split(cfg, split)
        start = time.perf_counter()
        spikes = generate_split(specs, cfg, workers)
        elapsed = time.perf_counter() - start
        path = out / f"shd_{split}.h5"
        tmp = out / f".shd_{split}.h5.tmp{os.getpid()}"
        write_split(tmp, specs, spikes, cfg, split)
        os.replace(tmp, path)
        paths[split] = path
        if verbose and specs:
            print(
                f"{split}: {len(specs)} samples in {elapsed:.1f} s ({len(specs) / elapsed:.1f}/s, "
                f"{workers} worker(s)); {_stats(spikes)} -> {path}"
            )
    return paths


def write_sample_file(
    path: str | os.PathLike, count: int = 6, cfg: GeneratorConfig = GeneratorConfig()
) -> list[SampleSpec]:
    """A small file of ``count`` test-speaker samples alternating English and German classes."""
    if count < 1:
        raise ValueError(f"count: expected >= 1, found {count}")
    per_class = math.ceil(count / len(KEYS)) + 1
    specs = plan_split(replace(cfg, n_test_per_class=per_class), "test")
    english = [s for s in specs if s.label < len(ENGLISH)]
    german = [s for s in specs if s.label >= len(ENGLISH)]
    chosen: list[SampleSpec] = []
    used: set[int] = set()
    while len(chosen) < count:
        pool = english if len(chosen) % 2 == 0 else german
        spec = next(s for s in pool if s.label not in used or len(used) == len(KEYS))
        pool.remove(spec)
        used.add(spec.label)
        chosen.append(spec)
    write_split(path, chosen, generate_split(chosen, cfg, workers=1), cfg, "test")
    return chosen


def default_root() -> Path:
    """``$MFPSN_DATA/spoken_digits`` when ``MFPSN_DATA`` is set, else ``~/.cache/mfpsn/spoken_digits``."""
    base = os.environ.get("MFPSN_DATA")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "mfpsn") / "spoken_digits"


def _to_events(times: np.ndarray, units: np.ndarray) -> Events:
    """One stored sample as a spike-train :class:`Events` (the SHD mapping of ``read_events``)."""
    t = np.round(np.asarray(times, dtype=np.float64) * 1e6).astype(np.int64)
    return Events(t, units, np.zeros(t.size, np.uint16), np.ones(t.size, np.uint8), N_UNITS, 1)


def _cache_is_current(root: Path, cfg: GeneratorConfig) -> bool:
    tag = root / "generator.json"
    if not tag.exists() or not all((root / f"shd_{s}.h5").exists() for s in SPLITS):
        return False
    try:
        return json.loads(tag.read_text())["config"] == cfg.to_dict()
    except (json.JSONDecodeError, KeyError, TypeError):
        return False


def load_spoken_digits(
    split: str, *, root: str | os.PathLike | None = None, n_bins: int = 100, pool: int = 5,
    bin_us: int = 10_000, config: GeneratorConfig | None = None, workers: int = 2,
) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Binned synthetic spoken digits, generated and cached on first use.

    The cache lives in ``root`` (default :func:`default_root`) as ``shd_train.h5``,
    ``shd_test.h5`` and ``generator.json``; when ``generator.json`` does not match ``config``
    (default :class:`GeneratorConfig`, 20 classes × (48 train + 16 test)), both files are rebuilt,
    which needs ``espeak-ng``. The espeak-ng version is recorded but not compared, so a cache
    copied to a machine without espeak-ng still loads.

    Binning is :func:`mfpsn.events.frames.spike_train_to_bins` with ``n_bins`` bins of ``bin_us``
    from t = 0 (later spikes are dropped) and ``pool`` neighbouring channels summed (``pool`` must
    divide 700), as SNN-delays bins SHD.

    Returns:
        x: ``[N, n_bins, 700 // pool]`` float32 spike counts (10 ms bins by default).
        labels: ``[N]`` int64 in 0..19.
    """
    import torch

    _check_split(split)
    if int(pool) != pool or pool < 1 or N_UNITS % pool:
        raise ValueError(f"load_spoken_digits: pool must be a positive divisor of {N_UNITS}, found {pool!r}")
    cfg = config if config is not None else GeneratorConfig()
    where = Path(root).expanduser() if root is not None else default_root()
    if not _cache_is_current(where, cfg):
        (where / "generator.json").unlink(missing_ok=True)
        build_dataset(where, cfg, workers=workers)
        tag = {"config": cfg.to_dict(), "espeak_version": _espeak_version()}
        tmp = where / f".generator.json.tmp{os.getpid()}"
        tmp.write_text(json.dumps(tag, indent=1))
        os.replace(tmp, where / "generator.json")
    with h5py.File(where / f"shd_{split}.h5", "r") as f:
        times = f["spikes/times"][:]
        units = f["spikes/units"][:]
        labels = np.asarray(f["labels"][:], dtype=np.int64)
    x = np.zeros((len(labels), n_bins, N_UNITS // pool), dtype=np.float32)
    for i, (t, u) in enumerate(zip(times, units)):
        x[i] = spike_train_to_bins(_to_events(t, u), n_bins=n_bins, bin_us=bin_us, n_units=N_UNITS, pool=pool)
    return torch.from_numpy(x), torch.from_numpy(labels)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m mfpsn.data.spoken_digits", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="directory for shd_train.h5 and shd_test.h5")
    p.add_argument("--n-per-class", type=int, default=100, help="training samples per class (default 100)")
    p.add_argument("--n-test-per-class", type=int, default=None, help="test samples per class (default N/4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    p.add_argument("--sample-file", help="instead, write one small file of --sample-count test-speaker samples")
    p.add_argument("--sample-count", type=int, default=6)
    args = p.parse_args(argv)
    if (args.out is None) == (args.sample_file is None):
        p.error("give exactly one of --out DIR or --sample-file PATH")
    n_test = args.n_test_per_class if args.n_test_per_class is not None else max(1, args.n_per_class // 4)
    cfg = GeneratorConfig(seed=args.seed, n_per_class=args.n_per_class, n_test_per_class=n_test)
    if args.sample_file:
        chosen = write_sample_file(args.sample_file, args.sample_count, cfg)
        size = os.path.getsize(args.sample_file)
        print(f"wrote {len(chosen)} samples ({', '.join(s.word + '/' + s.voice for s in chosen)}) "
              f"to {args.sample_file} ({size / 1024:.1f} KiB)")
        return 0
    build_dataset(args.out, cfg, workers=args.workers, verbose=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
