"""The fused serial LIF on the CPU: the whole time loop in one small C++ kernel, forward and BPTT backward.

Legend: ``T`` time steps, ``M = B·C·Π*`` independent neurons; a contiguous ``x: [T, B, C, *]`` is a ``[T, M]``
matrix. Same maths as :func:`mfpsn.functional.lif.lif_multistep` (the module docstring there has the charge,
fire, reset and backward equations), with the same rounding: every step is evaluated in x's dtype in the same
order of operations as the torch loop, without contraction into FMAs (``-ffp-contract=off``), so spikes, H and
the last V equal the loop's bit for bit (up to the sign of a zero membrane).

How: the columns are cut into blocks of ``BW`` neurons; a thread owns a range of blocks and walks each block down
the time axis with the block's membrane in cache (one read of x, one write of S, and of H when a backward will
need it). Backward walks each block up the time axis: ``g_H[t] = a[t] + b[t]·g_V[t]``, ``dX[t] = g_H[t]·r``
(``decay_input``), ``g_V[t−1] = (1 − r)·g_H[t]``, with S and V[t−1] recomputed from the saved H, and, for a
tensor rate (PLIF), ``dr = Σ g_H[t]·(X[t] − (V[t−1] − V_reset))`` accumulated in float64 per thread.
Threads: OpenMP on torch's own pool (as in :mod:`mfpsn.functional.fused_cpu`), ``torch.get_num_threads()`` of
them for 2^14 values or more, one below.

Supported: float32 and float64; hard reset (any V_reset) and soft reset; ``detach_reset`` either way;
``decay_input`` either way; the surrogates ``ATan``, ``Sigmoid`` and ``Rational`` (any α). Anything else raises
``ValueError`` / ``RuntimeError`` naming what is not supported. Built and verified like the fused MFPSN kernel
(:mod:`mfpsn.functional.native`: private cache folder, digest, self-test).
"""
from __future__ import annotations

import ctypes
import math
import threading
from functools import lru_cache
from pathlib import Path

import torch

from mfpsn.functional import buffer_cache, native
from mfpsn.functional.surrogate import ATan, Rational, Sigmoid, Surrogate

__all__ = ["SUPPORTED_DTYPES", "check_supported", "fused_lif_cpu", "ready", "warmup", "library_path"]

SUPPORTED_DTYPES = (torch.float32, torch.float64)
_SURROGATE_CODES = {ATan: 0, Sigmoid: 1, Rational: 2}

