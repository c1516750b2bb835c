"""A checkpoint's input built from a file, following its model card: the one path from a user's file to
the tensor a shipped model sees (used by ``python -m mfpsn.predict`` and the app).

What a card's ``input`` section selects:

- ``transform.name == "pixel_sequence"`` (sMNIST, psMNIST, sFashion): an image (``.png``, ``.jpg``,
  ``.jpeg``, ``.bmp``, ``.gif``, or a 2-D ``.npy`` array). A 28x28 grayscale image is taken as it is
  (white digit on black, as in MNIST; float arrays in [0, 1] are scaled to 0..255); any other size or
  colour goes through :func:`mfpsn.data.pixels.image_to_mnist` (MNIST's own normalisation).
- ``transform.name == "cochlea"`` (FSDD): a ``.wav`` recording (any rate, any channels) through the card's
  :class:`mfpsn.data.speech.SpeechFront` (cochlea noise seed 0), or a spike-train file (SHD layout) binned as
  the card says.
- ``events_transform`` (a :class:`mfpsn.events.ToFrames` or :class:`mfpsn.events.ToSpikeBins` in its JSON form,
  the object training binned with), or in cards written before it the equivalent ``binning.method``
  ``events_to_frames …`` / ``spike_train_to_bins …`` (:func:`events_transform` reads both): an event or
  spike-train file read by :func:`mfpsn.events.read_events`, binned by that transform.

Every function returns ``x: [T, 1, ...]`` float32 (time-first, batch of one) and raises
:class:`CardInputError` (a ``ValueError`` naming the file, what the checkpoint expects and what was found).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["CardInputError", "IMAGE_SUFFIXES", "AUDIO_SUFFIXES", "input_kind", "image_input", "audio_input",
           "events_input", "events_transform", "file_input",
           "read_image", "fit_sensor", "fitted_frames", "window_origin", "InputWindow", "input_window"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
AUDIO_SUFFIXES = (".wav",)
MAX_IMAGE_PIXELS = 4096 * 4096
FRAME_MAX_BYTES = 256 << 20  # the app's limit too (mfpsn.app.limits.Limits.frame_max_bytes)


class CardInputError(ValueError):
    """The file cannot become this checkpoint's input; the message names the file and the reason."""


def input_kind(card: dict[str, Any]) -> str:
    """``"image"``, ``"events"`` or ``"audio"``: what kind of file the card's model takes."""
    spec = card.get("input", {})
    if spec.get("transform", {}).get("name") == "pixel_sequence":
        return "image"
    if spec.get("transform", {}).get("name") == "cochlea":
        return "audio"
    method = str(spec.get("binning", {}).get("method", ""))
    if "events_transform" in spec or method.startswith(("events_to_frames", "spike_train_to_bins")):
        return "events"
    raise CardInputError(f"checkpoint {card.get('name')!r}: its input ({method or 'unknown'}) cannot be built "
                         f"from a file")


