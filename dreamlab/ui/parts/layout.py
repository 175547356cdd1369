"""The page layout every page shares: the sidebar (language, presenter mode, device), columns,
the folded advanced controls, the lesson box, and errors as one line."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, nullcontext

import streamlit as st

from dreamlab.backend import set_session
from dreamlab.runtime.device import available_devices
from dreamlab.ui.i18n import LANGS, error_text, t
from dreamlab.ui.theme import PRESENTER_CSS, presenting

__all__ = [
    "advanced_controls",
    "device_choice",
    "error_line",
    "lesson",
    "page_columns",
    "setup_sidebar",
    "show_error",
    "view_columns",
]


def _init_from_query() -> None:
    """``?lang=fr`` and ``?present=1`` set the session's defaults (a teacher's link)."""
    if "lang" not in st.session_state:
        lang = st.query_params.get("lang", "en")
        st.session_state["lang"] = lang if lang in LANGS else "en"
    if "present" not in st.session_state:
        st.session_state["present"] = st.query_params.get("present", "0") in ("1", "true", "yes")


def setup_sidebar() -> None:
    """Language switch, presenter mode and device picker, drawn on every page; this browser
    session's id for the backend (its jobs are queued and bounded as this session's)."""
    set_session(st.session_state.setdefault("_backend_session", uuid.uuid4().hex))
    _init_from_query()
    with st.sidebar:
        st.radio(
            t("common.language"),
            list(LANGS),
            key="lang",
            format_func=LANGS.__getitem__,
            horizontal=True,
        )
        st.toggle(t("common.presenter"), key="present", help=t("common.presenter_help"))
        devices = ["auto", *available_devices()]
        if st.session_state.get("device") not in devices:
            st.session_state["device"] = "auto"
        st.selectbox(t("common.device"), devices, key="device", help=t("common.device_help"))
    if presenting():
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)


def page_columns(spec: list[float], *, gap: str = "large") -> list:
    """The page's side-by-side columns; in presenter mode a wider last column (the pictures).

    ``spec`` is the normal ratio (``[1, 2]``: controls, view); presenting, the view gets a fifth
    more room: with :func:`view_columns` a picture in it is over 500 px wide in a 1400 px window.
    """
    if presenting():
        spec = [*spec[:-1], spec[-1] * 1.2]
    return st.columns(spec, gap=gap)


def view_columns(count: int) -> list:
    """``count`` columns for pictures side by side; stacked full width in presenter mode.

    On a projector two pictures side by side are each too small to read: stacked, each one gets
    the whole width of its column (the DeepDream page's dream and its maps, for instance).
    """
    if presenting():
        return [st.container() for _ in range(count)]
    return st.columns(count)


def device_choice() -> str:
    """The device picked in the sidebar (``"auto"`` by default)."""
    return str(st.session_state.get("device", "auto"))


def advanced_controls() -> AbstractContextManager[object]:
    """Where secondary controls go: folded away in presenter mode, inline otherwise."""
    if presenting():
        return st.expander(t("common.advanced"), expanded=False)
    return nullcontext()


def lesson(page: str) -> None:
    """The page's lesson (markdown with LaTeX), in a collapsible box."""
    with st.expander(t(f"{page}.lesson_title"), expanded=False):
        st.markdown(t(f"{page}.lesson"))


def error_line(exc: BaseException) -> str:
    """One line for the user, in their language (by the error's kind), never a traceback."""
    return error_text(exc)


def show_error(exc: BaseException) -> None:
    """Show an error as one line."""
    st.error(error_line(exc), icon="⚠️")
