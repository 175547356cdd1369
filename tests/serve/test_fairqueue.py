"""The service's queue with simulated jobs and a fake clock: seats, bounds, fair turns, places."""

from __future__ import annotations

import threading

import pytest

from dreamlab.serve.fairqueue import ClassQueue, Place, QueueError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _seated(q: ClassQueue, tickets: list[int]) -> list[int]:
    return [t for t in tickets if q.place(t).seated]


def test_seats_then_places_in_order() -> None:
    q = ClassQueue(seats=2, max_waiting=10, per_session=4, clock=Clock())
    tickets = [q.enter(f"s{i}", "fe") for i in range(5)]
    assert _seated(q, tickets) == tickets[:2]
    assert [q.place(t) for t in tickets[2:]] == [Place(1, 3), Place(2, 3), Place(3, 3)]
    q.leave(tickets[0])  # the first job ends: the next waiting one takes its seat at once
    assert q.place(tickets[2]).seated
    assert q.place(tickets[4]) == Place(2, 2)


def test_a_session_over_its_bound_is_refused_429_others_wait() -> None:
    q = ClassQueue(seats=1, max_waiting=50, per_session=2, clock=Clock())
    q.enter("alice", "fe")
    q.enter("alice", "fe")
    with pytest.raises(QueueError) as info:
        q.enter("alice", "fe")
    assert info.value.status == 429 and info.value.kind == "too_many_jobs"
    assert "\n" not in str(info.value)
    # thirty other sessions through the same front end are not refused: they wait
    for i in range(30):
        q.enter(f"student{i}", "fe")
    assert q.stats()["waiting"] == 31 and q.stats()["refused_session"] == 1


def test_a_full_queue_is_refused_503() -> None:
    q = ClassQueue(seats=1, max_waiting=2, per_session=4, clock=Clock())
    for i in range(3):  # one seated, two waiting
        q.enter(f"s{i}", "fe")
    with pytest.raises(QueueError) as info:
        q.enter("late", "fe")
    assert info.value.status == 503 and info.value.kind == "queue_full"


def test_the_next_seat_goes_to_the_session_with_least_time() -> None:
    clock = Clock()
    q = ClassQueue(seats=1, max_waiting=10, per_session=4, clock=clock)
    greedy = [q.enter("greedy", "fe1") for _ in range(3)]  # its first one sits down
    clock.now = 5.0
    polite = q.enter("polite", "fe2")  # arrives later, through another front end
    assert q.place(polite) == Place(1, 3)  # ahead of greedy's second and third jobs
    q.leave(greedy[0])
    assert q.place(polite).seated and not q.place(greedy[1]).seated
    clock.now = 6.0
    q.leave(polite)
    assert q.place(greedy[1]).seated


def test_a_returning_session_starts_level_not_with_credit() -> None:
    clock = Clock()
    q = ClassQueue(seats=1, max_waiting=10, per_session=4, clock=clock)
    a = q.enter("a", "fe")
    clock.now = 100.0  # a has had 100 s of seat
    b1 = q.enter("b", "fe")  # b comes now: level with a (100 s), not 100 s of credit
    q.leave(a)
    clock.now = 101.0
    a2 = q.enter("a", "fe")  # a had no job for a moment: its record went, it starts level too
    assert q.place(b1).seated and q.place(a2) == Place(1, 1)
    q.leave(b1)
    assert q.place(a2).seated


def test_fair_shares_over_many_turns() -> None:
    """Two sessions, one with many short jobs and one with long ones: seat time stays even."""
    clock = Clock()
    q = ClassQueue(seats=1, max_waiting=100, per_session=3, clock=clock)
    used = {"short": 0.0, "long": 0.0}
    length = {"short": 1.0, "long": 4.0}
    live = {s: [q.enter(s, "fe") for _ in range(3)] for s in used}
    for _ in range(60):
        (session, ticket) = next((s, t) for s, ts in live.items() for t in ts if q.place(t).seated)
        clock.now += length[session]
        used[session] += length[session]
        live[session].remove(ticket)
        q.leave(ticket)
        live[session].append(q.enter(session, "fe"))
    assert abs(used["short"] - used["long"]) <= 4.0  # within one long job of each other


def test_leaving_while_waiting_frees_the_place_and_wakes_waiters() -> None:
    q = ClassQueue(seats=1, max_waiting=10, per_session=4, clock=Clock())
    first = q.enter("a", "fe")
    tab = q.enter("b", "fe")
    behind = q.enter("c", "fe")
    assert q.place(behind) == Place(2, 2)
    q.leave(tab)  # a closed tab: its place is freed at once
    assert q.place(behind) == Place(1, 1)
    got: list[Place] = []
    waiter = threading.Thread(target=lambda: got.append(q.wait(behind, timeout=60)))
    waiter.start()
    q.leave(first)
    waiter.join(timeout=60)
    assert got == [Place(0, 0)]
    q.leave(behind)
    q.leave(behind)  # twice is harmless
    assert q.stats()["seated"] == 0 and q.stats()["sessions"] == 0


def test_wait_times_out_with_the_place() -> None:
    q = ClassQueue(seats=1, max_waiting=10, per_session=4, clock=Clock())
    q.enter("a", "fe")
    b = q.enter("b", "fe")
    assert q.wait(b, timeout=0.01) == Place(1, 1)


def test_stats_count_front_ends_and_sessions() -> None:
    q = ClassQueue(seats=2, max_waiting=10, per_session=4, clock=Clock())
    for i in range(4):
        q.enter(f"s{i}", f"fe{i % 2}")
    stats = q.stats()
    assert (stats["sessions"], stats["front_ends"], stats["seated"], stats["waiting"]) == (
        4,
        2,
        2,
        2,
    )
