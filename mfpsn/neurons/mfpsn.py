"""The MFPSN module: multiplication-free channel-wise parallel spiking neuron (spec §2)."""
from __future__ import annotations

import math

import torch
from torch import nn

from mfpsn.backends import FILTER_BACKENDS, mfpsn_fold, mfpsn_spikes, mfpsn_trace, mfpsn_train_forward
from mfpsn.functional.mfpsn import STATS, fold_taps, update_running_stats
from mfpsn.functional.surrogate import Surrogate, get_surrogate
from mfpsn._checks import (check_choice, check_optional_int, check_positive_int, check_positive_number,
                           check_unit_interval)
from mfpsn.neurons.base import (NeuronTrace, StepModeMixin, StreamBuffer, check_sequence, check_step_input,
                                is_tracing, threshold_view)

__all__ = ["MFPSN"]

# Under torch.fx.symbolic_trace the eval forward is recorded as one call of this function (not traced into).
torch.fx.wrap("mfpsn_spikes")

_STES = ("whole", "round")


class MFPSN(StepModeMixin, nn.Module):
    """Multiplication-free channel-wise parallel spiking neuron: a per-channel causal dilated FIR over time
    with power-of-two taps, and a threshold realised as a per-channel BatchNorm on the filter output.

    .. math::
        \\mathrm{lag}_i = (k-1-i)\\,d, \\qquad
        g = \\frac{\\gamma}{\\sqrt{\\sigma^2 + \\varepsilon}}, \\qquad
        W_q = Q(g \\cdot W), \\qquad \\theta = g\\,\\mu - \\beta

    .. math::
        H[t, b, c, *] = \\sum_{i=0}^{k-1} W_q[c, i]\\; X[t - \\mathrm{lag}_i, b, c, *], \\qquad
        S = \\Theta(H - \\theta[c])

    with ``X[t'] = 0`` for ``t' < 0``, ``Q(w) = sign(w)·2^clamp(round(log2|w|), exp_min, exp_max)`` and
    ``Θ(0) = 1``. The last tap ``W[:, k−1]`` weighs the current input.

    - **Training** (two temporal filters): μ, σ² are the batch mean and biased variance of
      ``Y = filter(X, W)`` over (T, B, *); the running statistics are updated as ``nn.BatchNorm`` does (unbiased
      variance, ``momentum``; ``momentum=None`` = cumulative average). Then ``H = filter(X, W_q)`` and the spikes
      go through the surrogate. The threshold at step t depends on the whole sequence, so training mode is not
      causal. Needs more than one value per channel (T·B·Π* > 1).
    - **Eval**: one filter with W_q, θ folded from the running statistics, cached and recomputed whenever a
      parameter or buffer changes (tracked by tensor version counters and storage; ``torch.compile`` traces
      recompute). The one change that escapes version counters is an in-place write through ``.data``; PyTorch
      hides those from autograd too. With gradients enabled and trainable parameters the fold is recomputed
      differentiably on every call.
    - **Streaming** ``step(x_t)`` (eval only): ring buffer of (k − 1)·d + 1 inputs; spikes identical to the
      multi-step eval forward (bit for bit against ``backend="shift_add"``; for other implementations H may differ
      in the last bit where the summation order differs).

    Reconstructed (open) choices, each a constructor argument (spec §2.4, §9): BN statistics over (T, B, *);
    gradients through μ_B, σ²_B (``bn_grad=True``); momentum 0.1, eps 1e-5; weight init U(−1/√k, 1/√k);
    exponent range unbounded (``exp_min = exp_max = None``); surrogate ATan α = 2 (the paper's choice for
    sequential CIFAR; use ``"rational"`` α = 10 for DVS-Lip); pass-1 statistics by materialising Y
    (``stats="materialize"``; ``"moments"`` computes them from lagged moments of X, spec §2.4 "Option").

    Args:
        channels: C, the size of dim 2 of the input.
        order: k >= 1 taps. dilation: d >= 1, spacing between taps.
        quantize: False = float channel-wise PSN (Q = identity), for ablations.
        exp_min, exp_max: inclusive exponent range of Q (None = unbounded).
        ste: quantizer gradient: ``"whole"`` (dQ/dw = 1, the paper's fix) or ``"round"`` (plain STE).
        surrogate, alpha: ``"atan"`` | ``"rational"`` | ``"sigmoid"`` or a ``Surrogate``; α (None = its default).
        backend: the temporal filter's backend (``mfpsn.backends.FILTER_BACKENDS``, ``"auto"`` by default). With
            ``"triton"`` the eval forward and pass 2 of the training forward run the fused filter + threshold + spike kernel
            ``mfpsn.kernels.fused_mfpsn_spikes`` (``run`` does not: it needs H), and ``stats="moments"`` uses
            the one-read kernel ``mfpsn.kernels.lagged_moments``.
        momentum, eps: BatchNorm running-statistics momentum (None = cumulative) and ε.
        bn_grad: let gradients flow through the batch statistics.
        shared_taps: one tap vector for every channel (``weight`` [1, k], for the channel-wise-vs-shared
            ablation); the BatchNorm (γ, β, statistics) stays per channel, so the folded taps ``W_q`` still differ
            per channel by the gain g. Default False: the paper's channel-wise taps.
        stats: ``"materialize"`` or ``"moments"`` (pass-1 statistics without forming Y).
        step_mode: ``"m"`` (``forward`` takes ``[T, B, C, *]``) or ``"s"`` (``forward`` is :meth:`step`, eval
            only), as SpikingJelly's ``step_mode``; settable later (``layer.step_mode = "s"``).

    ``torch.fx.symbolic_trace`` (eval mode): the graph holds one ``mfpsn_spikes`` call with the folded taps and
    thresholds as constants taken at trace time (retrace after changing the weights); training mode and
    ``run`` are not traceable (RuntimeError / the batch statistics are data-dependent). Differences from
    SpikingJelly and snnTorch (state, threshold ≥, reset): :mod:`mfpsn.neurons.base`.

    Shapes: ``x: [T, B, C, *]`` float → spikes ``[T, B, C, *]`` in x's dtype, exactly 0 or 1.
    Parameters: ``weight`` [C, k] ([1, k] with ``shared_taps``), ``bn_weight`` γ [C] (init 1), ``bn_bias`` β [C] (init −1).
    Buffers: ``running_mean`` [C] (init 0), ``running_var`` [C] (init 1), ``num_batches_tracked``.
    """

    #: the values the ``backend`` knob takes: every backend record implementing the filter, and ``"auto"``
    supported_backends = FILTER_BACKENDS

    def __init__(self, channels: int, order: int = 2, dilation: int = 1, *, quantize: bool = True,
                 exp_min: int | None = None, exp_max: int | None = None, ste: str = "whole",
                 surrogate: str | Surrogate = "atan", alpha: float | None = None, backend: str = "auto",
                 momentum: float | None = 0.1, eps: float = 1e-5, bn_grad: bool = True,
                 stats: str = "materialize", step_mode: str = "m", shared_taps: bool = False) -> None:
        super().__init__()
        who = "MFPSN"
        self.channels = check_positive_int(channels, "channels", who)
        self.order = check_positive_int(order, "order k", who)
        self.dilation = check_positive_int(dilation, "dilation d", who)
        self.exp_min = check_optional_int(exp_min, "exp_min", who)
        self.exp_max = check_optional_int(exp_max, "exp_max", who)
        if exp_min is not None and exp_max is not None and exp_min > exp_max:
            raise ValueError(f"{who}: expected exp_min <= exp_max, found [{exp_min}, {exp_max}]")
        self.ste = check_choice(ste, "ste", _STES, who)
        self.backend = check_choice(backend, "backend", FILTER_BACKENDS, who)
        self.stats = check_choice(stats, "stats", STATS, who)
        self.momentum = None if momentum is None else check_unit_interval(momentum, "momentum", who)
        self.eps = check_positive_number(eps, "eps", who)
        self.quantize = bool(quantize)
        self.surrogate = get_surrogate(surrogate, alpha)
        self.bn_grad = bool(bn_grad)

        self.shared_taps = bool(shared_taps)
        self.weight = nn.Parameter(torch.empty(1 if self.shared_taps else self.channels, self.order))
        self.bn_weight = nn.Parameter(torch.empty(self.channels))
        self.bn_bias = nn.Parameter(torch.empty(self.channels))
        self.register_buffer("running_mean", torch.zeros(self.channels))
        self.register_buffer("running_var", torch.ones(self.channels))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self._fold_cache: tuple | None = None
        self._stream = StreamBuffer()
        self.step_mode = step_mode
        self.reset_parameters()

    # ------------------------------------------------------------------------------------------ parameters
    def reset_parameters(self) -> None:
        """W ~ U(−1/√k, 1/√k), γ = 1, β = −1, running mean 0, running variance 1."""
        bound = 1.0 / math.sqrt(self.order)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bn_weight.fill_(1.0)
            self.bn_bias.fill_(-1.0)
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def taps(self) -> torch.Tensor:
        """The unquantised taps per channel ``[C, k]`` (the shared row repeated with ``shared_taps``)."""
        return self.weight.expand(self.channels, self.order) if self.shared_taps else self.weight

    def _fold_inputs(self) -> tuple[torch.Tensor, ...]:
        return self.taps(), self.bn_weight, self.bn_bias, self.running_mean, self.running_var

    def _fold_key(self) -> tuple:
        tensors = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in self._fold_inputs())
        return tensors + (self.eps, self.quantize, self.exp_min, self.exp_max)

    def _compute_fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        w, gamma, beta, mean, var = self._fold_inputs()
        return mfpsn_fold(w, gamma, beta, mean, var, self.eps, self.quantize, self.exp_min, self.exp_max, self.ste,
                          self.backend)

    def _eval_fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W_q [C, k], θ [C]) from the running statistics: differentiable when autograd needs it, otherwise
        from the cache (recomputed when any input tensor changed)."""
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in self._fold_inputs())
        if needs_grad or torch.compiler.is_compiling():
            return self._compute_fold()
        key = self._fold_key()
        if self._fold_cache is None or self._fold_cache[0] != key:
            with torch.no_grad():
                taps, theta = self._compute_fold()
            self._fold_cache = (key, taps, theta)
        return self._fold_cache[1], self._fold_cache[2]

    @torch.no_grad()
    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval values ``(taps_q [C, k], theta [C])`` folded from the running statistics (copies; no gradient).
        With ``quantize=True`` every tap lies in {0} ∪ {±2^e}."""
        taps, theta = self._eval_fold()
        return taps.detach().clone(), theta.detach().clone()

    # ------------------------------------------------------------------------------------------ multi-step
    def _check(self, x: torch.Tensor) -> None:
        check_sequence(x, "MFPSN", channels=self.channels)

    def _train_forward(self, x: torch.Tensor, need_h: bool):
        n = x.numel() // self.channels
        if n <= 1:
            raise ValueError(f"MFPSN: training needs more than one value per channel (T·B·Π* > 1) for the batch "
                             f"statistics, found input shape {tuple(x.shape)}")
        out = mfpsn_train_forward(
            x, self.taps().contiguous(), self.bn_weight, self.bn_bias, dilation=self.dilation, eps=self.eps,
            surrogate=self.surrogate, quantize=self.quantize, exp_min=self.exp_min, exp_max=self.exp_max,
            ste=self.ste, backend=self.backend, stats=self.stats, bn_grad=self.bn_grad, need_h=need_h)
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        update_running_stats(self.running_mean, self.running_var, out.batch_mean, out.batch_var, n, factor)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [T, B, C, *] float → spikes [T, B, C, *] (two passes in training, one folded pass at eval);
        with ``step_mode="s"``, x: [B, C, *] → :meth:`step`."""
        if self.step_mode == "s":
            return self.step(x)
        if is_tracing(x):
            return self._traced_forward(x)
        self._check(x)
        if self.training:
            return self._train_forward(x, need_h=False).spikes
        taps, theta = self._eval_fold()
        return mfpsn_spikes(x, taps.to(x.dtype), theta.to(x.dtype), self.dilation, self.surrogate, self.backend)

    def _traced_forward(self, x: torch.fx.Proxy) -> torch.fx.Proxy:
        """torch.fx tracing: the eval forward as one ``mfpsn_spikes`` node, taps and θ folded now (constants)."""
        if self.training:
            raise RuntimeError("MFPSN: torch.fx tracing records the eval forward (training-mode BatchNorm "
                               "statistics update buffers from the data); call .eval() before tracing")
        with torch.no_grad():   # the real tensors, not the tracer's proxies of the parameters
            p, b = self._parameters, self._buffers
            taps, theta = fold_taps(p["weight"], p["bn_weight"], p["bn_bias"], b["running_mean"], b["running_var"],
                                    self.eps, self.quantize, self.exp_min, self.exp_max, self.ste)
        return mfpsn_spikes(x, taps, theta, self.dilation, self.surrogate, self.backend)

    def run(self, x: torch.Tensor) -> NeuronTrace:
        """x: [T, B, C, *] → NeuronTrace(spikes, h, v_th [1, 1, C, 1, ...]) with spikes == (h >= v_th).

        In training mode this is a training step (the running statistics are updated) and v_th is the
        batch threshold; at eval it is the folded threshold. Never the fused kernel (it returns no H).
        """
        self._check(x)
        if self.training:
            out = self._train_forward(x, need_h=True)
            return NeuronTrace(out.spikes, out.h, threshold_view(out.theta, x.dim()))
        taps, theta = self._eval_fold()
        theta = theta.to(x.dtype)
        spikes, h = mfpsn_trace(x, taps.to(x.dtype), theta, self.dilation, self.surrogate, self.backend)
        return NeuronTrace(spikes, h, threshold_view(theta, x.dim()))

    # ------------------------------------------------------------------------------------------ streaming
    @property
    def buffer_length(self) -> int:
        """(k − 1)·d + 1: inputs the streaming mode keeps."""
        return (self.order - 1) * self.dilation + 1

    def step(self, x_t: torch.Tensor) -> torch.Tensor:
        """Streaming single step (eval only): x_t: [B, C, *] → s_t [B, C, *], exactly 0 or 1.

        Keeps a ring buffer of the last (k − 1)·d + 1 inputs (zeros before the first step) until :meth:`reset`.
        """
        if self.training:
            raise RuntimeError("MFPSN.step: streaming runs in eval mode only (training-mode BatchNorm statistics "
                               "span the whole sequence, so they are not causal); call .eval() first")
        check_step_input(x_t, "MFPSN.step", channels=self.channels)
        with torch.no_grad():
            taps, theta = self._eval_fold()
        return self._stream.step(x_t, taps, theta, self.dilation, "MFPSN.step")

    def reset(self) -> None:
        """Forget the streaming buffer (the next ``step`` starts from zeros at t = 0)."""
        self._stream.reset()

    def extra_repr(self) -> str:
        return (f"{self.channels}, order={self.order}, dilation={self.dilation}, quantize={self.quantize}, "
                f"exp_range=[{self.exp_min}, {self.exp_max}], ste={self.ste!r}, surrogate={self.surrogate}, "
                f"backend={self.backend!r}, momentum={self.momentum}, eps={self.eps}, bn_grad={self.bn_grad}, "
                f"stats={self.stats!r}, step_mode={self.step_mode!r}, shared_taps={self.shared_taps}")
