"""The integer-path rows: float and integer accuracy of a checkpoint on its test split, and their table."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from mfpsn.checkpoints import save
from mfpsn.experiments_integer import main, render_section
from mfpsn.models import SeqFCNet
from mfpsn.training.tasks import load_task

SUBSET = Path(__file__).resolve().parent.parent / "assets" / "mnist_subset"


def test_rows_are_measured_and_rendered(tmp_path, monkeypatch):
    data = load_task("smnist", data_root=SUBSET, test_only=True)
    torch.manual_seed(0)
    model = SeqFCNet(hidden=4, n_layers=2, neuron="mfpsn", order=4).eval()
    save(model, tmp_path, "smnist_tiny", task="smnist", classes=data.classes, input_spec=data.input_spec,
         training={}, seed=0, test_accuracy=0.1, test_samples=300, fixed_subset={"limit": 1, "accuracy": 0.0})
    results = tmp_path / "results.jsonl"
    assert main(["run", f"{tmp_path / 'smnist_tiny.json'}={SUBSET}", "--limit", "20",
                 "--results", str(results)]) == 0
    row = json.loads(results.read_text())
    assert row["samples"] == 20 and row["group"] == "integer"
    assert abs(row["integer_accuracy"] - row["float_accuracy"]) <= 0.1  # 16 fractional bits: near-identical spikes
    text = "\n".join(render_section([row]))
    assert "| smnist_tiny | smnist | 20 |" in text
