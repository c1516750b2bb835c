"""The training loop: seeded, AdamW + cosine schedule, mixed precision on GPU, evaluation every epoch,
resumable, DDP-aware (see :mod:`mfpsn.training.distributed`).

:func:`fit` runs one :class:`TrainConfig` end to end and, when ``out`` is set, writes the final
weights as a checkpoint (:func:`mfpsn.checkpoints.save`). The reported test accuracy is that of
the **final** epoch's weights on the whole held-out split (no selection of the best epoch on the
test set). Determinism: the seed fixes the weights' initialisation, every epoch's sample order
(a ``DistributedSampler`` seeded with ``seed``, also in a single process) and dropout; on CPU a
resumed run reproduces an uninterrupted one exactly.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from tqdm import tqdm

from mfpsn.models import SpikingNet, build_model
from mfpsn.neurons.registry import NeuronRegistry, run_epoch_hooks
from mfpsn.training import distributed
from mfpsn.training.state import has_state, load_state, save_state
from mfpsn.training.tasks import TaskData, load_task

__all__ = ["TrainConfig", "FitResult", "fit", "evaluate", "confusion_matrix", "model_config", "RESULT_KEYS"]

AMP_MODES = ("auto", "off", "bf16", "fp16")
RESULT_KEYS = ("task", "task_options", "neuron", "order", "dilations", "period", "neuron_options", "model_options", "T", "epochs",
               "batch_size", "lr", "weight_decay", "label_smoothing", "seed", "amp", "max_train")


@dataclass
class TrainConfig:
    """Everything that defines a training run (the fields in :data:`RESULT_KEYS` go into the model card).

    ``task_options`` go to :func:`mfpsn.training.tasks.load_task` (``fsdd``: split, augmentation).
    ``dilations`` is ``"sawtooth"``, ``"none"``, ``"exponential"`` or a list (see :mod:`mfpsn.models.neurons`);
    ``model_options`` override the task's default network config (e.g. ``{"channels": [8, 16]}``);
    ``T`` ``None`` = the task's default. ``out``: directory for the final checkpoint (``None``: none
    written); ``run_dir``: where the resumable state goes (default ``runs/<name>``). ``subset``: size
    of the fixed held-out subset whose accuracy goes into the card. ``max_train``: use only the first
    N training samples (smoke tests). ``stop_after``: stop after that many finished epochs (the
    schedule still spans ``epochs``; continue later with ``resume``). ``eval_limit``: evaluate each
    epoch on the first N held-out samples only (long sequences); the final epoch is always evaluated
    on the whole held-out split, and that accuracy is the run's test accuracy.
    """

    task: str = "dvs-digits"
    task_options: dict[str, Any] = field(default_factory=dict)
    neuron: str = "mfpsn"
    order: int = 2
    dilations: str | list[int] = "sawtooth"
    period: int = 3
    neuron_options: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    T: int | None = None
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    seed: int = 0
    amp: str = "auto"
    device: str = "auto"
    data_root: str | None = None
    allow_cifar_pickle: bool = False
    max_train: int | None = None
    name: str | None = None
    out: str | None = None
    run_dir: str | None = None
    resume: bool = False
    stop_after: int | None = None
    subset: int = 128
    eval_limit: int | None = None
    progress: bool = True
    threads: int | None = None

    def run_name(self) -> str:
        return self.name or f"{self.task.replace('-', '_')}_{self.neuron}"

    def result_config(self) -> dict[str, Any]:
        """The fields that determine the trained weights (stored in the card and checked on resume)."""
        d = asdict(self)
        return {k: d[k] for k in RESULT_KEYS}


@dataclass
class FitResult:
    """Outcome of :func:`fit`: the trained model (unwrapped, eval mode), per-epoch history, final accuracy."""

    model: SpikingNet
    history: list[dict[str, float]]
    test_accuracy: float
    subset_accuracy: float
    card_path: Path | None
    model_config: dict[str, Any]


def model_config(cfg: TrainConfig, data: TaskData) -> dict[str, Any]:
    """The network config: the task's default, ``cfg.model_options``, then the neuron settings."""
    config = {**data.model, **cfg.model_options, "T": int(data.input_spec["T"]), "neuron": cfg.neuron,
              "order": int(cfg.order), "dilations": cfg.dilations, "period": int(cfg.period),
              "neuron_options": dict(cfg.neuron_options)}
    return config


def _autocast(device: torch.device, amp: str):
    if amp not in AMP_MODES:
        raise ValueError(f"amp: expected one of {AMP_MODES}, found {amp!r}")
    if device.type != "cuda":
        if amp in ("bf16", "fp16"):
            raise ValueError(f"amp={amp!r} needs a CUDA device; this run is on {device}")
        return None
    if amp == "off":
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if amp == "bf16" else torch.float16


def _context(dtype: torch.dtype | None, device: torch.device):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


