"""Evaluation CLI: ``python -m mfpsn.evaluate --checkpoint NAME [--limit N] [--json PATH]``.

Loads a checkpoint (a shipped name such as ``dvs_digits_mfpsn``, or a card / weights path) through
:func:`mfpsn.checkpoints.load` (hash and config verified), rebuilds the held-out split of the
card's task with the card's time steps, and reports the accuracy on the first ``N`` held-out
samples (all when ``--limit`` is absent), next to the card's own numbers. Real data sets need
``--data-root``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

import torch

from mfpsn.checkpoints import load
from mfpsn.training.loop import confusion_matrix
from mfpsn.training.tasks import load_task

__all__ = ["evaluate_checkpoint", "main"]


def evaluate_checkpoint(name_or_path: str, *, limit: int | None = None, data_root: str | None = None,
                        batch_size: int = 128, integer_frac_bits: int | None = None,
                        progress: bool = False) -> dict[str, Any]:
    """Accuracy of a checkpoint on the first ``limit`` held-out samples of its task (CPU).

    ``integer_frac_bits``: run every MFPSN layer on the integer (shift/add) path with that many
    fractional bits (:func:`mfpsn.integer_net.integerize`) instead of the float eval path.

    Returns:
        ``{"name", "task", "samples", "correct", "accuracy", "card_test_accuracy", "card_fixed_subset", "path",
        "checkpoint", "confusion"}``; ``confusion: [K, K]`` int64 counts (row: true class, column: predicted).
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit: expected a positive integer or None, found {limit!r}")
    ckpt = load(name_or_path)
    card = ckpt.card
    split = card.get("training", {}).get("task_options", {}).get("split")
    data = load_task(card["task"], T=int(card["input"]["T"]), data_root=data_root, seed=int(card["seed"]),
                     test_only=True, options=None if split is None else {"split": split})
    n = data.test_x.shape[0] if limit is None else min(int(limit), data.test_x.shape[0])
    model, path = ckpt.model, "float"
    if integer_frac_bits is not None:
        from mfpsn.integer_net import integerize

        model, replaced = integerize(ckpt.model, integer_frac_bits)
        path = f"integer ({replaced} MFPSN layers, {integer_frac_bits} fractional bits)"
    counts = confusion_matrix(model, data.test_x[:n], data.test_y[:n], len(card["classes"]), batch_size=batch_size,
                              progress=progress)
    correct, total = int(counts.trace()), int(counts.sum())
    return {"confusion": counts, "path": path, "name": card["name"], "task": card["task"], "checkpoint": str(ckpt.card_path), "samples": total,
            "correct": correct, "accuracy": correct / total, "card_test_accuracy": card["test_accuracy"],
            "card_fixed_subset": card["fixed_subset"]}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="shipped name, or path to NAME.json / NAME.safetensors")
    p.add_argument("--limit", type=int, default=None, help="only the first N held-out samples")
    p.add_argument("--json", default=None, help="also write the result as JSON to this path")
    p.add_argument("--data-root", default=None,
                   help="folder of a real data set (MNIST IDX files for smnist/psmnist/nmnist-sim, FSDD recordings "
                        "for fsdd, nmnist, shd, cifar10)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--integer", type=int, default=None, metavar="FRAC_BITS",
                   help="run the MFPSN layers on the integer shift/add path with FRAC_BITS fractional bits")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--write-eval", action="store_true",
                   help="write the confusion counts beside the card (NAME.eval.json, mfpsn.checkpoint_eval); needs the "
                        "whole split (no --limit) and the float path")
    args = p.parse_args(argv)
    if args.write_eval and (args.limit is not None or args.integer is not None):
        p.error("--write-eval: the per-class results describe the float model on the whole split; drop --limit and "
                "--integer")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        result = evaluate_checkpoint(args.checkpoint, limit=args.limit, data_root=args.data_root,
                                     batch_size=args.batch_size, integer_frac_bits=args.integer, progress=True)
    except ValueError as err:  # bad checkpoint (CheckpointError), limit or data root: a usage error, no traceback
        p.error(str(err))
    print(f"{result['name']} ({result['task']}, {result['path']} path): accuracy {result['accuracy']:.4f} on {result['samples']} held-out "
          f"samples ({result['correct']} correct); card: {result['card_test_accuracy']:.4f} on the whole split, "
          f"{result['card_fixed_subset']['accuracy']:.4f} on the first {result['card_fixed_subset']['limit']}")
    if args.write_eval:
        from mfpsn.checkpoint_eval import write_eval

        print(f"wrote {write_eval(result['checkpoint'], result['confusion'])}")
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "confusion": result["confusion"].tolist()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
