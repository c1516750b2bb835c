"""Interop with the libraries users already have: tonic's event arrays and transforms, SpikingJelly's and
snnTorch's surrogates and neurons, torch.fx tracing, SpikingJelly's ``step_mode`` switch.

Tests against a peer library skip with a reason when it is not installed (``pip install .[peers]``).
"""
from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
import torch
import torch.fx

from mfpsn.events.core import COMPACT_DTYPE, TONIC_DTYPE, Events
from mfpsn.events.frames import events_to_frames
from mfpsn.functional.surrogate import ATan, CallableSurrogate, get_surrogate
from mfpsn.neurons import LIF, MFPSN, PLIF, PSN, MaskedPSN, SlidingPSN


def _needs(name: str):
    return pytest.mark.skipif(importlib.util.find_spec(name) is None,
                              reason=f"{name} is not installed (pip install .[peers])")


def _events(n: int = 2000, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    return Events(np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 34, n), rng.integers(0, 34, n),
                  rng.integers(0, 2, n), 34, 34)


def _same(a: Events, b: Events) -> None:
    for k in "txyp":
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.sensor_size == b.sensor_size


# --------------------------------------------------------------------------------------------- Events
def test_structured_round_trip_and_layouts():
    e = _events()
    for layout, dtype in (("tonic", TONIC_DTYPE), ("compact", COMPACT_DTYPE)):
        arr = e.to_structured(layout)
        assert arr.dtype == dtype and arr.shape == (len(e),)
        _same(Events.from_structured(arr, (34, 34, 2)), e)
    assert e.to_structured().dtype == TONIC_DTYPE
    with pytest.raises(ValueError, match="expected layout"):
        e.to_structured("spikingjelly")


def test_from_structured_accepts_other_layouts_and_refuses_bad_ones():
    e = _events(50)
    as_dict = {"t": e.t.astype(np.float64), "x": e.x, "y": e.y, "p": np.where(e.p > 0, 1, -1)}  # ±1, float t
    _same(Events.from_structured(as_dict, (34, 34)), e)
    shuffled = e.to_structured()[::-1]
    back = Events.from_structured(shuffled, (34, 34, 2))
    assert back.meta["sorted"] and np.all(np.diff(back.t) >= 0)
    train = np.zeros(3, dtype=[("t", "<i8"), ("x", "<i8"), ("p", "<i8")])
    train["t"], train["x"], train["p"] = [0, 5, 9], [3, 699, 0], 1
    spikes = Events.from_structured(train, (700, 1, 1))
    assert spikes.sensor_size == (700, 1) and list(spikes.y) == [0, 0, 0]
    with pytest.raises(ValueError, match="missing"):
        Events.from_structured(np.zeros(3, dtype=[("t", "<i8"), ("x", "<i8")]), (4, 4))
    with pytest.raises(ValueError, match="0 <= x < 34"):
        Events.from_structured(dict(as_dict, x=e.x.astype(np.int64) + 70_000), (34, 34))
    with pytest.raises(ValueError, match="whole numbers"):
        Events.from_structured(dict(as_dict, t=as_dict["t"] + 0.5), (34, 34))
    with pytest.raises(ValueError, match="sensor_size"):
        Events.from_structured(as_dict, "34x34")


def test_events_to_frames_takes_a_structured_array():
    e = _events()
    want = events_to_frames(e, n_bins=5)
    np.testing.assert_array_equal(events_to_frames(e.to_structured(), n_bins=5, sensor_size=(34, 34, 2)), want)
    inferred = events_to_frames(e.to_structured(), n_bins=5)        # sensor from the coordinates
    assert inferred.shape[2:] == (int(e.y.max()) + 1, int(e.x.max()) + 1)
    with pytest.raises(ValueError, match="sensor_size"):
        events_to_frames(e, n_bins=5, sensor_size=(10, 10))


@_needs("tonic")
def test_tonic_arrays_in():
    import tonic

    e = _events(300)
    ev = tonic.io.make_structured_array(e.x, e.y, e.t, e.p.astype(bool))          # tonic's reader dtype
    _same(Events.from_structured(ev, tonic.datasets.NMNIST.sensor_size), e)
    nm = tonic.io.make_structured_array(e.x, e.y, e.t, e.p, dtype=tonic.datasets.NMNIST.dtype)
    _same(Events.from_structured(nm, tonic.datasets.NMNIST.sensor_size), e)
    np.testing.assert_array_equal(events_to_frames(ev, n_bins=4, sensor_size=(34, 34, 2)),
                                  events_to_frames(e, n_bins=4))
    assert TONIC_DTYPE == tonic.datasets.NMNIST.dtype


