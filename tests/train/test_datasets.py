"""Data sets: the synthetic shapes (deterministic, balanced, the right classes) and torchvision's
sets read from, or downloaded into, a data folder (with local files: never the network)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dreamlab.train import datasets as D
from dreamlab.train.datasets import (
    SHAPES_CLASSES,
    dataset_status,
    download_dataset,
    load_dataset,
    make_shapes,
    shapes_dataset,
)


@pytest.fixture(autouse=True)
def _empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the user's data folder."""
    folder = tmp_path / "data"
    monkeypatch.setenv("DREAMLAB_DATA", str(folder))
    return folder


# ---------------------------------------------------------------- shapes


def test_shapes_are_deterministic_from_the_seed() -> None:
    a, b, c = make_shapes(60, seed=3), make_shapes(60, seed=3), make_shapes(60, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


@pytest.mark.parametrize("n", [100, 205, 7])
def test_shapes_are_balanced(n: int) -> None:
    counts = np.bincount(make_shapes(n, seed=1).labels.numpy(), minlength=10)
    assert counts.sum() == n
    assert counts.max() - counts.min() <= 1


def test_shapes_layout_and_batches() -> None:
    split = make_shapes(30, seed=0)
    assert split.images.shape == (30, 3, 32, 32) and split.images.dtype == torch.uint8
    assert split.labels.dtype == torch.int64
    x = split.batch(torch.arange(5))
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert split.uint8_images([0, 1]).shape == (2, 32, 32, 3)


def test_train_and_test_splits_differ_and_split_sizes_hold() -> None:
    data = shapes_dataset(train_size=100, test_size=50, seed=0)
    assert (len(data.train), len(data.test)) == (100, 50)
    assert data.classes == SHAPES_CLASSES
    train = data.train.images.flatten(1)
    test = data.test.images.flatten(1)
    same = (train[:, None] == test[None]).all(-1)  # (100, 50)
    assert not same.any()


def _mean_gradient(images: torch.Tensor) -> tuple[float, float]:
    x = images.float().mean(1)  # (N, 32, 32)
    along_y = (x[:, 1:] - x[:, :-1]).abs().mean()
    along_x = (x[:, :, 1:] - x[:, :, :-1]).abs().mean()
    return float(along_y), float(along_x)


def test_stripe_classes_run_the_way_their_names_say() -> None:
    split = make_shapes(400, seed=2)
    h = split.images[split.labels == SHAPES_CLASSES.index("h-stripes")]
    v = split.images[split.labels == SHAPES_CLASSES.index("v-stripes")]
    h_y, h_x = _mean_gradient(h)
    v_y, v_x = _mean_gradient(v)
    assert h_y > 2 * h_x  # horizontal stripes change from row to row
    assert v_x > 2 * v_y


def test_shapes_differ_from_their_background() -> None:
    split = make_shapes(100, seed=5)
    std = split.images.float().flatten(1).std(1)  # (N,)
    assert float(std.min()) > 10  # every image shows something, never a flat colour


def test_load_dataset_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="unknown data set 'nope'; data sets: shapes"):
        load_dataset("nope")
    with pytest.raises(ValueError, match="train_size"):
        load_dataset("shapes", train_size=3)
    with pytest.raises(ValueError, match="at least 0"):
        make_shapes(-1)
    a = load_dataset("shapes", train_size=20, test_size=10)
    assert load_dataset("shapes", train_size=20, test_size=10) is a  # kept for reuse


# ---------------------------------------------------------------- torchvision sets


def _idx_images(images: np.ndarray) -> bytes:
    n, h, w = images.shape
    return struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def _fake_mnist(rng: np.random.Generator) -> dict[str, bytes]:
    """The four MNIST files (uncompressed), 30 training and 20 test images of 28 x 28."""
    return {
        "train-images-idx3-ubyte": _idx_images(rng.integers(1, 256, (30, 28, 28))),
        "train-labels-idx1-ubyte": _idx_labels(np.arange(30) % 10),
        "t10k-images-idx3-ubyte": _idx_images(rng.integers(1, 256, (20, 28, 28))),
        "t10k-labels-idx1-ubyte": _idx_labels(np.arange(20) % 10),
    }


def test_shapes_are_always_there_and_others_unavailable_offline(_empty_data_dir: Path) -> None:
    assert dataset_status("shapes")[0] == "embedded"
    for name in ("cifar10", "mnist", "fashion_mnist"):
        status, note = dataset_status(name)
        assert status == "unavailable" and str(_empty_data_dir) in note
    with pytest.raises(ValueError, match="MNIST is not available: offline"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="offline: cannot download"):
        list(download_dataset("mnist"))


def test_mnist_from_the_data_folder_is_padded_to_3x32x32(_empty_data_dir: Path) -> None:
    raw = _empty_data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True)
    files = _fake_mnist(np.random.default_rng(0))
    for name, data in files.items():
        (raw / name).write_bytes(data)
    assert dataset_status("mnist")[0] == "cached"
    data = load_dataset("mnist")
    assert (len(data.train), len(data.test)) == (30, 20)
    assert data.train.images.shape == (30, 1, 32, 32)
    x = data.train.batch(torch.arange(4))  # (4, 3, 32, 32)
    assert x.shape == (4, 3, 32, 32)
    assert torch.equal(x[:, 0], x[:, 2])  # grey repeated over the colour channels
    assert float(x[:, :, :2].abs().max()) == 0.0  # the 2-pixel padding
    original = np.frombuffer(files["train-images-idx3-ubyte"][16:], np.uint8).reshape(30, 28, 28)
    assert np.array_equal(data.train.images[:, 0, 2:30, 2:30].numpy(), original)
    assert data.train.labels.tolist() == list(np.arange(30) % 10)
    assert len(load_dataset("mnist", train_size=12).train) == 12


def test_download_reports_progress_checks_md5_and_extracts(
    _empty_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download path end to end, from local ``file://`` URLs (no network)."""
    served = tmp_path / "served"
    served.mkdir()
    remotes = []
    for name, data in _fake_mnist(np.random.default_rng(1)).items():
        packed = gzip.compress(data)
        (served / f"{name}.gz").write_bytes(packed)
        remotes.append(
            D._Remote(
                (served / f"{name}.gz").as_uri(),
                hashlib.md5(packed).hexdigest(),
                f"MNIST/raw/{name}.gz",
            )
        )
    monkeypatch.setattr(D, "_remote_files", lambda name: remotes)
    monkeypatch.setattr(D, "is_online", lambda url: True)
    progress = list(download_dataset("mnist", chunk=512))
    done = [p[0] for p in progress]
    assert done == sorted(done) and done[-1] == progress[-1][1]  # monotonic, ends at the total
    assert dataset_status("mnist")[0] == "cached"
    assert not list((_empty_data_dir / "MNIST" / "raw").glob("*.gz"))  # archives removed
    assert len(load_dataset("mnist").test) == 20
    assert list(download_dataset("mnist")) == []  # already there: nothing to do


def test_a_corrupted_download_leaves_nothing_behind(
    _empty_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"not mnist"))
    remote = D._Remote(bad.as_uri(), "0" * 32, "MNIST/raw/train-images-idx3-ubyte.gz")
    monkeypatch.setattr(D, "_remote_files", lambda name: [remote])
    monkeypatch.setattr(D, "is_online", lambda url: True)
    with pytest.raises(ValueError, match="md5 mismatch"):
        list(download_dataset("mnist"))
    assert not [p for p in _empty_data_dir.rglob("*") if p.is_file()]