_SOURCE = r"""
#include <cstdint>
#include <cmath>
#include <vector>
#include <algorithm>

namespace {
constexpr int64_t BW = 2048;  // neurons per block: a block's row of x, S, H and its membrane stay in L1/L2

struct Cfg {
  int64_t T, M;
  double rate, v_th, v_reset;  // v_reset: the hard-reset value (0 stands in for it in the charge when soft)
  int hard, detach, decay, surrogate;
  double alpha;
};

template <typename F> inline F charge(F v, F x, F r, F rest, bool decay) {
  if (decay) {
    F tmp = (rest == F(0)) ? F(x - v) : F(x - F(v - rest));
    tmp = F(tmp * r);
    return F(v + tmp);
  }
  F tmp = (rest == F(0)) ? F(v * r) : F(F(v - rest) * r);
  F h = F(v - tmp);
  return F(h + x);
}

template <typename F> inline F reset(F h, bool fired, F v_th, F v_reset, bool hard) {
  if (hard) return fired ? v_reset : h;
  return fired ? F(h - v_th) : h;
}

// the surrogate is a template parameter so that each backward loop is branch-free and vectorises
template <typename F, int KIND> inline F sg(F u, F a, F c) {
  if (KIND == 0) { F t = F(c * u); return F(F(a / F(2)) / F(F(1) + F(t * t))); }
  if (KIND == 1) { F s = F(F(1) / F(F(1) + F(std::exp(F(-F(a * u)))))); return F(F(a * s) * F(F(1) - s)); }
  return F(F(1) / F(F(1) + F(F(a * u) * u)));
}

template <typename F>
void fwd_blocks(const F* x, const F* v0, F* s, F* h, F* vlast, const Cfg c, int64_t b0, int64_t b1) {
  const F r = F(c.rate), vth = F(c.v_th), vr = F(c.v_reset), rest = c.hard ? vr : F(0);
  const bool hard = c.hard, decay = c.decay;
  F v[BW];
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t j0 = b * BW, w = std::min(BW, c.M - j0);
    for (int64_t jj = 0; jj < w; ++jj) v[jj] = v0 ? v0[j0 + jj] : F(0);
    for (int64_t t = 0; t < c.T; ++t) {
      const F* __restrict xt = x + t * c.M + j0;
      F* __restrict st = s + t * c.M + j0;
      F* __restrict ht = h ? h + t * c.M + j0 : nullptr;
      for (int64_t jj = 0; jj < w; ++jj) {
        const F hh = charge<F>(v[jj], xt[jj], r, rest, decay);
        const bool fired = hh >= vth;
        st[jj] = fired ? F(1) : F(0);
        if (ht) ht[jj] = hh;
        v[jj] = reset<F>(hh, fired, vth, vr, hard);
      }
    }
    for (int64_t jj = 0; jj < w; ++jj) vlast[j0 + jj] = v[jj];
  }
}

template <typename F, int KIND>
void bwd_blocks(const F* gs, const F* gh, const F* gvl, const F* h, const F* x, const F* v0, F* dx, F* dv0,
                double* dr, const Cfg c, int64_t b0, int64_t b1) {
  const F r = F(c.rate), keep = F(F(1) - r), vth = F(c.v_th), vr = F(c.v_reset), rest = c.hard ? vr : F(0);
  const F a = F(c.alpha), cst = F(M_PI / 2 * c.alpha);
  const bool hard = c.hard, detach = c.detach, decay = c.decay;
  F gv[BW];
  double acc = 0.0;
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t j0 = b * BW, w = std::min(BW, c.M - j0);
    for (int64_t jj = 0; jj < w; ++jj) gv[jj] = gvl ? gvl[j0 + jj] : F(0);
    for (int64_t t = c.T - 1; t >= 0; --t) {
      const int64_t o = t * c.M + j0;
      for (int64_t jj = 0; jj < w; ++jj) {
        const F hh = h[o + jj];
        const F u = F(hh - vth);
        const F d = sg<F, KIND>(u, a, cst);
        const bool fired = u >= F(0);
        F ga = gs ? F(gs[o + jj] * d) : F(0);
        if (gh) ga = F(ga + gh[o + jj]);
        F bb;
        if (hard) bb = (fired ? F(0) : F(1)) + (detach ? F(0) : F(F(vr - hh) * d));
        else bb = detach ? F(1) : F(F(1) - F(vth * d));
        const F g = F(ga + F(bb * gv[jj]));
        dx[o + jj] = decay ? F(g * r) : g;
        if (dr) {
          F vp;
          if (t > 0) { const F hp = h[o - c.M + jj]; vp = reset<F>(hp, hp >= vth, vth, vr, hard); }
          else vp = v0 ? v0[j0 + jj] : F(0);
          const F drive = decay ? F(x[o + jj] - F(vp - rest)) : F(-F(vp - rest));
          acc += double(g) * double(drive);
        }
        gv[jj] = F(g * keep);
      }
    }
    if (dv0) for (int64_t jj = 0; jj < w; ++jj) dv0[j0 + jj] = gv[jj];
  }
  if (dr) *dr = acc;
}

@PARALLEL_BLOCKS@
// blocks small enough that every thread gets one when the neurons are few
int64_t nblocks_for(int64_t M) { return (M + BW - 1) / BW; }

template <typename F>
void fwd(const F* x, const F* v0, F* s, F* h, F* vlast, Cfg c, int nthreads) {
  parallel_blocks(nblocks_for(c.M), nthreads, [&](int, int64_t b0, int64_t b1) {
    fwd_blocks<F>(x, v0, s, h, vlast, c, b0, b1); });
}

template <typename F>
void bwd(const F* gs, const F* gh, const F* gvl, const F* h, const F* x, const F* v0, F* dx, F* dv0, double* dr,
         Cfg c, int nthreads) {
  const int64_t nb = nblocks_for(c.M);
  const int64_t nc = nchunks_for(nb);
  std::vector<double> part(nc, 0.0);   // per chunk, added in chunk order: the same sum for every thread count
  parallel_blocks(nb, nthreads, [&](int q, int64_t b0, int64_t b1) {
    double* p = dr ? &part[q] : nullptr;
    if (c.surrogate == 0) bwd_blocks<F, 0>(gs, gh, gvl, h, x, v0, dx, dv0, p, c, b0, b1);
    else if (c.surrogate == 1) bwd_blocks<F, 1>(gs, gh, gvl, h, x, v0, dx, dv0, p, c, b0, b1);
    else bwd_blocks<F, 2>(gs, gh, gvl, h, x, v0, dx, dv0, p, c, b0, b1); });
  if (dr) { double s = 0.0; for (int64_t q = 0; q < nc; ++q) s += part[q]; *dr = s; }
}
}  // namespace

extern "C" {
#define CFG Cfg{T, M, rate, v_th, v_reset, hard, detach, decay, surrogate, alpha}
void mfpsn_lif_fwd_f32(const float* x, const float* v0, float* s, float* h, float* vlast, int64_t T, int64_t M,
                       double rate, double v_th, double v_reset, int hard, int detach, int decay, int surrogate,
                       double alpha, int nthreads) {
  fwd<float>(x, v0, s, h, vlast, CFG, nthreads);
}
void mfpsn_lif_fwd_f64(const double* x, const double* v0, double* s, double* h, double* vlast, int64_t T,
                       int64_t M, double rate, double v_th, double v_reset, int hard, int detach, int decay,
                       int surrogate, double alpha, int nthreads) {
  fwd<double>(x, v0, s, h, vlast, CFG, nthreads);
}
void mfpsn_lif_bwd_f32(const float* gs, const float* gh, const float* gv, const float* h, const float* x,
                       const float* v0, float* dx, float* dv0, double* dr, int64_t T, int64_t M, double rate,
                       double v_th, double v_reset, int hard, int detach, int decay, int surrogate, double alpha,
                       int nthreads) {
  bwd<float>(gs, gh, gv, h, x, v0, dx, dv0, dr, CFG, nthreads);
}
void mfpsn_lif_bwd_f64(const double* gs, const double* gh, const double* gv, const double* h, const double* x,
                       const double* v0, double* dx, double* dv0, double* dr, int64_t T, int64_t M, double rate,
                       double v_th, double v_reset, int hard, int detach, int decay, int surrogate, double alpha,
                       int nthreads) {
  bwd<double>(gs, gh, gv, h, x, v0, dx, dv0, dr, CFG, nthreads);
}
}
"""

