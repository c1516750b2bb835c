"""python -m mfpsn.predict and mfpsn.card_inputs: files → the tensor the card's model sees → one JSON line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mfpsn.card_inputs import CardInputError, file_input, image_input, input_kind
from mfpsn.checkpoints import save
from mfpsn.data.mnist import load_mnist_split
from mfpsn.models import SeqFCNet
from mfpsn.predict import main, predict_files
from mfpsn.training.tasks import load_task

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SUBSET = ASSETS / "mnist_subset"


@pytest.fixture(scope="module")
def psmnist_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    data = load_task("psmnist", data_root=SUBSET, test_only=True)
    model = SeqFCNet(hidden=8, n_layers=1, neuron="mfpsn", order=2).eval()
    out = tmp_path_factory.mktemp("ckpt")
    return save(model, out, "tiny_psmnist", task="psmnist", classes=data.classes, input_spec=data.input_spec,
                training={}, seed=0, test_accuracy=0.1, test_samples=300, fixed_subset={"limit": 1, "accuracy": 0.0})


def _png(path: Path, image: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(image).save(path)
    return path


def test_png_and_npy_give_the_task_tensor(psmnist_checkpoint, tmp_path):
    from mfpsn.checkpoints import load

    card = load(psmnist_checkpoint).card
    assert input_kind(card) == "image"
    images, _ = load_mnist_split(SUBSET, "test")
    data = load_task("psmnist", data_root=SUBSET, test_only=True)
    png = _png(tmp_path / "d0.png", images[0])
    np.save(tmp_path / "d1.npy", images[1])
    np.save(tmp_path / "d2f.npy", images[2].astype(np.float32) / 255.0)  # floats in [0, 1]
    torch.testing.assert_close(file_input(png, card), data.test_x[0:1].transpose(0, 1))
    torch.testing.assert_close(file_input(tmp_path / "d1.npy", card), data.test_x[1:2].transpose(0, 1))
    torch.testing.assert_close(file_input(tmp_path / "d2f.npy", card), data.test_x[2:3].transpose(0, 1))
    # other sizes go through the MNIST normalisation: still [784, 1, 1]
    big = np.kron(images[3], np.ones((2, 2), np.uint8))
    assert image_input(big, card).shape == (784, 1, 1)


def test_cli_prints_one_json_line_per_file(psmnist_checkpoint, tmp_path, capsys):
    from mfpsn.checkpoints import load

    ckpt = load(psmnist_checkpoint)
    images, _ = load_mnist_split(SUBSET, "test")
    files = [str(_png(tmp_path / f"d{i}.png", images[i])) for i in range(3)]
    assert main(["--checkpoint", str(psmnist_checkpoint), *files]) == 0
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in lines] == files
    data = load_task("psmnist", data_root=SUBSET, test_only=True)
    with torch.no_grad():
        p = torch.softmax(ckpt.model.eval()(data.test_x[:3].transpose(0, 1)), 1)
    for row, probs in zip(lines, p):
        assert set(row) == {"file", "class", "index", "p"}
        assert row["index"] == int(probs.argmax()) and row["class"] == str(row["index"])
        assert row["p"] == pytest.approx(float(probs.max()), abs=1e-6)


def test_files_that_do_not_fit_give_error_lines(psmnist_checkpoint, tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hello")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    files = [str(tmp_path / "x.txt"), str(tmp_path / "bad.png"), str(tmp_path / "s.npy"),
             str(ASSETS / "nmnist_digit3.bin")]
    assert main(["--checkpoint", str(psmnist_checkpoint), *files]) == 1
    rows = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert all("error" in r and r["file"] in r["error"] for r in rows), rows
    assert "takes an image" in rows[0]["error"] and "cannot decode" in rows[1]["error"]


def test_event_checkpoint_takes_recordings():
    rows = predict_files("dvs_digits_mfpsn", [str(ASSETS / "nmnist_digit3.bin"),
                                              str(ASSETS / "aedat2_dvs128_digit3_first_saccade.aedat")])
    assert rows[0]["class"] in [str(i) for i in range(10)] and 0 < rows[0]["p"] <= 1
    assert "notes" in rows[1] and "cropped" in rows[1]["notes"][0]
    with pytest.raises(CardInputError):
        from mfpsn.checkpoints import load

        file_input(ASSETS / "shd_sweeps_3.h5", load("dvs_digits_mfpsn").card)
