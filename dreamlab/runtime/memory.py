"""Keep a long-running server's memory flat: fewer malloc arenas, and freed memory handed back.

Streamlit runs every script run in a new thread; glibc gives busy threads their own malloc arenas
and keeps what they free, so a server's resident memory climbs run after run although Python and
torch free everything. Capping the arenas and trimming after each heavy job keeps it flat. On
other C libraries (macOS, Windows, musl) these calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc

__all__ = ["limit_malloc_arenas", "release_memory"]

_M_ARENA_MAX = -8  # glibc's mallopt parameter number


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads created from now on; True if it took effect."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_ARENA_MAX, arenas))


def release_memory() -> bool:
    """Collect garbage and give freed heap pages back to the system; True if trimmed."""
    gc.collect()
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
