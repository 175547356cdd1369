"""Feature maps in a real browser: the page draws maps, and moving the layer slider redraws them."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import act_and_wait, open_page, screenshot

pytestmark = pytest.mark.e2e


def test_layer_slider_changes_the_maps(page, app_url: str) -> None:
    open_page(page, app_url, "feature-maps")
    heading = page.get_by_text("Layer _blocks.9:", exact=False)
    assert heading.count() == 1
    # the predictions table (a data grid) fills in just after the run ends
    page.get_by_text("tabby", exact=True).first.wait_for(state="attached", timeout=30_000)
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    for _ in range(3):
        act_and_wait(page, lambda: page.keyboard.press("ArrowLeft"))
    assert page.get_by_text("Layer _blocks.6:", exact=False).count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "feature-maps")


def test_clicking_a_tile_picks_its_channel_and_tiles_are_large(page, app_url: str) -> None:
    open_page(page, app_url, "feature-maps")
    grid = page.locator(".st-key-fm_grid_efficientnet_lite0__blocks\\.9 iframe, iframe").first
    box = grid.bounding_box()
    assert box and box["width"] / 4 >= 120  # four tiles across, each at least 120 px
    channel = page.locator("[data-testid='stNumberInput'] input").first
    before = channel.input_value()
    # the second tile of the first row
    act_and_wait(page, lambda: grid.click(position={"x": box["width"] * 3 / 8, "y": 20}))
    assert channel.input_value() != before
    assert page.get_by_text("Outlined: the receptive field", exact=False).count() == 1
    screenshot(page, "feature-maps-clicked")
