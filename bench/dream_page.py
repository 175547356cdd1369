"""The DeepDream page driven in Chromium (Playwright's async API): tabs that load the page, wait
for one another and press **Dream**, timing the first frame and the end.

Shared by ``load_test.py``, ``class_bench.py`` and ``container_bench.py``; importable as
``dream_page`` from those scripts (run as ``python bench/NAME.py``) and as ``bench.dream_page``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DREAM_BUTTON",
    "FINISHED",
    "FIRST_FRAME",
    "STOPPED",
    "STOP_BUTTON",
    "UPLOAD_OWN",
    "Bell",
    "SessionResult",
    "one_session",
    "wait_state",
]

# How the DeepDream page shows its progress (see dreamlab/ui/pages/deepdream.py).
DREAM_BUTTON = "Dream"


FIRST_FRAME = "The dream ("  # caption of the live frame


FINISHED = "Finished:"  # the status line once every step is done


STOP_BUTTON = "Stop"


STOPPED = "Stopped after"  # the status line of a stopped dream


UPLOAD_OWN = "Upload your own…"  # the image picker's upload choice (common.upload_own)


SCRIPT_STATE = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"


@dataclass
class SessionResult:
    """One tab's timings (seconds from each click), its error line and where it was."""

    first_frame_s: list[float] = field(default_factory=list)
    finish_s: list[float] = field(default_factory=list)
    error: str = ""
    stage: str = "opening"  # where the session is, for the error report
    stopped: bool = False  # Stop was pressed (the long dream of --fair, once B is done)


async def wait_state(page, state: str, timeout_ms: float) -> None:
    """Wait until the page's script state is ``state`` (``running`` or ``notRunning``)."""
    await page.wait_for_function(f"() => ({SCRIPT_STATE[6:]}) === '{state}'", timeout=timeout_ms)


class Bell:
    """Rings once every session has its page loaded, so all press Dream together."""

    def __init__(self, expected: int) -> None:
        self.expected, self.ready, self.event = expected, 0, asyncio.Event()

    def arrive(self) -> None:
        self.ready += 1
        if self.ready >= self.expected:
            self.event.set()


async def one_session(
    browser,
    url: str,
    bell: Bell,
    repeat: int,
    timeout_s: float,
    prepare: Callable[[Any], Awaitable[None]] | None = None,
    delay_s: float = 0.0,
    done: asyncio.Event | None = None,
    stop_on: asyncio.Event | None = None,
) -> SessionResult:
    """One tab: load the page (``prepare`` it: settings, an upload), wait for the bell, then
    ``delay_s`` later press Dream ``repeat`` times, timing the first frame and the end."""
    result = SessionResult()
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(f"{url}/deepdream", timeout=timeout_s * 1000)
        result.stage = "loading"
        await wait_state(page, "notRunning", timeout_s * 1000)
        await page.get_by_role("button", name=DREAM_BUTTON, exact=True).wait_for(
            timeout=timeout_s * 1000
        )
        if prepare is not None:
            result.stage = "preparing"
            await prepare(page)
    except Exception as exc:
        result.error = f"page did not load: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    bell.arrive()
    await bell.event.wait()
    await asyncio.sleep(delay_s)
    try:
        if result.error:
            return result
        for _ in range(repeat):
            result.stage = "pressing Dream"
            t0 = time.monotonic()
            await page.get_by_role("button", name=DREAM_BUTTON, exact=True).click(
                timeout=timeout_s * 1000
            )
            result.stage = "waiting for the first frame"
            # the live frame's caption; under heavy load the browser may only ever paint the
            # finished page, whose status line then counts as the first frame seen
            first = page.get_by_text(FIRST_FRAME).or_(page.get_by_text(FINISHED))
            await first.first.wait_for(timeout=timeout_s * 1000)
            result.first_frame_s.append(time.monotonic() - t0)
            result.stage = "dreaming"
            if stop_on is not None and await _stopped_first(page, stop_on, timeout_s):
                result.stopped = True
                break
            await page.get_by_text(FINISHED).first.wait_for(timeout=timeout_s * 1000)
            result.finish_s.append(time.monotonic() - t0)
            await wait_state(page, "notRunning", timeout_s * 1000)
            if await page.locator('[data-testid="stException"]').count():
                raise RuntimeError("the page shows an exception")
    except Exception as exc:  # record, never crash the whole run
        result.error = f"{result.stage}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        shot = Path(os.environ.get("LOAD_TEST_SHOTS", "/tmp")) / f"load-error-{id(result)}.png"
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(shot))
    finally:
        if done is not None:
            done.set()
        await context.close()
    return result


async def _stopped_first(page, stop_on: asyncio.Event, timeout_s: float) -> bool:
    """Wait for this dream's end or ``stop_on``; on ``stop_on`` press Stop (True)."""
    ms = timeout_s * 1000
    finished = asyncio.ensure_future(page.get_by_text(FINISHED).first.wait_for(timeout=ms))
    other = asyncio.ensure_future(stop_on.wait())
    await asyncio.wait({finished, other}, return_when=asyncio.FIRST_COMPLETED)
    if finished.done():
        other.cancel()
        finished.result()
        return False
    finished.cancel()
    await page.get_by_role("button", name=STOP_BUTTON).click(timeout=ms)
    await page.get_by_text(STOPPED).first.wait_for(timeout=ms)
    return True
