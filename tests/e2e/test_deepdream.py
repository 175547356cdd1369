"""DeepDream in a real browser: press Dream, see frames arrive, press Stop, download the PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamlab.media import read_png_params
from tests.e2e.conftest import act_and_wait, open_page, screenshot, wait_idle

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
    act_and_wait(page, lambda: page.keyboard.press("Home"))  # 128 px: a quick dream
    noise = page.locator('[data-testid="stCheckbox"]').filter(has_text="Also dream from noise")
    act_and_wait(page, lambda: noise.click())
    assert noise.get_by_role("checkbox").is_checked()
    page.get_by_role("button", name="Dream", exact=True).click()
    page.get_by_text("Finished:", exact=False).wait_for(timeout=180_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("From a photo and from noise").count() == 1
    assert page.get_by_text("3 of 4 octaves fit this image", exact=False).count() == 1
    page.get_by_text("From a photo and from noise").scroll_into_view_if_needed()
    screenshot(page, "deepdream-noise")


# ---------------------------------------------------------------- layout, Stop, scrub


_SCROLL = "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTop || window.scrollY"


def _inside(page, locator) -> bool:
    """Whether the element's box lies wholly inside the viewport, the page not scrolled."""
    box = locator.bounding_box()
    view = page.viewport_size
    scrolled = page.evaluate(_SCROLL)
    return (
        box is not None
        and scrolled == 0
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= view["width"]
        and box["y"] + box["height"] <= view["height"]
    )


_TO_TOP = """() => { window.scrollTo(0, 0);
    const main = document.querySelector('[data-testid="stMain"]'); if (main) main.scrollTop = 0; }"""


def _scrub_caption(page) -> str:
    captions = page.locator('[data-testid="stImageCaption"]').filter(has_text="loss")
    return captions.first.inner_text()


