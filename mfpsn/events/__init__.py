"""Event-camera and spike-train data: one event type, readers, writers, frames."""
from mfpsn.events.core import Events
from mfpsn.events.errors import EventFormatError

__all__ = ["Events", "EventFormatError"]
