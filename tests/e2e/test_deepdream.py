"""DeepDream in a real browser: press Dream, see frames arrive, press Stop, download the PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamlab.media import read_png_params
from tests.e2e.conftest import open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _slider_to_max(page, label: str) -> None:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    slider.get_by_role("slider").focus()
    page.keyboard.press("End")


def test_dream_stop_and_download(page, app_url: str) -> None:
    open_page(page, app_url, "deepdream")
    assert page.get_by_role("button", name="Dream", exact=True).count() == 1
    assert page.get_by_text("Stop", exact=True).count() == 0  # only while dreaming
    _slider_to_max(page, "Iterations per octave")  # 4 x 50 steps: time to press Stop
    page.get_by_role("button", name="Dream", exact=True).click()

    # frames arrive: the progress line moves and the live frame and maps are drawn
    page.get_by_text("From the photo: octave", exact=False).wait_for(timeout=120_000)
    page.get_by_text("The dream (", exact=False).first.wait_for()
    page.get_by_text("Maps of _blocks.9 for this frame", exact=False).first.wait_for()
    assert page.locator('[data-testid="stImage"]').count() >= 2  # the dream and its maps
    page.locator("h1").first.scroll_into_view_if_needed()
    screenshot(page, "deepdream-live")

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped after", exact=False).wait_for(timeout=120_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Every frame made so far is kept.", exact=False).count() == 1

    with page.expect_download() as info:
        page.get_by_role("button", name="PNG (final)").click()
    data = Path(info.value.path()).read_bytes()
    params = read_png_params(data)
    assert params["finished"] is False and 0 < params["steps"] < 200
    assert params["config"]["iterations"] == 50 and params["model"] == "efficientnet_lite0"
    page.get_by_text("Stopped after", exact=False).scroll_into_view_if_needed()
    screenshot(page, "deepdream-stopped")


def test_dream_from_photo_and_from_noise(page, app_url: str) -> None:
    open_page(page, app_url, "deepdream")
    size = page.locator('[data-testid="stSlider"]').filter(has_text="Max side (pixels)")
    size.get_by_role("slider").focus()
    page.keyboard.press("Home")  # 128 px: a quick dream
    page.locator('[data-testid="stCheckbox"]').filter(has_text="Also dream from noise").click()
    page.get_by_role("button", name="Dream", exact=True).click()
    page.get_by_text("Finished:", exact=False).wait_for(timeout=180_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("From a photo and from noise").count() == 1
    assert page.get_by_text("3 of 4 octaves fit this image", exact=False).count() == 1
    page.get_by_text("From a photo and from noise").scroll_into_view_if_needed()
    screenshot(page, "deepdream-noise")
