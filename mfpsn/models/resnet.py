"""The DVS-Lip spiking ResNet-18 variant of the paper (spec §6; Dampfhoffer et al.'s front end with
PLIF replaced by the neuron), definition only: it is not trained here.

``conv3d(c, k(5,7,7), s(1,2,2), p(2,3,3)) - BN - neuron - AvgPool(3, s2, p1) - {RB c}x2 - {RB 2c}x2 -
{RB 4c}x2 - {RB 8c}x2 - global AP - dropout - stateful FC(classes)``, logits = mean over time of the
stateful FC's membrane. ``c = width`` (64 in the paper). Neurons after pooling layers are removed
(published). Reconstructed (open), our choices: the 3-D stem has a BN and a neuron; a residual
block is ``neuron(BN(conv3x3(neuron(BN(conv3x3(x))))) + shortcut(x))`` with a 1x1 conv + BN
shortcut when the shape changes; the sawtooth dilation advances over all 17 neuron layers.
Input ``x: [T, B, in_channels, H, W]``; the stem's 3-D conv mixes 5 neighbouring time steps
(time padding 2, so it is not causal).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from mfpsn.models.base import SpikingNet, check_input, fire
from mfpsn.models.neurons import build_neurons
from mfpsn.neurons.registry import NeuronRegistry

__all__ = ["StatefulFC", "SpikingResNet18"]


class StatefulFC(nn.Module):
    """FC layer with stateful synapses (SpikGRU-DVSLip ``SFCLayer``), ``x: [T, B, in]`` → ``U: [T, B, out]``.

    ``I_t = β ⊙ I_{t−1} + (W x_t + b)``; ``U_t = α ⊙ U_{t−1} + (1 − α) ⊙ I_t``; α, β per output,
    initialised 0.9, α clamped to [0, 1] in the forward pass.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.alpha = nn.Parameter(torch.full((out_features,), 0.9))
        self.beta = nn.Parameter(torch.full((out_features,), 0.9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        drive = self.linear(x)
        alpha = self.alpha.clamp(0.0, 1.0)
        current = torch.zeros_like(drive[0])
        membrane = torch.zeros_like(drive[0])
        out = []
        for t in range(drive.shape[0]):
            current = self.beta * current + drive[t]
            membrane = alpha * membrane + (1 - alpha) * current
            out.append(membrane)
        return torch.stack(out)


class _Block(nn.Module):
    """Convolutions of one residual block; its two neurons live in the network's ``neurons``."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.norm_a = nn.BatchNorm2d(c_out)
        self.conv_b = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm_b = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class SpikingResNet18(SpikingNet):
    """Spiking ResNet-18 for lip-reading event frames ``x: [T, B, in_channels, H, W]`` → ``[B, classes]``.

    Args:
        num_classes: 100 for DVS-Lip.
        T: time steps (PSN and MaskedPSN need it).
        in_channels: input channels (2 polarities, or 1).
        width: channels of the stem and the first stage (64 in the paper).
        dropout: before the stateful FC.
        neuron, order, dilations, period, neuron_options: see :func:`mfpsn.models.neurons.build_neurons`.
        registry: the neuron registry ``neuron`` is looked up in (default ``NEURONS``; not part of the config).

    Neuron layers are named ``stem``, ``layer{s}.{b}.a``, ``layer{s}.{b}.b`` (s = 1..4, b = 0, 1).
    """

    def __init__(self, num_classes: int = 100, T: int = 90, in_channels: int = 2, width: int = 64,
                 dropout: float = 0.2, neuron: str = "mfpsn", order: int = 2,
                 dilations: str | Sequence[int] = "sawtooth", period: int = 3,
                 neuron_options: dict[str, Any] | None = None,
                 registry: NeuronRegistry | None = None) -> None:
        super().__init__()
        self.config = {"arch": "spiking_resnet18", "num_classes": int(num_classes), "T": int(T),
                       "in_channels": int(in_channels), "width": int(width), "dropout": float(dropout),
                       "neuron": neuron, "order": int(order),
                       "dilations": dilations if isinstance(dilations, str) else [int(d) for d in dilations],
                       "period": int(period), "neuron_options": dict(neuron_options or {})}
        stages = [width, 2 * width, 4 * width, 8 * width]
        plan, c_in = [], width
        for i, c in enumerate(stages):
            for b in range(2):
                plan.append((c_in, c, 2 if i > 0 and b == 0 else 1, f"layer{i + 1}.{b}"))
                c_in = c
        channels = [width] + [c for _, c, _, _ in plan for _ in range(2)]
        neurons = build_neurons(channels, kind=neuron, T=T, order=order, dilations=dilations, period=period,
                                options=neuron_options, registry=registry)
        self.stem = nn.Conv3d(in_channels, width, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False)
        self.stem_norm = nn.BatchNorm3d(width)
        self.stem_pool = nn.AvgPool2d(3, 2, 1)
        self.blocks = nn.ModuleList(_Block(c_in, c_out, s) for c_in, c_out, s, _ in plan)
        named = {"stem": neurons[0]}
        for j, (_, _, _, name) in enumerate(plan):
            named[f"{name}.a"] = neurons[1 + 2 * j]
            named[f"{name}.b"] = neurons[2 + 2 * j]
        self.neurons = nn.ModuleDict({k.replace(".", "_"): v for k, v in named.items()})
        self._names = list(named)
        self.drop = nn.Dropout(dropout)
        self.head = StatefulFC(stages[-1], num_classes)

    def neuron_layers(self) -> dict[str, nn.Module]:
        """Neuron layers by name (``stem``, ``layer1.0.a``, …), in forward order."""
        return dict(zip(self._names, self.neurons.values()))

    def forward(self, x: torch.Tensor, record: bool = False):
        """``x: [T, B, in_channels, H, W]`` → logits ``[B, classes]`` (traces when ``record``)."""
        check_input(x, (None, None, self.config["in_channels"], None, None), "SpikingResNet18 input x")
        traces: dict | None = {} if record else None
        T, B = x.shape[:2]
        y = self.stem_norm(self.stem(x.permute(1, 2, 0, 3, 4))).permute(2, 0, 1, 3, 4)
        y = fire(self.neurons["stem"], "stem", y.contiguous(), traces)
        y = self.stem_pool(y.flatten(0, 1))
        names, neurons = self._names[1:], list(self.neurons.values())[1:]
        for j, block in enumerate(self.blocks):
            a = block.norm_a(block.conv_a(y)).unflatten(0, (T, B))
            a = fire(neurons[2 * j], names[2 * j], a, traces).flatten(0, 1)
            b = block.norm_b(block.conv_b(a)) + block.shortcut(y)
            y = fire(neurons[2 * j + 1], names[2 * j + 1], b.unflatten(0, (T, B)), traces).flatten(0, 1)
        features = self.drop(y.mean((2, 3))).unflatten(0, (T, B))
        logits = self.head(features).mean(0)
        return (logits, traces) if record else logits
