"""Checkpoints: safetensors + card round trip, and refusal of tampered or mismatched files."""
from __future__ import annotations

import json
import struct

import pytest
import torch

from mfpsn.checkpoints import (CheckpointError, available, load, read_card, resolve, save, sha256_file)
from mfpsn.models import DVSConvNet, SHDNet


def _save(tmp_path, model, name="net", accuracy=0.5):
    return save(model, tmp_path, name, task="random", classes=["a", "b", "c"],
                input_spec={"layout": "[T, B, 2, 8, 8]", "T": 4, "sensor_size": [8, 8], "binning": {}},
                training={"epochs": 1}, seed=3, test_accuracy=accuracy, test_samples=10,
                fixed_subset={"limit": 4, "accuracy": 0.25})


def _model(neuron="mfpsn", channels=(3,)):
    model = DVSConvNet(num_classes=3, T=4, input_size=8, channels=channels, neuron=neuron)
    model.train()
    model((torch.rand(4, 5, 2, 8, 8) < 0.3).float())  # non-trivial running statistics
    return model.eval()


def test_round_trip_rebuilds_the_same_model_in_eval_mode(tmp_path):
    model = _model()
    card_path = _save(tmp_path, model)
    ckpt = load(card_path)
    x = (torch.rand(4, 2, 2, 8, 8) < 0.3).float()
    assert not ckpt.model.training
    assert torch.equal(ckpt.model(x), model(x))
    card = ckpt.card
    assert card["weights_sha256"] == sha256_file(tmp_path / "net.safetensors")
    assert card["model"] == model.get_config() and card["seed"] == 3 and card["torch_version"] == torch.__version__
    for key in ("classes", "input", "training", "test_accuracy", "fixed_subset", "date"):
        assert key in card
    # the same checkpoint by stem and by weights path
    assert load(tmp_path / "net").card == card and load(tmp_path / "net.safetensors").card == card


def test_weights_file_is_safetensors_not_pickle(tmp_path):
    _save(tmp_path, _model())
    raw = (tmp_path / "net.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert "__metadata__" in header and json.loads(header["__metadata__"]["model"])["arch"] == "dvs_convnet"
    assert raw[:2] != b"\x80\x04" and b"PK" not in raw[:4]


def test_tampered_weights_are_refused_naming_the_file(tmp_path):
    _save(tmp_path, _model())
    weights = tmp_path / "net.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-3] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"net\.safetensors: sha256 mismatch") as info:
        load(tmp_path / "net.json")
    assert isinstance(info.value, ValueError) and info.value.path.endswith("net.safetensors")


def test_card_config_edited_is_refused(tmp_path):
    card_path = _save(tmp_path, _model())
    card = json.loads(card_path.read_text())
    card["model"]["channels"] = [4]
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="model config in the weights .* differs from the card"):
        load(card_path)


def test_weights_of_another_model_are_refused_even_with_a_matching_hash(tmp_path):
    _save(tmp_path, _model(channels=(3,)), name="a")
    _save(tmp_path, _model(channels=(5,)), name="b")
    card = json.loads((tmp_path / "a.json").read_text())
    card["weights_file"] = "b.safetensors"
    card["weights_sha256"] = sha256_file(tmp_path / "b.safetensors")
    (tmp_path / "a.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"b\.safetensors: model config in the weights"):
        load(tmp_path / "a.json")


def test_tensor_shape_mismatch_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file
    import hashlib

    card_path = _save(tmp_path, _model())
    weights = tmp_path / "net.safetensors"
    tensors = load_file(str(weights))
    tensors["fc.bias"] = torch.zeros(4)
    config = json.loads(card_path.read_text())["model"]
    save_file(tensors, str(weights), metadata={"model": json.dumps(config, sort_keys=True, separators=(",", ":"))})
    card = json.loads(card_path.read_text())
    card["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"fc\.bias: expected \(3,\) torch.float32, found \(4,\)"):
        load(card_path)


def test_bad_cards_are_refused(tmp_path):
    card_path = _save(tmp_path, _model())
    card = json.loads(card_path.read_text())
    del card["weights_sha256"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"lacks required keys \['weights_sha256'\]"):
        read_card(card_path)
    card_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        load(card_path)
    good = _save(tmp_path, _model(), name="other")
    card = json.loads(good.read_text())
    card["weights_file"] = "../escape.safetensors"
    good.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="bare"):
        load(good)
    (tmp_path / "c.json").write_text(json.dumps({**card, "weights_file": "missing.safetensors"}))
    with pytest.raises(CheckpointError, match="missing"):
        load(tmp_path / "c.json")


def test_unknown_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(CheckpointError, match="no model card found"):
        resolve("no_such_checkpoint_anywhere")


def test_available_lists_cards_in_a_directory(tmp_path):
    _save(tmp_path, _model(), name="x", accuracy=0.75)
    _save(tmp_path, SHDNet(in_features=5, num_classes=3, T=4, hidden=4, neuron="lif").eval(), name="y")
    (tmp_path / "junk.json").write_text("[]")
    infos = available(tmp_path)
    assert [(i.name, i.neuron) for i in infos] == [("x", "mfpsn"), ("y", "lif")]
    assert infos[0].test_accuracy == 0.75 and infos[0].task == "random"


# ------------------------------------------------------------------ tamper evidence (issue 10)
@pytest.mark.parametrize("edit", [
    lambda c: c.__setitem__("test_accuracy", 0.999),
    lambda c: c.__setitem__("classes", ["c", "b", "a"]),
    lambda c: c["input"].__setitem__("binning", {"method": "events_to_frames n_bins", "n_bins": 99}),
    lambda c: c["training"].__setitem__("epochs", 500),
    lambda c: c.__setitem__("new_claim", "state of the art"),
])
def test_editing_any_card_field_is_refused(tmp_path, edit):
    card_path = _save(tmp_path, _model())
    card = json.loads(card_path.read_text())
    edit(card)
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="the card was edited after it was saved") as info:
        load(card_path)
    assert info.value.path.endswith("net.json")
    with pytest.raises(CheckpointError, match="edited"):
        read_card(card_path)
    assert available(tmp_path) == []  # listings never show an edited card


