"""nmnist-sim results: rows of ``checkpoints/results.jsonl`` from trained checkpoints, and their README section.

Every run uses the training CLI (budget protocol: the first 6,000 MNIST training digits, all 10,000 test
digits, see ``mfpsn.training.tasks``), one torch thread, a fixed backend per neuron; seed 0 is shipped as
``nmnist_sim_<neuron>``, the other seeds go to ``runs/nmnist_sim_seeds`` as ``nmnist_sim_<neuron>_seed<s>``::

    python -m mfpsn.train --task nmnist-sim --data-root ../shared/data/mnist --neuron mfpsn \\
        --neuron-options '{"backend": "fused"}' --epochs 5 --eval-limit 1000 --subset 300 --threads 1 --out checkpoints
    python -m mfpsn.train ... --neuron lif --neuron-options '{"backend": "fused"}' ...
    python -m mfpsn.train ... --seed 1 --name nmnist_sim_mfpsn_seed1 --out runs/nmnist_sim_seeds

then ``python -m mfpsn.experiments_nmnist_sim record nmnist_sim_mfpsn
runs/nmnist_sim_seeds/nmnist_sim_mfpsn_seed1.json ... --data-root ../shared/data/mnist`` writes one row per
checkpoint (accuracy and per-epoch times from its card; spikes and energy per sample measured on the first
256 test digits; ``shipped`` when the card lies in ``checkpoints/``) and ``python -m mfpsn.experiments table`` renders the README. ``--subset 300``: the card's
fixed subset is the first 300 test digits, which ``assets/mnist_subset`` holds, so the shipped-checkpoint
test runs on a fresh clone.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

from mfpsn.checkpoints import SHIPPED_DIR

__all__ = ["GROUP", "card_row", "record", "render_section", "main"]

GROUP = "nmnist-sim"
RESULTS = SHIPPED_DIR / "results.jsonl"
ROW_TEXT = {"mfpsn": "MFPSN (k = {order}, {dilations})", "lif": "LIF (τ = 2, hard reset)"}


def card_row(name: str, *, data_root: str) -> dict[str, Any]:
    """The results row of the checkpoint ``name`` (a shipped name or a card path): its card plus the measured cost."""
    import torch

    from mfpsn.checkpoints import load
    from mfpsn.experiments_seq import _commit, _cost
    from mfpsn.training.tasks import load_task

    ckpt = load(name)
    card = ckpt.card
    shipped = ckpt.card_path.resolve().parent == SHIPPED_DIR.resolve()
    if shipped and card["seed"] != 0:
        raise ValueError(f"checkpoint {name!r}: a shipped nmnist-sim checkpoint must be seed 0, found {card['seed']}")
    if card["task"] != GROUP:
        raise ValueError(f"checkpoint {name!r}: expected task {GROUP!r}, found {card['task']!r}")
    data = load_task(GROUP, T=int(card["input"]["T"]), data_root=data_root, test_only=True)
    model, train = card["model"], card["training"]
    hist = card["history"]
    return {"key": f"{GROUP}/{model['neuron']}/seed{card['seed']}", "group": GROUP, "task": GROUP,
            "neuron": model["neuron"], "order": model["order"], "dilations": model["dilations"], "options": model["neuron_options"],
            "seed": card["seed"], "name": card["name"], "shipped": shipped, "epochs": train["epochs"],
            "batch_size": train["batch_size"], "threads": 1, "test_accuracy": card["test_accuracy"],
            "test_samples": card["test_samples"], "train_samples": int(card["input"]["budget"]["train_digits"]),
            "train_seconds_per_epoch": statistics.mean(e["train_seconds"] for e in hist),
            "n_parameters": card["n_parameters"], **_cost(ckpt.model.eval(), data.test_x[:256].transpose(0, 1), "cpu"),
            "history": hist, "commit": _commit(), "torch": torch.__version__, "device": "cpu",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def record(names: Sequence[str], *, data_root: str, results: Path = RESULTS) -> list[dict[str, Any]]:
    """Append (or replace) the rows of ``names`` in ``results``."""
    rows = [card_row(n, data_root=data_root) for n in names]
    keys = {r["key"] for r in rows}
    kept = [line for line in (results.read_text().splitlines() if results.is_file() else [])
            if line.strip() and json.loads(line)["key"] not in keys]
    results.write_text("".join(line + "\n" for line in kept + [json.dumps(r) for r in rows]))
    for r in rows:
        print(f"[{r['key']}] test {r['test_accuracy']:.4f} on {r['test_samples']}, wrote {results}")
    return rows


def render_section(results: list[dict[str, Any]]) -> list[str]:
    """The nmnist-sim part of ``checkpoints/README.md`` (empty when no such row exists)."""
    from mfpsn.report import mean_std

    rows = [r for r in results if r.get("group") == GROUP]
    if not rows:
        return []
    first = rows[0]
    lines = [
        "## N-MNIST-style events from real MNIST digits (`nmnist-sim`)",
        "",
        "Real MNIST digits (LeCun, Cortes, Burges; CC BY-SA 3.0) through the saccade simulator in the N-MNIST "
        "protocol (`mfpsn.data.nmnist_sim`: 28x28 digit on a 34x34 sensor, three 100 ms saccades along a "
        "triangle, ESIM events, seeded per digit); T = 8 bins over each sample's span; `DVSConvNet` as for "
        "N-MNIST (no input pooling, {conv3x3-BN-neuron-AP2} x 3 with 16-32-32 channels, FC 10). Budget "
        f"protocol: the first {first['train_samples']:,} training digits, {first['epochs']} epochs, batch "
        f"{first['batch_size']}, AdamW (lr 1e-3, wd 1e-4), cosine schedule, one torch thread, MFPSN "
        "`backend=\"fused\"`, LIF `backend=\"fused\"`; test accuracy of the final weights on all "
        f"{first['test_samples']:,} test digits. Energy: `mfpsn.energy` counts at the measured firing rates on "
        "the first 256 test digits.",
        "",
        "| neuron | test accuracy % (mean ± std over seeds) | seeds | train s / epoch | parameters | spikes / sample "
        "| energy / sample (µJ) |",
        "|---|---|---|---|---|---|---|",
    ]
    for neuron in sorted({r["neuron"] for r in rows}):
        mine = sorted((r for r in rows if r["neuron"] == neuron), key=lambda r: r["seed"])
        label = ROW_TEXT.get(neuron, neuron).format(order=mine[0]["order"], dilations=mine[0]["dilations"])
        lines.append(f"| {label} | {mean_std([r['test_accuracy'] for r in mine])} | "
                     f"{len(mine)} ({', '.join(str(r['seed']) for r in mine)}) | "
                     f"{statistics.mean(r['train_seconds_per_epoch'] for r in mine):.0f} | "
                     f"{mine[0]['n_parameters']:,} | "
                     f"{statistics.mean(r['spikes_per_sample'] for r in mine):.0f} | "
                     f"{statistics.mean(r['energy_nj_per_sample'] for r in mine) / 1e3:.2f} |")
    return lines + [""]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.experiments_nmnist_sim", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="write the rows of nmnist-sim checkpoints to the results file")
    r.add_argument("names", nargs="+", help="shipped names or card paths")
    r.add_argument("--data-root", required=True, help="folder with the MNIST IDX files")
    args = p.parse_args(argv)
    try:
        record(args.names, data_root=args.data_root)
    except ValueError as err:
        p.error(str(err))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