_SOURCE = _SOURCE.replace("@PARALLEL_BLOCKS@", native.PARALLEL_BLOCKS_CPP)
_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-std=c++17", "-shared", "-fPIC", "-pthread", "-fopenmp")
_SMALL = 1 << 14  # values: below this one thread
_WHAT = "the fused CPU LIF kernel (LIF backend='fused')"
_LOCK = threading.Lock()


def library_path() -> Path:
    """Where the compiled library for this source, compiler and CPU lives (it may not exist yet)."""
    return native.library_path("mfpsn_lif_cpu", _SOURCE, _FLAGS, "LIF backend='fused'")


def _build(target: Path) -> None:
    native.build(target, _SOURCE, _FLAGS, "LIF backend='fused'")


def _configure(lib: ctypes.CDLL) -> None:
    p, i64, i32, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_double
    cfg = [i64, i64, f64, f64, f64, i32, i32, i32, i32, f64, i32]
    for name in ("mfpsn_lif_fwd_f32", "mfpsn_lif_fwd_f64"):
        getattr(lib, name).argtypes = [p] * 5 + cfg
        getattr(lib, name).restype = None
    for name in ("mfpsn_lif_bwd_f32", "mfpsn_lif_bwd_f64"):
        getattr(lib, name).argtypes = [p] * 9 + cfg
        getattr(lib, name).restype = None


