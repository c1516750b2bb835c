"""Limits the web app enforces on uploads and settings, and the checks that raise ``gr.Error``.

Every limit is shown in the UI next to the control it applies to, so a user learns it before hitting it.
A check that fails raises :class:`gradio.Error` with a message that names the setting, what was expected
and what was found; Gradio shows it as a red toast and the app keeps serving.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import gradio as gr

__all__ = ["Limits", "LIMITS", "check_int", "check_float", "check_choice", "check_upload"]


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one request.

    Attributes:
        max_upload_mb: largest accepted upload (Gradio refuses bigger files before they reach a callback).
        max_events: largest number of events read from one recording.
        lab_max_T: longest input sequence of the neuron lab.
        lab_max_channels: most channels of an uploaded lab sequence.
        lab_max_order: largest order k in the neuron lab.
        lab_max_dilation: largest dilation in the neuron lab.
        scatter_points: points drawn in the x-y-t scatter (the stream is subsampled evenly above that).
        frame_max_side: frames wider or taller than this are pooled down for display.
        max_frames: most time bins in the frame viewer.
        race_max_T: longest T in the speed race.
        race_max_elements: largest T·N in one speed-race measurement (bounds memory and time).
        race_max_points: most T values in one race.
        concurrency: requests served at once (the queue holds the rest).
        queue_size: requests the queue holds before refusing new ones.
        lab_max_upload_kb: largest lab sequence file (checked before it is parsed; 4096 x 16 numbers fit).
        lab_max_work: most elements one neuron-lab request may touch (:func:`mfpsn.app.budget.lab_cost`).
        race_max_seconds: largest estimated duration of one speed race (:func:`mfpsn.app.budget.race_cost_s`).
        frame_max_bytes: most bytes the frames of one model input or frame view may take.
        store_max_items, store_max_bytes: recordings kept server-side (:class:`mfpsn.app.store.RecordingStore`).
        session_ttl_s: seconds a session's state and a kept recording live after their last use.
        checkpoint_cache_items: verified checkpoints kept loaded (:class:`mfpsn.app.checkpoint_cache.CheckpointCache`).
        plot_max_points: most points one line of a lab figure sends to the browser (longer ones are thinned,
            :mod:`mfpsn.app.decimate`).
        upload_ttl_s: seconds an uploaded file is kept (``delete_cache``); the sweep runs every
            ``cache_sweep_s`` seconds.
        max_sessions: most sessions whose state the server keeps (Gradio's ``state_session_capacity``).
    """

    max_upload_mb: int = 50
    max_events: int = 2_000_000
    lab_max_T: int = 4096
    lab_max_channels: int = 16
    lab_max_order: int = 16
    lab_max_dilation: int = 64
    scatter_points: int = 20_000
    frame_max_side: int = 256
    max_frames: int = 200
    race_max_T: int = 4096
    race_max_elements: int = 1 << 22
    race_max_points: int = 8
    concurrency: int = 2
    queue_size: int = 64
    lab_max_upload_kb: int = 4096
    lab_max_work: int = 1 << 27
    race_max_seconds: float = 20.0
    frame_max_bytes: int = 256 << 20
    store_max_items: int = 16
    checkpoint_cache_items: int = 8
    store_max_bytes: int = 256 << 20
    session_ttl_s: int = 300
    plot_max_points: int = 1500
    upload_ttl_s: int = 300
    cache_sweep_s: int = 60
    max_sessions: int = 256

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


LIMITS = Limits()


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]``; otherwise ``gr.Error`` naming ``name``."""
    try:
        v = float(value)  # sliders and numbers arrive as float or int
    except (TypeError, ValueError):
        raise gr.Error(f"{name}: expected an integer in [{lo}, {hi}], found {value!r}") from None
    if v != int(v) or not lo <= v <= hi:
        raise gr.Error(f"{name}: expected an integer in [{lo}, {hi}], found {value!r}")
    return int(v)


def check_float(name: str, value: object, lo: float, hi: float) -> float:
    """``value`` as a finite float in ``[lo, hi]``; otherwise ``gr.Error`` naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name}: expected a number in [{lo}, {hi}], found {value!r}") from None
    if not lo <= v <= hi:  # also false for NaN
        raise gr.Error(f"{name}: expected a number in [{lo}, {hi}], found {value!r}")
    return v


def check_choice(name: str, value: object, choices: tuple[str, ...] | list[str]) -> str:
    """``value`` if it is one of ``choices``; otherwise ``gr.Error`` listing them."""
    if value not in choices:
        raise gr.Error(f"{name}: expected one of {list(choices)}, found {value!r}")
    return str(value)


def check_upload(name: str, path: object, limits: Limits = LIMITS) -> str:
    """An uploaded file path that exists and is within the size limit; otherwise ``gr.Error``."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise gr.Error(f"{name}: expected an uploaded file, found {path!r}")
    size = os.path.getsize(path)
    if size > limits.max_upload_bytes:
        raise gr.Error(f"{name}: the file is {size / 2**20:.1f} MB, the limit is {limits.max_upload_mb} MB")
    if size == 0:
        raise gr.Error(f"{name}: the file is empty (0 bytes)")
    return str(path)
