"""The fused CPU temporal filter: a small C++ kernel compiled once with the system C++ compiler.

Legend: ``T`` time steps, ``B`` batch, ``C`` channels, ``S`` = Π* (spatial positions, 1 when none), ``k`` taps,
``d`` dilation, ``M = B·C·S`` columns. A contiguous ``x: [T, B, C, *]`` is a ``[T, M]`` matrix whose column
``j`` belongs to channel ``(j // S) % C``.

What it computes (the same maths as :func:`mfpsn.functional.filter.temporal_filter_ref`):

.. math::
    h[t, j] = \\sum_{i=0}^{k-1} \\mathrm{taps}[c(j), i]\\; x[t - (k-1-i) d,\\, j]
    \\qquad s[t, j] = \\Theta(h[t, j] - \\theta[c(j)])

How: the columns are cut into blocks of 256; each thread owns a range of blocks and walks each block down the
time axis (the ``(k−1)·d + 1`` most recent input rows of the block are still in cache when a lagged tap reads them).
At each step the k lagged products of two SIMD vectors of columns (32 bytes each, 64 where the CPU has AVX-512)
are summed in registers and stored once (``lag_sum``). So ``x`` is read from memory once and ``h`` (or the spikes)
written once: one pass, like a copy; an output of 16 MiB or more is written with non-temporal stores (no read-for-ownership). Variants:

- forward: ``h`` (``theta`` null) or the spikes ``Θ(h − θ)`` directly (``theta`` given: filter, threshold and
  spike in one pass, for inference);
- backward: ``dx[t] = Σ_i taps[:, i]·g[t + lag_i]`` (the anti-causal filter, walking time backwards) and, in the
  same pass, the lagged inner products ``dtaps[c, i] = Σ_{t, columns of c} g[t]·x[t − lag_i]``, accumulated per
  column in the input dtype over chunks of 256 steps and summed in float64;
- training layer (:mod:`mfpsn.functional.mfpsn_train_cpu`): :func:`fused_moments` (Σ Y and Σ Y² per channel in
  float64, Y never written) and :func:`fused_grad_pass` (walking time backwards, it recomputes Y or H at each step
  from the cached input rows, forms G = α_c + β_c·Y or G = g_S·σ'(H − θ_c), keeps the last (k−1)·d + 1 rows of G
  in a ring and gives dX, dTaps and Σ G in one pass). For k ≤ 8 this pass runs strip by strip: one SIMD vector of
  columns walks the whole time axis with the taps, the k dTaps sums and Σ G in registers and rings of x and G in
  L1 (about half the loads and stores of the row order: 0.19 + 0.14 ms instead of 0.32 + 0.33 ms for the two
  passes at T = 256, N = 1,024, k = 8 on the Intel Xeon VM, measured ad hoc); larger k and the last columns of a
  block that do not fill a vector use the row order. Both orders do the same operations per column, so the values
  are the same (bit for bit when built with ``-ffp-contract=off``; checked on 96 shapes against the row-order
  build).

Threads: OpenMP (``-fopenmp``), as many as ``torch.get_num_threads()`` for inputs of 2^14 values or more, one
below. The library links ``libgomp.so.1``, the soname of the OpenMP runtime torch has already loaded, so the kernel
runs on torch's own worker threads: no thread start per call, no second pool competing for the cores (with
``std::thread`` pools, two threads were slower than one below 2^20 values while torch's workers spun; with the
shared pool they are 1.6–1.9× faster from 2^16 values on, measured at T = 32, C = 128, k = 8). The column blocks
are cut into at most 16 fixed chunks that the threads take as they come free (``parallel_blocks``), with partial
sums per chunk added in chunk order, so every output is the same bit for bit for any thread count (a seed
reproduces across machines with different core counts). Against the former static half per thread, measured
in one process with both libraries loaded and the calls interleaved (Intel Xeon VM, T = 256, k = 8): 0.87–1.02×
the time at N = 1,024 and 0.95–1.06× at N = 65,536, i.e. no loss. dtypes: float32 and float64; anything else raises.

Outputs of 256 KiB or more come from a caching allocator (:mod:`mfpsn.functional.buffer_cache`): a block freed by
the last tensor using it is kept and handed to the next output of the same size, already mapped, instead of going
back to the operating system. A fresh 64 MiB tensor takes one page fault and one page zeroing per page on its first
write, which on the benchmark machine cost twice the filter pass itself (with the cache off, outputs are advised to
use transparent huge pages instead, ``madvise(MADV_HUGEPAGE)``). ``$MFPSN_CPU_CACHE_MB`` bounds
the idle bytes kept (default 1024, 0 turns the cache off); ``buffer_cache.empty_cache()`` drops them.

Build: on first use (or :func:`warmup`) the source below is compiled with ``$CXX`` (default g++), ``-O3
-march=native``, into the private cache folder (``$MFPSN_CACHE_DIR``, default ``~/.cache/mfpsn``, mode 0700), named
by a hash of the source, the flags, the compiler version and the CPU flags, so it is built once per machine and
loaded from disk afterwards (seconds to build, milliseconds to load). :mod:`mfpsn.functional.native` loads it only
if its sha256 matches the digest recorded when it was built and only after a self-test on a known input
(:func:`_selftest`); a planted or modified file is refused with a message naming it, and rebuilt. No C++ compiler
raises a ``RuntimeError`` that says so; nothing falls back silently. The library is called through ``ctypes``
(which drops the GIL during the call).
"""
from __future__ import annotations

import ctypes
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path

import torch

from mfpsn.functional import buffer_cache, native
from mfpsn.functional.fold_cpp import FOLD_CPP

__all__ = ["SUPPORTED_DTYPES", "ready", "prepare_for_auto", "warmup", "fused_moments", "fused_moment_sums", "fused_fold_forward", "fused_fold_backward", "fused_grad_pass", "fused_forward", "fused_backward", "library_path", "cast", "operand"]

SUPPORTED_DTYPES = (torch.float32, torch.float64)

