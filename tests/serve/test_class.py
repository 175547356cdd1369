"""A class on one backend, in real browsers: a Streamlit front end on the session's Ray Serve.

The front end is a ``streamlit run`` with ``DREAMLAB_BACKEND`` and ``DREAMLAB_BACKEND_TOKEN`` set
(started and stopped here); each browser context is its own Streamlit session. Lean on purpose
(Ray and eight sessions on two cores): the smallest max side, and generous waits on what the page
shows, never on timings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

pytest.importorskip("ray", reason='Ray Serve is not installed (pip install "dreamlab[serve]")')

from bench.chromium import CHROMIUM_ARGS  # noqa: E402
from bench.harness import streamlit_server  # noqa: E402
from dreamlab.serve.client import BackendClient  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.e2e.conftest import launch_chromium, open_page, wait_idle  # noqa: E402
from tests.serve.conftest import SEATS, TOKEN  # noqa: E402

pytestmark = pytest.mark.e2e

FINISHED = "Finished:"
WAITING = "waiting at the GPU server: place 1 of 1"
LONG_S = 600_000  # ms: two cores shared with Ray and eight tabs


@pytest.fixture(scope="module")
def front_end(ray_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Streamlit front end sending its sessions' jobs to the backend, with the token."""
    env = {
        "DREAMLAB_BACKEND": ray_backend,
        "DREAMLAB_BACKEND_TOKEN": TOKEN,
        "DREAMLAB_CLIENT_ID": "front-end-1",
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path_factory.mktemp("front-end") / "streamlit.log"
    with streamlit_server(env, log=log) as url:
        yield url


@pytest.fixture(scope="module")
def chromium(request: pytest.FixtureRequest) -> Iterator[object]:
    browser = launch_chromium(request, CHROMIUM_ARGS)
    yield browser
    browser.close()


def _tabs(chromium, url: str, n: int) -> tuple[list, list]:
    """``n`` sessions on the DeepDream page, at the smallest max side (a lean dream)."""
    contexts = [chromium.new_context(viewport={"width": 1280, "height": 900}) for _ in range(n)]
    tabs = [c.new_page() for c in contexts]
    for tab in tabs:
        tab.set_default_timeout(LONG_S)
        open_page(tab, url, "deepdream")
        slider = tab.locator('[data-testid="stSlider"]').filter(has_text="Max side (pixels)")
        slider.get_by_role("slider").focus()
        tab.keyboard.press("Home")  # 128 px
        wait_idle(tab, LONG_S / 1000)
    return contexts, tabs


def _settled(client: BackendClient, finished: int) -> dict:
    """The service's stats once ``finished`` jobs have ended and none waits (a state, polled)."""
    end = time.monotonic() + LONG_S / 1000
    while time.monotonic() < end:
        stats = client.stats()
        if stats["finished"] >= finished and stats["queue"]["waiting"] == 0:
            return stats
        time.sleep(0.2)
    pytest.fail(f"the service never finished {finished} jobs: {client.stats()}")


def _dream(tab) -> None:
    tab.get_by_role("button", name="Dream", exact=True).click()


def test_eight_sessions_through_one_front_end_all_finish_in_big_batches(
    ray_backend: str, front_end: str, chromium
) -> None:
    client = BackendClient(ray_backend, token=TOKEN)
    before = client.stats()
    contexts, tabs = _tabs(chromium, front_end, 8)
    try:
        for tab in tabs:
            _dream(tab)
        for tab in tabs:  # every session finishes: none refused (no "too many jobs")
            tab.get_by_text(FINISHED, exact=False).first.wait_for(timeout=LONG_S)
            wait_idle(tab, LONG_S / 1000)
            assert tab.locator('[data-testid="stException"]').count() == 0
            assert tab.locator('[data-testid="stAlert"]').filter(has_text="too many").count() == 0
    finally:
        for context in contexts:
            context.close()
    after = _settled(client, before["finished"] + 8)
    assert after["refused"] == before["refused"] and after["queue"]["seated"] == 0
    assert after["batcher"]["largest"] > 4  # the eight sessions' steps shared batches


def test_a_waiting_session_shows_its_place(ray_backend: str, front_end: str, chromium) -> None:
    """Every seat taken by other sessions' long dreams: the tab shows its place at the server,
    then dreams as soon as the seats are freed."""
    holders = [
        BackendClient(ray_backend, "cli", session=f"s{i}", token=TOKEN) for i in range(SEATS)
    ]
    from dreamlab.dream import DreamConfig

    long = DreamConfig(num_octaves=1, iterations=300, max_side=64, noise_size=(48, 64))
    contexts, (tab,) = _tabs(chromium, front_end, 1)
    runs = [h.dream("noise", "efficientnet_lite0", long) for h in holders]
    try:
        for run in runs:
            next(run)  # seated and dreaming
        _dream(tab)
        tab.get_by_text(WAITING, exact=False).wait_for(timeout=LONG_S)
        for run in runs:
            run.close()  # Stop: the seats are freed at once
        runs = []
        tab.get_by_text(FINISHED, exact=False).first.wait_for(timeout=LONG_S)
        assert tab.get_by_text(WAITING, exact=False).count() == 0
    finally:
        for run in runs:
            run.close()
        for context in contexts:
            context.close()
