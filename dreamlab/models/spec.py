"""The shared types of the model registry: specs, statuses, where weights come from, and errors.

Kept apart from :mod:`dreamlab.models.registry` so that :mod:`~dreamlab.models.weights` and
:mod:`~dreamlab.models.builtin` can use them without importing the registry (which imports both):
the imports between these modules go one way only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import torch
from torch import nn

from dreamlab.errors import DreamLabError

__all__ = [
    "DEFAULT_MODEL",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LayerNotReachedError",
    "ModelError",
    "ModelInfo",
    "ModelSpec",
    "StateDict",
    "Status",
    "UnknownLayerError",
    "WeightsSource",
]

# The embedded model: every default network (CLI, pages, service, presets' fallbacks) names it here.
DEFAULT_MODEL = "efficientnet_lite0"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Whether something (a model's weights, a data set) can be had here and now.
Status = Literal["embedded", "cached", "downloadable", "unavailable"]
StateDict = dict[str, torch.Tensor]


class ModelError(DreamLabError):
    """A model that cannot be loaded or used; the message is one line, fit to show a user.

    ``kind`` and ``params`` say what went wrong for a translated interface (``dreamlab.errors``).
    """


class UnknownLayerError(ModelError, KeyError):
    """A layer name the model does not have; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class LayerNotReachedError(ModelError, RuntimeError):
    """A forward pass ended without running a wanted layer (the model's forward skips it)."""


class WeightsSource(Protocol):
    """Where one model's trained weights come from (see :mod:`dreamlab.models.weights`)."""

    def status(self) -> tuple[Status, str]: ...

    def load(self) -> tuple[StateDict | None, str]: ...

    def download(self) -> Iterator[tuple[int, int]]: ...


@dataclass(frozen=True)
class ModelSpec:
    """Everything DreamLab needs to know about one architecture.

    ``build`` makes the architecture with random weights; ``weights`` says where trained weights come
    from (an embedded file, a torchvision download, or none); ``layers`` are dotted
    ``named_modules()`` names usable as targets, shallow to deep.
    """

    name: str
    title: str
    build: Callable[[], nn.Module]
    weights: WeightsSource
    layers: tuple[str, ...]
    default_layer: str
    first_conv: str
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    categories: Callable[[], list[str]] = field(default=lambda: [])
    description: str = ""
    # whether a ``dreamlab serve`` backend has these weights: False for a model trained here
    servable: bool = True


@dataclass(frozen=True)
class ModelInfo:
    """What ``list_models()`` reports for one model."""

    name: str
    title: str
    status: Status
    input_size: int
    num_layers: int
    note: str = ""
