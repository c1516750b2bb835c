"""CIFAR-10 "python version" batches, read with a restricted unpickler and only on explicit opt-in.

The CIFAR-10 python batches (``data_batch_1`` … ``data_batch_5``, ``test_batch``) ARE pickles, and
unpickling runs code chosen by whoever wrote the file. This reader therefore refuses unless the
caller passes ``allow_pickle=True`` (``--allow-cifar-pickle`` on the command line), warns when it
does, and even then resolves only the globals a CIFAR-10 batch needs (numpy's array
reconstruction: ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, and ``_codecs.encode``,
which Python 3 protocol-2 pickles use for byte strings);
any other global raises :class:`UnsafePickleError` before it is looked up. Each batch must be a
dict with ``data`` uint8 ``[10000, 3072]`` and ``labels`` (10,000 ints in 0..9).
"""
from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["UnsafePickleError", "ALLOWED_GLOBALS", "restricted_loads", "read_batch", "read_cifar10"]

ALLOWED_GLOBALS = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                             ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")})
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"


class UnsafePickleError(ValueError):
    """A pickle asked for a global outside :data:`ALLOWED_GLOBALS`, or pickles were not allowed."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(f"refusing global {module}.{name}: only {sorted(ALLOWED_GLOBALS)} are allowed")
        return super().find_class(module, name)


def restricted_loads(data: bytes):
    """Unpickle ``data`` allowing only :data:`ALLOWED_GLOBALS` (Python 2 strings stay bytes)."""
    return _Restricted(io.BytesIO(data), encoding="bytes").load()


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file → (``[N, 3, 32, 32]`` uint8, ``[N]`` int64)."""
    path = Path(path)
    try:
        obj = restricted_loads(path.read_bytes())
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from exc
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a CIFAR-10 python batch: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict, found {type(obj).__name__}")
    data, labels = obj.get(b"data", obj.get("data")), obj.get(b"labels", obj.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: expected 'data' uint8 [N, 3072], found "
                         f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ValueError(f"{path}: expected {data.shape[0]} labels in 0..9, found shape {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar10(root: str | Path, *, allow_pickle: bool = False
                 ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``((train_x, train_y), (test_x, test_y))`` with images ``[N, 3, 32, 32]`` float32 in [0, 1].

    Raises:
        UnsafePickleError: ``allow_pickle`` is False, or a file asks for a disallowed global.
    """
    if not allow_pickle:
        raise UnsafePickleError("CIFAR-10 python batches are pickles; pass allow_pickle=True "
                                "(--allow-cifar-pickle) only for files you trust")
    warnings.warn("reading CIFAR-10 pickles with a restricted unpickler: use only files you trust", stacklevel=2)
    root = Path(root)
    parts = [read_batch(root / name) for name in TRAIN_FILES]
    test = read_batch(root / TEST_FILE)

    def tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(images).float() / 255.0, torch.from_numpy(labels)

    return (tensors(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])),
            tensors(*test))
