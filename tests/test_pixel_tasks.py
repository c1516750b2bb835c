"""sMNIST / psMNIST: the IDX reader, the pixel-sequence transform, the tasks, SeqFCNet and the plan."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from mfpsn.data.mnist import IDXFormatError, load_mnist_split, read_idx, write_idx
from mfpsn.data.pixels import PixelSequence, image_to_mnist, pixel_permutation
from mfpsn.models import SeqFCNet, build_model
from mfpsn.training.tasks import PSMNIST_SEED, load_task, pixel_transform

SUBSET = Path(__file__).resolve().parent.parent / "assets" / "mnist_subset"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


# ------------------------------------------------------------------------------------------------ reader
def test_subset_reads_as_the_standard_files():
    images, labels = load_mnist_split(SUBSET, "test")
    assert images.shape == (300, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (300,) and labels.dtype == np.int64
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # MNIST's first test labels
    train_images, train_labels = load_mnist_split(SUBSET, "train")
    assert train_images.shape == (200, 28, 28) and train_labels[:5].tolist() == [5, 0, 4, 1, 9]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mnist is not present")
def test_subset_is_the_head_of_the_real_files():
    full, full_labels = load_mnist_split(SHARED, "test")
    sub, sub_labels = load_mnist_split(SUBSET, "test")
    assert full.shape == (10_000, 28, 28)
    np.testing.assert_array_equal(full[:300], sub)
    np.testing.assert_array_equal(full_labels[:300], sub_labels)


@pytest.mark.parametrize("gz", [False, True])
def test_write_read_round_trip(tmp_path, gz):
    a = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), a)
    np.testing.assert_array_equal(read_idx(path, ndim=3), a)


def _idx_bytes(shape, payload: bytes) -> bytes:
    return bytes([0, 0, 8, len(shape)]) + b"".join(int(n).to_bytes(4, "big") for n in shape) + payload


@pytest.mark.parametrize("data, needle", [
    (b"", "magic"),
    (b"\x01\x02\x08\x03", "magic"),
    (bytes([0, 0, 0x0D, 3]) + bytes(12), "type"),
    (_idx_bytes((2, 2), bytes(4)), "dimension"),
    (_idx_bytes((10, 28, 28), bytes(100)), "declares"),           # truncated
    (_idx_bytes((1, 2, 2), bytes(5)), "declares"),                 # trailing byte
    (_idx_bytes((4_000_000_000, 28, 28), bytes(8)), "declares"),   # declared size far beyond the file
    (bytes([0, 0, 8, 3, 0, 0]), "header"),
])
def test_malformed_files_raise_a_clean_error(tmp_path, data, needle):
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(IDXFormatError, match=needle) as info:
        read_idx(path, ndim=3)
    assert str(path) in str(info.value)


def test_gzip_bomb_is_bounded(tmp_path):
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as gz:  # 64 MiB of zeros in a few KB
        gz.write(_idx_bytes((1, 8192, 8192), b""))
        for _ in range(64):
            gz.write(bytes(1 << 20))
    assert path.stat().st_size < 200_000
    with pytest.raises(IDXFormatError, match="at most"):
        read_idx(path, ndim=3, max_bytes=1 << 20)


def test_corrupt_gzip_and_special_files(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage-garbage")
    with pytest.raises(IDXFormatError, match="gzip"):
        read_idx(path, ndim=1)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(IDXFormatError, match="regular file"):
        read_idx(fifo, ndim=1)  # must not block


def test_missing_files_and_mismatched_counts(tmp_path):
    with pytest.raises(ValueError, match="expected t10k-images-idx3-ubyte"):
        load_mnist_split(tmp_path, "test")
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(IDXFormatError, match="expected 3 labels"):
        load_mnist_split(tmp_path, "test")
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(3, 11, np.uint8))
    with pytest.raises(IDXFormatError, match="0..9"):
        load_mnist_split(tmp_path, "test")


# ------------------------------------------------------------------------------------------- transform
def test_pixel_sequence_row_major_and_permuted():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    seq = PixelSequence()(images)
    assert seq.shape == (3, 784, 1) and seq.dtype == torch.float32
    r, c = 5, 17
    assert seq[1, 28 * r + c, 0] == pytest.approx(images[1, r, c] / 255.0)
    perm = PixelSequence.permuted(3)
    pseq = perm(images)
    assert pseq[2, 10, 0] == pytest.approx(images[2].reshape(-1)[perm.permutation[10]] / 255.0)
    # the inverse for display gives the image back, for both
    torch.testing.assert_close(perm.image_of(pseq[0]), torch.from_numpy(images[0]).float() / 255.0)
    torch.testing.assert_close(PixelSequence().image_of(seq[0]), torch.from_numpy(images[0]).float() / 255.0)


def test_pixel_sequence_card_round_trip_and_checks():
    t = PixelSequence.permuted(PSMNIST_SEED)
    back = PixelSequence.from_dict(t.to_dict())
    assert back == t and back.permutation == pixel_permutation(PSMNIST_SEED)
    assert pixel_permutation(0) != pixel_permutation(1)
    with pytest.raises(ValueError, match="permutation"):
        PixelSequence((0, 0) + tuple(range(2, 784)))
    with pytest.raises(ValueError, match="uint8"):
        PixelSequence()(np.zeros((1, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"\[N, 28, 28\]"):
        PixelSequence()(np.zeros((1, 28, 27), np.uint8))


def test_image_to_mnist_normalises_like_mnist():
    digit = load_mnist_split(SUBSET, "test")[0][0]
    assert image_to_mnist(digit).shape == (28, 28)
    # a dark digit on a white page, 3x larger, RGB: inverted, scaled and centred back to a similar image
    big = np.kron(255 - digit, np.ones((3, 3), np.uint8))
    rgb = np.stack([big] * 3, axis=-1)
    out = image_to_mnist(rgb)
    assert out.dtype == np.uint8 and out.max() == 255
    a, b = out.astype(float) / 255, digit.astype(float) / 255
    corr = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert corr > 0.8
    assert image_to_mnist(np.zeros((50, 40))).max() == 0  # blank stays blank
    with pytest.raises(ValueError, match="expected"):
        image_to_mnist(np.zeros((4, 4, 2)))


# ------------------------------------------------------------------------------------------------ tasks
@pytest.mark.parametrize("task", ["smnist", "psmnist"])
def test_task_from_any_folder(task):
    data = load_task(task, data_root=SUBSET)
    assert data.train_x.shape == (200, 784, 1) and data.test_x.shape == (300, 784, 1)
    assert data.classes == [str(i) for i in range(10)]
    assert data.input_spec["T"] == 784 and data.model["arch"] == "seq_fc_net"
    transform = PixelSequence.from_dict(data.input_spec["transform"])
    assert transform == pixel_transform(task)
    assert (transform.permutation is None) == (task == "smnist")
    images = load_mnist_split(SUBSET, "test")[0]
    torch.testing.assert_close(data.test_x, transform(images))
    assert "CC BY-SA 3.0" in data.input_spec["licence"]
    only = load_task(task, data_root=SUBSET, test_only=True)
    assert only.train_x.shape[0] == 0 and only.test_x.shape[0] == 300


def test_task_errors():
    with pytest.raises(ValueError, match="data_root"):
        load_task("smnist")
    with pytest.raises(ValueError, match="784"):
        load_task("smnist", T=100, data_root=SUBSET)


# ------------------------------------------------------------------------------------------------ model
@pytest.mark.parametrize("neuron", ["mfpsn", "lif", "psn", "sliding_psn", "masked_psn", "plif"])
def test_seq_fc_net_trains_and_rebuilds(neuron):
    T = 20
    net = SeqFCNet(T=T, hidden=8, n_layers=2, neuron=neuron, order=4)
    x = torch.rand(T, 3, 1)
    logits = net(x)
    assert logits.shape == (3, 10)
    logits.sum().backward()
    assert net.fcs[0].weight.grad is not None and net.fcs[0].weight.grad.abs().sum() > 0
    net.eval()
    with torch.no_grad():
        ev = net.evidence(x)
        torch.testing.assert_close(ev.mean(0), net(x))
        logits_r, traces = net(x, record=True)
    assert list(traces) == ["fc0", "fc1"] and traces["fc0"].spikes.shape == (T, 3, 8)
    again = build_model(net.get_config())
    again.load_state_dict(net.state_dict())
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x), net(x))
    with pytest.raises(ValueError, match="SeqFCNet input"):
        net(torch.rand(T, 3, 2))


def test_plan_and_receptive_fields():
    from mfpsn.experiments_seq import NEURON_ROWS, plan, receptive_field_of

    runs = plan(["psmnist", "smnist"], [0, 1, 2])
    main = [r for r in runs if r.group == "main"]
    assert len(main) == 5 * 2 * 3
    assert len({r.key for r in runs}) == len(runs)
    assert [r.seed for r in main[:10]] == [0] * 10  # seed 0 of every main row first
    shipped = {r.name for r in runs if r.ship}
    assert shipped == {"psmnist_psn", "smnist_psn"}  # PSN ships its budget run; MFPSN and LIF their long run
    long_runs = plan(["psmnist", "smnist", "sfmnist"], [0, 1, 2], "long")
    assert {r.name for r in long_runs if r.ship} == {"psmnist_mfpsn", "psmnist_lif", "smnist_mfpsn", "smnist_lif"}
    assert all(r.seed == 0 and r.protocol == "long" for r in long_runs if r.ship)
    assert {r.name for r in plan(["sfmnist"], [0], "budget") if r.ship} == {"sfmnist_mfpsn", "sfmnist_lif",
                                                                           "sfmnist_psn"}
    # 4 layers, sawtooth 1, 2, 3, 1: 1 + (k - 1) * 7
    assert receptive_field_of(8, "sawtooth") == 50
    assert receptive_field_of(16, "sawtooth") == 106
    assert receptive_field_of(8, "none") == 29
    assert {"mfpsn_k8", "lif", "psn", "masked_psn_k8", "sliding_psn_k8"} <= set(NEURON_ROWS)


def test_one_data_set_given_for_the_other_is_refused(tmp_path):
    """MNIST and Fashion-MNIST IDX files have the same names: ``sfmnist`` on an MNIST folder (and the reverse,
    recognised by the first test labels) is an error naming both, not a run on the wrong images."""
    with pytest.raises(ValueError, match="expected Fashion-MNIST IDX files, found MNIST's.*dataset-fashion-mnist"):
        load_task("sfmnist", data_root=SUBSET, test_only=True)
    fashion = tmp_path / "fashion"
    fashion.mkdir()
    images, _ = load_mnist_split(SUBSET, "test")
    labels = np.array([9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5] + [0] * (len(images) - 12), dtype=np.uint8)
    for split in ("t10k", "train"):
        write_idx(fashion / f"{split}-images-idx3-ubyte", images)
        write_idx(fashion / f"{split}-labels-idx1-ubyte", labels)
    assert load_task("sfmnist", data_root=fashion, test_only=True).classes[0] != "0"
    for task in ("smnist", "psmnist"):
        with pytest.raises(ValueError, match="expected MNIST IDX files, found Fashion-MNIST's"):
            load_task(task, data_root=fashion, test_only=True)


def test_the_sequence_experiments_read_fashion_from_its_own_folder():
    from mfpsn.experiments_seq import DEFAULT_FASHION_ROOT, task_root

    assert task_root("sfmnist", "mnist_dir", "fashion_dir") == "fashion_dir"
    assert task_root("smnist", "mnist_dir", "fashion_dir") == task_root("psmnist", "mnist_dir", "x") == "mnist_dir"
    assert str(DEFAULT_FASHION_ROOT) == "/usr/share/datasets/fashion-mnist"
