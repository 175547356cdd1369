"""Data sets for the seed's small CNN: a synthetic "shapes" set that works offline, and torchvision's.

Every set is 3 x 32 x 32 images and 10 classes, split into train and test. Images are stored as
uint8 ``(N, C, 32, 32)`` tensors (CIFAR-10 as float32 would take 600 MB) and turned into float32
NCHW in [0, 1] one batch at a time by :meth:`DataSplit.batch`. MNIST and Fashion-MNIST (1 x 28 x 28)
are padded to 32 x 32 and repeated over the three colour channels there.

The torchvision sets are read from a data folder (``DREAMLAB_DATA``, default
``~/.cache/dreamlab/data``) and only downloaded on request, by :func:`download_dataset`, a generator
of progress like model weights. Nothing touches the disk or the network at import.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import tarfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from dreamlab.download import fetch
from dreamlab.errors import DreamLabError
from dreamlab.models.spec import Status
from dreamlab.models.weights import is_online

__all__ = [
    "DATASETS",
    "CIFAR10_CLASSES",
    "FASHION_CLASSES",
    "MNIST_CLASSES",
    "SHAPES_CLASSES",
    "DataSplit",
    "Dataset",
    "DatasetInfo",
    "data_dir",
    "dataset_info",
    "dataset_names",
    "dataset_status",
    "download_dataset",
    "load_dataset",
    "make_shapes",
    "shapes_dataset",
]

SIZE = 32  # every image is SIZE x SIZE, the seed's network input

SHAPES_CLASSES = (
    "circle",
    "square",
    "triangle",
    "cross",
    "ring",
    "h-stripes",
    "v-stripes",
    "diagonal",
    "checkerboard",
    "dots",
)
CIFAR10_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)

# ---------------------------------------------------------------- containers


@dataclass(frozen=True)
class DataSplit:
    """One split: ``images`` uint8 ``(N, C, 32, 32)`` (C = 1 or 3), ``labels`` int64 ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(
        self, index: torch.Tensor | slice, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """Images ``index`` as float32 NCHW in [0, 1] with 3 channels, on ``device``."""
        x = self.images[index].to(device)  # (B, C, 32, 32) uint8
        x = x.float().div_(255.0)  # (B, C, 32, 32) in [0, 1]
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x  # (B, 3, 32, 32)

    def uint8_images(self, index: torch.Tensor | list[int]) -> np.ndarray:
        """Images ``index`` as uint8 ``(B, 32, 32, 3)`` for display."""
        x = self.images[index]  # (B, C, 32, 32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return x.permute(0, 2, 3, 1).contiguous().numpy()  # (B, 32, 32, 3)


@dataclass(frozen=True)
class Dataset:
    """A data set ready to train on: its name, class names and both splits."""

    name: str
    classes: tuple[str, ...]
    train: DataSplit
    test: DataSplit


@dataclass(frozen=True)
class DatasetInfo:
    """What the app and the CLI show about a data set before loading it."""

    name: str
    title: str
    classes: tuple[str, ...]
    source: Literal["synthetic", "torchvision"]
    description: str


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "shapes",
            "Shapes (synthetic)",
            SHAPES_CLASSES,
            "synthetic",
            "10 kinds of coloured shapes and textures, generated from a seed; offline",
        ),
        DatasetInfo(
            "cifar10",
            "CIFAR-10",
            CIFAR10_CLASSES,
            "torchvision",
            "the seed's data set: 60,000 small colour photos, 163 MB download",
        ),
        DatasetInfo(
            "mnist",
            "MNIST",
            MNIST_CLASSES,
            "torchvision",
            "70,000 hand-written digits, 11 MB download",
        ),
        DatasetInfo(
            "fashion_mnist",
            "Fashion-MNIST",
            FASHION_CLASSES,
            "torchvision",
            "70,000 clothing pictures, 30 MB download",
        ),
    )
}


