"""The output block cache (mfpsn.functional.buffer_cache): reuse, lifetime through views, the limit, clearing,
the small-request path, the environment knob, and the kernels' outputs unchanged when served from it."""
import gc
import io
import threading

import pytest
import torch

from mfpsn.functional import buffer_cache
from mfpsn.functional.buffer_cache import BufferCache

MIB = 1 << 20


def test_block_comes_back_only_after_the_last_view_dies():
    cache = BufferCache(limit_bytes=8 * MIB, min_bytes=MIB)
    a = cache.empty((256, 1024), torch.float32)               # 1 MiB
    ptr = a.data_ptr()
    view = a[10:20]
    del a
    gc.collect()
    assert cache.info().idle_blocks == 0                      # the view still uses the block
    b = cache.empty((256, 1024), torch.float32)
    assert b.data_ptr() != ptr                                # so a new one is handed out
    view.fill_(3.0)
    assert torch.all(view == 3.0)
    del view
    assert cache.info().idle_blocks == 1
    c = cache.empty((1024, 256), torch.float32)               # same byte size, another shape
    assert c.data_ptr() == ptr and c.shape == (1024, 256) and c.is_contiguous()
    info = cache.info()
    assert (info.hits, info.misses, info.idle_blocks) == (1, 2, 0)


def test_tensors_behave_as_ordinary_tensors():
    cache = BufferCache(limit_bytes=8 * MIB, min_bytes=MIB)
    x = cache.empty((512, 512), torch.float64)
    x.copy_(torch.arange(512 * 512, dtype=torch.float64).reshape(512, 512))
    y = x.clone().requires_grad_(True)
    (y * 2).sum().backward()
    assert torch.equal(y.grad, torch.full_like(y, 2.0))
    assert x.dtype == torch.float64 and x.device.type == "cpu" and x.sum().item() == sum(range(512 * 512))
    buf = io.BytesIO()
    torch.save(x, buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf), x)
    x.share_memory_()
    assert x.is_shared() and x[3, 4].item() == 3 * 512 + 4
    with pytest.raises(RuntimeError, match="not resizable"):
        x.resize_(1024, 1024)


def test_limit_drops_the_oldest_and_oversized_blocks():
    cache = BufferCache(limit_bytes=3 * MIB, min_bytes=MIB)
    one, two_a, two_b = (cache.empty((n * MIB,), torch.uint8) for n in (1, 2, 2))
    one_ptr, two_b_ptr = one.data_ptr(), two_b.data_ptr()
    del one, two_a                                            # 1 + 2 MiB idle: at the limit
    assert cache.info().idle_bytes == 3 * MIB
    del two_b                                                 # 5 MiB: the oldest size (1 MiB), then the oldest 2
    info = cache.info()
    assert info.idle_bytes == 2 * MIB and info.idle_blocks == 1
    assert cache.empty((2 * MIB,), torch.uint8).data_ptr() == two_b_ptr != one_ptr
    big = cache.empty((4 * MIB,), torch.uint8)                # larger than the limit: never kept
    del big
    assert (cache.info().idle_bytes, cache.info().idle_blocks) == (2 * MIB, 1)
    cache.clear()
    assert cache.info().idle_blocks == 0 and cache.info().idle_bytes == 0


def test_small_requests_and_a_zero_limit_are_plain_tensors():
    advised = []
    cache = BufferCache(limit_bytes=0, min_bytes=MIB, advise=advised.append)
    t = cache.empty((MIB // 4,), torch.float32)
    assert t.untyped_storage().resizable()
    del t
    assert cache.info().idle_blocks == 0 and len(advised) == 1   # large: advised, never cached
    small = BufferCache(limit_bytes=8 * MIB, min_bytes=MIB).empty((10, 10), torch.float32)
    assert small.untyped_storage().resizable()


def test_threads_share_the_cache_without_losing_blocks():
    cache = BufferCache(limit_bytes=64 * MIB, min_bytes=MIB)

    def work():
        for _ in range(50):
            t = cache.empty((MIB,), torch.uint8)
            t[0] = 1
            del t

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    info = cache.info()
    assert info.hits + info.misses == 200 and 1 <= info.idle_blocks <= 4


def test_bad_arguments_and_environment_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="limit_bytes"):
        BufferCache(limit_bytes=-1)
    monkeypatch.setenv("MFPSN_CPU_CACHE_MB", "lots")
    buffer_cache._process_cache.cache_clear()
    try:
        with pytest.raises(ValueError, match="MFPSN_CPU_CACHE_MB.*'lots'"):
            buffer_cache.empty_like(torch.empty(4))
    finally:
        buffer_cache._process_cache.cache_clear()


def test_advice_on_a_tensor_never_raises():
    buffer_cache.advise_huge_pages(torch.empty(3 * MIB, dtype=torch.uint8))
    buffer_cache.advise_huge_pages(torch.empty(7, dtype=torch.uint8))


def test_fused_outputs_from_reused_blocks_equal_the_reference():
    """Two calls on a 16 MiB input: the second gets the first's block back (hit) and the same correct values."""
    from mfpsn.functional import fused_cpu
    from mfpsn.functional.filter import temporal_filter_ref
    try:
        fused_cpu.warmup()
    except RuntimeError as err:
        pytest.skip(str(err))
    torch.manual_seed(0)
    x = torch.randn(64, 8192, 8)                             # [T, B, C]: 16 MiB float32, C = 8
    taps = torch.randn(8, 3)
    want = temporal_filter_ref(x.double(), taps.double(), 2).float()
    before = buffer_cache.cache_info().hits
    for _ in range(2):
        h = fused_cpu.fused_forward(x, taps, 2)
        torch.testing.assert_close(h, want, rtol=1e-5, atol=1e-4)
        del h
    assert buffer_cache.cache_info().hits >= before + 1
