"""Guided lessons: the bundled lesson reads in both languages, names only, a broken file is one line;
the app walks ``?lesson=cnn`` step by step with Next and Previous."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dreamlab.ui.app import PAGES
from dreamlab.ui.i18n import set_outside_run_lang, translate
from dreamlab.ui.parts import lesson as lesson_mod
from dreamlab.ui.parts.lesson import LessonError, lesson_names, load_lesson
from dreamlab.ui.settings import PAGE_SETTINGS, from_query

ROOT = Path(__file__).resolve().parents[3]


def test_the_blog_lesson_has_its_steps_in_both_languages() -> None:
    lesson = load_lesson("cnn")
    assert "cnn" in lesson_names()
    pages = [s.page for s in lesson.steps]
    assert pages == [
        "convolution",
        "convolution",
        "train",
        "feature_maps",
        "deepdream",
        "deepdream",
        "feature_vis",
    ]
    for step in lesson.steps:
        assert step.title["en"] and step.title["fr"] and step.note["en"] and step.note["fr"]
        assert step.title["en"] != step.title["fr"]
        settings, ignored = from_query(PAGE_SETTINGS[step.page], step.params)
        assert ignored == [], (step.page, ignored)  # every setting of every step is real
    assert lesson.steps[1].params["c"] == "rgb" and lesson.steps[5].params["noise"] == "1"


@pytest.mark.parametrize("name", ["../cnn", "/etc/passwd", "cnn.toml", "CNN", "", "a" * 60, "nope"])
def test_lessons_are_opened_by_name_only(name: str) -> None:
    with pytest.raises(LessonError):
        load_lesson(name)


def test_a_broken_lesson_file_is_one_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lesson_mod, "LESSONS_DIR", tmp_path)
    (tmp_path / "bad.toml").write_text("title.en = 'x'\n[[steps]]\npage = 'nowhere'\n")
    (tmp_path / "broken.toml").write_text("title = [")
    (tmp_path / "mine.toml").write_text(
        "title.en = 'Mine'\n[[steps]]\npage = 'convolution'\nquery = 's=2'\n"
        "title.en = 'Stride'\nnote.en = 'Bigger steps.'\n"
    )
    for name in ("bad", "broken"):
        with pytest.raises(LessonError):
            load_lesson(name)
    mine = load_lesson("mine")  # a teacher's own lesson, English only: French falls back
    assert mine.steps[0].params == {"s": "2"} and mine.steps[0].title == {"en": "Stride"}


def test_labels_in_both_languages() -> None:
    assert translate("en", "lesson.previous") == "Previous"
    assert translate("en", "lesson.next") == "Next"
    assert translate("fr", "lesson.previous") == "Précédent"
    assert translate("fr", "lesson.next") == "Suivant"
    assert translate("en", "lesson.step_of", k=2, n=7) == "step 2 of 7"
    assert translate("fr", "lesson.step_of", k=2, n=7) == "étape 2 sur 7"
    assert translate("en", "lesson.entry") == "Lesson"


def _q(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def _lesson_app(lang: str) -> AppTest:
    set_outside_run_lang(lang)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.query_params["lesson"] = "cnn"
    if lang != "en":
        at.query_params["lang"] = lang
    return at


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_app_walks_the_lesson_with_next_and_previous(lang: str) -> None:
    at = _lesson_app(lang).run()
    assert not at.exception, [e.value for e in at.exception]
    lesson = load_lesson("cnn")
    n = len(lesson.steps)
    for k in range(1, 4):  # the first steps: Convolution twice, then Train a CNN
        step = lesson.steps[k - 1]
        marks = [str(m.value) for m in at.markdown]
        assert f"### {step.title[lang]}" in marks, (k, marks[:5])
        captions = " ".join(str(c.value) for c in at.caption)
        assert translate(lang, "lesson.step_of", k=k, n=n) in captions
        assert _q(at, "step") == str(k)
        title = translate(lang, f"{step.page}.title")
        assert at.title[0].value == title
        if k == 2:
            assert at.radio(key="conv_color").value == "rgb"
        at.button(key="lesson_next").click().run()
        assert not at.exception, [e.value for e in at.exception]
    at.button(key="lesson_prev").click().run()
    assert _q(at, "step") == "3"
    assert at.button(key="lesson_prev").label == translate(lang, "lesson.previous")
    set_outside_run_lang("en")


def test_an_unknown_lesson_is_one_line_and_the_page_opens() -> None:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.query_params["lesson"] = "../../etc/passwd"
    at.run()
    assert not at.exception
    assert len(at.warning) == 1 and "no lesson" in at.warning[0].value.lower()
    assert at.title[0].value == translate("en", f"{PAGES[0][0]}.title")
