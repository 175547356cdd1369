"""The trained-model store: checkpoints of the small CNN, kept for one session or saved for everyone.

A finished (or stopped) run becomes a model spec with its weights in memory
(:func:`session_spec`): registered nowhere, so only the session that trained it can use it. Saving
it for everyone is deliberate (:func:`save_model`): a user-given name (1 to 40 letters, digits,
``-`` and ``_``), a file ``NAME.pt`` in the models folder (``DREAMLAB_MODELS``, else
``~/.cache/dreamlab/models``) and a registered model, so ``list_models()`` and ``load_model(NAME)``
see it; :func:`register_saved_models` registers the folder's models again (a new process).

A checkpoint is ``{"state_dict": ..., "meta": {...}}`` with plain values only, readable with
``torch.load(weights_only=True)``: what ``dreamlab train -o FILE`` writes (:func:`save_trained`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dreamlab.errors import DreamLabError
from dreamlab.models import notes
from dreamlab.models.builtin import builtin_specs, tiny_cnn_spec
from dreamlab.models.registry import register_model, registered_names
from dreamlab.models.spec import ModelSpec, StateDict, Status
from dreamlab.models.weights import StateDictFile, load_state_dict_bytes
from dreamlab.train.datasets import DATASETS
from dreamlab.train.loop import EvalResult

__all__ = [
    "MAX_SAVED",
    "Meta",
    "SavedModel",
    "StateDictBytes",
    "check_model_name",
    "check_new_name",
    "load_trained",
    "models_dir",
    "register_saved_models",
    "register_trained",
    "save_model",
    "save_trained",
    "saved_models",
    "session_spec",
    "trained_bytes",
    "trained_classes",
]

Meta = dict[str, object]  # plain values only: str, numbers, lists, dicts
MAX_SAVED = 200  # models saved for everyone at once: a class cannot fill the disk
_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


@dataclass(frozen=True)
class StateDictBytes:
    """Weights held in memory (a run of this session, not on disk)."""

    data: bytes = field(repr=False)
    note: str = notes.note("saved")

    def status(self) -> tuple[Status, str]:
        return "cached", self.note

    def load(self) -> tuple[StateDict | None, str]:
        return load_state_dict_bytes(self.data), self.note

    def download(self) -> Iterator[tuple[int, int]]:
        yield from ()


@dataclass(frozen=True)
class SavedModel:
    """One model saved for everyone: its name, file and what it was trained on."""

    name: str
    path: Path
    dataset: str
    accuracy: float
    classes: tuple[str, ...]


# ---------------------------------------------------------------- checkpoints


def trained_bytes(result: EvalResult) -> bytes:
    """The checkpoint of ``result`` as bytes: ``{"state_dict": ..., "meta": {...}}``."""
    from dreamlab import __version__

    meta: Meta = {
        "architecture": "tiny_cnn",
        "dataset": result.config.dataset,
        "classes": list(result.classes),
        "accuracy": float(result.accuracy),
        "epoch": int(result.epoch),
        "step": int(result.step),
        "config": result.config.to_dict(),
        "dreamlab_version": __version__,
    }
    buf = io.BytesIO()
    torch.save({"state_dict": dict(result.state_dict), "meta": meta}, buf)
    return buf.getvalue()


def save_trained(path: Path | str, result: EvalResult) -> Path:
    """Write ``result``'s network and metadata to ``path`` (see :func:`trained_bytes`)."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise ValueError(f"folder {path.parent} does not exist")
    path.write_bytes(trained_bytes(result))
    return path


def load_trained(source: Path | str | bytes) -> tuple[StateDict, Meta]:
    """(state dict, metadata) of a checkpoint written by :func:`save_trained`, read safely."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise ValueError(f"not a DreamLab training checkpoint ({type(exc).__name__})") from None
    if not (isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict)):
        raise ValueError("not a DreamLab training checkpoint (no state_dict)")
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    _classes(meta)
    return obj["state_dict"], meta


def _classes(meta: Meta) -> list[str]:
    """The metadata's class names (a non-empty list of strings), else one line."""
    classes = meta.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise ValueError("the checkpoint's metadata has no list of classes")
    return [str(c) for c in classes]


def _accuracy(meta: Meta) -> float:
    value = meta.get("accuracy")
    return float(value) if isinstance(value, int | float) else float("nan")


def trained_classes(path: Path | str) -> list[str] | None:
    """The class names a DreamLab checkpoint file carries; None for any other weights file."""
    try:
        return _classes(load_trained(path)[1])
    except (ValueError, OSError):
        return None


# ---------------------------------------------------------------- specs


def _dataset_title(dataset: str) -> str:
    return DATASETS[dataset].title if dataset in DATASETS else dataset


