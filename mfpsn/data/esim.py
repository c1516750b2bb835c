"""ESIM-style video-to-events simulator (Rebecq, Gehrig, Scaramuzza, CoRL 2018), vectorised numpy.

Model, per pixel: ``L = log(I + eps)``; a reference ``L_ref`` starts at the first frame's ``L``.
Between frames ``(t0, L0)`` and ``(t1, L1)`` the pixel emits ``n = floor(|L1 - L_ref| / C)`` events
(``C = C_on`` upwards with ``p = 1``, ``C = C_off`` downwards with ``p = 0``) at the crossing
levels ``L_ref ± k C`` (``k = 1..n``), each at the linearly interpolated time
``t0 + (t1 - t0) (level - L0) / (L1 - L0)``; then ``L_ref`` moves ``n C`` towards ``L1``.

Options (all seeded through one ``numpy.random.Generator`` per video):

- per-pixel threshold mismatch: ``C ~ N(C_on/off, threshold_sigma)``, clipped at ``min_threshold``
  (drawn once per video, ON first, then OFF);
- refractory period: as in ESIM, a crossing less than ``refractory_us`` after the pixel's last
  emitted event is dropped, but the reference still moves;
- background noise: a Poisson process of ``noise_rate_hz`` per pixel, uniform times, random
  polarity;
- hot pixels: ``hot_pixels`` pixels drawn at random, each firing a Poisson process of
  ``hot_pixel_rate_hz`` with one fixed, random polarity.

Timestamps: crossing times are floored to integer µs. Events are time-ordered: by crossing
time, then (equal µs) simulated crossings before noise events.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np

from mfpsn.events.core import Events

__all__ = ["ESIMConfig", "simulate_video", "log_intensity", "esim_batch", "thresholds", "noise_events"]


_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class ESIMConfig:
    """Simulator parameters (see the module docstring)."""

    c_on: float = 0.15
    c_off: float = 0.15
    threshold_sigma: float = 0.0
    min_threshold: float = 0.01
    refractory_us: float = 0.0
    noise_rate_hz: float = 0.0
    hot_pixels: int = 0
    hot_pixel_rate_hz: float = 100.0
    eps: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("c_on", "c_off", "min_threshold", "eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ESIMConfig.{name}: expected a positive number, found {getattr(self, name)!r}")
        for name in ("threshold_sigma", "refractory_us", "noise_rate_hz", "hot_pixel_rate_hz"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"ESIMConfig.{name}: expected a non-negative number, found "
                                 f"{getattr(self, name)!r}")
        if int(self.hot_pixels) != self.hot_pixels or self.hot_pixels < 0:
            raise ValueError(f"ESIMConfig.hot_pixels: expected a non-negative integer, found {self.hot_pixels!r}")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def log_intensity(frames: np.ndarray, eps: float) -> np.ndarray:
    """``log(I + eps)`` in float64 (``I`` as given: linear intensity, e.g. 0..1 or 0..255)."""
    return np.log(np.asarray(frames, dtype=np.float64) + eps)


def thresholds(rng: np.random.Generator, height: int, width: int, config: ESIMConfig
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ``(C_on, C_off)``, ``[H, W]`` float64 each (constant without mismatch; draws
    nothing from ``rng`` then)."""
    if config.threshold_sigma == 0:
        return np.full((height, width), config.c_on), np.full((height, width), config.c_off)
    c_on = np.maximum(rng.normal(config.c_on, config.threshold_sigma, (height, width)), config.min_threshold)
    c_off = np.maximum(rng.normal(config.c_off, config.threshold_sigma, (height, width)), config.min_threshold)
    return c_on, c_off


