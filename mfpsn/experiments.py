"""The shipped models and the results table of ``checkpoints/README.md``.

``python -m mfpsn.experiments run [--group main ablation seq seq-ablation shd] [--seeds 0 1 2] [--ablation-seeds 0]``
trains every planned run that is not yet in the results file (``checkpoints/results.jsonl``, one
JSON object per finished run, appended as each run ends, so the command can be stopped and
started again) and writes seed 0 of each shipped configuration to ``checkpoints/``.
``python -m mfpsn.experiments table`` rewrites ``checkpoints/README.md`` from the results file.

Plan (one CPU thread per run, same network and budget within a group):

- ``main``: DVS digits, :class:`~mfpsn.models.DVSConvNet` (input pooled 2x, conv 16-32-32, T = 8),
  neurons MFPSN (k = 2, sawtooth), LIF, PSN and SlidingPSN (k = 2), ``EPOCHS_DVS`` epochs each,
  batch 32, AdamW lr 1e-3, weight decay 1e-4, cosine schedule; shipped as ``dvs_digits_<neuron>``.
- ``ablation``: the same with MFPSN k ∈ {1, 2, 4, 8} × dilations sawtooth / none (k = 1 has one tap,
  so its dilation changes nothing and only sawtooth is run).
- ``seq``: sequential 8x8 digits (one image column per time step, T = 8; the neurons must carry the
  earlier columns), :class:`~mfpsn.models.SeqImageNet` with width 32 and FC 64, the same four neurons
  (MFPSN k = 2 with sawtooth dilations over its 7 neuron layers), ``EPOCHS_SEQ`` epochs; not shipped.
- ``seq-ablation``: the ``ablation`` grid on sequential digits.
- PLIF and MaskedPSN (k = 2, λ annealed per epoch) also run in ``main`` and ``seq`` (not shipped).
- ``shd``: synthetic spoken digits (:func:`mfpsn.data.spoken_digits.load_spoken_digits`, T = 100 bins
  of 10 ms, 140 channels), :class:`~mfpsn.models.SHDNet` (2 x 256, no learned delays), MFPSN (k = 2,
  sawtooth), LIF and SlidingPSN (k = 2), ``EPOCHS_SHD`` epochs; shipped as ``spoken_digits_<neuron>``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from mfpsn.checkpoints import SHIPPED_DIR
from mfpsn.report import mean_std
from mfpsn.training.loop import TrainConfig, fit

__all__ = ["EPOCHS_DVS", "EPOCHS_SHD", "EPOCHS_SEQ", "Run", "plan", "run_plan", "read_results", "render_readme", "main"]

EPOCHS_DVS = 15
EPOCHS_SHD = 15
EPOCHS_SEQ = 15
RESULTS = SHIPPED_DIR / "results.jsonl"
DVS_NEURONS = ("mfpsn", "lif", "psn", "sliding_psn")
EXTRA_NEURONS = ("plif", "masked_psn")
SHD_NEURONS = ("mfpsn", "lif", "sliding_psn")
ORDERS = (1, 2, 4, 8)


@dataclass(frozen=True)
class Run:
    """One planned training run; ``key`` identifies it in the results file."""

    group: str
    neuron: str
    seed: int
    order: int = 2
    dilations: str = "sawtooth"
    ship: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.group}/{self.neuron}/k{self.order}/{self.dilations}/seed{self.seed}"

    @property
    def task(self) -> str:
        return {"shd": "spoken-digits", "seq": "seq-digits", "seq-ablation": "seq-digits"}.get(self.group,
                                                                                                "dvs-digits")

    @property
    def name(self) -> str:
        task = self.task.replace("-", "_")
        if self.ship:
            return f"{task}_{self.neuron}"
        return f"{task}_{self.neuron}_k{self.order}_{self.dilations}_seed{self.seed}"

    def config(self, out: Path | None, threads: int) -> TrainConfig:
        epochs = {"shd": EPOCHS_SHD, "seq": EPOCHS_SEQ, "seq-ablation": EPOCHS_SEQ}.get(self.group, EPOCHS_DVS)
        return TrainConfig(task=self.task, neuron=self.neuron, order=self.order,
                           dilations=self.dilations, epochs=epochs,
                           batch_size=32, lr=1e-3, weight_decay=1e-4, seed=self.seed, name=self.name,
                           out=str(out) if self.ship and out is not None else None,
                           run_dir=str(Path("runs") / "experiments" / self.name), progress=False, threads=threads)


def plan(groups: Sequence[str], seeds: Sequence[int], ablation_seeds: Sequence[int]) -> list[Run]:
    """Runs in priority order: shipped seed-0 models first, then the other seeds, then the ablation."""
    runs: list[Run] = []
    for seed in seeds:
        if "main" in groups:
            runs += [Run("main", n, seed, ship=seed == 0) for n in DVS_NEURONS]
            runs += [Run("main", n, seed) for n in EXTRA_NEURONS]
        if "shd" in groups:
            runs += [Run("shd", n, seed, ship=seed == 0) for n in SHD_NEURONS]
        if "seq" in groups:
            runs += [Run("seq", n, seed) for n in DVS_NEURONS + EXTRA_NEURONS]
    for group in ("ablation", "seq-ablation"):
        if group not in groups:
            continue
        for seed in ablation_seeds:
            for k in ORDERS:
                for dil in ("sawtooth", "none"):
                    if k == 1 and dil == "none":
                        continue
                    if k == 2 and dil == "sawtooth":
                        continue  # the comparison's MFPSN run (same seed) is this configuration
                    runs.append(Run(group, "mfpsn", seed, order=k, dilations=dil))
    order = {"main": 0, "shd": 1, "seq": 2, "ablation": 3, "seq-ablation": 4}
    return sorted(runs, key=lambda r: (r.seed != 0 or "ablation" in r.group, order[r.group], r.seed))


def read_results(path: Path = RESULTS) -> list[dict[str, Any]]:
    """Every finished run in the results file (one JSON object per line)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_plan(runs: Sequence[Run], *, out: Path = SHIPPED_DIR, results: Path = RESULTS, threads: int = 1) -> None:
    """Train every run not yet in ``results``; append one line per finished run."""
    done = {r["key"] for r in read_results(results)}
    for run in runs:
        if run.key in done:
            continue
        cfg = run.config(out, threads)
        start = time.perf_counter()
        result = fit(cfg)
        wall = time.perf_counter() - start
        epochs = result.history
        row = {"key": run.key, "group": run.group, "neuron": run.neuron, "order": run.order,
               "dilations": run.dilations, "seed": run.seed, "name": run.name, "shipped": run.ship,
               "task": cfg.task, "epochs": cfg.epochs, "threads": threads,
               "test_accuracy": result.test_accuracy,
               "best_epoch_test_accuracy": max(e["test_accuracy"] for e in epochs),
               "train_seconds_per_epoch": statistics.mean(e["train_seconds"] for e in epochs),
               "wall_seconds": wall, "n_parameters": sum(p.numel() for p in result.model.parameters()),
               "torch": torch.__version__, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        results.parent.mkdir(parents=True, exist_ok=True)
        with results.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"[{run.key}] test {result.test_accuracy:.4f}, {row['train_seconds_per_epoch']:.1f} s/epoch, "
              f"{wall:.0f} s", flush=True)


