"""The dispatcher: the one place a backend name (the ``backend=`` knob of every neuron and op) becomes a function call.

Every neuron and the benchmark call these functions; each takes ``backends=BACKENDS`` (the registry,
:mod:`mfpsn.backends.registry`) as a keyword. A named backend runs or raises: ValueError for a name that does
not implement the op, RuntimeError with the record's reason when it cannot run on this input (never a silent
fallback). ``"auto"`` selects per op: the temporal filter and its spike form are timed once per key by
:data:`mfpsn.backends.autoselect.DEFAULT_SELECTOR`; the LIF loop takes the first one-pass record that can run
(see :func:`resolve_lif`).

Shapes: ``x: [T, B, C, *]`` float (time-first, channel dim 2), ``taps: [C, k]``, ``theta: [C]``.
"""
from __future__ import annotations

import torch

from mfpsn.backends import autoselect
from mfpsn.backends.registry import BACKENDS, BackendRecord, BackendRegistry
from mfpsn.functional.filter import check_filter_args
from mfpsn.functional.surrogate import ATan, Surrogate

__all__ = ["resolve", "resolve_filter", "resolve_lif", "check_lif_options", "temporal_filter",
           "temporal_filter_spikes", "check_theta", "lif_spikes"]


def resolve(name: str, op: str, x: torch.Tensor, backends: BackendRegistry = BACKENDS, knob: str = "backend",
            where: str = "temporal_filter") -> BackendRecord:
    """The record of the named backend for ``op``, checked against x (``name`` not ``"auto"``).

    Raises:
        ValueError: no such backend, or it does not implement ``op``.
        RuntimeError: ``"{where} {knob}='{name}' {reason}"`` when it cannot run on x.
    """
    r = backends.record(name, op, knob)
    why = r.reason(x)
    if why is not None:
        raise RuntimeError(f"{where} {knob}={name!r} {why}")
    return r


def resolve_filter(backend: str, x: torch.Tensor, taps: torch.Tensor, dilation: int, op: str = "filter",
                   backends: BackendRegistry = BACKENDS) -> BackendRecord:
    """The record that runs ``op`` ("filter" or "spikes") for ``backend`` (``"auto"``: the selector's choice)."""
    if backend == "auto":
        backend = autoselect.DEFAULT_SELECTOR.choose(x, taps, dilation, op=op, backends=backends)
    return resolve(backend, op, x, backends)


def temporal_filter(x: torch.Tensor, taps: torch.Tensor, dilation: int = 1, backend: str = "auto", *,
                    backends: BackendRegistry = BACKENDS) -> torch.Tensor:
    """h[t, b, c] = Σ_i taps[c, i] · x[t − (k−1−i)·d, b, c] (zero before t = 0); the maths and the
    implementations are in :mod:`mfpsn.functional.filter`.

    Args:
        x: [T, B, C, *] floating point (time-first, channel dim 2).
        taps: [C, k] floating point; ``taps[:, k−1]`` weighs the current input.
        dilation: d >= 1, spacing between taps.
        backend: a backend implementing ``"filter"`` (:data:`mfpsn.backends.FILTER_BACKENDS`), or ``"auto"``; ask
            :data:`mfpsn.backends.autoselect.DEFAULT_SELECTOR` ``.report()`` which one ``auto`` ran.
    Returns:
        h: [T, B, C, *] in the dtype of x; differentiable in x and taps.
    """
    check_filter_args(x, taps, dilation)
    return resolve_filter(backend, x, taps, dilation, backends=backends).ops["filter"](x, taps, dilation)


def check_theta(x: torch.Tensor, theta: torch.Tensor) -> None:
    """Raise ValueError unless ``theta`` is a float [C] tensor for the C channels of ``x: [T, B, C, *]``."""
    if not isinstance(theta, torch.Tensor) or theta.dim() != 1 or theta.shape[0] != x.shape[2]:
        found = tuple(theta.shape) if isinstance(theta, torch.Tensor) else type(theta).__name__
        raise ValueError(f"temporal_filter_spikes: expected theta of shape [{x.shape[2]}] (one per channel), "
                         f"found {found}")
    if not theta.is_floating_point():
        raise ValueError(f"temporal_filter_spikes: expected a floating-point theta, found {theta.dtype}")


_ANY_SURROGATE = ATan()  # without a gradient every surrogate spikes as Θ


