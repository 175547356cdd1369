"""Train a CNN in a real browser: one short epoch to the end, and a Stop that keeps the network."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import act_and_wait, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _slider_to(page, label: str, key: str) -> None:
    """Move a slider with the keyboard (``Home``, ``End``, ``ArrowRight``)."""
    thumb = page.locator(f'input[type="range"][aria-label="{label}"]')
    thumb.focus()
    act_and_wait(page, lambda: page.keyboard.press(key))


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_one_short_epoch_trains_and_shows_results(page, app_url: str) -> None:
    open_page(page, app_url, "train")
    assert page.get_by_text("Press Train to start", exact=False).count() == 1
    _slider_to(page, "Training images", "Home")  # 200 images
    for _ in range(2):
        _slider_to(page, "Training images", "ArrowRight")  # 500, then 1000 images
    _slider_to(page, "Epochs", "Home")  # 1 epoch
    act_and_wait(page, lambda: page.get_by_role("button", name="Train", exact=True).click())
    _no_exception(page)
    assert page.get_by_text("Trained: test accuracy", exact=False).count() == 1
    assert page.get_by_text("Epoch 1 of 1", exact=False).count() == 1
    for heading in ("The 6 first-layer filters", "Confusion matrix", "The network"):
        assert page.get_by_text(heading, exact=True).count() == 1, heading
    assert page.get_by_text("62,006 parameters in all", exact=False).count() == 1
    assert page.get_by_role("button", name="Download the weights (.pt)").count() == 1
    screenshot(page, "train")
    page.get_by_text("Confusion matrix", exact=True).scroll_into_view_if_needed()
    screenshot(page, "train-confusion")
    page.get_by_text("The network", exact=True).scroll_into_view_if_needed()
    screenshot(page, "train-network")
    # The trained network is now a model of this session's other pages (the sidebar keeps the
    # session; a new address would open a new one)...
    nav = page.locator('[data-testid="stSidebarNav"] a', has_text="Feature maps")
    act_and_wait(page, nav.click)
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.click()
    option = page.get_by_role("option", name="Tiny CNN · Shapes (synthetic)", exact=False).first
    act_and_wait(page, option.click)
    _no_exception(page)
    screenshot(page, "train-feature-maps")
    assert page.get_by_text("Layer relu2: 16 channels of", exact=False).count() == 1
    # ...and of no other session (a new tab, another student).
    open_page(page, app_url, "feature-maps")
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.click()
    assert (
        page.get_by_role("option", name="Tiny CNN · Shapes (synthetic)", exact=False).count() == 0
    )
    assert page.get_by_role("option", name="EfficientNet-Lite0", exact=False).count() == 1


def test_stop_keeps_the_network_trained_so_far(page, app_url: str) -> None:
    open_page(page, app_url, "train")
    _slider_to(page, "Epochs", "End")  # 30 epochs: far more than the test waits for
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Epoch 1 of 30", exact=False).wait_for()
    act_and_wait(page, lambda: page.get_by_role("button", name="Stop", exact=True).click())
    # The interrupted training thread ends while the Stop's run draws; the page may report idle
    # in between, so wait for the last element that run draws.
    page.get_by_role("button", name="Download the weights (.pt)").wait_for()
    wait_idle(page)
    _no_exception(page)
    assert page.get_by_text("Stopped at epoch", exact=False).count() == 1
    assert (
        page.get_by_text("the network trained so far is kept (test accuracy", exact=False).count()
        == 1
    )
    assert page.get_by_role("button", name="Download the weights (.pt)").count() == 1
    screenshot(page, "train-stopped")