def _tonic_transforms(S):
    import tonic.transforms as T

    return {
        "CenterCrop": T.CenterCrop(S, 20), "CropTime": T.CropTime(0, 50_000), "Decimation": T.Decimation(2),
        "Denoise": T.Denoise(1000), "Downsample": T.Downsample(time_factor=0.5, spatial_factor=0.5),
        "DropEvent": T.DropEvent(0.3), "EventDrop": T.EventDrop(S), "DropEventByArea": T.DropEventByArea(S), "DropEventByTime": T.DropEventByTime(),
        "DropPixel": T.DropPixel(coordinates=[(1, 1)]),
        "EventDownsampling": T.EventDownsampling(S, (17, 17), "integrator", noise_threshold=2, dt=1000),
        "MergePolarities": T.MergePolarities(), "NumpyAsType": T.NumpyAsType(int),
        "RandomCrop": T.RandomCrop(S, (20, 20)), "RandomDropPixel": T.RandomDropPixel(p=0.1, sensor_size=S),
        "RandomFlipLR": T.RandomFlipLR(S, p=1.0), "RandomFlipPolarity": T.RandomFlipPolarity(p=1.0),
        "RandomFlipUD": T.RandomFlipUD(S, p=1.0), "RandomTimeReversal": T.RandomTimeReversal(p=1.0),
        "RefractoryPeriod": T.RefractoryPeriod(1000), "SpatialJitter": T.SpatialJitter(S, clip_outliers=True),
        "TimeAlignment": T.TimeAlignment(), "TimeJitter": T.TimeJitter(std=10, clip_negative=True),
        "TimeSkew": T.TimeSkew(coefficient=1.1), "ToAveragedTimesurface": T.ToAveragedTimesurface(S),
        "ToBinaRep": T.Compose([T.ToFrame(S, n_time_bins=4), T.ToBinaRep(n_frames=2, n_bits=2)]),
        "ToFrame": T.ToFrame(S, n_time_bins=4), "ToImage": T.ToImage(S),
        "ToSparseTensor": T.ToSparseTensor(S, n_time_bins=4), "ToTimesurface": T.ToTimesurface(S, dt=10000, tau=5000),
        "ToVoxelGrid": T.ToVoxelGrid(S, n_time_bins=4), "UniformNoise": T.UniformNoise(S, 10),
    }


@_needs("tonic")
def test_every_tonic_transform_takes_to_structured():
    import tonic.transforms as T

    e = _events()
    S = (34, 34, 2)
    transforms = _tonic_transforms(S)
    assert set(transforms) >= {n for n in dir(T) if n[:1].isupper() and n not in
                               ("Callable", "Compose", "Iterable", "Repeat", "ToOneHotEncoding")}
    failed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, transform in transforms.items():
            try:
                transform(e.to_structured())
            except Exception as exc:  # collect them all, then report
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not failed, failed
    grid = T.ToVoxelGrid(S, n_time_bins=4)(e.to_structured())
    assert grid.min() < 0 < grid.max()                        # OFF events counted as −1, ON as +1
    arr = e.to_structured()
    T.ToVoxelGrid(S, n_time_bins=4)(arr)                      # it writes p = −1 into its input ...
    _same(Events.from_structured(arr, S), e)                  # ... which still reads back as OFF


# --------------------------------------------------------------------------------------------- surrogates
def _foreign_surrogates():
    out = []
    if importlib.util.find_spec("spikingjelly") is not None:
        from spikingjelly.activation_based import surrogate as sj

        out.append(pytest.param(sj.ATan(alpha=2.0), id="spikingjelly.ATan"))
    else:
        out.append(pytest.param(None, id="spikingjelly", marks=pytest.mark.skip(reason="spikingjelly is not installed")))
    if importlib.util.find_spec("snntorch") is not None:
        from snntorch import surrogate as snn

        out.append(pytest.param(snn.atan(alpha=2.0), id="snntorch.atan"))
    else:
        out.append(pytest.param(None, id="snntorch", marks=pytest.mark.skip(reason="snntorch is not installed")))
    return out


