"""How ``app.py`` is served: command-line flags, the queue, the theme and the launch options.

``python app.py [--host 127.0.0.1] [--port 7860] [--share] [--auth USER:PASS]``. Serving on anything but loopback
(or with ``--share``) without ``--auth`` prints a warning naming what is exposed (:func:`exposure_warning`). The app computes on the GPU when torch sees
one and on the CPU otherwise (:func:`compute_device`). At start-up :func:`warm_kernels` builds (first time on a
machine) and loads the fused CPU kernel in a background thread, so no request waits for that compile.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading

import gradio as gr
import torch

from mfpsn.app.limits import LIMITS, Limits
from mfpsn.functional import warmup

__all__ = ["SYSTEM_FONTS", "MONO_FONTS", "theme", "compute_device", "configure_queue", "launch_kwargs",
           "warm_kernels", "parse_args", "parse_auth", "exposure_warning", "LOOPBACK", "main"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Local font names only: the default theme would request Google Fonts, which fails offline.
SYSTEM_FONTS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif")
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts (nothing is fetched from the internet)."""
    return gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))


def compute_device() -> torch.device:
    """``cuda`` when torch sees a GPU, else ``cpu``; ``MFPSN_APP_DEVICE=cpu`` forces the CPU."""
    if os.environ.get("MFPSN_APP_DEVICE", "").lower() == "cpu":
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_queue(demo: gr.Blocks, limits: Limits = LIMITS) -> gr.Blocks:
    """At most ``limits.concurrency`` requests run at once per event; the queue holds ``limits.queue_size``."""
    return demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)


def launch_kwargs(limits: Limits = LIMITS) -> dict:
    """Keyword arguments of ``demo.launch`` shared by ``app.py``, the tests and the load test."""
    return dict(theme=theme(), max_file_size=f"{limits.max_upload_mb}mb", ssr_mode=False,
                footer_links=["api", "settings"], show_error=False, state_session_capacity=limits.max_sessions)


def warm_kernels() -> threading.Thread:
    """Start building and loading the fused CPU kernel in a daemon thread (:func:`mfpsn.functional.warmup`) and
    return the thread. Without it the first speed race with ``MFPSN (fused)`` waits for the compile (about a
    second, more on a busy machine), and ``backend="auto"`` leaves ``fused`` out until the library is loaded.
    Without a C++ compiler the thread ends, printing its error; ``fused`` then stays unavailable and raises that
    error when asked for."""
    return warmup(background=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the mfpsn web explorer.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; "
                                                            "0.0.0.0 serves the whole network)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link "
                                                             "(needs internet access)")
    parser.add_argument("--auth", default=None, metavar="USER:PASS",
                        help="require this user name and password (Gradio's login page); recommended with any "
                             "--host other than 127.0.0.1 and with --share")
    args = parser.parse_args(argv)
    if args.auth is not None:
        try:
            parse_auth(args.auth)
        except ValueError as exc:
            parser.error(str(exc))
    return args


def parse_auth(text: str) -> tuple[str, str]:
    """``"user:pass"`` -> ``("user", "pass")``; ValueError unless both parts are non-empty."""
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth: expected USER:PASS with a non-empty user name and password")
    return user, password


def exposure_warning(host: str, share: bool, auth: str | None, limits: Limits = LIMITS) -> str | None:
    """The warning printed when the app is reachable beyond this machine without a password, else None."""
    if auth is not None or (host in LOOPBACK and not share):
        return None
    where = "a public gradio.live link" if share else f"every network interface of {host!r}"
    return (f"WARNING: serving on {where} WITHOUT a password (--auth USER:PASS). Anyone who can reach it can "
            f"upload files (up to {limits.max_upload_mb} MB each, kept {limits.upload_ttl_s} s), run the four API "
            "endpoints /neuron_lab, /load_events, /run_model and /speed_race (CPU time up to the per-request "
            "budgets) and read the bundled samples, model cards and results. Pass --auth, or serve on 127.0.0.1.")


def main(demo: gr.Blocks, argv: list[str] | None = None) -> None:
    """Parse the flags, set up the queue and serve ``demo`` until interrupted."""
    args = parse_args(argv)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    print(f"mfpsn explorer: computing on {compute_device()}")
    warning = exposure_warning(args.host, args.share, args.auth)
    if warning:
        print(warning, file=sys.stderr)
    warm_kernels()
    auth = parse_auth(args.auth) if args.auth is not None else None
    configure_queue(demo).launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth,
                                 **launch_kwargs())
