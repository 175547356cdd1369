"""How often a page draws live frames."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["Throttle"]

T = TypeVar("T")


class Throttle:
    """How often a page draws live frames: at most once per ``every_s`` seconds.

    The backend never waits for the page; the page skips drawing the frames in between (drawing
    costs more than a step).
    """

    def __init__(self, every_s: float = 0.1) -> None:
        self.every_s = every_s
        self._last = float("-inf")

    def due(self, *, force: bool = False) -> bool:
        """Whether to draw now (always with ``force``, e.g. the last frame); starts the next wait."""
        now = time.monotonic()
        if force or now - self._last >= self.every_s:
            self._last = now
            return True
        return False

    def latest(self, frames: Iterable[T]) -> Iterator[T]:
        """The latest frame each time a draw is due, and always the last one."""
        pending: list[T] = []
        for frame in frames:
            pending[:] = [frame]
            if self.due():
                yield pending.pop()
        if pending:
            yield pending.pop()
