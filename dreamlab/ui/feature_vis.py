"""The "Feature visualization" page (placeholder until its issue lands)."""

import streamlit as st

from dreamlab.ui.i18n import t

__all__ = ["render"]


def render() -> None:
    """Draw the page."""
    st.title(t("feature_vis.title"))
    st.info(t("feature_vis.not_ready"))
