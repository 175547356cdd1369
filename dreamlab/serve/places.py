"""Where a remote job's place in the service's queue goes while it waits (no Ray, no web).

The client reads ``queue`` messages while its job waits for a seat and hands each ``(place, of)``
to :func:`report_place`; a page that pulls remote frames wraps the pull in
:func:`place_reporter` to show it ("waiting at the GPU server: place 3 of 12"). Per thread: each
browser session's page runs in its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["place_reporter", "report_place"]

_REPORTER = threading.local()  # .callback: where this thread's waiting jobs report their place


@contextmanager
def place_reporter(callback: Callable[[int, int], None]) -> Iterator[None]:
    """Inside the block, remote jobs pulled in this thread report ``(place, of)`` while they
    wait for a seat at the backend (``(0, 0)`` once seated)."""
    before = getattr(_REPORTER, "callback", None)
    _REPORTER.callback = callback
    try:
        yield
    finally:
        _REPORTER.callback = before


def report_place(place: int, of: int) -> None:
    """Hand a waiting job's place to this thread's reporter, if any (else nothing)."""
    callback = getattr(_REPORTER, "callback", None)
    if callback is not None:
        callback(place, of)
