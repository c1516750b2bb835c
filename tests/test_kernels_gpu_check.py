"""The GPU check script's own logic, without a GPU: the sweep runs end to end on tiny CPU inputs through the
Triton interpreter (timings there mean nothing and are not asserted), failures are recorded instead of numbers,
and ``main()`` refuses to run without CUDA."""
import json
import os

import torch

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402

pytest.importorskip("triton", reason="the sweep's kernel rows need triton (pip install triton)")

from mfpsn.bench import gpu_check  # noqa: E402

CORE = ("copy (floor)", "MFPSN triton", "conv1d", "shift_add", "toeplitz", "LIF fused kernel")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU smoke run; on CUDA run python -m mfpsn.bench.gpu_check")
def test_sweep_runs_every_row_and_records_failures(monkeypatch, tmp_path):
    real = gpu_check._implementations

    def with_broken_row(case):
        def broken():
            raise RuntimeError("no such implementation here")
        return real(case) + [("broken", broken)]

    monkeypatch.setattr(gpu_check, "_implementations", with_broken_row)
    rows = gpu_check.sweep(torch.device("cpu"), total=2 ** 8, channels=4, timesteps=(4, 8), order=3, dilation=2,
                           warmup=0, runs=1, log=lambda *_: None)
    by = {(r.impl, r.T): r for r in rows}
    for T in (4, 8):
        for name in CORE:
            row = by[(name, T)]
            assert row.error is None and row.fwd_ms > 0 and row.fwdbwd_ms > 0, row
            assert row.N == (2 ** 8 // (T * 4)) * 4
        broken = by[("broken", T)]
        assert broken.fwd_ms is None and broken.fwdbwd_ms is None and "no such implementation" in broken.error
    path = gpu_check.write_report(tmp_path, gpu_check._versions(), rows)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["torch"] == torch.__version__ and saved["date_utc"][:10] in path.name
    assert {(r["impl"], r["T"]) for r in saved["rows"]} == set(by)
    assert all(r["fwd_ms"] is None for r in saved["rows"] if r["impl"] == "broken")
    table = gpu_check.format_table(rows)
    assert table.splitlines()[0] == "| implementation | T = 4 | T = 8 |"
    assert "| broken | FAILED | FAILED |" in table
    assert len(gpu_check.target_checks(rows)) == 2


def test_sweep_skips_rows_once_the_budget_is_spent():
    rows = gpu_check.sweep(torch.device("cpu"), total=2 ** 6, channels=2, timesteps=(4,), order=2, dilation=1,
                           warmup=0, runs=1, budget_s=-1.0, log=lambda *_: None)
    assert rows and all(r.fwd_ms is None and r.error.startswith("skipped") for r in rows)
    assert "skipped" in gpu_check.format_table(rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_main_without_cuda_writes_nothing(tmp_path, capsys):
    assert gpu_check.main(["--gpu-check", "--out", str(tmp_path / "gpu")]) == 2
    assert "no CUDA device" in capsys.readouterr().out
    assert not (tmp_path / "gpu").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA the same command runs the GPU tests for real")
def test_run_tests_command_collects_the_cuda_tests():
    """The child pytest command is valid: without CUDA it collects the cuda-marked tests and skips them."""
    result = gpu_check.run_tests(timeout_s=120)
    assert result["status"] == "passed", result
    assert "skipped" in result["summary"] and "needs a CUDA device" in result["summary"]