@pytest.mark.parametrize("size", [(1400, 1000), (1280, 720)])
def test_dream_button_and_live_dream_on_screen_then_stop_and_scrub(
    page, app_url: str, size: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    open_page(page, app_url, "deepdream")
    dream = page.get_by_role("button", name="Dream", exact=True)
    assert _inside(page, dream), (dream.bounding_box(), page.evaluate(_SCROLL))  # above the fold
    _slider_to_max(page, "Iterations per octave")  # 200 steps: time to look, then Stop
    page.evaluate("() => document.activeElement.blur()")
    page.evaluate(_TO_TOP)  # back where a fresh page is (focusing the slider scrolled to it)
    assert _inside(page, dream)
    dream.click()
    page.get_by_text("From the photo: octave", exact=False).wait_for(timeout=120_000)
    page.get_by_text("Maps of _blocks.9 for this frame", exact=False).first.wait_for()
    images = page.locator('[data-testid="stImage"]')
    assert images.count() >= 2
    assert _inside(page, images.nth(0)) and _inside(page, images.nth(1))  # the dream, its maps
    assert _inside(page, page.locator('[data-testid="stProgress"]').first)  # the progress line
    screenshot(page, f"deepdream-live-{size[0]}")

    page.get_by_role("button", name="Stop").click()
    status = page.get_by_text("Stopped after", exact=False)
    status.wait_for(timeout=120_000)
    wait_idle(page)
    stopped = status.inner_text()
    last = _scrub_caption(page)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Frame").get_by_role("slider")
    act_and_wait(page, lambda: (slider.focus(), page.keyboard.press("Home")))
    assert _scrub_caption(page) != last and _scrub_caption(page).startswith("Step 1 ")
    act_and_wait(page, lambda: page.keyboard.press("ArrowRight"))  # a second rerun
    assert status.inner_text() == stopped  # Stop is final: the count does not move
    assert page.locator('[data-testid="stException"]').count() == 0


# ---------------------------------------------------------------- zoom loop, guide, extra layers


def _small_dream_settings(page) -> None:
    size = page.locator('[data-testid="stSlider"]').filter(has_text="Max side (pixels)")
    size.get_by_role("slider").focus()
    page.keyboard.press("Home")  # 128 px
    octaves = page.locator('[data-testid="stSlider"]').filter(has_text="Octaves")
    octaves.get_by_role("slider").first.focus()
    page.keyboard.press("Home")  # 1 octave


def _dream_and_wait(page) -> None:
    page.get_by_role("button", name="Dream", exact=True).click()
    page.get_by_text("Finished:", exact=False).wait_for(timeout=180_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def test_zoom_loop_plays_and_downloads_mp4(page, app_url: str) -> None:
    open_page(page, app_url, "deepdream")
    _small_dream_settings(page)
    page.get_by_text("Zoom loop", exact=True).click()
    frames = page.locator('[data-testid="stSlider"]').filter(has_text="Extra frames")
    frames.get_by_role("slider").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # 2 extra frames
    _dream_and_wait(page)
    assert page.get_by_text("The zoom loop", exact=True).count() == 1
    assert page.locator('[data-testid="stVideo"]').count() == 1  # it plays on the page
    with page.expect_download() as info:
        page.get_by_role("button", name="MP4 video").click()
    data = Path(info.value.path()).read_bytes()
    assert data[4:8] == b"ftyp" and info.value.suggested_filename.endswith(".mp4")


def test_guided_dream_and_extra_layers(page, app_url: str) -> None:
    open_page(page, app_url, "deepdream")
    _small_dream_settings(page)
    page.get_by_text("Guide image", exact=True).click()
    act_and_wait(page, lambda: page.get_by_text("Dream with this guide").click())
    _dream_and_wait(page)
    guide_on = page.locator("label").filter(has_text="Dream with this guide").locator("input")
    for _ in range(3):  # off again: a click that lands during a rerun can be lost; check it took
        act_and_wait(page, lambda: page.get_by_text("Dream with this guide").click())
        if not guide_on.is_checked():
            break
    assert not guide_on.is_checked()

    wait_idle(page)
    act_and_wait(page, lambda: page.get_by_text("Extra layers", exact=True).click())
    picker = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Layers added")
    picker.locator("input").click()
    picker.locator("input").fill("_blocks.5")  # typing opens the list of layers, filtered
    # the option itself: Enter may pick every match (newer Streamlit offers "Select 2 matches")
    act_and_wait(page, lambda: page.get_by_role("option", name="_blocks.5", exact=True).click())
    page.keyboard.press("Escape")
    page.get_by_text("Weight of _blocks.5").wait_for()  # its weight, once the rerun is drawn
    wait_idle(page)
    _dream_and_wait(page)
    radio = page.locator('[data-testid="stRadio"]').filter(has_text="Maps of")
    act_and_wait(page, lambda: radio.get_by_text("_blocks.5", exact=True).click())
    page.get_by_text("Maps of _blocks.5 for this frame", exact=False).first.wait_for()
    screenshot(page, "deepdream-extra-layers")


def test_preset_whose_model_is_missing_offers_the_closest_recipe(page, app_url: str) -> None:
    open_page(page, app_url, "deepdream")
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Preset").click()
    act_and_wait(page, lambda: page.get_by_role("option", name="The blog's (VGG19)").click())
    warning = page.get_by_text("needs VGG19", exact=False)
    assert warning.count() == 1 and "offline" in warning.inner_text()
    act_and_wait(page, lambda: page.get_by_role("button", name="Use the closest recipe").click())
    assert page.get_by_text("Closest recipe to", exact=False).count() == 1
    assert page.get_by_text("needs VGG19", exact=False).count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0


def test_presenter_mode_dream_is_at_least_500_px_wide(page, app_url: str) -> None:
    open_page(page, app_url, "deepdream", "present=1")
    dream = page.get_by_role("button", name="Dream", exact=True)
    assert _inside(page, dream)
    _small_dream_settings(page)
    page.evaluate(_TO_TOP)
    _dream_and_wait(page)
    image = page.locator('[data-testid="stImage"]').first
    assert image.bounding_box()["width"] >= 500  # a projector at 1400 px
    screenshot(page, "deepdream-presenter")
