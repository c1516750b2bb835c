"""Run a snippet in a child Python whose address space is capped at its VmSize (after imports) + a margin."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRELUDE = """
import resource, sys
import numpy, h5py, zipfile
from mfpsn.events import read_events, EventFormatError
from mfpsn.events.frames import events_to_frames
vm = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmSize:'))
resource.setrlimit(resource.RLIMIT_AS, (vm + {extra}, resource.getrlimit(resource.RLIMIT_AS)[1]))
"""


def run_capped(expr: str, extra_bytes: int = 1 << 30, timeout: float = 300) -> str:
    """``repr``-free string of ``expr`` evaluated under the cap; raises AssertionError with stderr on failure."""
    code = PRELUDE.format(extra=int(extra_bytes)) + f"print({expr})\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def run_capped_script(body: str, extra_bytes: int = 1 << 30, timeout: float = 600) -> str:
    """Run ``body`` (statements) under the cap; returns stdout."""
    code = PRELUDE.format(extra=int(extra_bytes)) + body
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout
