"""C++ source of the fused training layer's fold glue, compiled into the fused CPU library
(:mod:`mfpsn.functional.fused_cpu`; Python entry points :func:`~mfpsn.functional.fused_cpu.fused_fold_forward` and
:func:`~mfpsn.functional.fused_cpu.fused_fold_backward`).

What the layer did between its kernel passes in about twenty-five small torch ops (each a few microseconds of
dispatch on a ``[C]`` or ``[C, k]`` tensor), in one call each way (measured ad hoc with the kernels stubbed out,
T = 32, [32, 64, 128]: the layer's overhead per forward+backward fell from 400 to 257 µs):

- forward, from the float64 sums Σ Y, Σ Y² of the moments pass: μ_B = ΣY/n, σ²_B = max(ΣY²/n − μ_B², 0) (float64,
  then rounded to x's dtype), then :func:`mfpsn.functional.fold.fold_forward`: 1/√(σ²_B + ε), g = γ/√(σ²_B + ε),
  W_f = g·W, θ = g·μ_B − β, W_q = Q(W_f);
- backward, from the float64 dW_q and Σ G of the spike gradient pass: dθ = −Σ G, then
  :func:`mfpsn.functional.fold.fold_backward` (both straight-through rules) and the statistics pass's coefficients
  b_c = 2·dσ²/n, a_c = dμ/n − b_c·μ_B (float64).

Every operation is the IEEE operation of the torch op it replaces, in the same order, compiled without contraction
into fused multiply-adds (``optimize("fp-contract=off")``), so μ_B, σ²_B, W_q and θ equal the torch forms bit for bit
(tested); the backward's sum over the k taps runs in tap order (torch's reduction order is its own), so its values
agree to rounding. Q uses the exact rule of :func:`mfpsn.functional.quantize.round_exponent` (the exponent from
``frexp`` and a comparison of the mantissa with 2^(−1/2)), which needs no log2 and so rounds as torch does.
"""
from __future__ import annotations

from mfpsn.functional.quantize import INV_SQRT2_UP

__all__ = ["FOLD_CPP"]