def _trained_on(dataset: str) -> notes.Text:
    """The weights note of a model trained here on ``dataset`` (its name; the English says the
    title)."""
    return notes.note("trained_on", english={"data": _dataset_title(dataset)}, data=dataset)


def _spec(data: bytes, name: str, weights: StateDictFile | StateDictBytes, label: str) -> ModelSpec:
    """A small-CNN spec for checkpoint ``data``; ``label`` (a saved model's name) leads its title."""
    _, meta = load_trained(data)
    dataset, accuracy = str(meta.get("dataset", "?")), _accuracy(meta)
    digest = hashlib.sha256(data).hexdigest()
    acc = f"{accuracy:.0%}".removesuffix("%")  # "96", or "nan" for a checkpoint without one
    title = notes.trained_title(dataset, acc, digest[:6], label, _dataset_title(dataset))
    return tiny_cnn_spec(
        name=name,
        title=title,
        weights=weights,
        categories=_classes(meta),
    )


def session_spec(result: EvalResult) -> ModelSpec:
    """A model for the session that trained ``result`` (named ``tiny_cnn_<dataset>_<hash>``),
    its weights in memory: not registered, not on disk."""
    data = trained_bytes(result)
    digest = hashlib.sha256(data).hexdigest()
    note = _trained_on(result.config.dataset)
    name = f"tiny_cnn_{result.config.dataset}_{digest[:8]}"
    return _spec(data, name, StateDictBytes(data, note), "")


# ---------------------------------------------------------------- saved for everyone


def models_dir() -> Path:
    """Where models saved for everyone live: ``DREAMLAB_MODELS``, else ``~/.cache/dreamlab/models``."""
    env = os.environ.get("DREAMLAB_MODELS", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dreamlab" / "models"


def check_model_name(name: object) -> str:
    """A valid name for a saved model (1 to 40 letters, digits, ``-`` and ``_``), else one line."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DreamLabError(
            f"a model name is 1 to 40 letters, digits, - or _ (no spaces), got {name!r}",
            "model_name_invalid",
            name=str(name),
        )
    return name


def _taken(name: str) -> DreamLabError:
    return DreamLabError(
        f"a model named {name} already exists; choose another name", "model_name_taken", name=name
    )


def register_trained(path: Path | str, name: str | None = None) -> ModelSpec:
    """Register a checkpoint file as the model ``name`` (default: the file's stem); returns its
    spec. It then shows in ``list_models()`` and every page's model picker."""
    path = Path(path)
    data = path.read_bytes()
    _, meta = load_trained(data)
    note = _trained_on(str(meta.get("dataset", "?")))
    label = name or path.stem
    return register_model(_spec(data, label, StateDictFile(path, note), label), replace=True)


def check_new_name(name: object, folder: Path | str | None = None) -> str:
    """A valid name that no model (registered, or saved in the folder) has yet, else one line."""
    name = check_model_name(name)
    folder = Path(folder) if folder is not None else models_dir()
    if name in registered_names() or (folder / f"{name}.pt").exists():
        raise _taken(name)
    return name


def save_model(result: EvalResult, name: str, folder: Path | str | None = None) -> ModelSpec:
    """Save ``result`` for everyone as ``name`` and register it; a bad or taken name is refused."""
    folder = Path(folder) if folder is not None else models_dir()
    check_new_name(name, folder)
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.pt"))) >= MAX_SAVED:
        raise DreamLabError(
            f"the models folder is full ({MAX_SAVED} models)", "models_full", limit=MAX_SAVED
        )
    path = folder / f"{name}.pt"
    try:
        with path.open("xb") as fh:  # "x": two users saving the same name at once, one wins
            fh.write(trained_bytes(result))
    except FileExistsError:
        raise _taken(name) from None
    return register_trained(path, name)


def saved_models(folder: Path | str | None = None) -> list[SavedModel]:
    """Every model saved for everyone in the folder, by name; unreadable files are skipped."""
    folder = Path(folder) if folder is not None else models_dir()
    found: list[SavedModel] = []
    for path in sorted(folder.glob("*.pt")) if folder.is_dir() else []:
        if not _NAME.fullmatch(path.stem):
            continue
        try:
            _, meta = load_trained(path)
        except (ValueError, OSError):
            continue
        dataset = str(meta.get("dataset", "?"))
        found.append(SavedModel(path.stem, path, dataset, _accuracy(meta), tuple(_classes(meta))))
    return found


def register_saved_models(folder: Path | str | None = None) -> list[ModelSpec]:
    """Register every model saved in the folder (a built-in model's name is never replaced);
    returns the specs registered."""
    builtin = {spec.name for spec in builtin_specs()}
    return [
        register_trained(saved.path, saved.name)
        for saved in saved_models(folder)
        if saved.name not in builtin
    ]
