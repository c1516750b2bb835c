"""A caching allocator for the large CPU outputs of the native kernels (the CPU analogue of CUDA's caching allocator).

Why: torch's CPU allocator returns every large block to the operating system when a tensor dies (glibc ``munmap``
above its mmap threshold), so the next step's output of the same size is fresh memory again: one page fault and one
page zeroing per page on its first write. On the benchmark machine a fresh 64 MiB spike tensor cost about 12 ms of
faults against 6 ms for the filter pass that writes it (huge-page advice included), so an eval forward ran at 3× the
copy floor instead of 1.3×, and each training step paid it twice per layer. Blocks of 1 MiB fare no better: glibc
trims the free memory at the top of its heap, so in the training layer at T = 256, N = 1,024 (1 MiB tensors) the
spike forward took 0.31 ms between the other passes against 0.11 ms alone, and 0.13 ms with its output cached
(measured ad hoc on the Intel Xeon VM, 2026-12-03).

What: :meth:`BufferCache.empty` hands out an uninitialised contiguous tensor of at least ``min_bytes`` (256 KiB). When
the last tensor or view using it dies, its block goes back to this cache instead of the operating system, and the
next request of the same byte size gets it back, already mapped. New blocks come from torch's allocator (with the
cache off, each output is advised to use transparent huge pages before its first touch, as before). The cache keeps
at most ``limit_bytes`` of idle blocks (least recently returned dropped first); requests of a size it does not hold, or smaller than
``min_bytes``, are new torch tensors as before.

The tensors are ordinary CPU tensors (autograd, views, ``share_memory_``, ``torch.save``) with one difference: their
storage cannot be resized (``Tensor.resize_`` to a larger size raises ``RuntimeError``, as for ``torch.frombuffer``).
The kernels' outputs are never resized in the package.

Process state, on purpose: this is an allocator, and only the process can own one. :func:`empty_like` serves the
native kernels' outputs (the fused MFPSN filter, spike and gradient passes, the fused LIF) from one instance, built on
first use and sized by ``$MFPSN_CPU_CACHE_MB`` (default 1024; 0 turns the cache off). :func:`empty_cache` drops the
idle blocks and :func:`cache_info` reports them.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch

__all__ = ["BufferCache", "CacheInfo", "advise_huge_pages", "empty_like", "empty_cache", "cache_info", "MIN_BYTES"]

MIN_BYTES = 256 << 10   # outputs at least this large come from the cache
_HUGE = 2 << 20       # the transparent huge page size on x86-64 and arm64 Linux
_MADV_HUGEPAGE = 14   # <sys/mman.h> on Linux


@lru_cache(maxsize=1)
def _madvise():
    if not sys.platform.startswith("linux"):
        return None
    fn = ctypes.CDLL(None, use_errno=True).madvise
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    return fn


def advise_huge_pages(t: torch.Tensor) -> None:
    """Ask for transparent huge pages on the 2 MiB-aligned interior of ``t``'s memory, before its first touch.

    Advice only: where THP is off, or not Linux, nothing happens and nothing is raised.
    """
    fn = _madvise()
    if fn is None:
        return
    start = t.data_ptr()
    a = (start + _HUGE - 1) & ~(_HUGE - 1)
    e = (start + t.numel() * t.element_size()) & ~(_HUGE - 1)
    if e > a:
        fn(a, e - a, _MADV_HUGEPAGE)


@dataclass(frozen=True)
class CacheInfo:
    """A snapshot: idle blocks held, their bytes, requests served from the cache (hits) and by new blocks (misses)."""
    idle_blocks: int
    idle_bytes: int
    hits: int
    misses: int
    limit_bytes: int


class _GiveBack:
    """Owned by the buffer object that a handed-out tensor's storage keeps alive; returns the block when it dies."""
    __slots__ = ("cache", "block")

    def __init__(self, cache: BufferCache, block: torch.Tensor):
        self.cache, self.block = cache, block

    def __del__(self):
        try:
            self.cache._give_back(self.block)
        except Exception:   # interpreter shutdown: module globals may already be gone; the memory is freed anyway
            pass


