"""Event-camera and spike-train data: one event type, readers, writers, frames.

Reading: :func:`read_events` (format detection, limits, ordering policy); writing:
:func:`write_events` and the per-format writers; SHD-layout spike trains: :func:`write_shd_h5`,
:func:`shd_info`; DVS128 Gesture labels: :func:`read_gesture_labels`, :func:`cut_samples`;
representations: :func:`events_to_frames`, :func:`spike_train_to_bins`, :func:`denoise`.
"""
from mfpsn.events.core import Events
from mfpsn.events.denoise import Denoise, denoise
from mfpsn.events.errors import EventFormatError
from mfpsn.events.formats.aedat2 import write as write_aedat2
from mfpsn.events.formats.aedat31 import write as write_aedat31
from mfpsn.events.formats.dat import write as write_dat
from mfpsn.events.formats.evt2 import write as write_evt2
from mfpsn.events.formats.evt3 import write as write_evt3
from mfpsn.events.formats.nmnist import write as write_nmnist
from mfpsn.events.formats.npy import write_npy, write_npz
from mfpsn.events.formats.shd import shd_info, write_shd_h5
from mfpsn.events.frames import ToFrames, ToSpikeBins, events_to_frames, spike_train_to_bins
from mfpsn.events.gesture import cut_samples, read_labels as read_gesture_labels, write_labels as write_gesture_labels
from mfpsn.events.formats import FORMAT_REGISTRY, FormatRecord, FormatRegistry
from mfpsn.events.io import EXTENSIONS, FORMATS, WRITABLE, detect_format, read_events, write_events
from mfpsn.events.orientation import PRESETS as ORIENTATIONS, reorient

__all__ = [
    "Events", "EventFormatError", "FORMATS", "WRITABLE", "EXTENSIONS", "ORIENTATIONS",
    "FORMAT_REGISTRY", "FormatRecord", "FormatRegistry",
    "read_events", "write_events", "detect_format", "reorient",
    "write_nmnist", "write_aedat2", "write_aedat31", "write_evt2", "write_evt3", "write_dat",
    "write_npy", "write_npz", "write_shd_h5", "shd_info",
    "read_gesture_labels", "write_gesture_labels", "cut_samples",
    "events_to_frames", "spike_train_to_bins", "ToFrames", "ToSpikeBins", "denoise", "Denoise",
]
