"""The fused CPU LIF kernel against the torch loop (forward exactly, backward closely) on awkward shapes."""
from __future__ import annotations

import itertools
import os
import shutil

import pytest
import torch

from mfpsn.functional import lif_cpu
from mfpsn.functional.lif import lif_multistep, lif_multistep_ref
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                                reason="the fused CPU LIF needs a C++ compiler ($CXX or g++)")

SHAPES = [(1, 2, 3), (8, 1, 5), (6, 2, 3, 5), (5, 2, 3, 2, 3), (40, 3, 701)]  # T = 1, odd C, 4-D, 5-D, > 1 block
CONFIGS = list(itertools.product([0.0, None, -0.3], [True, False], [True, False]))  # v_reset, detach, decay_input
SURROGATES = [ATan(), Sigmoid(alpha=3.0), Rational()]
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-12, atol=1e-13)}


def _run(fn, x, rate, v0, ups, cfg):
    xs = x.clone().requires_grad_()
    rs = rate.clone().requires_grad_() if isinstance(rate, torch.Tensor) else rate
    vs = None if v0 is None else v0.clone().requires_grad_()
    s, h, v = fn(xs, rs, 1.0, *cfg, v0=vs)
    loss = (s * ups[0]).sum() + (h * ups[1]).sum() + (v * ups[2]).sum()
    leaves = [xs] + ([rs] if isinstance(rs, torch.Tensor) else []) + ([vs] if vs is not None else [])
    return (s, h, v), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("v_reset,detach,decay_input", CONFIGS)
def test_fused_lif_matches_the_loop(dtype, shape, v_reset, detach, decay_input):
    gen = torch.Generator().manual_seed(len(shape) * 7 + shape[0])
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2.2).to(dtype)
    ups = [torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype) for _ in range(2)]
    ups.append(torch.randn(shape[1:], generator=gen, dtype=torch.float64).to(dtype))
    surrogate = SURROGATES[(len(shape) + shape[0]) % 3]
    cfg = (v_reset, detach, surrogate, decay_input)
    for rate, v0 in ((1 / 3, None), (torch.tensor(0.4, dtype=dtype), torch.rand(shape[1:], dtype=dtype))):
        out, g = _run(lif_cpu.fused_lif_cpu, x, rate, v0, ups, cfg)
        out_ref, g_ref = _run(lif_multistep, x, rate, v0, ups, cfg)
        assert torch.equal(out[0], out_ref[0])                    # spikes bit for bit
        torch.testing.assert_close(out[1], out_ref[1], rtol=0, atol=0)
        torch.testing.assert_close(out[2], out_ref[2], rtol=0, atol=0)
        for a, b in zip(g, g_ref):
            torch.testing.assert_close(a, b, **TOL[dtype])


def test_fused_lif_matches_the_plain_reference_and_spikes_happen():
    x = torch.rand(64, 4, 9) * 2.0
    s, h, _ = lif_cpu.fused_lif_cpu(x, 0.5, 1.0, 0.0, True, ATan())
    s_ref, h_ref, _ = lif_multistep_ref(x, 0.5, 1.0, 0.0, True, ATan())
    assert torch.equal(s, s_ref) and torch.equal(h, h_ref) and 0 < float(s.mean()) < 1


def test_fused_lif_multithreaded_matches(monkeypatch):
    monkeypatch.setattr(lif_cpu, "_SMALL", 100)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    x = (torch.rand(20, 3, 2100) * 2.0).requires_grad_()     # 6300 neurons: 4 blocks over 3 threads
    rate = torch.tensor(0.5, requires_grad=True)
    s, _, _ = lif_cpu.fused_lif_cpu(x, rate, 1.0, None, False, Sigmoid())
    gs = torch.randn_like(s)
    dx, dr = torch.autograd.grad((s * gs).sum(), [x, rate])
    xr, rr = x.detach().clone().requires_grad_(), rate.detach().clone().requires_grad_()
    s_ref, _, _ = lif_multistep(xr, rr, 1.0, None, False, Sigmoid())
    dx_ref, dr_ref = torch.autograd.grad((s_ref * gs).sum(), [xr, rr])
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(dx, dx_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dr, dr_ref, rtol=1e-4, atol=1e-4)


