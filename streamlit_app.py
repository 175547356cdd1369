"""DreamLab's entry point: ``streamlit run streamlit_app.py``."""

import streamlit as st

from dreamlab.ui.app import PAGES, build_navigation

st.set_page_config(page_title="DreamLab", page_icon="🌀", layout="wide")
build_navigation(PAGES).run()
