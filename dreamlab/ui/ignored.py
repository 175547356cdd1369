"""The one line that says which settings of an address were ignored (each at its default).

``query.load`` starts it for a run with the items it could not read; a widget that finds a value
the address gave unusable (a layer the model lacks, a channel out of range) calls
:func:`note_invalid`, and the line is redrawn with that item too. Its own module, so that the
shared widgets and the address code both use it without importing each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitAPIException

from dreamlab.ui.i18n import t

__all__ = ["note_invalid", "start"]

_IGNORED = "query_ignored"  # session key: the "key=value" items ignored in this address
_FRESH = "query_fresh"  # session key: widget key -> its "key=value" item, if from the address
_LINE = "query_line"  # session key: where the line is drawn in this run


def start(ignored: list[str], fresh: Mapping[str, str]) -> None:
    """A page's run begins: a slot for the line here, the items ignored so far, and the widget
    keys whose values came from the address (the line shows on the run that read the address)."""
    st.session_state[_LINE] = st.empty()
    st.session_state[_FRESH] = dict(fresh)
    st.session_state[_IGNORED] = list(ignored)
    _draw()


def note_invalid(key: str) -> bool:
    """Widget ``key``'s value is unusable; if the address gave it, the line says so (True)."""
    item = st.session_state.get(_FRESH, {}).pop(key, None)
    if item is None:
        return False
    st.session_state.setdefault(_IGNORED, []).append(item)
    _draw()
    return True


def _draw() -> None:
    items = st.session_state.get(_IGNORED)
    box = st.session_state.get(_LINE)
    if items and box is not None:
        # a fragment's rerun cannot draw outside itself: the line shows on the next full run
        with contextlib.suppress(StreamlitAPIException):
            box.warning(t("link.ignored", items=", ".join(items)), icon=":material/link_off:")
