"""A small cochlea model that turns a waveform into 700-channel spike trains (SHD-like).

The Spiking Heidelberg Digits were made with a hydrodynamic basilar-membrane model, hair cells
and bushy cells (Cramer et al., 2020). That model is not available here, so this module uses a
documented, much simpler chain with the same output layout (``units`` 0..699, low units for low
frequencies, ``times`` in seconds). Every stage is configurable through :class:`CochleaConfig`;
the defaults are our choice (reconstructed, not taken from the SHD pipeline):

1. **Outer/middle ear**: first-order pre-emphasis ``y[n] = x[n] - a·x[n-1]`` (``preemphasis = a``),
   a high-pass tilt (for a = 0.7 at 22,050 Hz: gain 0.30 at 100 Hz, 1.55 at 8 kHz, about 14 dB
   apart), a crude stand-in for the outer/middle-ear transfer that favours mid and high frequencies.
2. **Basilar membrane**: ``n_channels`` band-pass channels with centre frequencies equally spaced
   on the ERB-rate scale (Glasberg & Moore, 1990) from ``f_min`` to ``f_max``. Each channel has the
   power response of a 4th-order gammatone filter, ``|H(f)|² = (1 + ((f - fc) / (1.019·ERB(fc)))²)^-4``,
   applied to a short-time power spectrum (Hann window ``win_ms``, one frame every ``hop``
   samples, ≈ 1 ms). Channel weights are calibrated so that a pure tone of amplitude ``A`` at a
   channel's centre frequency gives that channel an RMS envelope of ``A / √2``.
3. **Inner hair cell**: the band envelope is the square root of the band energy (the smoothed
   output of a half-wave rectifier, up to a constant), compressed logarithmically:
   ``drive = log1p(envelope / ref_level)``.
4. **Auditory nerve**: one leaky integrate-and-fire encoder per channel, stepped once per frame
   (``dt = hop / sample_rate``): ``v ← α·v + (1 - α)·gain_c·drive + noise``, ``α = exp(-dt/tau_m)``;
   a spike when ``v ≥ 1 + a`` resets ``v`` to 0 and raises the adaptive threshold ``a`` by
   ``adapt_step`` (``a`` decays with ``tau_adapt``), which gives onset emphasis like real fibres.
   The per-channel gains ``gain_c`` vary log-normally (``gain_spread``) with a fixed
   ``fibre_seed`` (one "ear" for the whole data set), so neighbouring channels that see nearly
   the same band energy still fire differently. Spike times are refined inside a step by linear
   interpolation of the threshold crossing, so they are not locked to the 1 ms grid.

At most one spike per channel and step, so the peak rate is ``sample_rate / hop`` (≈ 1 kHz).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

__all__ = [
    "CochleaConfig",
    "erb",
    "erb_space",
    "filterbank",
    "band_envelopes",
    "lif_encode",
    "lif_encode_batch",
    "cochlea_spikes",
    "cochlea_spikes_batch",
]


@dataclass(frozen=True)
class CochleaConfig:
    """Parameters of the cochlea model (see the module docstring for each stage).

    Attributes:
        n_channels: output channels (units), ascending centre frequency.
        f_min, f_max: centre frequencies of the first and last channel, Hz.
        win_ms: Hann window of the short-time spectrum, ms.
        hop: samples between frames (the encoder's time step).
        preemphasis: coefficient ``a`` of the outer/middle-ear filter, in [0, 1).
        ref_level: envelope (full scale 1) at which the compressed drive is log(2).
        gain: mean encoder gain; ``gain_spread``: std of its log across channels.
        tau_m: membrane time constant, s.
        noise: std of the Gaussian noise added to ``v`` every step.
        adapt_step, tau_adapt: threshold increase per spike and its decay time constant, s.
        fibre_seed: seed of the per-channel gains (fixed per "ear", not per sample).
    """

    n_channels: int = 700
    f_min: float = 50.0
    f_max: float = 8000.0
    win_ms: float = 16.0
    hop: int = 22
    preemphasis: float = 0.7
    ref_level: float = 1e-3
    gain: float = 1.0
    gain_spread: float = 0.15
    tau_m: float = 0.004
    noise: float = 0.08
    adapt_step: float = 0.6
    tau_adapt: float = 0.06
    fibre_seed: int = 7

    def __post_init__(self) -> None:
        if self.n_channels < 1:
            raise ValueError(f"CochleaConfig.n_channels: expected >= 1, found {self.n_channels}")
        if not 0.0 < self.f_min < self.f_max:
            raise ValueError(
                f"CochleaConfig: expected 0 < f_min < f_max, found f_min={self.f_min}, f_max={self.f_max}"
            )
        if self.hop < 1:
            raise ValueError(f"CochleaConfig.hop: expected >= 1 sample, found {self.hop}")
        for name in ("win_ms", "ref_level", "gain", "tau_m", "tau_adapt"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CochleaConfig.{name}: expected > 0, found {getattr(self, name)}")
        for name in ("gain_spread", "noise", "adapt_step"):
            if getattr(self, name) < 0:
                raise ValueError(f"CochleaConfig.{name}: expected >= 0, found {getattr(self, name)}")
        if not 0.0 <= self.preemphasis < 1.0:
            raise ValueError(f"CochleaConfig.preemphasis: expected in [0, 1), found {self.preemphasis}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view, used to tag caches so that a changed model rebuilds them."""
        return asdict(self)


def erb(f: np.ndarray | float) -> np.ndarray:
    """Equivalent rectangular bandwidth in Hz at frequency ``f`` Hz (Glasberg & Moore, 1990)."""
    return 24.7 * (4.37e-3 * np.asarray(f, dtype=np.float64) + 1.0)


def erb_space(n: int, f_min: float, f_max: float) -> np.ndarray:
    """``[n]`` centre frequencies in Hz, equally spaced on the ERB-rate scale, ascending."""
    def rate(f: float) -> float:
        return 21.4 * np.log10(4.37e-3 * f + 1.0)

    r = np.linspace(rate(f_min), rate(f_max), n)
    return (10.0 ** (r / 21.4) - 1.0) / 4.37e-3


def _window(sample_rate: int, cfg: CochleaConfig) -> tuple[np.ndarray, int]:
    n_win = max(8, int(round(cfg.win_ms * 1e-3 * sample_rate)))
    n_fft = 1 << int(np.ceil(np.log2(2 * n_win)))
    return np.hanning(n_win + 2)[1:-1], n_fft


@lru_cache(maxsize=8)
def _filterbank_cached(sample_rate: int, cfg: CochleaConfig) -> tuple[np.ndarray, np.ndarray]:
    if cfg.f_max >= sample_rate / 2:
        raise ValueError(
            f"cochlea: f_max must lie below the Nyquist frequency {sample_rate / 2} Hz of the audio, "
            f"found f_max={cfg.f_max}"
        )
    window, n_fft = _window(sample_rate, cfg)
    fc = erb_space(cfg.n_channels, cfg.f_min, cfg.f_max)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    weights = (1.0 + ((freqs[None, :] - fc[:, None]) / (1.019 * erb(fc)[:, None])) ** 2) ** -4.0
    # Calibrate: a unit-amplitude tone at fc must give band energy 1/2 (RMS 1/√2).
    n = np.arange(window.size)
    tones = np.cos(2.0 * np.pi * fc[:, None] * n[None, :] / sample_rate) * window[None, :]
    tone_power = _power(np.fft.rfft(tones, n_fft, axis=1), window, n_fft)
    response = np.einsum("ck,ck->c", weights, tone_power)
    weights *= (0.5 / response)[:, None]
    bank = weights.T.copy()
    bank.setflags(write=False)  # shared by every caller through the cache: nobody may write into it
    fc.setflags(write=False)
    return bank, fc


def _power(spectrum: np.ndarray, window: np.ndarray, n_fft: int) -> np.ndarray:
    """One-sided power per bin, scaled so that Σ_k P_k is the mean square of the frame."""
    return (2.0 / n_fft) * (np.abs(spectrum) ** 2) / np.sum(window**2)


def filterbank(sample_rate: int, cfg: CochleaConfig = CochleaConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Channel weights and centre frequencies.

    Returns:
        weights: ``[n_fft // 2 + 1, n_channels]`` float64 power weights (read-only).
        fc: ``[n_channels]`` centre frequencies in Hz, ascending (read-only).
    """
    return _filterbank_cached(int(sample_rate), cfg)


def band_envelopes(audio: np.ndarray, sample_rate: int, cfg: CochleaConfig = CochleaConfig()) -> np.ndarray:
    """RMS envelope of each channel, one row per frame.

    Args:
        audio: ``[S]`` float waveform (any scale; 1.0 = full scale of 16-bit audio).
        sample_rate: Hz.
    Returns:
        ``[F, n_channels]`` float64, ``F = S // hop + 1``; frame ``i`` is centred on sample ``i·hop``.
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"band_envelopes: expected a non-empty 1-D waveform, found shape {x.shape}")
    weights, _ = filterbank(sample_rate, cfg)
    window, n_fft = _window(sample_rate, cfg)
    x = np.concatenate([x[:1], x[1:] - cfg.preemphasis * x[:-1]])
    half = window.size // 2
    padded = np.pad(x, (half, window.size - half))
    n_frames = x.size // cfg.hop + 1
    idx = np.arange(n_frames)[:, None] * cfg.hop + np.arange(window.size)[None, :]
    frames = padded[idx] * window[None, :]
    power = _power(np.fft.rfft(frames, n_fft, axis=1), window, n_fft)
    return np.sqrt(np.maximum(power @ weights, 0.0))


def _fibre_gains(cfg: CochleaConfig) -> np.ndarray:
    rng = np.random.default_rng(cfg.fibre_seed)
    return cfg.gain * np.exp(cfg.gain_spread * rng.standard_normal(cfg.n_channels))


def lif_encode(
    drive: np.ndarray, dt: float, cfg: CochleaConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Spike trains of one adaptive LIF encoder per channel.

    Args:
        drive: ``[F, C]`` non-negative input per step and channel, ``C = cfg.n_channels``.
        dt: step length in seconds.
        rng: source of the membrane noise.
    Returns:
        times: ``[N]`` float64 seconds, sorted (ties by unit).
        units: ``[N]`` int64 channel indices.
    """
    return lif_encode_batch([drive], dt, cfg, [rng])[0]


def lif_encode_batch(
    drives: Sequence[np.ndarray], dt: float, cfg: CochleaConfig, rngs: Sequence[np.random.Generator]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`lif_encode` of several inputs at once (one step loop over the longest; the same result as one
    call per input, since each input draws its noise from its own generator and padding steps are dropped).

    Args:
        drives: ``B`` arrays ``[F_b, C]``; ``rngs``: ``B`` generators.
    Returns:
        ``B`` pairs ``(times [N_b], units [N_b])`` as :func:`lif_encode` returns them.
    """
    if len(drives) != len(rngs):
        raise ValueError(f"lif_encode_batch: expected one generator per input, found {len(drives)} inputs and "
                         f"{len(rngs)} generators")
    n_ch = cfg.n_channels
    for d in drives:
        if np.ndim(d) != 2:
            raise ValueError(f"lif_encode: expected drive of shape [F, C], found shape {np.shape(d)}")
        if np.shape(d)[1] != n_ch:
            raise ValueError(f"lif_encode: expected {n_ch} channels (CochleaConfig.n_channels), found "
                             f"{np.shape(d)[1]}")
    B = len(drives)
    lengths = [int(np.shape(d)[0]) for d in drives]
    n_steps = max(lengths, default=0)
    gains = _fibre_gains(cfg)
    alpha = np.exp(-dt / cfg.tau_m)
    decay = np.exp(-dt / cfg.tau_adapt)
    inputs = np.zeros((n_steps, B, n_ch))
    for b, (d, rng) in enumerate(zip(drives, rngs)):
        f = lengths[b]
        inputs[:f, b] = (1.0 - alpha) * np.asarray(d, dtype=np.float64) * gains[None, :]
        inputs[:f, b] += cfg.noise * rng.standard_normal((f, n_ch))
    v = np.zeros(B * n_ch)
    a = np.zeros(B * n_ch)
    flat = inputs.reshape(n_steps, B * n_ch)
    steps: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    fracs: list[np.ndarray] = []
    for i in range(n_steps):
        v_new = alpha * v + flat[i]
        a *= decay
        fired = np.flatnonzero(v_new >= 1.0 + a)
        if fired.size:
            lo, hi = v[fired], v_new[fired]
            fracs.append(np.clip((1.0 + a[fired] - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0))
            steps.append(np.full(fired.size, i))
            cells.append(fired)
            v_new[fired] = 0.0
            a[fired] += cfg.adapt_step
        v = v_new
    out = []
    step = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    cell = np.concatenate(cells) if cells else np.zeros(0, np.int64)
    frac = np.concatenate(fracs) if fracs else np.zeros(0)
    sample, unit = cell // n_ch, (cell % n_ch).astype(np.int64)
    for b in range(B):
        keep = (sample == b) & (step < lengths[b])
        times = np.maximum((step[keep] - 1 + frac[keep]) * dt, 0.0)
        units = unit[keep]
        order = np.lexsort((units, times))
        out.append((times[order], units[order]))
    return out


def cochlea_spikes(
    audio: np.ndarray, sample_rate: int, cfg: CochleaConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Waveform ``[S]`` → ``(times [N] float64 seconds sorted, units [N] int64 in 0..n_channels-1)``."""
    return cochlea_spikes_batch([audio], sample_rate, cfg, [rng])[0]


def cochlea_spikes_batch(
    audios: Sequence[np.ndarray], sample_rate: int, cfg: CochleaConfig, rngs: Sequence[np.random.Generator]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`cochlea_spikes` of several waveforms (one encoder loop for all, see :func:`lif_encode_batch`)."""
    drives = [np.log1p(band_envelopes(a, sample_rate, cfg) / cfg.ref_level) for a in audios]
    return lif_encode_batch(drives, cfg.hop / sample_rate, cfg, rngs)
