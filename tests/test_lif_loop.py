"""The fast LIF loop (hand-written BPTT) against the plain autograd loop, forward and backward."""
from __future__ import annotations

import itertools

import pytest
import torch

from mfpsn.functional import lif as lif_module
from mfpsn.functional.lif import lif_multistep, lif_multistep_ref
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid

SHAPES = [(1, 2, 3), (7, 1, 5), (9, 2, 3, 4), (5, 2, 3, 2, 3)]
CONFIGS = list(itertools.product([0.0, None, -0.3], [True, False], [True, False]))  # v_reset, detach, decay_input


def _grads(fn, x, rate, v0, ups):
    xs = x.detach().clone().requires_grad_()
    rs = rate.detach().clone().requires_grad_() if isinstance(rate, torch.Tensor) else rate
    vs = None if v0 is None else v0.detach().clone().requires_grad_()
    s, h, v = fn(xs, rs)(vs)
    loss = (s * ups[0]).sum() + (h * ups[1]).sum() + (v * ups[2]).sum()
    leaves = [xs] + ([rs] if isinstance(rs, torch.Tensor) else []) + ([vs] if vs is not None else [])
    return (s, h, v), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("v_reset,detach,decay_input", CONFIGS)
@pytest.mark.parametrize("surrogate", [ATan(), Sigmoid(), Rational()], ids=["atan", "sigmoid", "rational"])
@pytest.mark.parametrize("chunk_values", [1 << 18, 11], ids=["one-chunk", "chunks"])
def test_fast_loop_matches_reference_forward_and_backward(shape, v_reset, detach, decay_input, surrogate,
                                                          chunk_values, monkeypatch):
    """chunk_values = 11: the backward's chunks hold 1 to 3 steps (several chunks, an uneven first one)."""
    monkeypatch.setattr(lif_module, "_CHUNK_VALUES", chunk_values)
    gen = torch.Generator().manual_seed(hash((shape, v_reset, detach, decay_input)) % 2**31)
    x = torch.rand(shape, generator=gen, dtype=torch.float64) * 2.0
    ups = [torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(2)]
    ups.append(torch.randn(shape[1:], generator=gen, dtype=torch.float64))
    for rate in (0.4, torch.tensor(0.35, dtype=torch.float64)):
        for v0 in (None, torch.rand(shape[1:], generator=gen, dtype=torch.float64)):
            def make(fn):
                return lambda xs, rs: (lambda vs: fn(xs, rs, 1.0, v_reset, detach, surrogate, decay_input, vs))
            out, g = _grads(make(lif_multistep), x, rate, v0, ups)
            out_ref, g_ref = _grads(make(lif_multistep_ref), x, rate, v0, ups)
            assert torch.equal(out[0], out_ref[0])
            torch.testing.assert_close(out[1], out_ref[1], rtol=0, atol=0)
            torch.testing.assert_close(out[2], out_ref[2], rtol=0, atol=0)
            for a, b in zip(g, g_ref):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fast_loop_float32_spikes_equal_the_reference_and_no_grad_works():
    x = torch.rand(33, 4, 7) * 2.5
    s, h, v = lif_multistep(x, 0.5, 1.0, 0.0, True, ATan())
    s_ref, h_ref, v_ref = lif_multistep_ref(x, 0.5, 1.0, 0.0, True, ATan())
    assert torch.equal(s, s_ref) and torch.equal(h, h_ref) and torch.equal(v, v_ref)
    assert 0 < float(s.mean()) < 1
    with torch.no_grad():
        assert torch.equal(lif_multistep(x.requires_grad_(), 0.5, 1.0, None, True, ATan())[0],
                           lif_multistep_ref(x, 0.5, 1.0, None, True, ATan())[0])


def test_fast_loop_empty_time_axis():
    x = torch.zeros(0, 2, 3)
    s, h, v = lif_multistep(x, 0.5, 1.0, 0.0, True, ATan())
    assert s.shape == x.shape and h.shape == x.shape and v.shape == (2, 3)
