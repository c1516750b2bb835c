"""Whole networks on the integer path (mfpsn.integer_net) against the float eval path."""
from __future__ import annotations

import pytest
import torch

from mfpsn.integer_net import IntegerNeuron, integerize
from mfpsn.models import DVSConvNet, SeqFCNet


def _spikes(model, x):
    out = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: out.__setitem__(n, o.detach().clone()))
             for n, m in model.neuron_layers().items()]
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()
    return logits, out


@pytest.mark.parametrize("build", [
    lambda: SeqFCNet(T=40, hidden=16, n_layers=3, neuron="mfpsn", order=4),
    lambda: DVSConvNet(num_classes=3, T=6, in_channels=2, input_size=8, channels=[4, 6], input_pool=1,
                       neuron="mfpsn", order=2),
])
def test_integer_net_matches_the_float_eval_path(build):
    torch.manual_seed(1)
    net = build()
    x = torch.rand(40, 8, 1) if isinstance(net, SeqFCNet) else (torch.rand(6, 8, 2, 8, 8) < 0.3).float()
    for layer in net.neuron_layers().values():
        layer.bn_bias.data.fill_(0.5)  # θ below the mean drive: the layers fire at init
    net.train()
    with torch.no_grad():  # a few batches of running statistics, so the fold is not the init
        for _ in range(3):
            net(x)
    net.eval()
    inet, replaced = integerize(net, frac_bits=20)
    assert replaced == len(net.neuron_layers())
    assert all(isinstance(m, IntegerNeuron) for m in inet.neuron_layers().values())
    assert not any(isinstance(m, IntegerNeuron) for m in net.modules())  # the original is untouched
    logits_f, spikes_f = _spikes(net, x)
    logits_i, spikes_i = _spikes(inet, x)
    for name in spikes_f:
        mismatch = (spikes_f[name] != spikes_i[name]).float().mean().item()
        assert mismatch <= 1e-3, (name, mismatch)
    assert (logits_f.argmax(1) == logits_i.argmax(1)).float().mean() >= 0.99
    assert sum(float(s.sum()) for s in spikes_i.values()) > 0  # the nets do fire


def test_integerize_refuses_nets_it_cannot_run():
    with pytest.raises(ValueError, match="no MFPSN"):
        integerize(SeqFCNet(T=4, hidden=4, n_layers=1, neuron="lif"))
    with pytest.raises(ValueError, match="float taps"):
        integerize(SeqFCNet(T=4, hidden=4, n_layers=1, neuron="mfpsn", neuron_options={"quantize": False}))


def test_evaluate_cli_integer_path(capsys):
    from mfpsn.evaluate import main

    assert main(["--checkpoint", "dvs_digits_mfpsn", "--limit", "16", "--integer", "16"]) == 0
    out = capsys.readouterr().out
    assert "integer (3 MFPSN layers, 16 fractional bits) path" in out
