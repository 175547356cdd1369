"""JobGate: at most ``capacity`` jobs at once, FIFO, honest queue positions, slots always given back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from dreamlab.jobs import JobGate, default_capacity

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


def test_default_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DREAMLAB_MAX_JOBS", raising=False)
    assert default_capacity("cpu") == 1
    assert default_capacity("cuda") == 2
    monkeypatch.setenv("DREAMLAB_MAX_JOBS", "3")
    assert default_capacity("cpu") == 3
    for bad in ("0", "-2", "many", ""):
        monkeypatch.setenv("DREAMLAB_MAX_JOBS", bad)
        assert default_capacity("cpu") == 1
