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


def test_train_step_rows_run_on_cpu_and_are_judged_against_psn(tmp_path):
    """The training-step group on a tiny SeqImageNet: every config runs a real step (the parameters move), the
    verdict compares each MFPSN row with PSN, and the rows land in the JSON; timings are not asserted."""
    from mfpsn.bench import train_step
    from mfpsn.models import build_model

    cfg = {"arch": "seq_image_net", "num_classes": 3, "T": 5, "in_channels": 1, "length": 8, "width": 3,
           "fc_width": 4, "neuron": "mfpsn", "order": 3, "neuron_options": {"backend": "triton"}}
    model = build_model(cfg)
    before = [p.detach().clone() for p in model.parameters()]
    step = train_step.train_step_fn(model, torch.rand(5, 1, 1, 8), torch.tensor([2]))
    step()
    assert all(p.grad is not None for p in model.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))

    rows = train_step.time_train_steps(torch.device("cpu"), T=5, batch=1, in_channels=1, length=8,
                                       width=3, fc_width=4, order=3, num_classes=3, warmup=1, runs=1,
                                       log=lambda *_: None)
    assert [(r.impl, r.neuron) for r in rows] == [("MFPSN triton", "mfpsn"), ("MFPSN auto", "mfpsn"),
                                                  ("PSN", "psn")]
    assert all(r.error is None and r.step_ms > 0 for r in rows), rows
    verdicts = train_step.step_verdicts(rows)
    assert len(verdicts) == 2 and all("/ PSN" in v and "1.25–2.4×" in v for v in verdicts)
    assert all(("met" in v) != ("MISSED" in v) for v in verdicts)
    psn_less = train_step.step_verdicts(rows[:2])
    assert all("not measured" in v for v in psn_less)

    skipped = train_step.time_train_steps(torch.device("cpu"), T=5, batch=1, in_channels=1, length=8,
                                          width=3, fc_width=4, order=3, num_classes=3, warmup=0, runs=1,
                                          deadline=-1.0, log=lambda *_: None)
    assert all(r.step_ms is None and r.error.startswith("skipped") for r in skipped)
    assert all("not measured" in v for v in train_step.step_verdicts(skipped))

    path = gpu_check.write_report(tmp_path, gpu_check._versions(), [], rows)
    saved = json.loads(path.read_text(encoding="utf-8"))["train_step_rows"]
    assert [r["impl"] for r in saved] == ["MFPSN triton", "MFPSN auto", "PSN"]
    assert all(r["step_ms"] > 0 and r["T"] == 5 for r in saved)


def test_train_step_records_a_failing_config():
    from mfpsn.bench import train_step

    rows = train_step.time_train_steps(torch.device("cpu"), T=4, batch=1,
                                       in_channels=1, length=8, width=2, fc_width=2, order=2, num_classes=2,
                                       warmup=0, runs=1, configs=(("bad", "mfpsn", "no_such_impl"),),
                                       log=lambda *_: None)
    assert rows[0].step_ms is None and "backend" in rows[0].error