def temporal_filter_spikes(x: torch.Tensor, taps: torch.Tensor, theta: torch.Tensor, dilation: int = 1,
                           backend: str = "auto", *, backends: BackendRegistry = BACKENDS) -> torch.Tensor:
    """Inference form: ``S[t, b, c] = Θ(h[t, b, c] − θ[c])`` with h = :func:`temporal_filter` (Θ(0) = 1).

    Args:
        x: [T, B, C, *] floating point; taps: [C, k]; theta: θ [C]; dilation: d >= 1.
        backend: a backend's name: ``"fused"`` runs filter, threshold and spike in one pass; a backend with only a
            filter computes h, then compares; ``"auto"`` times the candidates once per key (the spike form has
            its own cache entries, ``op="spikes"``).
    Returns:
        spikes: [T, B, C, *] in the dtype of x, exactly 0 or 1, without gradient (use :func:`temporal_filter`
        and a surrogate to train).
    Raises:
        ValueError: bad shapes or dtypes, or a gradient is required (an input requires grad while grad mode is
        on): this function would silently cut it.
    """
    check_filter_args(x, taps, dilation)
    check_theta(x, theta)
    if torch.is_grad_enabled() and (x.requires_grad or taps.requires_grad or theta.requires_grad):
        raise ValueError("temporal_filter_spikes: expected no gradient (inference only), found inputs that "
                         "require grad with grad mode on; use torch.no_grad() or temporal_filter + a surrogate")
    r = resolve_filter(backend, x, taps, dilation, op="spikes", backends=backends)
    with torch.no_grad():
        return r.ops["spikes"](x, taps, theta, dilation, _ANY_SURROGATE)


# ------------------------------------------------------------------------------------------ LIF
def _surrogate_names(classes: tuple[type, ...]) -> str:
    names = [c.__name__ for c in classes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_lif_options(backend: str, surrogate: Surrogate, decay_input: bool, learnable_rate: bool, who: str,
                      backends: BackendRegistry = BACKENDS) -> None:
    """ValueError unless ``backend`` (or ``"auto"``) implements ``"lif"`` with these options: what LIF and
    PLIF check at construction."""
    feature = "learnable_rate" if learnable_rate else None
    choices = backends.names_for("lif", feature) + ("auto",)
    if backend not in choices:
        raise ValueError(f"{who}: expected backend in {choices}, found {backend!r}")
    if backend == "auto":
        return
    r = backends[backend]
    if not decay_input and "no_decay_input" not in r.features:
        raise ValueError(f"{who}: backend {backend!r} implements decay_input=True only, found decay_input=False")
    if r.surrogates is not None and type(surrogate) not in r.surrogates:
        raise ValueError(f"{who}(backend={backend!r}): the kernel implements the surrogates "
                         f"{_surrogate_names(r.surrogates)}, found {surrogate!r}; use backend='loop'")


def resolve_lif(backend: str, x: torch.Tensor, surrogate: Surrogate, decay_input: bool, learnable_rate: bool,
                who: str, backends: BackendRegistry = BACKENDS) -> BackendRecord:
    """The record that runs the LIF loop. ``"auto"``: the first one-pass record (registry order) usable on x
    with these options (built on first need), else the first other one; nothing is timed."""
    if backend != "auto":
        return resolve(backend, "lif", x, backends, knob="backend", where=who)
    fits = [r for r in backends.values() if r.implements("lif") and x.device.type in r.auto_devices
            and r.reason(x) is None and (decay_input or "no_decay_input" in r.features)
            and (not learnable_rate or "learnable_rate" in r.features)
            and (r.surrogates is None or type(surrogate) in r.surrogates)]
    for r in sorted(fits, key=lambda r: not r.one_pass):
        if r.prepare() if r.prepare is not None else r.ready():
            return r
    raise RuntimeError(f"{who}(backend='auto'): no backend can run the LIF loop on x {tuple(x.shape)} "
                       f"{x.dtype} on {x.device}")


def lif_spikes(x: torch.Tensor, backend: str, rate, v_th: float, v_reset: float | None, detach_reset: bool,
               surrogate: Surrogate, decay_input: bool, who: str = "LIF",
               backends: BackendRegistry = BACKENDS) -> torch.Tensor:
    """The LIF time loop on the named backend: x: [T, B, C, *] → spikes [T, B, C, *] (differentiable)."""
    learnable = isinstance(rate, torch.Tensor)
    r = resolve_lif(backend, x, surrogate, decay_input, learnable, who, backends)
    return r.ops["lif"](x, rate, v_th, v_reset, detach_reset, surrogate, decay_input)
