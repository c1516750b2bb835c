"""Build the sample recordings in ``assets/`` (run once; the outputs are committed).

``python -m mfpsn.tools.make_assets [--out assets] [--no-aedat4] [--no-shd]``

Content: sklearn's bundled 8x8 digits turned into N-MNIST-style events by
:func:`mfpsn.data.saccades.image_to_events` (34x34 sensor, three saccades over about 300 ms),
written with this package's writers. Where a format needs a bigger sensor (DVS128 128x128) the
34x34 digit is placed at the centre. To keep files at tens of KB, 8-byte-per-event formats hold
the first saccade only (t < 100 ms) or its first half (npy, AEDAT 3.1). The AEDAT 4 file needs faery (LGPL-3.0, installed by hand,
not a requirement): ``pip install faery==0.7.1``. The SHD-layout file holds three synthetic
spike-train patterns (sweeps and tones, see :func:`_shd_sweeps`) written with
:func:`mfpsn.events.write_shd_h5`; spoken digits in that layout are another module's asset.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mfpsn.events.core import Events
from mfpsn.events.formats import aedat2, aedat31, dat, evt2, evt3, nmnist, npy
from mfpsn.events.gesture import write_labels

__all__ = ["digit_events", "make_assets"]

SEED = 2025
FIRST_SACCADE_US = 100_000


def digit_events(digit: int, seed: int = SEED) -> Events:
    """Events of the first sklearn 8x8 image of ``digit`` (34x34 sensor, about 300 ms)."""
    from sklearn.datasets import load_digits

    from mfpsn.data.saccades import image_to_events

    data = load_digits()
    index = int(np.flatnonzero(data.target == digit)[0])
    image = data.images[index] / 16.0
    ev = image_to_events(image, seed=seed, sample_id=index)
    return Events(ev.t, ev.x, ev.y, ev.p, ev.width, ev.height,
                  {"digit": digit, "sklearn_index": index, "seed": seed})


def _place(ev: Events, width: int, height: int) -> Events:
    """The same events centred on a ``width x height`` sensor."""
    dx, dy = (width - ev.width) // 2, (height - ev.height) // 2
    return Events(ev.t, ev.x.astype(np.int64) + dx, ev.y.astype(np.int64) + dy, ev.p, width, height, dict(ev.meta))


def _concat_in_time(parts: list[Events], gap_us: int) -> tuple[Events, list[tuple[int, int]]]:
    """Parts one after another with ``gap_us`` between them; returns the events and (start, end) per part."""
    out, spans, offset = [], [], 0
    for ev in parts:
        out.append(Events(ev.t + offset, ev.x, ev.y, ev.p, ev.width, ev.height))
        spans.append((offset, offset + int(ev.t[-1]) + 1))
        offset += int(ev.t[-1]) + 1 + gap_us
    return Events.concatenate(out), spans


def make_assets(out: str | Path = "assets", *, with_aedat4: bool = True, with_shd: bool = True) -> list[Path]:
    """Write every sample file into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d3, d7 = digit_events(3), digit_events(7)
    first = {d: e.time_slice(0, FIRST_SACCADE_US) for d, e in ((3, d3), (7, d7))}
    written: list[Path] = []

    def put(name: str, writer, ev: Events, **kw) -> None:
        path = out / name
        writer(path, ev, **kw)
        written.append(path)

    half = {d: e.time_slice(0, FIRST_SACCADE_US // 2) for d, e in ((3, d3), (7, d7))}
    put("nmnist_digit3.bin", nmnist.write, d3)
    put("nmnist_digit7_first_saccade.bin", nmnist.write, first[7])
    put("evt3_digit3.raw", evt3.write, d3)
    put("evt3_digit7_first_saccade_t0.raw", evt3.write,
        Events(first[7].t + 20_000_000, first[7].x, first[7].y, first[7].p, 34, 34))
    put("evt2_digit7_first_saccade.raw", evt2.write, first[7])
    put("dat_digit3_first_saccade.dat", dat.write, first[3])
    put("aedat2_dvs128_digit3_first_saccade.aedat", aedat2.write, _place(first[3], 128, 128))
    put("aedat2_davis346_digit7_first_saccade.aedat", aedat2.write, _place(first[7], 346, 260), layout="davis")
    put("npz_digit7.npz", npy.write_npz, d7)
    put("npy_digit3_first_50ms.npy", npy.write_npy, half[3])
    # AEDAT 3.1 in the DVS128 Gesture layout: two digits in a row on a 128x128 sensor + labels csv
    rec, spans = _concat_in_time([_place(half[3], 128, 128), _place(half[7], 128, 128)], gap_us=50_000)
    put("aedat31_user01_digits.aedat", aedat31.write, rec, packet_events=512)
    labels = out / "aedat31_user01_digits_labels.csv"
    write_labels(labels, [4, 8], [s for s, _ in spans], [e for _, e in spans])  # class = digit + 1
    written.append(labels)
    if with_aedat4:
        written.append(_aedat4(out / "aedat4_digit3_2000.aedat4", d3[:2000]))
    if with_shd:
        path = out / "shd_sweeps_3.h5"
        _shd_sweeps(path)
        written.append(path)
    return written


def _shd_sweeps(path: Path, seed: int = SEED) -> None:
    """Three small SHD-layout samples: an upward sweep, a downward sweep and two tones
    (labels 0, 1, 2; Poisson spikes around the moving unit, 0.6 s each)."""
    from mfpsn.events.formats.shd import write_shd_h5

    rng = np.random.default_rng(seed)
    shapes = [lambda s: 100 + 500 * s, lambda s: 600 - 500 * s, lambda s: np.where(s < 0.5, 200, 450)]
    times, units = [], []
    for shape in shapes:
        t = np.sort(rng.uniform(0.05, 0.65, 1200))
        u = np.clip(np.round(shape((t - 0.05) / 0.6) + rng.normal(0, 12, t.size)), 0, 699)
        times.append(t)
        units.append(u.astype(np.uint16))
    write_shd_h5(path, times, units, np.arange(3), keys=["sweep_up", "sweep_down", "two_tones"],
                 speakers=np.zeros(3, np.int64))


def _aedat4(path: Path, ev: Events) -> Path:
    """AEDAT 4 through faery (third-party writer; see the module docstring)."""
    import faery

    arr = np.zeros(len(ev), dtype=faery.EVENTS_DTYPE)
    arr["t"], arr["x"], arr["y"], arr["on"] = ev.t, ev.x, ev.y, ev.p.astype(bool)
    faery.events_stream_from_array(arr, dimensions=(ev.width, ev.height)).to_file(str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="assets")
    parser.add_argument("--no-aedat4", action="store_true", help="skip the faery-written AEDAT 4 file")
    parser.add_argument("--no-shd", action="store_true", help="skip the SHD-layout spike-train file")
    args = parser.parse_args(argv)
    for path in make_assets(args.out, with_aedat4=not args.no_aedat4, with_shd=not args.no_shd):
        print(f"{path}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
