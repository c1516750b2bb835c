"""Training loop and CLIs on tiny data: learning, determinism, exact resume, MaskedPSN annealing,
cards and the evaluation CLI, the real-data readers on hand-made files, the CIFAR pickle guard."""
from __future__ import annotations

import argparse
import json
import math
import pickle

import numpy as np
import pytest
import torch

from mfpsn.checkpoint_eval import eval_path, read_eval
from mfpsn.checkpoints import CheckpointError, available, load
from mfpsn.evaluate import evaluate_checkpoint, main as evaluate_main
from mfpsn.train import main as train_main, parse_dilations
from mfpsn.training.cifar import UnsafePickleError, read_batch, read_cifar10
from mfpsn.training.loop import TrainConfig, fit
from mfpsn.training.tasks import load_task


def _cfg(tmp_path, run: str, **kw) -> TrainConfig:
    base = dict(task="random", neuron="mfpsn", epochs=2, batch_size=16, lr=1e-2, seed=1, progress=False,
                run_dir=str(tmp_path / run), subset=20)
    base.update(kw)
    return TrainConfig(**base)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_fit_learns_the_random_task_and_writes_a_card(tmp_path):
    result = fit(_cfg(tmp_path, "run", epochs=3, out=str(tmp_path / "ck"), name="tiny"))
    assert len(result.history) == 3
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.test_accuracy > 0.6  # 3 classes: chance is 1/3
    ckpt = load(tmp_path / "ck" / "tiny.json")
    assert ckpt.card["test_accuracy"] == result.test_accuracy
    assert ckpt.card["training"]["seed"] == 1 and ckpt.card["fixed_subset"]["limit"] == 20
    assert len(ckpt.card["history"]) == 3
    subset = evaluate_checkpoint(str(tmp_path / "ck" / "tiny.json"), limit=20)
    assert subset["accuracy"] == ckpt.card["fixed_subset"]["accuracy"] and subset["samples"] == 20
    whole = evaluate_checkpoint(str(tmp_path / "ck" / "tiny.json"))
    assert whole["accuracy"] == ckpt.card["test_accuracy"] and whole["samples"] == 48
    # training wrote the per-class results of its last evaluation beside the card; evaluate reproduces them
    ev = read_eval(tmp_path / "ck" / "tiny.json")
    assert ev is not None and ev.samples == 48 and ev.accuracy == ckpt.card["test_accuracy"]
    assert [list(r) for r in ev.confusion] == whole["confusion"].tolist()
    assert [i.name for i in available(tmp_path / "ck")] == ["tiny"]  # the sidecar is not listed as a checkpoint


def test_eval_sidecar_refuses_stale_or_malformed_files(tmp_path):
    fit(_cfg(tmp_path, "run", epochs=1, out=str(tmp_path / "ck"), name="tiny"))
    card = tmp_path / "ck" / "tiny.json"
    side = eval_path(card)
    good = json.loads(side.read_text())
    cases = {"other weights": {**good, "weights_sha256": "0" * 64},
             "classes": {**good, "classes": ["a", "b", "c"]},
             "sum to": {**good, "samples": good["samples"] + 1},
             "non-negative integers": {**good, "confusion": [[-1, 0, 0], [0, 0, 0], [0, 0, 0]]},
             "format": {**good, "format": 2}}
    for needle, obj in cases.items():
        side.write_text(json.dumps(obj))
        with pytest.raises(CheckpointError, match=needle) as err:
            read_eval(card)
        assert str(side) in str(err.value)
    side.write_text("{not json")
    with pytest.raises(CheckpointError, match="not a JSON"):
        read_eval(card)
    side.unlink()
    assert read_eval(card) is None
    assert evaluate_main(["--checkpoint", str(card), "--write-eval"]) == 0  # the CLI writes it back
    assert json.loads(side.read_text()) == good
    with pytest.raises(SystemExit):
        evaluate_main(["--checkpoint", str(card), "--write-eval", "--limit", "3"])


