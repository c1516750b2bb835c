"""Every reader's worst input, hostile files and corrupted variants (truncations, random bodies) read in one
child process under an address-space cap of VmSize + 1 GiB (``resource.RLIMIT_AS``): each read ends in Events or
a clean EventFormatError, never MemoryError, another exception or a crash."""
from __future__ import annotations

import json

import numpy as np
import pytest

from memcap import run_capped_script
from mfpsn.events.memory_bench import worst_inputs

BODY = """
import json, traceback
cases = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.loads(open({listing!r}).read())
out = {{}}
for name, fmt, path in cases:
    try:
        ev = read_events(path, format=fmt)
        out[name] = "events %d" % len(ev)
    except EventFormatError as exc:
        out[name] = "EventFormatError"
    except BaseException as exc:
        out[name] = "BAD %s: %s" % (type(exc).__name__, str(exc)[:200])
print(json.dumps(out))
"""


def _variants(name: str, fmt: str, path, folder, rng) -> list[tuple[str, str | None, str]]:
    data = path.read_bytes()
    out = []
    for i, frac in enumerate((0.0003, 0.01, 0.3, 0.7, 0.999)):
        p = folder / f"{name}_cut{i}{path.suffix}"
        p.write_bytes(data[:max(1, int(len(data) * frac))])
        out.append((p.name, fmt, str(p)))
    head = data[:min(len(data), 256)]
    p = folder / f"{name}_randbody{path.suffix}"
    p.write_bytes(head + rng.integers(0, 256, min(len(data), 1 << 16), dtype=np.uint8).tobytes())
    out.append((p.name, fmt, str(p)))
    p = folder / f"{name}_renamed.bin"
    p.write_bytes(data[: 1 << 16])
    out.append((p.name, None, str(p)))
    return out


@pytest.mark.slow
def test_worst_inputs_and_corruptions_under_an_address_space_cap(tmp_path):
    rng = np.random.default_rng(0)
    cases = []
    for name, (fmt, path) in worst_inputs(tmp_path / "w", mb=1.5).items():
        cases.append((name, fmt, str(path)))
        cases.extend(_variants(name, fmt, path, tmp_path, rng))
    listing = tmp_path / "cases.json"
    listing.write_text(json.dumps(cases))
    out = json.loads(run_capped_script(BODY.format(listing=str(listing)), extra_bytes=1 << 30).strip().splitlines()[-1])
    bad = {k: v for k, v in out.items() if v.startswith("BAD")}
    assert not bad, bad
    assert len(out) == len(cases) and len(cases) > 90
    assert out["npz_bomb"] == "EventFormatError" and out["shd_chunk_bomb"] == "EventFormatError"
    assert out["nmnist_dense"].startswith("events")
