"""Prediction CLI: ``python -m mfpsn.predict --checkpoint NAME FILE...``.

Loads a checkpoint (verified, :func:`mfpsn.checkpoints.load`) and prints one JSON line per file:
``{"file", "class", "index", "p"}`` (the most likely class, its label index and its softmax
probability), plus ``"notes"`` when the input had to be adapted (e.g. a sensor cropped to the
model's size). Files are turned into the model's input by :mod:`mfpsn.card_inputs` as the card
says: images for the pixel-sequence models (sMNIST, psMNIST; a 28x28 white-on-black digit as in
MNIST, other sizes normalised), ``.wav`` recordings for the spoken-digit models (FSDD; any rate, through
the card's cochlea front end), event recordings for the camera and spike-train models. A file
that does not fit gives a JSON line with ``"error"`` instead, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

import torch

from mfpsn.card_inputs import CardInputError, file_input
from mfpsn.checkpoints import load

__all__ = ["predict_files", "main"]


@torch.no_grad()
def predict_files(name_or_path: str, files: Sequence[str]) -> list[dict[str, Any]]:
    """One result dict per file (``error`` instead of a class when the file does not fit)."""
    ckpt = load(name_or_path)
    model, card = ckpt.model.eval(), ckpt.card
    classes = card["classes"]
    out = []
    for path in files:
        notes: list[str] = []
        try:
            x = file_input(path, card, notes)
        except (CardInputError, OSError) as exc:
            out.append({"file": str(path), "error": str(exc)})
            continue
        p = torch.softmax(model(x).float(), dim=1)[0]
        index = int(p.argmax())
        row = {"file": str(path), "class": classes[index], "index": index, "p": round(float(p[index]), 6)}
        if notes:
            row["notes"] = notes
        out.append(row)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mfpsn.predict", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="shipped name, or path to NAME.json / NAME.safetensors")
    p.add_argument("files", nargs="+", help="images (.png, .jpg, .npy), .wav audio or event recordings")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        rows = predict_files(args.checkpoint, args.files)
    except ValueError as err:  # unknown or tampered checkpoint: a usage error, no traceback
        p.error(str(err))
    failed = 0
    for row in rows:
        print(json.dumps(row), flush=True)
        failed += "error" in row
    if failed:
        print(f"{failed} of {len(rows)} file(s) could not be classified", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
