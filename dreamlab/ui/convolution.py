"""The "Convolution" page (placeholder until its issue lands)."""

import streamlit as st

from dreamlab.ui.i18n import t

__all__ = ["render"]


def render() -> None:
    """Draw the page."""
    st.title(t("convolution.title"))
    st.info(t("convolution.not_ready"))
