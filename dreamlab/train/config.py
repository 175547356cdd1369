"""Training's settings: :class:`TrainConfig` (every default, in one place) and its presets.

``PRESETS["seed"]`` is the seed's own run (SGD, lr 0.001, momentum 0.9, batches of 4), beside
DeepDream's presets in :mod:`dreamlab.dream.config`; ``PRESETS["default"]`` is DreamLab's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from dreamlab.train.datasets import dataset_info
from dreamlab.validate import check_float, check_int

__all__ = ["OPTIMIZERS", "PRESETS", "TrainConfig", "TrainPreset"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting, with the defaults in one place (rule 7).

    The seed trained with SGD (lr 0.001, momentum 0.9, batches of 4) for 2 epochs of CIFAR-10. The
    defaults here use Adam (lr 0.003, batches of 32, 8 epochs of the 5000 shapes): on two CPU cores
    they pass 90 % test accuracy after 3 to 4 epochs (7 to 11 s) and end near 95 to 97 % (11 to 18 s);
    the seed's settings also get there but need about 6 epochs of 1250 batches (15 to 17 s) and end
    lower and wobblier, near 93 % (``bench/train_shapes.py``, ``bench/results/``).
    ``optimizer="sgd", lr=0.001, batch_size=4`` gives the seed's run.
    """

    dataset: str = "shapes"
    optimizer: Literal["sgd", "adam"] = "adam"
    lr: float = 0.003
    momentum: float = 0.9  # SGD only
    batch_size: int = 32
    epochs: int = 8
    seed: int = 0  # weights initialisation and batch order
    data_seed: int = 0  # the shapes set and subsets: a fixed test set, comparable across runs
    train_size: int | None = None  # None: the whole set (5000 generated shapes)
    test_size: int | None = None  # None: the whole set (1000 generated shapes)
    device: str = "auto"
    previews: int = 10  # test images whose predictions are shown live
    preview_every: int = 20  # batches between two preview predictions
    data_root: str | None = None  # None: DREAMLAB_DATA or ~/.cache/dreamlab/data
    # torch CPU threads while training (None: leave torch's setting). This network's operations
    # are too small to gain from more threads, and on cores shared with other work two threads
    # made a batch 30 times slower (11 ms -> 340 ms) where one thread was unaffected.
    threads: int | None = 1

    def __post_init__(self) -> None:
        dataset_info(self.dataset)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; use sgd or adam")
        check_float("learning rate", self.lr, 1e-6, 10.0)
        check_float("momentum", self.momentum, 0.0, 0.999)
        check_int("batch size", self.batch_size, 1, 4096)
        check_int("epochs", self.epochs, 1, 1000)
        check_int("seed", self.seed, 0, 2**63 - 1)
        check_int("data seed", self.data_seed, 0, 2**63 - 1)
        check_int("previews", self.previews, 0, 64)
        check_int("preview_every", self.preview_every, 1, 10**6)
        if self.threads is not None:
            check_int("threads", self.threads, 1, 256)
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                check_int(name.replace("_", " "), getattr(self, name), 10, 10**6)

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (str, numbers, None): fit for metadata and ``weights_only`` files."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainPreset:
    """A named training setting: a short description and the config it stands for."""

    name: str
    description: str
    config: TrainConfig


PRESETS: dict[str, TrainPreset] = {
    "default": TrainPreset("default", "DreamLab's: Adam, lr 0.003, batches of 32", TrainConfig()),
    "seed": TrainPreset(
        "seed",
        "the blog's: SGD, lr 0.001, momentum 0.9, batches of 4",
        TrainConfig(optimizer="sgd", lr=0.001, momentum=0.9, batch_size=4),
    ),
}
