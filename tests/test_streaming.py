"""Streaming single-step MFPSN equals the multi-step eval forward (spec §2.6)."""
from __future__ import annotations

import pytest
import torch

from mfpsn.functional.filter import warmup
from mfpsn.functional.mfpsn import mfpsn_stream_step
from mfpsn.neurons import MFPSN, SlidingPSN


def _eval_layer(C: int, k: int, d: int, **kw) -> MFPSN:
    m = MFPSN(C, order=k, dilation=d, momentum=None, **kw)
    m(torch.randn(12, 4, C) * 1.3 + 0.1)        # one training step: running statistics = that batch's
    with torch.no_grad():
        m.bn_bias.uniform_(-1.0, 0.3)
    return m.eval()


def _stream(m: MFPSN, x: torch.Tensor) -> torch.Tensor:
    m.reset()
    return torch.stack([m.step(x[t]) for t in range(x.shape[0])])


# T, B, C, *; k; d — including d > 1 and k·d > T, B = 1, odd C, spatial dims, T not a power of two
CASES = [((13, 2, 5), 3, 2), ((5, 1, 3), 4, 2), ((7, 2, 3, 4), 2, 5), ((11, 1, 5, 2, 3), 3, 3), ((6, 3, 1), 1, 1)]


@pytest.mark.parametrize("shape,k,d", CASES)
def test_streaming_is_bitwise_equal_to_shift_add(shape, k, d):
    m = _eval_layer(shape[2], k, d, backend="shift_add")
    x = torch.randn(*shape) * 2
    with torch.no_grad():
        multi = m.run(x)
    s = _stream(m, x)
    assert torch.equal(s, multi.spikes)
    assert 0 < int(s.sum()) < s.numel()
    assert bool(((s == 0) | (s == 1)).all())


@pytest.mark.parametrize("impl", ["reference", "conv1d", "shift_add", "toeplitz", "blocked", "fused"])
@pytest.mark.parametrize("shape,k,d", CASES[:3])
def test_streaming_equals_every_implementation_on_fixed_point_input(shape, k, d, impl):
    if impl == "fused":
        try:
            warmup()
        except RuntimeError as err:
            pytest.skip(f"the fused CPU kernel cannot be built here: {err}")
    # dyadic inputs times power-of-two taps: every sum is exact, so the summation order cannot matter
    m = _eval_layer(shape[2], k, d, backend=impl, exp_min=-6, exp_max=3)
    x = torch.randint(-24, 25, shape).float() / 8
    with torch.no_grad():
        multi = m(x)
    assert 0 < int(multi.sum()) < multi.numel()
    assert torch.equal(_stream(m, x), multi)


def test_ring_buffer_length_and_state():
    m = _eval_layer(3, 4, 3, backend="shift_add")
    assert m.buffer_length == (4 - 1) * 3 + 1
    x = torch.randn(20, 2, 3)
    m.reset()
    first = [m.step(x[t]) for t in range(5)]
    assert m._stream.buffer.shape == (10, 2, 3)
    m.reset()
    assert torch.equal(torch.stack([m.step(x[t]) for t in range(5)]), torch.stack(first))
    with torch.no_grad():
        assert torch.equal(_stream(m, x), m(x))        # 20 steps wrap the 10-row ring twice


def test_functional_step_uses_zero_history():
    taps = torch.tensor([[1.0, 2.0, 4.0]])             # lags 4, 2, 0 with d = 2
    theta = torch.tensor([5.0])
    buf = torch.zeros(5, 1, 1)
    hs = []
    for t, v in enumerate([1.0, 0.0, 1.0, 0.0, 1.0]):
        s, h = mfpsn_stream_step(buf, t, torch.tensor([[v]]), taps, theta, 2)
        hs.append(float(h))
    # h[t] = 4·x[t] + 2·x[t−2] + 1·x[t−4]
    assert hs == [4.0, 0.0, 6.0, 0.0, 7.0]


def test_streaming_errors():
    m = MFPSN(3, order=2, dilation=2, backend="shift_add")
    with pytest.raises(RuntimeError, match="eval mode only"):
        m.step(torch.randn(2, 3))
    m.eval()
    with pytest.raises(ValueError, match="expected 3 channels in dim 1.*found 4"):
        m.step(torch.randn(2, 4))
    with pytest.raises(ValueError, match="at least 2 dims"):
        m.step(torch.randn(3))
    with pytest.raises(ValueError, match="floating-point"):
        m.step(torch.ones(2, 3, dtype=torch.int64))
    m.step(torch.randn(2, 3))
    with pytest.raises(ValueError, match="reset"):
        m.step(torch.randn(1, 3))
    m.reset()
    assert m.step(torch.randn(1, 3)).shape == (1, 3)


@pytest.mark.parametrize("shape,k", [((9, 2, 3), 3), ((4, 1, 5, 2), 6)])
def test_sliding_psn_step_equals_multi_step(shape, k):
    sp = SlidingPSN(k, exp_init=False, backend="shift_add")
    with torch.no_grad():
        sp.threshold.fill_(0.2)
    x = torch.randint(-16, 17, shape).float() / 8                  # exact sums: any summation order agrees
    with torch.no_grad():
        multi = sp(x)
    sp.reset()
    assert torch.equal(torch.stack([sp.step(x[t]) for t in range(shape[0])]), multi)
    assert 0 < int(multi.sum()) < multi.numel()
    with pytest.raises(ValueError, match="reset"):
        sp.step(torch.randn(7, 1))
