"""Every page's settings in the address, and **Copy link**.

A page calls :func:`load` before its widgets and :func:`save` once it has read them:

- :func:`load` gives the page's typed settings (``ui/settings.py``): from the address when it is
  new (opened, pasted, a lesson's step), else the ones this session last used on the page; it puts
  them into the widgets' keys (widgets then take no ``value=``: their value is the settings').
  A bad value or an unknown key is set aside: that setting keeps its default, and one line says
  which were ignored.
- :func:`save` keeps the settings for this session and writes those that differ from their
  defaults into the address (short keys, ``?k=sobel_x&s=2``); :func:`copy_link` then draws
  **Copy link** (with its QR code in presenter mode).

Widget values are keys and numbers, never translated labels: switching the language changes the
words and nothing else.
"""

from __future__ import annotations

import io
import string
from collections.abc import Callable
from dataclasses import fields
from typing import TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from dreamlab.ui.i18n import LANGS, t
from dreamlab.ui.ignored import start
from dreamlab.ui.settings import CLASS_SOURCE, from_query, param_of, to_query, widget_key
from dreamlab.ui.theme import presenting

__all__ = [
    "RESERVED",
    "adopt",
    "copy_link",
    "current",
    "forced",
    "keyed_tabs",
    "open_tab",
    "link",
    "load",
    "page_params",
    "qr_png",
    "reset",
    "save",
]

S = TypeVar("S")

# query keys that are not a page's settings: the session's, the class link's and the lesson's
RESERVED = ("lang", "present", "class", "lesson", "step")
_SETTINGS = "settings_{}"  # session key: the page's last settings (kept across page switches)
_WRITTEN = "query_written_{}"  # session key: the page's part of the address as last written
_LINK = "query_link"  # session key: the page's address as last written (what Copy link gives)
_LAST = "query_last"  # session key: (page, its part of the address) as last written
_FORCED = "query_forced_{}"  # session key: this run put the settings into the widgets
_RESET = "query_reset_{}"  # session key: the page's settings were replaced (lesson, class)


@st.cache_data(show_spinner=False, max_entries=64)
def qr_png(link: str) -> bytes | None:
    """The link as a QR code PNG (None if the ``segno`` package is missing: the link still works)."""
    try:
        import segno
    except ImportError:
        return None
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=8, border=2)
    return buf.getvalue()


def page_params() -> dict[str, str]:
    """The address's parameters that are the page's settings (the reserved ones left out)."""
    return {k: v for k, v in st.query_params.to_dict().items() if k not in RESERVED}


