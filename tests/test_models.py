"""Networks: every architecture with every neuron, against per-time-step references, config round trips,
recorded traces, dilation schedules and input errors."""
from __future__ import annotations

import json

import pytest

from mfpsn.models.seq_fc_net import SeqFCNet
import torch
import torch.nn.functional as F

from mfpsn.models import (NEURON_KINDS, DVSConvNet, SeqImageNet, SHDNet, SpikingResNet18, StatefulFC, build_model,
                          layer_dilations)


def _tiny(arch: str, neuron: str, T: int = 5, **kw):
    """A small instance of ``arch``; MFPSN and SlidingPSN get a fixed filter implementation (the nets'
    wiring is under test here, not the timing-based ``backend="auto"`` choice)."""
    if neuron in ("mfpsn", "sliding_psn"):
        kw.setdefault("neuron_options", {"backend": "shift_add"})
    if arch == "dvs_convnet":
        return DVSConvNet(num_classes=3, T=T, input_size=9, channels=(3, 5), neuron=neuron, **kw), (T, 1, 2, 9, 9)
    if arch == "shd_net":
        return SHDNet(in_features=7, num_classes=4, T=T, hidden=5, dropout=0.0, neuron=neuron, **kw), (T, 1, 7)
    if arch == "seq_image_net":
        return SeqImageNet(num_classes=3, T=T, in_channels=1, length=8, width=5, fc_width=7, neuron=neuron,
                           order=2, **kw), (T, 1, 1, 8)
    return SpikingResNet18(num_classes=3, T=T, width=3, neuron=neuron, **kw), (T, 1, 2, 16, 16)


def _drive(shape) -> torch.Tensor:
    return (torch.rand(shape) < 0.4).float() * 3.0


ARCH_NAMES = ("dvs_convnet", "shd_net", "seq_image_net", "spiking_resnet18")


@pytest.mark.parametrize("arch", ARCH_NAMES)
@pytest.mark.parametrize("neuron", NEURON_KINDS)
def test_forward_backward_every_neuron(arch, neuron):
    model, shape = _tiny(arch, neuron)
    x = _drive((shape[0], 2) + shape[2:])  # B = 2 so training-mode BatchNorm has statistics
    logits = model(x)
    assert logits.shape == (2, model.config["num_classes"])
    assert torch.isfinite(logits).all()
    logits.square().sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("arch", ARCH_NAMES)
@pytest.mark.parametrize("neuron", ("mfpsn", "lif", "sliding_psn"))
def test_config_round_trip_rebuilds_identically(arch, neuron):
    model, shape = _tiny(arch, neuron)
    model.train()
    model(_drive((shape[0], 3) + shape[2:]))  # move running statistics away from init
    model.eval()
    config = json.loads(json.dumps(model.get_config()))
    twin = build_model(config)
    twin.load_state_dict(model.state_dict())
    twin.eval()
    x = _drive(shape)
    assert config == model.get_config()
    assert torch.equal(twin(x), model(x))


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_record_returns_one_trace_per_neuron_layer(arch):
    model, shape = _tiny(arch, "mfpsn")
    model.train()
    model(_drive((shape[0], 3) + shape[2:]))
    model.eval()
    x = _drive(shape)
    logits, traces = model(x, record=True)
    assert list(traces) == list(model.neuron_layers())
    assert torch.equal(logits, model(x))
    for name, trace in traces.items():
        assert trace.spikes.shape == trace.h.shape and trace.spikes.shape[:2] == shape[:2], name
        assert torch.equal(trace.spikes, (trace.h >= trace.v_th).to(trace.spikes.dtype)), name


def _per_step_dvs(model: DVSConvNet, x: torch.Tensor) -> torch.Tensor:
    """Reference: every stateless layer applied one time step at a time (no time/batch folding)."""
    y = torch.stack([model.input_pool(x[t]) for t in range(x.shape[0])])
    for conv, norm, neuron in zip(model.convs, model.norms, model.neurons.values()):
        s = neuron(torch.stack([norm(conv(y[t])) for t in range(y.shape[0])]))
        y = torch.stack([F.avg_pool2d(s[t], 2) for t in range(s.shape[0])])
    return torch.stack([model.fc(y[t].flatten(1)) for t in range(y.shape[0])]).mean(0)


@pytest.mark.parametrize("neuron", ("mfpsn", "lif", "psn"))
def test_dvs_convnet_matches_per_step_reference(neuron):
    model, _ = _tiny("dvs_convnet", neuron, T=6, input_pool=1)
    model.train()
    model(_drive((6, 4, 2, 9, 9)))
    model.eval()
    x = _drive((6, 3, 2, 9, 9))
    torch.testing.assert_close(model(x), _per_step_dvs(model, x), rtol=1e-5, atol=1e-6)


def test_shd_net_matches_per_step_reference_and_sums_evidence():
    model, _ = _tiny("shd_net", "mfpsn", T=7)
    model.train()
    model(_drive((7, 4, 7)))
    model.eval()
    x = _drive((7, 3, 7))
    y = x
    for fc, norm, neuron in zip(model.fcs, model.norms, model.neurons.values()):
        y = neuron(torch.stack([norm(fc(y[t])) for t in range(7)]))
    evidence = torch.stack([model.readout(y[t]) for t in range(7)])
    torch.testing.assert_close(model.evidence(x), evidence, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model(x), evidence.sum(0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch,shape", [("shd_net", (7, 3, 7)), ("seq_fc_net", (6, 3, 1)),
                                        ("dvs_convnet", (5, 2, 2, 9, 9))])
