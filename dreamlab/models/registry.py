"""The model registry: specs that carry their own weights, preprocessing, categories and layers.

``list_models()`` says what can be used and why not; ``load_model()`` returns a frozen, eval-mode
:class:`LoadedModel`. The engines never branch on a model's name: everything model-specific lives in
its :class:`ModelSpec`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dreamlab.images import ImageLike, as_uint8, to_tensor
from dreamlab.models import notes
from dreamlab.models.builtin import builtin_specs
from dreamlab.models.spec import (
    DEFAULT_MODEL,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LayerNotReachedError,
    ModelError,
    ModelInfo,
    ModelSpec,
    Status,
    UnknownLayerError,
)
from dreamlab.models.weights import as_state_dict, load_state_dict_bytes
from dreamlab.runtime.budget import module_bytes, shared_budget, track
from dreamlab.runtime.device import resolve_device

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LayerNotReachedError",
    "LoadedModel",
    "MODEL_SHARE",
    "ModelCache",
    "ModelError",
    "ModelInfo",
    "ModelSpec",
    "SpecOnlyModel",
    "Status",
    "UnknownLayerError",
    "get_spec",
    "list_models",
    "load_model",
    "model_cache",
    "load_spec",
    "load_spec_only",
    "load_state_dict_bytes",
    "model_status",
    "register_model",
    "registered_names",
    "unregister_model",
]

_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a spec to the registry (``replace=True`` to overwrite one of the same name)."""
    _ensure_builtin()  # the built-ins first, so a user's model never hides or precedes them
    if spec.name in _REGISTRY and not replace:
        raise ModelError(f"a model named {spec.name!r} is already registered")
    if spec.default_layer not in spec.layers:
        raise ModelError(f"{spec.name}: default layer {spec.default_layer!r} is not in its layers")
    _REGISTRY[spec.name] = spec
    return spec


_BUILTINS_LOADED = False


def unregister_model(name: str) -> bool:
    """Remove a model added with :func:`register_model` (built-ins stay); True if it was there."""
    _ensure_builtin()
    if name in {spec.name for spec in builtin_specs()}:
        raise ModelError(f"{name!r} is a built-in model and cannot be removed")
    return _REGISTRY.pop(name, None) is not None


def _ensure_builtin() -> None:
    """Register the built-in models on first use (not at import: rule 6)."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        for spec in builtin_specs():
            _REGISTRY.setdefault(spec.name, spec)
        _BUILTINS_LOADED = True


def registered_names() -> list[str]:
    """Names of every registered model, in registration order."""
    _ensure_builtin()
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model; an unknown name lists the known ones."""
    _ensure_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise ModelError(
            f"unknown model {name!r}; models: {known}", "unknown_model", name=name, models=known
        ) from None


def model_status(spec: ModelSpec) -> tuple[Status, str]:
    """(status, note) of a spec's weights, without downloading anything."""
    return spec.weights.status()


def list_models() -> list[ModelInfo]:
    """Every registered model with whether its weights can be had here and now."""
    infos = []
    for name in registered_names():
        spec = _REGISTRY[name]
        status, note = model_status(spec)
        infos.append(ModelInfo(name, spec.title, status, spec.input_size, len(spec.layers), note))
    return infos


