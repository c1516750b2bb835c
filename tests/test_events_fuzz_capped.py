"""Fuzzing under a memory cap: hypothesis-drawn corruptions (truncations, random bodies behind a valid header,
overwritten blocks, header fields set to extreme values) of a valid file of every format, all read in one child
process whose address space is capped at VmSize + 1 GiB. Each read must end in Events or a clean
EventFormatError: no MemoryError, no other exception, no crash."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from memcap import run_capped_script
from mfpsn.events import Events, write_events, write_shd_h5

ASSETS = Path(__file__).resolve().parents[1] / "assets"
FORMATS = {"nmnist": ".bin", "aedat2": ".aedat", "aedat31": ".aedat", "evt2": ".raw", "evt3": ".raw", "dat": ".dat",
           "npy": ".npy", "npz": ".npz", "shd": ".h5", "aedat4": ".aedat4"}
BODY = """
import json
cases = json.loads(open({listing!r}).read())
out = {{}}
for name, fmt, path in cases:
    try:
        read_events(path, format=fmt)
        out[name] = "ok"
    except EventFormatError:
        out[name] = "EventFormatError"
    except BaseException as exc:
        out[name] = "BAD %s: %s" % (type(exc).__name__, str(exc)[:200])
print(json.dumps(out))
"""
EXTREMES = [b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\xff" * 8, b"\x00" * 8, struct.pack("<q", 1 << 40)]
_OP = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("random_body"), st.integers(0, 400), st.binary(min_size=0, max_size=2048)),
    st.tuples(st.just("overwrite"), st.floats(0, 1), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("extreme"), st.floats(0, 1), st.sampled_from(EXTREMES)),
)


def _seed(folder: Path, fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    n = 300
    path = folder / f"seed_{fmt}{FORMATS[fmt]}"
    if fmt == "aedat4":
        pytest.importorskip("aedat")
        return (ASSETS / "aedat4_digit3_2000.aedat4").read_bytes()
    if fmt == "shd":
        write_shd_h5(path, [np.sort(rng.uniform(0, 1, 50))], [rng.integers(0, 700, 50)], [1], keys=["a", "b"])
    else:
        ev = Events(np.sort(rng.integers(0, 8_000_000, n)), rng.integers(0, 34, n), rng.integers(0, 34, n),
                    rng.integers(0, 2, n), 34, 34)
        write_events(path, ev, format=fmt, **({"packet_events": 16} if fmt == "aedat31" else {}))
    return path.read_bytes()


def _apply(data: bytes, op) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return data[:int(op[1] * len(data))]
    if kind == "random_body":
        return data[:op[1]] + op[2]
    pos = min(int(op[1] * len(data)), max(len(data) - 1, 0))
    return data[:pos] + op[2] + data[pos + len(op[2]):]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_corrupted_files_under_an_address_space_cap(tmp_path_factory, fmt):
    folder = tmp_path_factory.mktemp(f"capfuzz_{fmt}")
    data = _seed(folder, fmt)
    cases: list = []

    @settings(max_examples=10 if fmt != "aedat4" else 5, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(ops=st.lists(_OP, min_size=1, max_size=3))
    def collect(ops):
        b = data
        for op in ops:
            b = _apply(b, op)
        path = folder / f"case{len(cases)}{FORMATS[fmt]}"
        path.write_bytes(b)
        cases.append((path.name, fmt, str(path)))
        cases.append((path.name + "+detect", None, str(path)))

    collect()
    listing = folder / "cases.json"
    listing.write_text(json.dumps(cases))
    out = json.loads(run_capped_script(BODY.format(listing=str(listing)), extra_bytes=1 << 30).strip().splitlines()[-1])
    bad = {k: v for k, v in out.items() if v.startswith("BAD")}
    assert not bad, bad
    assert len(out) == len(cases)