def noise_events(rng: np.random.Generator, height: int, width: int, t_start: float, t_end: float,
                 config: ESIMConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Background noise and hot-pixel events in ``[t_start, t_end)`` µs, unsorted.

    Draws from ``rng`` only what is enabled (noise first, then hot pixels).

    Returns:
        ``(t, x, y, p)``: ``[M]`` float64 µs, int64, int64, int64.
    """
    parts = []
    seconds = max(t_end - t_start, 0) * 1e-6
    if config.noise_rate_hz > 0:
        m = int(rng.poisson(config.noise_rate_hz * seconds * height * width))
        parts.append((rng.uniform(t_start, t_end, m), rng.integers(0, width, m),
                      rng.integers(0, height, m), rng.integers(0, 2, m)))
    if config.hot_pixels > 0:
        k = min(int(config.hot_pixels), height * width)
        pix = rng.choice(height * width, size=k, replace=False)
        pol = rng.integers(0, 2, k)
        counts = rng.poisson(config.hot_pixel_rate_hz * seconds, k)
        owner = np.repeat(np.arange(k), counts)
        parts.append((rng.uniform(t_start, t_end, owner.size), pix[owner] % width,
                      pix[owner] // width, pol[owner]))
    if not parts:
        empty = np.zeros(0, np.int64)
        return np.zeros(0), empty, empty, empty
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(4))  # type: ignore[return-value]


def esim_batch(log_frames: Iterable[np.ndarray], times_us: np.ndarray, c_on: np.ndarray, c_off: np.ndarray,
               refractory_us: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Threshold crossings of ``B`` videos that share one time axis.

    Args:
        log_frames: ``S`` arrays ``[B, H, W]`` of log intensity, in time order (any iterable, so
            frames can be rendered lazily).
        times_us: ``[S]`` increasing frame times in µs.
        c_on, c_off: ``[B, H, W]`` per-pixel thresholds.
        refractory_us: drop crossings closer than this to the pixel's last emitted event.

    Returns:
        ``(b, t, x, y, p)``: ``[M]`` each; ``b`` int64 video index, ``t`` float64 µs (exact crossing
        time), ``x``, ``y``, ``p`` int64; sorted by ``b``, then by time.
    """
    times = np.asarray(times_us, dtype=np.float64)
    if times.ndim != 1 or times.size < 1:
        raise ValueError(f"times_us: expected a 1-D array of frame times, found shape {times.shape}")
    if np.any(np.diff(times) <= 0):
        raise ValueError("times_us: expected strictly increasing frame times, found a step that is not")
    frames = iter(log_frames)
    prev = np.asarray(next(frames), dtype=np.float64)
    if prev.ndim != 3 or c_on.shape != prev.shape or c_off.shape != prev.shape:
        raise ValueError(f"esim_batch: expected log frames and thresholds of one shape [B, H, W], found "
                         f"{prev.shape}, {c_on.shape}, {c_off.shape}")
    n_b, height, width = prev.shape
    ref = prev.reshape(-1).copy()
    c_on_f, c_off_f = c_on.reshape(-1), c_off.reshape(-1)
    last = np.full(ref.shape, -np.inf)
    out_idx, out_t, out_p = [], [], []
    n_frames = 1
    for s, cur in enumerate(frames, start=1):
        if s >= times.size:
            raise ValueError(f"log_frames: expected {times.size} frames (one per time), found more")
        cur = np.asarray(cur, dtype=np.float64)
        if cur.shape != (n_b, height, width):
            raise ValueError(f"log_frames: expected frame shape {(n_b, height, width)}, found {cur.shape} at {s}")
        n_frames += 1
        cur_f = cur.reshape(-1)
        prev_f = prev.reshape(-1)
        diff = cur_f - ref
        n_on = np.floor(np.maximum(diff, 0) / c_on_f)
        n_off = np.floor(np.maximum(-diff, 0) / c_off_f)
        active = np.flatnonzero((n_on > 0) | (n_off > 0))
        if active.size:
            up = n_on[active] > 0
            count = np.where(up, n_on[active], n_off[active]).astype(np.int64)
            step = np.where(up, c_on_f[active], -c_off_f[active])
            l0, l1, r0 = prev_f[active], cur_f[active], ref[active]
            t0, dt = times[s - 1], times[s] - times[s - 1]
            step_idx, step_t, step_p = [], [], []
            for k in range(1, int(count.max()) + 1):
                sel = np.flatnonzero(count >= k)
                level = r0[sel] + k * step[sel]
                frac = np.clip((level - l0[sel]) / (l1[sel] - l0[sel]), 0.0, 1.0)
                tk = t0 + dt * frac
                pix = active[sel]
                if refractory_us > 0:
                    ok = tk - last[pix] >= refractory_us
                    sel, tk, pix = sel[ok], tk[ok], pix[ok]
                    last[pix] = tk
                step_idx.append(pix)
                step_t.append(tk)
                step_p.append(up[sel])
            ref[active] = r0 + count * step
            s_idx, s_t, s_p = np.concatenate(step_idx), np.concatenate(step_t), np.concatenate(step_p)
            order = np.argsort(s_t, kind="stable")
            out_idx.append(s_idx[order])
            out_t.append(s_t[order])
            out_p.append(s_p[order])
        prev = cur
    if n_frames != times.size:
        raise ValueError(f"log_frames: expected {times.size} frames (one per time), found {n_frames}")
    if not out_idx:
        empty = np.zeros(0, np.int64)
        return empty, np.zeros(0), empty, empty, empty
    idx, t, p = np.concatenate(out_idx), np.concatenate(out_t), np.concatenate(out_p)
    b = idx // (height * width)
    order = np.argsort(b.astype(np.int32), kind="stable")
    idx, t, p, b = idx[order], t[order], p[order], b[order]
    return b, t, idx % width, (idx // width) % height, p.astype(np.int64)


def simulate_video(frames: np.ndarray, times_us: np.ndarray, *, config: ESIMConfig = ESIMConfig(),
                   seed: int | np.random.Generator = 0, log_input: bool = False) -> Events:
    """Events of one video.

    Args:
        frames: ``[S, H, W]`` linear intensities (any non-negative scale), or log intensities
            when ``log_input`` is true; RGB ``[S, H, W, 3]`` is reduced to luma
            ``0.299 R + 0.587 G + 0.114 B`` first.
        times_us: ``[S]`` strictly increasing frame times in µs.
        config: simulator parameters.
        seed: an int or a ``numpy.random.Generator`` for mismatch and noise (unused when both
            are off).
        log_input: the frames already hold ``log`` intensity.

    Returns:
        :class:`Events` on a ``W x H`` sensor in ``[times_us[0], times_us[-1]]``, ``meta`` holds
        ``simulator="esim"`` and the config.
    """
    frames = np.asarray(frames)
    if frames.ndim == 4 and frames.shape[-1] == 3 and not log_input:
        frames = frames.astype(np.float64) @ _LUMA
    if frames.ndim != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames: expected [S, H, W] (or RGB [S, H, W, 3]) with S >= 1, found shape {frames.shape}")
    times = np.asarray(times_us, dtype=np.float64)
    if times.shape != (frames.shape[0],):
        raise ValueError(f"times_us: expected shape ({frames.shape[0]},) to match the frames, found {times.shape}")
    if not log_input and np.any(frames < 0):
        raise ValueError("frames: expected non-negative linear intensities, found negative values "
                         "(pass log_input=True for log frames)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    _, height, width = frames.shape
    c_on, c_off = thresholds(rng, height, width, config)
    logs = frames.astype(np.float64) if log_input else log_intensity(frames, config.eps)
    _, t, x, y, p = esim_batch((f[None] for f in logs), times, c_on[None], c_off[None], config.refractory_us)
    nt, nx, ny, np_ = noise_events(rng, height, width, times[0], times[-1], config)
    t_all = np.floor(np.concatenate([t, nt])).astype(np.int64)
    order = np.argsort(t_all, kind="stable")
    return Events(t_all[order], np.concatenate([x, nx])[order],
                  np.concatenate([y, ny])[order], np.concatenate([p, np_])[order], width, height,
                  {"simulator": "esim", **config.as_dict()})
