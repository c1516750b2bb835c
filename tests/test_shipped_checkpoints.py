"""Every shipped checkpoint loads (hash and config verified) and reproduces its card's accuracy on the
card's fixed held-out subset (the first N test samples of its task) within 1 point."""
from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from mfpsn.checkpoints import SHIPPED_DIR, available, load
from mfpsn.evaluate import evaluate_checkpoint
from mfpsn.paths import data_dir
from mfpsn.training.loop import evaluate

SHIPPED = available()
PIXEL_TASKS = ("smnist", "psmnist")
SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"
FASHION = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist (.ci/run installs it)
SHARED_FSDD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "fsdd"


@functools.lru_cache(maxsize=4)
def _held_out(task: str, T: int, split: str | None = None):
    """The held-out split of ``task`` (read once per module for all checkpoints of that task and split)."""
    from mfpsn.training.tasks import load_task

    root = None
    if task in PIXEL_TASKS or task in ("fsdd", "sfmnist"):  # the real data sets (CI has ../shared beside the clone)
        root = {"fsdd": SHARED_FSDD, "sfmnist": FASHION}.get(task, SHARED_MNIST)
        if not root.is_dir():
            pytest.skip(f"{task}: the data set is not at {root}" + (" (apt-get install dataset-fashion-mnist)"
                                                                    if task == "sfmnist" else ""))
    if task == "nmnist-sim":  # the committed MNIST heads hold the first 300 test digits, the cards' fixed subset
        root = data_dir("assets") / "mnist_subset"
    data = load_task(task, T=T, test_only=True, data_root=root, options=None if split is None else {"split": split})
    return data.test_x, data.test_y
EXPECTED_DVS = {f"dvs_digits_{n}" for n in ("mfpsn", "lif", "psn", "sliding_psn")}


def _spoken_digits_cached() -> bool:
    from mfpsn.data.spoken_digits import GeneratorConfig, _cache_is_current, default_root

    return _cache_is_current(default_root(), GeneratorConfig())


def _render_spoken_digits_subset(tmp_path, limit: int, T: int):
    """The first ``limit`` held-out spoken digits, rendered alone (the generator seeds every sample
    separately, so they equal the first ``limit`` samples of the full cached split) and binned by
    the ``shd`` task reader exactly as ``load_spoken_digits`` bins them."""
    from mfpsn.data import spoken_digits as sd
    from mfpsn.training.tasks import load_task

    cfg = sd.GeneratorConfig()
    specs = sd.plan_split(cfg, "test")[:limit]
    sd.write_split(tmp_path / "shd_test.h5", specs, sd.generate_split(specs, cfg, workers=2), cfg, "test")
    data = load_task("shd", data_root=tmp_path, T=T, test_only=True)
    return data.test_x, data.test_y


def test_the_dvs_digits_models_are_shipped_with_their_readme():
    assert EXPECTED_DVS <= {info.name for info in SHIPPED}
    readme = (SHIPPED_DIR / "README.md").read_text()
    assert "python -m mfpsn.experiments table" in readme and "± " in readme


@pytest.mark.parametrize("info", SHIPPED, ids=[info.name for info in SHIPPED])
def test_shipped_checkpoint_matches_its_card(info, tmp_path):
    ckpt = load(info.name)
    card = ckpt.card
    assert card["name"] == info.name and not ckpt.model.training
    # PSN keeps a T x T weight per layer: 4 x 784 x 784 float32 = 9.8 MB on sMNIST; every other model < 1 MB
    assert card["weights_bytes"] < (11_000_000 if card["model"]["neuron"] == "psn" else 1_000_000)
    subset = card["fixed_subset"]
    T = int(card["input"]["T"])
    if card["task"] != "spoken-digits" or _spoken_digits_cached():
        x, y = _held_out(card["task"], T, card["training"].get("task_options", {}).get("split"))
    else:  # render only the subset instead of generating the whole set (minutes)
        if shutil.which("espeak-ng") is None:
            pytest.skip("spoken digits are not cached and espeak-ng (apt-get install -y espeak-ng) is missing")
        x, y = _render_spoken_digits_subset(tmp_path, subset["limit"], T)
    correct, total = evaluate(ckpt.model, x[:subset["limit"]], y[:subset["limit"]])
    assert total == subset["limit"]
    assert abs(correct / total - subset["accuracy"]) <= 0.01, (correct / total, subset)


def test_evaluate_cli_reproduces_a_shipped_card_on_its_subset():
    info = next(i for i in SHIPPED if i.name == "dvs_digits_mfpsn")
    subset = load(info.name).card["fixed_subset"]
    result = evaluate_checkpoint(info.name, limit=subset["limit"])
    assert result["samples"] == subset["limit"] and abs(result["accuracy"] - subset["accuracy"]) <= 0.01


def test_readme_is_the_table_rendered_from_the_results_file():
    from mfpsn.experiments import read_results, render_readme

    results = read_results()
    assert (SHIPPED_DIR / "README.md").read_text() == render_readme(results)
    shipped_runs = {r["name"]: r for r in results if r.get("shipped")}
    for info in SHIPPED:  # every shipped card is the seed-0 run recorded in the results file
        assert shipped_runs[info.name]["seed"] == 0
        assert shipped_runs[info.name]["test_accuracy"] == info.test_accuracy


@pytest.mark.parametrize("info", SHIPPED, ids=lambda i: i.name)
def test_shipped_per_class_results_match_the_card(info):
    """Issue 13: every shipped checkpoint has its confusion matrix on the whole test split beside the card
    (``NAME.eval.json``, for these weights), and it agrees with the card's test accuracy and sample count."""
    from mfpsn.checkpoint_eval import read_eval
    from mfpsn.checkpoints import read_card

    ev = read_eval(info.path)
    card = read_card(info.path)
    assert ev is not None, f"no per-class results: python -m mfpsn.evaluate --checkpoint {info.name} --write-eval"
    assert ev.samples == card["test_samples"] and ev.accuracy == pytest.approx(card["test_accuracy"], abs=1e-12)
    assert list(ev.classes) == card["classes"]