_SOURCE = r"""
#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>
#include <algorithm>
#include <type_traits>
#ifdef __AVX__
#include <immintrin.h>
#endif

namespace {
#ifdef __AVX512F__
constexpr int64_t VB = 64;       // bytes per SIMD vector
#else
constexpr int64_t VB = 32;
#endif
constexpr int64_t BW = 256;      // columns per block
constexpr int64_t PF = 8;        // rows ahead to prefetch
constexpr int64_t TCHUNK = 256;  // time steps accumulated in the input dtype before a float64 flush (dtaps)

constexpr int KMAX = 8;         // orders up to this run the strip loops (k a template parameter)
constexpr int64_t PFS = 16;      // steps ahead to prefetch in the strip loops (one line per row and stream)
constexpr int SU = 2;            // vectors per strip side by side (independent chains for the out-of-order core; 4
                                 // spilled the k = 8 sums out of the 32 AVX-512 registers and ran slower)

struct Geo { int64_t T, M, C, S, k, d; };

// A zero-initialised scratch array whose first element sits on a 64-byte boundary, so that the vector loads and
// stores of the loops below never split a cache line (std::vector's 16-byte alignment made most 64-byte ring
// accesses in the strip loops straddle two lines, and their store-to-load forwarding fail).
template <typename T>
class Scratch {
 public:
  explicit Scratch(int64_t n) : n_(n), raw_(size_t(n) + 64 / sizeof(T), T(0)) {
    p_ = reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(raw_.data()) + 63) & ~uintptr_t(63));
  }
  T* data() { return p_; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }
  T& operator[](int64_t i) { return p_[i]; }

 private:
  int64_t n_;
  std::vector<T> raw_;
  T* p_;
};

// fn(std::integral_constant<int, K>{}) with K = k for k <= KMAX, K = 0 (the row loops) otherwise.
static_assert(KMAX == 8, "with_k lists the cases 1..KMAX by hand");
template <typename Fn>
inline void with_k(int64_t k, Fn fn) {
  switch (k) {
    case 1: fn(std::integral_constant<int, 1>{}); break;
    case 2: fn(std::integral_constant<int, 2>{}); break;
    case 3: fn(std::integral_constant<int, 3>{}); break;
    case 4: fn(std::integral_constant<int, 4>{}); break;
    case 5: fn(std::integral_constant<int, 5>{}); break;
    case 6: fn(std::integral_constant<int, 6>{}); break;
    case 7: fn(std::integral_constant<int, 7>{}); break;
    case 8: fn(std::integral_constant<int, 8>{}); break;
    default: fn(std::integral_constant<int, 0>{});
  }
}

inline int64_t chan(const Geo& g, int64_t j) { return (j / g.S) % g.C; }

// out[0:w] = sum_{l<n} wr[l w_step + jj] * src[l src_step + jj]: the first term a product, then fused adds in the
// order l = 1, ..., n-1 (every column in the same order, so a value does not depend on its block or lane). Two
// 32-byte vectors of sums stay in registers over the n terms and are stored once (sums kept in a memory row cost a
// load and a store per term: about 2.5x slower at k = 8 on AVX2); the last w mod 2V columns run the same sums as
// scalars.
template <typename F>
inline void lag_sum(const F* __restrict src, int64_t src_step, const F* __restrict wr, int64_t w_step, int64_t n,
                    F* __restrict out, int64_t w) {
  typedef F vec __attribute__((vector_size(VB), aligned(sizeof(F))));
  constexpr int64_t V = int64_t(VB / sizeof(F));
  int64_t jj = 0;
  for (; jj + 2 * V <= w; jj += 2 * V) {
    vec a0 = *(const vec*)(wr + jj) * *(const vec*)(src + jj);
    vec a1 = *(const vec*)(wr + jj + V) * *(const vec*)(src + jj + V);
    for (int64_t l = 1; l < n; ++l) {
      const F* sl = src + l * src_step + jj;
      const F* wi = wr + l * w_step + jj;
      a0 += *(const vec*)wi * *(const vec*)sl;
      a1 += *(const vec*)(wi + V) * *(const vec*)(sl + V);
    }
    *(vec*)(out + jj) = a0;
    *(vec*)(out + jj + V) = a1;
  }
  for (; jj < w; ++jj) {
    F a = wr[jj] * src[jj];
    for (int64_t l = 1; l < n; ++l) a += wr[l * w_step + jj] * src[l * src_step + jj];
    out[jj] = a;
  }
}

// acc[0:w] = the block's taps at step t: w[k-1] x[t] + sum_{l=1}^{nt-1} w[k-1-l] x[t + sign l d] (wl: [k, BW] taps of
// the block's columns).
template <typename F>
inline void taps_at(const F* __restrict src, const F* __restrict wl, F* __restrict acc, const Geo& g, int64_t t,
                    int64_t sign, int64_t nt, int64_t j0, int64_t w) {
  lag_sum<F>(src + t * g.M + j0, sign * g.d * g.M, wl + (g.k - 1) * BW, -BW, nt, acc, w);
}

#ifdef __AVX__
inline void stream_vec(float* p, __m256 v) { _mm256_stream_ps(p, v); }
inline void stream_vec(double* p, __m256d v) { _mm256_stream_pd(p, v); }
#endif

// o[0:w] = acc (th null) or [acc >= th]. stream: non-temporal stores (an output larger than the caches is not read
// back soon; skipping the read-for-ownership of each line saves a third of the memory traffic), where the row is
// 32-byte aligned and AVX is there; otherwise ordinary stores. The values are the same either way.
template <typename F>
inline void store_row(F* __restrict o, const F* __restrict acc, const F* __restrict th, int64_t w, bool stream) {
  int64_t jj = 0;
#ifdef __AVX__
  typedef F vec __attribute__((vector_size(32)));
  constexpr int64_t V = int64_t(32 / sizeof(F));
  if (stream && reinterpret_cast<uintptr_t>(o) % 32 == 0) {
    const vec one = vec{} + F(1), zero = vec{};
    for (; jj + V <= w; jj += V) {
      vec a;
      std::memcpy(&a, acc + jj, sizeof(vec));
      if (th) {
        vec t;
        std::memcpy(&t, th + jj, sizeof(vec));
        a = a >= t ? one : zero;
      }
      stream_vec(o + jj, a);
    }
  }
#endif
  if (th) {
    for (; jj < w; ++jj) o[jj] = acc[jj] >= th[jj] ? F(1) : F(0);
  } else {
    for (; jj < w; ++jj) o[jj] = acc[jj];
  }
}

template <typename F>
void fwd_block(const F* __restrict x, const F* __restrict wl, const F* __restrict th, F* __restrict out,
               const Geo& g, int64_t j0, int64_t w, bool stream) {
  F acc[BW];
  for (int64_t t = 0; t < g.T; ++t) {
    if (t + PF < g.T)
      for (int64_t q = 0; q < w; q += 64 / int64_t(sizeof(F))) __builtin_prefetch(x + (t + PF) * g.M + j0 + q);
    int64_t ntap = 1;
    while (ntap < g.k && ntap * g.d <= t) ++ntap;  // taps whose lag <= t
    taps_at<F>(x, wl, acc, g, t, -1, ntap, j0, w);
    store_row<F>(out + t * g.M + j0, acc, th, w, stream);
  }
}

template <typename F>
void fwd_blocks(const F* x, const F* taps, const F* theta, F* out, const Geo g, int64_t b0, int64_t b1,
                bool stream) {
  Scratch<F> wv(g.k * BW), th(BW);
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t j0 = b * BW, w = std::min(BW, g.M - j0);
    for (int64_t jj = 0; jj < w; ++jj) {
      const int64_t c = chan(g, j0 + jj);
      for (int64_t i = 0; i < g.k; ++i) wv[i * BW + jj] = taps[c * g.k + i];
      if (theta) th[jj] = theta[c];
    }
    fwd_block<F>(x, wv.data(), theta ? th.data() : nullptr, out, g, j0, w, stream);
  }
#ifdef __AVX__
  if (stream) _mm_sfence();  // the streamed lines are visible before this thread is joined
#endif
}

// dw[k-1-l, jj] += g[t, jj] x[t - l d, jj] for every lag l d <= t (row-major [k, BW] sums in the input dtype), flushed
// into the float64 sums dwd every TCHUNK steps and at t = 0. steps counts the steps since the last flush.
template <typename F>
inline void lagged_dw(const F* __restrict gt, const F* __restrict x, F* __restrict dw, double* __restrict dwd,
                      const Geo& g, int64_t t, int64_t j0, int64_t w, int64_t& steps) {
  int64_t ntap = 1;
  while (ntap < g.k && ntap * g.d <= t) ++ntap;
  for (int64_t l = 0; l < ntap; ++l) {
    const F* __restrict xl = x + (t - l * g.d) * g.M + j0;
    F* __restrict di = dw + (g.k - 1 - l) * BW;
    for (int64_t jj = 0; jj < w; ++jj) di[jj] += gt[jj] * xl[jj];
  }
  if (++steps == TCHUNK || t == 0) {
    for (int64_t i = 0; i < g.k; ++i)
      for (int64_t jj = 0; jj < w; ++jj) { dwd[i * BW + jj] += double(dw[i * BW + jj]); dw[i * BW + jj] = F(0); }
    steps = 0;
  }
}

// dx[t] = sum_i w_i g[t + lag_i] (anti-causal) and dw[i, col] += g[t] x[t - lag_i], walking t backwards.
template <typename F>
void bwd_block(const F* __restrict gr, const F* __restrict x, const F* __restrict wl, F* __restrict dx,
               F* __restrict dw, double* __restrict dwd, const Geo& g, int64_t j0, int64_t w, bool stream) {
  F acc[BW];
  int64_t steps = 0;
  for (int64_t t = g.T - 1; t >= 0; --t) {
    if (t >= PF)
      for (int64_t q = 0; q < w; q += 64 / int64_t(sizeof(F))) {
        __builtin_prefetch(gr + (t - PF) * g.M + j0 + q);
        if (dw) __builtin_prefetch(x + (t - PF) * g.M + j0 + q);
      }
    const F* __restrict gt = gr + t * g.M + j0;
    if (dx) {
      int64_t nfwd = 1;
      while (nfwd < g.k && t + nfwd * g.d < g.T) ++nfwd;  // taps whose t + lag < T
      if (stream) {
        taps_at<F>(gr, wl, acc, g, t, +1, nfwd, j0, w);
        store_row<F>(dx + t * g.M + j0, acc, nullptr, w, true);
      } else {
        taps_at<F>(gr, wl, dx + t * g.M + j0, g, t, +1, nfwd, j0, w);
      }
    }
    if (dw) lagged_dw<F>(gt, x, dw, dwd, g, t, j0, w, steps);
  }
}

template <typename F>
void bwd_blocks(const F* gr, const F* x, const F* taps, F* dx, double* dtaps, const Geo g, int64_t b0, int64_t b1,
                bool stream) {
  Scratch<F> wv(g.k * BW), dw(g.k * BW);
  Scratch<double> dwd(g.k * BW);
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t j0 = b * BW, w = std::min(BW, g.M - j0);
    for (int64_t jj = 0; jj < w; ++jj) {
      const int64_t c = chan(g, j0 + jj);
      for (int64_t i = 0; i < g.k; ++i) wv[i * BW + jj] = taps[c * g.k + i];
    }
    std::fill(dw.begin(), dw.end(), F(0));
    std::fill(dwd.begin(), dwd.end(), 0.0);
    bwd_block<F>(gr, x, wv.data(), dx, dtaps ? dw.data() : nullptr, dwd.data(), g, j0, w, stream);
    if (dtaps) {
      for (int64_t jj = 0; jj < w; ++jj) {
        const int64_t c = chan(g, j0 + jj);
        for (int64_t i = 0; i < g.k; ++i) dtaps[c * g.k + i] += dwd[i * BW + jj];
      }
    }
  }
#ifdef __AVX__
  if (stream) _mm_sfence();
#endif
}

@PARALLEL_BLOCKS@
template <typename F>
void fwd(const F* x, const F* taps, const F* theta, F* out, Geo g, int nthreads, bool stream) {
  const int64_t nb = (g.M + BW - 1) / BW;
  parallel_blocks(nb, nthreads, [&](int, int64_t b0, int64_t b1) {
    fwd_blocks<F>(x, taps, theta, out, g, b0, b1, stream); });
}

template <typename F>
void bwd(const F* gr, const F* x, const F* taps, F* dx, double* dtaps, Geo g, int nthreads, bool stream) {
  const int64_t nb = (g.M + BW - 1) / BW, nc = nchunks_for(nb);
  std::vector<std::vector<double>> part(nc, std::vector<double>(dtaps ? g.C * g.k : 0, 0.0));
  parallel_blocks(nb, nthreads, [&](int q, int64_t b0, int64_t b1) {
    bwd_blocks<F>(gr, x, taps, dx, dtaps ? part[q].data() : nullptr, g, b0, b1, stream && dx != nullptr);
  });
  if (dtaps) {   // chunk order: the same sums for every thread count
    for (int64_t i = 0; i < g.C * g.k; ++i) {
      double s = 0.0;
      for (int64_t q = 0; q < nc; ++q) s += part[q][i];
      dtaps[i] = s;
    }
  }
}

// ---- training layer: BN moments without writing Y; the gradient passes that recompute Y or H instead of reading it
// KIND (a template parameter, so the ATan and Rational loops vectorise): 0 ATan, 1 Sigmoid, 2 Rational.
template <typename F, int KIND> inline F surrogate_grad(F u, F a, F c) {
  if constexpr (KIND == 0) { F t = c * u; return (a / F(2)) / (F(1) + t * t); }
  else if constexpr (KIND == 1) { F s = F(1) / (F(1) + std::exp(-(a * u))); return a * s * (F(1) - s); }
  else return F(1) / (F(1) + a * u * u);
}

// acc[0:w] = sum_l w_l x[t - l d] (the forward filter at step t for one block)
template <typename F>
inline void filter_at(const F* __restrict x, const F* __restrict wl, F* __restrict acc, const Geo& g, int64_t t,
                      int64_t j0, int64_t w) {
  int64_t ntap = 1;
  while (ntap < g.k && ntap * g.d <= t) ++ntap;
  taps_at<F>(x, wl, acc, g, t, -1, ntap, j0, w);
}

template <typename F>
void moments_blocks(const F* x, const F* taps, double* s1, double* s2, const Geo g, int64_t b0, int64_t b1) {
  Scratch<F> wv(g.k * BW), acc(BW);
  Scratch<double> a1(BW), a2(BW);
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t j0 = b * BW, w = std::min(BW, g.M - j0);
    for (int64_t jj = 0; jj < w; ++jj)
      for (int64_t i = 0; i < g.k; ++i) wv[i * BW + jj] = taps[chan(g, j0 + jj) * g.k + i];
    std::fill(a1.begin(), a1.end(), 0.0);
    std::fill(a2.begin(), a2.end(), 0.0);
    for (int64_t t = 0; t < g.T; ++t) {
      if (t + PF < g.T)
        for (int64_t q = 0; q < w; q += 64 / int64_t(sizeof(F))) __builtin_prefetch(x + (t + PF) * g.M + j0 + q);
      filter_at<F>(x, wv.data(), acc.data(), g, t, j0, w);
      for (int64_t jj = 0; jj < w; ++jj) { const double y = double(acc[jj]); a1[jj] += y; a2[jj] += y * y; }
    }
    for (int64_t jj = 0; jj < w; ++jj) { const int64_t c = chan(g, j0 + jj); s1[c] += a1[jj]; s2[c] += a2[jj]; }
  }
}

// mode 0 (statistics): G = alpha_c + beta_c * Y;  mode 1 (spikes): G = gS * sigma'(H - theta_c), dtheta_c += G.
// Then dx[t] = sum_i w_i G[t + lag_i] and dw_i += G[t] x[t - lag_i], walking t backwards. The last L = (k-1)d+1
// rows of G live in a mirrored ring of 2L rows (row t in slots t mod L and t mod L + L), so the rows t, t+d, ...,
// t+(k-1)d read by dx are d rows apart from slot t mod L on. KIND: -1 statistics mode, else the surrogate.
//
// Two loop orders with the same arithmetic per column (so the same values, bit for bit):
// - grad_strip (k <= KMAX): one SIMD vector of columns walks the whole time axis with the taps, the k dw sums, the
//   dtheta sum and the filter sums in registers; a row of x, gS and dx is touched once per step. Per value this is
//   about half the loads and stores of the row order;
// - grad_rows (k > KMAX, and the last w mod V columns of a block): each step handles a whole block row, sums kept
//   in block-local arrays.
// Arrays ending in l (wl, ql0, ql1, dwl, dthl) are block-local, [k][BW] or [BW], already offset to the first
// column handled; col is that column's global index.

template <typename F, int KIND, int K, int U>
void grad_strip(const F* __restrict gs, const F* __restrict x, const F* __restrict wl, const F* __restrict ql0,
                const F* __restrict ql1, F alpha, F cst, F* __restrict dx, double* __restrict dwl,
                double* __restrict dthl, F* __restrict ring, F* __restrict xr, const Geo& g, int64_t col, int64_t pf,
                bool stream, bool accum) {
  // U vectors of V columns side by side (columns col + u V + lane): their chains are independent, so the core
  // overlaps them; the arithmetic of each column is the same for any U.
  constexpr int64_t V = int64_t(VB / sizeof(F));
  typedef F vec __attribute__((vector_size(VB), aligned(sizeof(F))));
  typedef double dvec __attribute__((vector_size(V * sizeof(double)), aligned(sizeof(double))));
  const int64_t M = g.M, d = g.d, T = g.T, L = (K - 1) * d + 1, RS = 2 * L * V;  // RS: one vector's ring
  vec w[U][K], dw[U][K], p0[U], p1[U];
  for (int u = 0; u < U; ++u) {
    for (int i = 0; i < K; ++i) { w[u][i] = *(const vec*)(wl + i * BW + u * V); dw[u][i] = vec{}; }
    p0[u] = *(const vec*)(ql0 + u * V);
    p1[u] = *(const vec*)(ql1 + u * V);
  }
  const vec one = vec{} + F(1), half = vec{} + alpha / F(2), cv = vec{} + cst, av = vec{} + alpha;
  dvec dt[U];
  for (int u = 0; u < U; ++u) dt[u] = dvec{};
  int64_t steps = 0, slot = (T - 1) % L, xslot = T % L;
  // x ring: row r in slots r mod L and r mod L + L. At step t the newest row is t - (L - 1), at slot p = (t + 1) mod
  // L, and row t - l d at p + L - 1 - l d. The L - 1 rows above the first one are loaded before the loop.
  for (int64_t r = T - 1; r > T - L && r >= 0; --r)
    for (int u = 0; u < U; ++u) {
      const vec v = *(const vec*)(x + r * M + col + u * V);
      *(vec*)(xr + u * RS + (r % L) * V) = v;
      *(vec*)(xr + u * RS + (r % L + L) * V) = v;
    }
  const bool nt = VB == 64 && stream && reinterpret_cast<uintptr_t>(dx + col) % 64 == 0 && M % V == 0;
  auto step = [&](int64_t t, int ntap, int nfwd, auto full) __attribute__((always_inline)) {
    constexpr bool FULL = decltype(full)::value;
    if (t >= PFS) {  // the first strip of a block fetches the block's rows (pf columns), the others find them in L2
      for (int64_t q = 0; q < pf; q += 64 / int64_t(sizeof(F))) {
        if (t - PFS - (K - 1) * d >= 0) __builtin_prefetch(x + (t - PFS - (K - 1) * d) * M + col + q);
        if (KIND >= 0) __builtin_prefetch(gs + (t - PFS) * M + col + q);
        if (accum) __builtin_prefetch(dx + (t - PFS) * M + col + q);
      }
    }
    for (int u = 0; u < U; ++u) {
      F* __restrict xru = xr + u * RS;
      F* __restrict ru = ring + u * RS;
      const int64_t cu = col + u * V;
      if (t - (L - 1) >= 0) {
        const vec v = *(const vec*)(x + (t - (L - 1)) * M + cu);
        *(vec*)(xru + xslot * V) = v;
        *(vec*)(xru + (xslot + L) * V) = v;
      }
      const F* xt = xru + (xslot + L - 1) * V;
      vec xs[K];
      xs[0] = *(const vec*)xt;
      vec a = w[u][K - 1] * xs[0];
      for (int l = 1; l < K; ++l)
        if (FULL || l < ntap) { xs[l] = *(const vec*)(xt - l * d * V); a += w[u][K - 1 - l] * xs[l]; }
      vec G;
      if constexpr (KIND < 0) {
        G = p0[u] + p1[u] * a;
      } else {
        const vec st = *(const vec*)(gs + t * M + cu);
        const vec uu = a - p0[u];
        if constexpr (KIND == 0) { const vec tt = cv * uu; G = st * (half / (one + tt * tt)); }
        else if constexpr (KIND == 2) G = st * (one / (one + av * uu * uu));
        else { vec sg; for (int64_t q = 0; q < V; ++q) sg[q] = surrogate_grad<F, 1>(uu[q], alpha, cst); G = st * sg; }
        dt[u] += __builtin_convertvector(G, dvec);
      }
      *(vec*)(ru + slot * V) = G;
      *(vec*)(ru + (slot + L) * V) = G;
      vec r = w[u][K - 1] * G;
      for (int l = 1; l < K; ++l)
        if (FULL || l < nfwd) r += w[u][K - 1 - l] * *(const vec*)(ru + (slot + l * d) * V);
      F* o = dx + t * M + cu;
      if (accum) r = *(const vec*)o + r;
#ifdef __AVX512F__
      if (nt) {
        if constexpr (sizeof(F) == 4) _mm512_stream_ps(reinterpret_cast<float*>(o), reinterpret_cast<__m512&>(r));
        else _mm512_stream_pd(reinterpret_cast<double*>(o), reinterpret_cast<__m512d&>(r));
      } else
#endif
        *(vec*)o = r;
      for (int l = 0; l < K; ++l)
        if (FULL || l < ntap) dw[u][K - 1 - l] += G * xs[l];
    }
    if (++steps == TCHUNK || t == 0) {
      for (int u = 0; u < U; ++u)
        for (int i = 0; i < K; ++i) {
          *(dvec*)(dwl + i * BW + u * V) += __builtin_convertvector(dw[u][i], dvec);
          dw[u][i] = vec{};
        }
      steps = 0;
    }
    slot = slot == 0 ? L - 1 : slot - 1;
    xslot = xslot == 0 ? L - 1 : xslot - 1;
  };
  const int64_t hi = T - L, lo = L - 1;  // t <= hi: every t + lag < T; t >= lo: every t - lag >= 0
  for (int64_t t = T - 1; t >= 0; --t) {
    if (t <= hi && t >= lo) {
      step(t, K, K, std::true_type{});
    } else {
      const int ntap = int(std::min<int64_t>(K, t / d + 1)), nfwd = int(std::min<int64_t>(K, (T - 1 - t) / d + 1));
      step(t, ntap, nfwd, std::false_type{});
    }
  }
  if constexpr (KIND >= 0)
    for (int u = 0; u < U; ++u) *(dvec*)(dthl + u * V) += dt[u];
}

template <typename F, int KIND>
void grad_rows(const F* gs, const F* x, const F* wl, const F* ql0, const F* ql1, F alpha, F cst, F* dx,
               F* __restrict dw, double* __restrict dwl, double* __restrict dthl, F* __restrict ring,
               F* __restrict acc, const Geo& g, int64_t j0, int64_t w, bool stream, bool accum) {
  const int64_t L = (g.k - 1) * g.d + 1;
  int64_t steps = 0;
  for (int64_t t = g.T - 1; t >= 0; --t) {
    if (t >= PF)
      for (int64_t q = 0; q < w; q += 64 / int64_t(sizeof(F))) {
        __builtin_prefetch(x + (t - PF) * g.M + j0 + q);
        if (gs) __builtin_prefetch(gs + (t - PF) * g.M + j0 + q);
      }
    filter_at<F>(x, wl, acc, g, t, j0, w);
    F* __restrict gt = ring + (t % L) * BW;
    if constexpr (KIND < 0) {
      for (int64_t jj = 0; jj < w; ++jj) gt[jj] = ql0[jj] + ql1[jj] * acc[jj];
    } else {
      const F* __restrict st = gs + t * g.M + j0;
      for (int64_t jj = 0; jj < w; ++jj) gt[jj] = st[jj] * surrogate_grad<F, KIND>(acc[jj] - ql0[jj], alpha, cst);
      for (int64_t jj = 0; jj < w; ++jj) dthl[jj] += double(gt[jj]);
    }
    std::memcpy(gt + L * BW, gt, size_t(w) * sizeof(F));
    int64_t nfwd = 1;
    while (nfwd < g.k && t + nfwd * g.d < g.T) ++nfwd;
    if (accum) {  // dx += this pass's dX (the other pass's dX already there: one buffer, no later add)
      lag_sum<F>(gt, g.d * BW, wl + (g.k - 1) * BW, -BW, nfwd, acc, w);
      F* __restrict o = dx + t * g.M + j0;
      for (int64_t jj = 0; jj < w; ++jj) o[jj] += acc[jj];
    } else if (stream) {
      lag_sum<F>(gt, g.d * BW, wl + (g.k - 1) * BW, -BW, nfwd, acc, w);
      store_row<F>(dx + t * g.M + j0, acc, nullptr, w, true);
    } else {
      lag_sum<F>(gt, g.d * BW, wl + (g.k - 1) * BW, -BW, nfwd, dx + t * g.M + j0, w);
    }
    lagged_dw<F>(gt, x, dw, dwl, g, t, j0, w, steps);
  }
}

template <typename F, int KIND, int K>
void grad_block(const F* gs, const F* x, const F* wv, const F* q0, const F* q1, F alpha, F cst, F* dx, F* dw,
                double* dwd, double* dth, F* ring, F* xr, F* acc, const Geo& g, int64_t j0, int64_t w, bool stream,
                bool accum) {
  int64_t jo = 0;
  if constexpr (K > 0) {
    constexpr int64_t V = int64_t(VB / sizeof(F));
    for (; jo + SU * V <= w; jo += SU * V)
      grad_strip<F, KIND, K, SU>(gs, x, wv + jo, q0 + jo, q1 + jo, alpha, cst, dx, dwd + jo, dth + jo, ring, xr, g,
                                 j0 + jo, jo == 0 ? w : SU * V, stream, accum);
    for (; jo + V <= w; jo += V)
      grad_strip<F, KIND, K, 1>(gs, x, wv + jo, q0 + jo, q1 + jo, alpha, cst, dx, dwd + jo, dth + jo, ring, xr, g,
                                j0 + jo, jo == 0 ? w : V, stream, accum);
  }
  if (jo < w)
    grad_rows<F, KIND>(gs, x, wv + jo, q0 + jo, q1 + jo, alpha, cst, dx, dw, dwd + jo, dth + jo, ring, acc, g,
                       j0 + jo, w - jo, stream, accum);
}

template <typename F, int KIND>
void grad_blocks(const F* gs, const F* x, const F* taps, const F* p0, const F* p1, F alpha,
                 F* dx, double* dtaps, double* dtheta, const Geo g, int64_t b0, int64_t b1, bool stream,
                 bool accum) {
  const int64_t L = (g.k - 1) * g.d + 1;
  const F cst = F(1.5707963267948966 * double(alpha));
  Scratch<F> wv(g.k * BW), q0(BW), q1(BW), acc(BW), ring(2 * L * BW), dw(g.k * BW), xr(2 * L * BW);
  Scratch<double> dwd(g.k * BW), dth(BW);
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t j0 = b * BW, w = std::min(BW, g.M - j0);
    for (int64_t jj = 0; jj < w; ++jj) {
      const int64_t c = chan(g, j0 + jj);
      for (int64_t i = 0; i < g.k; ++i) wv[i * BW + jj] = taps[c * g.k + i];
      q0[jj] = p0[c];
      q1[jj] = KIND < 0 ? p1[c] : F(0);
    }
    std::fill(dw.begin(), dw.end(), F(0));
    std::fill(dwd.begin(), dwd.end(), 0.0);
    std::fill(dth.begin(), dth.end(), 0.0);
    auto run = [&](auto kc) {
      grad_block<F, KIND, decltype(kc)::value>(gs, x, wv.data(), q0.data(), q1.data(), alpha, cst, dx, dw.data(),
                                               dwd.data(), dth.data(), ring.data(), xr.data(), acc.data(), g, j0, w, stream,
                                               accum);
    };
    with_k(g.k, run);
    for (int64_t jj = 0; jj < w; ++jj) {
      const int64_t c = chan(g, j0 + jj);
      for (int64_t i = 0; i < g.k; ++i) dtaps[c * g.k + i] += dwd[i * BW + jj];
      if (dtheta) dtheta[c] += dth[jj];
    }
  }
#ifdef __AVX__
  if (stream) _mm_sfence();
#endif
}

template <typename Fn>
void with_partials(int64_t nb, int nthreads, int64_t size, double* out, Fn fn) {   // per-chunk partials, chunk order
  const int64_t nc = nchunks_for(nb);
  std::vector<std::vector<double>> part(nc, std::vector<double>(size, 0.0));
  parallel_blocks(nb, nthreads, [&](int q, int64_t b0, int64_t b1) { fn(part[q].data(), b0, b1); });
  for (int64_t i = 0; i < size; ++i) { double s = 0.0; for (int64_t q = 0; q < nc; ++q) s += part[q][i]; out[i] = s; }
}

template <typename F>
void moments(const F* x, const F* taps, double* out /* [2, C] */, Geo g, int nthreads) {
  with_partials((g.M + BW - 1) / BW, nthreads, 2 * g.C, out, [&](double* p, int64_t b0, int64_t b1) {
    moments_blocks<F>(x, taps, p, p + g.C, g, b0, b1); });
}

template <typename F>
void grad_pass(int mode, const F* gs, const F* x, const F* taps, const F* p0, const F* p1, int kind, double alpha,
               F* dx, double* out /* dtaps [C, k] then dtheta [C] */, Geo g, int nthreads, int flags) {
  const bool stream = flags & 1, accum = flags & 2;  // bit 0: non-temporal dx stores; bit 1: dx += (not =)
  with_partials((g.M + BW - 1) / BW, nthreads, g.C * g.k + g.C, out, [&](double* p, int64_t b0, int64_t b1) {
    double* dth = mode == 1 ? p + g.C * g.k : nullptr;
    const F a = F(alpha);
    if (mode == 0) grad_blocks<F, -1>(gs, x, taps, p0, p1, a, dx, p, dth, g, b0, b1, stream, accum);
    else if (kind == 0) grad_blocks<F, 0>(gs, x, taps, p0, p1, a, dx, p, dth, g, b0, b1, stream, accum);
    else if (kind == 1) grad_blocks<F, 1>(gs, x, taps, p0, p1, a, dx, p, dth, g, b0, b1, stream, accum);
    else grad_blocks<F, 2>(gs, x, taps, p0, p1, a, dx, p, dth, g, b0, b1, stream, accum); });
}
}  // namespace

extern "C" {
void mfpsn_fwd_f32(const float* x, const float* taps, const float* theta, float* out, int64_t T, int64_t M,
                   int64_t C, int64_t S, int64_t k, int64_t d, int nthreads, int stream) {
  fwd<float>(x, taps, theta, out, Geo{T, M, C, S, k, d}, nthreads, stream != 0);
}
void mfpsn_fwd_f64(const double* x, const double* taps, const double* theta, double* out, int64_t T, int64_t M,
                   int64_t C, int64_t S, int64_t k, int64_t d, int nthreads, int stream) {
  fwd<double>(x, taps, theta, out, Geo{T, M, C, S, k, d}, nthreads, stream != 0);
}
void mfpsn_bwd_f32(const float* g, const float* x, const float* taps, float* dx, double* dtaps, int64_t T,
                   int64_t M, int64_t C, int64_t S, int64_t k, int64_t d, int nthreads, int stream) {
  bwd<float>(g, x, taps, dx, dtaps, Geo{T, M, C, S, k, d}, nthreads, stream != 0);
}
void mfpsn_bwd_f64(const double* g, const double* x, const double* taps, double* dx, double* dtaps, int64_t T,
                   int64_t M, int64_t C, int64_t S, int64_t k, int64_t d, int nthreads, int stream) {
  bwd<double>(g, x, taps, dx, dtaps, Geo{T, M, C, S, k, d}, nthreads, stream != 0);
}
void mfpsn_moments_f32(const float* x, const float* taps, double* out, int64_t T, int64_t M, int64_t C, int64_t S,
                       int64_t k, int64_t d, int nthreads) {
  moments<float>(x, taps, out, Geo{T, M, C, S, k, d}, nthreads);
}
void mfpsn_moments_f64(const double* x, const double* taps, double* out, int64_t T, int64_t M, int64_t C,
                       int64_t S, int64_t k, int64_t d, int nthreads) {
  moments<double>(x, taps, out, Geo{T, M, C, S, k, d}, nthreads);
}
void mfpsn_grad_f32(int mode, const float* gs, const float* x, const float* taps, const float* p0, const float* p1,
                    int kind, double alpha, float* dx, double* out, int64_t T, int64_t M, int64_t C, int64_t S,
                    int64_t k, int64_t d, int nthreads, int flags) {
  grad_pass<float>(mode, gs, x, taps, p0, p1, kind, alpha, dx, out, Geo{T, M, C, S, k, d}, nthreads, flags);
}
void mfpsn_grad_f64(int mode, const double* gs, const double* x, const double* taps, const double* p0,
                    const double* p1, int kind, double alpha, double* dx, double* out, int64_t T, int64_t M,
                    int64_t C, int64_t S, int64_t k, int64_t d, int nthreads, int flags) {
  grad_pass<double>(mode, gs, x, taps, p0, p1, kind, alpha, dx, out, Geo{T, M, C, S, k, d}, nthreads, flags);
}
}
"""