def dataset_names() -> list[str]:
    """Every data set's name, the offline one first."""
    return list(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """The info of one data set; an unknown name lists the known ones (one line)."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; data sets: {', '.join(DATASETS)}") from None


def data_dir() -> Path:
    """Where torchvision data sets live: ``DREAMLAB_DATA``, else ``~/.cache/dreamlab/data``."""
    env = os.environ.get("DREAMLAB_DATA", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dreamlab" / "data"


# ---------------------------------------------------------------- the synthetic shapes set


def _hsv_colours(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random foreground and background colours ``(n, 3)`` that always differ in brightness."""
    from matplotlib.colors import hsv_to_rgb

    dark = np.stack([rng.uniform(0, 1, n), rng.uniform(0.2, 1, n), rng.uniform(0.05, 0.45, n)], 1)
    light = np.stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0.7, 1, n)], 1)
    dark, light = hsv_to_rgb(dark), hsv_to_rgb(light)  # (n, 3) each
    swap = rng.random(n) < 0.5  # light shapes on dark grounds and the other way round
    fg = np.where(swap[:, None], dark, light)
    bg = np.where(swap[:, None], light, dark)
    return fg.astype(np.float32), bg.astype(np.float32)


def _shape_sdf(kind: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (in shape radii, < 0 inside) of a centred shape at local coords ``u, v``."""
    r = np.hypot(u, v)
    if kind == 0:  # circle
        return r - 1.0
    if kind == 1:  # square
        return np.maximum(np.abs(u), np.abs(v)) - 0.8
    if kind == 2:  # equilateral triangle: the outermost of its three edges' half-planes
        angles = np.deg2rad([90.0, 210.0, 330.0])
        return np.max([np.cos(a) * u + np.sin(a) * v for a in angles], axis=0) - 0.5
    if kind == 3:  # plus-shaped cross: union of two bars
        bar1 = np.maximum(np.abs(u) - 0.28, np.abs(v) - 1.0)
        bar2 = np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.28)
        return np.minimum(bar1, bar2)
    return np.abs(r - 0.72) - 0.22  # ring


def _texture_alpha(kind: int, x: np.ndarray, y: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] of a texture; ``x, y`` in pixels along the texture's own axes."""
    tau = 2 * np.pi
    if kind in (5, 6, 7):  # stripes across y: the angle makes them horizontal, vertical, diagonal
        return np.clip(0.5 + 1.5 * np.sin(tau * y / period), 0, 1)
    if kind == 8:  # checkerboard
        return np.clip(0.5 + 3.0 * np.sin(tau * x / period) * np.sin(tau * y / period), 0, 1)
    fx = (x / period) % 1.0 - 0.5  # dots on a square grid: distance to the nearest grid point
    fy = (y / period) % 1.0 - 0.5
    dist = np.hypot(fx, fy) * period  # pixels
    return np.clip(0.5 - (dist - 0.3 * period), 0, 1)


def _stripe_angle(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """The texture angle (radians): fixed by the class for stripes, free for the others."""
    jitter = np.deg2rad(rng.uniform(-12, 12, n))
    if kind == 5:  # horizontal stripes vary along y
        return jitter
    if kind == 6:
        return np.pi / 2 + jitter
    if kind == 7:  # either diagonal
        return np.where(rng.random(n) < 0.5, np.pi / 4, -np.pi / 4) + jitter
    if kind == 8:  # a checkerboard turned by 45 degrees would look like a grid of dots
        return jitter
    return rng.uniform(0, np.pi, n)


def _class_alpha(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Coverage maps ``(n, 32, 32)`` of ``n`` random instances of one class."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5  # pixel centres
    if kind < 5:  # a shape: random centre, radius and rotation
        cx, cy = rng.uniform(10, 22, (2, n, 1, 1))
        radius = rng.uniform(6.0, 11.0, (n, 1, 1))
        theta = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        dx, dy = xx - cx, yy - cy  # (n, 32, 32)
        u = (np.cos(theta) * dx + np.sin(theta) * dy) / radius
        v = (-np.sin(theta) * dx + np.cos(theta) * dy) / radius
        return np.clip(0.5 - _shape_sdf(kind, u, v) * radius, 0, 1)  # 1-pixel soft edge
    theta = _stripe_angle(kind, n, rng)[:, None, None]
    period = rng.uniform(5.0, 9.0, (n, 1, 1))
    ox, oy = rng.uniform(0, 32, (2, n, 1, 1))  # random phase
    x = np.cos(theta) * (xx - ox) + np.sin(theta) * (yy - oy)
    y = -np.sin(theta) * (xx - ox) + np.cos(theta) * (yy - oy)
    return _texture_alpha(kind, x, y, period)


def make_shapes(n: int, seed: int = 0) -> DataSplit:
    """``n`` synthetic images, classes balanced (``n // 10`` or one more each), deterministic.

    Each image is one of :data:`SHAPES_CLASSES` in a random colour on a random background, with a
    random position, size and rotation (shapes) or period, phase and angle (textures), plus noise.
    """
    if n < 0:
        raise ValueError(f"the number of images must be at least 0, got {n}")
    rng = np.random.default_rng(seed)
    k = len(SHAPES_CLASSES)
    labels = rng.permutation(np.arange(n) % k)  # balanced, shuffled
    alpha = np.empty((n, SIZE, SIZE), np.float32)
    for kind in range(k):
        idx = np.flatnonzero(labels == kind)
        alpha[idx] = _class_alpha(kind, idx.size, rng)
    fg, bg = _hsv_colours(n, rng)  # (n, 3)
    img = bg[:, :, None, None] + (fg - bg)[:, :, None, None] * alpha[:, None]  # (n, 3, 32, 32)
    sigma = rng.uniform(0.0, 0.08, (n, 1, 1, 1)).astype(np.float32)
    img += sigma * rng.standard_normal(img.shape, dtype=np.float32)
    pixels = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)  # (n, 3, 32, 32)
    return DataSplit(torch.from_numpy(pixels), torch.from_numpy(labels.astype(np.int64)))


def shapes_dataset(train_size: int = 5000, test_size: int = 1000, seed: int = 0) -> Dataset:
    """The shapes set: train and test drawn from independent streams of the same ``seed``."""
    seq = np.random.SeedSequence(seed)
    train_seed, test_seed = (int(s.generate_state(1)[0]) for s in seq.spawn(2))
    return Dataset(
        "shapes",
        SHAPES_CLASSES,
        make_shapes(train_size, train_seed),
        make_shapes(test_size, test_seed),
    )


# ---------------------------------------------------------------- torchvision sets on disk


@dataclass(frozen=True)
class _Remote:
    """One file to fetch: its URL, its md5, and where it goes (relative to the data folder)."""

    url: str
    md5: str
    target: str


def _remote_files(name: str) -> list[_Remote]:
    """The files a torchvision set needs, as torchvision itself names and checks them."""
    from torchvision.datasets import CIFAR10, MNIST, FashionMNIST

    if name == "cifar10":
        return [_Remote(CIFAR10.url, CIFAR10.tgz_md5, CIFAR10.filename)]
    cls = {"mnist": MNIST, "fashion_mnist": FashionMNIST}[name]
    return [
        _Remote(cls.mirrors[0] + file, md5, f"{cls.__name__}/raw/{file}")
        for file, md5 in cls.resources
    ]


def _extracted(name: str, root: Path) -> list[Path]:
    """The files that must exist for torchvision to read the set without downloading."""
    from torchvision.datasets import CIFAR10

    if name == "cifar10":
        base = root / CIFAR10.base_folder
        return [base / f for f, _ in (*CIFAR10.train_list, *CIFAR10.test_list)]
    return [root / Path(r.target).with_suffix("") for r in _remote_files(name)]


def dataset_status(name: str, root: Path | str | None = None) -> tuple[Status, str]:
    """(status, note) of a data set, without downloading anything."""
    info = dataset_info(name)
    if info.source == "synthetic":
        return "embedded", "generated on the fly: works offline"
    folder = Path(root) if root is not None else data_dir()
    if all(p.is_file() for p in _extracted(name, folder)):
        return "cached", f"in {folder}"
    if is_online(_remote_files(name)[0].url):
        return "downloadable", f"will be downloaded into {folder}"
    return "unavailable", f"offline and not in {folder} (set DREAMLAB_DATA to its folder)"


def _fetch(
    remote: _Remote, dest: Path, chunk: int, done: int, total: int
) -> Generator[tuple[int, int], None, tuple[int, int]]:
    """Download one file to ``dest`` with an md5 check, yielding cumulative (done, total) bytes;
    returns the final (done, total) so the next file's progress carries on from there."""
    return (
        yield from fetch(
            remote.url, dest, digest="md5", expected=remote.md5, chunk=chunk, done=done, total=total
        )
    )


def _extract(name: str, archive: Path, root: Path) -> None:
    """Unpack a downloaded file where torchvision looks for it, then drop the archive."""
    if name == "cifar10":
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(root, filter="data")  # "data": no absolute paths, links or devices
    else:
        with gzip.open(archive, "rb") as src, open(archive.with_suffix(""), "wb") as out:
            shutil.copyfileobj(src, out)
    archive.unlink(missing_ok=True)


def download_dataset(
    name: str, root: Path | str | None = None, chunk: int = 1 << 20
) -> Iterator[tuple[int, int]]:
    """Fetch a torchvision set into the data folder, yielding (bytes done, bytes known so far).

    Does nothing for the synthetic set or a set already there; raises ``ValueError`` (one line)
    when offline or when a download fails or is corrupted.
    """
    info = dataset_info(name)
    folder = Path(root) if root is not None else data_dir()
    if info.source == "synthetic" or dataset_status(name, folder)[0] == "cached":
        return
    remotes = _remote_files(name)
    if not is_online(remotes[0].url):
        raise DreamLabError(
            f"offline: cannot download {info.title}", "dataset_offline", name=info.title
        )
    done = total = 0
    for remote in remotes:
        dest = folder / remote.target
        done, total = yield from _fetch(remote, dest, chunk, done, total)
        _extract(name, dest, folder)


def _subset(split: DataSplit, size: int | None, seed: int) -> DataSplit:
    """A deterministic random subset of ``size`` images (all of them when ``size`` is None)."""
    if size is None or size >= len(split):
        return split
    index = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))[:size]
    return DataSplit(split.images[index], split.labels[index])


