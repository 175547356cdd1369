"""A bounded job gate shared by every browser session: heavy work waits its turn.

A class of 30 pressing **Dream** at once must not oversubscribe two CPU cores. Each job takes a
ticket; at most ``capacity`` run at once, the others wait in FIFO order and can ask their place in
the queue. Pure Python (no streamlit), so the CLI and tests can use it too.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["JobGate", "Ticket", "default_capacity"]


def default_capacity(device: str = "cpu") -> int:
    """``DREAMLAB_MAX_JOBS`` if set, else 1 on the CPU (the cores are shared) and 2 on a GPU."""
    env = os.environ.get("DREAMLAB_MAX_JOBS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return 1 if device == "cpu" else 2


@dataclass
class Ticket:
    """One job's place in the gate."""

    number: int
    gate: JobGate = field(repr=False)

    @property
    def position(self) -> int:
        """0 when running (or free to run), else how many jobs are ahead in the queue."""
        return self.gate.position(self)


class JobGate:
    """FIFO gate letting at most ``capacity`` jobs run at once."""

    def __init__(self, capacity: int = 1) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._counter = itertools.count()
        self._waiting: list[int] = []
        self._running: set[int] = set()

    def position(self, ticket: Ticket) -> int:
        """Jobs ahead of ``ticket`` that must start before it can (0 = running or next free)."""
        with self._cond:
            if ticket.number in self._running or ticket.number not in self._waiting:
                return 0
            ahead = self._waiting.index(ticket.number)
            free = self.capacity - len(self._running)
            return max(0, ahead - free + 1)

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def enter(self) -> Ticket:
        """Take a ticket and join the queue (does not block)."""
        with self._cond:
            ticket = Ticket(next(self._counter), self)
            self._waiting.append(ticket.number)
            return ticket

    def wait_turn(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Block until ``ticket`` may run (True) or ``timeout`` seconds pass (False)."""
        number = ticket.number
        with self._cond:
            if number in self._running:  # asked again once running: still its turn
                return True
            # Also wake if the ticket left the queue (leave() from elsewhere): it can never start.
            self._cond.wait_for(
                lambda: number not in self._waiting or self._can_start(number), timeout=timeout
            )
            if number not in self._waiting or not self._can_start(number):
                return False
            self._waiting.remove(number)
            self._running.add(number)
            return True

    def _can_start(self, number: int) -> bool:
        free = self.capacity - len(self._running)
        return free > 0 and number in self._waiting[:free]

    def leave(self, ticket: Ticket) -> None:
        """Give the slot (or the queue place) back; safe to call twice."""
        with self._cond:
            self._running.discard(ticket.number)
            if ticket.number in self._waiting:
                self._waiting.remove(ticket.number)
            self._cond.notify_all()

    @contextmanager
    def slot(self, timeout: float | None = None) -> Iterator[Ticket]:
        """``with gate.slot(): ...`` runs the body once it is this job's turn."""
        ticket = self.enter()
        try:
            if not self.wait_turn(ticket, timeout):
                raise TimeoutError("the job queue is full; try again in a moment")
            yield ticket
        finally:
            self.leave(ticket)