_SOURCE = _SOURCE.replace("@PARALLEL_BLOCKS@", native.PARALLEL_BLOCKS_CPP) + FOLD_CPP
_FLAGS = ("-O3", "-march=native", "-mprefer-vector-width=512", "-std=c++17", "-shared", "-fPIC", "-pthread", "-fopenmp")
_SMALL = 1 << 14  # values: below this one thread (the work is a few microseconds)
_STREAM_MIN = 16 << 20  # bytes: outputs (h, spikes, dx) at least this large are written with non-temporal stores
_LOCK = threading.Lock()


_WHAT = "the fused CPU kernel (temporal_filter backend='fused')"


def library_path() -> Path:
    """Where the compiled library for this source, compiler and CPU lives (it may not exist yet)."""
    return native.library_path("mfpsn_fused_cpu", _SOURCE, _FLAGS, "temporal_filter backend='fused'")


def _build(target: Path) -> None:
    native.build(target, _SOURCE, _FLAGS, "temporal_filter backend='fused'")


def _configure(lib: ctypes.CDLL) -> None:
    p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    for name in ("mfpsn_fwd_f32", "mfpsn_fwd_f64"):
        getattr(lib, name).argtypes = [p, p, p, p, i64, i64, i64, i64, i64, i64, i32, i32]
        getattr(lib, name).restype = None
    for name in ("mfpsn_bwd_f32", "mfpsn_bwd_f64"):
        getattr(lib, name).argtypes = [p, p, p, p, p, i64, i64, i64, i64, i64, i64, i32, i32]
        getattr(lib, name).restype = None
    for name in ("mfpsn_moments_f32", "mfpsn_moments_f64"):
        getattr(lib, name).argtypes = [p, p, p, i64, i64, i64, i64, i64, i64, i32]
        getattr(lib, name).restype = None
    for name in ("mfpsn_grad_f32", "mfpsn_grad_f64"):
        getattr(lib, name).argtypes = [i32, p, p, p, p, p, i32, ctypes.c_double, p, p, i64, i64, i64, i64, i64,
                                       i64, i32, i32]
        getattr(lib, name).restype = None
    f64 = ctypes.c_double
    for name in ("mfpsn_fold_fwd_f32", "mfpsn_fold_fwd_f64"):
        getattr(lib, name).argtypes = [p, p, p, f64, p, p, p, f64, i32, i32, i64, i32, i64, i64, i64, p, p]
        getattr(lib, name).restype = None
    for name in ("mfpsn_fold_bwd_f32", "mfpsn_fold_bwd_f64"):
        getattr(lib, name).argtypes = [p, p, p, p, p, p, p, p, p, f64, i32, i32, i64, i32, i64, f64, p, i64, i64,
                                       p, p, p, p, p]
        getattr(lib, name).restype = None


