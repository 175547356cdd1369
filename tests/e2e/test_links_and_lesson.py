"""Every view is a link, and the blog post as a guided lesson, in a real browser."""

from __future__ import annotations

import re

import pytest

from dreamlab.ui.i18n import translate
from dreamlab.ui.parts.lesson import load_lesson
from tests.e2e.conftest import act_and_wait, copied_link, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _option(page, label: str):
    """A radio option by its label."""
    return page.get_by_role("radiogroup").get_by_text(label, exact=True)


def _checked(page, label: str) -> bool:
    """Whether the radio option with this label is the chosen one."""
    option = page.locator('[data-testid="stRadio"] label', has_text=re.compile(f"^{label}$"))
    return option.locator("input").first.is_checked()


def test_settings_of_two_pages_travel_in_acopied_link(page, browser, app_url: str) -> None:
    open_page(page, app_url, "")  # Convolution is the default page
    act_and_wait(page, lambda: _option(page, "RGB, per channel").click())
    conv_link = copied_link(page)
    assert "c=rgb" in conv_link and conv_link.startswith(app_url)
    open_page(page, app_url, "feature-maps")
    act_and_wait(page, lambda: _option(page, "most active").click())
    maps_link = copied_link(page)
    assert "o=mean" in maps_link
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = fresh.new_page()
        other.set_default_timeout(60_000)
        other.goto(conv_link)
        wait_idle(other)
        assert _checked(other, "RGB, per channel")
        other.goto(maps_link)
        wait_idle(other)
        assert _checked(other, "most active")
        assert "o=mean" in other.url  # the address keeps the view
        screenshot(other, "copied-link-feature-maps")
    finally:
        fresh.close()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_guided_lesson_walks_to_the_end(page, app_url: str, lang: str) -> None:
    lesson = load_lesson("cnn")
    n = len(lesson.steps)
    query = "lesson=cnn" + ("&lang=fr" if lang == "fr" else "")
    open_page(page, app_url, "", query=query)
    next_label = translate(lang, "lesson.next")
    for k, step in enumerate(lesson.steps, start=1):
        panel = page.locator(".st-key-lesson_panel")
        panel.get_by_text(translate(lang, "lesson.step_of", k=k, n=n)).wait_for()
        assert panel.locator("h3", has_text=step.title[lang]).count() == 1
        title = translate(lang, f"{step.page}.title")
        page.locator("h1", has_text=title).first.wait_for()
        assert f"step={k}" in page.url
        button = panel.get_by_role("button", name=next_label)
        if k == n:
            assert button.is_disabled()
            break
        act_and_wait(page, button.click)
    screenshot(page, f"lesson-end-{lang}")
    previous = page.locator(".st-key-lesson_panel").get_by_role(
        "button", name=translate(lang, "lesson.previous")
    )
    act_and_wait(page, previous.click)
    page.wait_for_url(re.compile(f"step={n - 1}"))
    title = translate(lang, f"{lesson.steps[n - 2].page}.title")
    page.locator("h1", has_text=title).first.wait_for()


@pytest.mark.parametrize("path", ["deepdream", "train"])
def test_french_clicked_during_the_first_load_changes_words_only(page, app_url: str, path) -> None:
    """Clicked while the page is still loading, the language switch leaves every setting as it
    was: the address, which holds every setting that is not at its default, stays bare."""
    page.goto(f"{app_url}/{path}")
    french = page.locator('[data-testid="stSidebar"]').get_by_text("Français", exact=True)
    french.wait_for()
    french.click()  # as soon as the sidebar is there: the page's first run is still going
    page.get_by_text("Langue", exact=True).first.wait_for()
    wait_idle(page)
    # the French run writes the address at its end: wait for it, then nothing else may be there
    page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'fr'")
    assert page.url.split("?", 1)[-1] == "lang=fr", page.url
    assert not page.locator('[data-testid="stException"]').count()
