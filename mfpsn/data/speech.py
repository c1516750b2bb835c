"""The speech front end of the spoken-digit models: a waveform of any rate → the binned cochlea spike trains
a network sees (``x: [T, 700 // pool]``), one frozen, JSON-able config that goes into the model card so that
training, ``python -m mfpsn.predict`` and the app build the input the same way.

Stages (every constant is a field of :class:`SpeechFront`; the defaults are our choice for 8 kHz telephone-band
speech such as FSDD):

1. **Resample** to ``sample_rate`` (8 kHz): an FFT brick-wall low-pass at the lower Nyquist frequency, then
   linear interpolation (:func:`resample`).
2. **Trim** leading and trailing silence: 10 ms frames whose RMS is more than ``trim_db`` below the loudest
   frame are cut from both ends, keeping ``margin_ms`` (:func:`trim_silence`).
3. **Level**: scale so the 99.9th percentile of ``|x|`` is ``level`` (gain-invariant input).
4. **Cochlea** (:mod:`mfpsn.data.cochlea`) with its band set for the audio: ``f_min`` .. ``f_max`` below the
   Nyquist frequency (3.8 kHz at 8 kHz, so no channel sits in the empty band above 4 kHz), one step per
   ``hop`` samples (2 ms at 8 kHz); the encoder noise is seeded per call (``seed``).
5. **Bins** (:func:`mfpsn.events.frames.spike_train_to_bins`): ``n_bins`` bins of ``bin_us`` from t = 0,
   ``pool`` neighbouring channels summed (700 → 140), as SNN-delays bins SHD.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from mfpsn.data.cochlea import CochleaConfig, cochlea_spikes, cochlea_spikes_batch

__all__ = ["SpeechFront", "resample", "trim_silence", "FSDD_COCHLEA"]

FSDD_COCHLEA = CochleaConfig(n_channels=700, f_min=80.0, f_max=3800.0, win_ms=16.0, hop=16, preemphasis=0.7)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``audio [S]`` at ``rate_in`` Hz → ``[round(S · rate_out / rate_in)]`` at ``rate_out`` Hz.

    Band-limited to the lower of the two Nyquist frequencies (FFT mask), then linearly interpolated.
    """
    x = np.asarray(audio, dtype=np.float64)
    if rate_in == rate_out or x.size < 2:
        return x.copy()
    if rate_out < rate_in:
        spec = np.fft.rfft(x)
        freqs = np.fft.rfftfreq(x.size, 1.0 / rate_in)
        spec[freqs >= 0.5 * rate_out] = 0.0
        x = np.fft.irfft(spec, x.size)
    n_out = max(1, int(round(x.size * rate_out / rate_in)))
    t_out = np.arange(n_out) * (rate_in / rate_out)
    return np.interp(t_out, np.arange(x.size), x)


def trim_silence(audio: np.ndarray, sample_rate: int, trim_db: float = 40.0, margin_ms: float = 20.0) -> np.ndarray:
    """``audio [S]`` without the leading and trailing 10 ms frames more than ``trim_db`` below the loudest frame
    (``margin_ms`` kept on each side); silence-only or very short audio is returned unchanged."""
    x = np.asarray(audio, dtype=np.float64)
    n = max(1, int(round(0.01 * sample_rate)))
    n_frames = x.size // n
    if n_frames < 2:
        return x
    rms = np.sqrt(np.mean(x[:n_frames * n].reshape(n_frames, n) ** 2, axis=1))
    peak = rms.max()
    if peak <= 0.0:
        return x
    loud = np.flatnonzero(rms >= peak * 10.0 ** (-trim_db / 20.0))
    margin = int(round(margin_ms * 1e-3 * sample_rate))
    lo = max(0, loud[0] * n - margin)
    hi = min(x.size, (loud[-1] + 1) * n + margin)
    return x[lo:hi]