def test_fused_lif_refuses_what_it_does_not_implement():
    class Custom(Surrogate):
        name = "custom"

        def derivative(self, u):
            return torch.ones_like(u)

    with pytest.raises(ValueError, match="implements the surrogates ATan, Sigmoid and Rational"):
        lif_cpu.fused_lif_cpu(torch.rand(3, 1, 2), 0.5, 1.0, 0.0, True, Custom(alpha=1.0))
    with pytest.raises(RuntimeError, match="supports float32 and float64, found torch.float16"):
        lif_cpu.fused_lif_cpu(torch.rand(3, 1, 2).half(), 0.5, 1.0, 0.0, True, ATan())


def test_fused_lif_library_is_verified(monkeypatch, tmp_path, capsys):
    from mfpsn.functional import native

    monkeypatch.setenv("MFPSN_CACHE_DIR", str(tmp_path / "c"))
    lif_cpu._load_unlocked.cache_clear()
    try:
        path = lif_cpu.library_path()
        lif_cpu._build(path)
        with open(path, "ab") as fh:
            fh.write(b"planted")
        lif_cpu.warmup()
        err = capsys.readouterr().err
        assert f"refusing the fused CPU LIF kernel (LIF backend='fused') at {path}" in err
        assert native.verify(path) is None
    finally:
        lif_cpu._load_unlocked.cache_clear()


def test_lif_and_plif_modules_with_the_fused_backend_match_the_loop():
    from mfpsn.neurons import LIF, PLIF

    x = (torch.rand(30, 2, 5, 4) * 2.0).requires_grad_()
    for make in (lambda b: LIF(tau=3.0, v_reset=None, surrogate="rational", backend=b),
                 lambda b: PLIF(tau0=2.5, detach_reset=False, surrogate="sigmoid", backend=b)):
        fused, loop = make("fused"), make("loop")
        s, s_ref = fused(x), loop(x)
        assert torch.equal(s, s_ref)
        g = torch.randn_like(s)
        grads = torch.autograd.grad((s * g).sum(), [x, *fused.parameters()])
        grads_ref = torch.autograd.grad((s_ref * g).sum(), [x, *loop.parameters()])
        for a, b in zip(grads, grads_ref):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="PLIF: expected backend in"):
        PLIF(backend="triton")


def test_the_speed_race_offers_the_fused_cpu_lif():
    pytest.importorskip("gradio")
    from mfpsn.app import race

    assert race.LIF_FUSED_CPU in race.contenders(torch.device("cpu"))
    assert race._make_neuron(race.LIF_FUSED_CPU, 4, 2, 1).backend == "fused"


def test_fused_lif_gradients_are_the_same_bits_for_every_thread_count(monkeypatch):
    """The rate's gradient is summed per fixed chunk of blocks, in chunk order (``parallel_blocks``): 1, 2 and 3
    threads give the same bits, whichever thread ran which chunk."""
    monkeypatch.setattr(lif_cpu, "_SMALL", 100)
    x = torch.rand(12, 7, 3001, dtype=torch.float64) * 2.0   # 21,007 neurons: many blocks, uneven chunks
    gs = torch.randn(12, 7, 3001, dtype=torch.float64)
    out = []
    for n in (1, 2, 3):
        monkeypatch.setattr(torch, "get_num_threads", lambda n=n: n)
        xs, rate = x.clone().requires_grad_(), torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
        s, _, _ = lif_cpu.fused_lif_cpu(xs, rate, 1.0, None, False, ATan())
        out.append((s, *torch.autograd.grad((s * gs).sum(), [xs, rate])))
    for other in out[1:]:
        assert all(torch.equal(a, b) for a, b in zip(out[0], other))