def test_same_seed_gives_the_same_weights_and_resume_is_exact(tmp_path):
    straight = fit(_cfg(tmp_path, "a", neuron="plif"))
    again = fit(_cfg(tmp_path, "b", neuron="plif"))
    _same_weights(straight.model, again.model)
    half = fit(_cfg(tmp_path, "c", neuron="plif", stop_after=1))
    assert len(half.history) == 1
    resumed = fit(_cfg(tmp_path, "c", neuron="plif", resume=True))
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    _same_weights(straight.model, resumed.model)
    assert resumed.history[1]["train_loss"] == straight.history[1]["train_loss"]
    other_seed = fit(_cfg(tmp_path, "d", neuron="plif", seed=2, epochs=1))
    assert not torch.equal(other_seed.model.fc.weight, straight.model.fc.weight)


def test_resume_with_another_config_is_refused(tmp_path):
    fit(_cfg(tmp_path, "r", neuron="lif", epochs=2, stop_after=1))
    with pytest.raises(ValueError, match=r"run config differs in \['lr'\]"):
        fit(_cfg(tmp_path, "r", neuron="lif", epochs=2, lr=0.5, resume=True))


def test_resume_from_a_broken_or_torn_state_is_refused_naming_the_file(tmp_path):
    fit(_cfg(tmp_path, "s", neuron="lif", epochs=3, stop_after=1))
    run = tmp_path / "s"
    meta = json.loads((run / "last.json").read_text())
    (run / "last.json").write_text(json.dumps(dict(meta, next_epoch=meta["next_epoch"] + 1)))
    with pytest.raises(ValueError, match="a save was interrupted"):  # tensors of one epoch, meta of another
        fit(_cfg(tmp_path, "s", neuron="lif", epochs=3, resume=True))
    (run / "last.json").write_text("{not json")
    with pytest.raises(ValueError, match="last.json.*unreadable"):
        fit(_cfg(tmp_path, "s", neuron="lif", epochs=3, resume=True))
    (run / "last.json").write_text(json.dumps(meta))
    (run / "last.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="last.safetensors.*unreadable"):
        fit(_cfg(tmp_path, "s", neuron="lif", epochs=3, resume=True))


def test_masked_psn_lambda_is_annealed_per_epoch(tmp_path):
    result = fit(_cfg(tmp_path, "m", neuron="masked_psn", epochs=3, order=2))
    lambdas = [float(m.lambda_) for m in result.model.modules() if hasattr(m, "lambda_")]
    assert lambdas == [1.0]  # epoch 2 of 3: min(1, 8 * 2 / 2)
    half = fit(_cfg(tmp_path, "m2", neuron="masked_psn", epochs=17, stop_after=1, order=2))
    assert [float(m.lambda_) for m in half.model.modules() if hasattr(m, "lambda_")] == [0.0]


def test_train_and_evaluate_clis(tmp_path, capsys):
    out = tmp_path / "ck"
    assert train_main(["--task", "random", "--neuron", "sliding_psn", "--epochs", "1", "--batch-size", "16",
                       "--out", str(out), "--name", "cli", "--run-dir", str(tmp_path / "run"), "--no-progress",
                       "--subset", "10", "--dilations", "none"]) == 0
    card = json.loads((out / "cli.json").read_text())
    assert card["model"]["neuron"] == "sliding_psn" and card["training"]["dilations"] == "none"
    assert evaluate_main(["--checkpoint", str(out / "cli.json"), "--limit", "10",
                          "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["accuracy"] == card["fixed_subset"]["accuracy"] and result["samples"] == 10
    assert "accuracy" in capsys.readouterr().out


def test_parse_dilations():
    assert parse_dilations("sawtooth") == "sawtooth" and parse_dilations("none") == "none"
    assert parse_dilations("1,2,3") == [1, 2, 3]
    for bad in ("0,1", "a", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_dilations(bad)


def test_clis_report_bad_settings_as_usage_errors(capsys):
    for cli, args, found in ((train_main, ["--task", "nmnist", "--epochs", "1"], "nothing is downloaded"),
                             (evaluate_main, ["--checkpoint", "no_such_checkpoint"], "no model card found")):
        with pytest.raises(SystemExit) as exc:
            cli(args)
        assert exc.value.code == 2
        assert found in capsys.readouterr().err


def test_seq_digits_task_reads_columns_as_time():
    from sklearn.datasets import load_digits

    data = load_task("seq-digits")
    assert data.train_x.shape[1:] == (8, 1, 8) and data.train_x.shape[0] + data.test_x.shape[0] == 1797
    images = load_digits().images / 16.0
    first = data.train_x[0]  # the first training digit is digit 0 unless it went to the test split
    index = 0 if torch.equal(first[:, 0, :], torch.from_numpy(images[0].T).float()) else None
    assert index == 0 or torch.equal(data.test_x[0][:, 0, :], torch.from_numpy(images[0].T).float())
    with pytest.raises(ValueError, match="one step per image column"):
        load_task("seq-digits", T=16)


def test_real_data_tasks_need_a_root():
    for task in ("nmnist", "shd", "cifar10"):
        with pytest.raises(ValueError, match="nothing is downloaded"):
            load_task(task)
    with pytest.raises(ValueError, match="task: expected one of"):
        load_task("imagenet")


def test_nmnist_folders_are_read_through_read_events(tmp_path):
    from mfpsn.events import Events, write_nmnist

    for split, n in (("Train", 2), ("Test", 1)):
        for digit in (3, 7):
            (tmp_path / split / str(digit)).mkdir(parents=True)
            for i in range(n):
                t = np.array([0, 100, 200, 300 + 10 * i], np.int64)
                ev = Events(t, np.array([1, 2, 3, digit]), np.array([4, 5, 6, 7]), np.array([1, 0, 1, 1]), 34, 34)
                write_nmnist(tmp_path / split / str(digit) / f"{i}.bin", ev)
    data = load_task("nmnist", data_root=tmp_path, T=2)
    assert data.train_x.shape == (4, 2, 2, 34, 34) and data.train_y.tolist() == [3, 3, 7, 7]
    assert data.test_x.shape == (2, 2, 2, 34, 34) and data.train_x[0].sum() == 4
    assert data.train_x[2, :, 1, 7, 7].sum() == 1  # the digit-7 sample's last event: ON at (x=7, y=7)


def test_shd_files_are_binned(tmp_path):
    from mfpsn.events import write_shd_h5

    for split in ("train", "test"):
        times = [np.array([0.001, 0.002, 0.016]), np.array([0.5])]
        units = [np.array([0, 4, 699]), np.array([10])]
        write_shd_h5(tmp_path / f"shd_{split}.h5", times, units, np.array([1, 19]))
    data = load_task("shd", data_root=tmp_path, T=3)
    assert data.train_x.shape == (2, 3, 140) and data.train_y.tolist() == [1, 19]
    assert data.train_x[0, 0, 0] == 2 and data.train_x[0, 1, 139] == 1  # units 0 and 4 pool into channel 0
    assert data.train_x[1].sum() == 0  # 0.5 s lies beyond the 3 bins of 10 ms


def _cifar_batch(path, n=4):
    data = np.arange(n * 3072, dtype=np.int64).astype(np.uint8).reshape(n, 3072)
    path.write_bytes(pickle.dumps({b"data": data, b"labels": list(range(n))}, protocol=2))
    return data


def test_cifar_needs_an_explicit_opt_in_and_refuses_foreign_globals(tmp_path):
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        _cifar_batch(tmp_path / name)
    with pytest.raises(UnsafePickleError, match="allow_pickle=True"):
        read_cifar10(tmp_path)
    with pytest.warns(UserWarning, match="restricted unpickler"):
        (tx, ty), (vx, vy) = read_cifar10(tmp_path, allow_pickle=True)
    assert tx.shape == (20, 3, 32, 32) and vy.tolist() == [0, 1, 2, 3] and float(tx.max()) <= 1.0
    evil = tmp_path / "evil"
    evil.write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")
    with pytest.raises(UnsafePickleError, match="refusing global os.system"):
        read_batch(evil)


def test_mixed_precision_is_gpu_only():
    from mfpsn.training.loop import _autocast

    cpu = torch.device("cpu")
    assert _autocast(cpu, "auto") is None and _autocast(cpu, "off") is None
    with pytest.raises(ValueError, match="needs a CUDA device"):
        _autocast(cpu, "bf16")
    with pytest.raises(ValueError, match="amp: expected one of"):
        _autocast(cpu, "fp8")


def test_experiment_plan_and_table():
    from mfpsn.experiments import plan, render_readme

    runs = plan(["main", "ablation"], [0, 1], [0])
    keys = [r.key for r in runs]
    assert len(keys) == len(set(keys))
    assert "ablation/mfpsn/k2/sawtooth/seed0" not in keys and "ablation/mfpsn/k1/none/seed0" not in keys
    assert [r.name for r in runs if r.ship] == ["dvs_digits_mfpsn", "dvs_digits_lif", "dvs_digits_psn",
                                                "dvs_digits_sliding_psn"]
    assert all(r.seed == 0 for r in runs if r.ship)
    row = {"group": "main", "neuron": "lif", "order": 2, "dilations": "sawtooth", "shipped": False, "threads": 1,
           "train_seconds_per_epoch": 2.0, "n_parameters": 10, "name": "x"}
    text = render_readme([{**row, "seed": 0, "test_accuracy": 0.9}, {**row, "seed": 1, "test_accuracy": 0.8}])
    assert "| LIF (τ = 2, hard reset) | 85.00 ± 7.07 | 2 (0, 1) | 2.0 | 10 |" in text


def test_shd_network_trains_a_few_steps_on_an_shd_layout_file(tmp_path):
    from mfpsn.events import write_shd_h5

    rng = np.random.default_rng(0)
    for split, n in (("train", 24), ("test", 8)):
        labels = np.arange(n) % 20
        times = [np.sort(rng.uniform(0, 0.09, 40)) for _ in range(n)]
        units = [(35 * (lab % 20) + rng.integers(0, 35, 40)).astype(np.uint16) for lab in labels]
        write_shd_h5(tmp_path / f"shd_{split}.h5", times, units, labels)
    result = fit(TrainConfig(task="shd", data_root=str(tmp_path), T=10, neuron="mfpsn", epochs=2, batch_size=8,
                             model_options={"hidden": 16}, progress=False, run_dir=str(tmp_path / "run"),
                             out=str(tmp_path / "ck"), name="shd_tiny", subset=8))
    assert result.model.config["arch"] == "shd_net" and result.model.config["hidden"] == 16
    assert [n.dilation for n in result.model.neuron_layers().values()] == [1, 2]
    assert len(result.history) == 2 and all(math.isfinite(h["train_loss"]) for h in result.history)
    assert evaluate_checkpoint(str(tmp_path / "ck" / "shd_tiny.json"), data_root=str(tmp_path))["samples"] == 8


def test_seq_digits_ablation_table_ignores_the_psmnist_ablation_rows():
    """The psMNIST ablations (experiments_seq) share the group name 'seq-ablation' with the sequential-digits
    ablation; the digits table matches the task, so a psMNIST row does not enter its mean."""
    from mfpsn.experiments import render_readme

    row = {"group": "seq-ablation", "neuron": "mfpsn", "order": 8, "dilations": "sawtooth", "shipped": False,
           "threads": 1, "train_seconds_per_epoch": 1.0, "n_parameters": 10, "name": "x"}
    text = render_readme([{**row, "task": "seq-digits", "seed": 0, "test_accuracy": 0.8},
                          {**row, "task": "psmnist", "seed": 0, "test_accuracy": 0.2}])
    assert "| k = 8, sawtooth | 80.00 (1 seed) |" in text or "| k = 8, sawtooth | 80.00 " in text
    assert "50.00" not in text