@dataclass(frozen=True)
class SpeechFront:
    """Waveform → binned cochlea spikes (see the module docstring for each stage).

    Attributes:
        sample_rate: Hz the audio is resampled to.
        trim_db, margin_ms: silence trimming (``trim_db = 0`` keeps everything).
        level: target 99.9th percentile of ``|x|`` after scaling (full scale 1).
        cochlea: the :class:`~mfpsn.data.cochlea.CochleaConfig`; ``f_max`` must lie below ``sample_rate / 2``.
        n_bins, bin_us, pool: binning of the spike trains (``pool`` divides ``cochlea.n_channels``).
    """

    sample_rate: int = 8000
    trim_db: float = 40.0
    margin_ms: float = 20.0
    level: float = 0.5
    cochlea: CochleaConfig = field(default_factory=lambda: FSDD_COCHLEA)
    n_bins: int = 100
    bin_us: int = 10_000
    pool: int = 5

    def __post_init__(self) -> None:
        if self.cochlea.f_max >= self.sample_rate / 2:
            raise ValueError(f"SpeechFront: cochlea.f_max {self.cochlea.f_max} Hz must lie below the Nyquist "
                             f"frequency {self.sample_rate / 2} Hz")
        if self.n_bins < 1 or self.bin_us < 1 or self.pool < 1 or self.cochlea.n_channels % self.pool:
            raise ValueError(f"SpeechFront: expected n_bins, bin_us >= 1 and pool dividing "
                             f"{self.cochlea.n_channels}, found {self.n_bins}, {self.bin_us}, {self.pool}")
        if not self.level > 0 or self.trim_db < 0 or self.margin_ms < 0:
            raise ValueError(f"SpeechFront: expected level > 0, trim_db >= 0, margin_ms >= 0, found "
                             f"{self.level}, {self.trim_db}, {self.margin_ms}")

    @property
    def features(self) -> int:
        """Channels per step of the binned input (700 // pool)."""
        return self.cochlea.n_channels // self.pool

    def to_dict(self) -> dict[str, Any]:
        """The card's ``input.transform`` (``name: "cochlea"``)."""
        return {"name": "cochlea", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SpeechFront":
        """Inverse of :meth:`to_dict` (unknown keys refused)."""
        d = {k: v for k, v in d.items() if k != "name"}
        known = {f.name for f in fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"SpeechFront: unknown fields {extra}")
        if isinstance(d.get("cochlea"), dict):
            d["cochlea"] = CochleaConfig(**d["cochlea"])
        return cls(**d)

    def prepare(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Stages 1–3: ``audio [S]`` at ``sample_rate`` → ``[S']`` at :attr:`sample_rate`, trimmed and levelled."""
        x = resample(audio, int(sample_rate), self.sample_rate)
        if self.trim_db > 0:
            x = trim_silence(x, self.sample_rate, self.trim_db, self.margin_ms)
        ref = np.percentile(np.abs(x), 99.9) if x.size else 0.0
        return x * (self.level / ref) if ref > 1e-6 else x

    def spikes(self, audio: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Stage 4 on prepared audio: ``(times [N] s, units [N])``."""
        return cochlea_spikes(audio, self.sample_rate, self.cochlea, np.random.default_rng(seed))

    def spikes_batch(self, audios: list[np.ndarray], seeds: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`spikes` of several prepared waveforms at once (the same result, one encoder loop)."""
        return cochlea_spikes_batch(audios, self.sample_rate, self.cochlea, [np.random.default_rng(s) for s in seeds])

    def bins(self, times: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Stage 5: spike trains → ``[n_bins, features]`` float32 counts."""
        from mfpsn.events import Events
        from mfpsn.events.frames import spike_train_to_bins

        t_us = np.round(np.asarray(times, np.float64) * 1e6).astype(np.int64)
        ev = Events(t_us, np.asarray(units, np.int64).astype(np.uint16), np.zeros(t_us.size, np.uint16),
                    np.ones(t_us.size, np.uint8), self.cochlea.n_channels, 1)
        return spike_train_to_bins(ev, n_bins=self.n_bins, bin_us=self.bin_us, n_units=self.cochlea.n_channels,
                                   pool=self.pool)

    def __call__(self, audio: np.ndarray, sample_rate: int, seed: int = 0) -> np.ndarray:
        """All stages: ``audio [S]`` → ``x: [n_bins, features]`` float32."""
        return self.bins(*self.spikes(self.prepare(audio, sample_rate), seed))
