"""Every page renders in both languages and in presenter mode, with its lesson, and no error."""

from __future__ import annotations

import pytest

from dreamlab.ui.app import PAGES
from dreamlab.ui.i18n import LANGS, translate
from tests.ui.conftest import assert_clean, page_app

MODULES = {
    "convolution": "convolution",
    "feature_maps": "feature_maps",
    "deepdream": "deepdream",
    "live_camera": "live_camera",
    "feature_vis": "feature_vis",
    "train": "train",
}


@pytest.mark.parametrize("lang", list(LANGS))
@pytest.mark.parametrize("name", [name for name, *_ in PAGES])
def test_page_renders_translated(name: str, lang: str) -> None:
    at = page_app(MODULES[name], lang=lang).run()
    assert_clean(at)
    assert at.title[0].value == translate(lang, f"{name}.title")
    labels = [e.label for e in at.expander]
    assert translate(lang, f"{name}.lesson_title") in labels
    lesson_text = translate(lang, f"{name}.lesson")
    assert any(m.value.strip() == lesson_text.strip() for m in at.markdown)


def test_french_pages_show_french_sidebar() -> None:
    at = page_app("feature_maps", lang="fr").run()
    assert at.sidebar.radio[0].label == "Langue"
    assert at.sidebar.toggle[0].label == "Mode présentation"


@pytest.mark.parametrize("name", [name for name, *_ in PAGES])
def test_presenter_mode_folds_advanced_controls(name: str) -> None:
    normal = page_app(MODULES[name]).run()
    present = page_app(MODULES[name], present=True).run()
    assert_clean(present)
    advanced = translate("en", "common.advanced")
    assert advanced in [e.label for e in present.expander]
    assert advanced not in [e.label for e in normal.expander]
