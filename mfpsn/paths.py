"""Where the data folders next to the package are found: ``assets/``, ``checkpoints/``, ``results/``.

Only ``mfpsn`` is installed by ``pip install .``; the sample recordings (``assets/``), the shipped
checkpoints (``checkpoints/``) and the recorded benchmark results (``results/``) stay in the repository.
:func:`data_dir` finds each one, in this order:

1. the environment variable ``MFPSN_<NAME>`` (``MFPSN_ASSETS``, ``MFPSN_CHECKPOINTS``, ``MFPSN_RESULTS``),
   a folder path, read at each call;
2. the repository checkout the package was imported from (``<repo>/mfpsn/`` → ``<repo>/<name>``), which is
   the case for a plain checkout and for ``pip install -e .``.

After a non-editable install outside the checkout the second path does not exist; set the variable to the
checkout's folder (``MFPSN_CHECKPOINTS=/path/to/mfpsn/checkpoints``) to use the shipped files. Callers treat
a missing folder as "nothing shipped" (the app lists no samples, ``mfpsn.checkpoints.load`` raises a
``CheckpointError`` naming the folder).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIRS", "REPO_ROOT", "data_dir"]

DATA_DIRS = ("assets", "checkpoints", "results")
REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """The folder ``name`` (one of :data:`DATA_DIRS`): ``$MFPSN_<NAME>`` if set, else ``<repo>/<name>``."""
    if name not in DATA_DIRS:
        raise ValueError(f"data_dir: expected one of {DATA_DIRS}, found {name!r}")
    override = os.environ.get(f"MFPSN_{name.upper()}")
    if override:
        return Path(override).expanduser().resolve()
    return REPO_ROOT / name
