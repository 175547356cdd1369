"""Feature visualization in a real browser: visualize live, download the PNG, compare naive vs
regularized."""

from __future__ import annotations

import re

import pytest

from dreamlab.media import read_png_params
from tests.e2e.conftest import act_and_wait, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _slider_to(page, label: str, right: int = 0) -> None:
    """Move a slider to its minimum, then ``right`` steps up (keyboard, one rerun per key)."""
    page.locator(f'input[type="range"][aria-label="{label}"]').focus()
    act_and_wait(page, lambda: page.keyboard.press("Home"))
    for _ in range(right):
        act_and_wait(page, lambda: page.keyboard.press("ArrowRight"))


def _no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def test_visualize_download_and_compare(page, app_url: str) -> None:
    open_page(page, app_url, "feature-visualization")
    assert page.locator("h1").first.inner_text().strip() == "Feature visualization"
    _slider_to(page, "Steps", right=1)  # 16 + 16 = 32 steps
    _slider_to(page, "Size (pixels)")  # 64 px
    act_and_wait(page, lambda: page.get_by_role("button", name="Visualize", exact=True).click())
    _no_errors(page)
    panel = page.get_by_role("tabpanel").first
    assert panel.get_by_text("Step 32 of 32", exact=False).count() == 1
    assert panel.locator('[data-testid="stImage"]').count() >= 1
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download PNG").click()
    params = read_png_params(info.value.path())
    assert params["objective"] == "channel(_blocks.9:0)"
    assert (params["steps"], params["size"], params["param"]) == (32, 64, "fft")
    screenshot(page, "feature-visualization")

    page.get_by_role("tab", name="Naive vs regularized").click()
    act_and_wait(page, lambda: page.get_by_role("button", name="Compare", exact=True).click())
    _no_errors(page)
    compare = page.get_by_role("tabpanel").first  # hidden panels are not in the role tree
    assert compare.get_by_text("Step 32 of 32", exact=False).count() == 2
    assert compare.locator('[data-testid="stImage"]').count() >= 2
    screenshot(page, "feature-visualization-compare")

    page.get_by_role("tab", name="Gallery").click()
    _slider_to(page, "Images", right=2)  # 2 + 2 = 4 channels as one batch
    act_and_wait(page, lambda: page.get_by_role("button", name="Render gallery").click())
    _no_errors(page)
    gallery = page.get_by_role("tabpanel").first
    assert gallery.get_by_text("Step 32 of 32", exact=False).count() == 1
    with page.expect_download() as info:
        gallery.get_by_role("button", name="Download PNG").click()
    params = read_png_params(info.value.path())
    assert params["gallery"] == "channels" and params["count"] == 4
    screenshot(page, "feature-visualization-gallery")


def test_stop_keeps_the_partial_image(page, app_url: str) -> None:
    open_page(page, app_url, "feature-visualization")
    page.locator('input[type="range"][aria-label="Steps"]').focus()
    act_and_wait(page, lambda: page.keyboard.press("End"))  # 512 steps: far longer than the test
    page.get_by_role("button", name="Visualize", exact=True).click()
    page.get_by_text(re.compile(r"Step \d+ of 512")).first.wait_for()  # it is running, live
    page.get_by_role("button", name="Stop").click()
    wait_idle(page)
    _no_errors(page)
    panel = page.get_by_role("tabpanel").first
    panel.get_by_text("Stopped at step", exact=False).wait_for()
    assert panel.locator('[data-testid="stImage"]').count() >= 1
    assert page.get_by_role("button", name="Stop").count() == 0
