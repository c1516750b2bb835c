"""Native libraries are built into a private cache folder and loaded only when their digest and self-test pass."""
from __future__ import annotations

import os
import shutil
import stat

import pytest
import torch

from mfpsn.functional import fused_cpu, native

requires_cxx = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                                  reason="needs a C++ compiler ($CXX or g++)")


@pytest.fixture
def private_cache(monkeypatch, tmp_path):
    root = tmp_path / "a" / "cache"
    monkeypatch.setenv("MFPSN_CACHE_DIR", str(root))
    fused_cpu._load_unlocked.cache_clear()
    yield root
    fused_cpu._load_unlocked.cache_clear()      # later tests load the library from the default folder


def test_cache_folder_is_created_private(private_cache):
    root = native.cache_root()
    assert root == private_cache and stat.S_IMODE(root.stat().st_mode) == 0o700


def test_a_loose_cache_folder_we_own_is_tightened(private_cache):
    private_cache.mkdir(parents=True)
    os.chmod(private_cache, 0o777)
    native.cache_root()
    assert stat.S_IMODE(private_cache.stat().st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown to another user needs root")
def test_a_cache_folder_owned_by_another_user_is_refused(private_cache):
    private_cache.mkdir(parents=True)
    os.chown(private_cache, 65534, 65534)
    with pytest.raises(RuntimeError, match=f"{private_cache} is owned by uid 65534"):
        native.cache_root()


def _tamper_append(path):
    with open(path, "ab") as fh:
        fh.write(b"\0planted")


def _tamper_digest(path):
    native.digest_path(path).unlink()


def _tamper_loose(path):
    os.chmod(native.digest_path(path), 0o644)


def _tamper_replace(path):
    other = path.with_name("other.so")
    shutil.copy(path, other)
    with open(other, "r+b") as fh:   # same size, one byte changed
        fh.seek(100)
        b = fh.read(1)
        fh.seek(100)
        fh.write(bytes([b[0] ^ 0xFF]))
    os.replace(other, path)


@requires_cxx
@pytest.mark.parametrize("tamper,why", [
    (_tamper_append, "sha256 does not match"), (_tamper_replace, "sha256 does not match"),
    (_tamper_digest, "digest file is missing"), (_tamper_loose, "digest file is writable or readable by others"),
])
def test_a_planted_or_modified_library_is_refused_and_rebuilt(private_cache, monkeypatch, capsys, tamper, why):
    path = fused_cpu.library_path()
    fused_cpu._build(path)
    tamper(path)
    builds = []
    real = fused_cpu._build
    monkeypatch.setattr(fused_cpu, "_build", lambda t: (builds.append(t), real(t)))
    fused_cpu.warmup()
    err = capsys.readouterr().err
    assert f"refusing the fused CPU kernel" in err and str(path) in err and why in err
    assert builds == [path] and native.verify(path) is None
    x, taps = torch.randn(6, 2, 3), torch.randn(3, 2)
    from mfpsn.backends import temporal_filter
    from mfpsn.functional import temporal_filter_ref

    torch.testing.assert_close(temporal_filter(x, taps, 2, backend="fused"), temporal_filter_ref(x, taps, 2))


@requires_cxx
def test_a_verified_library_is_loaded_without_rebuild_or_message(private_cache, capsys):
    path = fused_cpu.library_path()
    fused_cpu._build(path)
    capsys.readouterr()
    assert stat.S_IMODE(native.digest_path(path).stat().st_mode) == 0o600
    fused_cpu.warmup()
    assert capsys.readouterr().err == ""


@requires_cxx
def test_a_failing_self_test_refuses_the_library_and_removes_it(private_cache, monkeypatch):
    def bad(lib):
        raise RuntimeError("wrong results in torch.float32")

    monkeypatch.setattr(fused_cpu, "_selftest", bad)
    path = fused_cpu.library_path()
    with pytest.raises(RuntimeError, match="failed its self-test on a known input .*wrong results"):
        native.load_verified(path, fused_cpu._build, fused_cpu._configure, fused_cpu._selftest, "x")
    assert not path.exists() and not native.digest_path(path).exists()
