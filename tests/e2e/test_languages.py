"""Language switch and teacher links in a real browser."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import act_and_wait, open_page, screenshot

pytestmark = pytest.mark.e2e


def test_switch_to_french_translates_the_page(page, app_url: str) -> None:
    open_page(page, app_url, "feature-maps")
    assert page.locator("h1", has_text="Feature maps").count() == 1
    act_and_wait(page, lambda: page.get_by_text("Français", exact=True).click())
    assert page.locator("h1", has_text="Cartes de caractéristiques").count() == 1
    assert page.get_by_text("Leçon : ce que calcule une couche de convolution").count() == 1
    # the choice is remembered when moving to another page of the session
    act_and_wait(page, lambda: page.get_by_role("link", name="Convolution").first.click())
    assert page.get_by_text("Langue", exact=True).count() >= 1
    screenshot(page, "french")


def test_teacher_link_sets_french_and_presenter_mode(page, app_url: str) -> None:
    open_page(page, app_url, "feature-maps", query="lang=fr&present=1")
    assert page.locator("h1", has_text="Cartes de caractéristiques").count() == 1
    assert page.get_by_text("Plus de réglages").count() >= 1  # advanced controls folded away
    screenshot(page, "presenter-fr")


def test_presenter_mode_cuts_no_label(page, app_url: str) -> None:
    open_page(page, app_url, "feature-maps", query="present=1")
    # the presenter CSS is in force (large headings) and the pictures are drawn
    page.wait_for_function(
        """() => parseFloat(getComputedStyle(document.querySelector('h1')).fontSize) > 40
            && [...document.querySelectorAll('[data-testid="stImage"] img')].length >= 3
            && !document.querySelector('[data-testid="stSkeleton"]')"""
    )
    # cut: text wider than its box, or running past the sidebar's edge ("Feature visual...")
    cut = page.evaluate(
        """() => {
            const side = document.querySelector('[data-testid="stSidebar"]').getBoundingClientRect();
            return [...document.querySelectorAll(
                    '[data-testid="stSidebarNav"] span, [data-testid="stWidgetLabel"] p, button p')]
                .filter(e => e.offsetParent && (e.scrollWidth > e.clientWidth + 1
                    || (e.closest('[data-testid="stSidebar"]')
                        && e.getBoundingClientRect().right > side.right - 8)))
                .map(e => e.innerText);
        }"""
    )
    assert cut == []
    assert page.get_by_text("Feature visualization", exact=True).count() >= 1
    screenshot(page, "presenter-feature-maps")