def _rows(results: list[dict], group: str, keys: Sequence[tuple]) -> list[str]:
    lines = []
    for label, match in keys:
        hits = [r for r in results if r["group"] in group and all(r[k] == v for k, v in match.items())]
        if not hits:
            continue
        accs = [r["test_accuracy"] for r in hits]
        secs = [r["train_seconds_per_epoch"] for r in hits]
        lines.append(f"| {label} | {mean_std(accs)} | {len(hits)} ({', '.join(str(r['seed']) for r in hits)}) | "
                     f"{statistics.mean(secs):.1f} | {hits[0]['n_parameters']:,} |")
    return lines


def render_readme(results: list[dict]) -> str:
    """The text of ``checkpoints/README.md`` for ``results``."""
    header = ("| {} | test accuracy % (mean ± std over seeds) | seeds | train s / epoch | parameters |\n"
              "|---|---|---|---|---|")
    names = {"mfpsn": "MFPSN (k = 2, sawtooth)", "lif": "LIF (τ = 2, hard reset)", "psn": "PSN (T x T)",
             "sliding_psn": "SlidingPSN (k = 2)", "plif": "PLIF (τ0 = 2, hard reset)",
             "masked_psn": "MaskedPSN (k = 2, λ annealed per epoch)"}
    every = DVS_NEURONS + EXTRA_NEURONS
    main = _rows(results, ("main",), [(names[n], {"neuron": n}) for n in every])
    grid = [(f"k = {k}, {dil}", {"neuron": "mfpsn", "order": k, "dilations": dil})
            for k in ORDERS for dil in ("sawtooth", "none")]
    ablation = _rows(results, ("main", "ablation"), grid)
    # the psMNIST/sMNIST ablations (experiments_seq) share the group name "seq-ablation": match the task too
    seq_ablation = _rows(results, ("seq", "seq-ablation"),
                         [(label, {**match, "task": "seq-digits"}) for label, match in grid])
    shd = _rows(results, ("shd",), [(names[n], {"neuron": n}) for n in SHD_NEURONS])
    seq = _rows(results, ("seq",), [(names[n], {"neuron": n}) for n in every])
    shipped = sorted(r["name"] for r in results if r.get("shipped"))
    threads = sorted({r["threads"] for r in results if "threads" in r})
    parts = [
        "# Shipped checkpoints and measured results",
        "",
        "Generated by `python -m mfpsn.experiments table` from `results.jsonl` (one line per finished training "
        "run, written by `python -m mfpsn.experiments run`); do not edit by hand. Every number below was measured "
        f"on this project's shared 2-core CPU with {', '.join(map(str, threads)) or '?'} torch thread(s) per run; "
        "seconds per epoch are wall-clock training time and vary with the load other users put on the machine.",
        "",
        "Each checkpoint is `NAME.safetensors` (weights, no pickle) plus `NAME.json` (model card: architecture and "
        "neuron config, task, classes, input spec, training config, seed, test accuracy, accuracy on a fixed "
        "subset, sha256 of the weights, date, torch version). Load one with `mfpsn.checkpoints.load(NAME)`; check "
        "one with `python -m mfpsn.evaluate --checkpoint NAME`. The test accuracy is that of the final epoch's "
        "weights on the whole held-out split (no epoch selected on the test set).",
        "",
        f"Shipped (seed 0): {', '.join(f'`{n}`' for n in shipped) or 'none yet'}.",
        "",
        "Reproduce: `python -m mfpsn.experiments run --group main ablation seq seq-ablation shd "
        "--ablation-seeds 0 1 2` "
        "(skips runs already in `results.jsonl`; delete it to start over), then `python -m mfpsn.experiments "
        "table`. With a fixed seed the training loop is deterministic on CPU (tested bit for bit with PLIF, "
        "including resume). MFPSN and SlidingPSN use `backend=\"auto\"`, which picks the fastest temporal-filter "
        "implementation by timing it; the implementations round differently, so a rerun can end elsewhere (a "
        "manual rerun of the seed-0 DVS MFPSN configuration gave 98.33% against the 97.21% recorded here).",
        "",
        "## DVS digits: neuron comparison",
        "",
        f"Synthetic DVS digits (1,438 train / 359 test, 34x34x2 frames, T = 8 bins over 300 ms); "
        f"`DVSConvNet`: input avg-pooled 2x, {{conv3x3-BN-neuron-AP2}} x 3 with 16-32-32 channels, FC 10, mean "
        f"over time; {EPOCHS_DVS} epochs, batch 32, AdamW (lr 1e-3, wd 1e-4), cosine schedule, same budget for "
        "every neuron. The paper's ranking (MFPSN ≥ PSN family ≥ LIF) was the hypothesis; the table reports what "
        "was measured.",
        "",
        header.format("neuron"),
        *main,
        "",
        "## DVS digits: order and dilation ablation (MFPSN)",
        "",
        "Same network and budget; k taps per MFPSN layer, dilations sawtooth (1, 2, 3 over the three neuron "
        "layers) or none (all 1). With k = 1 the dilation has no effect, so only one row is run. The k = 2 "
        "sawtooth row is the main table's MFPSN run.",
        "",
        header.format("MFPSN"),
        *ablation,
        "",
    ]
    if seq:
        parts += [
            "## Sequential digits (one image column per time step)",
            "",
            "scikit-learn's 8x8 digits read column by column (T = 8, same train/test split as DVS digits); "
            "`SeqImageNet` ({{conv1d k3 along the column-BN-neuron} x 3-AP2} x 2, FC 64-neuron-FC 10, mean over "
            f"time; width 32); {EPOCHS_SEQ} epochs, batch 32, AdamW (lr 1e-3, wd 1e-4), cosine schedule. Each "
            "output step sees one column directly, so the neurons' memory of earlier columns matters here. "
            "Not shipped.",
            "",
            header.format("neuron"),
            *seq,
            "",
            "MaskedPSN here is not an implementation bug but the published method at this budget: with "
            "SpikingJelly's init U(−1/√T, 1/√T) the causal band keeps min(t+1, k)/T of the membrane drive, and "
            "λ = min(1, 8·epoch/(epochs−1)) masks the weights from the third of 15 epochs, before the network has "
            "started to learn, so the masked layers stay nearly silent. With 60 epochs (masked from epoch 8) the "
            "same code reached 88.1 ± 4.7 % over seeds 0–2 (manual runs, not in `results.jsonl`); see the "
            "`MaskedPSN` docstring.",
            "",
        ]
    if seq_ablation:
        parts += [
            "## Sequential digits: order and dilation ablation (MFPSN)",
            "",
            "Same network and budget as the sequential-digits comparison; dilations sawtooth (1, 2, 3, 1, 2, 3, 1 "
            "over the seven neuron layers) or none. The k = 2 sawtooth row is the comparison's MFPSN run.",
            "",
            header.format("MFPSN"),
            *seq_ablation,
            "",
        ]
    if shd:
        parts += [
            "## Synthetic spoken digits (SHD layout)",
            "",
            "`mfpsn.data.spoken_digits` (espeak-ng voices through a cochlea model; 20 classes; the test voices are "
            "not in the training set); T = 100 bins of 10 ms, 700 channels pooled by 5 to 140; `SHDNet` "
            "({FC256-BN-neuron-dropout 0.4} x 2, FC 20, readout summed over time; no learned delays); "
            f"{EPOCHS_SHD} epochs, batch 32, AdamW (lr 1e-3, wd 1e-4), cosine schedule.",
            "",
            header.format("neuron"),
            *shd,
            "",
        ]
    from mfpsn import experiments_nmnist_sim
    from mfpsn.experiments_fsdd import render_section as render_fsdd
    from mfpsn.experiments_integer import render_section as render_integer
    from mfpsn.experiments_seq import render_section

    parts += render_section(results, "budget") + render_section(results, "long") + render_section(results, "full")
    parts += experiments_nmnist_sim.render_section(results) + render_fsdd(results) + render_integer(results)
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.experiments", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train the planned runs missing from the results file")
    r.add_argument("--group", nargs="+", choices=("main", "ablation", "seq", "seq-ablation", "shd"), default=["main", "ablation"])
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--ablation-seeds", nargs="+", type=int, default=[0])
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--dry-run", action="store_true", help="only list the runs still to do")
    sub.add_parser("table", help="rewrite checkpoints/README.md from the results file")
    args = p.parse_args(argv)
    if args.command == "run":
        runs = plan(args.group, args.seeds, args.ablation_seeds)
        done = {row["key"] for row in read_results()}
        if args.dry_run:
            for run in runs:
                print(("done  " if run.key in done else "to do ") + run.key)
            return 0
        run_plan(runs, threads=args.threads)
    (SHIPPED_DIR / "README.md").write_text(render_readme(read_results()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
