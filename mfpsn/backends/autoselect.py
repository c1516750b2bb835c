"""Autoselect of the temporal-filter implementation (the paper's Alg. 1, per call shape).

For a new key (op, shape, device, dtype, k, d, grad) every candidate that can run on the device is timed:
forward, plus a backward with a random upstream gradient when the call needs gradients. A large input is timed
on a slice of its batch (at most :data:`SLICE_MAX` values, every channel and every time step kept, so the
per-column work of each candidate is the real one), which bounds what the first call on a new shape costs; the choice is cached for the full key.
Cost model: from :data:`ONE_PASS_MIN` values on, when a one-pass fused kernel (``fused`` on the CPU, ``triton``
on CUDA) can run, it is chosen without timing anything (reading x once and writing h once beats the k passes or
the permute copies of the others there; timing them on a slice was noise-dominated on a loaded machine and cost
seconds; on the 2-core EPYC at stop 15 the timed fused CPU filter+backward won by 5.9–9× at 262,144 values and by
2.6–3× at 2,048, while timing the losers made a fresh process's first step at T = 256, N = 1,024 take about
150 ms against 2.5 ms steady), recorded as ``Choice(rule="cost model")``. ``op`` is
``"filter"`` (:func:`~mfpsn.backends.temporal_filter`) or ``"spikes"``
(:func:`~mfpsn.backends.temporal_filter_spikes`, forward only: filter, threshold and spike). Each is run
``2m + 1`` times and the last ``m`` are summarised. The paper's rule is the mean with ``m = 1``; the defaults
here are ``m = 3`` and the minimum (``stat="min"``): on a shared machine a single sample measures the background
load as much as the candidate (we saw one pick ``conv1d`` over a kernel ten times faster), and the minimum
estimates the undisturbed time. ``AutoSelector(m=1, stat="mean")`` restores the paper's rule. A candidate whose
first two runs both take more than ``prune`` times the best summary so far is not run again (it cannot win; the
faster of the two is reported and its name listed in ``Choice.pruned``), which keeps the first call on a new shape
affordable; the fused kernels are timed first so that the bound is set early, and one run alone never prunes.
The fastest is cached and used from then on; :meth:`AutoSelector.report` says which implementation each key
chose and the times.

Candidates come from the backend registry (:data:`mfpsn.backends.registry.BACKENDS`): every record that
implements the op, lists the device type in ``auto_devices``, is ``available`` for x (within its memory bound:
``toeplitz`` only while C·T² is small) and ``ready``; one-pass records first. With the package's records:
``conv1d``, ``shift_add``, ``blocked``, ``toeplitz``, ``fused`` (CPU, float32 or float64, once
:func:`mfpsn.functional.fused_cpu.ready` says its library is loaded) and ``triton`` (CUDA with triton
installed). Fast by default: on the first call that could use a record with ``prepare`` (the fused CPU kernel),
:meth:`AutoSelector.choose` builds and loads it (:func:`mfpsn.functional.fused_cpu.prepare_for_auto`: once per
machine, a few seconds, with a one-line notice; loading a verified build afterwards takes milliseconds); a
machine without a compiler gets one warning and the other candidates.

Under ``torch.compile`` nothing is timed: inside a trace ``choose`` returns a cached choice for the key if there
is one, else the deterministic :func:`static_choice` (the first one-pass record usable on the device: ``fused``
on the CPU, ``triton`` on CUDA with Triton; else ``shift_add``), evaluated once at trace time as a constant.

The cache lives in an :class:`AutoSelector` object. ``DEFAULT_SELECTOR`` is the one the dispatcher
(:mod:`mfpsn.backends.dispatch`) uses for ``backend="auto"``; modules and tests may create their own to keep
choices separate.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import torch

from mfpsn.functional.surrogate import ATan
from mfpsn.timer import elapsed_ms

from mfpsn.backends.registry import BACKENDS, BackendRecord, BackendRegistry

__all__ = ["AutoSelector", "Choice", "candidates_for", "static_choice", "timing_slice", "DEFAULT_SELECTOR",
           "SLICE_MAX", "STATIC_FALLBACK"]

SLICE_MAX = 1 << 18     # values: larger inputs are timed on a batch slice of about this size
ONE_PASS_MIN = 1 << 16  # values: from here on a one-pass fused kernel is chosen without timing (cost model)
STATIC_FALLBACK = "shift_add"  # the choice inside a trace when no one-pass kernel can run
_ANY_SURROGATE = ATan()          # the spike form is timed without a gradient, where every surrogate is Θ


def _usable(r: BackendRecord, op: str, x: torch.Tensor) -> bool:
    return r.implements(op) and x.device.type in r.auto_devices and r.reason(x) is None


def prepare(x: torch.Tensor, op: str = "filter", backends: BackendRegistry = BACKENDS) -> None:
    """Build or load (once per machine, one notice) every record ``auto`` could use on x that has a
    ``prepare``: what makes the default path the fast one without a warmup call."""
    for r in backends.values():
        if r.prepare is not None and _usable(r, op, x):
            r.prepare()


def candidates_for(x: torch.Tensor, taps: torch.Tensor, op: str = "filter",
                   backends: BackendRegistry = BACKENDS) -> list[str]:
    """Records worth timing for this input (never one with empty ``auto_devices``, such as the float64
    reference), the one-pass kernels first: the expected winners set the pruning bound early, so slow
    candidates cost two runs, not 2m + 1. Next to a one-pass kernel, a record is timed only where its
    ``worth_timing(T, k)`` holds (``toeplitz``: T <= 4k)."""
    T, k = x.shape[0], taps.shape[1]
    usable = [r for r in backends.values() if _usable(r, op, x) and r.ready()]
    one_pass = [r for r in usable if r.one_pass]
    rest = [r for r in usable if not r.one_pass and (not one_pass or r.worth_timing(T, k))]
    return [r.name for r in one_pass + rest]


def static_choice(device_type: str, dtype: torch.dtype) -> str:
    """The choice without timing (inside a ``torch.compile`` trace): the first one-pass record of
    :data:`BACKENDS` that can run on this device and dtype (``fused`` on the CPU, built on first need;
    ``triton`` on CUDA with Triton), else :data:`STATIC_FALLBACK`."""
    probe = torch.empty(1, 1, 1, dtype=dtype, device=device_type)
    for r in BACKENDS.values():
        if r.one_pass and _usable(r, "filter", probe) and (r.prepare() if r.prepare is not None else r.ready()):
            return r.name
    return STATIC_FALLBACK


# What torch.compiler.assume_constant_result does (dynamo calls the function at trace time and keeps the result as
# a constant), set by hand: calling that decorator here imports torch._dynamo with mfpsn, which later breaks the
# Triton interpreter in the same process. test_auto_never_times_inside_a_compile_trace checks it still holds.
static_choice._dynamo_marked_constant = True  # type: ignore[attr-defined]


def timing_slice(x: torch.Tensor) -> torch.Tensor:
    """x itself when it holds at most :data:`SLICE_MAX` values (or B = 1), else a contiguous copy of its first
    b batch entries, b = max(1, SLICE_MAX // (T·C·Π*)). x: [T, B, C, *] → [T, b, C, *]."""
    B = x.shape[1]
    per_b = x.numel() // max(B, 1)
    if x.numel() <= SLICE_MAX or B == 1:
        return x
    return x[:, : max(1, SLICE_MAX // max(per_b, 1))].contiguous()


@dataclass(frozen=True)
class Choice:
    """What the selector decided for one key: the winner and each candidate's time in ms (the ``stat`` of its
    last m runs; for a candidate listed in ``pruned``, the faster of its first two runs), and the shape the
    candidates were timed on (a batch slice of a large input)."""

    backend: str
    times_ms: dict[str, float]
    pruned: tuple[str, ...] = ()
    timed_shape: tuple[int, ...] | None = None
    rule: str = "timed"     # "timed", or "cost model" (a one-pass kernel on a large input, nothing timed)


@dataclass
class AutoSelector:
    """Times candidates once per key and caches the fastest.

    Args:
        m: each candidate runs 2m + 1 times; the last m are summarised.
        stat: ``"min"`` (default) or ``"mean"`` (the paper's) of those m times.
        prune: stop timing a candidate whose first two runs both exceed ``prune`` × the best summary so far
            (None: time every candidate fully).
    """

    m: int = 3
    stat: str = "min"
    prune: float | None = 4.0
    _cache: dict[tuple, Choice] = field(default_factory=dict)
    # one timing at a time: concurrent callers (the app serves requests in parallel) would disturb each other's
    # measurements; re-entrant so a candidate may itself call temporal_filter
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.m, bool) or not isinstance(self.m, int) or self.m < 1:
            raise ValueError(f"AutoSelector: expected an int m >= 1, found {self.m!r}")
        if self.stat not in ("min", "mean"):
            raise ValueError(f"AutoSelector: expected stat 'min' or 'mean', found {self.stat!r}")
        if self.prune is not None and not self.prune >= 1:
            raise ValueError(f"AutoSelector: expected prune >= 1 or None, found {self.prune!r}")

    @staticmethod
    def key(x: torch.Tensor, taps: torch.Tensor, dilation: int, grad: bool, op: str = "filter") -> tuple:
        return (op, tuple(x.shape), str(x.device), str(x.dtype), int(taps.shape[1]), int(dilation), bool(grad))

    def _time(self, backend: str, x: torch.Tensor, taps: torch.Tensor, dilation: int, grad: bool, op: str,
              bound_ms: float | None = None, backends: BackendRegistry = BACKENDS) -> float:
        """Min (or mean) of the last m of 2m + 1 runs, in ms (with ``grad``: the forward and the backward of the
        scalar ⟨h, g⟩); the faster of the first two runs when both exceed ``bound_ms``."""
        r = backends[backend]
        xs = x.detach().requires_grad_(grad)
        ws = taps.detach().requires_grad_(grad)
        upstream = torch.randn_like(xs) if grad else None
        theta = torch.zeros(x.shape[2], dtype=x.dtype, device=x.device)
        def call() -> None:
            if op == "spikes":
                with torch.no_grad():
                    r.ops["spikes"](xs, ws, theta, dilation, _ANY_SURROGATE)
            elif grad:   # through the scalar <h, g>, as loss.backward() in a training step: the same multiply and
                h = r.ops["filter"](xs, ws, dilation)   # sum for every candidate, and no backward(gradient) call,
                (h * upstream).sum().backward()         # whose first use makes torch import sympy (about 0.5 s)
                xs.grad = ws.grad = None
            else:
                with torch.no_grad():
                    r.ops["filter"](xs, ws, dilation)

        times = []
        for _ in range(2 * self.m + 1):
            times.append(elapsed_ms(call, x.device))
            if bound_ms is not None and len(times) == 2 and min(times) > bound_ms:
                return min(times)
        last = times[-self.m:]
        return min(last) if self.stat == "min" else sum(last) / self.m

    def choose(self, x: torch.Tensor, taps: torch.Tensor, dilation: int, op: str = "filter",
               backends: BackendRegistry = BACKENDS) -> str:
        """Name of the fastest backend for this call (timed on first sight of its key).

        op: ``"filter"`` (h, with a backward when a gradient is needed) or ``"spikes"`` (Θ(h − θ), forward only).
        """
        if op not in ("filter", "spikes"):
            raise ValueError(f"AutoSelector.choose: expected op 'filter' or 'spikes', found {op!r}")
        grad = op == "filter" and torch.is_grad_enabled() and (x.requires_grad or taps.requires_grad)
        if torch.compiler.is_compiling():  # never time inside a trace
            return static_choice(x.device.type, x.dtype)
        k = self.key(x, taps, dilation, grad, op)
        if k in self._cache:
            return self._cache[k].backend
        with self._lock:
            if k in self._cache:  # another thread timed it while this one waited
                return self._cache[k].backend
            prepare(x, op, backends)
            names = candidates_for(x, taps, op=op, backends=backends)
            if not names:
                raise RuntimeError(f"backend='auto': no backend can run op {op!r} on x {tuple(x.shape)} {x.dtype} "
                                   f"on {x.device}")
            if backends[names[0]].one_pass and x.numel() >= ONE_PASS_MIN:
                self._cache[k] = Choice(names[0], {}, rule="cost model")
                return names[0]
            xs = timing_slice(x)
            times: dict[str, float] = {}
            pruned = []
            for name in candidates_for(xs, taps, op=op, backends=backends):
                best = min(times.values(), default=None)
                bound = None if self.prune is None or best is None else self.prune * best
                times[name] = self._time(name, xs, taps, dilation, grad, op, bound, backends)
                if bound is not None and times[name] > bound:
                    pruned.append(name)
            self._cache[k] = Choice(min(times, key=times.get), times, tuple(pruned), tuple(xs.shape))
        return self._cache[k].backend

    def report(self) -> dict[tuple, Choice]:
        """Every key seen so far and its choice: {(op, shape, device, dtype, k, d, grad): Choice}."""
        return dict(self._cache)

    def clear(self) -> None:
        self._cache.clear()


DEFAULT_SELECTOR = AutoSelector()
