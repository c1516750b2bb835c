"""The backend registry: one :class:`BackendRecord` per execution path of the fast ops, the one place a backend
is described.

Everything that chooses how an op runs reads a :class:`BackendRegistry`: the dispatcher
(:mod:`mfpsn.backends.dispatch`, called by every neuron), ``"auto"`` (:mod:`mfpsn.backends.autoselect`: which
records it may time, in which order, with which memory bound), the ``backend=`` knob of every neuron (its
``supported_backends``, from :meth:`BackendRegistry.names_for`: the filter's for MFPSN and SlidingPSN, the LIF
loop's for LIF and PLIF) and the benchmark.
Adding a backend is its op functions plus one record; a registry is immutable, so a test or a user extends a
copy and passes it on::

    backends = BACKENDS.with_records(BackendRecord("toy", {"filter": toy_filter}))
    h = temporal_filter(x, taps, 2, backend="toy", backends=backends)

Every dispatching function takes ``backends=BACKENDS`` as a keyword; nothing is registered globally.

Ops (:data:`OPS`) and their calling conventions (``x: [T, B, C, *]``, ``taps: [C, k]``, ``theta: [C]``):

- ``"filter"``: ``(x, taps, d) → h [T, B, C, *]``, differentiable in x and taps;
- ``"spikes"``: ``(x, taps, theta, d, surrogate) → S = Θ(filter(x, taps) − θ)`` (filter + threshold + spike),
  differentiable through ``surrogate`` when an input needs a gradient, exactly Θ otherwise;
- ``"moments"``: ``(x, order, d) → (m [C, k], M [C, k, k])`` float64 lagged moments (the BN statistics of
  MFPSN's ``stats="moments"``);
- ``"layer"``: ``(x, weight, bn_weight, bn_bias, d, eps, surrogate, quantize, exp_min, exp_max, ste, bn_grad) →
  (spikes, W_q, θ, μ_B, σ²_B)``: MFPSN's whole training forward (batch statistics, fold, quantizer, spikes) in one
  autograd node, Y and H never written (the fused CPU training layer, :mod:`mfpsn.functional.mfpsn_train_cpu`);
- ``"fold"``: ``(weight, bn_weight, bn_bias, mean, var, eps, quantize, exp_min, exp_max, ste) → (W_q, θ)``, the
  values of :func:`mfpsn.functional.fold.fold_taps_fused` bit for bit (MFPSN's eval fold from the running
  statistics); a backend without it uses that torch fold (the fused CPU record: the C++ fold glue,
  :func:`mfpsn.functional.mfpsn_train_cpu.fused_fold`);
- ``"lif"``: ``(x, rate, v_th, v_reset, detach_reset, surrogate, decay_input) → spikes`` (the LIF time loop).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

import torch

from mfpsn._registry import Registry
from mfpsn.backends import adaptors as a
from mfpsn.functional import filter as f
from mfpsn.functional import fused_cpu, mfpsn_train_cpu
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid

__all__ = ["OPS", "TOEPLITZ_MAX", "BackendRecord", "BackendRegistry", "BACKENDS", "FILTER_BACKENDS", "LIF_BACKENDS"]

OPS = ("filter", "spikes", "moments", "layer", "fold", "lif")
TOEPLITZ_MAX = 1 << 26  # C·T² values: beyond that the banded matrices alone cost too much memory


def _anywhere(x: torch.Tensor) -> str | None:
    return None


def _always() -> bool:
    return True


def _worth_timing(T: int, k: int) -> bool:
    return True


@dataclass(frozen=True)
class BackendRecord:
    """One backend.

    Attributes:
        name: the value of the knob (``MFPSN(backend="fused")``, ``LIF(backend="fused")``).
        ops: op name (one of :data:`OPS`) → function in that op's calling convention.
        available: ``x → None`` when the backend can run on x, else the reason (named backends raise it).
        auto_devices: device types on which ``"auto"`` may pick it (empty: never, e.g. the float64 reference).
        one_pass: reads x once and writes the output once (a fused kernel); ``auto`` times these first and takes
            them without timing on large inputs.
        ready: ``() → bool``, True once it can run without a build (``auto`` times it only then).
        prepare: ``() → bool``, build or load it for ``auto`` (once per machine, one notice), or None.
        warmup: ``() → None``, build and load every library it uses now, RuntimeError with the reason when it
            cannot (the benchmark reports that reason); None: nothing to build.
        install_hint: what to install when ``ready()`` is False (``"pip install triton"``).
        memory_bound: the largest C·T² it may allocate (None: O(x)); ``available`` refuses beyond it.
        worth_timing: ``(T, k) → bool``: whether ``auto`` times it next to a one-pass kernel (its cost model).
        surrogates: the surrogate classes its ``"layer"``/``"lif"`` kernels implement (None: any).
        features: LIF options it implements: ``"learnable_rate"`` (PLIF), ``"no_decay_input"``.
    """

    name: str
    ops: Mapping[str, Callable]
    available: Callable[[torch.Tensor], str | None] = _anywhere
    auto_devices: tuple[str, ...] = ("cpu", "cuda")
    one_pass: bool = False
    ready: Callable[[], bool] = _always
    prepare: Callable[[], bool] | None = None
    warmup: Callable[[], None] | None = None
    install_hint: str | None = None
    memory_bound: int | None = None
    worth_timing: Callable[[int, int], bool] = _worth_timing
    surrogates: tuple[type, ...] | None = None
    features: frozenset[str] = field(default_factory=frozenset)

    def implements(self, op: str) -> bool:
        return op in self.ops

    def reason(self, x: torch.Tensor) -> str | None:
        """Why it cannot run on x (its ``available`` answer, then its memory bound), or None."""
        why = self.available(x)
        if why is None and self.memory_bound is not None:
            T, C = x.shape[0], x.shape[2]
            if C * T * T > self.memory_bound:
                why = f"needs C·T² = {C * T * T} matrix entries, more than its bound {self.memory_bound}"
        return why


class BackendRegistry(Registry):
    """An immutable ``name → BackendRecord`` mapping, in the order the records were given (``auto`` times
    candidates in this order, one-pass kernels first; ``with_records`` extends a copy)."""

    record_type = BackendRecord
    key = "name"

    def _check(self, r: BackendRecord) -> None:
        if r.name == "auto":
            raise ValueError("BackendRegistry: the name 'auto' is reserved (the selector)")
        unknown = set(r.ops) - set(OPS)
        if unknown:
            raise ValueError(f"BackendRegistry: {r.name!r} names unknown ops {sorted(unknown)}; ops are {OPS}")

    def names_for(self, op: str, feature: str | None = None) -> tuple[str, ...]:
        """The backends implementing ``op`` (and ``feature``, when given), in order."""
        return tuple(r.name for r in self._records.values()
                     if r.implements(op) and (feature is None or feature in r.features))

    def record(self, name: str, op: str, knob: str = "backend") -> BackendRecord:
        """The record of ``name`` implementing ``op``; ValueError naming the choices otherwise."""
        r = self._records.get(name)
        if r is None or not r.implements(op):
            raise ValueError(f"expected {knob} in {self.names_for(op) + ('auto',)} for op {op!r}, found {name!r}")
        return r


# ----------------------------------------------------------------------------------------------- the records
def _eager(filt: Callable) -> dict[str, Callable]:
    return {"filter": filt, "spikes": a.filter_spikes(filt), "moments": a.eager_moments}


_FUSED_SURROGATES = (ATan, Sigmoid, Rational)
_LIF_OPTIONS = frozenset({"learnable_rate", "no_decay_input"})

_RECORDS = (
    BackendRecord("reference", _eager(f.temporal_filter_ref), auto_devices=()),
    BackendRecord("conv1d", _eager(f.filter_conv1d)),
    BackendRecord("shift_add", _eager(f.filter_shift_add)),
    BackendRecord("toeplitz", _eager(f.filter_toeplitz), memory_bound=TOEPLITZ_MAX,
                  worth_timing=lambda T, k: T <= 4 * k),   # T multiply-adds per output where a filter does k
    BackendRecord("blocked", _eager(f.filter_blocked)),
    BackendRecord("fused", {"filter": f.filter_fused, "spikes": a.fused_spikes, "moments": a.eager_moments,
                            "layer": mfpsn_train_cpu.fused_train_layer, "fold": mfpsn_train_cpu.fused_fold,
                            "lif": a.fused_lif},
                  available=a.fused_available, auto_devices=("cpu",), one_pass=True,
                  ready=lambda: fused_cpu.ready(), prepare=lambda: fused_cpu.prepare_for_auto(), warmup=a.fused_warmup,
                  surrogates=_FUSED_SURROGATES, features=_LIF_OPTIONS),
    BackendRecord("triton", {"filter": a.triton_filter, "spikes": a.triton_spikes, "moments": a.triton_moments,
                             "lif": a.triton_lif},
                  available=a.triton_available_for, auto_devices=("cuda",), one_pass=True,
                  ready=a.triton_ready, install_hint="pip install triton"),
    BackendRecord("loop", {"lif": a.loop_lif}, features=_LIF_OPTIONS),
)

#: The package's backends. Immutable; extend a copy with :meth:`BackendRegistry.with_records`.
BACKENDS = BackendRegistry(_RECORDS)
#: The ``backend=`` choices of the temporal filter (backward-compatible tuple, ``"auto"`` last).
FILTER_BACKENDS = BACKENDS.names_for("filter") + ("auto",)
#: The ``backend=`` choices of LIF.
LIF_BACKENDS = BACKENDS.names_for("lif")
