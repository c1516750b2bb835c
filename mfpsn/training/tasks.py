"""Training tasks: data as in-memory tensors, class names, input spec and the default network.

Every task returns sample-first tensors ``x: [N, T, ...]`` float32 and ``y: [N]`` int64; the
training loop transposes each batch to time-first ``[T, B, ...]``. Nothing is downloaded: the
synthetic sets are generated locally and the real ones must already be on disk (``data_root``).

| task | data | x per sample | default network |
|---|---|---|---|
| ``dvs-digits`` | :func:`mfpsn.data.dvs_digits.load_dvs_digits` | ``[T, 2, 34, 34]`` | ``dvs_convnet`` |
| ``seq-digits`` | scikit-learn 8x8 digits, one column per step, DVS-digits split | ``[8, 1, 8]`` | ``seq_image_net`` |
| ``spoken-digits`` | :func:`mfpsn.data.spoken_digits.load_spoken_digits` | ``[T, 140]`` | ``shd_net`` |
| ``nmnist`` | ``data_root/{Train,Test}/<digit>/*.bin`` via ``read_events`` | ``[T, 2, 34, 34]`` | ``dvs_convnet`` |
| ``nmnist-sim`` | MNIST IDX files in ``data_root`` through :mod:`mfpsn.data.nmnist_sim` (N-MNIST protocol); the first ``NMNIST_SIM_TRAIN`` train and ``NMNIST_SIM_TEST`` test digits | ``[T, 2, 34, 34]`` | ``dvs_convnet`` |
| ``shd`` | ``data_root/shd_{train,test}.h5`` | ``[T, 140]`` | ``shd_net`` |
| ``cifar10`` | ``data_root/{data_batch_1..5,test_batch}`` (pickles, opt-in) | ``[32, 3, 32]`` | ``seq_image_net`` |
| ``smnist`` | MNIST IDX files in ``data_root``, one pixel per step (row-major) | ``[784, 1]`` | ``seq_fc_net`` |
| ``psmnist`` | the same, pixels in one fixed permutation (seed ``PSMNIST_SEED``, written in the card) | ``[784, 1]`` | ``seq_fc_net`` |
| ``sfmnist`` | Fashion-MNIST IDX files in ``data_root``, one pixel per step | ``[784, 1]`` | ``seq_fc_net`` |
| ``fsdd`` | Free Spoken Digit Dataset WAVs in ``data_root`` → :class:`mfpsn.data.speech.SpeechFront` | ``[T, 140]`` | ``shd_net`` |
| ``random`` | seeded random spikes, class = a row band (smoke tests, DDP) | ``[T, 2, 8, 8]`` | ``dvs_convnet`` |
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["TASKS", "TaskData", "load_task", "default_T", "pixel_transform", "PSMNIST_SEED", "NMNIST_SIM_TRAIN",
           "NMNIST_SIM_TEST", "NMNIST_SIM_SEED"]

TASKS = ("dvs-digits", "seq-digits", "spoken-digits", "nmnist", "nmnist-sim", "shd", "cifar10", "smnist", "psmnist",
         "sfmnist", "fsdd", "random")
_DEFAULT_T = {"dvs-digits": 8, "seq-digits": 8, "spoken-digits": 100, "nmnist": 8, "nmnist-sim": 8, "shd": 100,
              "cifar10": 32, "smnist": 784, "psmnist": 784, "sfmnist": 784, "fsdd": 100, "random": 4}
PSMNIST_SEED = 0
NMNIST_SIM_TRAIN = 6_000  # budget: the first 6,000 of MNIST's 60,000 training digits
NMNIST_SIM_TEST = 10_000  # all of MNIST's test digits
NMNIST_SIM_SEED = 0  # simulator seed: fixed, the training seed does not change the data
DIGITS = [str(i) for i in range(10)]
SHD_CLASSES = [f"{lang}-{i}" for lang in ("english", "german") for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@dataclass
class TaskData:
    """One task's tensors and metadata.

    Attributes:
        train_x, test_x: ``[N, T, ...]`` float32; train_y, test_y: ``[N]`` int64.
        classes: class names indexed by label.
        input_spec: JSON-able description of one sample (layout, shape, T, sensor size, binning).
        model: default network config for :func:`mfpsn.models.build_model` (the neuron is added later).
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    input_spec: dict[str, Any]
    model: dict[str, Any] = field(default_factory=dict)


