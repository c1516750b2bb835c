"""What the benchmark times: the copy floor, every temporal-filter implementation, the MFPSN neuron and baselines,
and the serial LIFs users would pick instead (SpikingJelly, snnTorch, norse) where those packages are installed.

Legend: ``x: [T, B, C]`` input, ``gy: [T, B, C]`` the shared upstream gradient, ``taps: [C, k]``.

A :class:`Subject` builds two closures for one input: ``fwd()`` (run under ``torch.no_grad()``) and ``fwdbwd()``
(forward, then ``backward(gy)``; None where the subject has no backward). A subject that cannot run here (no
C++ compiler for the fused CPU kernel; no CUDA device, interpreter or Triton for the Triton kernels; a toeplitz
matrix too large) raises :class:`Unavailable` with the reason and is reported as skipped, never estimated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import torch

from mfpsn import neurons
from mfpsn.backends import BACKENDS, FILTER_BACKENDS, temporal_filter
from mfpsn.functional import buffer_cache

__all__ = ["Unavailable", "Subject", "Closures", "subjects_for", "FILTER_DEFAULT", "random_pow2_taps", "Peer", "PEERS", "PEER_NAMES"]

FILTER_DEFAULT = ("conv1d", "shift_add", "toeplitz", "blocked", "fused", "triton", "auto")

Closures = tuple[Callable[[], object], Optional[Callable[[], object]]]


class Unavailable(Exception):
    """This subject cannot run here; the message says why."""


@dataclass(frozen=True)
class Subject:
    """name: the row's ``backend`` field; build(x, gy, taps, d) -> (fwd, fwdbwd or None)."""

    name: str
    build: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], Closures]


def random_pow2_taps(C: int, k: int, generator: torch.Generator, device, dtype) -> torch.Tensor:
    """taps: [C, k] with values ±2^e, e ∈ {−4, …, 0} (as in the GPU anchors)."""
    e = torch.randint(-4, 1, (C, k), generator=generator).to(dtype)
    sign = torch.randint(0, 2, (C, k), generator=generator).to(dtype) * 2 - 1
    return (sign * torch.exp2(e)).to(device)


def _leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().requires_grad_()


def _module_closures(module: torch.nn.Module, x: torch.Tensor, gy: torch.Tensor, backward: bool) -> Closures:
    xg = _leaf(x)

    def fwd():
        with torch.no_grad():
            return module(x)

    def fwdbwd():
        xg.grad = None
        module.zero_grad(set_to_none=True)
        module(xg).backward(gy)

    return fwd, (fwdbwd if backward else None)


# ------------------------------------------------------------------------------------------ floors
def _copy(x, gy, taps, d) -> Closures:
    xg = _leaf(x)

    def fwd():
        with torch.no_grad():
            return x * 1.0

    def fwdbwd():
        xg.grad = None
        (xg * 1.0).backward(gy)

    return fwd, fwdbwd


def _copy_preallocated(x, gy, taps, d) -> Closures:
    """The copy floor as issue 14 defines it: x copied into one buffer allocated once (no fresh pages per call)."""
    out = torch.empty_like(x)

    def fwd():
        return out.copy_(x)

    return fwd, None


def _copy_kernel_allocator(x, gy, taps, d) -> Closures:
    """x copied into a fresh output from the native kernels' allocator (``buffer_cache.empty_like``: blocks reused
    after the last tensor using them dies): the floor for a kernel that writes a new tensor per call."""
    if x.device.type != "cpu":
        raise Unavailable("the kernel-allocator copy floor is measured on the CPU only")

    def fwd():
        return buffer_cache.empty_like(x).copy_(x)

    return fwd, None


def _runnable(name: str, op: str, x: torch.Tensor) -> None:
    """Unavailable with the reason unless backend ``name`` can run ``op`` on x here (its libraries built now,
    so that no timed call pays for a build); ``"auto"`` always runs."""
    if name == "auto":
        return
    r = BACKENDS.record(name, op)
    why = r.reason(x)
    if why is not None:
        raise Unavailable(f"{name}: {why}")
    if r.warmup is not None:
        try:
            r.warmup()
        except RuntimeError as err:
            raise Unavailable(str(err)) from err
    elif not r.ready():
        raise Unavailable(f"{name} cannot load here ({r.install_hint or 'not ready'})")


# ------------------------------------------------------------------------------------------ filters
def _filter(backend: str) -> Callable:
    def build(x, gy, taps, d) -> Closures:
        _runnable(backend, "filter", x)
        xg, wg = _leaf(x), _leaf(taps)

        def fwd():
            with torch.no_grad():
                return temporal_filter(x, taps, d, backend)

        def fwdbwd():
            xg.grad = wg.grad = None
            temporal_filter(xg, wg, d, backend).backward(gy)

        return fwd, fwdbwd

    return build


# ------------------------------------------------------------------------------------------ neurons
def _mfpsn(backend: str) -> Callable:
    def build(x, gy, taps, d) -> Closures:
        _runnable(backend, "spikes", x)
        module = neurons.MFPSN(x.shape[2], order=taps.shape[1], dilation=d, backend=backend).to(x.device, x.dtype).eval()
        return _module_closures(module, x, gy, backward=True)

    return build