def _apply_state_dict(module: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    """Load weights strictly, with a one-line error on any key or shape mismatch."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            k = shapes[0]
            parts.append(
                f"{len(shapes)} with the wrong shape (e.g. {k}: {tuple(state[k].shape)} "
                f"instead of {tuple(own[k].shape)})"
            )
        raise ModelError(
            f"these weights do not fit {name}: " + "; ".join(parts),
            "weights_mismatch",
            model=name,
            missing=len(missing),
            unexpected=len(unexpected),
            shapes=len(shapes),
        )
    module.load_state_dict(state)


@dataclass
class LoadedModel:
    """A frozen, eval-mode model on a device, with what the engines need to use it.

    The module may be shared by every browser session: treat it as read-only.
    """

    spec: ModelSpec
    module: nn.Module
    device: torch.device
    categories: list[str]
    weights_note: str = ""
    own_weights: bool = False  # the user's state dict: a backend does not have these weights
    _mean: torch.Tensor = field(init=False, repr=False)
    _std: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._mean = torch.tensor(self.spec.mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(self.spec.std, device=self.device).view(1, 3, 1, 1)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def servable(self) -> bool:
        """Whether a ``dreamlab serve`` backend can run this model's jobs (it has only the
        built-in weights: not the user's own, nor a model trained in DreamLab)."""
        return self.spec.servable and not self.own_weights

    @property
    def layers(self) -> list[str]:
        return list(self.spec.layers)

    @property
    def default_layer(self) -> str:
        return self.spec.default_layer

    @property
    def input_size(self) -> int:
        return self.spec.input_size

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW float in [0, 1] -> the normalized input the network was trained on."""
        return (x - self._mean.to(x.dtype)) / self._std.to(x.dtype)  # (B, 3, H, W)

    def check_layer(self, layer: str) -> str:
        """Return ``layer`` if the model has it, else raise an error listing the valid layers."""
        if layer not in self.spec.layers:
            valid = ", ".join(self.spec.layers)
            raise UnknownLayerError(
                f"unknown layer {layer!r} for {self.name}; valid layers: {valid}",
                "unknown_layer",
                layer=layer,
                model=self.name,
                layers=valid,
            )
        return layer

    def layer_module(self, layer: str) -> nn.Module:
        """The submodule behind a layer name."""
        return self.module.get_submodule(self.check_layer(layer))

    def fit_input(self, image: ImageLike | torch.Tensor) -> torch.Tensor:
        """An image as the classifier's input: shorter side resized, centre-cropped, (1, 3, S, S)."""
        x = image if isinstance(image, torch.Tensor) else to_tensor(as_uint8(image))
        x = x.to(self.device, torch.float32)  # (1, 3, H, W)
        size = self.spec.input_size
        h, w = x.shape[-2:]
        scale = size / min(h, w) * (1.0 if size < 64 else 256 / 224)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
        top, left = (nh - size) // 2, (nw - size) // 2
        return x[:, :, top : top + size, left : left + size]  # (1, 3, S, S)

    @torch.no_grad()
    def classify(self, image: ImageLike | torch.Tensor, top: int = 5) -> list[tuple[str, float]]:
        """Top-``top`` (label, probability) pairs for one image."""
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ValueError(f"top must be a whole number of at least 1, got {top!r}")
        logits = self.module(self.preprocess(self.fit_input(image)))  # (1, K)
        probs = logits.float().softmax(dim=1)[0]  # (K,)
        values, indices = probs.topk(min(top, probs.numel()))
        labels = self.categories
        return [
            (labels[i] if i < len(labels) else f"class {i}", float(p))
            for p, i in zip(values.tolist(), indices.tolist(), strict=True)
        ]


def _freeze(module: nn.Module) -> nn.Module:
    """Eval mode, no gradients for weights: a shared, read-only model."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def load_model(
    name: str = DEFAULT_MODEL,
    device: str | torch.device = "auto",
    *,
    weights: bytes | str | Path | dict[str, Any] | None = None,
) -> LoadedModel:
    """Build a registered model, load its weights and return it frozen on ``device``.

    ``weights`` overrides the spec's own weights with a state dict (or a file / bytes holding one,
    read with ``weights_only=True``). Without it, the spec's weights are used: embedded, or from the
    torch cache; a model whose weights are not here raises :class:`ModelError` saying why (call
    :func:`dreamlab.models.weights.download` first).
    """
    return load_spec(get_spec(name), device, weights=weights)


def load_spec(
    spec: ModelSpec,
    device: str | torch.device = "auto",
    *,
    weights: bytes | str | Path | dict[str, Any] | None = None,
) -> LoadedModel:
    """:func:`load_model` for a spec that need not be registered (a model kept for one session)."""
    dev = resolve_device(device)
    # Read (and check) the weights before building: a refusal is then instant, not after the
    # seconds a large architecture's random initialization takes.
    if weights is not None:
        state = (
            as_state_dict(weights) if isinstance(weights, dict) else load_state_dict_bytes(weights)
        )
        note = notes.note("yours")
    else:
        state, note = spec.weights.load()
    module = spec.build()
    if state is not None:
        _apply_state_dict(module, state, spec.title)
    _freeze(module).to(dev)
    loaded = LoadedModel(spec, module, dev, list(spec.categories()), note, weights is not None)
    return track(loaded, module_bytes(module))  # counted in the memory budget while it lives


# ---------------------------------------------------------------- the shared model cache

MODEL_SHARE = 0.35  # of the usable memory budget the cached models may fill (the newest always)


class ModelCache:
    """Loaded models shared by every browser session, by key (name, device, weights).

    Least recently used models are dropped when the cache holds more than ``max_bytes()`` (or
    ``max_entries`` models), never the newest and never one a running job uses (:meth:`using`).
    A dropped model's memory goes back once no session still holds it.
    """

    def __init__(self, max_bytes: Callable[[], int], max_entries: int = 4) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._models: OrderedDict[Hashable, LoadedModel] = OrderedDict()
        self._pins: dict[int, int] = {}  # id(model) -> running jobs using it
        self._lock = threading.RLock()

    def get(self, key: Hashable, load: Callable[[], LoadedModel]) -> LoadedModel:
        """The cached model for ``key``, else ``load()`` it (once, even if asked at once)."""
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = self._models[key] = load()
            self._models.move_to_end(key)
            self.evict()
            return model

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(module_bytes(m.module) for m in self._models.values())

    def keys(self) -> list[Hashable]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._models)

    def evict(self, everything: bool = False) -> list[Hashable]:
        """Drop least recently used, unpinned models while over the bounds (``everything``: all
        of them, as before a job is refused for memory); the dropped keys."""
        dropped: list[Hashable] = []
        with self._lock:
            for key in list(self._models)[:-1]:  # the newest always stays
                over = len(self._models) > self.max_entries or self.nbytes > self.max_bytes()
                if not (over or everything):
                    break
                if self._pins.get(id(self._models[key].module), 0) == 0:
                    del self._models[key]
                    dropped.append(key)
        return dropped

    @contextlib.contextmanager
    def using(self, model: LoadedModel | None) -> Iterator[None]:
        """Pin ``model`` while a job runs with it (it is not evicted meanwhile)."""
        if model is None:
            yield
            return
        key = id(model.module)
        with self._lock:
            self._pins[key] = self._pins.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._pins[key] -= 1
                if not self._pins[key]:
                    del self._pins[key]
                self.evict()


_MODEL_CACHE: list[ModelCache] = []
_MODEL_CACHE_LOCK = threading.Lock()


def model_cache() -> ModelCache:
    """The process's one model cache, bounded by :data:`MODEL_SHARE` of the memory budget."""
    with _MODEL_CACHE_LOCK:
        if not _MODEL_CACHE:
            budget = shared_budget()
            cache = ModelCache(lambda: int(budget.usable * MODEL_SHARE))
            # before a job is refused for memory, the models no job uses go (the newest stays)
            budget.add_reclaimer("model cache", lambda: cache.evict(everything=True))
            _MODEL_CACHE.append(cache)
        return _MODEL_CACHE[0]


class SpecOnlyModel(LoadedModel):
    """A model known by its spec alone (layers, categories, input size), for a front end whose
    jobs run at a backend: its weights are not read until something here uses :attr:`module`
    (then once, shared)."""

    @property  # type: ignore[override]
    def module(self) -> nn.Module:
        with _THIN_LOCK:
            if self._module is None:
                self._module = load_spec(self.spec, self.device).module
            return self._module

    @module.setter
    def module(self, value: nn.Module | None) -> None:
        self._module = value

    @property
    def weights_loaded(self) -> bool:
        return self._module is not None


_THIN_LOCK = threading.Lock()


def load_spec_only(name: str, device: str | torch.device = "cpu") -> LoadedModel:
    """A registered model's spec as a :class:`LoadedModel` without its weights (a thin front end:
    the backend runs the jobs); its weights load here only if something runs locally."""
    spec = get_spec(name)
    return SpecOnlyModel(spec, None, resolve_device(device), list(spec.categories()))  # type: ignore[arg-type]


def download(name: str) -> Iterator[tuple[int, int]]:
    """Download a model's weights into the torch cache, yielding (bytes done, total bytes)."""
    yield from get_spec(name).weights.download()
