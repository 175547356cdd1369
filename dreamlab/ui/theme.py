"""Presenter mode (a projector): whether it is on, and its large-type style."""

from __future__ import annotations

import streamlit as st

__all__ = ["PRESENTER_CSS", "presenting"]

# Presenter mode (a projector at 1400 px or less): large type, and nothing cut or overlapping.
PRESENTER_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 1.3rem; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; }
h1 { font-size: 3rem !important; }
/* the page uses the whole width: images get large */
[data-testid="stMainBlockContainer"] { max-width: 100%; padding-left: 2rem; padding-right: 2rem; }
/* sidebar: page names and labels wrap instead of being cut ("Feature visual...") */
[data-testid="stSidebarNav"] [data-testid="stMarkdownContainer"] p { font-size: 18px !important; }
[data-testid="stSidebarNav"] .stMarkdownEllipsis { white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; }
[data-testid="stSidebarNav"] span, [data-testid="stSidebar"] label p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
/* buttons and download buttons: the whole label, on two lines if need be ("PNG (f...") */
[data-testid="stBaseButton-secondary"], [data-testid="stBaseButton-primary"],
[data-testid="stDownloadButton"] button { height: auto; min-height: 2.6rem; }
[data-testid="stBaseButton-secondary"] p, [data-testid="stBaseButton-primary"] p,
[data-testid="stDownloadButton"] button p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  font-size: 1.1rem;
}
/* sliders: the value above the thumb gets room above the track, the end labels below it */
[data-testid="stSlider"] { padding-top: 0.9rem; }
[data-testid="stSliderThumbValue"] { font-size: 1rem; top: -2.1rem; white-space: nowrap; }
[data-testid="stSliderTickBarMin"], [data-testid="stSliderTickBarMax"] { font-size: 0.9rem; }
/* widget labels and captions wrap, never clipped */
[data-testid="stWidgetLabel"] p { white-space: normal !important; overflow: visible !important; }
[data-testid="stCaptionContainer"] { font-size: 1.05rem; }
/* a picked option is an <input> (it cannot wrap): large enough to read on a projector, small
   enough that a model's title fits; the open list's options alike */
[data-testid="stSelectbox"] input, [data-testid="stSelectbox"] [role="combobox"],
[data-testid="stSelectbox"] [role="combobox"] *, [role="listbox"] [role="option"] {
  font-size: 18px !important; }
</style>
"""


def presenting() -> bool:
    """Whether presenter mode (large type, essential controls only) is on."""
    return bool(st.session_state.get("present", False))
