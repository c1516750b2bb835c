"""mfpsn.kernels keeps Triton optional: the package imports without it and each function then names the install
command; on CPU without the interpreter each function says what it needs. Each case runs in a fresh Python
process, because Triton reads TRITON_INTERPRET when a kernel is decorated and an import cannot be undone."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_import_without_triton_and_install_hint_on_call():
    code = """
import sys
sys.modules["triton"] = None  # makes `import triton` raise ImportError, as if it were not installed
import torch
import mfpsn.kernels as k
from mfpsn.functional.surrogate import ATan
assert k.triton_available() is False
x, w, th = torch.randn(4, 1, 2), torch.randn(2, 2), torch.zeros(2)
calls = [lambda: k.triton_temporal_filter(x, w, 1), lambda: k.fused_mfpsn_spikes(x, w, th, 1, ATan()),
         lambda: k.fused_lif(x), lambda: k.lagged_moments(x, 2, 1)]
for call in calls:
    try:
        call()
    except ImportError as err:
        assert "pip install triton" in str(err), err
    else:
        raise AssertionError("no ImportError")
print("ok")
"""
    done = _python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_backends_named_triton_raise_runtime_error_without_triton():
    """Callers that pick the Triton backend by name keep the contract: RuntimeError naming the install command."""
    code = """
import os, sys
os.environ["TRITON_INTERPRET"] = "1"  # past the device check of temporal_filter on a CPU tensor
sys.modules["triton"] = None
import torch
from mfpsn import MFPSN
from mfpsn.backends import temporal_filter
x = torch.randn(4, 1, 2)
calls = {"temporal_filter": lambda: temporal_filter(x, torch.randn(2, 2), 1, backend="triton"),
         "MFPSN eval": lambda: MFPSN(2, backend="triton").eval()(x),
         "MFPSN moments": lambda: MFPSN(2, backend="triton", stats="moments")(x)}
for name, call in calls.items():
    try:
        call()
    except RuntimeError as err:
        assert "pip install triton" in str(err), (name, err)
    else:
        raise AssertionError(f"{name}: no RuntimeError")
print("ok")
"""
    done = _python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only case: with CUDA visible the kernels would run")
def test_cpu_without_interpreter_says_what_is_needed():
    pytest.importorskip("triton", reason="needs triton installed to reach the device check")
    code = """
import torch
import mfpsn.kernels as k
from mfpsn.functional.surrogate import ATan
x, w, th = torch.randn(4, 1, 2), torch.randn(2, 2), torch.zeros(2)
calls = [lambda: k.triton_temporal_filter(x, w, 1), lambda: k.fused_mfpsn_spikes(x, w, th, 1, ATan()),
         lambda: k.fused_lif(x), lambda: k.lagged_moments(x, 2, 1)]
for call in calls:
    try:
        call()
    except RuntimeError as err:
        assert "CUDA" in str(err) and "TRITON_INTERPRET=1" in str(err), err
    else:
        raise AssertionError("no RuntimeError")
print("ok")
"""
    done = _python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_kernels_compile_for_sm90_without_a_gpu():
    """The interpreter accepts programs the compiler may reject: lower the three most involved kernels (3-D
    lagged tiles, loop-carried BPTT state) through Triton's real compiler for cuda:90, no GPU needed."""
    pytest.importorskip("triton", reason="needs triton installed")
    code = """
from mfpsn.tools.aot_check import compile_variant, variants
wanted = ("grad_stats fp32 fused=True surr=0", "moments fp32", "lif_bwd fp32 hard=False detach=False surr=2")
for label, kernel, sig, consts in variants(("fp32",)):
    if label in wanted:
        ptx = compile_variant(kernel, sig, consts, 90)
        assert ".target sm_90" in ptx, label
print("ok")
"""
    done = _python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
