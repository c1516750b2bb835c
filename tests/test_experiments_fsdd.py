"""The FSDD experiment plan, budget, README section and card annotation (no training)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mfpsn.checkpoints import load, save
from mfpsn.experiments_fsdd import (BUDGET, ROWS, SPEAKERS, FsddRun, annotate_shipped, epochs_of, main, plan,
                                    render_section, train_size)
from mfpsn.models import SHDNet

SUBSET = Path(__file__).resolve().parent.parent / "assets" / "fsdd_subset"


def test_plan_keys_are_unique_and_shipped_runs_come_first():
    runs = plan()
    assert len({r.key for r in runs}) == len(runs)
    assert [r.ship for r in runs[:len(ROWS)]] == [True] * len(ROWS)
    later = [r for r in runs[len(ROWS):] if r.ship]                 # one more shipped: the unseen-speaker model
    assert [(r.name, r.group, r.split) for r in later] == [("fsdd_mfpsn_unseen_yweweler", "loso-shipped",
                                                            "speaker:yweweler")]
    assert later[0].key.endswith("/shipped") and later[0].key.replace("/shipped", "") in {r.key for r in runs}
    assert {r.split for r in runs if r.group == "loso"} == {f"speaker:{s}" for s in SPEAKERS}
    assert runs[0].name == "fsdd_mfpsn"


def test_every_run_gets_the_same_number_of_presentations():
    clean = FsddRun("lif", "speaker:george", 0, group="loso-noaug")
    augmented = FsddRun("lif", "speaker:george", 4, espeak=3)
    shipped = FsddRun("lif", "official", 4, espeak=3, group="official", ship=True)
    assert train_size(clean, str(SUBSET)) == 24
    assert train_size(augmented, str(SUBSET)) == (24 + 3 * 10 * 16) * 5
    for run in (clean, augmented, shipped):
        assert abs(epochs_of(run, str(SUBSET)) * train_size(run, str(SUBSET)) - BUDGET["presentations"]) \
            <= train_size(run, str(SUBSET))


def _row(label: str, group: str, split: str, acc: float) -> dict:
    return {"group": group, "label": label, "split": split, "test_accuracy": acc, "train_seconds_per_epoch": 10.0,
            "spikes_per_sample": 100.0, "energy_nj_per_sample": 2000.0}


def test_readme_section_is_computed_from_the_rows():
    assert render_section([]) == []
    rows = [_row("mfpsn_k8", "fsdd-loso", "speaker:george", 0.8), _row("mfpsn_k8", "fsdd-loso", "speaker:lucas", 0.9),
            _row("mfpsn_k8", "fsdd-official", "official", 0.95), _row("lif", "fsdd-loso-noaug", "speaker:lucas", 0.5)]
    text = "\n".join(render_section(rows))
    assert "85.0 ± 7.1 (2 speakers)" in text and "george 80.0, lucas 90.0" in text and "| 95.0 |" in text
    assert "50.0 (1 speakers)" in text


def test_annotate_writes_the_speaker_disjoint_accuracy_and_re_signs(tmp_path):
    torch.manual_seed(0)
    model = SHDNet(in_features=140, num_classes=10, T=100, hidden=4, n_hidden=1, neuron="mfpsn", order=2)
    save(model, tmp_path, "fsdd_mfpsn", task="fsdd", classes=[str(i) for i in range(10)],
         input_spec={"T": 100}, training={}, seed=0, test_accuracy=0.9, test_samples=250,
         fixed_subset={"limit": 1, "accuracy": 1.0})
    rows = [_row("mfpsn_k8", "fsdd-loso", "speaker:george", 0.8), _row("mfpsn_k8", "fsdd-loso", "speaker:lucas", 0.6)]
    assert annotate_shipped(rows, tmp_path) == [tmp_path / "fsdd_mfpsn.json"]
    card = load(tmp_path / "fsdd_mfpsn.json").card  # verifies: re-signed
    assert card["speaker_disjoint_accuracy"] == pytest.approx(0.7)
    assert card["speaker_disjoint"]["per_held_out_speaker"] == {"george": 0.8, "lucas": 0.6}


def test_unknown_key_is_a_usage_error():
    with pytest.raises(SystemExit):
        main(["one", "fsdd/budget/official/gru/aug0/seed0"])