def _selftest(lib: ctypes.CDLL) -> None:
    """The golden hard-reset trace of the tests (τ = 2, V_th = 1): H = 0.75, 1.125, 0.1, 1.55; S = 0, 1, 0, 1;
    and its ATan backward for an upstream gradient of ones on S, in both dtypes."""
    for dtype, fwd, bwd in ((torch.float32, lib.mfpsn_lif_fwd_f32, lib.mfpsn_lif_bwd_f32),
                            (torch.float64, lib.mfpsn_lif_fwd_f64, lib.mfpsn_lif_bwd_f64)):
        x = torch.tensor([[1.5], [1.5], [0.2], [3.0]], dtype=dtype)
        s, h, v = torch.empty_like(x), torch.empty_like(x), torch.empty(1, dtype=dtype)
        cfg = (4, 1, 0.5, 1.0, 0.0, 1, 1, 1, 0, 2.0, 1)
        fwd(x.data_ptr(), None, s.data_ptr(), h.data_ptr(), v.data_ptr(), *cfg)
        want_h = torch.tensor([[0.75], [1.125], [0.1], [1.55]], dtype=dtype)
        if s.flatten().tolist() != [0.0, 1.0, 0.0, 1.0] or not torch.allclose(h, want_h):
            raise RuntimeError(f"wrong forward in {dtype}")
        gs, dx = torch.ones_like(x), torch.empty_like(x)
        bwd(gs.data_ptr(), None, None, h.data_ptr(), x.data_ptr(), None, dx.data_ptr(), None, None, *cfg)
        d = 1.0 / (1.0 + (math.pi * (want_h.double() - 1.0)) ** 2)       # ATan α = 2
        gh = torch.zeros(4, dtype=torch.float64)
        gv = 0.0
        for t in range(3, -1, -1):
            gh[t] = d[t, 0] + (1.0 - float(want_h[t, 0] >= 1.0)) * gv
            gv = 0.5 * gh[t]
        if not torch.allclose(dx.double().flatten(), 0.5 * gh, rtol=1e-5, atol=1e-6):
            raise RuntimeError(f"wrong backward in {dtype}")


@lru_cache(maxsize=1)
def _load_unlocked() -> ctypes.CDLL:
    return native.load_verified(library_path(), lambda target: _build(target), _configure, _selftest, _WHAT)


def _load() -> ctypes.CDLL:
    with _LOCK:
        return _load_unlocked()


def ready() -> bool:
    """True once the library is loaded in this process."""
    return _load_unlocked.cache_info().currsize == 1


def warmup() -> None:
    """Build (first time on this machine) and load the kernel; RuntimeError without a C++ compiler."""
    _load()


def check_supported(surrogate: Surrogate, who: str = "LIF(backend='fused')") -> int:
    """The kernel's code for ``surrogate``; ValueError naming the supported ones otherwise."""
    code = _SURROGATE_CODES.get(type(surrogate))
    if code is None:
        raise ValueError(f"{who}: the fused CPU kernel implements the surrogates ATan, Sigmoid and Rational, "
                         f"found {surrogate!r}; use backend='loop'")
    return code


