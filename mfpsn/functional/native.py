"""Building, caching and verifying the project's small native CPU libraries (the fused MFPSN filter, the fused
LIF): compile once per machine, load only what this user built.

The cache folder is ``$MFPSN_CACHE_DIR`` or ``~/.cache/mfpsn``; it is created with mode 0700 and must be owned by
the current user (a looser folder we own is tightened to 0700; one owned by someone else is refused). A library
``NAME.so`` is built from its C++ source with ``$CXX`` (default g++) in a private temporary folder, then its
sha256 is written to ``NAME.so.sha256`` (mode 0600) and both are moved into place atomically.

Before a library is loaded (``ctypes.CDLL``) it must be a regular file owned by this user and not writable by
group or others, with a digest file of the same kind whose recorded sha256 equals the file's. A library that
fails any of that (planted, modified, truncated, digest missing) is refused with a one-line message naming its
path, removed and rebuilt. After loading, the caller's self-test runs the library on a known input; only if it
passes is the library handed out (a failing one is removed, so the next process rebuilds it, and the caller gets
a ``RuntimeError``). Building prints one line to stderr (it happens once per machine).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["PARALLEL_BLOCKS_CPP", "cache_root", "compiler", "library_path", "build", "load_verified", "digest_path", "notice"]

_DIGEST_SUFFIX = ".sha256"

#: C++ shared by the native libraries (pasted into each source where it says ``@PARALLEL_BLOCKS@``, inside its
#: anonymous namespace; needs <algorithm> and <cstdint>, and ``-fopenmp``).
PARALLEL_BLOCKS_CPP = r"""// Blocks [0, nblocks) are cut into nchunks_for(nblocks) = min(nblocks, MAX_CHUNKS) fixed ranges (chunk q holds
// blocks [chunk_begin(q), chunk_begin(q + 1))), a function of nblocks alone; the threads take chunks as they come
// free (OpenMP dynamic schedule) and run fn(q, b0, b1). A worker that joins late takes fewer chunks instead of holding
// up the call. Partial sums are kept per chunk, not per thread, and added in chunk order, so no result
// depends on the thread count or on which thread ran which chunk. On OpenMP: the library links libgomp.so.1, the
// soname of the OpenMP runtime torch has already loaded, so the loader reuses it and these are torch's own workers
// (no thread start per call, no second pool competing with torch's spinning workers for the cores).
constexpr int64_t MAX_CHUNKS = 16;
inline int64_t nchunks_for(int64_t nblocks) { return std::max<int64_t>(1, std::min<int64_t>(nblocks, MAX_CHUNKS)); }
inline int64_t chunk_begin(int64_t nblocks, int64_t q) {
  const int64_t nc = nchunks_for(nblocks), per = nblocks / nc, extra = nblocks % nc;
  return q * per + std::min(q, extra);
}
template <typename Fn>
void parallel_blocks(int64_t nblocks, int nthreads, Fn fn) {
  const int64_t nc = nchunks_for(nblocks);
  auto one = [&](int64_t q) {
    const int64_t b0 = chunk_begin(nblocks, q), b1 = chunk_begin(nblocks, q + 1);
    if (b0 < b1) fn(int(q), b0, b1);
  };
  nthreads = int(std::max<int64_t>(1, std::min<int64_t>(nthreads, nc)));
  if (nthreads == 1) {
    for (int64_t q = 0; q < nc; ++q) one(q);
    return;
  }
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1)
  for (int64_t q = 0; q < nc; ++q) one(q);
}
"""


def notice(message: str) -> None:
    """One line to stderr (builds and refusals; never on the steady path)."""
    print(f"mfpsn: {message}", file=sys.stderr, flush=True)


def cache_root(create: bool = True) -> Path:
    """The private cache folder (``$MFPSN_CACHE_DIR`` or ``~/.cache/mfpsn``), created 0700 when ``create``.

    Raises RuntimeError if it cannot be created or written, or is owned by another user.
    """
    root = Path(os.environ.get("MFPSN_CACHE_DIR") or Path.home() / ".cache" / "mfpsn").expanduser()
    if not create:
        return root
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = root.lstat()
    except OSError as err:
        raise RuntimeError(f"cannot write the kernel cache folder {root} ({err}); set MFPSN_CACHE_DIR to a "
                           "writable folder") from err
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeError(f"the kernel cache folder {root} is not a folder (a link or a file); set "
                           "MFPSN_CACHE_DIR to a private folder")
    if st.st_uid != os.getuid():
        raise RuntimeError(f"the kernel cache folder {root} is owned by uid {st.st_uid}, not by this user "
                           f"({os.getuid()}); refusing to load native code from it; set MFPSN_CACHE_DIR")
    if st.st_mode & 0o077:
        os.chmod(root, 0o700)
    return root


def compiler(what: str) -> str:
    """Path of ``$CXX`` (default g++); RuntimeError naming it when it is not on PATH."""
    cxx = os.environ.get("CXX", "g++")
    path = shutil.which(cxx)
    if path is None:
        raise RuntimeError(
            f"{what} needs a C++ compiler: {cxx!r} (from $CXX, default g++) is not on PATH; install one (Debian: "
            "apt-get install g++) or choose another backend")
    return path


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return ""


def library_path(stem: str, source: str, flags: tuple[str, ...], what: str) -> Path:
    """``<cache>/<stem>_<hash>.so``, the hash of source, flags, compiler version and CPU flags (may not exist)."""
    cxx = compiler(what)
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=False).stdout
    key = hashlib.sha256("\0".join([source, " ".join(flags), version, _cpu_flags()]).encode()).hexdigest()[:16]
    return cache_root(create=False) / f"{stem}_{key}.so"


def digest_path(lib: Path) -> Path:
    return lib.with_name(lib.name + _DIGEST_SUFFIX)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(target: Path, source: str, flags: tuple[str, ...], what: str) -> None:
    """Compile ``source`` into ``target`` and record its sha256 beside it (both atomic, both private)."""
    try:
        cache_root()
        tmp_dir = tempfile.TemporaryDirectory(dir=target.parent)
    except (OSError, RuntimeError) as err:
        raise RuntimeError(f"{what}: cannot write the kernel cache folder {target.parent} ({err}); set "
                           "MFPSN_CACHE_DIR to a writable folder") from err
    notice(f"building the native kernel for {what}, once for this machine, into {target} ...")
    with tmp_dir as tmp:
        (Path(tmp) / "kernel.cpp").write_text(source)
        # relative names in a fixed folder: the same source gives the same bytes, whichever process builds it
        proc = subprocess.run([compiler(what), *flags, "kernel.cpp", "-o", "kernel.so"], cwd=tmp,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{what}: compiling the CPU kernel failed:\n{proc.stderr}")
        out = Path(tmp) / "kernel.so"
        os.chmod(out, 0o700)
        fd = os.open(Path(tmp) / "digest", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(_sha256(out) + "\n")
        os.replace(Path(tmp) / "digest", digest_path(target))
        os.replace(out, target)  # concurrent builders never see a half-written library


def _private_file_problem(path: Path, what: str, mask: int) -> str | None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return f"its {what} is missing"
    if not stat.S_ISREG(st.st_mode):
        return f"its {what} is not a regular file"
    if st.st_uid != os.getuid():
        return f"its {what} is owned by uid {st.st_uid}, not this user"
    if st.st_mode & mask:
        return f"its {what} is writable or readable by others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def verify(lib: Path) -> str | None:
    """None when ``lib`` may be loaded, else why not (ownership, mode, digest)."""
    problem = (_private_file_problem(lib, "library", 0o022)
               or _private_file_problem(digest_path(lib), "digest file", 0o077))
    if problem:
        return problem
    recorded = digest_path(lib).read_text().strip()
    if recorded != _sha256(lib):
        return "its sha256 does not match the digest recorded when it was built"
    return None


def _remove(lib: Path) -> None:
    for p in (lib, digest_path(lib)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def load_verified(target: Path, build_fn: Callable[[Path], None], configure: Callable[[ctypes.CDLL], None],
                  selftest: Callable[[ctypes.CDLL], None], what: str) -> ctypes.CDLL:
    """Build if needed, verify (rebuilding a refused file), load, configure the signatures, self-test.

    Raises RuntimeError when the fresh build does not verify or the self-test fails (the file is removed).
    """
    cache_root()
    if target.exists() or target.is_symlink():
        problem = verify(target)
        if problem:
            notice(f"refusing {what} at {target}: {problem}; rebuilding it")
            _remove(target)
    if not target.exists():
        build_fn(target)
        problem = verify(target)
        if problem:
            raise RuntimeError(f"{what}: the library just built at {target} does not verify: {problem}")
    lib = ctypes.CDLL(str(target))
    configure(lib)
    try:
        selftest(lib)
    except Exception as err:  # noqa: BLE001 - any failure means: do not use this library
        _remove(target)
        raise RuntimeError(f"{what}: the library at {target} failed its self-test on a known input ({err}); "
                           "removed it (the next process rebuilds it)") from err
    return lib