def default_T(task: str) -> int:
    """Default number of time steps of ``task``."""
    _check_task(task)
    return _DEFAULT_T[task]


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, found {task!r}")


def _need_root(task: str, data_root: str | os.PathLike | None) -> Path:
    if data_root is None:
        raise ValueError(f"task {task!r} reads a real data set from disk: pass data_root (--data-root); "
                         f"nothing is downloaded")
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise ValueError(f"data_root for task {task!r}: expected a directory, found {str(root)!r}")
    return root


def load_task(task: str, *, T: int | None = None, data_root: str | os.PathLike | None = None,
              allow_pickle: bool = False, seed: int = 0, test_only: bool = False,
              options: dict[str, Any] | None = None) -> TaskData:
    """Load (or generate) ``task``'s train and test split.

    Args:
        task: one of :data:`TASKS`.
        T: time steps (bins); ``None`` for the task default (fixed at 8 for ``seq-digits``, 32 for ``cifar10``).
        data_root: directory of a real data set (``nmnist``, ``shd``, ``cifar10``; the MNIST IDX files for
            ``smnist``, ``psmnist``, ``nmnist-sim``) or the cache directory of a synthetic one (``None``: its
            default cache).
        allow_pickle: ``cifar10`` only: opt in to reading the CIFAR-10 python pickles (restricted).
        seed: seed of the ``random`` task's data.
        test_only: skip reading the training split where the loader can (``dvs-digits``,
            ``spoken-digits``, ``nmnist``, ``nmnist-sim``, ``shd``, ``fsdd``, the pixel tasks):
            ``train_x`` and ``train_y`` then hold 0 samples.
        options: task options (``fsdd`` only: ``split`` ``"official"`` or ``"speaker:NAME"``, ``augment`` copies
            per training recording, ``espeak`` synthetic utterances per espeak-ng voice and digit added to
            training (:mod:`mfpsn.data.fsdd_espeak`); features are cached in :func:`mfpsn.data.fsdd.default_cache`);
            ``None`` or ``{}`` for every other task.
    """
    _check_task(task)
    T = default_T(task) if T is None else int(T)
    if T < 1:
        raise ValueError(f"T: expected a positive integer, found {T}")
    loader = {"dvs-digits": _dvs_digits, "seq-digits": _seq_digits, "spoken-digits": _spoken_digits,
              "nmnist": _nmnist, "nmnist-sim": _nmnist_sim, "shd": _shd, "cifar10": _cifar10, "smnist": _pixel_task,
              "psmnist": _pixel_task, "sfmnist": _pixel_task, "fsdd": _fsdd, "random": _random}[task]
    options = dict(options or {})
    if task == "fsdd":
        return _fsdd(T=T, data_root=data_root, test_only=test_only, **options)
    if options:
        raise ValueError(f"task {task!r} takes no options, found {sorted(options)}")
    if loader is _pixel_task:
        return _pixel_task(task, T=T, data_root=data_root, test_only=test_only)
    return loader(T=T, data_root=data_root, allow_pickle=allow_pickle, seed=seed, test_only=test_only)


