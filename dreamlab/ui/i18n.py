"""Translations: one catalogue per language, no user-facing string scattered in the code.

A language's catalogue is the union of the TOML files in ``locales/<lang>/``, one file per page
plus ``common.toml``; a key is ``<file stem>.<key>`` (``convolution.title``). Nested tables give
dotted keys. Every language has exactly the same keys (a test checks it).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import tomllib

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "catalogue",
    "current_lang",
    "dataset_title",
    "error_text",
    "model_note",
    "model_title",
    "num",
    "set_outside_run_lang",
    "t",
    "translate",
]

LANGS: dict[str, str] = {"en": "English", "fr": "Français"}
DEFAULT_LANG = "en"
_LOCALES = Path(__file__).parent / "locales"


def _flatten(table: dict[str, Any], prefix: str) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, full))
        else:
            flat[full] = str(value)
    return flat


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Every string of one language, keyed ``file.key`` (read once per process)."""
    if lang not in LANGS:
        raise KeyError(f"unknown language {lang!r}; languages: {', '.join(LANGS)}")
    strings: dict[str, str] = {}
    for path in sorted((_LOCALES / lang).glob("*.toml")):
        with path.open("rb") as fh:
            strings.update(_flatten(tomllib.load(fh), path.stem))
    return strings


def translate(lang: str, key: str, /, **values: object) -> str:
    """The string for ``key`` in ``lang`` (English, then the key itself, if it is missing)."""
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANG).get(key) or key
    return text.format(**values) if values else text


_outside_run_lang = DEFAULT_LANG


def set_outside_run_lang(lang: str) -> None:
    """The language used when no script run is active (AppTest calling a widget's format_func)."""
    global _outside_run_lang
    _outside_run_lang = lang if lang in LANGS else DEFAULT_LANG


def current_lang() -> str:
    """The session's language: the sidebar switch, else ``?lang=``, else English."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return _outside_run_lang
    lang = st.session_state.get("lang")
    if lang not in LANGS:
        lang = st.query_params.get("lang", DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


def t(key: str, /, **values: object) -> str:
    """The string for ``key`` in the session's language, formatted with ``values``."""
    return translate(current_lang(), key, **values)


# ---------------------------------------------------------------- numbers

_NARROW_NBSP = "\u202f"  # French thousands separator (and before % : "45 %")


def num(value: float, spec: str = ".4g", lang: str | None = None) -> str:
    """``format(value, spec)`` in the session's language: French "62 006" and "0,45".

    ``spec`` is a Python format spec; a ``,`` in it asks for thousands separators.
    """
    text = format(value, spec)
    if (lang or current_lang()) == "fr":
        text = text.replace(",", _NARROW_NBSP).replace(".", ",")
    return text


# ---------------------------------------------------------------- backend text, translated at the edge


def error_text(exc: BaseException, lang: str | None = None) -> str:
    """An error in the session's language, looked up by its ``kind`` (``dreamlab.errors``).

    An error with no kind, or a kind the catalogues do not know, is shown as its English first line.
    """
    lang = lang or current_lang()
    kind = getattr(exc, "kind", "")
    params = dict(getattr(exc, "params", {}) or {})
    if kind and f"errors.{kind}" in catalogue(DEFAULT_LANG):
        values = {k: num(v, ",", lang) if isinstance(v, int) else v for k, v in params.items()}
        try:
            return translate(lang, f"errors.{kind}", **values)
        except (KeyError, IndexError, ValueError):  # a placeholder the raise site did not give
            pass
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# Model titles and weights notes come from the registry as English text that carries its
# catalogue key and parameters (dreamlab.models.notes.Text): built-in models' titles by name, a
# model trained in DreamLab and every note by its key; plain text (a title or note made elsewhere)
# is shown as it is.


def _keyed(text: str, lang: str) -> str | None:
    """A keyed text in ``lang`` (its ``data`` parameter a data set's name, translated), else None."""
    key = getattr(text, "key", "")
    if not key or f"common.{key}" not in catalogue(DEFAULT_LANG):
        return None
    values = dict(getattr(text, "params", {}))
    if "data" in values:
        values["data"] = dataset_title(values["data"], lang)
    return translate(lang, f"common.{key}", **values)


def dataset_title(name_or_title: str, lang: str | None = None) -> str:
    """A data set's title (``shapes`` or its English title ``Shapes (synthetic)``), translated."""
    from dreamlab.train.datasets import DATASETS

    lang = lang or current_lang()
    for name, info in DATASETS.items():
        if name_or_title in (name, info.title):
            return translate(lang, f"common.datasets.{name}")
    return name_or_title


def model_title(name: str, title: str, lang: str | None = None) -> str:
    """A model's title in the session's language (the registry's English one if none is known)."""
    lang = lang or current_lang()
    if f"common.model_titles.{name}" in catalogue(DEFAULT_LANG):
        return translate(lang, f"common.model_titles.{name}")
    shown = _keyed(title, lang)
    if shown is None:
        return title
    label = getattr(title, "params", {}).get("label", "")
    return f"{label} · {shown}" if label else shown


def model_note(note: str, lang: str | None = None) -> str:
    """A weights note or status reason (``list_models()``'s ``note``) in the session's language."""
    shown = _keyed(note, lang or current_lang())
    return note if shown is None else shown
