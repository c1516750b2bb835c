"""Extra training data for the FSDD models: English digits spoken by espeak-ng's voice variants (7 male, 5
female, 4 others; :data:`mfpsn.data.spoken_digits.SPEAKERS`), through the same speech front end and
augmentation as the real recordings.

FSDD's five speakers are all male; the synthetic voices add female pitch and formant ranges (at the cost of
being synthetic). Each utterance draws its accent, speed, pitch and amplitude from ``seed``; the features are
cached like :mod:`mfpsn.data.fsdd`'s (``.npy`` uint8 in a folder keyed by a digest of the configs). Needs
``espeak-ng`` on the PATH (Debian: ``apt-get install espeak-ng``) when the cache is cold.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from mfpsn.data.audio_augment import AugmentConfig, augment
from mfpsn.data.speech import SpeechFront

__all__ = ["espeak_digits"]

_ACCENTS = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland")


def _utterances(per_voice: int, seed: int) -> list[tuple[str, str, int, int, int, int]]:
    """``(voice, word, speed_wpm, pitch, amplitude, digit)`` for every voice variant, digit and repetition."""
    from mfpsn.data.spoken_digits import ENGLISH, SPEAKERS

    rng = np.random.default_rng(seed)
    out = []
    for variant in SPEAKERS:
        for digit, word in enumerate(ENGLISH):
            for _ in range(per_voice):
                accent = _ACCENTS[int(rng.integers(len(_ACCENTS)))]
                out.append((f"{accent}+{variant}", word, int(rng.integers(120, 220)), int(rng.integers(20, 80)),
                            int(rng.integers(80, 160)), digit))
    return out


def espeak_digits(front: SpeechFront, per_voice: int, *, seed: int = 0, aug: AugmentConfig | None = None,
                  cache: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``per_voice`` utterances of every English digit by every espeak-ng variant.

    Args:
        aug: augment every utterance once (``None``: clean).
    Returns:
        x: ``[16 · 10 · per_voice, n_bins, features]`` uint8; y: ``[same]`` int64 digits.
    """
    from mfpsn.data.spoken_digits import synthesize

    plan = _utterances(per_voice, seed)
    tag = hashlib.sha256(json.dumps({"front": front.to_dict(), "aug": None if aug is None else aug.to_dict(),
                                     "per_voice": per_voice, "seed": seed, "version": 1},
                                    sort_keys=True).encode()).hexdigest()[:16]
    y = np.array([u[5] for u in plan], dtype=np.int64)
    path = None if cache is None else Path(cache) / f"espeak_{tag}.npy"
    if path is not None and path.is_file():
        x = np.load(path, allow_pickle=False)
        if x.shape == (len(plan), front.n_bins, front.features) and x.dtype == np.uint8:
            return x, y
    audios, seeds = [], []
    for i, (voice, word, speed, pitch, amp, _) in enumerate(plan):
        audio, rate = synthesize(word, voice, speed, pitch, amp)
        a = front.prepare(audio, rate)
        s = int.from_bytes(hashlib.sha256(f"espeak/{seed}/{i}".encode()).digest()[:4], "little")
        if aug is not None:
            a = front.prepare(augment(a, front.sample_rate, np.random.default_rng(s), aug), front.sample_rate)
        audios.append(a)
        seeds.append(s)
    x = np.zeros((len(plan), front.n_bins, front.features), np.uint8)
    for lo in range(0, len(plan), 32):
        spikes = front.spikes_batch(audios[lo:lo + 32], seeds[lo:lo + 32])
        for j, (t, u) in enumerate(spikes):
            x[lo + j] = np.minimum(front.bins(t, u), 255).astype(np.uint8)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.save(fh, x)
        os.replace(tmp, path)
    return x, y
