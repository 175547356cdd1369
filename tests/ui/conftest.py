"""AppTest helpers: run one page headless, in either language."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from dreamlab.ui.i18n import set_outside_run_lang

_SCRIPT = """
import streamlit as st
from dreamlab.ui.parts.layout import setup_sidebar
from dreamlab.ui.pages import {module}
setup_sidebar()
{module}.render()
"""


def page_app(
    module: str, *, lang: str = "en", present: bool = False, timeout: float = 120
) -> AppTest:
    """An AppTest of one page (``module`` in ``dreamlab.ui.pages``), not yet run."""
    set_outside_run_lang(lang)  # AppTest formats widget options outside the script run
    at = AppTest.from_string(_SCRIPT.format(module=module), default_timeout=timeout)
    at.session_state["lang"] = lang
    at.session_state["present"] = present
    return at


def assert_clean(at: AppTest) -> None:
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
