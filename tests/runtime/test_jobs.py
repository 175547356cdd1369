"""JobGate: at most ``capacity`` seated jobs, FIFO, honest queue positions, seats always given back;
fair turns between seated jobs (simulated jobs on a fake clock: no wall-clock asserts)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dreamlab.runtime.budget import MemoryBudget, MemoryRefused
from dreamlab.runtime.jobs import JobGate, Ticket, default_capacity, default_turns

WAIT_S = 10.0  # a generous bound for a thread to reach a state; never an expected duration


def _until(predicate: Callable[[], bool], what: str) -> None:
    """Wait for another thread to reach a state (polling, bounded), or fail saying which."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.002)


def _start(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(WAIT_S)
        assert not thread.is_alive(), "a job thread never finished"


def test_capacity_is_respected_with_threads() -> None:
    gate = JobGate(capacity=2)
    release = threading.Event()
    lock = threading.Lock()
    inside, peak, done = [0], [0], []

    def job(i: int) -> None:
        with gate.slot():
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            release.wait(WAIT_S)
            with lock:
                inside[0] -= 1
                done.append(i)

    threads = [_start(lambda i=i: job(i)) for i in range(6)]
    _until(lambda: gate.running == 2 and gate.waiting == 4, "2 running and 4 waiting")
    assert inside[0] == 2
    release.set()
    _join(threads)
    assert peak[0] == 2
    assert sorted(done) == list(range(6))
    assert gate.running == 0 and gate.waiting == 0


def test_fifo_order() -> None:
    gate = JobGate(capacity=1)
    holder = gate.enter()
    assert gate.wait_turn(holder, timeout=0)
    order: list[int] = []

    def job(i: int) -> None:
        with gate.slot():
            order.append(i)

    threads = []
    for i in range(5):  # join the queue one after the other, so the arrival order is known
        threads.append(_start(lambda i=i: job(i)))
        _until(lambda i=i: gate.waiting == i + 1, f"job {i} queued")
    assert order == []  # nobody ran while the slot was held
    gate.leave(holder)
    _join(threads)
    assert order == [0, 1, 2, 3, 4]


def test_positions_zero_for_running_then_one_two_for_waiting() -> None:
    gate = JobGate(capacity=1)
    a, b, c = gate.enter(), gate.enter(), gate.enter()
    assert (a.position, b.position, c.position) == (0, 1, 2)  # a is next free: 0
    assert gate.wait_turn(a, timeout=0)
    assert (a.position, b.position, c.position) == (0, 1, 2)
    assert not gate.wait_turn(c, timeout=0)  # not its turn: b is ahead
    gate.leave(a)
    assert (b.position, c.position) == (0, 1)
    assert gate.wait_turn(b, timeout=0)
    assert c.position == 1
    gate.leave(b)
    assert c.position == 0 and gate.wait_turn(c, timeout=0)
    gate.leave(c)
    assert gate.running == 0 and gate.waiting == 0


def test_positions_with_capacity_two() -> None:
    gate = JobGate(capacity=2)
    running = gate.enter()
    assert gate.wait_turn(running, timeout=0)
    b, c, d = gate.enter(), gate.enter(), gate.enter()
    assert [t.position for t in (running, b, c, d)] == [0, 0, 1, 2]  # one slot free: b may go
    assert gate.wait_turn(b, timeout=0)
    assert [t.position for t in (c, d)] == [1, 2]


def test_leave_twice_is_safe_and_frees_only_its_own_slot() -> None:
    gate = JobGate(capacity=1)
    a = gate.enter()
    assert gate.wait_turn(a, timeout=0)
    gate.leave(a)
    gate.leave(a)
    b = gate.enter()
    assert gate.wait_turn(b, timeout=0)
    gate.leave(a)  # a stale leave must not free b's slot
    assert gate.running == 1
    c = gate.enter()
    assert not gate.wait_turn(c, timeout=0)
    gate.leave(b)
    assert gate.wait_turn(c, timeout=0)


def test_a_job_that_raises_releases_its_slot() -> None:
    gate = JobGate(capacity=1)
    with pytest.raises(RuntimeError, match="boom"), gate.slot():
        raise RuntimeError("boom")
    assert gate.running == 0 and gate.waiting == 0
    with gate.slot(timeout=0) as ticket:
        assert ticket.position == 0 and gate.running == 1


def test_a_job_raising_in_a_thread_lets_the_next_one_run() -> None:
    gate = JobGate(capacity=1)
    ran: list[str] = []

    def failing() -> None:
        try:
            with gate.slot():
                raise ValueError("bad input")
        except ValueError:
            ran.append("failed")

    _join([_start(failing)])
    with gate.slot(timeout=WAIT_S):
        ran.append("next")
    assert ran == ["failed", "next"]


def test_slot_timeout() -> None:
    gate = JobGate(capacity=1)
    holder = gate.enter()
    assert gate.wait_turn(holder, timeout=0)
    with pytest.raises(TimeoutError) as exc, gate.slot(timeout=0.01):
        pytest.fail("the body must not run without a slot")
    assert "\n" not in str(exc.value)
    assert gate.waiting == 0 and gate.running == 1  # the timed-out ticket left the queue
    gate.leave(holder)
    with gate.slot(timeout=0):
        assert gate.running == 1


def test_a_waiter_giving_up_lets_the_next_one_in() -> None:
    gate = JobGate(capacity=1)
    a, b, c = gate.enter(), gate.enter(), gate.enter()
    assert gate.wait_turn(a, timeout=0)
    gate.leave(b)  # b closed its browser tab
    assert c.position == 1
    gate.leave(a)
    assert gate.wait_turn(c, timeout=0)


def test_wait_turn_after_leaving_returns_instead_of_hanging() -> None:
    gate = JobGate(capacity=1)
    a = gate.enter()
    gate.leave(a)
    result: list[bool] = []
    thread = _start(lambda: result.append(gate.wait_turn(a)))  # no timeout
    _join([thread])
    assert result == [False]


def test_leave_from_another_thread_wakes_a_blocked_waiter() -> None:
    gate = JobGate(capacity=1)
    holder, waiter = gate.enter(), gate.enter()
    assert gate.wait_turn(holder, timeout=0)
    result: list[bool] = []
    thread = _start(lambda: result.append(gate.wait_turn(waiter)))  # blocks: holder runs
    # CPython's Condition keeps its blocked waiters in _waiters: wait until the thread is there
    _until(lambda: len(gate._cond._waiters) == 1, "the waiter blocks")  # type: ignore[attr-defined]
    gate.leave(waiter)  # e.g. the session ended: the blocked call must not wait for ever
    _join([thread])
    assert result == [False]
    assert gate.running == 1 and gate.waiting == 0


def test_wait_turn_again_while_running() -> None:
    gate = JobGate(capacity=1)
    a = gate.enter()
    assert gate.wait_turn(a, timeout=0)
    assert gate.wait_turn(a, timeout=0)  # still its turn, and it does not take a second slot
    assert gate.running == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        JobGate(capacity=0)
    with pytest.raises(ValueError):
        JobGate(capacity=1, turns=0)


def test_default_capacity_and_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DREAMLAB_MAX_JOBS", raising=False)
    assert default_capacity("cpu") == 4 and default_capacity("cuda") == 4
    assert default_turns("cpu") == 1 and default_turns("cuda") == 2
    monkeypatch.setenv("DREAMLAB_MAX_JOBS", "3")
    assert default_capacity("cpu") == 3
    for bad in ("0", "-2", "many", ""):
        monkeypatch.setenv("DREAMLAB_MAX_JOBS", bad)
        assert default_capacity("cpu") == 4


# ---------------------------------------------------------------- fair turns (simulated jobs)


class FakeClock:
    """Time that only moves when a simulated step says so (one step runs at a time: turns=1)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fake_steps(
    clock: FakeClock, cost: float, count: int, name: str, log: list[str]
) -> Iterator[str]:
    """A job's frames: each step 'takes' ``cost`` seconds of the fake clock, inside its turn."""
    for _ in range(count):
        clock.now += cost
        log.append(name)
        yield name


def _job(gate: JobGate, ticket: Ticket, steps: Iterator[str]) -> Callable[[], None]:
    def run() -> None:
        try:
            assert gate.wait_turn(ticket, timeout=WAIT_S)
            for _ in gate.take_turns(ticket, steps):
                pass
        finally:
            gate.leave(ticket)

    return run


def _seated_gate(clock: FakeClock, capacity: int = 4) -> JobGate:
    # A large slack: on the fake clock, a thread that asks a moment late looks like a long pause.
    return JobGate(capacity=capacity, turns=1, clock=clock, slack=1000.0)


def _run_together(gate: JobGate, jobs: dict[str, tuple[float, int]], clock: FakeClock) -> list[str]:
    """Seat every job first, then let them all ask for turns at once; the order steps ran in."""
    log: list[str] = []
    holder = gate.enter()
    assert gate.wait_turn(holder, timeout=0)
    assert gate.begin_turn(holder)  # hold the turn until every job is asking
    threads = []
    for name, (cost, count) in jobs.items():
        ticket = gate.enter()
        threads.append(_start(_job(gate, ticket, _fake_steps(clock, cost, count, name, log))))
        _until(lambda t=ticket: t.number in gate._asking, f"{name} asks for a turn")
    gate.leave(holder)
    _join(threads)
    return log


def test_equal_jobs_alternate_step_by_step() -> None:
    clock = FakeClock()
    log = _run_together(_seated_gate(clock), {"a": (1.0, 20), "b": (1.0, 20)}, clock)
    assert sorted(log) == ["a"] * 20 + ["b"] * 20
    runs = [len(list(g)) for _, g in itertools.groupby(log)]
    assert max(runs) <= 2  # never more than a step ahead of the other


def test_turns_share_time_not_steps() -> None:
    """A big dream (steps 4x longer) beside a small one: the small one gets ~4 steps per big step."""
    clock = FakeClock()
    log = _run_together(_seated_gate(clock), {"big": (4.0, 100), "small": (1.0, 40)}, clock)
    last_small = max(i for i, name in enumerate(log) if name == "small")
    big_meanwhile = log[: last_small + 1].count("big")
    assert 7 <= big_meanwhile <= 13  # ideal: 10 (40 small seconds beside 40 big seconds)
    assert log[-1] == "big"  # the small job finished first


def test_a_long_job_does_not_hold_a_later_one() -> None:
    """B arrives while A is deep into a long job: B starts before A ends and finishes first."""
    clock = FakeClock()
    gate = _seated_gate(clock, capacity=2)
    log: list[str] = []
    a = gate.enter()
    a_started = threading.Event()
    release_a = threading.Event()

    def steps_a() -> Iterator[str]:
        for i, step in enumerate(_fake_steps(clock, 2.0, 200, "a", log)):
            if i == 10:
                a_started.set()
                release_a.wait(WAIT_S)  # B enters while A is mid-job (inside A's turn)
            yield step

    thread_a = _start(_job(gate, a, steps_a()))
    assert a_started.wait(WAIT_S)
    b = gate.enter()
    assert b.position == 0  # a free seat: B does not queue behind A
    thread_b = _start(_job(gate, b, _fake_steps(clock, 1.0, 30, "b", log)))
    _until(lambda: b.number in gate._asking, "b asks for a turn")
    release_a.set()
    _join([thread_a, thread_b])
    first_b, last_b = log.index("b"), max(i for i, n in enumerate(log) if n == "b")
    assert first_b < len(log) - 1 - log[::-1].index("a")  # B started before A finished
    assert last_b < len(log) - 1 - log[::-1].index("a")  # and B finished before A
    assert log[first_b : last_b + 1].count("a") <= 20  # A did not run ahead of B meanwhile


def test_a_newcomer_starts_level_and_gets_no_burst() -> None:
    clock = FakeClock()
    gate = _seated_gate(clock)
    old = gate.enter()
    assert gate.wait_turn(old, timeout=0)
    for _ in range(50):  # the old job has already had 50 s of turns
        with gate.turn(old) as ok:
            assert ok
            clock.now += 1.0
    new = gate.enter()
    assert gate.wait_turn(new, timeout=0)
    assert gate.used(new) == gate.used(old) == 50.0


def test_a_job_back_from_a_pause_starts_at_most_the_slack_behind() -> None:
    clock = FakeClock()
    gate = JobGate(capacity=2, clock=clock, slack=2.0)
    a, b = gate.enter(), gate.enter()
    assert gate.wait_turn(a, timeout=0) and gate.wait_turn(b, timeout=0)
    for _ in range(20):  # b sits idle (its page is busy elsewhere) while a runs 20 s of steps
        with gate.turn(a):
            clock.now += 1.0
    assert gate.begin_turn(a)  # a keeps running
    assert not gate.begin_turn(b, timeout=0)
    assert gate.used(b) == gate.used(a) - 2.0  # not 20 s behind: no 20 s burst for b
    gate.end_turn(a)


def test_seats_beyond_capacity_queue_and_see_their_place() -> None:
    clock = FakeClock()
    gate = _seated_gate(clock, capacity=2)
    tickets = [gate.enter() for _ in range(5)]
    assert gate.wait_turn(tickets[0], timeout=0) and gate.wait_turn(tickets[1], timeout=0)
    assert [t.position for t in tickets] == [0, 0, 1, 2, 3]
    assert gate.running == 2 and gate.waiting == 3
    gate.leave(tickets[0])  # Stop: the seat is free at once
    assert tickets[2].position == 0 and gate.wait_turn(tickets[2], timeout=0)


def test_leave_during_a_turn_hands_the_turn_on_at_once() -> None:
    gate = _seated_gate(FakeClock())
    a, b = gate.enter(), gate.enter()
    assert gate.wait_turn(a, timeout=0) and gate.wait_turn(b, timeout=0)
    assert gate.begin_turn(a)
    assert not gate.begin_turn(b, timeout=0)  # a holds the only turn
    got: list[bool] = []
    thread = _start(lambda: got.append(gate.begin_turn(b)))
    _until(lambda: b.number in gate._asking, "b waits for a turn")
    gate.leave(a)  # Stop pressed (or the tab closed) mid-step
    _join([thread])
    assert got == [True]
    gate.end_turn(a)  # the stopped job's late end_turn charges nothing and frees nothing
    assert gate.running == 1
    gate.end_turn(b)


def test_take_turns_ends_when_the_seat_is_lost() -> None:
    gate = _seated_gate(FakeClock())
    ticket = gate.enter()
    assert gate.wait_turn(ticket, timeout=0)
    stream = gate.take_turns(ticket, itertools.count())
    assert next(stream) == 0
    gate.leave(ticket)
    assert list(stream) == []
    assert not gate.begin_turn(ticket)


def test_closing_the_stream_ends_its_turn() -> None:
    gate = _seated_gate(FakeClock())
    a, b = gate.enter(), gate.enter()
    assert gate.wait_turn(a, timeout=0) and gate.wait_turn(b, timeout=0)
    stream = gate.take_turns(a, itertools.count())
    next(stream)
    stream.close()  # the consumer stopped pulling (a rerun): no turn is kept
    assert gate.begin_turn(b, timeout=0)


# ---------------------------------------------------------------- admission by memory

MB = 2**20


def _memory_gate(limit_mb: int = 1000, baseline_mb: int = 100, **kw) -> JobGate:
    """A gate with 8 seats over a budget of ``limit_mb`` (no margin) and a fixed baseline."""
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    budget = MemoryBudget(
        MemoryLimit(limit_mb * MB, "test"), margin=0.0, measure=lambda: baseline_mb * MB
    )
    budget.set_baseline()
    return JobGate(capacity=8, budget=budget, **kw)


def _cost(mb: int, kind: str = "dream"):
    from dreamlab.runtime.budget import JobCost

    return JobCost(mb * MB, kind)


def test_jobs_are_seated_while_they_fit_then_wait_for_memory() -> None:
    gate = _memory_gate()  # 900 MB for jobs
    a, b, c = gate.enter(_cost(400)), gate.enter(_cost(400)), gate.enter(_cost(400))
    assert gate.wait_turn(a, timeout=0) and gate.wait_turn(b, timeout=0)
    assert not gate.wait_turn(c, timeout=0)  # 1200 MB would not fit
    assert (c.position, c.reason) == (1, "memory")
    gate.leave(a)
    assert c.position == 0 and gate.wait_turn(c, timeout=0)


def test_a_job_too_big_even_alone_is_refused_in_one_line() -> None:
    from dreamlab.runtime.budget import MemoryRefused

    gate = _memory_gate(limit_mb=900, baseline_mb=300)
    with pytest.raises(MemoryRefused) as info:
        gate.enter(_cost(700))
    assert "\n" not in str(info.value) and "Max side" in str(info.value)
    assert gate.waiting == 0 and gate.running == 0  # it never joined the queue


def test_a_small_job_passes_a_waiting_big_one_at_most_max_passes_times() -> None:
    gate = _memory_gate(max_passes=2)  # 900 MB for jobs
    running = gate.enter(_cost(500))
    assert gate.wait_turn(running, timeout=0)
    big = gate.enter(_cost(850))  # waits for the running job's 500 MB
    smalls = [gate.enter(_cost(100)) for _ in range(3)]
    assert not gate.wait_turn(big, timeout=0) and big.reason == "memory"
    assert gate.wait_turn(smalls[0], timeout=0)  # fits now: passes the big one (1st pass)
    assert gate.wait_turn(smalls[1], timeout=0)  # 2nd pass
    assert not gate.wait_turn(smalls[2], timeout=0)  # passed twice: now everyone waits for it
    assert smalls[2].position == 2 and smalls[2].reason == "memory"
    for ticket in (running, *smalls[:2]):
        gate.leave(ticket)
    assert gate.wait_turn(big, timeout=0)  # the big one goes first
    assert not gate.wait_turn(smalls[2], timeout=0)  # 850 + 100 > 900
    gate.leave(big)
    assert gate.wait_turn(smalls[2], timeout=0)


def test_an_idle_gate_seats_the_first_job_that_fits_alone() -> None:
    used = {"mb": 100}
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    budget = MemoryBudget(MemoryLimit(1000 * MB, "t"), margin=0.0, measure=lambda: used["mb"] * MB)
    budget.set_baseline()
    budget.add_reclaimer("trim", lambda: used.update(mb=120))  # malloc_trim hands it back
    gate = JobGate(capacity=4, budget=budget)
    used["mb"] = 600  # memory malloc has not handed back yet: the measured figure is high
    ticket = gate.enter(_cost(700))
    assert gate.wait_turn(ticket, timeout=0)  # nothing runs, so waiting would free nothing


def test_holders_shrink_what_jobs_may_use() -> None:
    gate = _memory_gate()
    held = {"mb": 0}
    assert gate.budget is not None
    gate.budget.hold("stores", lambda: held["mb"] * MB)
    a = gate.enter(_cost(500))
    assert gate.wait_turn(a, timeout=0)
    held["mb"] = 300  # the frame stores grew meanwhile
    b = gate.enter(_cost(200))
    assert not gate.wait_turn(b, timeout=0) and b.reason == "memory"
    held["mb"] = 0
    assert gate.wait_turn(b, timeout=0)


def test_memory_waiters_are_seated_by_threads_and_never_overfill() -> None:
    gate = _memory_gate()  # 900 MB for jobs
    lock, now, peak = threading.Lock(), [0], [0]
    release = threading.Event()

    def job(mb: int) -> None:
        with gate.slot(cost=_cost(mb)):
            with lock:
                now[0] += mb
                peak[0] = max(peak[0], now[0])
            release.wait(WAIT_S)
            with lock:
                now[0] -= mb

    threads = [_start(lambda mb=mb: job(mb)) for mb in (400, 300, 300, 200, 500, 100)]
    _until(lambda: gate.running + gate.waiting == 6, "all six jobs in the gate")
    release.set()
    _join(threads)
    assert peak[0] <= 900 and gate.running == 0 and gate.waiting == 0


def test_settle_re_measures_the_baseline_when_idle() -> None:
    used = {"mb": 100}
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    budget = MemoryBudget(MemoryLimit(1000 * MB, "t"), measure=lambda: used["mb"] * MB)
    budget.set_baseline()
    gate = JobGate(capacity=2, budget=budget)
    ticket = gate.enter(_cost(100))
    assert gate.wait_turn(ticket, timeout=0)
    used["mb"] = 250
    gate.settle()  # a job is seated: its memory is not the baseline
    assert budget.baseline == 100 * MB
    gate.leave(ticket)
    gate.settle()  # idle: sessions keep 150 MB more than at start
    assert budget.baseline == 250 * MB


def test_a_waiter_that_can_no_longer_fit_alone_is_refused_not_left_hanging() -> None:
    from dreamlab.runtime.budget import MemoryRefused

    gate = _memory_gate(limit_mb=1000, baseline_mb=100)
    assert gate.budget is not None
    held = {"mb": 0}
    gate.budget.hold("photos", lambda: held["mb"] * MB)
    running = gate.enter(_cost(300))
    assert gate.wait_turn(running, timeout=0)
    waiting = gate.enter(_cost(700))  # fits alone when it enters (970 - 100 = 870 MB)
    held["mb"] = 300  # then the sessions' photos grow: 970 - 100 - 300 < 700
    gate.leave(running)
    with pytest.raises(MemoryRefused):
        gate.wait_turn(waiting, timeout=WAIT_S)
    assert gate.waiting == 0 and gate.running == 0


def test_a_job_that_fits_once_the_others_finish_waits_instead_of_being_refused() -> None:
    # 30 sessions: while jobs run, the measured server rises (their memory not handed back yet)
    # and the busy baseline with it; a default dream that fits an idle server must wait, not be
    # refused
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    used = {"mb": 300}
    budget = MemoryBudget(MemoryLimit(900 * MB, "t"), margin=0.0, measure=lambda: used["mb"] * MB)
    budget.set_baseline()
    gate = JobGate(capacity=4, budget=budget)
    running = gate.enter(_cost(250))
    assert gate.wait_turn(running, timeout=0)
    used["mb"] = 850  # the busy server: baseline raised to 600 MB, 273 MB left alone
    waiting = gate.enter(_cost(400))  # fits the idle server (873 - 300 MB): it queues
    assert not gate.wait_turn(waiting, timeout=0) and waiting.reason == "memory"
    used["mb"] = 320  # the job ended and its memory went back
    gate.leave(running)
    assert gate.wait_turn(waiting, timeout=WAIT_S)  # re-measured once idle: seated


def test_before_refusing_the_gate_reclaims_and_measures_again() -> None:
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    used = {"mb": 100}
    budget = MemoryBudget(MemoryLimit(1000 * MB, "t"), margin=0.0, measure=lambda: used["mb"] * MB)
    budget.set_baseline()
    calls = []

    def evict() -> None:  # a cache that lets 400 MB go
        calls.append(1)
        used["mb"] = 150

    budget.add_reclaimer("cache", evict)
    gate = JobGate(capacity=4, budget=budget)
    used["mb"] = 550  # an idle server that holds 400 MB of cache
    gate.settle()  # measured when the last job left: the baseline is 550 MB now
    ticket = gate.enter(_cost(700))  # fits the best case (970 - 100), not the current 970 - 550
    assert gate.wait_turn(ticket, timeout=WAIT_S)  # the cache went, then it fit
    assert calls == [1] and budget.baseline == 150 * MB


def test_a_job_still_too_big_after_reclaiming_is_refused_in_one_line() -> None:
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit, MemoryRefused

    used = {"mb": 100}
    budget = MemoryBudget(MemoryLimit(1000 * MB, "t"), margin=0.0, measure=lambda: used["mb"] * MB)
    budget.set_baseline()
    calls = []
    budget.add_reclaimer("cache", lambda: calls.append(1))  # frees nothing
    gate = JobGate(capacity=4, budget=budget)
    used["mb"] = 550  # the sessions hold this now, for good
    ticket = gate.enter(_cost(700))
    with pytest.raises(MemoryRefused) as info:
        gate.wait_turn(ticket, timeout=WAIT_S)
    assert calls == [1] and "\n" not in str(info.value) and "Max side" in str(info.value)
    assert gate.waiting == 0 and gate.running == 0


def test_a_server_that_measured_its_lone_jobs_admits_by_their_measured_peaks() -> None:
    # in a warm server a default dream rose ~175 MB above where it started, against a 284 MB
    # estimate: once two lone jobs were measured, the alone check uses that (with a margin)
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    rss = {"now": 600 * MB, "hwm": 600 * MB}

    def peak(reset: bool = False) -> int:
        if reset:
            rss["hwm"] = rss["now"]
            return rss["now"]
        return rss["hwm"]

    budget = MemoryBudget(
        MemoryLimit(1000 * MB, "t"), margin=0.1, measure=lambda: 600 * MB, peak=peak
    )
    budget.set_baseline()
    gate = JobGate(capacity=4, budget=budget)
    for _ in range(2):
        ticket = gate.enter(_cost(300))  # 970 - 600 = 370 MB alone: it fits
        assert gate.wait_turn(ticket, timeout=0)
        rss["hwm"] = rss["now"] + 150 * MB  # it peaked 150 MB above where it started
        gate.leave(ticket)
    assert budget.in_server(_cost(300)) == int(300 * MB * 0.5 * 1.10)  # least spread
    assert budget.in_server(_cost(300, "vis")) == 300 * MB  # another kind: its estimate
    budget.measure = lambda: 790 * MB  # the sessions grew: 180 MB left alone
    budget.set_baseline()
    ticket = gate.enter(_cost(300))  # 300 MB by the estimate, 165 MB as measured here
    assert gate.wait_turn(ticket, timeout=0)
    gate.leave(ticket)
    other = gate.enter(_cost(150))
    beside = gate.enter(_cost(150))
    assert gate.wait_turn(other, timeout=0)
    assert not gate.wait_turn(beside, timeout=0)  # side by side: the estimates, with the margin


def _measured_budget(limit_mb: int, rss: dict) -> MemoryBudget:
    """A budget whose lone-job meter follows ``rss`` ("now", "high") as a sampler would."""
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    calls = rss.setdefault("calls", [])

    def peak(reset: bool = False) -> int:
        calls.append(reset)
        if reset:
            rss["high"] = rss["now"]
            return rss["now"]
        return rss["high"]

    budget = MemoryBudget(MemoryLimit(limit_mb * MB, "t"), measure=lambda: rss["now"], peak=peak)
    budget.set_baseline()
    return budget


def test_thirty_default_dreams_at_900_mb_all_run_once_their_real_rise_is_measured() -> None:
    # bench/CONTAINER.md, 30 sessions at 900 MB: the server holds ~650 MB between dreams, the
    # default dream's estimate is 284 MB (873 - 650 = 223 MB left alone: refused), but a warm
    # dream really rises 165-185 MB. Once two lone dreams were measured, every waiter runs.
    rss = {"now": 560 * MB}
    budget = _measured_budget(900, rss)
    gate = JobGate(capacity=4, budget=budget)
    tickets = [gate.enter(_cost(284)) for _ in range(30)]
    done = 0
    for i, ticket in enumerate(tickets):
        assert gate.wait_turn(ticket, timeout=0), f"dream {i} did not get its seat"
        assert gate.running == 1  # side by side, two estimates never fit under 765 MB
        rss["high"] = rss["now"] + (185 if i % 2 else 165) * MB  # what the sampler saw
        gate.leave(ticket)
        done += 1
        rss["now"] = min(650 * MB, rss["now"] + 15 * MB)  # the sessions keep their pictures
        gate.settle()
    assert done == 30 and gate.waiting == 0
    # 185 / 284 = 0.65, spread (185 - 165) / 185 = 11 %: about 205 MB, under 223 MB
    assert 200 * MB < budget.in_server(_cost(284)) < 210 * MB


def test_a_job_too_big_alone_is_still_refused_after_measured_lone_jobs() -> None:
    rss = {"now": 500 * MB}
    budget = _measured_budget(900, rss)
    gate = JobGate(capacity=4, budget=budget)
    for rise in (180, 160):
        ticket = gate.enter(_cost(284))
        assert gate.wait_turn(ticket, timeout=0)
        rss["high"] = rss["now"] + rise * MB
        gate.leave(ticket)
    # a 1024 px dream: nothing of its size was measured, so its estimate counts: 1155 > 373 MB
    with pytest.raises(MemoryRefused) as info:
        gate.enter(_cost(1155))
    assert "\n" not in str(info.value) and "Max side" in str(info.value)
    assert budget.in_server(_cost(300)) < 300 * MB  # within 10 % of the measured 284 MB
    assert budget.in_server(_cost(200)) == 200 * MB  # a smaller dream: its own estimate


def test_the_lone_meter_stops_when_a_second_job_sits_beside() -> None:
    rss = {"now": 100 * MB}
    budget = _measured_budget(4000, rss)
    gate = JobGate(capacity=4, budget=budget)
    first, second = gate.enter(_cost(100)), gate.enter(_cost(100))
    assert gate.wait_turn(first, timeout=0) and gate.wait_turn(second, timeout=0)
    assert rss["calls"] == [True, False]  # started for the lone one, stopped when joined
    rss["high"] = rss["now"] + 900 * MB
    gate.leave(first)
    gate.leave(second)
    assert budget.in_server(_cost(100)) == 100 * MB  # nothing measured: side by side


def test_the_first_dream_counts_off_the_caches_it_left_for_the_next_one() -> None:
    # Measured at 900 MB with 30 tabs (bench/CONTAINER.md, mem3): the server's first dream rose
    # ~330 MB from ~504 MB and left ~158 MB behind (torch's caches: the next dream reuses them);
    # the next dream's estimate (227 MB) did not fit the 211 MB left, so every later dream was
    # refused. What the first one needed, less what it left, lets the next one run.
    from dreamlab.runtime.budget import JobCost

    rss = {"now": 504 * MB}
    budget = _measured_budget(900, rss)
    gate = JobGate(capacity=4, budget=budget)
    same = "512x340, 900 floats/px"
    first = gate.enter(JobCost(337 * MB, "dream", same))
    assert gate.wait_turn(first, timeout=0)
    rss["high"], rss["now"] = 834 * MB, 662 * MB  # its peak; what stays once it is done
    gate.leave(first)
    gate.settle()
    need = budget.in_server(JobCost(227 * MB, "dream", same))
    assert need == int(172 * MB * 1.15)  # (330 - 158) MB, one job measured: 15 % margin
    nxt = gate.enter(JobCost(227 * MB, "dream", same))
    assert gate.wait_turn(nxt, timeout=0)  # 873 - 662 = 211 MB alone: it fits as measured
    gate.leave(nxt)
    # another size has nothing measured: its estimate; too big alone, refused in one line
    with pytest.raises(MemoryRefused):
        gate.enter(JobCost(900 * MB, "dream", "1024x680, 900 floats/px"))


def test_what_a_job_left_behind_counts_off_at_most_half_its_rise() -> None:
    from dreamlab.runtime.budget import JobCost

    rss = {"now": 100 * MB}
    budget = _measured_budget(4000, rss)
    gate = JobGate(capacity=4, budget=budget)
    ticket = gate.enter(JobCost(300 * MB, "dream", "d"))
    assert gate.wait_turn(ticket, timeout=0)
    rss["high"], rss["now"] = 300 * MB, 290 * MB  # rose 200, "left" 190: sessions grew too
    gate.leave(ticket)
    assert budget.in_server(JobCost(300 * MB, "dream", "d")) == int(100 * MB * 1.15)
