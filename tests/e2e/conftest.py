"""Browser tests: Playwright for Python driving Debian's Chromium against ``streamlit run``.

Locally they skip (with a reason) when Chromium or Playwright is missing; under ``CI=true`` a missing
browser fails instead.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.harness import streamlit_server

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "e2e" / "screenshots"


def _missing_browser(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests need Chromium and Playwright under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``streamlit run streamlit_app.py`` on a free localhost port, for the whole session."""
    env = {
        "TORCH_HOME": str(tmp_path_factory.mktemp("torch-home")),
        "DREAMLAB_MODELS": str(tmp_path_factory.mktemp("models")),
        "DREAMLAB_DATA": str(tmp_path_factory.mktemp("data")),
    }
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with streamlit_server(env, log=log) as url:
        yield url


def launch_chromium(request: pytest.FixtureRequest, args: list[str]) -> object:
    """A headless Chromium from the session's one Playwright driver (skipped, or failed under
    CI, where Chromium or Playwright is missing)."""
    if not Path(CHROMIUM).exists():
        _missing_browser(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing_browser("playwright is not installed (pip install playwright)")
    pw = request.getfixturevalue("playwright_driver")
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


@pytest.fixture(scope="session")
def browser(request: pytest.FixtureRequest) -> Iterator[object]:
    """One headless Chromium for the session."""
    b = launch_chromium(request, CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def page(browser, app_url: str) -> Iterator[object]:
    """A fresh browser tab (its own Streamlit session) with a desktop-sized viewport."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def _script_state(page) -> str | None:
    return page.evaluate(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
    )


_IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMainBlockContainer"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && main && main.innerText.trim().length > 0
        && !document.querySelector('[data-testid="stStatusWidget"]');
}"""

# Idle, and the page's text unchanged over 5 animation-frame samples at least 300 ms apart in
# all: a fragment's elements (the pages' settings panels) can be drawn just after the script
# state turns "notRunning", later still on a busy machine.
_SETTLED = """() => new Promise(resolve => {
    const text = () => document.querySelector('[data-testid="stMainBlockContainer"]')?.innerText;
    const first = text(), start = performance.now();
    let frames = 0;
    const look = () => {
        if (text() !== first || !(IDLE)()) { resolve(false); return; }
        frames += 1;
        if (frames >= 5 && performance.now() - start >= 300) { resolve(true); return; }
        requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
})""".replace("IDLE", _IDLE)


def wait_idle(page, timeout: float = 120) -> None:
    """Wait until the app has rendered, no script run is in progress and the page's text has
    settled (waits on state, no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(1.0, deadline - time.monotonic())
        page.wait_for_function(_IDLE, timeout=left * 1000)
        if page.evaluate(_SETTLED) or time.monotonic() > deadline:
            return


def act_and_wait(page, action, timeout: float = 120) -> None:
    """Do ``action()`` (a click, a key press), wait for the rerun it causes to start, then to end."""
    action()
    with contextlib.suppress(Exception):  # the rerun may already be over: fine
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stApp\"]')"
            "?.getAttribute('data-test-script-state') === 'running'",
            timeout=5000,
        )
    wait_idle(page, timeout)


def copied_link(page) -> str:
    """Open **Copy link** and read the address it offers."""
    page.get_by_role("button", name="Copy link").click()
    box = page.locator('[data-testid="stCode"] code').filter(has_text="http").last
    box.wait_for(state="visible")
    link = box.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def open_page(page, app_url: str, path: str = "", query: str = "") -> None:
    """Open one of the app's pages by URL path and wait until it is idle."""
    page.goto(f"{app_url}/{path}{('?' + query) if query else ''}")
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/e2e/screenshots/ (ignored by git)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
