"""The feed-forward sequence net of the PSN-family sMNIST/psMNIST comparisons.

``{FC(hidden) - BN - neuron} x n_layers - FC(classes)``, logits = the readout averaged over time.
Published PSN-family sMNIST rows use 4 spiking layers of 128 (the anchors in
``checkpoints/README.md``); the readout of those codes is not specified in the spec, so ours is
**our choice**: the mean over all T steps of a linear readout of the last layer's spikes (a
non-leaky integrator; the per-step values are the class evidence the app plots over time). Every
stateless layer folds time into the batch. Input: one value per step, ``x: [T, B, in_features]``
(sMNIST: T = 784, in_features = 1).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from mfpsn.models.base import EvidenceNet, check_input, fire
from mfpsn.models.neurons import build_neurons
from mfpsn.neurons.registry import NeuronRegistry

__all__ = ["SeqFCNet"]


class SeqFCNet(EvidenceNet):
    """FC spiking net for sequences ``x: [T, B, in_features]`` → logits ``[B, classes]`` (mean over T).

    Args:
        in_features: values per step (1 for sMNIST).
        num_classes: output classes.
        T: time steps (PSN and MaskedPSN need it).
        hidden: width of every spiking layer; ``n_layers`` of them.
        neuron, order, dilations, period, neuron_options: see :func:`mfpsn.models.neurons.build_neurons`.
        registry: the neuron registry ``neuron`` is looked up in (default ``NEURONS``; not part of the config).

    Neuron layers are named ``fc0``, ``fc1``, …
    """

    def __init__(self, in_features: int = 1, num_classes: int = 10, T: int = 784, hidden: int = 128,
                 n_layers: int = 4, neuron: str = "mfpsn", order: int = 8,
                 dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                 neuron_options: dict[str, Any] | None = None, registry: NeuronRegistry | None = None) -> None:
        super().__init__()
        if n_layers < 1 or hidden < 1 or in_features < 1:
            raise ValueError(f"in_features, hidden, n_layers: expected positive ints, found {in_features!r}, "
                             f"{hidden!r}, {n_layers!r}")
        self.config = {"arch": "seq_fc_net", "in_features": int(in_features), "num_classes": int(num_classes),
                       "T": int(T), "hidden": int(hidden), "n_layers": int(n_layers), "neuron": neuron,
                       "order": int(order),
                       "dilations": dilations if isinstance(dilations, str) else [int(d) for d in dilations],
                       "period": int(period), "neuron_options": dict(neuron_options or {})}
        widths = [in_features] + [hidden] * n_layers
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(n_layers))
        neurons = build_neurons([hidden] * n_layers, kind=neuron, T=T, order=order, dilations=dilations,
                                period=period, options=neuron_options, registry=registry)
        self.neurons = nn.ModuleDict({f"fc{i}": n for i, n in enumerate(neurons)})
        self.readout = nn.Linear(hidden, num_classes)

    def _evidence(self, x: torch.Tensor, traces: dict | None) -> torch.Tensor:
        """``x: [T, B, in_features]`` → per-step readout ``[T, B, classes]`` (the logits are its mean over T; after
        ``t`` steps of a prefix, ``evidence[:t + 1].mean(0)``)."""
        check_input(x, (None, None, self.config["in_features"]), "SeqFCNet input x")
        T, B = x.shape[:2]
        y = x.flatten(0, 1)
        for fc, norm, (name, neuron) in zip(self.fcs, self.norms, self.neurons.items()):
            y = fire(neuron, name, norm(fc(y)).unflatten(0, (T, B)), traces).flatten(0, 1)
        return self.readout(y).unflatten(0, (T, B))
