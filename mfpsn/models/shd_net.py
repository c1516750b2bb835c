"""The SHD network of the paper (after SNN-delays, Hammouamri et al. 2024), without learned delays.

``{FC(hidden) - BN - neuron - dropout} x n_hidden - FC(classes)``, logits = the readout summed
over time. The paper's synapses are DCLS learned-delay layers (max delay 25 steps) and its
readout is a LIF with V_th = 1e9 whose membrane is the output; **both are left out here**: the
synapses are plain ``nn.Linear`` layers (no delays) and the readout is the FC output summed over
time (a non-leaky, never-firing integrator). Dropout is ordinary element-wise dropout on
``[T·B, C]`` (our choice). Input: ``[T, B, in_features]`` binned spike counts (SHD: 700 channels
pooled by 5 → 140, 10 ms bins).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from mfpsn.models.base import EvidenceNet, check_input, fire
from mfpsn.models.neurons import build_neurons
from mfpsn.neurons.registry import NeuronRegistry

__all__ = ["SHDNet"]


class SHDNet(EvidenceNet):
    """FC spiking net for spike-count sequences ``x: [T, B, in_features]`` → logits ``[B, classes]``.

    Args:
        in_features: input channels (140 for SHD pooled by 5).
        num_classes: 20 for SHD.
        T: time steps (PSN and MaskedPSN need it).
        hidden: width of each hidden layer; ``n_hidden`` layers.
        dropout: dropout probability after each neuron layer.
        neuron, order, dilations, period, neuron_options: see :func:`mfpsn.models.neurons.build_neurons`.
        registry: the neuron registry ``neuron`` is looked up in (default ``NEURONS``; not part of the config).

    Neuron layers are named ``fc0``, ``fc1``, …
    """

    def __init__(self, in_features: int = 140, num_classes: int = 20, T: int = 100, hidden: int = 256,
                 n_hidden: int = 2, dropout: float = 0.4, neuron: str = "mfpsn", order: int = 2,
                 dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                 neuron_options: dict[str, Any] | None = None,
                 registry: NeuronRegistry | None = None) -> None:
        super().__init__()
        if n_hidden < 1 or hidden < 1:
            raise ValueError(f"hidden, n_hidden: expected positive ints, found {hidden!r}, {n_hidden!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), found {dropout!r}")
        self.config = {"arch": "shd_net", "in_features": int(in_features), "num_classes": int(num_classes),
                       "T": int(T), "hidden": int(hidden), "n_hidden": int(n_hidden), "dropout": float(dropout),
                       "neuron": neuron, "order": int(order),
                       "dilations": dilations if isinstance(dilations, str) else [int(d) for d in dilations],
                       "period": int(period), "neuron_options": dict(neuron_options or {})}
        widths = [in_features] + [hidden] * n_hidden
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(n_hidden))
        self.drop = nn.Dropout(dropout)
        neurons = build_neurons([hidden] * n_hidden, kind=neuron, T=T, order=order, dilations=dilations,
                                period=period, options=neuron_options, registry=registry)
        self.neurons = nn.ModuleDict({f"fc{i}": n for i, n in enumerate(neurons)})
        self.readout = nn.Linear(hidden, num_classes)

    @staticmethod
    def logits_from_evidence(evidence: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, classes]`` of evidence ``[T, B, classes]``: the sum over T."""
        return evidence.sum(0)

    def _evidence(self, x: torch.Tensor, traces: dict | None) -> torch.Tensor:
        """``x: [T, B, in_features]`` → per-step readout ``[T, B, classes]`` (the logits are its sum over T)."""
        check_input(x, (None, None, self.config["in_features"]), "SHDNet input x")
        T, B = x.shape[:2]
        y = x.flatten(0, 1)
        for fc, norm, (name, neuron) in zip(self.fcs, self.norms, self.neurons.items()):
            s = fire(neuron, name, norm(fc(y)).unflatten(0, (T, B)), traces)
            y = self.drop(s.flatten(0, 1))
        return self.readout(y).unflatten(0, (T, B))