@pytest.mark.parametrize("fn", _foreign_surrogates())
def test_foreign_surrogates_are_accepted_with_the_same_gradient(fn):
    s = get_surrogate(fn)
    assert isinstance(s, CallableSurrogate)
    u = torch.linspace(-2, 2, 41, dtype=torch.float64)
    u = u[u != 0]                                             # snnTorch fires at u > 0, we at u >= 0
    torch.testing.assert_close(s(u), ATan(2.0)(u))
    torch.testing.assert_close(s.derivative(u), ATan(2.0).derivative(u))
    torch.manual_seed(0)
    x = torch.randn(12, 3, 5, dtype=torch.float64)
    grads = []
    for surrogate in (fn, "atan"):
        torch.manual_seed(1)
        layer = MFPSN(5, order=3, dilation=2, surrogate=surrogate, backend="conv1d").double()
        xg = x.clone().requires_grad_(True)
        layer(xg).sum().backward()
        grads.append((xg.grad, layer.weight.grad))
    torch.testing.assert_close(grads[0], grads[1])
    lif = LIF(surrogate=fn)
    lif(x.requires_grad_(True)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_bad_callables_are_refused():
    with pytest.raises(ValueError, match="spikes in \\{0, 1\\}"):
        get_surrogate(torch.sigmoid)
    with pytest.raises(ValueError, match="failed on a test tensor"):
        get_surrogate(lambda u: u.no_such_method())
    with pytest.raises(ValueError, match="alpha"):
        get_surrogate(lambda u: ATan()(u), alpha=3.0)


@_needs("spikingjelly")
def test_lif_matches_spikingjelly_lifnode_multistep():
    from spikingjelly.activation_based import functional, neuron

    torch.manual_seed(0)
    x = torch.rand(20, 4, 7) * 2.0
    theirs = neuron.LIFNode(tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True, step_mode="m")
    ours = LIF(tau=2.0, v_th=1.0, v_reset=0.0, decay_input=True)
    torch.testing.assert_close(ours(x), theirs(x))
    functional.reset_net(theirs)                              # theirs continues from v otherwise; ours is stateless
    torch.testing.assert_close(ours(x), theirs(x))
    soft_theirs = neuron.LIFNode(tau=2.0, v_reset=None, step_mode="m")
    torch.testing.assert_close(LIF(tau=2.0, v_reset=None)(x), soft_theirs(x))


# --------------------------------------------------------------------------------------------- torch.fx
def test_fx_traces_mfpsn_in_eval_mode():
    torch.manual_seed(0)
    layer = MFPSN(6, order=3, dilation=2)
    layer.train()
    layer(torch.randn(9, 4, 6))                               # move the running statistics
    layer.eval()
    net = torch.nn.Sequential(torch.nn.Linear(5, 6), layer)
    graph = torch.fx.symbolic_trace(net)
    assert any(n.op == "call_function" and "mfpsn_spikes" in str(n.target) for n in graph.graph.nodes)
    x = torch.randn(9, 3, 5)
    torch.testing.assert_close(graph(x), net(x))
    with pytest.raises(RuntimeError, match="call .eval"):
        torch.fx.symbolic_trace(MFPSN(6).train())


# --------------------------------------------------------------------------------------------- step_mode
def _single_step_neurons():
    masked = MaskedPSN(3, 10, lambda_init=1.0)
    return [MFPSN(5, order=3, dilation=2).eval(), LIF(), PLIF(), SlidingPSN(3), masked]


@pytest.mark.parametrize("neuron", _single_step_neurons(), ids=lambda n: type(n).__name__)
def test_step_mode_s_loop_equals_multistep(neuron):
    x = torch.randn(10, 2, 5) * 2
    with torch.no_grad():
        multi = neuron(x)
        neuron.step_mode = "s"
        neuron.reset()
        single = torch.stack([neuron(x[t]) for t in range(x.shape[0])])
        neuron.step_mode = "m"
    torch.testing.assert_close(single, multi)


def test_step_mode_errors():
    with pytest.raises(ValueError, match="has no single-step mode"):
        PSN(8, step_mode="s")
    with pytest.raises(ValueError, match="expected step_mode"):
        LIF().step_mode = "multi"
    assert MFPSN(4, step_mode="s").step_mode == "s"
