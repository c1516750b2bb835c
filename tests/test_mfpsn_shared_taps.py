"""MFPSN with shared taps (the channel-wise-vs-shared ablation) against the channel-wise neuron with equal rows."""
from __future__ import annotations

import pytest
import torch

from mfpsn.neurons import MFPSN


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_shared_taps_equal_channel_wise_taps_with_equal_rows(impl):
    torch.manual_seed(0)
    C, k = 5, 4
    shared = MFPSN(C, order=k, dilation=2, backend=impl, shared_taps=True)
    wide = MFPSN(C, order=k, dilation=2, backend=impl)
    assert shared.weight.shape == (1, k)
    with torch.no_grad():
        wide.weight.copy_(shared.weight.expand(C, k))
    x = torch.randn(13, 3, C, 2)
    xs, xw = x.clone().requires_grad_(), x.clone().requires_grad_()
    ys, yw = shared(xs), wide(xw)
    torch.testing.assert_close(ys, yw)
    (ys * torch.arange(ys.numel()).reshape(ys.shape)).sum().backward()
    (yw * torch.arange(yw.numel()).reshape(yw.shape)).sum().backward()
    torch.testing.assert_close(xs.grad, xw.grad)
    torch.testing.assert_close(shared.weight.grad[0], wide.weight.grad.sum(0))  # one row gets every channel's
    shared.eval(), wide.eval()
    torch.testing.assert_close(shared(x), wide(x))
    torch.testing.assert_close(shared.folded()[0], wide.folded()[0])
    state = shared.state_dict()
    again = MFPSN(C, order=k, dilation=2, backend=impl, shared_taps=True)
    again.load_state_dict(state)
    again.eval()
    torch.testing.assert_close(again(x), shared(x))
