"""Speak a digit (mfpsn.app.speaking): waveform → front end → models, probabilities over time, figures, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mfpsn.app.speaking import (MAX_SECONDS, audio_checkpoints, audio_samples, classify_audio, classify_waveform,
                                to_waveform)
from mfpsn.card_inputs import file_input
from mfpsn.checkpoints import load, save
from mfpsn.data.wav import read_wav, write_wav
from mfpsn.models import SHDNet
from mfpsn.training.tasks import load_task

SUBSET = Path(__file__).resolve().parent.parent / "assets" / "fsdd_subset"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zoo")
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("MFPSN_DATA", str(cache))
    try:
        data = load_task("fsdd", data_root=SUBSET, options={"split": "speaker:george"}, test_only=True)
    finally:
        mp.undo()
    for neuron in ("lif", "mfpsn"):
        torch.manual_seed(0)
        model = SHDNet(in_features=140, num_classes=10, T=100, hidden=8, n_hidden=2, neuron=neuron, order=4).eval()
        save(model, out, f"fsdd_{neuron}", task="fsdd", classes=data.classes, input_spec=data.input_spec,
             training={"task_options": {"split": "speaker:george"}}, seed=0, test_accuracy=0.5, test_samples=6,
             fixed_subset={"limit": 1, "accuracy": 0.0})
    return out


def test_checkpoints_and_samples():
    assert len(audio_samples()) == 30 and all(s.endswith(".wav") for s in audio_samples())


def test_choice_puts_mfpsn_first(zoo):
    assert audio_checkpoints(zoo) == ["fsdd_mfpsn", "fsdd_lif"]


def test_runs_agree_with_the_model_on_the_card_input(zoo):
    path = SUBSET / audio_samples()[0]
    audio, rate = read_wav(path)
    runs = classify_waveform(audio, rate, ["fsdd_mfpsn", "fsdd_lif"], directory=zoo)
    ckpt = load(zoo / "fsdd_mfpsn.json")
    with torch.no_grad():
        p = torch.softmax(ckpt.model.eval()(file_input(path, ckpt.card)), 1)[0].numpy()
    np.testing.assert_allclose(runs[0].probs, p, rtol=1e-5, atol=1e-6)
    assert runs[0].probs_over_time.shape == (100, 10)
    np.testing.assert_allclose(runs[0].probs_over_time.sum(1), 1.0, rtol=1e-5)
    assert runs[0].neuron == "mfpsn" and runs[1].neuron == "lif"


def test_callback_takes_microphone_arrays_uploads_and_samples(zoo, tmp_path):
    audio, rate = read_wav(SUBSET / audio_samples()[3])
    pcm = (audio * 32767).astype(np.int16)
    stereo = np.stack([pcm, pcm], axis=1)
    a = classify_audio((rate, stereo), None, "fsdd_mfpsn", None, directory=zoo)
    b = classify_audio(None, audio_samples()[3], "fsdd_mfpsn", None, directory=zoo)
    assert a[0].splitlines()[2].split("|")[3] == b[0].splitlines()[2].split("|")[3]  # the same answer
    assert len(a[1].data) == 2 and len(a[2].data) == 2
    up = write_wav(tmp_path / "up.wav", audio, rate)
    assert to_waveform(str(up))[1] == rate


def test_bad_inputs_give_clear_errors(zoo):
    with pytest.raises(ValueError, match="record or upload"):
        classify_audio(None, None, "fsdd_mfpsn", None, directory=zoo)
    with pytest.raises(ValueError, match="bundled FSDD"):
        classify_audio(None, "../secret.wav", "fsdd_mfpsn", None, directory=zoo)
    with pytest.raises(ValueError, match="choose at least one"):
        classify_audio(None, audio_samples()[0], None, None, directory=zoo)
    with pytest.raises(ValueError, match="at most"):
        to_waveform((8000, np.zeros(int(8000 * MAX_SECONDS) + 1, np.int16)))
    assert to_waveform((8000, np.zeros(0, np.int16))) is None
    with pytest.raises(ValueError, match="expected a .wav recording"):
        to_waveform("speech.mp3")