def events_transform(card: dict[str, Any]):
    """The :class:`~mfpsn.events.ToFrames` / :class:`~mfpsn.events.ToSpikeBins` that bins a recording for this
    card's model: ``input.events_transform``, or for older cards the same object rebuilt from ``input.binning``
    (``events_to_frames n_bins`` with ``time_range_us`` a list relative to the first event or the recording's own
    span; ``spike_train_to_bins`` with ``n_bins``, ``bin_us``, ``pool``, ``t_start_us`` over 700 units).
    Raises :class:`CardInputError` when the card's input is not built from events."""
    from mfpsn.events.frames import ToFrames, ToSpikeBins

    spec = card.get("input", {})
    name = card.get("name")
    if "events_transform" in spec:
        d = spec["events_transform"]
        kinds = {ToFrames.NAME: ToFrames, ToSpikeBins.NAME: ToSpikeBins}
        kind = kinds.get(d.get("name") if isinstance(d, dict) else None)
        if kind is None:
            raise CardInputError(f"checkpoint {name!r}: events_transform names {str(d)[:60]}, expected one of "
                                 f"{sorted(kinds)}")
        try:
            return kind.from_dict(d)
        except ValueError as exc:
            raise CardInputError(f"checkpoint {name!r}: {exc}") from None
    binning = spec.get("binning", {})
    method = str(binning.get("method", ""))
    if method.startswith("spike_train_to_bins"):
        return ToSpikeBins(n_bins=int(binning["n_bins"]), bin_us=int(binning.get("bin_us", 10_000)), n_units=700,
                           pool=int(binning.get("pool", 1)), t_start=int(binning.get("t_start_us", 0)))
    if method.startswith("events_to_frames"):
        rng = binning.get("time_range_us")
        return ToFrames(n_bins=int(binning["n_bins"]), time_range=tuple(rng) if isinstance(rng, list) else None,
                        time_range_from_first=isinstance(rng, list))
    raise CardInputError(f"checkpoint {name!r}: its input binning {method or 'unknown'!r} cannot be built from "
                         "event files")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file or a 2-D/3-D ``.npy`` array as a numpy array (``[H, W]`` or ``[H, W, C]``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CardInputError(f"{path}: expected a .npy image array, found an unreadable file ({exc})") from None
        if a.ndim not in (2, 3) or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise CardInputError(f"{path}: expected a numeric [H, W] or [H, W, C] array, found "
                                 f"{a.dtype} {list(a.shape)}")
        return a
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise CardInputError(f"{path}: expected at most {MAX_IMAGE_PIXELS} pixels, found "
                                     f"{im.width}x{im.height}")
            im = im.convert("RGBA") if im.mode in ("RGBA", "LA", "P") else im.convert("L")
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise CardInputError(f"{path}: expected an image ({', '.join(IMAGE_SUFFIXES)}), found a file PIL cannot "
                             f"decode ({type(exc).__name__})") from None


def image_input(image: np.ndarray, card: dict[str, Any]) -> torch.Tensor:
    """``image`` → ``[784, 1, 1]`` through the card's pixel-sequence transform."""
    from mfpsn.data.pixels import SIDE, PixelSequence, image_to_mnist

    transform = PixelSequence.from_dict(card["input"]["transform"])
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.shape == (SIDE, SIDE):
        if a.dtype != np.uint8:
            a = a.astype(np.float64)
            a = a * 255.0 if a.max(initial=0.0) <= 1.0 else a
            a = np.clip(np.round(a), 0, 255).astype(np.uint8)
        digit = a
    else:
        digit = image_to_mnist(a)
    return transform(digit[None]).transpose(0, 1).contiguous()


def audio_input(audio: np.ndarray, sample_rate: int, card: dict[str, Any]) -> torch.Tensor:
    """A waveform ``audio [S]`` at ``sample_rate`` Hz → ``[T, 1, features]`` through the card's speech front end."""
    from mfpsn.data.speech import SpeechFront

    front = SpeechFront.from_dict(card["input"]["transform"])
    a = np.asarray(audio, dtype=np.float64)
    if a.ndim == 2:  # [S, channels] as a microphone hands it over
        a = a.mean(axis=1)
    if a.ndim != 1 or a.size == 0:
        raise CardInputError(f"checkpoint {card.get('name')!r} takes a non-empty mono waveform; found shape "
                             f"{list(a.shape)}")
    if not np.all(np.isfinite(a)):
        raise CardInputError(f"checkpoint {card.get('name')!r}: the waveform holds NaN or infinite samples")
    return torch.from_numpy(front(a, int(sample_rate), seed=0)).unsqueeze(1)


def events_input(events, card: dict[str, Any], notes: list[str] | None = None, *,
                 max_bytes: int = FRAME_MAX_BYTES, origin: tuple[int, int] | str | None = None) -> torch.Tensor:
    """``events`` (:class:`mfpsn.events.Events`) → ``[T, 1, ...]`` binned by the card's :func:`events_transform`.
    A camera sensor of another size is cropped or zero-padded to the model's (:func:`fitted_frames`: the
    events are cropped before they are counted); ``origin`` picks the window: None = the centre one,
    ``"active"`` = the one holding the most events, ``(x0, y0)`` = at that sensor pixel. ``notes`` receives a
    sentence saying which part the model sees. ``max_bytes`` bounds the frames."""
    from mfpsn.events.frames import ToSpikeBins

    notes = [] if notes is None else notes
    spec = card["input"]
    transform = events_transform(card)
    if isinstance(transform, ToSpikeBins):
        if events.height != 1:
            raise CardInputError(f"checkpoint {card.get('name')!r} takes spike trains (height 1); the recording "
                                 f"is a {events.width}x{events.height} camera")
        return torch.from_numpy(transform(events)).unsqueeze(1)
    if events.height == 1:
        raise CardInputError(f"checkpoint {card.get('name')!r} takes camera events; the recording is a spike train")
    if len(events) == 0:
        raise CardInputError("the recording holds no events")
    h2, w2 = int(spec["shape"][-2]), int(spec["shape"][-1])
    frames = fitted_frames(events, transform, (h2, w2), notes, max_bytes=max_bytes, origin=origin)
    return torch.from_numpy(np.ascontiguousarray(frames)).unsqueeze(1)


def fit_sensor(frames: np.ndarray, size: tuple[int, int], notes: list[str]) -> np.ndarray:
    """Centre-crop or zero-pad ``frames [T, 2, H, W]`` to ``size = (H', W')``."""
    T, P, H, W = frames.shape
    h2, w2 = size
    if (H, W) == (h2, w2):
        return frames
    notes.append(f"the {W}×{H} sensor was centre-{'cropped' if H >= h2 and W >= w2 else 'fitted'} to the "
                 f"model's {w2}×{h2} input")
    out = np.zeros((T, P, h2, w2), dtype=frames.dtype)
    sy, sx = max(0, (H - h2) // 2), max(0, (W - w2) // 2)
    dy, dx = max(0, (h2 - H) // 2), max(0, (w2 - W) // 2)
    hh, ww = min(H, h2), min(W, w2)
    out[:, :, dy:dy + hh, dx:dx + ww] = frames[:, :, sy:sy + hh, sx:sx + ww]
    return out


def window_origin(events, size: tuple[int, int], origin: tuple[int, int] | str | None = None
                  ) -> tuple[int, int]:
    """Sensor pixel ``(x0, y0)`` of the model's ``size = (H', W')`` window on the sensor of ``events``: the centre
    (``origin=None``), the most active window (``"active"``, :func:`mfpsn.events.regions.most_active_window`) or
    ``origin`` itself, checked to keep the window on the sensor. Along an axis where the sensor is smaller than
    the window, the start is 0 (the sensor is centred on a zero canvas)."""
    from mfpsn.events.regions import most_active_window

    H, W = events.height, events.width
    h2, w2 = size
    hh, ww = min(H, h2), min(W, w2)
    if origin is None:
        return max(0, (W - w2) // 2), max(0, (H - h2) // 2)
    if origin == "active":
        return most_active_window(events, ww, hh)[:2]
    if isinstance(origin, str) or len(origin) != 2:
        raise CardInputError(f"model window: expected None (centre), 'active' or (x0, y0), found {origin!r}")
    x0, y0 = (int(v) for v in origin)
    if not (0 <= x0 <= W - ww and 0 <= y0 <= H - hh):
        raise CardInputError(f"model window: a {ww}×{hh} window at x0 = {x0}, y0 = {y0} leaves the {W}×{H} sensor; "
                             f"expected 0 <= x0 <= {W - ww} and 0 <= y0 <= {H - hh}")
    return x0, y0


@dataclass(frozen=True)
class InputWindow:
    """The part of a camera sensor a model of input ``size`` sees: sensor pixels x0 … x0 + width − 1,
    y0 … y0 + height − 1; ``keep`` [N] bool marks the events inside; ``sentence`` says it in words."""

    x0: int
    y0: int
    width: int
    height: int
    keep: np.ndarray
    sentence: str


def input_window(events, size: tuple[int, int], origin: tuple[int, int] | str | None = None) -> InputWindow:
    """The window :func:`fitted_frames` cuts from ``events`` for a model input ``size = (H', W')`` at ``origin``
    (None: the centre; ``"active"``: the most active window; ``(x0, y0)``); the whole sensor when it is the
    model's size."""
    H, W = events.height, events.width
    h2, w2 = size
    if (H, W) == (h2, w2):
        return InputWindow(0, 0, W, H, np.ones(len(events), dtype=bool), f"the whole {W}×{H} sensor")
    sx, sy = window_origin(events, size, origin)
    hh, ww = min(H, h2), min(W, w2)
    keep = (events.x >= sx) & (events.x < sx + ww) & (events.y >= sy) & (events.y < sy + hh)
    how = "centre-" if origin is None else "most-active-window " if origin == "active" else "window "
    sentence = (f"the {W}×{H} sensor was {how}{'cropped' if H >= h2 and W >= w2 else 'fitted'} to the "
                f"model's {w2}×{h2} input: it sees sensor x {sx}–{sx + ww - 1}, y {sy}–{sy + hh - 1} only, "
                f"{int(keep.sum()):,} of {len(events):,} events")
    return InputWindow(int(sx), int(sy), int(ww), int(hh), keep, sentence)


def fitted_frames(events, transform, size: tuple[int, int], notes: list[str], *, max_bytes: int = FRAME_MAX_BYTES,
                  origin: tuple[int, int] | str | None = None) -> np.ndarray:
    """``[T, 2, H', W']`` frames (``transform``: a :class:`~mfpsn.events.ToFrames`) of the ``size = (H', W')``
    window of the sensor at :func:`window_origin` (default: the centre; zero-padded where the sensor is smaller),
    binned on the whole recording's timing; the same as :func:`fit_sensor` of the full frames for the centre
    window, but the events are cropped *before* they are counted, so a header declaring a 65536 x 65536 sensor
    costs no more than the model's input."""
    from mfpsn.events import Events

    H, W = events.height, events.width
    h2, w2 = size
    if (H, W) == (h2, w2):
        return transform(events, max_bytes=max_bytes)
    transform = transform.for_recording(events)  # the window is binned on the recording's timing
    win = input_window(events, size, origin)
    notes.append(win.sentence)
    sx, sy, ww, hh, keep = win.x0, win.y0, win.width, win.height, win.keep
    dy, dx = max(0, (h2 - H) // 2), max(0, (w2 - W) // 2)
    window = Events(events.t[keep], events.x[keep] - sx, events.y[keep] - sy, events.p[keep], ww, hh)
    frames = transform(window, max_bytes=max_bytes)
    out = np.zeros((frames.shape[0], 2, h2, w2), dtype=frames.dtype)
    out[:, :, dy:dy + hh, dx:dx + ww] = frames
    return out


def file_input(path: str | os.PathLike, card: dict[str, Any], notes: list[str] | None = None) -> torch.Tensor:
    """The checkpoint input ``[T, 1, ...]`` for the file ``path`` (image, audio, event file), as the card says."""
    path = Path(path)
    kind = input_kind(card)
    suffix = path.suffix.lower()
    name = card.get("name")
    if kind == "image":
        if suffix not in IMAGE_SUFFIXES + (".npy",):
            raise CardInputError(f"{path}: checkpoint {name!r} (task {card.get('task')}) takes an image "
                                 f"({', '.join(IMAGE_SUFFIXES)} or a 2-D .npy); found a {suffix or 'suffix-less'} file")
        return image_input(read_image(path), card)
    if kind == "audio" and suffix in AUDIO_SUFFIXES:
        from mfpsn.data.wav import WavFormatError, read_wav

        try:
            audio, rate = read_wav(path)
        except WavFormatError as exc:
            raise CardInputError(str(exc)) from None
        return audio_input(audio, rate, card)
    if kind == "audio" and suffix in IMAGE_SUFFIXES:
        raise CardInputError(f"{path}: checkpoint {name!r} (task {card.get('task')}) takes a .wav recording or a "
                             f"spike-train file; found a {suffix} file")
    if kind != "audio" and suffix in IMAGE_SUFFIXES + AUDIO_SUFFIXES:
        raise CardInputError(f"{path}: checkpoint {name!r} (task {card.get('task')}) takes an event recording; "
                             f"found a {suffix} file")
    from mfpsn.events import EventFormatError, read_events

    try:
        events = read_events(path)
    except EventFormatError as exc:
        raise CardInputError(str(exc)) from None
    return events_input(events, card, notes)
