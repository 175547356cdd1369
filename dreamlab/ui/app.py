"""The app's pages, in order, and the navigation over them."""

from __future__ import annotations

import gc
from collections.abc import Callable

import streamlit as st

from dreamlab.runtime.device import configure_threads
from dreamlab.ui import (
    deepdream,
    feature_maps,
    feature_vis,
    lesson,
    live_camera,
    train,
)
from dreamlab.ui.classroom import PARAM
from dreamlab.ui.i18n import t
from dreamlab.ui.pages import convolution
from dreamlab.ui.widgets import setup_sidebar

__all__ = ["PAGES", "build_navigation"]

_HOME = "home"  # the hidden default page's own path (it only forwards to the first page)

# (catalogue name, url path, icon, render function), in the app's page order (a public contract).
PAGES: list[tuple[str, str, str, Callable[[], None]]] = [
    ("convolution", "convolution", ":material/grid_on:", convolution.render),
    ("feature_maps", "feature-maps", ":material/layers:", feature_maps.render),
    ("deepdream", "deepdream", ":material/cyclone:", deepdream.render),
    ("live_camera", "live-camera", ":material/videocam:", live_camera.render),
    ("feature_vis", "feature-visualization", ":material/palette:", feature_vis.render),
    ("train", "train", ":material/model_training:", train.render),
]


@st.cache_resource(show_spinner=False)
def _configure_once() -> int:
    """Once per server process: torch thread settings, and models saved for everyone registered."""
    from dreamlab.runtime.memory import limit_malloc_arenas
    from dreamlab.train.store import register_saved_models

    limit_malloc_arenas()
    register_saved_models()
    # Streamlit collects all garbage after every rerun (runner.postScriptGC), GIL held: over the
    # 300,000 objects of the modules loaded by now that took 0.2-0.4 s per slider move. They
    # live as long as the server, so they are frozen: each collection skips them.
    gc.freeze()
    return configure_threads()


def build_navigation(pages: list[tuple[str, str, str, Callable[[], None]]]) -> st.navigation:
    """Sidebar settings first, then ``st.navigation`` over the pages with translated titles.

    A class link opened on another page (``/?class=CODE``, a code typed after the bare address)
    goes to the DeepDream page, where the class's dream is shown, with its query kept.
    """
    _configure_once()
    setup_sidebar()
    lesson.sidebar_entry()
    built = [
        st.Page(fn, title=t(f"{name}.title"), url_path=path, icon=icon)
        for name, path, icon, fn in pages
    ]
    # Streamlit serves its default page only at "/": a hidden default page sends "/" on to the
    # first page, so every page, the first included, has its own address ("/convolution").
    home = st.Page(
        pages[0][3], title=built[0].title, url_path=_HOME, default=True, visibility="hidden"
    )
    current = st.navigation([home, *built])
    step = lesson.route()  # a lesson's step opened, or Next / Previous: its page and settings
    if step is not None:
        target = next((p for p, row in zip(built, pages, strict=True) if row[0] == step[0]), None)
        if target is not None:
            st.switch_page(target, query_params=step[1])
    dream_page = next(
        (p for p, row in zip(built, pages, strict=True) if row[0] == "deepdream"), None
    )
    query = st.query_params.to_dict()
    if PARAM in query and dream_page is not None and current.url_path != "deepdream":
        st.switch_page(dream_page, query_params=query)
    if current is home:
        st.switch_page(built[0], query_params=query)
    lesson.panel()
    return current
