"""The whole app (navigation and every page title) through AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dreamlab.ui.app import PAGES
from dreamlab.ui.i18n import translate

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def test_app_runs_and_shows_first_page() -> None:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == translate("en", "convolution.title") == "Convolution"


def test_page_titles_are_the_documented_ones_in_order() -> None:
    titles = [translate("en", f"{name}.title") for name, *_ in PAGES]
    assert titles == [
        "Convolution",
        "Feature maps",
        "DeepDream",
        "Live camera",
        "Feature visualization",
        "Train a CNN",
    ]