def _selftest(lib: ctypes.CDLL) -> None:
    """Forward, spikes and backward on a known [5, 1, 2] input (values exact in binary) in both dtypes."""
    for dtype, fwd, bwd in ((torch.float32, lib.mfpsn_fwd_f32, lib.mfpsn_bwd_f32),
                            (torch.float64, lib.mfpsn_fwd_f64, lib.mfpsn_bwd_f64)):
        x = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 4.0], [-2.0, 1.0], [1.0, 1.0]], dtype=dtype)
        taps = torch.tensor([[0.5, 1.0], [-2.0, 0.25]], dtype=dtype)     # [C = 2, k = 2], d = 1
        h_want = x * taps[:, 1]
        h_want[1:] += x[:-1] * taps[:, 0]
        h = torch.empty_like(x)
        fwd(x.data_ptr(), taps.data_ptr(), None, h.data_ptr(), 5, 2, 2, 1, 2, 1, 1, 0)
        theta = torch.tensor([1.0, 0.0], dtype=dtype)
        s = torch.empty_like(x)
        fwd(x.data_ptr(), taps.data_ptr(), theta.data_ptr(), s.data_ptr(), 5, 2, 2, 1, 2, 1, 1, 0)
        g = torch.tensor([[1.0, 0.5], [2.0, -1.0], [0.0, 1.0], [1.0, 2.0], [-1.0, 0.5]], dtype=dtype)
        dx_want = g * taps[:, 1]
        dx_want[:-1] += g[1:] * taps[:, 0]
        dt_want = torch.stack([(g[1:] * x[:-1]).sum(0), (g * x).sum(0)], dim=1).double()
        dx, dt = torch.empty_like(x), torch.zeros(2, 2, dtype=torch.float64)
        bwd(g.data_ptr(), x.data_ptr(), taps.data_ptr(), dx.data_ptr(), dt.data_ptr(), 5, 2, 2, 1, 2, 1, 1, 0)
        if not (torch.equal(h, h_want) and torch.equal(s, (h_want >= theta).to(dtype))
                and torch.equal(dx, dx_want) and torch.equal(dt, dt_want)):
            raise RuntimeError(f"wrong results in {dtype}")


