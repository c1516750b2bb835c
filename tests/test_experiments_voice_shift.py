"""The voice-shift evaluation of the spoken-digit checkpoints (on the bundled FSDD subset)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mfpsn.card_inputs import audio_input
from mfpsn.checkpoints import read_card, resolve
from mfpsn.data.wav import read_wav
from mfpsn.experiments_voice_shift import evaluate_shifts, main, render, shifted_inputs

SUBSET = Path(__file__).resolve().parent.parent / "assets" / "fsdd_subset"


def test_factor_one_is_the_card_path_and_other_factors_move_the_input():
    card = read_card(resolve("fsdd_mfpsn"))
    path = SUBSET / "3_jackson_0.wav"
    x = shifted_inputs([path], card, 1.0)
    a, rate = read_wav(path)
    assert np.array_equal(x[0], audio_input(a, rate, card)[:, 0].numpy())
    faster = shifted_inputs([path], card, 1.25)
    assert faster.shape == x.shape and not np.array_equal(faster, x)
    with pytest.raises(ValueError, match="factor > 0"):
        shifted_inputs([path], card, 0.0)


def test_evaluate_the_unseen_speaker_model_on_the_subset(tmp_path):
    rows = evaluate_shifts("fsdd_mfpsn_unseen_yweweler", SUBSET, [1.0, 1.2], progress=False)
    yweweler = sorted(SUBSET.glob("*_yweweler_*.wav"))
    assert [r.factor for r in rows] == [1.0, 1.2]
    assert all(r.total == len(yweweler) > 0 and r.split == "speaker:yweweler" for r in rows)
    assert rows[0].correct == len(yweweler)       # the app's test: every bundled yweweler file right
    table = render(rows)
    assert table.splitlines()[0] == "| checkpoint | tested on | card | × 1 | × 1.2 |"
    assert f"speaker:yweweler ({len(yweweler)} recordings)" in table


def test_main_writes_json_and_markdown(tmp_path):
    out = tmp_path / "shift"
    assert main(["--checkpoints", "fsdd_lif", "--factors", "1.0", "--data-root", str(SUBSET), "--out", str(out)]) == 0
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["rows"][0]["checkpoint"] == "fsdd_lif" and 0 <= saved["rows"][0]["accuracy"] <= 1
    assert "date_utc" in saved["machine"] and saved["command"].endswith(f"--out {out}")
    assert out.with_suffix(".md").read_text().startswith("| checkpoint |")


def test_a_checkpoint_without_audio_input_is_refused():
    with pytest.raises(ValueError, match="does not take audio"):
        evaluate_shifts("smnist_mfpsn", SUBSET, [1.0], progress=False)


def test_the_readme_table_is_the_recorded_run():
    """Every number of the README's voice-shift table comes from results/fsdd_voice_shift.json."""
    root = Path(__file__).resolve().parent.parent
    saved = json.loads((root / "results" / "fsdd_voice_shift.json").read_text())
    acc = {(r["checkpoint"], r["factor"]): 100 * r["accuracy"] for r in saved["rows"]}
    lines = [ln for ln in (root / "README.md").read_text().splitlines() if ln.startswith("| `fsdd_")]
    assert len(lines) == 3
    factors = [0.85, 1.0, 1.1, 1.2, 1.3, 1.4]
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = cells[0].strip("`")
        assert [float(c) for c in cells[2:]] == [round(acc[(name, f)], 1) for f in factors], name