class BufferCache:
    """Blocks of exact byte sizes, kept after use and handed out again (see the module docstring).

    Args:
        limit_bytes: the most idle bytes kept; 0 keeps nothing (every request is a new torch tensor).
        min_bytes: requests smaller than this are plain ``torch.empty`` (glibc reuses small blocks from its free lists).
        advise: called as ``advise(block)`` on each new block before its first touch (the huge-page advice).
    """

    def __init__(self, limit_bytes: int, min_bytes: int = MIN_BYTES,
                 advise: Callable[[torch.Tensor], None] | None = None):
        if limit_bytes < 0 or min_bytes < 1:
            raise ValueError(f"BufferCache: limit_bytes must be >= 0 and min_bytes >= 1, found {limit_bytes}, "
                             f"{min_bytes}")
        self.limit_bytes, self.min_bytes, self._advise = int(limit_bytes), int(min_bytes), advise
        self._idle: OrderedDict[int, list[torch.Tensor]] = OrderedDict()   # byte size → blocks, oldest size first
        self._idle_bytes = self._hits = self._misses = 0
        self._lock = threading.RLock()   # re-entrant: a give-back may run inside a locked section's decref

    def empty(self, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised contiguous CPU tensor ``[*shape]`` of ``dtype``."""
        numel = 1
        for n in shape:
            numel *= int(n)
        nbytes = numel * dtype.itemsize
        if self.limit_bytes == 0 or nbytes < self.min_bytes:
            out = torch.empty(tuple(shape), dtype=dtype)
            if nbytes >= self.min_bytes and self._advise is not None:
                self._advise(out)
            return out
        block = self._take(nbytes)
        if block is None:
            block = torch.empty(nbytes, dtype=torch.uint8)
            if self._advise is not None:
                self._advise(block)
        buffer = (ctypes.c_char * nbytes).from_address(block.data_ptr())
        buffer._give_back = _GiveBack(self, block)   # dies with the last storage reference to ``buffer``
        return torch.frombuffer(buffer, dtype=dtype).view(tuple(shape))

    def _take(self, nbytes: int) -> torch.Tensor | None:
        with self._lock:
            blocks = self._idle.get(nbytes)
            if not blocks:
                self._misses += 1
                return None
            block = blocks.pop()
            if not blocks:
                del self._idle[nbytes]
            self._idle_bytes -= nbytes
            self._hits += 1
            return block

    def _give_back(self, block: torch.Tensor) -> None:
        nbytes = block.numel()
        dropped = []
        with self._lock:
            if nbytes <= self.limit_bytes:
                self._idle.setdefault(nbytes, []).append(block)
                self._idle.move_to_end(nbytes)
                self._idle_bytes += nbytes
            else:
                dropped.append(block)
            while self._idle_bytes > self.limit_bytes:
                size, blocks = next(iter(self._idle.items()))
                dropped.append(blocks.pop(0))
                if not blocks:
                    del self._idle[size]
                self._idle_bytes -= size
        del dropped   # freed outside the lock

    def clear(self) -> None:
        """Drop every idle block (their memory goes back to the operating system); blocks in use are unaffected."""
        with self._lock:
            idle, self._idle, self._idle_bytes = self._idle, OrderedDict(), 0
        del idle

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(sum(len(b) for b in self._idle.values()), self._idle_bytes, self._hits, self._misses,
                             self.limit_bytes)


@lru_cache(maxsize=1)
def _process_cache() -> BufferCache:
    raw = os.environ.get("MFPSN_CPU_CACHE_MB", "1024")
    try:
        mb = int(raw)
        if mb < 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"MFPSN_CPU_CACHE_MB: expected a whole number of MiB >= 0, found {raw!r}") from None
    # Huge-page advice only without the cache: with blocks retained, new advised blocks made the kernel compact
    # memory at their first fault (THP defrag "madvise"), and the first training step on a new N = 65,536 shape took
    # 240-280 ms against 100 ms unadvised (steady 60 ms either way: a reused block takes no faults at all).
    return BufferCache(mb << 20, MIN_BYTES, advise_huge_pages if mb == 0 else None)


def empty_like(like: torch.Tensor) -> torch.Tensor:
    """An uninitialised contiguous CPU tensor of ``like``'s shape and dtype, from the process's output cache."""
    return _process_cache().empty(like.shape, like.dtype)


def empty_cache() -> None:
    """Give the idle cached blocks back to the operating system (blocks in use stay)."""
    _process_cache().clear()


def cache_info() -> CacheInfo:
    """The process's output cache: idle blocks, idle bytes, hits, misses and the limit."""
    return _process_cache().info()
