"""Multiplication-free integer inference (spec §2.7): equal spikes, and no multiply on the data."""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mfpsn.functional import pow2_quantize, temporal_filter_ref
from mfpsn.integer import IntegerMFPSN, to_fixed_point

MULTIPLY_OPS = ("mul", "mm", "bmm", "matmul", "addmm", "addcmul", "conv", "convolution", "einsum", "dot",
                "mv", "baddbmm", "ldexp", "pow", "div", "linear")
ALLOWED_OPS = {"bitwise_left_shift", "add", "sub", "where", "ge", "zeros_like", "slice", "copy_", "view",
               "_to_copy", "empty_like", "zero_", "fill_", "abs", "max", "lt", "gt", "_reshape_alias",
               "reshape", "alias", "detach", "clone", "lift_fresh", "unsqueeze", "expand", "scalar_tensor",
               "_local_scalar_dense", "full_like", "item", "select", "index_put_", "empty_strided",
               "new_zeros", "resize_"}


class OpRecorder(TorchDispatchMode):
    """Records the base name of every aten op that runs (e.g. 'bitwise_left_shift')."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def _float_spikes(x: torch.Tensor, taps_q: torch.Tensor, theta: torch.Tensor, d: int) -> torch.Tensor:
    """The float quantized path computed in float64: Θ(filter(x, W_q) − θ)."""
    h = temporal_filter_ref(x.double(), taps_q.double(), d)
    return (h >= theta.double().reshape(-1, *([1] * (x.dim() - 3)))).to(torch.uint8)


def _fixed_point_input(shape, frac_bits, scale=3.0):
    return torch.round(torch.randn(*shape, dtype=torch.float64) * scale * 2**frac_bits) / 2**frac_bits


@pytest.mark.parametrize("shape,k,d,f", [((13, 2, 5), 3, 2, 6), ((9, 1, 3, 4, 3), 4, 3, 4),
                                         ((7, 3, 4), 1, 1, 0), ((6, 2, 3), 3, 4, 8)])
def test_integer_spikes_equal_float_quantized_path(shape, k, d, f):
    C = shape[2]
    taps_q = pow2_quantize(torch.randn(C, k, dtype=torch.float64) * 2, exp_min=-6, exp_max=3)
    taps_q[0, 0] = 0.0
    theta = torch.randn(C, dtype=torch.float64)
    x = _fixed_point_input(shape, f)
    layer = IntegerMFPSN.from_folded(taps_q, theta, d, f)
    spikes = layer(to_fixed_point(x, f))
    ref = _float_spikes(x, taps_q, theta, d)
    assert spikes.dtype == torch.uint8
    assert torch.equal(spikes, ref)
    assert 0 < int(ref.sum()) < ref.numel()  # both classes occur, so the test can fail


def test_threshold_exactly_on_the_membrane_fires():
    # H = 0.5·x with x = 2 gives H = 1 = θ: Θ(0) = 1 must fire in both paths
    taps_q = torch.tensor([[0.5]], dtype=torch.float64)
    theta = torch.tensor([1.0], dtype=torch.float64)
    x = torch.tensor([[[2.0]], [[1.75]]], dtype=torch.float64)  # [T=2, B=1, C=1]
    layer = IntegerMFPSN.from_folded(taps_q, theta, 1, 2)
    assert layer(to_fixed_point(x, 2)).flatten().tolist() == [1, 0]
    assert _float_spikes(x, taps_q, theta, 1).flatten().tolist() == [1, 0]


def test_no_multiplication_runs_on_the_data():
    C, k, d, f = 4, 3, 2, 5
    taps_q = pow2_quantize(torch.randn(C, k, dtype=torch.float64))
    layer = IntegerMFPSN.from_folded(taps_q, torch.randn(C, dtype=torch.float64), d, f)
    x_int = to_fixed_point(_fixed_point_input((10, 2, C), f), f)
    with OpRecorder() as rec:
        layer(x_int)
    assert rec.ops, "the recorder saw no op: the test would prove nothing"
    assert "bitwise_left_shift" in rec.ops
    used = set(rec.ops)
    assert not {op for op in used if any(op == m or op.startswith(m + "_") for m in MULTIPLY_OPS)}, used
    assert used <= ALLOWED_OPS, f"unexpected ops on the data: {sorted(used - ALLOWED_OPS)}"


def test_recorder_would_catch_a_multiply():
    with OpRecorder() as rec:
        torch.ones(3, dtype=torch.int64) * torch.ones(3, dtype=torch.int64)
    assert "mul" in rec.ops


def test_inexact_fixed_point_is_refused():
    with pytest.raises(ValueError, match="at most 2 fractional bits"):
        to_fixed_point(torch.tensor([0.1]), 2)
    assert to_fixed_point(torch.tensor([0.1]), 2, round_mode="nearest").item() == 0


def test_unquantized_taps_are_refused():
    with pytest.raises(ValueError, match="quantized"):
        IntegerMFPSN.from_folded(torch.tensor([[0.3]]), torch.zeros(1), 1, 4)


def test_float_input_is_refused():
    layer = IntegerMFPSN.from_folded(torch.tensor([[1.0]]), torch.zeros(1), 1, 0)
    with pytest.raises(ValueError, match="int64"):
        layer(torch.zeros(3, 1, 1))


def test_accumulator_overflow_is_refused():
    layer = IntegerMFPSN.from_folded(torch.tensor([[2.0**40, 2.0**-20]]), torch.zeros(1), 1, 0)
    with pytest.raises(ValueError, match="accumulator"):
        layer(torch.full((3, 1, 1), 2**10, dtype=torch.int64))


def test_from_module_matches_the_eval_module():
    from mfpsn.neurons import MFPSN

    torch.manual_seed(1)
    C, k, d, f = 6, 3, 2, 6
    layer = MFPSN(C, order=k, dilation=d, exp_min=-8, exp_max=7)
    x_train = torch.randn(12, 4, C)
    layer.train()
    layer(x_train)  # one training step updates the running statistics
    layer.eval()
    x = _fixed_point_input((12, 3, C), f, scale=1.0).float()
    taps_q, theta = layer.folded()
    integer = IntegerMFPSN.from_module(layer, f)
    spikes = integer(to_fixed_point(x.double(), f))
    assert torch.equal(spikes, _float_spikes(x, taps_q, theta, d))
    # and the float32 module agrees wherever it is not within rounding of the threshold
    with torch.no_grad():
        module_spikes = layer(x).to(torch.uint8)
    h = temporal_filter_ref(x.double(), taps_q.double(), d)
    clear = (h - theta.double().reshape(C)).abs() > 1e-5
    assert torch.equal(module_spikes[clear], spikes[clear])
