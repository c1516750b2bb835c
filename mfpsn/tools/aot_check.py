"""Compile every Triton kernel variant for a GPU target without a GPU: ``python -m mfpsn.tools.aot_check``.

The interpreter (``TRITON_INTERPRET=1``) runs kernels as NumPy code and accepts some programs that the compiler
rejects (and the other way round), so this check lowers each kernel through Triton's real compiler
(TTIR → TTGIR → LLVM → PTX → cubin with the ``ptxas`` shipped in the triton wheel) for one target, default
``cuda:90`` (H100/H200), and reports per variant ``ok`` (with the number of vectorised 128-bit global loads in
the PTX) or the compiler error. Nothing is launched and no GPU is needed. It must run without
``TRITON_INTERPRET`` (the kernels have to be decorated as compilable functions).
"""
from __future__ import annotations

import argparse
import os
import sys

__all__ = ["variants", "compile_variant", "main"]

_PTR32, _I32, _F32 = "*fp32", "i32", "fp32"


def variants(dtypes: tuple[str, ...] = ("fp32", "bf16", "fp16")) -> list[tuple[str, object, dict, dict]]:
    """(label, kernel, signature of runtime args, constexprs) for every launch the package makes."""
    from mfpsn.kernels import filter as kf
    from mfpsn.kernels import lif as kl
    from mfpsn.kernels import moments as km

    out = []
    for dt in dtypes:
        p = f"*{dt}"
        for rev, spike in [(False, False), (True, False), (False, True)]:
            sig = {"x_ptr": p, "taps_ptr": _PTR32, "theta_ptr": _PTR32, "out_ptr": p,
                   **dict.fromkeys(["T", "N", "S", "C", "D"], _I32)}
            out.append((f"filter {dt} reverse={rev} spike={spike}", kf._filter_kernel, sig,
                        dict(K=8, REVERSE=rev, SPIKE=spike, BLOCK_T=16, BLOCK_N=256)))
        for fused, surr in [(False, 0), (True, 0), (True, 1), (True, 2)]:
            sig = {"x_ptr": p, "g_ptr": p, "taps_ptr": _PTR32, "theta_ptr": _PTR32, "gout_ptr": _PTR32,
                   "part_ptr": _PTR32, **dict.fromkeys(["T", "B", "M", "N", "S", "D", "B_PER", "T_PER"], _I32),
                   "alpha": _F32}
            out.append((f"grad_stats {dt} fused={fused} surr={surr}", kf._grad_stats_kernel, sig,
                        dict(K=8, K_PAD=8, FUSED=fused, SURR=surr, BLOCK_T=8, BLOCK_M=128)))
        for hard, store in [(True, True), (False, False)]:
            sig = {"x_ptr": p, "s_ptr": p, "h_ptr": _PTR32, "T": _I32, "N": _I32,
                   **dict.fromkeys(["tau", "v_th", "v_reset", "v_init"], _F32)}
            out.append((f"lif_fwd {dt} hard={hard} store_h={store}", kl._lif_fwd_kernel, sig,
                        dict(HARD=hard, STORE_H=store, BLOCK_N=256)))
        for hard, detach, surr in [(True, True, 0), (False, False, 2)]:
            sig = {"gs_ptr": p, "h_ptr": _PTR32, "dx_ptr": p, "T": _I32, "N": _I32,
                   **dict.fromkeys(["tau", "v_th", "v_reset", "alpha"], _F32)}
            out.append((f"lif_bwd {dt} hard={hard} detach={detach} surr={surr}", kl._lif_bwd_kernel, sig,
                        dict(HARD=hard, DETACH=detach, SURR=surr, BLOCK_N=256)))
        sig = {"x_ptr": p, "p1_ptr": _PTR32, "p2_ptr": _PTR32,
               **dict.fromkeys(["T", "B", "M", "N", "D", "B_PER", "T_PER"], _I32)}
        out.append((f"moments {dt}", km._moments_kernel, sig, dict(K=8, K_PAD=8, BLOCK_T=8, BLOCK_M=128)))
        sig = {"x_ptr": p, "g1_ptr": _PTR32, "g2_ptr": _PTR32, "dx_ptr": p,
               **dict.fromkeys(["T", "N", "S", "C", "D"], _I32)}
        out.append((f"moments_bwd {dt}", km._moments_bwd_kernel, sig, dict(K=8, BLOCK_T=16, BLOCK_N=256)))
    return out


def compile_variant(kernel, signature: dict, constexprs: dict, arch: int = 90, num_warps: int = 4) -> str:
    """Compile one variant for ``cuda:arch``; pointer and N-like args are declared 16-divisible, as Triton
    specialises them at run time for aligned tensors. Returns the PTX."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    names = kernel.arg_names
    full = {n: "constexpr" if n in constexprs else signature[n] for n in names}
    aligned = [n for n in names if n not in constexprs and (signature[n].startswith("*") or n in ("N", "M"))]
    attrs = {(names.index(n),): [["tt.divisibility", 16]] for n in aligned}
    src = ASTSource(fn=kernel, signature=full, constexprs=constexprs, attrs=attrs)
    compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": num_warps})
    return compiled.asm["ptx"]


def main(argv: list[str] | None = None) -> int:
    """Compile all variants; returns 1 if any failed, 2 when it cannot run here."""
    parser = argparse.ArgumentParser(prog="python -m mfpsn.tools.aot_check", description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, default=90, help="CUDA compute capability ×10 (90 = H100/H200)")
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16", "fp16"])
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET") == "1":
        print("aot_check: unset TRITON_INTERPRET; the interpreter's kernels cannot be compiled")
        return 2
    failed = 0
    for label, kernel, sig, consts in variants(tuple(args.dtypes)):
        try:
            ptx = compile_variant(kernel, sig, consts, args.arch)
            print(f"ok      {label}  ({ptx.count('ld.global.v4')} ld.global.v4)")
        except Exception as err:  # report every variant, then fail
            failed += 1
            print(f"FAILED  {label}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    print(f"{failed} of {len(variants(tuple(args.dtypes)))} variants failed for cuda:{args.arch}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