@lru_cache(maxsize=1)
def _load_unlocked() -> ctypes.CDLL:
    return native.load_verified(library_path(), lambda target: _build(target), _configure, _selftest, _WHAT)


def _load() -> ctypes.CDLL:
    with _LOCK:
        return _load_unlocked()


def ready() -> bool:
    """True once the library is loaded in this process (``auto`` considers ``fused`` only then)."""
    return _load_unlocked.cache_info().currsize == 1


@lru_cache(maxsize=8)
def _auto_attempt(cxx: str | None, cache_dir: str | None) -> str | None:
    """Load (building once per machine) for ``backend="auto"``; None on success, else the reason, warned once per
    (compiler, cache folder)."""
    try:
        _load()
    except RuntimeError as err:
        warnings.warn(f"mfpsn: backend='auto' cannot use the fused CPU kernel and uses the next fastest "
                      f"implementation instead: {err}", RuntimeWarning, stacklevel=4)
        return str(err)
    return None


def prepare_for_auto() -> bool:
    """Make the fused kernel available to ``auto`` (build on first need, load); True when it is loaded.

    A machine without a compiler (or an unusable cache folder) gets one ``RuntimeWarning`` and False.
    """
    if ready():
        return True
    return _auto_attempt(os.environ.get("CXX"), os.environ.get("MFPSN_CACHE_DIR")) is None


