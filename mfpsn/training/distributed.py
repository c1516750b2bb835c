"""torch.distributed set-up for ``torchrun``: one process per device, DDP, rank-0 logging.

``torchrun --nproc_per_node=N -m mfpsn.train ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
:func:`init` reads them and joins the process group (``nccl`` with CUDA, ``gloo`` on CPU, or the
backend named explicitly). Without those variables training runs in a single process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "init", "shutdown", "all_reduce_sum", "average_buffers"]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, its ``device``; ``is_main`` logs and saves."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init(device: str = "auto", backend: str | None = None) -> DistContext:
    """Join the process group when launched by torchrun; pick this process's device.

    Args:
        device: ``"auto"`` (CUDA ``LOCAL_RANK`` when available, else CPU), ``"cpu"`` or ``"cuda"``.
        backend: ``None`` (``nccl`` on CUDA, ``gloo`` on CPU) or a torch.distributed backend name.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda', found {device!r}")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch sees no CUDA device")
    dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if use_cuda else "gloo"))
    return DistContext(rank, world, local, dev)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (if this process joined one)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(ctx: DistContext, values: list[float]) -> list[float]:
    """Sum ``values`` over all ranks (identity in a single process)."""
    if not ctx.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return t.tolist()


@torch.no_grad()
def average_buffers(ctx: DistContext, module: torch.nn.Module) -> None:
    """Average every floating-point buffer (BatchNorm running statistics) over the ranks.

    DDP keeps parameters identical but each rank updates its own running statistics after the
    broadcast at the start of a forward; averaging them once per epoch makes the replicas equal
    again before the sharded evaluation and the checkpoint. ``copy_`` bumps the buffers' version
    counters, so caches keyed on them (MFPSN's folded eval values) are rebuilt.
    """
    if not ctx.distributed:
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            total = buf.detach().clone()
            dist.all_reduce(total)
            buf.copy_(total / ctx.world_size)