def _mfpsn_train(backend: str) -> Callable:
    """MFPSN in training mode (two filter passes, BatchNorm-threshold statistics, running-stat update)."""
    def build(x, gy, taps, d) -> Closures:
        _runnable(backend, "spikes", x)
        module = neurons.MFPSN(x.shape[2], order=taps.shape[1], dilation=d, backend=backend).to(x.device, x.dtype).train()
        return _module_closures(module, x, gy, backward=True)

    return build


def _lif(backend: str) -> Callable:
    """LIF on a named backend (the loop, the fused CPU loop, the Triton kernel)."""
    def build(x, gy, taps, d) -> Closures:
        _runnable(backend, "lif", x)
        module = neurons.LIF(tau=2.0, v_th=1.0, v_reset=0.0, detach_reset=True, backend=backend).to(x.device)
        return _module_closures(module, x, gy, backward=True)

    return build


def _import_or_unavailable(module: str, package: str):
    try:
        return __import__(module, fromlist=["_"])
    except Exception as err:  # noqa: BLE001 - missing or broken optional package: skip with the reason
        raise Unavailable(f"{package} is not installed or does not import ({type(err).__name__}: {err})") from err


def _spikingjelly_lif(x, gy, taps, d) -> Closures:
    """SpikingJelly ``LIFNode(tau=2, step_mode='m', ATan)``, default backend (torch on the CPU), reset per call."""
    neuron = _import_or_unavailable("spikingjelly.activation_based.neuron", "spikingjelly")
    surrogate = _import_or_unavailable("spikingjelly.activation_based.surrogate", "spikingjelly")
    node = neuron.LIFNode(tau=2.0, step_mode="m", surrogate_function=surrogate.ATan()).to(x.device)

    class Reset(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.node = node

        def forward(self, inp):
            self.node.reset()
            return self.node(inp)

    return _module_closures(Reset(), x, gy, backward=True)


def _snntorch_leaky(x, gy, taps, d) -> Closures:
    """snnTorch ``Leaky(beta=0.5)`` (τ = 2), the documented Python loop over t with the stacked spikes."""
    snn = _import_or_unavailable("snntorch", "snntorch")
    leaky = snn.Leaky(beta=0.5).to(x.device)

    class Loop(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.leaky = leaky

        def forward(self, inp):
            mem = self.leaky.init_leaky()
            out = []
            for x_t in inp.unbind(0):
                spk, mem = self.leaky(x_t, mem)
                out.append(spk)
            return torch.stack(out)

    return _module_closures(Loop(), x, gy, backward=True)


def _norse_lif(x, gy, taps, d) -> Closures:
    """norse ``LIF()`` (its default parameters), the whole sequence in one call."""
    nt = _import_or_unavailable("norse.torch", "norse")
    lif = nt.LIF().to(x.device)

    class Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lif = lif

        def forward(self, inp):
            return self.lif(inp)[0]

    return _module_closures(Seq(), x, gy, backward=True)


class Peer(NamedTuple):
    """An optional peer library's LIF: the row name, its closure builder, the pip package it needs."""

    name: str
    build: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], Closures]
    package: str


PEERS = (Peer("SpikingJelly LIFNode", _spikingjelly_lif, "spikingjelly"),
         Peer("snnTorch Leaky", _snntorch_leaky, "snntorch"), Peer("norse LIF", _norse_lif, "norse"))
PEER_NAMES = tuple(p.name for p in PEERS)


def _psn(x, gy, taps, d) -> Closures:
    return _module_closures(neurons.PSN(x.shape[0]).to(x.device, x.dtype), x, gy, backward=True)


def _sliding_psn(x, gy, taps, d) -> Closures:
    return _module_closures(neurons.SlidingPSN(taps.shape[1]).to(x.device, x.dtype), x, gy, backward=True)


def subjects_for(filter_backends: list[str], mfpsn_backends: list[str], baselines: bool = True,
                 train_backends: tuple[str, ...] = (), peers: bool = False) -> list[Subject]:
    """The copy floors, the serial LIF loop (the ratios' reference), the filters, MFPSN rows (eval; training
    mode for ``train_backends``), baselines (the fused CPU LIF among them) and, with ``peers``, the other
    libraries' LIFs (skipped with a reason where not installed)."""
    for name in [*filter_backends, *mfpsn_backends]:
        if name not in FILTER_BACKENDS:
            raise ValueError(f"mfpsn.bench: expected backend names from {FILTER_BACKENDS}, found {name!r}")
    subjects = [Subject("copy", _copy), Subject("copy (preallocated)", _copy_preallocated),
                Subject("copy (kernel allocator)", _copy_kernel_allocator), Subject("LIF loop", _lif("loop"))]
    subjects += [Subject(f"filter {backend}", _filter(backend)) for backend in filter_backends]
    subjects += [Subject(f"MFPSN {backend}", _mfpsn(backend)) for backend in mfpsn_backends]
    subjects += [Subject(f"MFPSN train {backend}", _mfpsn_train(backend)) for backend in train_backends]
    if baselines:
        subjects += [Subject("LIF fused CPU", _lif("fused")), Subject("LIF fused", _lif("triton")),
                     Subject("PSN", _psn), Subject("SlidingPSN", _sliding_psn)]
    if peers:
        subjects += [Subject(peer.name, peer.build) for peer in PEERS]
    return subjects
