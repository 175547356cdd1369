"""The "Train a CNN" page (placeholder until its issue lands)."""

import streamlit as st

from dreamlab.ui.i18n import t

__all__ = ["render"]


def render() -> None:
    """Draw the page."""
    st.title(t("train.title"))
    st.info(t("train.not_ready"))
