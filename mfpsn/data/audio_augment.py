"""Waveform augmentation for training speech models (train split only; evaluation sees clean audio).

Each operation is a pure function of the waveform and a ``numpy`` generator; :func:`augment` applies the ones
:class:`AugmentConfig` enables, each with its probability, in a fixed order: speed → reverberation → band limit
→ noise → gain. The ranges are our choice, aimed at what separates FSDD's five male speakers from new
ones (other vocal tracts and pitch, rooms, microphones, telephone bands, background noise):

- **speed** (pitch and formants together, as vocal-tract length perturbation does): resample by a factor drawn
  log-uniformly in ``speed``; a factor > 1 plays faster and higher (towards female and child voices).
- **reverberation**: convolution with an exponentially decaying noise impulse response, RT60 drawn in
  ``rt60_s``, mixed at a wet fraction in ``wet``.
- **band limit**: a random telephone-like band, high-pass edge in ``highpass_hz``, low-pass edge in
  ``lowpass_hz`` (smooth FFT mask).
- **noise**: white or pink noise at an SNR (dB, against the signal's RMS) drawn in ``snr_db``.
- **gain**: scale by a gain (dB) drawn in ``gain_db`` (applied before the front end's levelling, so it only
  changes the noise floor and clipping; the front end is gain-invariant by design).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["AugmentConfig", "OPERATIONS", "augment", "change_speed", "reverberate", "band_limit", "add_noise",
           "apply_gain"]

OPERATIONS = ("speed", "reverb", "band", "noise", "gain")


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the augmentations (``p_*`` = 0 switches one off)."""

    p_speed: float = 0.8
    speed: tuple[float, float] = (0.85, 1.30)
    p_reverb: float = 0.3
    rt60_s: tuple[float, float] = (0.1, 0.5)
    wet: tuple[float, float] = (0.2, 0.6)
    p_band: float = 0.3
    highpass_hz: tuple[float, float] = (50.0, 400.0)
    lowpass_hz: tuple[float, float] = (2000.0, 3800.0)
    p_noise: float = 0.5
    snr_db: tuple[float, float] = (5.0, 30.0)
    p_gain: float = 0.5
    gain_db: tuple[float, float] = (-12.0, 6.0)

    def only(self, *ops: str) -> "AugmentConfig":
        """A copy with every operation not in ``ops`` switched off (for per-operation ablations)."""
        unknown = sorted(set(ops) - set(OPERATIONS))
        if unknown:
            raise ValueError(f"AugmentConfig.only: expected operations from {OPERATIONS}, found {unknown}")
        d = asdict(self)
        for op in OPERATIONS:
            if op not in ops:
                d[f"p_{op}"] = 0.0
        return AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (pitch and formants × factor, duration / factor)."""
    from mfpsn.data.speech import resample

    if factor <= 0:
        raise ValueError(f"change_speed: expected factor > 0, found {factor}")
    # Resampling to rate / factor and playing at the old rate is the speed change.
    return resample(x, 10_000, int(round(10_000 / factor)))


def reverberate(x: np.ndarray, sample_rate: int, rt60_s: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` convolved with a decaying-noise room response (RT60 ``rt60_s``), ``wet`` of it mixed in."""
    n = max(1, int(rt60_s * sample_rate))
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s)  # −60 dB at t = RT60
    ir /= np.sqrt(np.sum(ir ** 2))
    size = x.size + n - 1
    n_fft = 1 << int(np.ceil(np.log2(size)))
    y = np.fft.irfft(np.fft.rfft(x, n_fft) * np.fft.rfft(ir, n_fft), n_fft)[:x.size]
    return (1.0 - wet) * x + wet * y


def band_limit(x: np.ndarray, sample_rate: int, highpass_hz: float, lowpass_hz: float) -> np.ndarray:
    """``x`` through a smooth band-pass mask (raised-cosine edges an octave wide)."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    with np.errstate(divide="ignore"):
        octave_hp = np.log2(np.maximum(f, 1e-3) / highpass_hz)
        octave_lp = np.log2(np.maximum(f, 1e-3) / lowpass_hz)
    hp = 0.5 * (1 + np.cos(np.pi * np.clip(-octave_hp * 2, 0, 1)))
    lp = 0.5 * (1 + np.cos(np.pi * np.clip(octave_lp * 2, 0, 1)))
    return np.fft.irfft(spec * hp * lp, x.size)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator, pink: bool = False) -> np.ndarray:
    """``x`` plus white (or pink, 1/f power) noise at ``snr_db`` against the RMS of ``x``."""
    noise = rng.standard_normal(x.size)
    if pink:
        spec = np.fft.rfft(noise)
        spec[1:] /= np.sqrt(np.arange(1, spec.size))
        spec[0] = 0.0
        noise = np.fft.irfft(spec, x.size)
    p_signal = np.mean(x ** 2)
    p_noise = np.mean(noise ** 2)
    if p_signal <= 0 or p_noise <= 0:
        return x.copy()
    return x + noise * np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))


def apply_gain(x: np.ndarray, gain_db: float) -> np.ndarray:
    """``x`` scaled by ``gain_db`` and clipped to full scale."""
    return np.clip(x * 10.0 ** (gain_db / 20.0), -1.0, 1.0)


def augment(x: np.ndarray, sample_rate: int, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """One random augmentation of ``x [S]`` (``sample_rate`` Hz) → ``[S']`` (the length changes with speed)."""
    y = np.asarray(x, dtype=np.float64)
    if rng.random() < cfg.p_speed:
        lo, hi = np.log(cfg.speed[0]), np.log(cfg.speed[1])
        y = change_speed(y, float(np.exp(rng.uniform(lo, hi))))
    if rng.random() < cfg.p_reverb:
        y = reverberate(y, sample_rate, _uniform(rng, cfg.rt60_s), _uniform(rng, cfg.wet), rng)
    if rng.random() < cfg.p_band:
        y = band_limit(y, sample_rate, _uniform(rng, cfg.highpass_hz),
                       min(_uniform(rng, cfg.lowpass_hz), 0.49 * sample_rate))
    if rng.random() < cfg.p_noise:
        y = add_noise(y, _uniform(rng, cfg.snr_db), rng, pink=bool(rng.random() < 0.5))
    if rng.random() < cfg.p_gain:
        y = apply_gain(y, _uniform(rng, cfg.gain_db))
    return y
