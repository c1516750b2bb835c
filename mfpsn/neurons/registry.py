"""The neuron registry: one :class:`NeuronRecord` per neuron kind, the one place a kind is described.

Everything that iterates neuron kinds reads a :class:`NeuronRegistry`: the networks
(:func:`mfpsn.models.neurons.build_neurons`), the train CLI (``--neuron`` choices), the per-epoch hooks of the
training loop (:func:`run_epoch_hooks`, e.g. MaskedPSN's λ annealing), the network op counter
(:func:`mfpsn.models.counting.count_network`) and the app's labels and colours. Adding a neuron is one module
(the ``nn.Module``) plus one record; a registry is immutable, so a test or a user extends a copy::

    registry = NEURONS.with_records(NeuronRecord("alif", ALIF, "ALIF", "#e377c2", build_alif, alif_ops))
    model = build_model({"arch": "shd_net", "neuron": "alif", ...}, registry=registry)

Every function that resolves a kind takes ``registry=NEURONS`` as a keyword; nothing is registered globally.
A module's record is found by its exact class (:meth:`NeuronRegistry.record_for`), never by its name.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable

from torch import nn

from mfpsn._registry import Registry
from mfpsn.energy import OpCount, neuron_ops
from mfpsn.neurons.lif import LIF, PLIF
from mfpsn.neurons.mfpsn import MFPSN
from mfpsn.neurons.psn import PSN, MaskedPSN, SlidingPSN

__all__ = ["NeuronConfig", "NeuronRecord", "NeuronRegistry", "NEURONS", "NEURON_KINDS", "run_epoch_hooks"]


@dataclass(frozen=True)
class NeuronConfig:
    """What a record's builder gets: one neuron layer for ``x: [T, B, channels, *]``.

    Attributes:
        channels: C (MFPSN's per-channel taps; the others ignore it).
        T: time steps (PSN and MaskedPSN size their T×T weight by it; the others accept any T).
        order: taps k (MFPSN, SlidingPSN, MaskedPSN). dilation: d (records with ``dilated=True``).
        options: constructor keywords passed on unchanged (e.g. ``{"quantize": False}``).
    """

    channels: int
    T: int
    order: int = 2
    dilation: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)


Builder = Callable[[NeuronConfig], nn.Module]
OpCounter = Callable[[nn.Module, int, bool], OpCount]
EpochHook = Callable[[nn.Module, int, int], None]


@dataclass(frozen=True)
class NeuronRecord:
    """One neuron kind.

    Attributes:
        kind: the name used in configs, checkpoints and ``--neuron`` (``"mfpsn"``).
        cls: the module class the builder returns (matched exactly by :meth:`NeuronRegistry.record_for`).
        label: display name (``"MFPSN"``). colour: plot colour (``"#d62728"``).
        build: ``NeuronConfig → nn.Module``.
        ops: ``(module, T, exact) → OpCount`` of ONE neuron over T steps (:mod:`mfpsn.energy` formulas).
        epoch_hook: ``(module, epoch, epochs) → None`` called before every training epoch, or None.
        dilated: True when the network's dilation schedule applies (MFPSN); others get d = 1.
        fixed_backend: ``device type → neuron options`` naming one fixed backend (``"cpu"``, ``"cuda"``) for runs
            that must reproduce a seed bit for bit (experiments): the fastest implementation that never changes
            with timing, as the neuron's own knob (``backend``); empty for neurons without a choice.
    """

    kind: str
    cls: type[nn.Module]
    label: str
    colour: str
    build: Builder
    ops: OpCounter
    epoch_hook: EpochHook | None = None
    dilated: bool = False
    fixed_backend: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def fixed_options(self, device: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``options`` with this neuron's fixed backend for ``device`` (``"cpu"``/``"cuda"``) added where the
        options name none (an explicit choice in ``options`` wins)."""
        return {**dict(self.fixed_backend.get(str(device), {})), **dict(options or {})}


class NeuronRegistry(Registry):
    """An immutable ``kind → NeuronRecord`` mapping, in the order the records were given."""

    record_type = NeuronRecord
    key = "kind"

    def __init__(self, records: Iterable[NeuronRecord]) -> None:
        classes: dict[type, str] = {}
        super().__init__(records)
        for r in self._records.values():
            if r.cls in classes:
                raise ValueError(f"NeuronRegistry: class {r.cls.__name__} given for {classes[r.cls]!r} and {r.kind!r}")
            classes[r.cls] = r.kind
        self._by_class = MappingProxyType(classes)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The registered kinds, in order."""
        return tuple(self._records)

    def record(self, kind: str) -> NeuronRecord:
        """The record of ``kind``; ValueError naming the registered kinds otherwise."""
        if kind not in self._records:
            raise ValueError(f"neuron: expected one of {self.kinds}, found {kind!r}")
        return self._records[kind]

    def record_for(self, module: nn.Module) -> NeuronRecord | None:
        """The record whose ``cls`` is exactly ``type(module)``, or None."""
        kind = self._by_class.get(type(module))
        return None if kind is None else self._records[kind]

    def build(self, kind: str, config: NeuronConfig) -> nn.Module:
        """One neuron layer of ``kind`` (ValueError for an unknown kind)."""
        return self.record(kind).build(config)



def run_epoch_hooks(model: nn.Module, epoch: int, epochs: int, registry: NeuronRegistry | None = None) -> int:
    """Call the ``epoch_hook`` of every registered neuron in ``model`` for ``epoch`` (0-based) of ``epochs``;
    returns how many modules were called (MaskedPSN: λ = min(1, 8·epoch / (epochs − 1)))."""
    registry = NEURONS if registry is None else registry
    n = 0
    for module in model.modules():
        rec = registry.record_for(module)
        if rec is not None and rec.epoch_hook is not None:
            rec.epoch_hook(module, epoch, epochs)
            n += 1
    return n


# ----------------------------------------------------------------------------------------------- the records
def _lif_ops(m: nn.Module, T: int, exact: bool) -> OpCount:
    return neuron_ops("lif", T, soft_reset=m.v_reset is None)


def _anneal_lambda(m: MaskedPSN, epoch: int, epochs: int) -> None:
    m.set_lambda(epoch, epochs)


# the fused C++ filter on a CPU, the Triton kernels on a GPU (neither picks by timing)
_FILTER_FIXED = MappingProxyType({"cpu": {"backend": "fused"}, "cuda": {"backend": "triton"}})

_RECORDS = (
    NeuronRecord("mfpsn", MFPSN, "MFPSN", "#d62728",
                 build=lambda c: MFPSN(c.channels, order=c.order, dilation=c.dilation, **c.options),
                 ops=lambda m, T, exact: neuron_ops("mfpsn", T, m.order, m.dilation, exact=exact), dilated=True,
                 fixed_backend=_FILTER_FIXED),
    NeuronRecord("lif", LIF, "LIF", "#1f77b4", build=lambda c: LIF(**c.options), ops=_lif_ops,
                 fixed_backend=MappingProxyType({"cpu": {"backend": "fused"}, "cuda": {"backend": "triton"}})),
    NeuronRecord("plif", PLIF, "PLIF", "#17becf", build=lambda c: PLIF(**c.options), ops=_lif_ops,
                 fixed_backend=MappingProxyType({"cpu": {"backend": "fused"}, "cuda": {"backend": "loop"}})),
    NeuronRecord("psn", PSN, "PSN", "#9467bd", build=lambda c: PSN(c.T, **c.options),
                 ops=lambda m, T, exact: neuron_ops("psn", T)),
    NeuronRecord("masked_psn", MaskedPSN, "MaskedPSN", "#8c564b",
                 build=lambda c: MaskedPSN(c.order, c.T, **c.options),
                 ops=lambda m, T, exact: neuron_ops("psn", T), epoch_hook=_anneal_lambda),
    NeuronRecord("sliding_psn", SlidingPSN, "SlidingPSN", "#2ca02c",
                 build=lambda c: SlidingPSN(c.order, **c.options),
                 ops=lambda m, T, exact: neuron_ops("sliding_psn", T, m.order, exact=exact), fixed_backend=_FILTER_FIXED),
)

#: The package's neurons. Immutable; extend a copy with :meth:`NeuronRegistry.with_records`.
NEURONS = NeuronRegistry(_RECORDS)
#: The kinds of :data:`NEURONS` (backward-compatible tuple).
NEURON_KINDS = NEURONS.kinds