def test_evidence_with_record_is_the_forward_with_record_in_one_pass(arch, shape):
    """The app's single pass: ``evidence(x, record=True)`` gives the forward's traces and, reduced, its logits;
    ``counting`` with ``add_traces`` gives the same count as ``count_network``'s own pass."""
    from mfpsn.models import build_model, count_network, counting

    if arch == "dvs_convnet":
        model, _ = _tiny(arch, "mfpsn", T=shape[0])
    else:
        model = build_model({"arch": arch, "T": shape[0], "in_features": shape[2], "num_classes": 4, "hidden": 5,
                             "neuron": "mfpsn", "order": 2, "neuron_options": {"backend": "shift_add"},
                             **({"n_layers": 2} if arch == "seq_fc_net" else {})})
    model.eval()
    x = _drive(shape)
    logits, traces = model(x, record=True)
    evidence, traces2 = model.evidence(x, record=True)
    assert torch.equal(model.logits_from_evidence(evidence), logits) and torch.equal(evidence, model.evidence(x))
    assert list(traces2) == list(traces)
    for name in traces:
        assert torch.equal(traces2[name].spikes, traces[name].spikes) and torch.equal(traces2[name].h, traces[name].h)
    with torch.no_grad(), counting(model, shape[0], shape[1]) as one_pass:
        _, traces3 = model.evidence(x, record=True)
        one_pass.add_traces(model, traces3)
    ref = count_network(model, x)
    assert one_pass.neuron_layers == ref.neuron_layers and one_pass.synaptic_layers == ref.synaptic_layers
    assert one_pass.energy_pj == ref.energy_pj > 0


def test_seq_image_net_matches_per_step_reference():
    model, _ = _tiny("seq_image_net", "lif", T=5)
    model.eval()
    x = torch.rand(5, 2, 1, 8) * 3
    y = x
    for i, (conv, norm, neuron) in enumerate(zip(model.convs, model.norms, list(model.neurons.values())[:6])):
        y = neuron(torch.stack([norm(conv(y[t])) for t in range(5)]))
        if i % 3 == 2:
            y = torch.stack([F.avg_pool1d(y[t], 2) for t in range(5)])
    s = model.neurons["fc"](torch.stack([model.fc1(y[t].flatten(1)) for t in range(5)]))
    ref = torch.stack([model.fc2(s[t]) for t in range(5)]).mean(0)
    torch.testing.assert_close(model(x), ref, rtol=1e-5, atol=1e-6)


def test_resnet_has_seventeen_neuron_layers_with_sawtooth_dilations():
    model, shape = _tiny("spiking_resnet18", "mfpsn", T=4)
    names = list(model.neuron_layers())
    assert len(names) == 17 and names[0] == "stem" and names[-1] == "layer4.1.b"
    assert [n.dilation for n in model.neuron_layers().values()] == [(i % 3) + 1 for i in range(17)]
    model.eval()
    assert model(_drive(shape)).shape == (1, 3)


def test_stateful_fc_matches_its_recurrence():
    layer = StatefulFC(3, 2)
    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([0.5, 1.5]))  # 1.5 is clamped to 1
        layer.beta.copy_(torch.tensor([0.25, 0.0]))
    x = torch.randn(3, 1, 3)
    drive = layer.linear(x)
    alpha = torch.tensor([0.5, 1.0])
    i1 = drive[0]
    u1 = (1 - alpha) * i1
    i2 = torch.tensor([0.25, 0.0]) * i1 + drive[1]
    u2 = alpha * u1 + (1 - alpha) * i2
    out = layer(x)
    torch.testing.assert_close(out[0], u1)
    torch.testing.assert_close(out[1], u2)


def test_dilation_schedules():
    assert layer_dilations(5) == [1, 2, 3, 1, 2]
    assert layer_dilations(4, period=2) == [1, 2, 1, 2]
    assert layer_dilations(3, "none") == [1, 1, 1]
    assert layer_dilations(2, [4, 1]) == [4, 1]
    model = DVSConvNet(T=4, input_size=8, channels=(2, 3, 4), dilations=[2, 1, 3])
    assert [n.dilation for n in model.neurons.values()] == [2, 1, 3]
    with pytest.raises(ValueError, match="one per MFPSN layer"):
        DVSConvNet(T=4, input_size=8, channels=(2, 3), dilations=[1, 2, 3])
    with pytest.raises(ValueError, match="dilations"):
        layer_dilations(2, "zigzag")
    assert layer_dilations(4, "exponential", order=8) == [1, 8, 64, 512]
    with pytest.raises(ValueError, match="order k"):
        layer_dilations(4, "exponential")
    model = SeqFCNet(T=30, hidden=3, n_layers=3, order=3, dilations="exponential")
    assert [n.dilation for n in model.neurons.values()] == [1, 3, 9]


def test_bad_inputs_name_what_was_expected():
    model, shape = _tiny("dvs_convnet", "lif")
    with pytest.raises(ValueError, match=r"expected shape \[\*, \*, 2, 9, 9\], found \[5, 1, 3, 9, 9\]"):
        model(torch.zeros(5, 1, 3, 9, 9))
    with pytest.raises(ValueError, match="floating-point"):
        model(torch.zeros(shape, dtype=torch.int64))
    with pytest.raises(ValueError, match="SHDNet input x: expected shape"):
        _tiny("shd_net", "lif")[0](torch.zeros(5, 1, 8))
    with pytest.raises(ValueError, match="neuron: expected one of"):
        DVSConvNet(neuron="izhikevich")
    with pytest.raises(ValueError, match="arch"):
        build_model({"arch": "vgg"})
    with pytest.raises(ValueError, match="dvs_convnet"):
        build_model({"arch": "dvs_convnet", "kernel": 5})