FOLD_CPP = r"""
// ---- the fused training layer's fold glue (mfpsn.functional.fold_cpp): each operation rounded as the torch op it
// replaces, no fused multiply-adds
namespace {
constexpr double INV_SQRT2_UP = @INV_SQRT2_UP@;  // the smallest double above 2^(-1/2) (quantize.py)

// round(log2|w|) exactly (quantize.round_exponent): frexp's e where the mantissa m >= 2^(-1/2), else e - 1
template <typename F>
inline double round_exponent(F w) {
  if (std::isinf(w)) return INFINITY;
  int e = 0;
  const F m = std::frexp(std::fabs(w), &e);
  return double(e) - (double(m) < INV_SQRT2_UP ? 1.0 : 0.0);
}

// Q(w) = sign(w) 2^clamp(e): 0 for w = 0 (either sign), NaN for NaN, +-inf for +-inf unless clamped
template <typename F>
inline F pow2_q(F w, bool has_min, double emin, bool has_max, double emax) {
  if (w != w) return w;
  if (w == F(0)) return F(0);
  double e = round_exponent(w);
  if (has_min && e < emin) e = emin;
  if (has_max && e > emax) e = emax;
  const F p = std::isinf(e) ? F(INFINITY) : std::ldexp(F(1), int(std::max(-2000.0, std::min(2000.0, e))));
  return w < F(0) ? -p : p;
}

// out (x's dtype): W_q [C, k], W_f [C, k], mu, var, theta, g, inv [C]; mean64 [C] float64. s: [2, C] float64 sums,
// or null: then mu and var are read from mean_in, var_in [C] (x's dtype; the eval fold from running statistics).
template <typename F>
__attribute__((optimize("fp-contract=off")))
void fold_fwd(const double* s, const F* mean_in, const F* var_in, double n, const F* w, const F* gamma, const F* beta,
              double eps, int quantize, int has_min, int64_t emin, int has_max, int64_t emax, int64_t C, int64_t k,
              F* out, double* mean64) {
  F* wq = out;
  F* wf = out + C * k;
  F* mean = out + 2 * C * k;
  F* var = mean + C;
  F* theta = var + C;
  F* g = theta + C;
  F* inv = g + C;
  const F e = F(eps);
  for (int64_t c = 0; c < C; ++c) {
    if (s) {
      const double m = s[c] / n;
      double v = s[C + c] / n - m * m;
      if (v < 0.0) v = 0.0;             // clamp_min(0); NaN stays NaN
      mean64[c] = m;
      mean[c] = F(m);
      var[c] = F(v);
    } else {
      mean[c] = mean_in[c];
      var[c] = var_in[c];
      mean64[c] = double(mean_in[c]);
    }
    inv[c] = F(1) / std::sqrt(var[c] + e);
    g[c] = gamma[c] * inv[c];
    theta[c] = g[c] * mean[c] - beta[c];
    for (int64_t i = 0; i < k; ++i) {
      const F f = g[c] * w[c * k + i];
      wf[c * k + i] = f;
      wq[c * k + i] = quantize ? pow2_q(f, has_min, double(emin), has_max, double(emax)) : f;
    }
  }
}

// dw [C, k], dgamma, dbeta [C] in x's dtype; a_c, b_c [C] float64. round_ste: dW_f = dW_q Q(W_f)/W_f inside the
// exponent range, 0 where the clamp moved it, NaN at W_f = 0 (fold.round_ste_factor); else dW_f = dW_q.
template <typename F>
__attribute__((optimize("fp-contract=off")))
void fold_bwd(const double* dwq, const double* gsum, const F* w, const F* mean, const F* var, const F* g,
              const F* inv, const F* wf, const F* wq, double eps, int round_ste, int has_min, int64_t emin,
              int has_max, int64_t emax, double n, const double* mean64, int64_t C, int64_t k, F* dw, F* dgamma,
              F* dbeta, double* a_c, double* b_c) {
  const F e = F(eps);
  for (int64_t c = 0; c < C; ++c) {
    const F dth = F(-gsum[c]);
    F dg = F(0);
    for (int64_t i = 0; i < k; ++i) {
      const int64_t q = c * k + i;
      F d = F(dwq[q]);
      if (round_ste) {
        const F f = wf[q];
        const double ex = round_exponent(f);
        const bool inside = (!has_min || ex >= double(emin)) && (!has_max || ex <= double(emax));
        const F factor = f == F(0) ? F(NAN) : (inside ? wq[q] / f : F(0));
        d = d * factor;
      }
      dw[q] = g[c] * d;
      dg = i == 0 ? w[q] * d : dg + w[q] * d;
    }
    dg = dg + mean[c] * dth;
    dgamma[c] = dg * inv[c];
    dbeta[c] = -dth;
    const F dmu = g[c] * dth;
    const F dvar = F(-0.5) * dg * g[c] / (var[c] + e);
    b_c[c] = 2.0 * double(dvar) / n;
    a_c[c] = double(dmu) / n - b_c[c] * mean64[c];
  }
}
}  // namespace

extern "C" {
void mfpsn_fold_fwd_f32(const double* s, const float* mean_in, const float* var_in, double n, const float* w,
                        const float* gamma, const float* beta, double eps, int quantize, int has_min, int64_t emin,
                        int has_max, int64_t emax, int64_t C, int64_t k, float* out, double* mean64) {
  fold_fwd<float>(s, mean_in, var_in, n, w, gamma, beta, eps, quantize, has_min, emin, has_max, emax, C, k, out,
                  mean64);
}
void mfpsn_fold_fwd_f64(const double* s, const double* mean_in, const double* var_in, double n, const double* w,
                        const double* gamma, const double* beta, double eps, int quantize, int has_min, int64_t emin,
                        int has_max, int64_t emax, int64_t C, int64_t k, double* out, double* mean64) {
  fold_fwd<double>(s, mean_in, var_in, n, w, gamma, beta, eps, quantize, has_min, emin, has_max, emax, C, k, out,
                   mean64);
}
void mfpsn_fold_bwd_f32(const double* dwq, const double* gsum, const float* w, const float* mean, const float* var,
                        const float* g, const float* inv, const float* wf, const float* wq, double eps, int round_ste,
                        int has_min, int64_t emin, int has_max, int64_t emax, double n, const double* mean64,
                        int64_t C, int64_t k, float* dw, float* dgamma, float* dbeta, double* a_c, double* b_c) {
  fold_bwd<float>(dwq, gsum, w, mean, var, g, inv, wf, wq, eps, round_ste, has_min, emin, has_max, emax, n, mean64,
                  C, k, dw, dgamma, dbeta, a_c, b_c);
}
void mfpsn_fold_bwd_f64(const double* dwq, const double* gsum, const double* w, const double* mean,
                        const double* var, const double* g, const double* inv, const double* wf, const double* wq,
                        double eps, int round_ste, int has_min, int64_t emin, int has_max, int64_t emax, double n,
                        const double* mean64, int64_t C, int64_t k, double* dw, double* dgamma, double* dbeta,
                        double* a_c, double* b_c) {
  fold_bwd<double>(dwq, gsum, w, mean, var, g, inv, wf, wq, eps, round_ste, has_min, emin, has_max, emax, n, mean64,
                   C, k, dw, dgamma, dbeta, a_c, b_c);
}
}
""".replace("@INV_SQRT2_UP@", repr(INV_SQRT2_UP))