def test_negated_tensor_with_the_file_hash_recomputed_is_refused(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    card_path = _save(tmp_path, _model())
    weights = tmp_path / "net.safetensors"
    with safe_open(str(weights), framework="pt") as fh:
        meta = fh.metadata()
    tensors = load_file(str(weights))
    tensors["fc.weight"] = -tensors["fc.weight"]
    save_file(tensors, str(weights), metadata=meta)  # the old digests kept
    card = json.loads(card_path.read_text())
    card["weights_sha256"] = sha256_file(weights)
    card["weights_bytes"] = weights.stat().st_size
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="tensor digest mismatch"):
        load(card_path)


def test_unsigned_checkpoint_is_refused_until_resigned(tmp_path):
    from safetensors.torch import load_file, save_file

    from mfpsn.checkpoints import resign

    card_path = _save(tmp_path, _model())
    weights = tmp_path / "net.safetensors"
    config = json.loads(card_path.read_text())["model"]
    save_file(load_file(str(weights)), str(weights),
              metadata={"model": json.dumps(config, sort_keys=True, separators=(",", ":"))})
    card = json.loads(card_path.read_text())
    card["weights_sha256"] = sha256_file(weights)
    card["test_accuracy"] = 0.75
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="unsigned checkpoint.*resign"):
        load(card_path)
    resign(card_path)  # the owner vouches for both files
    ckpt = load(card_path)
    assert ckpt.card["test_accuracy"] == 0.75


def test_resign_command_line(tmp_path, capsys):
    from mfpsn.checkpoints import main

    card_path = _save(tmp_path, _model())
    card = json.loads(card_path.read_text())
    card["classes"] = ["x", "y", "z"]
    card_path.write_text(json.dumps(card))
    assert main(["verify", str(card_path)]) == 1
    assert main(["resign", str(card_path)]) == 0
    assert main(["verify", str(card_path)]) == 0
    assert load(card_path).card["classes"] == ["x", "y", "z"]
    assert "re-signed" in capsys.readouterr().out


def test_load_builds_with_the_backend_asked_for_not_the_one_trained_with(tmp_path):
    """A card records the backend it was trained with (here the fused CPU kernel, which a GPU or a machine
    without a compiler lacks); ``load`` builds with ``backend`` (default ``"auto"``) and gives the same outputs."""
    from mfpsn.neurons import MFPSN

    model = DVSConvNet(num_classes=3, T=4, input_size=8, channels=(3,), neuron="mfpsn",
                       neuron_options={"backend": "fused", "quantize": True})
    card_path = _save(tmp_path, model.eval())
    assert read_card(card_path)["model"]["neuron_options"] == {"backend": "fused", "quantize": True}
    x = (torch.rand(4, 2, 2, 8, 8) < 0.3).float()
    outs = []
    for backend in ("auto", "shift_add"):
        net = load(card_path, backend=backend).model
        (neuron,) = [m for m in net.modules() if isinstance(m, MFPSN)]
        assert neuron.backend == backend and neuron.quantize      # other options are kept
        outs.append(net(x))
    torch.testing.assert_close(outs[0], outs[1])
    with pytest.raises(ValueError, match="backend: the 'mfpsn' neuron takes one of .*found 'gemm'"):
        load(card_path, backend="gemm")


def test_with_backend_reads_cards_that_name_the_knob_impl():
    """Cards saved before the knob was unified call it ``impl``: it is dropped like ``backend``."""
    from mfpsn.models import build_model, with_backend

    legacy = {"arch": "seq_fc_net", "in_features": 1, "num_classes": 2, "T": 4, "hidden": 3, "n_layers": 1,
              "neuron": "mfpsn", "order": 2, "neuron_options": {"impl": "fused", "ste": "round"}}
    assert with_backend(legacy)["neuron_options"] == {"ste": "round"}
    assert with_backend(legacy, "conv1d")["neuron_options"] == {"ste": "round", "backend": "conv1d"}
    assert legacy["neuron_options"] == {"impl": "fused", "ste": "round"}     # the card's config is not changed
    assert build_model(with_backend(legacy)) is not None
    psn = {**legacy, "neuron": "psn", "neuron_options": {}}
    assert with_backend(psn) == psn
    with pytest.raises(ValueError, match="'psn' neuron takes one of \\(no backend knob\\)"):
        with_backend(psn, "fused")
