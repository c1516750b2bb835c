"""``python -m mfpsn.bench.first_call``: what the first MFPSN forward+backward on a new shape costs in a fresh
process (no warmup call), against the steady call, as issue 14 asks (≤ 3×).

Each measurement runs in a new Python process: build ``MFPSN(C, order=k, dilation=d)`` with the defaults
(``backend="auto"``), time ``forward(x).backward(gy)`` on ``x: [T, N/C, C]`` once (the first call: the selector's
choice and any kernel load included; a kernel build is not, when the cache folder already holds it) and then
``--repeats`` more times (steady: the median). Then the same for a second new shape in the same process
(one more batch entry, ``N + C``): the first ``backward(gradient)`` of a process makes torch import
``torch.fx.experimental.symbolic_shapes`` and sympy (about 1.3 s on the loaded benchmark machine, whatever the
library), which the first shape's ratio includes and the second's does not. So each process is run twice: cold
(nothing before the first call) and with torch's one-time import paid by one unrelated backward of a 1-element
tensor before the MFPSN is built (``torch_warm``: no mfpsn code runs, so the ratio is mfpsn's own first-call cost:
the selector's choice, the kernel load, the first fresh buffers). A third cold process calls
``forward(x).sum().backward()`` instead (``loss``: a scalar loss's backward, as in a training step, which does not
make torch import sympy; mfpsn's own path imports neither ``torch._dynamo`` nor sympy in eager mode). Prints one
JSON line per process and a summary.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

__all__ = ["measure", "main"]


def measure(T: int, N: int, C: int, k: int, d: int, repeats: int, torch_warm: bool = False,
            loss: bool = False) -> dict:
    """In this process: first and steady forward+backward times (ms) of the default MFPSN on a new shape.

    torch_warm: first run one backward(gradient) of a 1-element tensor (torch's one-time imports), no mfpsn code.
    loss: ``forward(x).sum().backward()`` instead of ``forward(x).backward(gy)`` (first and steady alike).
    """
    import torch

    if torch_warm:
        one = torch.ones(1, requires_grad=True)
        (one * 2.0).backward(torch.ones(1))

    from mfpsn.backends import DEFAULT_SELECTOR
    from mfpsn.neurons import MFPSN
    from mfpsn.timer import times_ms

    gen = torch.Generator().manual_seed(0)
    m = MFPSN(C, order=k, dilation=d)
    out = {"T": T, "N": N, "C": C, "k": k, "d": d, "torch_warm": torch_warm, "loss": loss}
    for tag, n in (("", N), ("second_shape_", N + C)):
        x = (torch.rand(T, n // C, C, generator=gen) * 1.5).requires_grad_()
        gy = torch.rand(T, n // C, C, generator=gen)
        def call() -> None:
            if loss:
                m(x).sum().backward()
            else:
                m(x).backward(gy)
            x.grad = None

        times = times_ms(call, 1 + repeats)
        steady = sorted(times[1:])[len(times[1:]) // 2]
        out.update({f"{tag}first_ms": round(times[0], 2), f"{tag}steady_ms": round(steady, 2),
                    f"{tag}ratio": round(times[0] / steady, 2), f"{tag}times_ms": [round(t, 2) for t in times]})
    out["choices"] = {f"{key[0]} {key[1]}": c.backend for key, c in DEFAULT_SELECTOR.report().items()}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.bench.first_call", description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=256)
    p.add_argument("--N", type=int, default=65536)
    p.add_argument("--C", type=int, default=128)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--d", type=int, default=2)
    p.add_argument("--repeats", type=int, default=4, help="steady calls after the first (median reported)")
    p.add_argument("--processes", type=int, default=1, help="fresh processes, one measurement each")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--torch-warm", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--loss", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.inner:
        print(json.dumps(measure(a.T, a.N, a.C, a.k, a.d, a.repeats, a.torch_warm, a.loss)))
        return 0
    kinds = {"cold": [], "torch_warm": ["--torch-warm"], "loss": ["--loss"]}
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for _ in range(a.processes):
        for kind, flags in kinds.items():
            cmd = [sys.executable, "-m", "mfpsn.bench.first_call", "--inner", "--T", str(a.T), "--N", str(a.N),
                   "--C", str(a.C), "--k", str(a.k), "--d", str(a.d), "--repeats", str(a.repeats), *flags]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            results[kind].append(json.loads(out))
            print(out, flush=True)
    worst = {kind: max(r["ratio"] for r in rs) for kind, rs in results.items()}
    second = max(r["second_shape_ratio"] for rs in results.values() for r in rs)
    print(f"first/steady forward+backward, T={a.T} N={a.N}, worst over {a.processes} process(es): cold "
          f"{worst['cold']:.2f}× (torch's one-time import of sympy in the first backward(gradient) included); "
          f"torch warm {worst['torch_warm']:.2f}× (mfpsn's own first call); cold with a scalar loss's backward "
          f"{worst['loss']:.2f}×; a second new shape (N={a.N + a.C}) {second:.2f}× (issue 14 asks ≤ 3×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
