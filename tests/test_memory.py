"""Memory helpers for a long-running server."""

from __future__ import annotations

import os
import sys

import pytest

from dreamlab.memory import limit_malloc_arenas, release_memory


def _resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_glibc_calls_take_effect_on_linux() -> None:
    assert limit_malloc_arenas(2) is True
    blocks = [bytearray(1 << 16) for _ in range(2000)]  # 128 MB in heap-sized (64 kB) blocks
    pinned = blocks[::50]  # a few survivors pin the heap: free() alone cannot shrink it
    del blocks
    before = _resident_bytes()
    assert release_memory() is True  # malloc_trim handed pages back
    released = before - _resident_bytes()
    assert released > 64 << 20, f"only {released >> 20} MB of about 125 MB freed went back"
    assert len(pinned) == 40


def test_release_memory_is_safe_to_call_repeatedly() -> None:
    for _ in range(3):
        release_memory()
