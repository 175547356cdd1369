"""Where a model's weights come from: embedded in a package, the torch cache, a file, or nowhere.

Each source answers ``status()`` without downloading, ``load()`` without downloading, and
``download()`` as a generator of progress so the UI can draw a bar (rule 2).
"""

from __future__ import annotations

import io
import os
import pickle
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from dreamlab.download import DownloadError, fetch
from dreamlab.models import notes
from dreamlab.models.spec import ModelError, StateDict, Status, WeightsSource

__all__ = [
    "EmbeddedFile",
    "NoWeights",
    "StateDictFile",
    "TorchvisionWeights",
    "WeightsSource",
    "as_state_dict",
    "is_online",
    "load_state_dict_bytes",
]


_ONLINE_CACHE: dict[str, tuple[float, bool]] = {}
_ONLINE_TTL_S = 60.0


def is_online(url: str = "https://download.pytorch.org", timeout: float = 1.5) -> bool:
    """Whether the host of ``url`` answers on its port (cached for a minute).

    ``DREAMLAB_OFFLINE=1`` (set by the tests) forces False without touching the network.
    """
    if os.environ.get("DREAMLAB_OFFLINE", "") not in ("", "0"):
        return False
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    cached = _ONLINE_CACHE.get(host)
    if cached and time.monotonic() - cached[0] < _ONLINE_TTL_S:
        return cached[1]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _ONLINE_CACHE[host] = (time.monotonic(), ok)
    return ok


def _read_weights(data: bytes | Path | str) -> bytes:
    """The raw bytes of a weights file (or the bytes themselves), as a :class:`ModelError`."""
    if not isinstance(data, str | Path):
        return bytes(data)
    try:
        return Path(data).read_bytes()
    except OSError as exc:
        raise ModelError(
            f"cannot read the weights file {Path(data).name}: {exc.strerror}"
        ) from None


def as_state_dict(obj: object) -> dict[str, torch.Tensor]:
    """Unwrap a checkpoint and check it maps names to tensors; strip DataParallel's prefix."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # a checkpoint with metadata around the weights
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise ModelError(
            "the file holds no state dict (a mapping of parameter names to tensors)",
            "no_state_dict",
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _looks_pickled(raw: bytes) -> bool:
    """Whether bytes are a ``torch.save`` zip or a pickle (protocol 2-5), not arbitrary garbage."""
    return raw.startswith(b"PK\x03\x04") or (len(raw) > 1 and raw[0] == 0x80 and 2 <= raw[1] <= 5)


def _not_weights() -> ModelError:
    return ModelError(
        "not a PyTorch weights file (expected a state dict saved with torch.save); "
        "it may be corrupt or truncated",
        "not_weights",
    )


def load_state_dict_bytes(data: bytes | Path | str) -> dict[str, torch.Tensor]:
    """Read a state dict safely (``weights_only=True``: never unpickle arbitrary objects)."""
    raw = _read_weights(data)
    if not raw:
        raise ModelError("the weights file is empty", "weights_empty")
    try:
        obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if _looks_pickled(raw):
            # torch's own message is many lines with terminal colour codes: say it in one line.
            raise ModelError(
                "refused: the file holds Python objects, not only tensors "
                "(weights are loaded with weights_only=True, never unpickled)",
                "weights_objects",
            ) from None
        raise _not_weights() from None
    except Exception:  # torch raises KeyError, EOFError, RuntimeError... for non-weights files
        raise _not_weights() from None
    return as_state_dict(obj)


def _safe_load(path: Path) -> StateDict:
    """``torch.load`` with ``weights_only=True`` and ``map_location="cpu"`` (works without a GPU)."""
    return load_state_dict_bytes(path)


@dataclass(frozen=True)
class EmbeddedFile:
    """Weights shipped inside an installed package: always here, no network."""

    path: Callable[[], Path]
    note: str = notes.note("embedded")

    def status(self) -> tuple[Status, str]:
        try:
            ok = self.path().is_file()
        except ImportError as exc:
            return "unavailable", notes.note("package", package=exc.name)
        return ("embedded", self.note) if ok else ("unavailable", notes.note("embedded_missing"))

    def load(self) -> tuple[StateDict | None, str]:
        status, note = self.status()
        if status != "embedded":
            raise ModelError(note)
        return _safe_load(self.path()), self.note

    def download(self) -> Iterator[tuple[int, int]]:
        yield from ()


@dataclass(frozen=True)
class NoWeights:
    """An architecture with random weights (e.g. the small CNN before training)."""

    note: str = notes.note("random")

    def status(self) -> tuple[Status, str]:
        return "embedded", self.note

    def load(self) -> tuple[StateDict | None, str]:
        return None, self.note

    def download(self) -> Iterator[tuple[int, int]]:
        yield from ()


@dataclass(frozen=True)
class StateDictFile:
    """A state dict saved on disk (a model trained in DreamLab)."""

    file: Path
    note: str = notes.note("saved")

    def status(self) -> tuple[Status, str]:
        if Path(self.file).is_file():
            return "cached", self.note
        return "unavailable", notes.note("file_missing", path=self.file)

    def load(self) -> tuple[StateDict | None, str]:
        if not Path(self.file).is_file():
            raise ModelError(f"weights file {self.file} is missing")
        return _safe_load(Path(self.file)), self.note

    def download(self) -> Iterator[tuple[int, int]]:
        yield from ()


@dataclass(frozen=True)
class TorchvisionWeights:
    """torchvision's published weights: in the torch hub cache, or downloadable when online."""

    url: str

    @property
    def file(self) -> Path:
        """Where torchvision itself would cache this file."""
        return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(self.url).path).name

    def status(self) -> tuple[Status, str]:
        if self.file.is_file():
            return "cached", notes.note("in_torch_cache", path=self.file)
        if is_online(self.url):
            return "downloadable", notes.note("download_first_use")
        return "unavailable", notes.note("offline_not_cached")

    def load(self) -> tuple[StateDict | None, str]:
        if not self.file.is_file():
            status, note = self.status()
            raise ModelError(
                "weights not downloaded yet; download them first"
                if status == "downloadable"
                else f"cannot load: {note}"
            )
        return _safe_load(self.file), notes.note("torchvision")

    def download(self, chunk: int = 1 << 20) -> Iterator[tuple[int, int]]:
        """Fetch into the cache, checking the hash prefix in the file name as torch.hub does."""
        if self.file.is_file():
            return
        if not is_online(self.url):
            raise ModelError("offline: cannot download the weights")
        expected = re.search(r"-([a-f0-9]{6,})\.", self.file.name)
        try:
            yield from fetch(
                self.url,
                self.file,
                digest="sha256",
                expected=expected.group(1) if expected else None,
                chunk=chunk,
            )
        except DownloadError as exc:
            raise ModelError(str(exc)) from None
