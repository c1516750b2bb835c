"""The backend registry and the dispatcher: tables built from the records, a toy backend registered in a copy,
named backends that cannot run fail loudly, the LIF knob's choices."""
from __future__ import annotations

import pytest
import torch

from mfpsn.backends import BACKENDS, FILTER_BACKENDS, LIF_BACKENDS, BackendRecord, BackendRegistry, resolve, temporal_filter
from mfpsn.backends.autoselect import AutoSelector, candidates_for
from mfpsn.functional.filter import filter_shift_add, temporal_filter_ref
from mfpsn.neurons import LIF, PLIF


def test_the_knobs_come_from_the_records():
    assert FILTER_BACKENDS == ("reference", "conv1d", "shift_add", "toeplitz", "blocked", "fused", "triton", "auto")
    assert LIF_BACKENDS == ("fused", "triton", "loop")
    assert LIF.supported_backends == ("fused", "triton", "loop", "auto")
    assert PLIF.supported_backends == ("fused", "loop", "auto")


def test_a_toy_backend_is_one_record():
    calls = []

    def toy(x, taps, d):
        calls.append(d)
        return filter_shift_add(x, taps, d)

    backends = BACKENDS.with_records(BackendRecord("toy", {"filter": toy}, auto_devices=()))
    x, taps = torch.randn(9, 2, 3), torch.randn(3, 2)
    torch.testing.assert_close(temporal_filter(x, taps, 2, backend="toy", backends=backends),
                               temporal_filter_ref(x, taps, 2))
    assert calls == [2]
    assert "toy" not in candidates_for(x, taps, backends=backends)   # auto_devices=(): auto never picks it
    with pytest.raises(ValueError, match="expected backend in .* found 'toy'"):
        temporal_filter(x, taps, 2, backend="toy")                      # not in the package's registry


def test_auto_can_pick_a_registered_backend_and_runs_it():
    backends = BackendRegistry([BackendRecord("only", {"filter": filter_shift_add}, one_pass=True)])
    sel = AutoSelector(m=1)
    assert sel.choose(torch.randn(8, 1, 2), torch.randn(2, 2), 1, backends=backends) == "only"


def test_named_backends_fail_loudly():
    x = torch.randn(4, 1, 2)
    with pytest.raises(RuntimeError, match="temporal_filter backend='fused' runs on the CPU only"):
        resolve("fused", "filter", torch.empty(4, 1, 2, device="meta"))
    with pytest.raises(ValueError, match="for op 'lif', found 'conv1d'"):
        resolve("conv1d", "lif", x)
    with pytest.raises(RuntimeError, match="more than its bound"):
        resolve("toeplitz", "filter", torch.empty(2048, 1, 32, device="meta"))


def test_a_registry_refuses_bad_records():
    with pytest.raises(ValueError, match="name 'conv1d' given twice"):
        BACKENDS.with_records(BACKENDS["conv1d"])
    with pytest.raises(ValueError, match="'auto' is reserved"):
        BackendRegistry([BackendRecord("auto", {})])
    with pytest.raises(ValueError, match="unknown ops"):
        BackendRegistry([BackendRecord("x", {"convolve": filter_shift_add})])


def test_lif_auto_runs_a_backend_and_matches_the_loop():
    x = torch.rand(12, 2, 3) * 2
    assert torch.equal(LIF(backend="auto")(x), LIF(backend="loop")(x))
    with pytest.raises(ValueError, match="implements decay_input=True only"):
        LIF(backend="triton", decay_input=False)
