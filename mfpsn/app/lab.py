"""Neuron lab: one input sequence through an MFPSN with hand-set shift weights, beside a serial LIF.

The ``neuron_lab`` endpoint takes every control of the tab and returns six figures and a Markdown summary.
The MFPSN is the eval pass of :class:`mfpsn.neurons.MFPSN` after its BatchNorm fold, called as the pure function
:func:`mfpsn.backends.mfpsn_layer.mfpsn_trace` with the chosen taps W and threshold θ (what the module's ``run``
computes once the fold gives W_q = W and θ); the lab plots ``h`` and ``spikes``. Taps come from

- ``shift weights``: per tap a sign (+, −, 0) and an exponent e: w = ±2^e, already powers of two;
- ``float weights``: any numbers; with quantization on they are rounded to ±2^e (log domain), as training does;
- ``LIF kernel``: the LIF's impulse response w_i = (1/τ)(1 − 1/τ)^lag_i sampled at the tap lags (LIF
  without reset is such a filter, spec §4.1), so the MFPSN approximates the LIF with k shifts.

Taps are listed oldest first: tap i has lag (k − 1 − i)·d, the last tap weighs the current input.
Optional third neuron: ``SlidingPSN`` with the same float taps (one shared row, d = 1, multiplications), or
``PSN`` whose T×T weight is the LIF kernel (lower-triangular; the PSN form of LIF without reset, Eq. 4).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch

from mfpsn.app import figures_lab as fl
from mfpsn.app.budget import check_budget, lab_cost
from mfpsn.app.inputs import SIGNALS, generate_input, load_sequence
from mfpsn.app.limits import LIMITS, Limits, check_choice, check_float, check_int
from mfpsn.energy import neuron_ops
from mfpsn.functional import get_surrogate, lags as filter_lags, pow2_exponents, pow2_quantize

__all__ = ["TAP_SOURCES", "DILATION_MODES", "EXTRAS", "RESETS", "SURROGATE_NAMES", "LabSettings", "LabResult",
           "parse_signs", "parse_numbers", "lif_impulse_response", "lab_taps", "lab_dilations", "simulate",
           "lab_figures", "neuron_lab"]

TAP_SOURCES = ("shift weights", "float weights", "LIF kernel")
DILATION_MODES = ("manual", "sawtooth layer")
EXTRAS = ("none", "SlidingPSN", "PSN")  # "none" or a key of _EXTRA_BUILDERS
RESETS = ("soft", "hard")
SURROGATE_NAMES = ("atan", "rational", "sigmoid")
_EXP_RANGE = (-16, 15)


@dataclass(frozen=True)
class LabSettings:
    """Every control of the neuron lab, validated (see :func:`neuron_lab` for the meaning of each)."""

    signal: str = "Poisson spikes"
    T: int = 256
    channels: int = 1
    amplitude: float = 1.5
    period: int = 16
    rate: float = 0.3
    seed: int = 0
    upload: str | None = None
    order: int = 3
    dilation_mode: str = "manual"
    dilation: int = 2
    layer: int = 1
    taps_from: str = "shift weights"
    signs: str = "+ + +"
    exponents: str = "-2 -1 0"
    float_weights: str = "0.3, 0.6, 1.0"
    quantize: bool = True
    threshold: float = 1.8
    surrogate: str = "atan"
    alpha: float = 2.0
    lif_tau: float = 2.0
    lif_v_th: float = 1.0
    lif_reset: str = "soft"
    extra: str = "none"
    channel: int = 0
    view_from: int = 0  # the time window the input, membrane and raster plots show (one control for the three);
    view_to: int = 0    # steps [view_from, view_to), 0 = to the end; traces are thinned within the window only


@dataclass(frozen=True)
class LabResult:
    """What one lab update computed (numpy, for the figures and the tests).

    Attributes:
        x: [T, C] input. taps: [k] taps used; float_taps: [k] before quantization (None for shift weights).
        lags: [k]. dilations: [L] dilation per stacked layer (the lab neuron is the last). reach: per layer,
        the sorted reachable lags. traces: name → (h [T, C], spikes [T, C], threshold). surrogate_grad: [T, C]
        σ'(H − θ) of the MFPSN. notes: warnings raised while reading the settings.
    """

    x: np.ndarray
    taps: np.ndarray
    float_taps: np.ndarray | None
    lags: list[int]
    dilations: list[int]
    reach: list[list[int]]
    traces: dict[str, tuple[np.ndarray, np.ndarray, float]]
    surrogate_grad: np.ndarray
    notes: list[str]


def parse_signs(text: str, order: int, notes: list[str]) -> list[int]:
    """Signs ``"+ - 0"`` (also ``1 -1 0``, commas allowed), oldest tap first, fitted to ``order`` taps."""
    tokens = [t for t in re.split(r"[\s,;]+", str(text).strip()) if t]
    table = {"+": 1, "+1": 1, "1": 1, "-": -1, "-1": -1, "−": -1, "0": 0}
    out = []
    for tok in tokens:
        if tok not in table:
            raise gr.Error(f"tap signs: expected '+', '-' or '0' per tap, found {tok!r}")
        out.append(table[tok])
    return _fit(out, order, "tap signs", 0, notes)


def parse_numbers(text: str, order: int, name: str, notes: list[str], integer: bool = False,
                  fill: float = 0.0) -> list[float]:
    """Numbers separated by spaces or commas, oldest tap first, fitted to ``order`` values."""
    tokens = [t for t in re.split(r"[\s,;]+", str(text).strip()) if t]
    out = []
    for tok in tokens:
        try:
            v = float(tok.replace("−", "-"))
        except ValueError:
            raise gr.Error(f"{name}: expected {'integers' if integer else 'numbers'} separated by spaces or "
                           f"commas, found {tok!r}") from None
        if not math.isfinite(v) or (integer and v != int(v)):
            raise gr.Error(f"{name}: expected {'an integer' if integer else 'a finite number'}, found {tok!r}")
        out.append(int(v) if integer else v)
    return _fit(out, order, name, fill, notes)


def _fit(values: list, order: int, name: str, fill, notes: list[str]) -> list:
    """Keep the newest ``order`` values; pad missing oldest taps with ``fill`` (and note it)."""
    if len(values) == order:
        return values
    if len(values) > order:
        notes.append(f"{name}: {len(values)} values for k = {order} taps; the oldest {len(values) - order} "
                     "were dropped")
        return values[len(values) - order:]
    notes.append(f"{name}: {len(values)} values for k = {order} taps; the {order - len(values)} oldest tap(s) "
                 f"were set to {fill}")
    return [fill] * (order - len(values)) + values


def lab_dilations(s: LabSettings) -> list[int]:
    """Dilation of every stacked layer up to the lab neuron: ``[d]`` (manual) or the sawtooth schedule."""
    if s.dilation_mode == "manual":
        return [s.dilation]
    from mfpsn.dilation import sawtooth_dilations

    return [int(d) for d in sawtooth_dilations(s.layer)]


def lif_impulse_response(tau: float, lags) -> np.ndarray:
    """The LIF's response to a unit input at each lag (no reset, V[−1] = 0): (1/τ)(1 − 1/τ)^lag, float64."""
    r = 1.0 / tau
    return r * (1.0 - r) ** np.asarray(lags, dtype=np.float64)


