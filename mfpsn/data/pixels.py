"""Images as pixel sequences (sequential and permuted-sequential MNIST): one frozen transform.

:class:`PixelSequence` is the one code path from a grayscale image to the network input, used by
the task loader (training, evaluation), ``python -m mfpsn.predict`` and the app. It serialises to
the model card (:meth:`PixelSequence.to_dict`) with its permutation written out in full, so a
checkpoint rebuilds its input exactly without re-deriving anything.

Sequence: the 28x28 image in row-major order (pixel ``(r, c)`` is step ``28 r + c``), scaled to
``[0, 1]`` (``pixel / 255``), then, for psMNIST, reordered by the fixed ``permutation``
(step ``t`` shows pixel ``permutation[t]``). One value per step: ``x: [N, 784, 1]`` sample-first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["PixelSequence", "pixel_permutation", "SIDE", "STEPS", "image_to_mnist"]

SIDE = 28
STEPS = SIDE * SIDE


def pixel_permutation(seed: int) -> tuple[int, ...]:
    """The fixed psMNIST permutation of the 784 pixels for ``seed`` (``torch.randperm`` on a seeded CPU
    generator)."""
    gen = torch.Generator().manual_seed(int(seed))
    return tuple(int(i) for i in torch.randperm(STEPS, generator=gen))


@dataclass(frozen=True)
class PixelSequence:
    """28x28 grayscale images → ``[N, 784, 1]`` float32 pixel sequences.

    Attributes:
        permutation: ``None`` (sMNIST: row-major order) or a permutation of ``range(784)`` (psMNIST).
        seed: the seed the permutation came from (informational; the permutation itself is authoritative).
    """

    permutation: tuple[int, ...] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.permutation is not None:
            perm = tuple(int(i) for i in self.permutation)
            if sorted(perm) != list(range(STEPS)):
                raise ValueError(f"permutation: expected a permutation of range({STEPS}), found "
                                 f"{len(perm)} values")
            object.__setattr__(self, "permutation", perm)

    @classmethod
    def permuted(cls, seed: int) -> "PixelSequence":
        """The psMNIST transform with :func:`pixel_permutation` of ``seed``."""
        return cls(pixel_permutation(seed), int(seed))

    def __call__(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """images: ``[N, 28, 28]`` uint8 (0..255) → ``[N, 784, 1]`` float32 in [0, 1]."""
        x = torch.as_tensor(np.array(images, copy=True)) if isinstance(images, np.ndarray) else images
        if x.dim() != 3 or tuple(x.shape[1:]) != (SIDE, SIDE):
            raise ValueError(f"PixelSequence: expected images [N, 28, 28], found {list(x.shape)}")
        if x.dtype != torch.uint8:
            raise ValueError(f"PixelSequence: expected uint8 pixels 0..255, found dtype {x.dtype}")
        seq = x.reshape(x.shape[0], STEPS).to(torch.float32) / 255.0
        if self.permutation is not None:
            seq = seq[:, torch.tensor(self.permutation)]
        return seq.unsqueeze(-1).contiguous()

    def image_of(self, seq: torch.Tensor) -> torch.Tensor:
        """Inverse for display: ``[784]`` or ``[784, 1]`` step values → the ``[28, 28]`` image they came from."""
        flat = seq.reshape(STEPS)
        if self.permutation is not None:
            out = torch.empty_like(flat)
            out[torch.tensor(self.permutation)] = flat
            flat = out
        return flat.reshape(SIDE, SIDE)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description for the model card (:meth:`from_dict` rebuilds it)."""
        return {"name": "pixel_sequence", "order": "row-major", "scale": "pixel / 255", "steps": STEPS,
                "permutation_seed": self.seed,
                "permutation": None if self.permutation is None else list(self.permutation)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PixelSequence":
        if not isinstance(d, dict) or d.get("name") != "pixel_sequence":
            raise ValueError(f"PixelSequence.from_dict: expected a dict with name 'pixel_sequence', found {d!r:.80}")
        perm = d.get("permutation")
        return cls(None if perm is None else tuple(perm), d.get("permutation_seed"))


def image_to_mnist(image: np.ndarray, *, invert: bool | None = None) -> np.ndarray:
    """Any grayscale or RGB(A) image → a 28x28 uint8 digit, white on black as in MNIST.

    The image is converted to gray (alpha composited on white), inverted when its border is brighter
    than its centre (a dark digit on a light background, e.g. a scan or a sketchpad; ``invert``
    forces the choice), cropped to the bounding box of the ink, scaled so its longer side is 20
    pixels and centred by its centre of mass in a 28x28 frame (MNIST's own normalisation).

    Args:
        image: ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]``; uint8 (0..255) or float (0..1).
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3) or a.size == 0 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ValueError(f"image: expected [H, W], [H, W, 3] or [H, W, 4], found shape {list(a.shape)}")
    a = a.astype(np.float64)
    if a.max(initial=0.0) > 1.0:
        a = a / 255.0
    if a.ndim == 3:
        if a.shape[2] == 4:
            alpha = a[..., 3:4]
            a = a[..., :3] * alpha + (1.0 - alpha)  # composite on white
        a = a[..., :3].mean(axis=2) if a.shape[2] >= 3 else a[..., 0]
    h, w = a.shape
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).mean()
    if invert is None:
        invert = border > 0.5
    if invert:
        a = 1.0 - a
    ink = a > 0.1 * max(a.max(), 1e-12)
    if not ink.any() or a.max() <= 0.0:
        return np.zeros((SIDE, SIDE), np.uint8)
    rows, cols = np.nonzero(ink)
    a = a[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = 20.0 / max(a.shape)
    nh, nw = max(1, round(a.shape[0] * scale)), max(1, round(a.shape[1] * scale))
    small = torch.nn.functional.interpolate(torch.from_numpy(a)[None, None], size=(nh, nw), mode="area")[0, 0]
    small = small.numpy()
    out = np.zeros((SIDE, SIDE))
    mass = small.sum()
    cy = (np.arange(nh)[:, None] * small).sum() / mass if mass > 0 else nh / 2
    cx = (np.arange(nw)[None, :] * small).sum() / mass if mass > 0 else nw / 2
    top = int(np.clip(round(SIDE / 2 - cy), 0, SIDE - nh))
    left = int(np.clip(round(SIDE / 2 - cx), 0, SIDE - nw))
    out[top:top + nh, left:left + nw] = small
    out = out / max(out.max(), 1e-12)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
