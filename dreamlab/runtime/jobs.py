"""The job gate shared by every browser session: seats for a few jobs, fair turns step by step.

A class of 30 pressing **Dream** at once must not oversubscribe two CPU cores, and one student's
1024 px, 8 x 50 dream must not make everyone behind it wait for all of it. So the gate has two
levels:

- **Seats** (``capacity``): at most this many jobs are admitted at once (each keeps its tensors in
  memory). The others wait in FIFO order and can ask their place in the queue (``position``).
- **Turns** (``turns``): seated jobs run *one step at a time* (``with gate.turn(ticket): step()``,
  or :meth:`JobGate.take_turns` around a frame iterator), at most ``turns`` steps at once (1 on a
  CPU: each step gets every core; 2 on a GPU). The next turn goes to the waiting job that has had
  the least turn time so far: fair shares of *time*, not of steps, so a small dream beside a big
  one gets half the machine even though its steps are 4x shorter (start-time fair queuing, as
  Linux's CFS does with ``vruntime``). A job that joins, or comes back after not asking for a
  while, starts level with the others (minus a small slack) so it cannot claim credit for the past.

**Memory** (``budget``, :mod:`dreamlab.runtime.budget`): each job enters with its expected peak
(:class:`~dreamlab.runtime.budget.JobCost`). A job that could not fit alone even at the server's smallest
measured baseline is refused at :meth:`enter` (:class:`~dreamlab.runtime.budget.MemoryRefused`, one line
naming the limit and what to lower). A job that might fit waits: when nothing runs and it still
does not fit alone, the budget first frees what it can (cached models no job uses, malloc_trim)
and measures the server again, and only then refuses it. The others are seated only when their
peak fits beside the seated jobs' (``committed + cost <= usable``); until then they wait, and
:meth:`JobGate.reason` says why (``"memory"`` or ``"seats"``). The policy between waiters: first
come, first seated, except that a later job that fits now may pass a waiting job that does not fit,
at most ``max_passes`` times per waiting job (2 by default); after that nobody passes it, so a big
job waits for memory to free up but is never starved. With nothing seated the first waiter is
always seated if it fits alone (no memory is ever freed by waiting longer).

Work between steps (a page drawing its frame) happens outside the turn, so another job's step runs
meanwhile. :meth:`leave` (Stop, a closed tab, an error) frees the seat and any turn at once.
Pure Python (no streamlit), so the CLI and tests can use it too; ``clock`` is injectable.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from dreamlab.runtime.budget import JobCost, MemoryBudget

__all__ = ["JobGate", "Ticket", "default_capacity", "default_turns"]

T = TypeVar("T")
_LOG = logging.getLogger(__name__)  # refusals (warning) and measured lone peaks (info)

_SLACK_S = 0.25  # how far behind the others a returning job may start (a short catch-up burst)
MAX_PASSES = 2  # how many later jobs may be seated before a waiting job that does not fit yet


def default_capacity(device: str = "cpu") -> int:
    """Seats: ``DREAMLAB_MAX_JOBS`` if set, else 4 (jobs taking turns; each holds its memory)."""
    env = os.environ.get("DREAMLAB_MAX_JOBS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return 4


def default_turns(device: str = "cpu") -> int:
    """Steps at once: 1 on the CPU (a step gets every core), 2 on a GPU (one feeds while one runs)."""
    return 1 if device == "cpu" else 2


@dataclass
class Ticket:
    """One job's place in the gate."""

    number: int
    gate: JobGate = field(repr=False)

    @property
    def position(self) -> int:
        """0 when seated (or free to be), else how many jobs are ahead in the queue."""
        return self.gate.position(self)

    @property
    def reason(self) -> str:
        """Why it waits: ``"memory"``, ``"seats"``, or ``""`` (seated or free to be)."""
        return self.gate.reason(self)


