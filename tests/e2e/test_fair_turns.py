"""Fair turns in a real browser: a long dream in one tab does not hold a short one in another.

Session A starts the longest dream the page allows (8 octaves x 50 steps at the largest size);
session B, in its own browser context (its own Streamlit session), starts the default dream
while A is running. B must start and finish while A is still dreaming: with the old first-come
gate B waited for all of A. Only ordering facts are asserted, never timings (those are in
``bench/load_test.py --fair``).
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import open_page, wait_idle

pytestmark = pytest.mark.e2e

RUNNING = "From the photo: octave"  # the progress line while a dream runs
FINISHED = "Finished:"
STOPPED = "Stopped after"


def _slider_to_max(page, label: str) -> None:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    slider.get_by_role("slider").focus()
    page.keyboard.press("End")


def test_a_short_dream_is_not_held_by_a_long_one(browser, app_url: str) -> None:
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    try:
        a, b = (c.new_page() for c in contexts)
        for tab in (a, b):
            tab.set_default_timeout(120_000)
            open_page(tab, app_url, "deepdream")
        for label in ("Octaves", "Iterations per octave", "Max side (pixels)"):
            _slider_to_max(a, label)
        a.get_by_role("button", name="Dream", exact=True).click()
        a.get_by_text(RUNNING, exact=False).wait_for(timeout=180_000)  # A is dreaming

        b.get_by_role("button", name="Dream", exact=True).click()
        b.get_by_text(RUNNING, exact=False).or_(
            b.get_by_text(FINISHED, exact=False)
        ).first.wait_for(timeout=180_000)
        assert a.get_by_text(FINISHED, exact=False).count() == 0  # B started before A finished
        b.get_by_text(FINISHED, exact=False).wait_for(timeout=300_000)
        assert a.get_by_text(FINISHED, exact=False).count() == 0  # and B finished before A
        assert a.get_by_text(RUNNING, exact=False).count() >= 1  # A is still dreaming

        a.get_by_role("button", name="Stop").click()  # Stop frees A's seat at once
        a.get_by_text(STOPPED, exact=False).wait_for(timeout=120_000)
        for tab in (a, b):
            wait_idle(tab)
            assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        for context in contexts:
            context.close()
