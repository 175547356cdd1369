"""The Chromium the browser tests and the load benchmarks launch, and its flags (one place).

Imported by ``tests/e2e/conftest.py`` (as ``bench.chromium``) and by the scripts in ``bench/``
(run as ``python bench/NAME.py``, so as ``chromium``).
"""

from __future__ import annotations

import os

__all__ = ["CHROMIUM", "CHROMIUM_ARGS"]

CHROMIUM = os.environ.get("DREAMLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    # every tab is a person's own foreground window: no timer throttling of background tabs (a
    # viewer's fragment or a queued session would otherwise be woken once a minute at most)
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