class JobGate:
    """At most ``capacity`` seated jobs, taking turns of one step (``turns`` steps at once)."""

    def __init__(
        self,
        capacity: int = 1,
        turns: int = 1,
        clock: Callable[[], float] = time.monotonic,
        slack: float = _SLACK_S,
        budget: MemoryBudget | None = None,
        max_passes: int = MAX_PASSES,
    ) -> None:
        if capacity < 1 or turns < 1:
            raise ValueError("capacity and turns must be at least 1")
        self.capacity = capacity
        self.turns = turns
        self.budget = budget
        self.max_passes = max_passes
        self._costs: dict[int, int] = {}  # ticket -> expected peak bytes (waiting or seated)
        self._passes: dict[int, int] = {}  # waiting ticket -> later jobs seated before it
        self._jobs: dict[int, JobCost] = {}  # ticket -> its cost (kind: the refusal's advice)
        self._lone: dict[int, tuple[int, int]] = {}  # the job seated alone -> anon, held then
        self._clock = clock
        self._slack = slack
        self._cond = threading.Condition()
        self._counter = itertools.count()
        self._waiting: list[int] = []  # FIFO of tickets without a seat
        self._used: dict[int, float] = {}  # seated ticket -> turn seconds so far
        self._asking: set[int] = set()  # seated tickets waiting for a turn
        self._active: dict[int, float] = {}  # tickets in a turn -> when it began
        self._ended: dict[int, float] = {}  # seated tickets -> when their last turn ended

    # -- seats

    def position(self, ticket: Ticket) -> int:
        """Jobs ahead of ``ticket`` that must be seated before it can (0 = seated or next free)."""
        with self._cond:
            if ticket.number in self._used or ticket.number not in self._waiting:
                return 0
            eligible = self._eligible()
            if ticket.number in eligible:
                return 0
            ahead = self._waiting[: self._waiting.index(ticket.number)]
            return max(1, len(ahead) - len([n for n in ahead if n in eligible]) + 1)

    def reason(self, ticket: Ticket) -> str:
        """Why ``ticket`` waits: ``"memory"`` (a seat is free but not the memory), ``"seats"``,
        or ``""`` when it is seated or may sit now."""
        with self._cond:
            number = ticket.number
            if number in self._used or number not in self._waiting or number in self._eligible():
                return ""
            return "memory" if self._free_seats() > 0 else "seats"

    @property
    def running(self) -> int:
        """Seated jobs (taking turns)."""
        with self._cond:
            return len(self._used)

    @property
    def waiting(self) -> int:
        """Jobs queued for a seat."""
        with self._cond:
            return len(self._waiting)

    def enter(self, cost: JobCost | None = None) -> Ticket:
        """Take a ticket and join the queue (does not block). With a budget, a job whose ``cost``
        could not fit alone even at the server's smallest measured baseline raises
        :class:`~dreamlab.runtime.budget.MemoryRefused` (one line); any other waits (:meth:`wait_turn`)."""
        if cost is not None and self.budget is not None:
            refused = self.budget.refusal(cost)
            if refused is not None:
                raise refused
        with self._cond:
            ticket = Ticket(next(self._counter), self)
            self._waiting.append(ticket.number)
            self._costs[ticket.number] = cost.bytes if cost is not None else 0
            if cost is not None:
                self._jobs[ticket.number] = cost
            self._passes[ticket.number] = 0
            return ticket

    def wait_turn(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Block until ``ticket`` has a seat (True) or ``timeout`` seconds pass (False).

        With a budget, when nothing is seated and the first waiter does not fit alone, the budget
        first frees what it can (:meth:`~dreamlab.runtime.budget.MemoryBudget.reclaim`: cached models no
        job uses, malloc_trim, the baseline measured afresh); only a job that still cannot fit
        leaves the queue and raises :class:`~dreamlab.runtime.budget.MemoryRefused` (waiting would free
        nothing more)."""
        number = ticket.number
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if number in self._used:  # asked again once seated: still seated
                return True
            while True:
                left = None if end is None else max(0.0, end - time.monotonic())
                # Also wake if the ticket left the queue (leave() from elsewhere): it never starts.
                self._cond.wait_for(
                    lambda: (
                        number not in self._waiting
                        or self._can_sit(number)
                        or self._hopeless(number) is not None
                    ),
                    timeout=left,
                )
                if not self._reclaim_or_refuse(number):
                    if end is not None and time.monotonic() >= end:
                        return False
                    continue  # memory was freed, but not yet enough to sit: wait on
                if number not in self._waiting or not self._can_sit(number):
                    return False
                self._seat(number)
                return True

    def _reclaim_or_refuse(self, number: int) -> bool:
        """If ``number`` cannot fit alone in an idle gate: reclaim memory, then raise its refusal
        if it still cannot (it leaves the queue). False if it was reclaimed for and may fit now
        but cannot sit yet; True otherwise (call holding the lock)."""
        if self._hopeless(number) is None:
            return True
        assert self.budget is not None  # _hopeless is None without a budget
        freed = self.budget.reclaim()  # evict, trim, re-measure: then decide
        refused = self._hopeless(number)
        if refused is not None:
            _LOG.warning(
                "job refused after reclaiming %d MB (baseline %d MB, held %d MB, needs %d MB as "
                "measured here, %d waiting): %s",
                freed // 2**20,
                self.budget.baseline // 2**20,
                self.budget.held() // 2**20,
                self._in_server(number) // 2**20,
                len(self._waiting) - 1,
                refused,
            )
            self._drop(number)
            raise refused
        return self._can_sit(number)

    def _seat(self, number: int) -> None:
        for ahead in self._waiting[: self._waiting.index(number)]:
            self._passes[ahead] += 1  # it waits for memory: one more job went before it
        self._waiting.remove(number)
        self._passes.pop(number, None)
        if self._lone and self.budget is not None:
            self.budget.peak()  # a job beside another: neither one's peak is its own (stop)
        self._lone.clear()
        if self.budget is not None and not self._used:  # alone: measure its peak
            start = self.budget.peak(reset=True)
            if start is not None:
                self._lone[number] = (start, self.budget.held())
        self._used[number] = min(self._used.values(), default=0.0)  # level with the others
        self._ended[number] = self._clock()

    def _free_seats(self) -> int:
        return self.capacity - len(self._used)

    def _can_sit(self, number: int) -> bool:
        return number in self._eligible()

    def _hopeless(self, number: int):
        """The refusal for the first waiter of an idle gate that cannot fit even alone, else None."""
        if self.budget is None or self._used or not self._waiting or self._waiting[0] != number:
            return None
        return self.budget.refusal(self._cost_of(number), best_case=False)

    def _in_server(self, number: int) -> int:
        """A waiter's cost as this server measured jobs of its kind alone (see
        :meth:`~dreamlab.runtime.budget.MemoryBudget.in_server`)."""
        assert self.budget is not None
        return self.budget.in_server(self._cost_of(number))

    def _cost_of(self, number: int) -> JobCost:
        from dreamlab.runtime.budget import JobCost

        return self._jobs.get(number) or JobCost(self._costs.get(number, 0), "")

    def _drop(self, number: int) -> None:
        for table in (self._costs, self._passes, self._jobs):
            table.pop(number, None)
        if number in self._waiting:
            self._waiting.remove(number)
        self._cond.notify_all()

    def _eligible(self) -> set[int]:
        """The waiters that may take a seat now, in queue order as the policy says (module doc):
        each one that fits takes its seat and memory in this reckoning; one that does not fit may
        be passed until it has been passed ``max_passes`` times, then it blocks everyone behind."""
        seats = self._free_seats()
        if seats <= 0:
            return set()
        if self.budget is None:
            return set(self._waiting[:seats])
        idle = not self._used
        seated = sum(self._costs.get(n, 0) for n in self._used)
        room = self.budget.usable - self.budget.committed(seated, idle)
        alone_room = self.budget.alone_room(best_case=False) if idle else 0
        out: set[int] = set()
        for n in self._waiting:
            cost = self._costs.get(n, 0)
            alone = idle and not out and n == self._waiting[0]  # nothing runs: it cannot wait
            if cost <= room or (alone and self._in_server(n) <= alone_room):
                out.add(n)
                room -= cost
                seats -= 1
                if seats == 0:
                    break
            elif self._passes.get(n, 0) >= self.max_passes:
                break  # passed often enough: everyone behind waits for it
        return out

    def leave(self, ticket: Ticket) -> None:
        """Give the seat, any turn and the queue place back; safe to call twice."""
        with self._cond:
            number = ticket.number
            self._observe(number)
            self._used.pop(number, None)
            self._costs.pop(number, None)
            self._passes.pop(number, None)
            self._jobs.pop(number, None)
            self._ended.pop(number, None)
            self._asking.discard(number)
            self._active.pop(number, None)
            if number in self._waiting:
                self._waiting.remove(number)
            self._cond.notify_all()

    def _observe(self, number: int) -> None:
        """A job that ran alone from start to end: its measured rise goes to the budget, less
        what it left behind once its memory was handed back (caches the next such job reuses:
        torch's first use), measured before any other job is seated."""
        lone = self._lone.pop(number, None)
        if lone is None or self.budget is None or number not in self._used:
            return
        peak = self.budget.peak()
        if peak is None:
            return
        start, held = lone
        from dreamlab.runtime.memory import release_memory

        release_memory()
        now = self.budget.measure()
        # memory the holders account for (a session's picture, a model) is not the job's cache
        left = 0 if now is None else max(0, now - start - max(0, self.budget.held() - held))
        cost = self._cost_of(number)
        self.budget.observe(cost.job, cost.bytes, peak - start, left=left, detail=cost.detail)
        _LOG.info(
            "lone %s (%s): rose %d MB from %d MB, left %d MB (estimate %d MB)",
            cost.job or "job",
            cost.detail,
            (peak - start) // 2**20,
            start // 2**20,
            left // 2**20,
            cost.bytes // 2**20,
        )

    @contextmanager
    def slot(self, timeout: float | None = None, cost: JobCost | None = None) -> Iterator[Ticket]:
        """``with gate.slot(): ...`` runs the body once this job has a seat."""
        ticket = self.enter(cost)
        try:
            if not self.wait_turn(ticket, timeout):
                raise TimeoutError("the job queue is full; try again in a moment")
            yield ticket
        finally:
            self.leave(ticket)

    # -- turns

    def begin_turn(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Block until this seated job may run one step (True); False if it has no seat (it left)
        or ``timeout`` passed. Every :meth:`begin_turn` that returns True needs its :meth:`end_turn`."""
        number = ticket.number
        with self._cond:
            if number not in self._used:
                return False
            if number in self._active:
                return True
            self._catch_up(number)
            self._asking.add(number)
            try:
                ok = self._cond.wait_for(
                    lambda: number not in self._used or self._may_run(number), timeout=timeout
                )
            finally:
                self._asking.discard(number)
            if not ok or number not in self._used:
                self._cond.notify_all()  # a waiter behind it may now be first
                return False
            self._active[number] = self._clock()
            return True

    def _catch_up(self, number: int) -> None:
        """A job back after a pause (no turn for longer than the slack) starts at most the slack
        behind the jobs still running, instead of claiming the whole pause as credit."""
        if self._clock() - self._ended.get(number, self._clock()) <= self._slack:
            return  # asking again right after its last step: its deficit is fair
        busy = [self._used[n] for n in (*self._asking, *self._active) if n != number]
        if busy:
            self._used[number] = max(self._used[number], min(busy) - self._slack)

    def _may_run(self, number: int) -> bool:
        """A free turn, and ``number`` among the askers with the least turn time (ties: oldest)."""
        free = self.turns - len(self._active)
        if free <= 0:
            return False
        first = sorted(self._asking, key=lambda n: (self._used[n], n))[:free]
        return number in first

    def end_turn(self, ticket: Ticket) -> None:
        """The step is done: charge its time and hand the turn on."""
        with self._cond:
            began = self._active.pop(ticket.number, None)
            if began is not None and ticket.number in self._used:
                self._used[ticket.number] += max(0.0, self._clock() - began)
                self._ended[ticket.number] = self._clock()
            self._cond.notify_all()

    @contextmanager
    def turn(self, ticket: Ticket) -> Iterator[bool]:
        """``with gate.turn(ticket) as ok:`` one step; ``ok`` is False if the job lost its seat."""
        ok = self.begin_turn(ticket)
        try:
            yield ok
        finally:
            if ok:
                self.end_turn(ticket)

    def take_turns(self, ticket: Ticket, frames: Iterable[T]) -> Iterator[T]:
        """Pull ``frames`` one turn per item; what the caller does with an item is outside the
        turn. Ends early if the ticket loses its seat."""
        it = iter(frames)
        while True:
            with self.turn(ticket) as ok:
                if not ok:
                    return
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    def settle(self) -> None:
        """After a job (its memory handed back): with nothing seated, re-measure the budget's
        baseline, so memory the server keeps for its sessions counts and memory it freed does not."""
        with self._cond:
            if self.budget is not None:
                self.budget.jobs_done += 1
                if not self._used:
                    self.budget.set_baseline()
            self._cond.notify_all()

    def used(self, ticket: Ticket) -> float:
        """Turn seconds a seated job has been charged (0 when not seated)."""
        with self._cond:
            return self._used.get(ticket.number, 0.0)
