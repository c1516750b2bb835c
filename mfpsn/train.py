"""Training CLI: ``python -m mfpsn.train --task dvs-digits --neuron mfpsn [options]``.

Single process (CPU or one GPU) or several GPUs with torchrun::

    python -m mfpsn.train --task dvs-digits --neuron mfpsn --epochs 10 --out checkpoints
    torchrun --nproc_per_node=4 -m mfpsn.train --task shd --data-root /data/shd --neuron mfpsn

Tasks and their data: see :mod:`mfpsn.training.tasks` (real data sets only from ``--data-root``;
nothing is downloaded). ``--resume`` continues from ``--run-dir`` (default ``runs/<name>``) at the
last finished epoch. Under torchrun only rank 0 logs and writes files; ``--rank-weights DIR``
makes every rank write its final weights as ``DIR/rank<r>.safetensors`` (to check that DDP kept
the replicas identical).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Sequence

from mfpsn.neurons.registry import NEURONS
from mfpsn.training.loop import AMP_MODES, TrainConfig, fit
from mfpsn.training.tasks import TASKS

__all__ = ["parse_dilations", "build_parser", "config_from_args", "main"]


def parse_dilations(text: str) -> str | list[int]:
    """``"sawtooth"``, ``"none"``, ``"exponential"`` or a comma-separated list of positive ints (``"1,2,3"``)."""
    if text in ("sawtooth", "none", "exponential"):
        return text
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected 'sawtooth', 'none', 'exponential' or positive ints like '1,2,3', found {text!r}")
    return values


def _json_dict(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON object, found {text!r} ({exc})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, found {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m mfpsn.train", description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=TASKS, default=d.task)
    p.add_argument("--task-options", type=_json_dict, default={},
                   help='JSON, e.g. \'{"split": "speaker:george", "augment": 4}\' (fsdd)')
    p.add_argument("--neuron", choices=NEURONS.kinds, default=d.neuron,
                   help="neuron kind: " + ", ".join(f"{k} ({r.label})" for k, r in NEURONS.items()))
    p.add_argument("--order", type=int, default=d.order, help="taps k (MFPSN, SlidingPSN, MaskedPSN)")
    p.add_argument("--dilations", type=parse_dilations, default=d.dilations,
                   help="MFPSN dilations: sawtooth (default), none, or a list like 1,2,3")
    p.add_argument("--period", type=int, default=d.period, help="sawtooth period (default 3)")
    p.add_argument("--neuron-options", type=_json_dict, default={}, help='JSON, e.g. \'{"quantize": false}\'')
    p.add_argument("--model-options", type=_json_dict, default={}, help='JSON, e.g. \'{"channels": [8, 16]}\'')
    p.add_argument("--T", type=int, default=None, help="time steps (default: the task's)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="per process")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--amp", choices=AMP_MODES, default=d.amp, help="mixed precision (GPU only; auto = bf16/fp16)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device)
    p.add_argument("--data-root", default=None, help="real data set folder (nmnist, shd, cifar10; MNIST IDX files for smnist, psmnist, nmnist-sim) or cache folder")
    p.add_argument("--allow-cifar-pickle", action="store_true",
                   help="read CIFAR-10 python batches (pickles, restricted unpickler): only for files you trust")
    p.add_argument("--max-train", type=int, default=None, help="use only the first N training samples")
    p.add_argument("--name", default=None, help="run / checkpoint name (default <task>_<neuron>)")
    p.add_argument("--out", default=None, help="directory for the final checkpoint (default: none written)")
    p.add_argument("--run-dir", default=None, help="resumable state (default runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue from the state in --run-dir")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after N finished epochs (the schedule still spans --epochs; continue with --resume)")
    p.add_argument("--subset", type=int, default=d.subset, help="fixed held-out subset size stored in the card")
    p.add_argument("--eval-limit", type=int, default=None,
                   help="evaluate each epoch but the last on the first N held-out samples only (long sequences)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.add_argument("--rank-weights", default=None, help="every rank writes DIR/rank<r>.safetensors at the end")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(task=args.task, task_options=args.task_options, neuron=args.neuron, order=args.order, dilations=args.dilations,
                       period=args.period, neuron_options=args.neuron_options, model_options=args.model_options,
                       T=args.T, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       weight_decay=args.weight_decay, label_smoothing=args.label_smoothing, seed=args.seed,
                       amp=args.amp, device=args.device, data_root=args.data_root,
                       allow_cifar_pickle=args.allow_cifar_pickle, max_train=args.max_train, name=args.name,
                       out=args.out, run_dir=args.run_dir, resume=args.resume, stop_after=args.stop_after,
                       subset=args.subset, eval_limit=args.eval_limit,
                       progress=not args.no_progress, threads=args.threads)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = fit(config_from_args(args))
    except ValueError as err:  # bad settings (task, data root, batch size, amp, resume config): no traceback
        parser.error(str(err))
    if args.rank_weights is not None:
        from safetensors.torch import save_file

        os.makedirs(args.rank_weights, exist_ok=True)
        rank = int(os.environ.get("RANK", "0"))
        tensors = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
        save_file(tensors, os.path.join(args.rank_weights, f"rank{rank}.safetensors"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
