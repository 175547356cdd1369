"""Class broadcast in real browsers: a teacher shares and dreams, a viewer of ?class=CODE watches.

The viewer's page keeps polling (a fragment), so it is never "idle": its steps wait for what they
expect to see instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import act_and_wait, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture
def viewer(browser) -> Iterator[object]:
    """A second browser context: another person, another Streamlit session."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def _slider_key(page, label: str, key: str) -> None:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    slider.get_by_role("slider").focus()
    page.keyboard.press(key)


def _slider_value(page, label: str) -> str:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    return slider.locator('[data-testid="stSliderThumbValue"]').first.inner_text()


def _share(page) -> str:
    act_and_wait(page, lambda: page.get_by_role("button", name="Share with the class").click())
    text = page.get_by_text("Class code:", exact=False).first.inner_text()
    code = re.search(r"Class code:\s*([A-Z0-9]{6})", text).group(1)
    link = page.locator("pre code").filter(has_text=f"class={code}")
    link.wait_for()  # the code block is drawn lazily
    assert link.count() == 1 and "/deepdream?class=" in link.inner_text()
    assert page.get_by_text("Scan to watch").count() == 1  # the QR code's caption
    return code


def test_viewer_watches_the_teachers_dream_and_takes_its_settings(page, viewer, app_url) -> None:
    open_page(page, app_url, "deepdream")
    code = _share(page)
    _slider_key(page, "Max side (pixels)", "Home")  # 128 px: a quick dream
    _slider_key(page, "Octaves", "Home")  # 1 octave of 10 steps: a setting the viewer must get
    screenshot(page, "broadcast-teacher-shared")

    viewer.goto(f"{app_url}/deepdream?class={code.lower()}")  # codes are case-insensitive
    viewer.get_by_text("You are watching the teacher's dream live", exact=False).wait_for()
    viewer.get_by_text("Waiting for the teacher's first dream", exact=False).wait_for()

    page.get_by_role("button", name="Dream", exact=True).click()
    viewer.locator('[data-testid="stImage"]').first.wait_for(timeout=120_000)
    viewer.locator('[data-testid="stProgress"]').first.wait_for()
    viewer.get_by_text("From the photo: octave", exact=False).first.wait_for(timeout=120_000)
    viewer.get_by_text("The teacher's dream is finished.").wait_for(timeout=180_000)
    assert viewer.locator('[data-testid="stImage"]').count() == 2  # the dream and its maps
    assert viewer.get_by_text("Octaves: 1 ·", exact=False).count() == 1
    screenshot(viewer, "broadcast-viewer-finished")
    page.get_by_text("Finished:", exact=False).wait_for(timeout=180_000)
    wait_idle(page)

    viewer.get_by_role("button", name="Dream with these settings").click()
    notice = viewer.get_by_text(f"The settings of class {code} are loaded", exact=False)
    notice.wait_for(timeout=120_000)
    wait_idle(viewer)
    assert "class=" not in viewer.url
    assert viewer.get_by_role("button", name="Dream", exact=True).count() == 1
    assert _slider_value(viewer, "Octaves") == "1"
    assert viewer.locator('[data-testid="stException"]').count() == 0


def test_wrong_code_is_one_line_and_the_page_still_works(page, app_url) -> None:
    open_page(page, app_url, "deepdream", "class=ZZZZZZ")
    alert = page.get_by_text("Class code ZZZZZZ is unknown or has expired", exact=False)
    assert alert.count() == 1
    dream = page.get_by_role("button", name="Dream", exact=True)
    dream.wait_for(timeout=60_000)  # a busy machine may draw the alert a moment before the button
    assert dream.count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_class_code_after_the_bare_address_opens_the_dream_page(page, app_url) -> None:
    page.goto(f"{app_url}/?class=ZZZZZZ")  # the default page is Convolution
    page.get_by_text("Class code ZZZZZZ is unknown or has expired", exact=False).wait_for()
    assert "/deepdream" in page.url and "class=ZZZZZZ" in page.url
    page.get_by_role("button", name="Dream", exact=True).wait_for()  # the page goes on below it
