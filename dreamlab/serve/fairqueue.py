"""The service's queue: seats for the jobs running now, a bounded wait for the rest, fair turns.

A class of 30 pressing **Dream** at once through one or two front ends must wait, not be refused.
Every streamed job enters here with its *session* (one browser tab, one CLI process) and its
*front end* (the Streamlit server or process that sent it):

- **Seats** (``seats``): this many jobs run at once (with batching, the batch cap: all seated
  dreams step together as one batch). The others wait.
- **Fair turns**: when a seat frees, it goes to the waiting job whose session has had the least
  seat time so far (ties: the oldest ticket), so one student's second and third dream wait behind
  everyone's first, whichever front end they came through (start-time fair queuing, as
  :mod:`dreamlab.runtime.jobs` does inside one process). A session that comes back after having no job
  starts level with the sessions present, not with credit for its absence.
- **Bounds**: one session may have ``per_session`` jobs at once, seated or waiting (429 beyond:
  its own excess); at most ``max_waiting`` jobs wait (503 beyond: the queue is full).

:meth:`ClassQueue.leave` (Stop, a closed tab, a disconnect, an error) frees the seat or the place at
once. Pure Python (no Ray, no web): tested with simulated jobs and an injectable clock; with
``dreamlab serve --replicas N`` one instance lives in a Ray actor shared by every replica.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dreamlab.errors import DreamLabError

__all__ = ["ClassQueue", "Place", "QueueError"]


class QueueError(DreamLabError):
    """A job the queue will not take: ``status`` 429 (the session's own excess) or 503 (full)."""

    def __init__(self, message: str, kind: str = "", /, status: int = 503, **params: object):
        super().__init__(message, kind, **params)
        self.status = status


@dataclass(frozen=True)
class Place:
    """Where a ticket stands: seated (``place`` 0), ``place`` of ``of`` waiting (1-based), or
    gone (``place`` -1: it left, or never was)."""

    place: int
    of: int

    @property
    def seated(self) -> bool:
        return self.place == 0

    @property
    def gone(self) -> bool:
        return self.place < 0


@dataclass
class _Session:
    used: float = 0.0  # seat seconds of jobs that left
    jobs: int = 0  # seated or waiting now
    served: int = 0  # jobs seated so far (ties: everyone's first job before anyone's second)


@dataclass
class _Ticket:
    session: str
    front_end: str
    seated_at: float | None = None


class ClassQueue:
    """Seats, a bounded fair wait and per-session bounds for the service's streamed jobs."""

    def __init__(
        self,
        seats: int = 8,
        max_waiting: int = 256,
        per_session: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seats < 1 or max_waiting < 0 or per_session < 1:
            raise ValueError("seats and per_session must be at least 1, max_waiting not negative")
        self.seats, self.max_waiting, self.per_session = seats, max_waiting, per_session
        self._clock = clock
        self._cond = threading.Condition()
        self._numbers = itertools.count(1)
        self._tickets: dict[int, _Ticket] = {}
        self._sessions: dict[str, _Session] = {}
        self.counts = {"entered": 0, "refused_session": 0, "refused_full": 0, "left": 0}
        self.peak_waiting = 0

    # ------------------------------------------------------------ entering and leaving

    def enter(self, session: str, front_end: str = "") -> int:
        """A ticket for one job of ``session`` (waiting; :meth:`wait` seats it). Raises
        :class:`QueueError` at once: 429 over the session's bound, 503 when the wait is full."""
        with self._cond:
            record = self._sessions.get(session)
            if record is not None and record.jobs >= self.per_session:
                self.counts["refused_session"] += 1
                raise QueueError(
                    f"too many jobs at once from this session (at most {self.per_session})",
                    "too_many_jobs",
                    status=429,
                    limit=self.per_session,
                )
            if len(self._waiting()) >= self.max_waiting and self._free() <= 0:
                self.counts["refused_full"] += 1
                raise QueueError(
                    f"the server's queue is full ({self.max_waiting} jobs waiting): try again "
                    "shortly",
                    "queue_full",
                    status=503,
                    limit=self.max_waiting,
                )
            if record is None:  # a newcomer starts level with the sessions present
                level = min((self._usage(s) for s in self._sessions), default=0.0)
                record = self._sessions[session] = _Session(used=level)
            record.jobs += 1
            number = next(self._numbers)
            self._tickets[number] = _Ticket(session, front_end)
            self.counts["entered"] += 1
            self._seat_next()
            self.peak_waiting = max(self.peak_waiting, len(self._waiting()))
            return number

    def leave(self, ticket: int) -> None:
        """Free the ticket's seat or place now (Stop, a closed tab, the end); safe to call twice."""
        with self._cond:
            entry = self._tickets.pop(ticket, None)
            if entry is None:
                return
            record = self._sessions[entry.session]
            if entry.seated_at is not None:
                record.used += self._clock() - entry.seated_at
            record.jobs -= 1
            if record.jobs <= 0:
                del self._sessions[entry.session]
            self.counts["left"] += 1
            self._seat_next()
            self._cond.notify_all()

    # ------------------------------------------------------------ waiting

    def wait(self, ticket: int, timeout: float | None = None) -> Place:
        """Block until the ticket is seated, gone or ``timeout`` passes; its :class:`Place` then."""
        with self._cond:
            self._cond.wait_for(lambda: self._seated_or_gone(ticket), timeout=timeout)
            return self._place(ticket)

    def place(self, ticket: int) -> Place:
        """The ticket's place now, without waiting."""
        with self._cond:
            return self._place(ticket)

    def stats(self) -> dict[str, object]:
        """Seated, waiting, sessions and front ends now; what was refused so far."""
        with self._cond:
            seated = [t for t in self._tickets.values() if t.seated_at is not None]
            return {
                "seats": self.seats,
                "seated": len(seated),
                "waiting": len(self._waiting()),
                "peak_waiting": self.peak_waiting,
                "sessions": len(self._sessions),
                "front_ends": len({t.front_end for t in self._tickets.values()}),
                **self.counts,
            }

    # ------------------------------------------------------------ inside the lock

    def _seated_or_gone(self, ticket: int) -> bool:
        entry = self._tickets.get(ticket)
        return entry is None or entry.seated_at is not None

    def _place(self, ticket: int) -> Place:
        waiting = self._order()
        if ticket not in self._tickets:
            return Place(-1, len(waiting))
        if ticket not in waiting:
            return Place(0, len(waiting))
        return Place(waiting.index(ticket) + 1, len(waiting))

    def _waiting(self) -> list[int]:
        return [n for n, t in self._tickets.items() if t.seated_at is None]

    def _free(self) -> int:
        return self.seats - sum(1 for t in self._tickets.values() if t.seated_at is not None)

    def _usage(self, session: str) -> float:
        """The session's seat seconds: its finished jobs plus its seated jobs so far."""
        now = self._clock()
        running = sum(
            now - t.seated_at
            for t in self._tickets.values()
            if t.session == session and t.seated_at is not None
        )
        return self._sessions[session].used + running

    def _order(self) -> list[int]:
        """Waiting tickets, next first: least session usage, then fewest jobs of the session
        seated so far, then the oldest ticket."""
        usage = {s: self._usage(s) for s in self._sessions}

        def key(number: int) -> tuple[float, int, int]:
            session = self._tickets[number].session
            return usage[session], self._sessions[session].served, number

        return sorted(self._waiting(), key=key)

    def _seat_next(self) -> None:
        """Give every free seat to the next waiting ticket in fair order."""
        free = self._free()
        if free <= 0:
            return
        now = self._clock()
        for number in self._order()[:free]:
            ticket = self._tickets[number]
            ticket.seated_at = now
            self._sessions[ticket.session].served += 1
        self._cond.notify_all()
