"""AppTest helpers: run one page headless, in either language."""

from __future__ import annotations

from importlib.util import find_spec

from streamlit.testing.v1 import AppTest

from dreamlab.ui.i18n import set_outside_run_lang

_SCRIPT = """
import importlib
import streamlit as st
from dreamlab.ui.widgets import setup_sidebar
page = importlib.import_module({path!r})
setup_sidebar()
page.render()
"""


def page_module(name: str) -> str:
    """The module of the page ``name``: ``dreamlab.ui.pages.NAME`` once moved there, else
    ``dreamlab.ui.NAME``."""
    moved = f"dreamlab.ui.pages.{name}"
    return moved if find_spec(moved) is not None else f"dreamlab.ui.{name}"


def page_app(
    module: str, *, lang: str = "en", present: bool = False, timeout: float = 120
) -> AppTest:
    """An AppTest of one page (``module``: its name, see ``page_module``), not yet run."""
    set_outside_run_lang(lang)  # AppTest formats widget options outside the script run
    at = AppTest.from_string(_SCRIPT.format(path=page_module(module)), default_timeout=timeout)
    at.session_state["lang"] = lang
    at.session_state["present"] = present
    return at


def assert_clean(at: AppTest) -> None:
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
