"""What a client is told when a callback fails: a clean message, never the raw exception text.

:func:`clean_errors` wraps a callback: ``gr.Error`` (the app's own messages, which name the setting, what was
expected and what was found) passes unchanged; any other exception is logged server-side with its traceback under
a short reference, and the client gets ``gr.Error("internal error ... (reference R)")``. Launching with
``show_error=False`` keeps Gradio itself from forwarding exception text as well.
"""
from __future__ import annotations

import functools
import logging
import secrets
from typing import Callable, TypeVar

import gradio as gr

__all__ = ["clean_errors", "keep_outputs_on_error", "LOG"]

LOG = logging.getLogger("mfpsn.app")
F = TypeVar("F", bound=Callable)


def clean_errors(fn: F) -> F:
    """``fn`` with unexpected exceptions logged and replaced by a clean ``gr.Error`` (signature kept)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary between the app and its clients
            ref = secrets.token_hex(4)
            LOG.error("callback %s failed (reference %s)", getattr(fn, "__qualname__", fn), ref, exc_info=exc)
            what = "out of memory" if isinstance(exc, MemoryError) else "internal error"
            raise gr.Error(f"{what} while handling this request (reference {ref}); the server log has the "
                           "details") from None

    return wrapper  # type: ignore[return-value]


def keep_outputs_on_error(fn: F, n_outputs: int) -> F:
    """:func:`clean_errors` of ``fn`` for an event of the page: its message becomes a warning toast and the
    ``n_outputs`` outputs keep what they show (one bad setting must not replace every valid plot with an error
    badge). API endpoints keep raising (wire ``clean_errors(fn)`` there)."""
    cleaned = clean_errors(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return cleaned(*args, **kwargs)
        except gr.Error as exc:
            gr.Warning(exc.message)
            return tuple(gr.skip() for _ in range(n_outputs))

    return wrapper  # type: ignore[return-value]