def _torchvision_split(name: str, root: Path, train: bool) -> DataSplit:
    """One split of a torchvision set from disk, as uint8 ``(N, C, 32, 32)``."""
    from torchvision.datasets import CIFAR10, MNIST, FashionMNIST

    if name == "cifar10":
        ds = CIFAR10(str(root), train=train, download=False)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32)
    else:
        cls = MNIST if name == "mnist" else FashionMNIST
        ds = cls(str(root), train=train, download=False)
        images = torch.nn.functional.pad(ds.data, (2, 2, 2, 2))[:, None]  # (N, 1, 32, 32)
    return DataSplit(images, torch.as_tensor(ds.targets, dtype=torch.int64))


@functools.lru_cache(maxsize=2)
def _load_cached(
    name: str, train_size: int | None, test_size: int | None, seed: int, root: str
) -> Dataset:
    if name == "shapes":
        return shapes_dataset(train_size or 5000, test_size or 1000, seed)
    folder = Path(root)
    status, note = dataset_status(name, folder)
    if status == "downloadable":
        raise DreamLabError(
            f"{DATASETS[name].title} is not downloaded yet; download it first",
            "dataset_not_downloaded",
            name=DATASETS[name].title,
        )
    if status != "cached":
        raise DreamLabError(
            f"{DATASETS[name].title} is not available: {note}",
            "dataset_offline_missing",
            name=DATASETS[name].title,
            folder=str(folder),
        )
    try:
        train = _torchvision_split(name, folder, True)
        test = _torchvision_split(name, folder, False)
    except (RuntimeError, OSError, ValueError) as exc:
        raise DreamLabError(
            f"cannot read {DATASETS[name].title} from {folder}: {exc}",
            "dataset_unreadable",
            name=DATASETS[name].title,
            folder=str(folder),
            reason=str(exc),
        ) from None
    return Dataset(
        name,
        DATASETS[name].classes,
        _subset(train, train_size, seed),
        _subset(test, test_size, seed + 1),
    )


def load_dataset(
    name: str = "shapes",
    *,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    root: Path | str | None = None,
) -> Dataset:
    """A data set by name, both splits in memory (the last two loaded are kept for reuse).

    ``train_size`` / ``test_size`` cap the splits (the shapes set generates exactly that many:
    5000 and 1000 by default); ``seed`` generates the shapes and picks the capped subsets.
    """
    dataset_info(name)
    for label, size in (("train_size", train_size), ("test_size", test_size)):
        if size is not None and (not isinstance(size, int) or size < 10):
            raise ValueError(f"{label} must be a whole number of at least 10, got {size!r}")
    folder = str(Path(root) if root is not None else data_dir())
    return _load_cached(name, train_size, test_size, int(seed), folder)
