"""The neuron registry: adding a neuron is one module and one record.

The toy neuron below (an adaptive-threshold LIF) is the "one module"; ``ALIF_RECORD`` is the "one record". A
test-local registry (``NEURONS.with_records``) carries it into a network, a training step, the training loop's
per-epoch hook and the op counter; the package registry stays unchanged.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from mfpsn.energy import OpCount
from mfpsn.functional.surrogate import get_surrogate
from mfpsn.models import build_model, count_network
from mfpsn.neurons import (NEURON_KINDS, NEURONS, MaskedPSN, NeuronConfig, NeuronRecord, NeuronRegistry, NeuronTrace,
                           run_epoch_hooks)
from mfpsn.training.loop import TrainConfig, fit


# ------------------------------------------------------------------------------------------- the one module
class ALIF(nn.Module):
    """Adaptive LIF: V[t] = V[t−1] + (X[t] − V[t−1])/τ, θ[t] = 1 + β·A[t−1], S = Θ(V − θ), soft reset,
    A[t] = ρ·A[t−1] + S[t]. x: [T, B, C, *] → spikes of the same shape."""

    def __init__(self, tau: float = 2.0, beta: float = 0.5, rho: float = 0.8) -> None:
        super().__init__()
        self.tau, self.beta, self.rho = tau, beta, rho
        self.surrogate = get_surrogate("atan")
        self.epochs_seen: list[int] = []

    def run(self, x: torch.Tensor) -> NeuronTrace:
        v = torch.zeros_like(x[0])
        a = torch.zeros_like(x[0])
        spikes, hs, ths = [], [], []
        for t in range(x.shape[0]):
            h = v + (x[t] - v) / self.tau
            th = 1.0 + self.beta * a
            s = self.surrogate(h - th)
            v = h - th * s
            a = self.rho * a + s
            spikes.append(s), hs.append(h), ths.append(th)
        return NeuronTrace(torch.stack(spikes), torch.stack(hs), torch.stack(ths))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x).spikes

    def reset(self) -> None:
        pass


# ------------------------------------------------------------------------------------------- the one record
def _alif_ops(m: ALIF, T: int, exact: bool) -> OpCount:
    return OpCount(mul=3 * T, add=5 * T)  # charge (1 mul, 2 add), threshold (1, 1), adaptation (1, 1), reset (0, 1)


ALIF_RECORD = NeuronRecord("alif", ALIF, "ALIF", "#e377c2", build=lambda c: ALIF(**c.options), ops=_alif_ops,
                           epoch_hook=lambda m, epoch, epochs: m.epochs_seen.append(epoch))
REGISTRY = NEURONS.with_records(ALIF_RECORD)


def _shd_config(neuron: str) -> dict:
    return {"arch": "shd_net", "in_features": 6, "num_classes": 3, "T": 8, "hidden": 5, "n_hidden": 2,
            "neuron": neuron, "neuron_options": {"beta": 0.25}}


def test_the_toy_neuron_builds_in_a_network_and_trains_one_step():
    model = build_model(_shd_config("alif"), registry=REGISTRY)
    assert [type(n) for n in model.neuron_layers().values()] == [ALIF, ALIF]
    assert model.neurons["fc0"].beta == 0.25
    x = (torch.rand(8, 4, 6) < 0.5).float() * 2.0
    y = torch.tensor([0, 1, 2, 0])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    logits, traces = model(x, record=True)
    assert set(traces) == {"fc0", "fc1"} and traces["fc0"].spikes.shape == (8, 4, 5)


def test_the_toy_neuron_is_counted():
    model = build_model(_shd_config("alif"), registry=REGISTRY).eval()
    count = count_network(model, torch.rand(8, 2, 6), registry=REGISTRY)
    assert [r["kind"] for r in count.neuron_layers] == ["alif", "alif"]
    assert count.neuron_ops == OpCount(mul=2 * 5 * 3 * 8, add=2 * 5 * 5 * 8)
    with pytest.raises(ValueError, match="no record in the neuron registry"):
        count_network(model, torch.rand(8, 2, 6))               # the package registry does not know it


def test_the_toy_neurons_epoch_hook_runs_in_the_training_loop(tmp_path):
    cfg = TrainConfig(task="random", neuron="alif", epochs=2, batch_size=16, lr=1e-2, seed=1, progress=False,
                      run_dir=str(tmp_path / "run"), subset=20)
    result = fit(cfg, registry=REGISTRY)
    assert [n.epochs_seen for n in result.model.modules() if isinstance(n, ALIF)][0] == [0, 1]
    assert len(result.history) == 2


def test_the_package_registry_is_unchanged_and_immutable():
    assert "alif" not in NEURONS and "alif" in REGISTRY
    assert NEURON_KINDS == NEURONS.kinds == ("mfpsn", "lif", "plif", "psn", "masked_psn", "sliding_psn")
    with pytest.raises(TypeError):
        NEURONS["alif"] = ALIF_RECORD                             # a Mapping, not a dict
    with pytest.raises(ValueError, match="unknown|expected one of"):
        build_model(_shd_config("alif"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        NEURONS["lif"].label = "x"


def test_duplicates_are_refused():
    with pytest.raises(ValueError, match="given twice"):
        REGISTRY.with_records(ALIF_RECORD)
    with pytest.raises(ValueError, match="class ALIF given for"):
        NeuronRegistry([ALIF_RECORD, dataclasses.replace(ALIF_RECORD, kind="alif2")])


def test_every_record_is_complete_and_builds():
    for kind, rec in NEURONS.items():
        assert rec.kind == kind and rec.label and rec.colour.startswith("#")
        module = NEURONS.build(kind, NeuronConfig(channels=4, T=6, order=2, dilation=2))
        assert type(module) is rec.cls and NEURONS.record_for(module) is rec
        assert rec.ops(module, 6, False).energy_pj > 0
    assert [k for k, r in NEURONS.items() if r.dilated] == ["mfpsn"]


def test_masked_psn_annealing_is_its_records_epoch_hook():
    net = nn.Sequential(MaskedPSN(2, 9), nn.Identity(), MaskedPSN(3, 9))
    assert run_epoch_hooks(net, 1, 9) == 2
    assert [float(m.lambda_) for m in net if isinstance(m, MaskedPSN)] == [1.0, 1.0]
    run_epoch_hooks(net, 1, 17)
    assert float(net[0].lambda_) == 0.5


def test_fixed_backends_come_from_the_records():
    """Issue 11: experiments pick a fixed backend per neuron from its registry record, not by comparing strings."""
    from mfpsn.experiments_seq import _backend_options
    from mfpsn.neurons import NEURONS

    assert _backend_options("mfpsn", {}, "cpu") == {"backend": "fused"}
    assert _backend_options("sliding_psn", {}, "cuda") == {"backend": "triton"}
    assert _backend_options("lif", {"tau": 2.0}, "cpu") == {"backend": "fused", "tau": 2.0}
    assert _backend_options("plif", {}, "cuda") == {"backend": "loop"}
    assert _backend_options("mfpsn", {"backend": "conv1d"}, "cpu") == {"backend": "conv1d"}  # an explicit choice wins
    assert _backend_options("psn", {}, "cpu") == {}

    for kind in NEURONS.kinds:                       # every fixed choice is one the neuron's knob accepts
        rec = NEURONS.record(kind)
        for device, opts in rec.fixed_backend.items():
            assert set(opts) == {"backend"}, (kind, opts)           # one knob name on every neuron
            assert opts["backend"] in rec.cls.supported_backends and opts["backend"] != "auto", (kind, device)
            assert "backend" in rec.cls.__init__.__code__.co_varnames, kind


def test_every_neuron_with_a_choice_has_one_backend_knob():
    """Issue 11: one knob name (``backend``) across all neurons, its values in ``supported_backends``."""
    import inspect

    from mfpsn.backends import BACKENDS
    from mfpsn.neurons import LIF, MFPSN, NEURONS, PLIF, SlidingPSN

    assert set(MFPSN.supported_backends) == set(BACKENDS.names_for("filter")) | {"auto"}
    assert set(SlidingPSN.supported_backends) == set(MFPSN.supported_backends) | {"gemm"}
    assert set(LIF.supported_backends) == set(BACKENDS.names_for("lif")) | {"auto"}
    assert set(PLIF.supported_backends) <= set(LIF.supported_backends)
    for kind in NEURONS.kinds:
        params = inspect.signature(NEURONS.record(kind).cls.__init__).parameters
        assert "impl" not in params, kind
        assert ("backend" in params) == hasattr(NEURONS.record(kind).cls, "supported_backends"), kind
    for cls in (MFPSN, SlidingPSN, LIF):
        with pytest.raises(ValueError, match="backend"):
            cls(4, backend="nope") if cls is not LIF else cls(backend="nope")