def _fields_used(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _seed(settings: object, force: bool) -> None:
    """Put the settings into their widgets' keys (all of them when ``force``, else the missing)."""
    for f in fields(settings):
        p = param_of(f)
        if p.widget is None or any(getattr(settings, n) is None for n in _fields_used(p.widget)):
            continue
        key = widget_key(settings, p)
        value = getattr(settings, f.name)
        if not force and key in st.session_state:
            continue
        if value is None:
            st.session_state.pop(key, None)
        else:
            st.session_state[key] = value


def load(page: str, cls: type[S]) -> S:
    """The page's settings for this run, put into its widgets' keys (see the module's doc)."""
    params = page_params()
    last = st.session_state.get(_LAST)
    if last is not None and last[0] != page and params == last[1]:
        params = {}  # the page we came from left its settings in the address: not ours
    current = st.session_state.get(_SETTINGS.format(page))
    force = bool(st.session_state.pop(_RESET.format(page), False))
    ignored, fresh = None, {}
    if params and params != st.session_state.get(_WRITTEN.format(page)):
        settings, ignored = from_query(cls, params)
        fresh = _fresh_items(settings, params)
        force = True
    elif isinstance(current, cls):
        settings = current
    else:
        settings, force = cls(), True
    st.session_state[_SETTINGS.format(page)] = settings
    st.session_state[_FORCED.format(page)] = force
    if force:  # the tabs open on the settings' tab (their key holds the language)
        for lang in LANGS:
            st.session_state.pop(f"{page}_tab_{lang}", None)
    _seed(settings, force)
    start(ignored or [], fresh)
    return settings


def current(page: str, cls: type[S]) -> S:
    """The page's settings as last loaded or saved in this session (its defaults if none)."""
    settings = st.session_state.get(_SETTINGS.format(page))
    return settings if isinstance(settings, cls) else cls()


def forced(page: str) -> bool:
    """Whether this run's :func:`load` replaced the widgets' values (a new address, a lesson's
    step, the class's settings): a page moves its settings that no one widget holds then."""
    return bool(st.session_state.get(_FORCED.format(page)))


def _fresh_items(settings: object, params: dict[str, str]) -> dict[str, str]:
    """Widget key -> ``key=value`` for the settings the address gave (checked later by the page)."""
    out = {}
    for f in fields(settings):
        p = param_of(f)
        if p.query in params:  # a setting no one widget holds is known by its field's name
            key = widget_key(settings, p) or f"settings.{f.name}"
            out[key] = f"{p.query}={params[p.query]}"[:40]
    return out


def reset(page: str, settings: object | None = None) -> None:
    """Replace a page's settings (a lesson's step, **Dream with these settings**): its widgets
    take them on the page's next run; None: the defaults, unless the address gives others."""
    st.session_state[_SETTINGS.format(page)] = settings
    st.session_state.pop(_WRITTEN.format(page), None)
    st.session_state.pop(_LAST, None)  # the next address is this page's, whatever it holds
    st.session_state[_RESET.format(page)] = True


adopt = reset  # the class's settings become this session's: the same move


def _reserved() -> dict[str, str]:
    """The address's non-page part: language and presenter mode as now, the lesson's step."""
    out = {k: v for k, v in st.query_params.to_dict().items() if k in ("class", "lesson", "step")}
    if st.session_state.get("lang", "en") != "en":
        out["lang"] = str(st.session_state["lang"])
    if presenting():
        out["present"] = "1"
    return out


def link(query: dict[str, str]) -> str:
    """This page's address with ``query`` (relative when the browser's address is unknown)."""
    parts = urlsplit(st.context.url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def save(page: str, settings: object) -> None:
    """Keep the settings and write them into the address (see the module's doc)."""
    st.session_state[_SETTINGS.format(page)] = settings
    ours = to_query(settings)
    full = {**_reserved(), **ours}
    # sent on every run, even when unchanged: a message of a run that a rerun cut short may never
    # reach the browser, whose address would then lag behind (a small message, no rerun)
    st.query_params.from_dict(full)
    st.session_state[_WRITTEN.format(page)] = ours
    st.session_state[_LAST] = (page, ours)
    st.session_state[_LINK] = link({k: v for k, v in full.items() if k != "class"})


def _is_upload(settings: object) -> bool:
    from dreamlab.images import sample_names

    image = getattr(settings, "image", None)
    return image is not None and (
        image in ("__upload__", CLASS_SOURCE) or image not in sample_names()
    )


def _upload_note(settings: object) -> str | None:
    """The note's key when the page's source is an upload (a photo, or DeepDream's video clip)."""
    if getattr(settings, "media", "photo") == "video":  # the photo is not used: the clip is
        return "video.upload_note" if getattr(settings, "clip", None) == "upload" else None
    return "link.upload_note" if _is_upload(settings) else None


def copy_link(settings: object) -> None:
    """**Copy link** where it is called (after :func:`save`): a button opening the address with
    its copy button, and its QR code in presenter mode. Inside a page's fragment too (a fragment
    cannot draw in the sidebar)."""
    url = str(st.session_state.get(_LINK, ""))
    note = _upload_note(settings)
    with st.popover(t("link.copy"), icon=":material/link:"):
        st.code(url, language=None, wrap_lines=True)
        st.caption(t("link.copy_help"))
        if note:
            st.caption(t(note))
        if presenting():
            qr = qr_png(url)
            if qr is not None:
                st.image(qr, width=260, caption=t("link.qr_caption"), output_format="PNG")
    if note:
        st.caption(t(note))


def open_tab(page: str, names: tuple[str, ...], current: str) -> str:
    """The name of the tab :func:`keyed_tabs` will open (known before the tabs are drawn)."""
    labels = [t(f"{page}.tab_{n}") for n in names]
    for lang in LANGS:  # tabs of the other language start afresh, on the settings' tab
        if f"{page}_tab_{lang}" != _tab_key(page):
            st.session_state.pop(f"{page}_tab_{lang}", None)
    shown = st.session_state.get(_tab_key(page))
    if shown in labels:
        return names[labels.index(shown)]
    return current if current in names else names[0]


def _tab_key(page: str) -> str:
    from dreamlab.ui.i18n import current_lang

    return f"{page}_tab_{current_lang()}"


def keyed_tabs(
    page: str, names: tuple[str, ...], current: str, on_change: Callable[[], None] | str = "rerun"
) -> list:
    """``st.tabs`` opened on the tab named ``current`` (one of ``names``), never on a label.

    The tabs' key holds the language, so a language switch makes new tabs opened on the same name.
    ``on_change``: a tab switch reruns (the default) or calls this (e.g. a rerun of fragments).
    """
    labels = [t(f"{page}.tab_{n}") for n in names]
    key = _tab_key(page)
    if st.session_state.get(key) not in labels:
        st.session_state.pop(key, None)
    default = labels[names.index(current)] if current in names else labels[0]
    return list(st.tabs(labels, key=key, default=default, on_change=on_change))