def _empty_like(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[:0], y[:0]


def _dvs_digits(*, T: int, data_root, test_only: bool = False, **_) -> TaskData:
    from mfpsn.data.dvs_digits import load_dvs_digits

    test = load_dvs_digits("test", root=data_root, n_bins=T)
    train = test if test_only else load_dvs_digits("train", root=data_root, n_bins=T)
    spec = {"layout": "[T, B, 2, 34, 34]", "shape": [T, 2, 34, 34], "T": T, "sensor_size": [34, 34],
            "polarity_channels": ["OFF", "ON"],
            "binning": {"method": "events_to_frames n_bins", "n_bins": T, "time_range_us": [0, 300_001]},
            "source": "mfpsn.data.dvs_digits (synthetic saccades of scikit-learn digits)"}
    model = {"arch": "dvs_convnet", "num_classes": 10, "T": T, "in_channels": 2, "input_size": 34,
             "channels": [16, 32, 32], "input_pool": 2}
    tx, ty = _empty_like(test.frames, test.labels) if test_only else (train.frames, train.labels)
    return TaskData("dvs-digits", tx, ty, test.frames, test.labels, DIGITS, spec, model)


def _seq_digits(*, T: int, **_) -> TaskData:
    from mfpsn.data.dvs_digits import TEST_FRACTION, digit_images, stratified_split

    if T != 8:
        raise ValueError(f"T for seq-digits: expected 8 (one step per image column), found {T}")
    images, labels = digit_images()
    train_i, test_i = stratified_split(labels, TEST_FRACTION, 0)
    x = torch.from_numpy(images.astype(np.float32)).permute(0, 2, 1).unsqueeze(2)  # [N, column, 1, row]
    y = torch.from_numpy(labels)
    spec = {"layout": "[T, B, 1, 8]", "shape": [8, 1, 8], "T": 8, "sensor_size": [8, 8],
            "binning": {"method": "one image column per step", "scale": "pixel / 16"},
            "source": "sklearn.datasets.load_digits, split as mfpsn.data.dvs_digits"}
    model = {"arch": "seq_image_net", "num_classes": 10, "T": 8, "in_channels": 1, "length": 8, "width": 32,
             "fc_width": 64}
    return TaskData("seq-digits", x[train_i], y[train_i], x[test_i], y[test_i], DIGITS, spec, model)


def _shd_spec(T: int, source: str) -> dict[str, Any]:
    return {"layout": "[T, B, 140]", "shape": [T, 140], "T": T, "sensor_size": [700, 1],
            "binning": {"method": "spike_train_to_bins", "n_bins": T, "bin_us": 10_000, "pool": 5,
                        "t_start_us": 0}, "events_transform": shd_bins(T).to_dict(), "source": source}


def _shd_model(T: int) -> dict[str, Any]:
    return {"arch": "shd_net", "in_features": 140, "num_classes": 20, "T": T, "hidden": 256, "n_hidden": 2,
            "dropout": 0.4}


def _spoken_digits(*, T: int, data_root, test_only: bool = False, **_) -> TaskData:
    from mfpsn.data.spoken_digits import load_spoken_digits

    vx, vy = load_spoken_digits("test", root=data_root, n_bins=T, pool=5, bin_us=10_000)
    tx, ty = _empty_like(vx, vy) if test_only else load_spoken_digits("train", root=data_root, n_bins=T, pool=5,
                                                                       bin_us=10_000)
    spec = _shd_spec(T, "mfpsn.data.spoken_digits (espeak-ng + cochlea model, SHD layout; test voices unseen)")
    return TaskData("spoken-digits", tx, ty, vx, vy, SHD_CLASSES, spec, _shd_model(T))


def _read_shd_split(path: Path, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x [N, T, 140], labels [N])`` of an SHD-layout split, read by the format's own reader
    (:func:`mfpsn.events.formats.shd.read_shd_samples`, the isolated HDF5 child) and binned by :func:`shd_bins`."""
    from mfpsn.events.formats.shd import read_shd_samples

    if not path.is_file():
        raise ValueError(f"shd: expected the file {str(path)!r} (SHD layout .h5)")
    samples, labels = read_shd_samples(path)
    transform = shd_bins(T)  # the object the card stores
    xs = [transform(ev) for ev in samples]
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(labels)


def _shd(*, T: int, data_root, test_only: bool = False, **_) -> TaskData:
    root = _need_root("shd", data_root)
    vx, vy = _read_shd_split(root / "shd_test.h5", T)
    tx, ty = _empty_like(vx, vy) if test_only else _read_shd_split(root / "shd_train.h5", T)
    return TaskData("shd", tx, ty, vx, vy, SHD_CLASSES, _shd_spec(T, f"SHD files in {root}"), _shd_model(T))


def nmnist_frames(T: int):
    """The camera tasks' binning (``nmnist``, ``nmnist-sim``): ``T`` equal bins from the first to the last event of
    each recording (N-MNIST files need not start at t = 0), written into the card as ``events_transform``."""
    from mfpsn.events.frames import ToFrames

    return ToFrames(n_bins=T)


def shd_bins(T: int, bin_us: int = 10_000, pool: int = 5):
    """The spike-train tasks' binning (``shd``, spike-train files for ``fsdd``): ``T`` bins of ``bin_us`` from
    t = 0 (the stimulus onset) over 700 units pooled by ``pool``, written into the card as ``events_transform``."""
    from mfpsn.events.frames import ToSpikeBins

    return ToSpikeBins(n_bins=T, bin_us=bin_us, n_units=700, pool=pool, t_start=0)


def _read_nmnist_split(folder: Path, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    from mfpsn.events import read_events

    if not folder.is_dir():
        raise ValueError(f"nmnist: expected the folder {str(folder)!r} with one sub-folder per digit 0..9")
    frames, labels = [], []
    transform = nmnist_frames(T)  # the object the card stores: mfpsn.card_inputs bins a user's file with it
    for digit in range(10):
        for path in sorted((folder / str(digit)).glob("*.bin")):
            ev = read_events(path, format="nmnist", sensor_size=(34, 34))
            frames.append(transform(ev) if len(ev) else np.zeros((T, 2, 34, 34), np.float32))
            labels.append(digit)
    if not frames:
        raise ValueError(f"nmnist: no '<digit>/*.bin' files under {str(folder)!r}")
    return torch.from_numpy(np.stack(frames)), torch.tensor(labels, dtype=torch.int64)


def _nmnist_model(T: int) -> dict[str, Any]:
    return {"arch": "dvs_convnet", "num_classes": 10, "T": T, "in_channels": 2, "input_size": 34,
            "channels": [16, 32, 32], "input_pool": 1}


def _nmnist(*, T: int, data_root, test_only: bool = False, **_) -> TaskData:
    root = _need_root("nmnist", data_root)
    vx, vy = _read_nmnist_split(root / "Test", T)
    tx, ty = _empty_like(vx, vy) if test_only else _read_nmnist_split(root / "Train", T)
    spec = {"layout": "[T, B, 2, 34, 34]", "shape": [T, 2, 34, 34], "T": T, "sensor_size": [34, 34],
            "polarity_channels": ["OFF", "ON"],
            "binning": {"method": "events_to_frames n_bins", "n_bins": T, "time_range_us": "[first event, last event]"},
            "events_transform": nmnist_frames(T).to_dict(), "source": f"N-MNIST folders in {root}"}
    return TaskData("nmnist", tx, ty, vx, vy, DIGITS, spec, _nmnist_model(T))


def _nmnist_sim(*, T: int, data_root, test_only: bool = False, **_) -> TaskData:
    from mfpsn.data.nmnist_sim import GENERATOR_VERSION, NMNIST_SIM_CONFIG, load_nmnist_sim

    root = _need_root("nmnist-sim", data_root)
    vx, vy = load_nmnist_sim(root, "test", T=T, limit=NMNIST_SIM_TEST, seed=NMNIST_SIM_SEED)
    if test_only:
        tx, ty = _empty_like(vx, vy)
    else:
        tx, ty = load_nmnist_sim(root, "train", T=T, limit=NMNIST_SIM_TRAIN, seed=NMNIST_SIM_SEED)
    spec = {"layout": "[T, B, 2, 34, 34]", "shape": [T, 2, 34, 34], "T": T, "sensor_size": [34, 34],
            "polarity_channels": ["OFF", "ON"],
            "binning": {"method": "events_to_frames n_bins", "n_bins": T, "time_range_us": "[first event, last event]"},
            "events_transform": nmnist_frames(T).to_dict(),
            "simulator": {"module": "mfpsn.data.nmnist_sim", "version": GENERATOR_VERSION, "seed": NMNIST_SIM_SEED,
                          "saccades": NMNIST_SIM_CONFIG.as_dict()},
            "budget": {"train_digits": NMNIST_SIM_TRAIN, "test_digits": NMNIST_SIM_TEST,
                       "rule": "the first N digits of each split (all of them when a split holds fewer)"},
            "source": f"MNIST IDX files in {root} through the saccade simulator (N-MNIST protocol)",
            "licence": "MNIST (LeCun, Cortes, Burges), CC BY-SA 3.0"}
    return TaskData("nmnist-sim", tx, ty, vx, vy, DIGITS, spec, _nmnist_model(T))


def _cifar10(*, T: int, data_root, allow_pickle: bool, **_) -> TaskData:
    from mfpsn.training.cifar import read_cifar10

    if T != 32:
        raise ValueError(f"T for cifar10: expected 32 (one step per image column), found {T}")
    root = _need_root("cifar10", data_root)
    (tx, ty), (vx, vy) = read_cifar10(root, allow_pickle=allow_pickle)
    mean = tx.mean((0, 2, 3), keepdim=True)
    std = tx.std((0, 2, 3), keepdim=True)

    def seq(images: torch.Tensor) -> torch.Tensor:  # [N, 3, H, W] -> [N, W = T, 3, H]
        return ((images - mean) / std).permute(0, 3, 1, 2).contiguous()

    spec = {"layout": "[T, B, 3, 32]", "shape": [32, 3, 32], "T": 32, "sensor_size": [32, 32],
            "binning": {"method": "one image column per step", "normalise": "per-channel train mean/std"},
            "source": f"CIFAR-10 python batches in {root}"}
    model = {"arch": "seq_image_net", "num_classes": 10, "T": 32, "in_channels": 3, "length": 32, "width": 128,
             "fc_width": 256}
    return TaskData("cifar10", seq(tx), ty, seq(vx), vy, CIFAR10_CLASSES, spec, model)


def pixel_transform(task: str):
    """The :class:`~mfpsn.data.pixels.PixelSequence` of a pixel-sequence task (``smnist``, ``psmnist``,
    ``sfmnist``): row-major, psMNIST with the fixed permutation of :data:`PSMNIST_SEED`."""
    from mfpsn.data.pixels import PixelSequence

    if task not in ("smnist", "psmnist", "sfmnist"):
        raise ValueError(f"task: expected 'smnist', 'psmnist' or 'sfmnist', found {task!r}")
    return PixelSequence.permuted(PSMNIST_SEED) if task == "psmnist" else PixelSequence()


# The first test labels of the two data sets: their IDX files have the same names, so a folder of one given for the
# other would train silently on the wrong images; a folder that starts like the other data set is refused.
TEST_LABELS_START = {"MNIST": (7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6),
                     "Fashion-MNIST": (9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5)}
FASHION_HINT = "Debian: apt-get install dataset-fashion-mnist, then /usr/share/datasets/fashion-mnist"


def check_pixel_source(task: str, root: Path, test_labels: np.ndarray) -> None:
    """Raise ValueError when the IDX files in ``root`` are the other data set's (MNIST for ``sfmnist``,
    Fashion-MNIST for ``smnist``/``psmnist``), recognised by their first test labels."""
    want, other = ("Fashion-MNIST", "MNIST") if task == "sfmnist" else ("MNIST", "Fashion-MNIST")
    start = TEST_LABELS_START[other]
    if tuple(int(v) for v in test_labels[:len(start)]) == start:
        hint = f" ({FASHION_HINT})" if want == "Fashion-MNIST" else ""
        raise ValueError(f"data_root for task {task!r}: expected {want} IDX files, found {other}'s in {str(root)!r} "
                         f"(their test labels begin {list(start)}){hint}")


def _pixel_task(task: str, *, T: int, data_root, test_only: bool = False) -> TaskData:
    from mfpsn.data.mnist import load_mnist_split
    from mfpsn.data.pixels import STEPS

    if T != STEPS:
        raise ValueError(f"T for {task}: expected {STEPS} (one step per pixel), found {T}")
    root = _need_root(task, data_root)
    transform = pixel_transform(task)
    vi, vy = load_mnist_split(root, "test")
    check_pixel_source(task, root, vy)
    if test_only:
        ti, ty = vi[:0], vy[:0]
    else:
        ti, ty = load_mnist_split(root, "train")
    fashion = task == "sfmnist"
    spec = {"layout": "[T, B, 1]", "shape": [STEPS, 1], "T": STEPS, "sensor_size": [28, 28],
            "transform": transform.to_dict(),
            "source": f"{'Fashion-MNIST' if fashion else 'MNIST'} IDX files in {root}",
            "licence": ("Fashion-MNIST (Zalando Research), MIT licence" if fashion else
                        "MNIST (LeCun, Cortes, Burges), CC BY-SA 3.0")}
    model = {"arch": "seq_fc_net", "in_features": 1, "num_classes": 10, "T": STEPS, "hidden": 128, "n_layers": 4}
    return TaskData(task, transform(ti), torch.from_numpy(ty), transform(vi), torch.from_numpy(vy),
                    FASHION_CLASSES if fashion else DIGITS, spec, model)


def _fsdd(*, T: int, data_root, test_only: bool = False, split: str = "official", augment: int = 0,
          espeak: int = 0) -> TaskData:
    from dataclasses import replace

    from mfpsn.data.audio_augment import AugmentConfig
    from mfpsn.data.fsdd import default_cache, load_fsdd
    from mfpsn.data.fsdd_espeak import espeak_digits
    from mfpsn.data.speech import SpeechFront

    root = _need_root("fsdd", data_root)
    front = replace(SpeechFront(), n_bins=T)
    d = load_fsdd(root, split, front=front, n_augment=int(augment), test_only=test_only)
    if espeak and not test_only:  # synthetic voices: a clean set plus one augmented set per augmented copy
        sets = [espeak_digits(front, int(espeak), seed=c, aug=None if c == 0 else AugmentConfig(),
                              cache=default_cache() / "espeak") for c in range(1 + int(augment))]
        d["train_x"] = np.concatenate([d["train_x"], *(x for x, _ in sets)])
        d["train_y"] = np.concatenate([d["train_y"], *(y for _, y in sets)])
    spec = {"layout": f"[T, B, {front.features}]", "shape": [T, front.features], "T": T,
            "sensor_size": [front.cochlea.n_channels, 1], "transform": front.to_dict(),
            "binning": {"method": "spike_train_to_bins", "n_bins": T, "bin_us": front.bin_us, "pool": front.pool,
                        "t_start_us": 0}, "events_transform": shd_bins(T, front.bin_us, front.pool).to_dict(),
            "split": split, "train_speakers": d["train_speakers"], "test_speakers": d["test_speakers"],
            "augment": int(augment), "espeak_per_voice": int(espeak),
            "source": f"FSDD WAV files in {root} (8 kHz), mfpsn.data.speech.SpeechFront",
            "licence": "Free Spoken Digit Dataset (Jakobovski et al.), CC BY-SA 4.0"}
    model = {**_shd_model(T), "num_classes": 10, "in_features": front.features}
    return TaskData("fsdd", torch.from_numpy(d["train_x"].astype(np.float32)), torch.from_numpy(d["train_y"]),
                    torch.from_numpy(d["test_x"].astype(np.float32)), torch.from_numpy(d["test_y"]), DIGITS, spec,
                    model)


def _random(*, T: int, seed: int, **_) -> TaskData:
    gen = torch.Generator().manual_seed(int(seed))

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 3, (n,), generator=gen)
        rows = torch.arange(8)
        band = (rows[None, :] // 3 == y[:, None]).float()  # [n, 8]: rows of the class band
        p = 0.1 + 0.4 * band[:, None, None, :, None].expand(n, T, 2, 8, 8)
        return (torch.rand(p.shape, generator=gen) < p).float(), y

    tx, ty = make(96)
    vx, vy = make(48)
    spec = {"layout": "[T, B, 2, 8, 8]", "shape": [T, 2, 8, 8], "T": T, "sensor_size": [8, 8],
            "binning": {"method": "Bernoulli spikes, p = 0.5 in the class's row band, else 0.1"},
            "source": f"random (seed {seed})"}
    model = {"arch": "dvs_convnet", "num_classes": 3, "T": T, "in_channels": 2, "input_size": 8, "channels": [4],
             "input_pool": 1}
    return TaskData("random", tx, ty, vx, vy, ["rows 0-2", "rows 3-5", "rows 6-7"], spec, model)
