"""Operation and energy count of a whole network on one input batch (paper Table 6; formulas in
:mod:`mfpsn.energy`).

Neuron layers are found through the neuron registry (:mod:`mfpsn.neurons.registry`, exact class): each
record's ``ops`` gives the count of one neuron, scaled by the per-sample, per-step size of the layer's input. A
module that has a ``run`` method (the neuron contract) but no record raises ``ValueError`` instead of being
skipped. Synaptic layers are ``nn.Linear`` and ``nn.Conv1d/2d/3d``, taken in call order.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Mapping

import torch
from torch import nn

from mfpsn.energy import OpCount, synaptic_energy_pj
from mfpsn.neurons.registry import NEURONS, NeuronRegistry

__all__ = ["NetworkCount", "count_network", "counting"]

def _synaptic_macs(module: nn.Module, out: torch.Tensor) -> float | None:
    """Total MACs of one call of a Linear/Conv layer that produced ``out`` (all samples, all steps)."""
    if isinstance(module, nn.Linear):
        return float(out.numel() * module.in_features)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        per_out = module.in_channels // module.groups
        for s in module.kernel_size:
            per_out *= s
        return float(out.numel() * per_out)
    return None


@dataclass
class NetworkCount:
    """Per-layer neuron ops and synaptic figures of one network on one input batch (per sample)."""

    T: int
    neuron_layers: list[dict] = field(default_factory=list)
    synaptic_layers: list[dict] = field(default_factory=list)
    registry: NeuronRegistry | None = field(default=None, repr=False, compare=False)
    exact: bool = field(default=False, repr=False, compare=False)
    module_names: dict = field(default_factory=dict, repr=False, compare=False)

    def add_traces(self, model: nn.Module, traces: Mapping[str, object]) -> None:
        """Count the neuron layers of a recording pass from their traces (``traces[name].h``: ``[T, B, C, *]``),
        in the traces' (call) order; ``name`` as in ``model.neuron_layers()``."""
        registry = NEURONS if self.registry is None else self.registry
        layers = model.neuron_layers()
        for name, trace in traces.items():
            mod = layers[name]
            record = registry.record_for(mod)
            if record is None:
                raise ValueError(f"add_traces: layer {name!r} ({type(mod).__name__}) has no record in the neuron "
                                 f"registry (kinds {registry.kinds})")
            neurons = trace.h[0, 0].numel()
            self.neuron_layers.append({"name": self.module_names.get(mod, name), "kind": record.kind,
                                       "neurons": neurons, "ops": record.ops(mod, self.T, self.exact).scale(neurons)})

    @property
    def neuron_ops(self) -> OpCount:
        total = OpCount()
        for row in self.neuron_layers:
            total = total + row["ops"]
        return total

    @property
    def n_neurons(self) -> int:
        return sum(row["neurons"] for row in self.neuron_layers)

    @property
    def first_layer_flops(self) -> float:
        return self.synaptic_layers[0]["flops"] if self.synaptic_layers else 0.0

    @property
    def sops(self) -> float:
        """Σ over the spike-driven layers of firing rate × T × per-step FLOPs (``flops`` holds × T already)."""
        return sum(row["flops"] * row["input_rate"] for row in self.synaptic_layers[1:])

    @property
    def synaptic_energy_pj(self) -> float:
        return synaptic_energy_pj(self.first_layer_flops, self.sops)

    @property
    def energy_pj(self) -> float:
        return self.neuron_ops.energy_pj + self.synaptic_energy_pj


def count_network(model: nn.Module, x: torch.Tensor, *, exact: bool = False,
                  registry: NeuronRegistry | None = None) -> NetworkCount:
    """Count neuron ops and synaptic FLOPs/SOPs of ``model`` on the time-first input ``x: [T, B, ...]``.

    Neuron layers are the modules with a record in ``registry`` (default :data:`mfpsn.neurons.registry.NEURONS`);
    their neuron count is the per-sample, per-step size of their input; a module with a ``run`` method and no
    record raises ``ValueError`` (it would be counted as zero otherwise). Synaptic layers (Linear, Conv1d/2d/3d) are taken in call order:
    the first is the encoding layer (MACs on real-valued input); for the others the firing rate is the mean of
    their input (spikes), so SOPs = rate × T × FLOPs. Per-sample figures, averaged over the batch.

    Every ``flops`` entry is per sample over the whole sequence (per-step MACs × T). The paper's Table 6 appears
    to quote the encoding layer per step; to reproduce it, pass its published figures to
    :func:`synaptic_energy_pj` directly.
    """
    if x.dim() < 3:
        raise ValueError(f"count_network: expected a time-first input [T, B, ...], found shape {tuple(x.shape)}")
    with counting(model, x.shape[0], x.shape[1], exact=exact, registry=registry) as result, torch.no_grad():
        model(x)
    return result


@contextmanager
def counting(model: nn.Module, T: int, B: int, *, exact: bool = False, registry: NeuronRegistry | None = None
             ) -> Iterator[NetworkCount]:
    """Hooks that fill a :class:`NetworkCount` (as :func:`count_network` does) during whatever forward of ``model``
    runs inside the block, on an input of ``T`` steps and batch ``B``. A recording pass (``record=True``) calls the
    neurons' ``run``, which forward hooks do not see: pass its traces to :meth:`NetworkCount.add_traces` in the
    block, so one pass gives the traces and the count (the app's model view)."""
    registry = NEURONS if registry is None else registry
    mod_names = {m: n for n, m in model.named_modules()}
    result = NetworkCount(T=T, registry=registry, exact=exact, module_names=mod_names)
    handles = []

    def neuron_hook(mod, inputs, output, record):
        neurons = inputs[0][0, 0].numel()                          # per sample, per step
        result.neuron_layers.append({"name": mod_names[mod], "kind": record.kind, "neurons": neurons,
                                     "ops": record.ops(mod, T, exact).scale(neurons)})

    def syn_hook(mod, inputs, output):
        # works whether time is folded into the batch ([T·B, ...]) or kept ([T, B, ...])
        flops_step = _synaptic_macs(mod, output) / (T * B)      # per sample, per step
        result.synaptic_layers.append({"name": mod_names[mod], "flops": flops_step * T,
                                       "input_rate": float(inputs[0].float().mean())})

    for name, m in model.named_modules():
        record = registry.record_for(m)
        if record is not None:
            handles.append(m.register_forward_hook(lambda mod, i, o, r=record: neuron_hook(mod, i, o, r)))
        elif callable(getattr(m, "run", None)):
            raise ValueError(f"count_network: module {name!r} ({type(m).__name__}) looks like a neuron (it has run()) "
                             f"but has no record in the neuron registry (kinds {registry.kinds}); add a "
                             f"NeuronRecord with its op count (mfpsn.neurons.registry)")
        elif isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            handles.append(m.register_forward_hook(syn_hook))
    try:
        yield result
    finally:
        for h in handles:
            h.remove()
