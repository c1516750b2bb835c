"""A small spiking conv net for event frames (DVS digits, N-MNIST: 34x34, 2 polarities).

Architecture (ours, sized to train on one CPU core in about a minute):
``[AP(input_pool)] - {conv3x3(c_i) - BN - neuron - AP2} for c_i in channels - flatten - FC(classes)``,
logits = mean over time of the FC output. Convolutions, BN and pooling fold time into the batch
(``x.flatten(0, 1)``); neurons see ``[T, B, C, H, W]``.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from mfpsn.models.base import EvidenceNet, check_input, fire
from mfpsn.models.neurons import build_neurons
from mfpsn.neurons.registry import NeuronRegistry

__all__ = ["DVSConvNet"]


class DVSConvNet(EvidenceNet):
    """Conv net for ``x: [T, B, in_channels, H, W]`` event frames; ``forward`` returns logits ``[B, classes]``.

    Args:
        num_classes: output classes.
        T: time steps (PSN and MaskedPSN need it; the others accept any T).
        in_channels: input channels (2 polarities).
        input_size: ``H = W`` of the frames.
        channels: conv widths, one block each (every block halves H and W).
        input_pool: average-pool factor applied to the input first (1 = none).
        neuron: one of :data:`mfpsn.models.neurons.NEURON_KINDS`.
        order, dilations, period, neuron_options: see :func:`mfpsn.models.neurons.build_neurons`.
        registry: the neuron registry ``neuron`` is looked up in (default ``NEURONS``; not part of the config).

    Neuron layers are named ``conv0``, ``conv1``, …
    """

    def __init__(self, num_classes: int = 10, T: int = 16, in_channels: int = 2, input_size: int = 34,
                 channels: Sequence[int] = (16, 32, 32), input_pool: int = 1, neuron: str = "mfpsn",
                 order: int = 2, dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                 neuron_options: dict[str, Any] | None = None,
                 registry: NeuronRegistry | None = None) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1:
            raise ValueError(f"channels: expected a non-empty list of positive ints, found {channels!r}")
        if input_pool < 1 or input_size // input_pool // 2 ** len(channels) < 1:
            raise ValueError(f"input_size {input_size} is too small for input_pool {input_pool} and "
                             f"{len(channels)} pooling blocks")
        self.config = {"arch": "dvs_convnet", "num_classes": int(num_classes), "T": int(T),
                       "in_channels": int(in_channels), "input_size": int(input_size), "channels": channels,
                       "input_pool": int(input_pool), "neuron": neuron, "order": int(order),
                       "dilations": dilations if isinstance(dilations, str) else [int(d) for d in dilations],
                       "period": int(period), "neuron_options": dict(neuron_options or {})}
        self.input_pool = nn.AvgPool2d(input_pool) if input_pool > 1 else nn.Identity()
        convs, norms = [], []
        prev = in_channels
        for c in channels:
            convs.append(nn.Conv2d(prev, c, 3, padding=1, bias=False))
            norms.append(nn.BatchNorm2d(c))
            prev = c
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(norms)
        self.pool = nn.AvgPool2d(2)
        neurons = build_neurons(channels, kind=neuron, T=T, order=order, dilations=dilations, period=period,
                                options=neuron_options, registry=registry)
        self.neurons = nn.ModuleDict({f"conv{i}": n for i, n in enumerate(neurons)})
        side = input_size // input_pool
        for _ in channels:
            side //= 2
        self.fc = nn.Linear(prev * side * side, num_classes)

    def _evidence(self, x: torch.Tensor, traces: dict | None) -> torch.Tensor:
        """``x: [T, B, in_channels, H, W]`` → per-step readout ``[T, B, classes]`` (the logits are its mean over T)."""
        cfg = self.config
        check_input(x, (None, None, cfg["in_channels"], cfg["input_size"], cfg["input_size"]), "DVSConvNet input x")
        T, B = x.shape[:2]
        y = self.input_pool(x.flatten(0, 1))
        for conv, norm, (name, neuron) in zip(self.convs, self.norms, self.neurons.items()):
            y = norm(conv(y))
            s = fire(neuron, name, y.unflatten(0, (T, B)), traces)
            y = self.pool(s.flatten(0, 1))
        return self.fc(y.flatten(1)).unflatten(0, (T, B))
