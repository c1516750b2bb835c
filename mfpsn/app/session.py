"""Event-explorer callbacks that keep the loaded recording in the app's :class:`RecordingStore` and only its key in
the browser session (``gr.State``), so a session holds a 22-character string, not the recording.

``EventsSession(store, limits, checkpoints)`` (the app's :class:`CheckpointCache`) gives the callbacks ``app.py`` wires: ``reset`` (runs before every load: forgets the
previous recording and clears its plots and every model result computed for it), ``load`` (the ``load_events``
endpoint: summary, plots, the key, the frame-slider update), ``run`` (the models on the recording the plots show),
``reload`` (a new SHD sample index, format or sensor size for
the file already chosen), ``show_frame``, ``rebin`` and ``suggest``. A key that the store has
evicted or expired draws a figure asking to load the recording again.
"""
from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go

from mfpsn.app import events_view, models_view
from mfpsn.app import figures_events as fe
from mfpsn.app.checkpoint_cache import CheckpointCache
from mfpsn.app.limits import LIMITS, Limits
from mfpsn.app.store import RecordingStore

__all__ = ["EventsSession"]


class EventsSession:
    """Callbacks bound to one app's recording store."""

    def __init__(self, store: RecordingStore, limits: Limits = LIMITS, checkpoints: CheckpointCache | None = None
                 ) -> None:
        self.store, self.limits, self.checkpoints = store, limits, checkpoints

    def reset(self, key: str | None):
        """Forget the session's recording; blank load outputs followed by blank :func:`models_view.run_model`
        outputs."""
        self.store.discard(key)
        return (*events_view.cleared_recording(), *models_view.cleared_results())

    def load(self, upload: str | None = None, sample: str | None = None, shd_index: float = 0, n_bins: float = 20,
             fmt: str = events_view.DETECT, sensor: str | None = ""):
        """Read and plot the recording (see :func:`events_view.load_events`); keep it in the store, return its key."""
        summary, frame, cloud, rate, events, slider = events_view.load_events(upload, sample, shd_index, n_bins, fmt,
                                                                              sensor, self.limits)
        return summary, frame, cloud, rate, self.store.put(events), slider

    def reload(self, upload: str | None, sample: str | None, shd_index: float = 0, n_bins: float = 20,
               fmt: str = events_view.DETECT, sensor: str | None = ""):
        """:meth:`load` when a file is chosen (after a new SHD index, format or sensor size); nothing to do (the
        outputs stay blank) when none is."""
        if not upload and not sample:
            return events_view.cleared_recording()
        return self.load(upload, sample, shd_index, n_bins, fmt, sensor)

    def show_frame(self, key: str | None, n_bins: float, index: float) -> go.Figure:
        events = self.store.get(key)
        if events is None and key is not None:
            return fe.empty_figure("the recording was released (kept a few minutes after its last use): load it "
                                   "again")
        return events_view.show_frame(events, n_bins, index, self.limits)

    def rebin(self, key: str | None, n_bins: float):
        fig, slider = events_view.rebin(self.store.get(key), n_bins, self.limits)
        return fig, slider

    def run(self, key: str | None, left: str | None, right: str | None, neuron: float,
            window: str = models_view.WINDOWS[0], x0: float = 0, y0: float = 0):
        """:func:`models_view.run_on_recording` on the session's recording, the one its plots show; ``window``,
        ``x0``, ``y0``: where a camera model's input window sits on a bigger sensor."""
        events = self.store.get(key)
        if events is None:
            raise gr.Error("No recording loaded: upload a file or pick a bundled sample first" if key is None else
                           "the recording was released (kept a few minutes after its last use): load it again")
        return models_view.run_on_recording(events, left, right, neuron, cache=self.checkpoints, window=window,
                                            x0=x0, y0=y0)

    def suggest(self, key: str | None):
        return models_view.suggest_checkpoints(self.store.get(key))
