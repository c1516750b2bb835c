"""Draw a digit (mfpsn.app.drawing): the image → sequence → models path, probabilities over time, figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mfpsn.app.drawing import (classify_drawing, classify_image, drawing_checkpoints, sketch_to_array)
from mfpsn.checkpoints import save
from mfpsn.data.mnist import load_mnist_split
from mfpsn.models import SeqFCNet
from mfpsn.training.tasks import load_task

SUBSET = Path(__file__).resolve().parent.parent / "assets" / "mnist_subset"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zoo")
    for task in ("smnist", "psmnist"):
        data = load_task(task, data_root=SUBSET, test_only=True)
        for neuron in ("mfpsn", "lif"):
            torch.manual_seed(0)
            model = SeqFCNet(hidden=6, n_layers=2, neuron=neuron, order=4).eval()
            save(model, out, f"{task}_{neuron}", task=task, classes=data.classes, input_spec=data.input_spec,
                 training={}, seed=0, test_accuracy=0.5, test_samples=300, fixed_subset={"limit": 1, "accuracy": 0.0})
    return out


def test_checkpoint_choice_puts_mfpsn_first(zoo):
    assert drawing_checkpoints(zoo) == ["smnist_mfpsn", "smnist_lif", "psmnist_mfpsn", "psmnist_lif"]


def test_runs_agree_with_the_model_on_the_task_tensor(zoo):
    from mfpsn.checkpoints import load

    images, _ = load_mnist_split(SUBSET, "test")
    runs = classify_image(images[0], ["psmnist_mfpsn", "smnist_lif"], neuron=5, directory=zoo)
    for run in runs:
        ckpt = load(zoo / f"{run.name}.json")
        data = load_task(run.task, data_root=SUBSET, test_only=True)
        with torch.no_grad():
            p = torch.softmax(ckpt.model.eval()(data.test_x[:1].transpose(0, 1)), 1)[0].numpy()
        np.testing.assert_allclose(run.probs, p, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(run.sequence, data.test_x[0, :, 0].numpy())
        # the last prefix is the whole sequence: its probabilities are the final ones
        np.testing.assert_allclose(run.probs_over_time[-1], run.probs, rtol=1e-4, atol=1e-5)
        assert run.probs_over_time.shape == (784, 10)
        np.testing.assert_allclose(run.probs_over_time.sum(1), 1.0, rtol=1e-5)
        assert list(run.membranes) == ["fc0", "fc1"] and run.membranes["fc0"][0].shape == (784,)
    assert runs[0].receptive_field == 1 + 3 * (1 + 2) and runs[1].receptive_field is None


def test_sure_at():
    from mfpsn.app.drawing import DrawingRun

    pot = np.full((784, 10), 0.01)
    pot[:, 3] = np.linspace(0, 1, 784)
    run = DrawingRun("m", "mfpsn", "smnist", np.zeros(784), pot[-1], pot, [str(i) for i in range(10)], {}, None, 0.0)
    assert run.prediction == "3"
    assert run.sure_at(0.9) == int(np.argmax(pot[:, 3] >= 0.9))


def test_callback_takes_a_sketch_and_reports_errors(zoo):
    images, _ = load_mnist_split(SUBSET, "test")
    # a sketchpad value: black strokes on a transparent canvas, 280x280 RGBA
    canvas = np.zeros((280, 280, 4), np.uint8)
    big = np.kron(images[2], np.ones((10, 10), np.uint8))
    canvas[..., 3] = big
    summary, seq_fig, prob_fig, dyn_fig = classify_drawing({"composite": canvas, "layers": [], "background": None},
                                                           None, "smnist_mfpsn", "smnist_lif", 1, directory=zoo)
    assert "smnist_mfpsn" in summary and "smnist_lif" in summary
    assert len(prob_fig.data) == 4 and len(dyn_fig.data) == 2 * 2 * 2
    assert sketch_to_array({"composite": np.zeros((10, 10, 4), np.uint8)}) is None  # empty canvas
    with pytest.raises(ValueError, match="draw a digit"):
        classify_drawing(None, None, "smnist_mfpsn", None, directory=zoo)
    with pytest.raises(ValueError, match="neuron"):
        classify_drawing(None, images[0], "smnist_mfpsn", None, 99, directory=zoo)
    with pytest.raises(ValueError, match="not found"):
        classify_drawing(None, images[0], "nope", None, directory=zoo)
