"""nmnist-sim results rows and their README section (mfpsn.experiments_nmnist_sim)."""
from __future__ import annotations

import json

import pytest

from mfpsn import experiments_nmnist_sim as ex
from mfpsn.paths import data_dir


def test_record_writes_one_row_per_checkpoint_and_replaces_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MFPSN_DATA", str(tmp_path / "cache"))
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps({"key": "other/run", "group": "main"}) + "\n")
    root = str(data_dir("assets") / "mnist_subset")
    for _ in range(2):
        ex.record(["nmnist_sim_mfpsn"], data_root=root, results=results)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["key"] for r in rows] == ["other/run", "nmnist-sim/mfpsn/seed0"]
    row = rows[1]
    assert row["shipped"] and row["name"] == "nmnist_sim_mfpsn" and row["train_samples"] == 6000
    assert row["spikes_per_sample"] > 0 and row["energy_nj_per_sample"] > 0


def test_record_refuses_another_task():
    with pytest.raises(ValueError, match="expected task 'nmnist-sim', found 'dvs-digits'"):
        ex.card_row("dvs_digits_mfpsn", data_root=".")


def test_section_averages_over_seeds():
    base = {"group": ex.GROUP, "order": 2, "dilations": "sawtooth", "n_parameters": 10, "train_samples": 6000,
            "epochs": 5, "batch_size": 32, "test_samples": 10000, "train_seconds_per_epoch": 10.0,
            "spikes_per_sample": 5.0, "energy_nj_per_sample": 2000.0}
    rows = [{**base, "neuron": "mfpsn", "seed": 1, "test_accuracy": 0.96},
            {**base, "neuron": "mfpsn", "seed": 0, "test_accuracy": 0.98},
            {**base, "neuron": "lif", "seed": 0, "test_accuracy": 0.9}]
    text = "\n".join(ex.render_section(rows))
    assert "| MFPSN (k = 2, sawtooth) | 97.00 ± 1.41 | 2 (0, 1) | 10 | 10 | 5 | 2.00 |" in text
    assert "| LIF (τ = 2, hard reset) | 90.00 (1 seed) | 1 (0) |" in text
    assert ex.render_section([{"group": "main"}]) == []
