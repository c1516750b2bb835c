"""Start-up of the served app: the fused CPU kernel is warmed in the background before the app listens."""
from __future__ import annotations

import threading

import pytest

from mfpsn.app import serve
from mfpsn.functional import fused_cpu


class _FakeBlocks:
    """Stands in for gr.Blocks: records the calls ``serve.main`` makes."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def queue(self, **kwargs):
        self.calls.append("queue")
        return self

    def launch(self, **kwargs):
        self.calls.append("launch")
        self.kwargs = kwargs


def test_main_warms_the_fused_kernel_before_launching(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(serve, "warm_kernels", lambda: calls.append("warm"))
    demo = _FakeBlocks(calls)
    serve.main(demo, ["--port", "7999"])
    assert calls == ["warm", "queue", "launch"]
    assert demo.kwargs["server_port"] == 7999


def test_warm_kernels_loads_the_library_in_a_thread():
    try:
        fused_cpu.library_path()
    except RuntimeError as err:
        pytest.skip(f"no C++ compiler: {err}")
    thread = serve.warm_kernels()
    assert isinstance(thread, threading.Thread) and thread.daemon
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert fused_cpu.ready()
