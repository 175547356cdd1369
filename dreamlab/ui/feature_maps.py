"""The "Feature maps" page (placeholder until its issue lands)."""

import streamlit as st

from dreamlab.ui.i18n import t

__all__ = ["render"]


def render() -> None:
    """Draw the page."""
    st.title(t("feature_maps.title"))
    st.info(t("feature_maps.not_ready"))
