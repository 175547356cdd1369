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
