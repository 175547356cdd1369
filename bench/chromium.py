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
]