def _check_input(x: torch.Tensor) -> None:
    if x.device.type != "cpu":
        raise RuntimeError(f"LIF backend='fused' runs on the CPU only, found x on {x.device}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise RuntimeError(f"LIF backend='fused' supports float32 and float64, found {x.dtype}")


def _threads(x: torch.Tensor) -> int:
    return 1 if x.numel() < _SMALL else torch.get_num_threads()


def _ptr(t: torch.Tensor | None):
    return None if t is None else t.data_ptr()


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, rate, v0, v_th, v_reset, detach_reset, surrogate, decay_input):
        lib = _load()
        xc = x.detach().contiguous()
        T, M = xc.shape[0], xc.numel() // max(xc.shape[0], 1)
        r = float(rate.detach()) if isinstance(rate, torch.Tensor) else float(rate)
        v0c = None if v0 is None else v0.detach().to(xc.dtype).contiguous()
        s = buffer_cache.empty_like(xc)   # large outputs: reused blocks, no page faults (see buffer_cache)
        h = buffer_cache.empty_like(xc)
        v = xc.new_empty(xc.shape[1:])
        cfg = (T, M, r, v_th, 0.0 if v_reset is None else v_reset, int(v_reset is not None), int(detach_reset),
               int(decay_input), _SURROGATE_CODES[type(surrogate)], float(surrogate.alpha), _threads(xc))
        fn = lib.mfpsn_lif_fwd_f32 if xc.dtype == torch.float32 else lib.mfpsn_lif_fwd_f64
        fn(xc.data_ptr(), _ptr(v0c), s.data_ptr(), h.data_ptr(), v.data_ptr(), *cfg)
        ctx.cfg = cfg
        ctx.rate_is_tensor = isinstance(rate, torch.Tensor)
        ctx.save_for_backward(h, xc if ctx.rate_is_tensor else None, v0c, rate if ctx.rate_is_tensor else None)
        return s, h, v

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_s, g_h, g_v):
        lib = _load()
        h, xc, v0c, rate_t = ctx.saved_tensors
        want_rate = ctx.rate_is_tensor and ctx.needs_input_grad[1]
        want_v0 = v0c is not None and ctx.needs_input_grad[2]
        gs = None if g_s is None else g_s.detach().to(h.dtype).contiguous()
        gh = None if g_h is None else g_h.detach().to(h.dtype).contiguous()
        gv = None if g_v is None else g_v.detach().to(h.dtype).contiguous()
        dx = buffer_cache.empty_like(h)
        dv0 = torch.empty_like(v0c) if want_v0 else None
        dr = torch.zeros((), dtype=torch.float64) if want_rate else None
        fn = lib.mfpsn_lif_bwd_f32 if h.dtype == torch.float32 else lib.mfpsn_lif_bwd_f64
        fn(_ptr(gs), _ptr(gh), _ptr(gv), h.data_ptr(), _ptr(xc), _ptr(v0c), dx.data_ptr(), _ptr(dv0), _ptr(dr),
           *ctx.cfg)
        d_rate = dr.to(rate_t.dtype).reshape(rate_t.shape) if want_rate else None
        return (dx if ctx.needs_input_grad[0] else None), d_rate, dv0, None, None, None, None, None


def fused_lif_cpu(x: torch.Tensor, rate, v_th: float, v_reset: float | None, detach_reset: bool,
                  surrogate: Surrogate, decay_input: bool = True, v0: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The LIF loop in one C++ pass; same arguments, returns and values as
    :func:`mfpsn.functional.lif.lif_multistep` (x: [T, B, C, *] float32/float64 on the CPU; rate a number or a
    0-d tensor; v0: [B, C, *] or None) → (spikes [T, B, C, *], h [T, B, C, *], v [B, C, *]), differentiable.

    Builds the kernel on first use (blocking, once per machine). Raises ValueError for an unsupported surrogate,
    RuntimeError for a non-CPU tensor, an unsupported dtype or no C++ compiler.
    """
    check_supported(surrogate)
    _check_input(x)
    if x.shape[0] == 0:
        v = x.new_zeros(x.shape[1:]) if v0 is None else v0
        return torch.zeros_like(x), torch.zeros_like(x), v
    return _FusedLIF.apply(x, rate, v0, float(v_th), None if v_reset is None else float(v_reset),
                           bool(detach_reset), surrogate, bool(decay_input))