def warmup(background: bool = False) -> threading.Thread | None:
    """Build (first time on this machine, about a second) and load the kernel.

    Args:
        background: if True, do it in a daemon thread and return the thread (an app calls this at start-up so
            that no request ever waits for a compile); otherwise block and return None. Errors (no compiler)
            are raised in the foreground; in the background :func:`ready` simply stays False.
    """
    if not background:
        _load()
        return None
    thread = threading.Thread(target=_load, name="mfpsn-fused-cpu-warmup", daemon=True)
    thread.start()
    return thread


def _geometry(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> tuple[int, ...]:
    T, B, C = x.shape[:3]
    S = 1
    for n in x.shape[3:]:
        S *= n
    return T, B * C * S, C, S, taps.shape[1], dilation


def _stream(out: torch.Tensor | None) -> int:
    """1 when the kernel should write ``out`` with non-temporal stores (large outputs), else 0."""
    return int(out is not None and out.numel() * out.element_size() >= _STREAM_MIN)


def _threads(x: torch.Tensor) -> int:
    return 1 if x.numel() < _SMALL else torch.get_num_threads()


def _check(x: torch.Tensor) -> None:
    if x.device.type != "cpu":
        raise RuntimeError(f"temporal_filter backend='fused' runs on the CPU only, found x on {x.device}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise RuntimeError(f"temporal_filter backend='fused' supports float32 and float64, found {x.dtype}")


def cast(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """t in ``dtype``: t itself when it already is (a same-dtype ``.to`` costs microseconds on every call)."""
    return t if t.dtype == dtype else t.to(dtype)


def operand(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """t as a contiguous tensor of ``dtype`` for a kernel, t itself when it already is one (the kernels read only
    the data pointer, so no ``.detach`` view is needed)."""
    t = cast(t, dtype)
    return t if t.is_contiguous() else t.contiguous()


def fused_forward(x: torch.Tensor, taps: torch.Tensor, dilation: int, theta: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """h (``theta`` None) or spikes Θ(h − θ). x: [T, B, C, *]; taps: [C, k]; theta: [C]; returns [T, B, C, *].

    No autograd here (see ``filter.py``'s ``_FusedFilter``). Loads the library if needed (blocking).
    """
    _check(x)
    lib = _load()
    xc = operand(x, x.dtype)
    w = operand(taps, x.dtype)
    th = None if theta is None else operand(theta, x.dtype)
    out = buffer_cache.empty_like(xc)
    fn = lib.mfpsn_fwd_f32 if x.dtype == torch.float32 else lib.mfpsn_fwd_f64
    fn(xc.data_ptr(), w.data_ptr(), None if th is None else th.data_ptr(), out.data_ptr(),
       *_geometry(xc, w, dilation), _threads(xc), _stream(out))
    return out


def fused_backward(g: torch.Tensor, x: torch.Tensor, taps: torch.Tensor, dilation: int, need_x: bool,
                   need_taps: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(dx: [T, B, C, *] or None, dtaps: [C, k] float64 or None) for upstream g: [T, B, C, *]."""
    _check(x)
    lib = _load()
    gc = operand(g, x.dtype)
    xc = operand(x, x.dtype)
    w = operand(taps, x.dtype)
    dx = buffer_cache.empty_like(xc) if need_x else None
    dtaps = torch.zeros(w.shape, dtype=torch.float64) if need_taps else None
    fn = lib.mfpsn_bwd_f32 if x.dtype == torch.float32 else lib.mfpsn_bwd_f64
    fn(gc.data_ptr(), xc.data_ptr(), w.data_ptr(), None if dx is None else dx.data_ptr(),
       None if dtaps is None else dtaps.data_ptr(), *_geometry(xc, w, dilation), _threads(xc), _stream(dx))
    return dx, dtaps


def fused_moments(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ Y [C], Σ Y² [C]) in float64 over (T, B, *) of Y = filter(x, taps), without writing Y.

    x: [T, B, C, *] float32/float64 on the CPU; taps: [C, k]. No autograd here (see ``mfpsn_train_cpu``).
    """
    out = fused_moment_sums(x, taps, dilation)
    return out[0], out[1]


def fused_moment_sums(x: torch.Tensor, taps: torch.Tensor, dilation: int) -> torch.Tensor:
    """:func:`fused_moments` as one float64 tensor ``[2, C]`` (rows Σ Y, Σ Y²), the input of
    :func:`fused_fold_forward`."""
    _check(x)
    lib = _load()
    xc = operand(x, x.dtype)
    w = operand(taps, x.dtype)
    out = torch.zeros(2, x.shape[2], dtype=torch.float64)
    fn = lib.mfpsn_moments_f32 if x.dtype == torch.float32 else lib.mfpsn_moments_f64
    fn(xc.data_ptr(), w.data_ptr(), out.data_ptr(), *_geometry(xc, w, dilation), _threads(xc))
    return out


def _pointers(t: torch.Tensor, offsets: tuple[int, ...]) -> list[int]:
    """Addresses of the elements at these flat offsets of a contiguous tensor."""
    base, size = t.data_ptr(), t.element_size()
    return [base + o * size for o in offsets]


def _check_operands(where: str, specs: tuple[tuple[str, torch.Tensor | None, tuple[int, ...], torch.dtype], ...]
                    ) -> None:
    """ValueError unless each (name, tensor, shape, dtype) names a contiguous CPU tensor of that shape and dtype
    (None: not given). The C++ reads raw memory, so a wrong one would read past its tensor."""
    for name, t, shape, dtype in specs:
        if t is not None and (tuple(t.shape) != shape or t.dtype != dtype or t.device.type != "cpu"
                              or not t.is_contiguous()):
            raise ValueError(f"{where}: expected {name} a contiguous CPU tensor of shape {list(shape)} and dtype "
                             f"{dtype}, found {list(t.shape)} {t.dtype} on {t.device}"
                             f"{'' if t.is_contiguous() else ' (not contiguous)'}")


def _exp_args(exp_min: int | None, exp_max: int | None) -> tuple[int, int, int, int]:
    return int(exp_min is not None), int(exp_min or 0), int(exp_max is not None), int(exp_max or 0)


def fused_fold_forward(sums: torch.Tensor | None, n: int, weight: torch.Tensor, bn_weight: torch.Tensor,
                       bn_bias: torch.Tensor, eps: float, quantize: bool, exp_min: int | None, exp_max: int | None,
                       mean: torch.Tensor | None = None, var: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, ...]:
    """The batch statistics and the fold in one call (:mod:`mfpsn.functional.fold_cpp`), no autograd.

    Args:
        sums: [2, C] float64 (Σ Y, Σ Y² over the n values of each channel), or None with ``mean``, ``var`` [C] (μ,
            σ² given: the eval fold from running statistics); weight W: [C, k]; bn_weight γ, bn_bias β: [C]; all
            contiguous in one dtype (float32 or float64, the layer's x dtype).
    Returns:
        (W_q [C, k], θ, μ_B, σ²_B (biased) [C], W_f [C, k], g, 1/√(σ²_B + ε) [C], μ_B in float64 [C]): the values of
        ``μ = ΣY/n``, ``σ² = (ΣY²/n − μ²).clamp_min(0)`` and :func:`mfpsn.functional.fold.fold_forward`, bit for bit.
    """
    dt = weight.dtype
    if weight.dim() != 2 or dt not in SUPPORTED_DTYPES or (sums is None) == (mean is None or var is None):
        raise ValueError(f"fused_fold_forward: expected a float32/float64 weight [C, k] and either sums or mean and "
                         f"var, found weight {list(weight.shape)} {dt}")
    C, k = weight.shape
    f64 = torch.float64
    _check_operands("fused_fold_forward", (("sums", sums, (2, C), f64), ("weight", weight, (C, k), dt),
                                           ("bn_weight", bn_weight, (C,), dt), ("bn_bias", bn_bias, (C,), dt),
                                           ("mean", mean, (C,), dt), ("var", var, (C,), dt)))
    lib = _load()
    out = torch.empty(2 * C * k + 5 * C, dtype=dt)
    mean64 = torch.empty(C, dtype=torch.float64)
    fn = lib.mfpsn_fold_fwd_f32 if dt == torch.float32 else lib.mfpsn_fold_fwd_f64
    given = sums is None
    fn(None if given else sums.data_ptr(), mean.data_ptr() if given else None, var.data_ptr() if given else None,
       float(n), weight.data_ptr(), bn_weight.data_ptr(), bn_bias.data_ptr(), float(eps), int(bool(quantize)),
       *_exp_args(exp_min, exp_max), C, k, out.data_ptr(), mean64.data_ptr())
    w_q, w_f, mean, var, theta, g, inv = out.split_with_sizes((C * k, C * k, C, C, C, C, C))
    return w_q.view(C, k), theta, mean, var, w_f.view(C, k), g, inv, mean64


def fused_fold_backward(d_wq: torch.Tensor, g_sum: torch.Tensor, weight: torch.Tensor, mean: torch.Tensor,
                        var: torch.Tensor, g: torch.Tensor, inv: torch.Tensor, w_f: torch.Tensor, w_q: torch.Tensor,
                        eps: float, round_ste: bool, exp_min: int | None, exp_max: int | None, n: int,
                        mean64: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The fold's backward and the statistics pass's coefficients in one call (:mod:`mfpsn.functional.fold_cpp`).

    Args:
        d_wq: dL/dW_q [C, k] float64; g_sum: Σ G [C] float64 (dθ = −Σ G), both contiguous; the rest as
            :func:`fused_fold_forward` returned them.
    Returns:
        (dW through W_q [C, k], dγ, dβ [C] in W's dtype, a_c, b_c [C] float64): the values of
        :func:`mfpsn.functional.fold.fold_backward` (to rounding: the sum over the taps runs in tap order) and
        ``b_c = 2 dσ²/n``, ``a_c = dμ/n − b_c μ_B``.
    """
    dt = weight.dtype
    if weight.dim() != 2 or dt not in SUPPORTED_DTYPES:
        raise ValueError(f"fused_fold_backward: expected a float32/float64 weight [C, k], found "
                         f"{list(weight.shape)} {dt}")
    C, k = weight.shape
    f64 = torch.float64
    _check_operands("fused_fold_backward", (("d_wq", d_wq, (C, k), f64), ("g_sum", g_sum, (C,), f64),
                                            ("mean64", mean64, (C,), f64), ("weight", weight, (C, k), dt),
                                            ("w_f", w_f, (C, k), dt), ("w_q", w_q, (C, k), dt),
                                            *((n, t, (C,), dt) for n, t in (("mean", mean), ("var", var), ("g", g),
                                                                            ("inv", inv)))))
    lib = _load()
    out = torch.empty(C * k + 2 * C, dtype=dt)
    coef = torch.empty(2, C, dtype=torch.float64)
    fn = lib.mfpsn_fold_bwd_f32 if dt == torch.float32 else lib.mfpsn_fold_bwd_f64
    fn(d_wq.data_ptr(), g_sum.data_ptr(), weight.data_ptr(), mean.data_ptr(), var.data_ptr(), g.data_ptr(),
       inv.data_ptr(), w_f.data_ptr(), w_q.data_ptr(), float(eps), int(bool(round_ste)), *_exp_args(exp_min, exp_max),
       float(n), mean64.data_ptr(), C, k, *_pointers(out, (0, C * k, C * k + C)), *_pointers(coef, (0, C)))
    dw, dgamma, dbeta = out.split_with_sizes((C * k, C, C))
    return dw.view(C, k), dgamma, dbeta, coef[0], coef[1]


def fused_grad_pass(x: torch.Tensor, taps: torch.Tensor, dilation: int, *, alpha_c: torch.Tensor | None = None,
                    beta_c: torch.Tensor | None = None, grad_s: torch.Tensor | None = None,
                    theta: torch.Tensor | None = None, surrogate_code: int = 0, surrogate_alpha: float = 2.0,
                    accumulate_into: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One backward pass that recomputes Y = filter(x, taps) (or H) instead of reading it.

    Statistics mode (``alpha_c``, ``beta_c`` [C]): G = α_c + β_c·Y. Spike mode (``grad_s`` [T, B, C, *],
    ``theta`` [C], the surrogate's code and α): G = grad_s·σ'(H − θ_c). Returns (dx [T, B, C, *] = the
    anti-causal filter of G, dtaps [C, k] float64 = Σ G[t]·x[t − lag_i], Σ G per channel [C] float64 in spike
    mode, else None). ``accumulate_into``: a contiguous tensor like x (the other pass's dX); this pass's dX is
    added into it in place and it is returned as dx (one buffer instead of two and a later add).
    """
    _check(x)
    lib = _load()
    xc = operand(x, x.dtype)
    w = operand(taps, x.dtype)
    C, k = w.shape
    spike = grad_s is not None
    p0 = operand(theta if spike else alpha_c, x.dtype)
    p1 = None if spike else operand(beta_c, x.dtype)
    gs = operand(grad_s, x.dtype) if spike else None
    if accumulate_into is None:
        dx, flags = buffer_cache.empty_like(xc), _stream(xc)
    else:
        if (accumulate_into.shape != xc.shape or accumulate_into.dtype != xc.dtype
                or not accumulate_into.is_contiguous() or accumulate_into.device.type != "cpu"):
            raise ValueError(f"fused_grad_pass: accumulate_into must be a contiguous CPU tensor of shape "
                             f"{tuple(xc.shape)} and dtype {xc.dtype}, found {tuple(accumulate_into.shape)} "
                             f"{accumulate_into.dtype}")
        dx, flags = accumulate_into, 2
    out = torch.zeros(C * k + C, dtype=torch.float64)
    fn = lib.mfpsn_grad_f32 if x.dtype == torch.float32 else lib.mfpsn_grad_f64
    fn(int(spike), None if gs is None else gs.data_ptr(), xc.data_ptr(), w.data_ptr(), p0.data_ptr(),
       None if p1 is None else p1.data_ptr(), int(surrogate_code), float(surrogate_alpha), dx.data_ptr(),
       out.data_ptr(), *_geometry(xc, w, dilation), _threads(xc), flags)
    return dx, out[: C * k].reshape(C, k), (out[C * k:] if spike else None)
