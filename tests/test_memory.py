"""Memory helpers for a long-running server."""

from __future__ import annotations

import sys

import pytest

from dreamlab.memory import limit_malloc_arenas, release_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_glibc_calls_take_effect_on_linux() -> None:
    assert limit_malloc_arenas(2) is True
    big = [bytearray(1 << 16) for _ in range(2000)]  # 128 MB in small blocks, then freed
    del big
    assert release_memory() in (True, False)  # 1 if memory was returned, 0 if none could be


def test_release_memory_is_safe_to_call_repeatedly() -> None:
    for _ in range(3):
        release_memory()