def lab_taps(s: LabSettings, lags: list[int], notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """(taps used [k], float taps before quantization [k] or None) for the settings."""
    k = s.order
    if s.taps_from == "shift weights":
        signs = parse_signs(s.signs, k, notes)
        exps = parse_numbers(s.exponents, k, "tap exponents", notes, integer=True, fill=0)
        bad = [e for e in exps if not _EXP_RANGE[0] <= e <= _EXP_RANGE[1]]
        if bad:
            raise gr.Error(f"tap exponents: expected integers in [{_EXP_RANGE[0]}, {_EXP_RANGE[1]}], found {bad}")
        return np.array([sg * 2.0 ** e for sg, e in zip(signs, exps)], dtype=np.float32), None
    if s.taps_from == "float weights":
        w = np.array(parse_numbers(s.float_weights, k, "float weights", notes), dtype=np.float32)
        if np.any(np.abs(w) > 2.0 ** _EXP_RANGE[1]):
            raise gr.Error(f"float weights: expected magnitudes up to 2^{_EXP_RANGE[1]}, found {np.abs(w).max():g}")
    else:
        w = lif_impulse_response(s.lif_tau, lags).astype(np.float32)
    used = pow2_quantize(torch.from_numpy(w)).numpy() if s.quantize else w
    return used.astype(np.float32), w


def _mfpsn_trace(x: torch.Tensor, taps: np.ndarray, theta: float, s: LabSettings, dilation: int):
    """The MFPSN eval pass with exactly these taps and threshold: :func:`mfpsn.backends.mfpsn_trace` (filter
    with the shift/add path, threshold, spikes); the taps are already quantised by :func:`_taps` when asked."""
    from mfpsn.backends.mfpsn_layer import mfpsn_trace
    from mfpsn.neurons import NeuronTrace

    C = x.shape[2]
    w = torch.from_numpy(taps).to(x.dtype).expand(C, -1).contiguous()      # [C, k]
    th = torch.full((C,), float(theta), dtype=x.dtype)                     # [C]
    with torch.no_grad():
        spikes, h = mfpsn_trace(x, w, th, dilation, get_surrogate(s.surrogate, s.alpha), "shift_add")
    return NeuronTrace(spikes, h, th)


def _lif_trace(x: torch.Tensor, s: LabSettings):
    from mfpsn.neurons import LIF

    lif = LIF(tau=s.lif_tau, v_th=s.lif_v_th, v_reset=None if s.lif_reset == "soft" else 0.0, backend="loop")
    with torch.no_grad():
        return lif.run(x)


def _sliding_psn(T: int, s: LabSettings, float_taps: np.ndarray) -> torch.nn.Module:
    """SlidingPSN with the lab's float taps as its shared row and θ."""
    from mfpsn.neurons import SlidingPSN

    neuron = SlidingPSN(s.order)
    with torch.no_grad():
        neuron.weight.copy_(torch.from_numpy(float_taps))
        neuron.threshold.fill_(s.threshold)
    return neuron


def _psn(T: int, s: LabSettings, float_taps: np.ndarray) -> torch.nn.Module:
    """PSN whose T×T weight is the LIF kernel by lag (lower-triangular: LIF without reset, Eq. 4), θ the lab's."""
    from mfpsn.neurons import PSN

    neuron = PSN(T)
    kernel = lif_impulse_response(s.lif_tau, np.arange(T)).astype(np.float32)   # [T] by lag
    t = np.arange(T)
    lag = t[:, None] - t[None, :]
    w = np.where(lag >= 0, kernel[np.maximum(lag, 0)], np.float32(0))
    with torch.no_grad():
        neuron.weight.copy_(torch.from_numpy(w))
        neuron.threshold.fill_(s.threshold)
    return neuron


#: The optional third neuron: label (as in :data:`mfpsn.neurons.registry.NEURONS`) → lab-specific builder.
_EXTRA_BUILDERS = {"SlidingPSN": _sliding_psn, "PSN": _psn}


def _extra_trace(x: torch.Tensor, s: LabSettings, float_taps: np.ndarray):
    if s.extra not in _EXTRA_BUILDERS:
        raise ValueError(f"third neuron: expected one of {tuple(_EXTRA_BUILDERS)}, found {s.extra!r}")
    neuron = _EXTRA_BUILDERS[s.extra](x.shape[0], s, float_taps)
    neuron.eval()
    with torch.no_grad():
        return neuron.run(x)


def _reach(order: int, dilations: list[int]) -> list[list[int]]:
    from mfpsn.dilation import reachable_lags

    return [sorted(int(v) for v in reachable_lags(order, dilations[: l + 1])) for l in range(len(dilations))]


def _np_trace(trace, channel_count: int) -> tuple[np.ndarray, np.ndarray, float]:
    h = trace.h.detach().reshape(trace.h.shape[0], channel_count).numpy()
    sp = trace.spikes.detach().reshape(trace.spikes.shape[0], channel_count).numpy()
    th = float(trace.v_th.detach().reshape(-1)[0])
    return h, sp, th


def simulate(s: LabSettings, limits: Limits = LIMITS) -> LabResult:
    """Run the lab's neurons on the settings' input (CPU, float32, batch of one)."""
    notes: list[str] = []
    if s.upload:
        x = load_sequence(s.upload, limits, notes)
    else:
        x = generate_input(s.signal, s.T, s.channels, s.amplitude, s.period, s.rate, s.seed)
    T, C = x.shape
    check_budget("neuron lab", lab_cost(T, C, s.order, s.extra), limits.lab_max_work, "elements",
                 "lower T or the channels, or pick another third neuron than PSN (its T x T weight)")
    dilations = lab_dilations(s)
    d = dilations[-1]
    lags = filter_lags(s.order, d)
    taps, float_taps = lab_taps(s, lags, notes)
    xt = torch.from_numpy(x).reshape(T, 1, C)
    traces = {"MFPSN": _np_trace(_mfpsn_trace(xt, taps, s.threshold, s, d), C),
              "LIF": _np_trace(_lif_trace(xt, s), C)}
    if s.extra != "none":
        ft = float_taps if float_taps is not None else taps
        traces[s.extra] = _np_trace(_extra_trace(xt, s, ft), C)
    h = torch.from_numpy(traces["MFPSN"][0])
    grad = get_surrogate(s.surrogate, s.alpha).derivative(h - traces["MFPSN"][2]).numpy()
    return LabResult(x, taps, float_taps, lags, dilations, _reach(s.order, dilations), traces, grad, notes)


def _tap_label(v: float) -> str:
    if v == 0:
        return "0"
    sign, e = pow2_exponents(torch.tensor([v]))
    if 2.0 ** int(e) == abs(v):
        return f"{'+' if int(sign) > 0 else '−'}2^{int(e)}"
    return f"{v:.3g}"


def _ops_rows(s: LabSettings, T: int, C: int, d: int) -> dict[str, tuple[float, float, float, float]]:
    """(mul, shift, add, pJ) of C neurons over T steps. The published formulas assume k ≤ T; beyond that the
    exact count (taps inside the sequence) is used instead."""
    exact = s.order > T
    rows = {"MFPSN": neuron_ops("mfpsn", T, s.order, d, exact=exact),
            "LIF": neuron_ops("lif", T, soft_reset=s.lif_reset == "soft"),
            "SlidingPSN": neuron_ops("sliding_psn", T, s.order, exact=exact), "PSN": neuron_ops("psn", T)}
    return {n: (o.mul * C, o.shift * C, o.add * C, o.energy_pj * C) for n, o in rows.items()}


def lab_figures(s: LabSettings, r: LabResult, max_points: int = LIMITS.plot_max_points
                ) -> tuple[list[go.Figure], str]:
    """The six lab figures (input, membranes, rasters, kernel, receptive field, ops) and the summary; traces are
    thinned to ``max_points`` per line for the browser."""
    T, C = r.x.shape
    ch = min(s.channel, C - 1)
    t0, t1 = view_window(s, T)
    one = {n: (h[t0:t1, ch], sp[t0:t1, ch], th) for n, (h, sp, th) in r.traces.items()}
    lif_kernel = None
    if s.taps_from == "LIF kernel" or s.extra == "PSN":
        lif_kernel = lif_impulse_response(s.lif_tau, np.arange(max(r.lags) + 1))
    rows = _ops_rows(s, T, C, r.dilations[-1])
    figs = [fl.input_figure(r.x[t0:t1], ch, max_points, t0),
            fl.membrane_figure(one, ch, (s.surrogate, r.surrogate_grad[t0:t1, ch]), max_points, t0),
            fl.raster_figure({n: sp[t0:t1] for n, (h, sp, th) in r.traces.items()}, max_points, t0),
            fl.kernel_figure(r.lags, r.taps, [_tap_label(float(v)) for v in r.taps], r.float_taps, lif_kernel),
            fl.receptive_field_figure(s.order, r.dilations, r.reach),
            fl.ops_figure(rows, T, C)]
    mf, lif = rows["MFPSN"], rows["LIF"]
    taps_txt = ", ".join(f"{_tap_label(float(v))} @ lag {lag}" for v, lag in zip(r.taps, r.lags))
    exact = neuron_ops("mfpsn", T, s.order, r.dilations[-1], exact=True)
    rates = ", ".join(f"{n} {sp.mean() * 100:.1f} %" for n, (h, sp, th) in r.traces.items())
    md = (f"**MFPSN taps** (k = {s.order}, d = {r.dilations[-1]}): {taps_txt}  \n"
          f"**Firing rate** (spikes per step): {rates}  \n"
          f"**Cost per sequence** ({C} neuron(s), T = {T}, "
          f"{'exact counts: k > T' if s.order > T else 'published formulas'}): MFPSN {mf[1]:,.0f} shifts + "
          f"{mf[2]:,.0f} adds, {mf[3]:,.0f} pJ; LIF {lif[0]:,.0f} multiplies + {lif[2]:,.0f} adds, {lif[3]:,.0f} pJ "
          f"(MFPSN/LIF energy {mf[3] / lif[3]:.2f}×). With dilation the exact MFPSN count is "
          f"{exact.shift * C:,.0f} shifts. 45 nm estimates, not measured.")
    if (t0, t1) != (0, T):
        md += f"  \n**Shown:** steps {t0}–{t1 - 1} of {T} (input, membranes and rasters; the rates and costs are " \
              "for the whole sequence)"
    if r.notes:
        md += "\n\n" + "\n".join(f"⚠ {n}" for n in r.notes)
    return figs, md


def view_window(s: LabSettings, T: int) -> tuple[int, int]:
    """``[t0, t1)`` of the lab's time window on a run of ``T`` steps (``view_to`` 0 or past the end: to the end);
    ``gr.Error`` when it holds no step."""
    t1 = T if s.view_to <= 0 else min(int(s.view_to), T)
    t0 = int(s.view_from)
    if not 0 <= t0 < t1:
        raise gr.Error(f"time window: expected 0 <= from < to <= T = {T} (to 0: the end), found from {s.view_from}, "
                       f"to {s.view_to}")
    return t0, t1


_D = LabSettings()


def neuron_lab(signal: str = _D.signal, T: float = _D.T, channels: float = _D.channels,
               amplitude: float = _D.amplitude, period: float = _D.period, rate: float = _D.rate,
               seed: float = _D.seed, upload: str | None = None, order: float = _D.order,
               dilation_mode: str = _D.dilation_mode, dilation: float = _D.dilation, layer: float = _D.layer,
               taps_from: str = _D.taps_from, signs: str = _D.signs, exponents: str = _D.exponents,
               float_weights: str = _D.float_weights, quantize: bool = _D.quantize, threshold: float = _D.threshold,
               surrogate: str = _D.surrogate, alpha: float = _D.alpha, lif_tau: float = _D.lif_tau,
               lif_v_th: float = _D.lif_v_th, lif_reset: str = _D.lif_reset, extra: str = _D.extra,
               channel: float = _D.channel, view_from: float = _D.view_from, view_to: float = _D.view_to,
               limits: Limits = LIMITS) -> tuple:
    """The ``neuron_lab`` endpoint: validate every control, simulate, draw. Every setting defaults to
    :class:`LabSettings` (so a client may name only the ones it changes; ``upload`` is optional).

    Returns: (input, membranes, rasters, kernel, receptive field, ops) figures and the Markdown summary.
    Bad settings raise ``gr.Error`` naming the control; mismatched tap lists are fitted with a ``gr.Warning``.
    """
    s = LabSettings(
        signal=check_choice("signal", signal, SIGNALS),
        T=check_int("T (time steps)", T, 1, limits.lab_max_T),
        channels=check_int("channels", channels, 1, limits.lab_max_channels),
        amplitude=check_float("amplitude", amplitude, -1e3, 1e3),
        period=check_int("period", period, 1, limits.lab_max_T),
        rate=check_float("Poisson rate", rate, 0.0, 1.0),
        seed=check_int("seed", seed, 0, 2**31 - 1),
        upload=upload or None,
        order=check_int("order k", order, 1, limits.lab_max_order),
        dilation_mode=check_choice("dilation mode", dilation_mode, DILATION_MODES),
        dilation=check_int("dilation d", dilation, 1, limits.lab_max_dilation),
        layer=check_int("sawtooth layer", layer, 1, 12),
        taps_from=check_choice("taps from", taps_from, TAP_SOURCES),
        signs=str(signs or ""), exponents=str(exponents or ""), float_weights=str(float_weights or ""),
        quantize=bool(quantize),
        threshold=check_float("threshold θ", threshold, -1e3, 1e3),
        surrogate=check_choice("surrogate", surrogate, SURROGATE_NAMES),
        alpha=check_float("surrogate α", alpha, 1e-3, 100.0),
        lif_tau=check_float("LIF τ", lif_tau, 1.0001, 1e4),
        lif_v_th=check_float("LIF v_th", lif_v_th, -1e3, 1e3),
        lif_reset=check_choice("LIF reset", lif_reset, RESETS),
        extra=check_choice("third neuron", extra, EXTRAS),
        channel=check_int("channel to plot", channel, 0, limits.lab_max_channels - 1),
        view_from=check_int("show from step", view_from, 0, limits.lab_max_T),
        view_to=check_int("show to step", view_to, 0, limits.lab_max_T))
    result = simulate(s, limits)
    for note in result.notes:
        gr.Warning(note)
    figs, md = lab_figures(s, result, limits.plot_max_points)
    return (*figs, md)


def fit_tap_texts(order: float, signs: str, exponents: str, float_weights: str) -> tuple[str, str, str]:
    """Refit the three tap lists to a new order k (UI helper for the order slider).

    The newest taps are kept; new oldest taps continue the pattern: sign ``+``, an exponent one below the
    oldest one, a float weight half the oldest one. Unparsable text is returned unchanged (the lab reports it).
    """
    k = int(order)
    sg = [t for t in re.split(r"[\s,;]+", str(signs).strip()) if t]
    ex = [t for t in re.split(r"[\s,;]+", str(exponents).strip()) if t]
    fw = [t for t in re.split(r"[\s,;]+", str(float_weights).strip()) if t]
    try:
        e_int = [int(float(v)) for v in ex]
        f_val = [float(v) for v in fw]
    except ValueError:
        return signs, exponents, float_weights
    while len(sg) < k:
        sg.insert(0, "+")
    while len(e_int) < k:
        e_int.insert(0, (e_int[0] - 1) if e_int else 0)
    while len(f_val) < k:
        f_val.insert(0, round(f_val[0] / 2, 6) if f_val else 1.0)
    return " ".join(sg[-k:]), " ".join(str(max(e, _EXP_RANGE[0])) for e in e_int[-k:]), \
        ", ".join(f"{v:g}" for v in f_val[-k:])
