"""The Live camera page in a real browser with Chromium's fake camera (no network, no real camera).

A server of its own allows one live stream at once (``DREAMLAB_LIVE_STREAMS=1``), so the full
server's message is reached with two tabs. Every wait is on the page's state (the count of frames
processed, the server's count of live cameras, a message), never a fixed sleep; no frame rates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bench.chromium import CHROMIUM_ARGS
from bench.harness import streamlit_server
from tests.e2e.conftest import (
    launch_chromium,
    screenshot,
    wait_idle,
)

pytestmark = pytest.mark.e2e

FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
_PROCESSED = re.compile(r"(\d+) frames processed")
_WAIT_MS = 240_000  # generous: the machine may be busy (a stream starts in seconds when quiet)


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run`` on a free localhost port, allowing one live stream at once."""
    env = {
        "DREAMLAB_LIVE_STREAMS": "1",
        "DREAMLAB_LIVE_CONNECT_TIMEOUT": "600",  # a busy machine may take a minute to connect
        "DREAMLAB_LIVE": "",  # live video, whatever the calling shell asks (empty: the default)
        "TORCH_HOME": str(tmp_path_factory.mktemp("torch-home")),
        "DREAMLAB_MODELS": str(tmp_path_factory.mktemp("models")),
    }
    log = tmp_path_factory.mktemp("streamlit-live") / "server.log"
    with streamlit_server(env, log=log) as url:
        yield url


@pytest.fixture(scope="module")
def camera_browser(request: pytest.FixtureRequest) -> Iterator[object]:
    """A headless Chromium whose camera is Chromium's fake one (a moving test pattern)."""
    b = launch_chromium(request, [*CHROMIUM_ARGS, *FAKE_CAMERA])
    yield b
    b.close()


def _tab(browser, url: str, mode: str = "Convolution"):
    """A new browser session on the Live camera page, in ``mode``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(_WAIT_MS)
    page.goto(f"{url}/live-camera")
    wait_idle(page)
    if mode != "Convolution":
        page.locator(".st-key-live_mode").get_by_text(mode, exact=True).click()
        page.locator(
            ".st-key-live_fm_layer_efficientnet_lite0, .st-key-live_dream_layer_efficientnet_lite0"
        ).first.wait_for()
        wait_idle(page)
    return context, page


def _start(page) -> None:
    streamer = page.frame_locator('iframe[title="streamlit_webrtc.component.webrtc_streamer"]')
    streamer.get_by_role("button", name=re.compile("^start$", re.I)).click()


def _processed(page) -> int:
    text = page.locator('[data-testid="stMarkdownContainer"]', has_text="frames processed")
    found = _PROCESSED.search(text.first.inner_text()) if text.count() else None
    return int(found.group(1)) if found else 0


def _wait_processed(page, at_least: int) -> None:
    """Wait until the page says at least ``at_least`` frames were processed (a screenshot if not)."""
    try:
        _wait_count(page, at_least)
    except Exception:
        screenshot(page, "live-failed-wait")
        raise


def _wait_count(page, at_least: int) -> None:
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
            .some(e => { const m = e.innerText.match(/(\\d+) frames processed/);
                         return m && Number(m[1]) >= n; })""",
        arg=at_least,
        timeout=_WAIT_MS,
    )


def _wait_text(page, text: str) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=_WAIT_MS)


def _video_frames(page) -> int:
    """Frames the page's video element has decoded (the processed stream coming back)."""
    return (
        page.frame_locator('iframe[title="streamlit_webrtc.component.webrtc_streamer"]')
        .locator("video")
        .evaluate("v => v.getVideoPlaybackQuality().totalVideoFrames")
    )


@pytest.mark.parametrize("mode", ["Convolution", "Feature maps", "Dream"])
def test_each_mode_streams_and_new_output_frames_arrive(camera_browser, live_url, mode) -> None:
    context, page = _tab(camera_browser, live_url, mode)
    try:
        _start(page)
        _wait_processed(page, 3)
        first = _processed(page)
        _wait_processed(page, first + 3)  # still going: new frames keep arriving
        assert _video_frames(page) > 0  # and they come back to the browser as video
        assert page.locator('[data-testid="stException"]').count() == 0
        screenshot(page, f"live-{mode.lower().replace(' ', '-')}")
    finally:
        context.close()


def test_closing_the_tab_ends_the_stream_at_the_server(camera_browser, live_url) -> None:
    streaming, page = _tab(camera_browser, live_url)
    watcher, watch = _tab(camera_browser, live_url)
    try:
        _start(page)
        _wait_processed(page, 3)
        _wait_text(watch, "Live cameras on this server: 1 of 1.")
        streaming.close()  # the tab goes: its stream must end at the server
        _wait_text(watch, "Live cameras on this server: 0 of 1.")
    finally:
        watcher.close()


def test_a_full_server_says_so_in_one_line_and_starts_when_a_seat_frees(
    camera_browser, live_url
) -> None:
    first, page = _tab(camera_browser, live_url)
    second, other = _tab(camera_browser, live_url)
    try:
        _start(page)
        _wait_text(page, "Live cameras on this server: 1 of 1.")  # the first stream has the seat
        _start(other)
        full = "The server already runs 1 live camera(s), its most"
        _wait_text(other, full)
        assert other.get_by_text(full, exact=False).count() == 1  # one line
        assert _processed(other) == 0
        screenshot(other, "live-full")
        first.close()  # a seat frees: the waiting stream starts by itself
        _wait_processed(other, 1)
        assert other.get_by_text(full, exact=False).count() == 0
    finally:
        second.close()
