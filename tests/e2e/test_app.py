"""The app starts in a real browser and every page opens with no error."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import open_page, screenshot

pytestmark = pytest.mark.e2e

# The first page is the default one, served at the root URL.
PAGES = ["", "feature-maps", "deepdream", "live-camera", "feature-visualization", "train"]


@pytest.mark.parametrize("path", PAGES)
def test_page_opens_without_error(page, app_url: str, path: str) -> None:
    open_page(page, app_url, path)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator("h1").count() >= 1
    screenshot(page, f"page-{path or 'convolution'}")