@torch.no_grad()
def confusion_matrix(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, *,
                     batch_size: int = 128, device: torch.device | str = "cpu", amp_dtype: torch.dtype | None = None,
                     progress: bool = False) -> torch.Tensor:
    """``[K, K]`` int64 counts of ``model`` in eval mode on ``x: [N, T, ...]``, ``y: [N]`` (row: true class,
    column: predicted class; restores the mode). ``num_classes`` K: the model's output width when None (a model
    of another width raises ``ValueError``). ``progress``: a tqdm bar with ETA on stderr."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    counts = None if num_classes is None else torch.zeros(num_classes, num_classes, dtype=torch.int64)
    try:
        for lo in tqdm(range(0, x.shape[0], batch_size), desc="evaluate", unit="batch", disable=not progress,
                       leave=False):
            xb = x[lo:lo + batch_size].to(device).transpose(0, 1)
            with _context(amp_dtype, device):
                logits = model(xb)
            k = logits.shape[1] if counts is None else counts.shape[0]
            if logits.shape[1] != k:
                raise ValueError(f"confusion_matrix: expected {k} classes, the model outputs {logits.shape[1]}")
            yb = y[lo:lo + batch_size].long()
            if yb.numel() and not 0 <= int(yb.min()) <= int(yb.max()) < k:
                raise ValueError(f"confusion_matrix: labels must lie in [0, {k}), found {int(yb.min())}..{int(yb.max())}")
            if counts is None:
                counts = torch.zeros(k, k, dtype=torch.int64)
            counts += torch.bincount(yb * k + logits.argmax(1).cpu(), minlength=k * k).reshape(k, k)
    finally:
        model.train(was_training)
    return counts if counts is not None else torch.zeros(0, 0, dtype=torch.int64)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 128,
             device: torch.device | str = "cpu", amp_dtype: torch.dtype | None = None,
             progress: bool = False) -> tuple[int, int]:
    """``(correct, total)`` of ``model`` in eval mode on ``x: [N, T, ...]``, ``y: [N]`` (restores the mode);
    ``progress``: a tqdm bar with ETA on stderr."""
    counts = confusion_matrix(model, x, y, batch_size=batch_size, device=device, amp_dtype=amp_dtype,
                              progress=progress)
    return int(counts.trace()), int(x.shape[0])


def _log(ctx: distributed.DistContext, message: str) -> None:
    if ctx.is_main:
        tqdm.write(message)


def fit(cfg: TrainConfig, registry: NeuronRegistry | None = None) -> FitResult:
    """Train ``cfg`` (in every process of a torchrun launch), evaluate each epoch, save on rank 0.

    ``cfg.neuron`` is looked up in ``registry`` (default :data:`mfpsn.neurons.registry.NEURONS`), whose records'
    ``epoch_hook`` run before every epoch (MaskedPSN's λ annealing)."""
    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError(f"epochs, batch_size: expected positive ints, found {cfg.epochs}, {cfg.batch_size}")
    ctx = distributed.init(cfg.device)
    try:
        return _fit(cfg, ctx, registry)
    finally:
        distributed.shutdown(ctx)


def _load_data(cfg: TrainConfig, ctx: distributed.DistContext) -> TaskData:
    def load() -> TaskData:
        return load_task(cfg.task, T=cfg.T, data_root=cfg.data_root, allow_pickle=cfg.allow_cifar_pickle,
                         seed=cfg.seed, options=cfg.task_options)

    if not ctx.distributed:
        data = load()
    else:  # rank 0 builds any cache first, the others then read it
        data = load() if ctx.is_main else None
        torch.distributed.barrier()
        data = data if data is not None else load()
    if cfg.max_train is not None:
        data.train_x, data.train_y = data.train_x[:cfg.max_train], data.train_y[:cfg.max_train]
    return data


def _fit(cfg: TrainConfig, ctx: distributed.DistContext, registry: NeuronRegistry | None) -> FitResult:
    torch.manual_seed(cfg.seed)
    data = _load_data(cfg, ctx)
    config = model_config(cfg, data)
    model = build_model(config, registry).to(ctx.device)
    amp_dtype = _autocast(ctx.device, cfg.amp)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    net: nn.Module = DistributedDataParallel(model, device_ids=[ctx.local_rank] if ctx.device.type == "cuda"
                                             else None) if ctx.distributed else model
    sampler = DistributedSampler(TensorDataset(data.train_x, data.train_y), num_replicas=ctx.world_size,
                                 rank=ctx.rank, shuffle=True, seed=cfg.seed, drop_last=True)
    loader = DataLoader(TensorDataset(data.train_x, data.train_y), batch_size=cfg.batch_size, sampler=sampler,
                        drop_last=True)
    steps = len(loader)
    if steps == 0:
        raise ValueError(f"batch_size {cfg.batch_size} x {ctx.world_size} process(es) exceeds the "
                         f"{data.train_x.shape[0]} training samples")
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * steps)
    run_dir = Path(cfg.run_dir) if cfg.run_dir else Path("runs") / cfg.run_name()
    start, history = 0, []
    if cfg.resume and has_state(run_dir):
        start, history = load_state(run_dir, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                                    config=cfg.result_config(), device=ctx.device)
        _log(ctx, f"resumed {run_dir} at epoch {start}")
    elif cfg.resume:
        _log(ctx, f"--resume: no saved state in {run_dir}; starting from epoch 0")
    n_params = sum(p.numel() for p in model.parameters())
    _log(ctx, f"{cfg.run_name()}: task {cfg.task}, neuron {cfg.neuron}, {n_params} parameters, "
              f"{data.train_x.shape[0]} train / {data.test_x.shape[0]} test, {ctx.world_size} process(es) on "
              f"{ctx.device}, amp {amp_dtype}")
    stop = cfg.epochs if cfg.stop_after is None else min(cfg.epochs, int(cfg.stop_after))
    counts = None  # the last evaluation's confusion counts
    for epoch in range(start, stop):
        run_epoch_hooks(model, epoch, cfg.epochs, registry)  # per-kind hooks of the registry (MaskedPSN: λ)
        sampler.set_epoch(epoch)
        net.train()
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (cfg.progress and ctx.is_main),
                   leave=False)
        for xb, yb in bar:
            xb, yb = xb.to(ctx.device).transpose(0, 1), yb.to(ctx.device)
            with _context(amp_dtype, ctx.device):
                logits = net(xb)
                loss = F.cross_entropy(logits.float(), yb, label_smoothing=cfg.label_smoothing)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"{cfg.run_name()}: loss became {loss_value} at epoch {epoch + 1}")
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            scheduler.step()
            loss_sum += loss_value * yb.shape[0]
            correct += int((logits.argmax(1) == yb).sum())
            seen += yb.shape[0]
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        train_s = time.perf_counter() - t0
        loss_sum, correct, seen = distributed.all_reduce_sum(ctx, [loss_sum, correct, seen])
        distributed.average_buffers(ctx, model)
        t1 = time.perf_counter()
        n_eval = data.test_x.shape[0]
        if cfg.eval_limit is not None and epoch + 1 < cfg.epochs:
            n_eval = min(int(cfg.eval_limit), n_eval)
        shard = slice(ctx.rank, n_eval, ctx.world_size)
        k = len(data.classes)
        counts = confusion_matrix(model, data.test_x[shard], data.test_y[shard], k,
                                  batch_size=max(cfg.batch_size, 64), device=ctx.device, amp_dtype=amp_dtype)
        counts = torch.tensor(distributed.all_reduce_sum(ctx, counts.reshape(-1).tolist()),
                              dtype=torch.float64).round().to(torch.int64).reshape(k, k)
        ok, total = int(counts.trace()), int(counts.sum())
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
               "test_accuracy": ok / total, "test_samples": total, "train_seconds": train_s, "eval_seconds": time.perf_counter() - t1,
               "lr": scheduler.get_last_lr()[0]}
        history.append(row)
        _log(ctx, f"epoch {epoch + 1}/{cfg.epochs}: loss {row['train_loss']:.4f}, train {row['train_accuracy']:.4f}, "
                  f"test {row['test_accuracy']:.4f}, {train_s:.1f} s train + {row['eval_seconds']:.1f} s eval")
        if ctx.is_main:
            save_state(run_dir, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                       next_epoch=epoch + 1, history=history, config=cfg.result_config())
    model.eval()
    test_acc = history[-1]["test_accuracy"] if history else float("nan")
    n_sub = min(cfg.subset, data.test_x.shape[0])
    ok, _ = evaluate(model, data.test_x[:n_sub], data.test_y[:n_sub], device=ctx.device, amp_dtype=amp_dtype)
    card_path = None
    if ctx.is_main and cfg.out is not None and len(history) == cfg.epochs:  # only a finished run
        from mfpsn.checkpoints import save

        card_path = save(model.cpu(), cfg.out, cfg.run_name(), task=cfg.task, classes=data.classes,
                         input_spec=data.input_spec, training=cfg.result_config(), seed=cfg.seed,
                         test_accuracy=test_acc, test_samples=int(data.test_x.shape[0]),
                         fixed_subset={"limit": n_sub, "accuracy": ok / n_sub},
                         extra={"history": history, "world_size": ctx.world_size, "device": str(ctx.device)})
        model.to(ctx.device)
        if counts is not None and int(counts.sum()) == data.test_x.shape[0]:  # this process saw the whole split
            from mfpsn.checkpoint_eval import write_eval

            write_eval(card_path, counts)
        _log(ctx, f"saved {card_path}")
    return FitResult(model, history, test_acc, ok / n_sub, card_path, config)
