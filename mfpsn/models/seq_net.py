"""The sequential-image conv net of the paper (spec §6, after Parallel-Spiking-Neuron ``train_secf10.py``).

An image ``[N, C, H, W]`` is read column by column: time = image column, ``x: [T = W, B, C, L = H]``.
``{{conv1d(width, k3 s1 p1, no bias) - BN1d - neuron} x 3 - AvgPool1d(2)} x 2 - FC(256) - neuron -
FC(classes)``, logits = mean over T. Convolutions run along the column (L); time is folded into
the batch for every stateless layer. The paper uses width 128 on 32x32 CIFAR; ``width`` and
``fc_width`` are configurable (``L`` must be divisible by 4).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from mfpsn.models.base import SpikingNet, check_input, fire
from mfpsn.models.neurons import build_neurons
from mfpsn.neurons.registry import NeuronRegistry

__all__ = ["SeqImageNet"]


class SeqImageNet(SpikingNet):
    """Sequential-image net for ``x: [T, B, in_channels, length]`` → logits ``[B, classes]``.

    Args:
        num_classes: output classes.
        T: time steps = image columns (PSN and MaskedPSN need it).
        in_channels: image channels (3 for CIFAR, 1 for grey digits).
        length: pixels per column (H); divisible by 4.
        width: conv channels (128 in the paper); ``fc_width``: hidden FC width (256).
        neuron, order, dilations, period, neuron_options: see :func:`mfpsn.models.neurons.build_neurons`
        registry: the neuron registry ``neuron`` is looked up in (default ``NEURONS``; not part of the config).
            (the paper uses k = 16 on sequential CIFAR).

    Neuron layers are named ``conv0`` … ``conv5`` and ``fc``.
    """

    def __init__(self, num_classes: int = 10, T: int = 32, in_channels: int = 3, length: int = 32,
                 width: int = 128, fc_width: int = 256, neuron: str = "mfpsn", order: int = 16,
                 dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                 neuron_options: dict[str, Any] | None = None,
                 registry: NeuronRegistry | None = None) -> None:
        super().__init__()
        if length % 4 or length < 4:
            raise ValueError(f"length: expected a positive multiple of 4 (two AvgPool1d(2)), found {length!r}")
        self.config = {"arch": "seq_image_net", "num_classes": int(num_classes), "T": int(T),
                       "in_channels": int(in_channels), "length": int(length), "width": int(width),
                       "fc_width": int(fc_width), "neuron": neuron, "order": int(order),
                       "dilations": dilations if isinstance(dilations, str) else [int(d) for d in dilations],
                       "period": int(period), "neuron_options": dict(neuron_options or {})}
        ins = [in_channels] + [width] * 5
        self.convs = nn.ModuleList(nn.Conv1d(c, width, 3, padding=1, bias=False) for c in ins)
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in ins)
        self.pool = nn.AvgPool1d(2)
        neurons = build_neurons([width] * 6 + [fc_width], kind=neuron, T=T, order=order, dilations=dilations,
                                period=period, options=neuron_options, registry=registry)
        names = [f"conv{i}" for i in range(6)] + ["fc"]
        self.neurons = nn.ModuleDict(dict(zip(names, neurons)))
        self.fc1 = nn.Linear(width * (length // 4), fc_width)
        self.fc2 = nn.Linear(fc_width, num_classes)

    def forward(self, x: torch.Tensor, record: bool = False):
        """``x: [T, B, in_channels, length]`` → logits ``[B, classes]`` (traces when ``record``)."""
        cfg = self.config
        check_input(x, (None, None, cfg["in_channels"], cfg["length"]), "SeqImageNet input x")
        traces: dict | None = {} if record else None
        T, B = x.shape[:2]
        y = x.flatten(0, 1)
        items = list(self.neurons.items())
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            name, neuron = items[i]
            y = fire(neuron, name, norm(conv(y)).unflatten(0, (T, B)), traces).flatten(0, 1)
            if i % 3 == 2:
                y = self.pool(y)
        name, neuron = items[6]
        s = fire(neuron, name, self.fc1(y.flatten(1)).unflatten(0, (T, B)), traces)
        logits = self.fc2(s).mean(0)
        return (logits, traces) if record else logits
