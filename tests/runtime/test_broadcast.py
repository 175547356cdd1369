"""The class broadcast store: codes, expiry (fake clock), bounds, sequence numbers, waiting, threads."""

from __future__ import annotations

import base64
import threading

import pytest

from dreamlab.runtime.broadcast import (
    CODE_ALPHABET,
    CODE_LENGTH,
    TTL_S,
    BroadcastStore,
    ClassCodeError,
    normalize_code,
)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> BroadcastStore:
    return BroadcastStore(clock=clock)


def test_codes_are_short_unambiguous_and_distinct(store: BroadcastStore) -> None:
    codes = [store.create() for _ in range(20)]
    assert len(set(codes)) == 20
    for code in codes:
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(CODE_ALPHABET)
        assert not set(code) & set("01IO")


def test_codes_read_case_insensitively(store: BroadcastStore) -> None:
    code = store.create()
    store.publish(code, b"jpeg", progress=0.5)
    assert store.latest(f"  {code.lower()} ").image == b"jpeg"
    assert normalize_code(code.lower()) == code


@pytest.mark.parametrize("text", ["", "ABC", "ABCDEFG", "ABCD0E", "ABCDIE", "ABC-EF", "ÀBCDEF"])
def test_malformed_codes_are_one_line_errors(store: BroadcastStore, text: str) -> None:
    with pytest.raises(ClassCodeError) as info:
        store.latest(text)
    assert "\n" not in str(info.value)


def test_wrong_code_is_unknown(store: BroadcastStore) -> None:
    code = store.create()
    other = next(c * CODE_LENGTH for c in CODE_ALPHABET if c * CODE_LENGTH != code)
    with pytest.raises(ClassCodeError, match="unknown or has expired"):
        store.latest(other)
    with pytest.raises(ClassCodeError):
        store.publish(other, b"x")
    assert not store.is_live(other) and store.is_live(code)


def test_latest_is_none_before_the_first_frame(store: BroadcastStore) -> None:
    code = store.create()
    assert store.latest(code) is None
    assert store.wait_newer(code, 0, timeout=0) is None
    assert store.mark(code, "finished") is None


def test_expiry_two_hours_after_last_activity(store: BroadcastStore, clock: FakeClock) -> None:
    code = store.create()
    clock.now += TTL_S - 1
    assert store.is_live(code)
    store.publish(code, b"frame")  # activity: the two hours start again
    clock.now += TTL_S - 1
    assert store.latest(code).image == b"frame"
    assert store.remaining_s(code) == pytest.approx(1.0)
    clock.now += 1
    assert not store.is_live(code)
    with pytest.raises(ClassCodeError, match="expired"):
        store.latest(code)
    assert code not in store.codes()


def test_expired_codes_are_purged_on_create(clock: FakeClock) -> None:
    store = BroadcastStore(clock=clock, max_codes=3)
    old = [store.create() for _ in range(3)]
    clock.now += TTL_S
    fresh = store.create()
    assert store.codes() == [fresh]
    assert not any(store.is_live(c) for c in old)


def test_number_of_codes_is_bounded(clock: FakeClock) -> None:
    store = BroadcastStore(clock=clock, max_codes=3)
    first, second, third = store.create(), store.create(), store.create()
    clock.now += 1
    store.publish(first, b"x")  # the first is now the most recently active
    fourth = store.create()
    assert len(store.codes()) == 3
    assert not store.is_live(second)  # the least recently active one went
    assert all(store.is_live(c) for c in (first, third, fourth))


def test_only_the_latest_frame_is_kept_and_bytes_are_bounded(store: BroadcastStore) -> None:
    code = store.create()
    for i in range(50):
        store.publish(code, bytes(1000 + i), maps=bytes(500))
    assert store.nbytes == 1049 + 500  # one frame, not fifty
    with pytest.raises(ValueError, match="byte limit"):
        store.publish(code, bytes(store.max_frame_bytes), maps=b"1")
    assert store.latest(code).seq == 50  # the refused frame changed nothing


def test_store_bytes_never_exceed_codes_times_frame_cap(clock: FakeClock) -> None:
    store = BroadcastStore(clock=clock, max_codes=4, max_frame_bytes=100)
    for _ in range(10):
        code = store.create()
        store.publish(code, bytes(60), maps=bytes(40))
    assert len(store.codes()) == 4
    assert store.nbytes <= 4 * 100


def test_a_photo_is_kept_once_per_code_bounded_and_dies_with_the_code(
    store: BroadcastStore, clock: FakeClock
) -> None:
    code = store.create()
    assert store.photo(code) is None
    store.set_photo(code, bytes(300))
    store.set_photo(code, bytes(200))  # a new photo replaces the last
    store.publish(code, bytes(100))
    assert store.photo(code) == bytes(200) and store.nbytes == 300
    with pytest.raises(ValueError, match="limit"):
        store.set_photo(code, bytes(store.max_frame_bytes + 1))
    assert store.photo(code) == bytes(200)  # the refused photo changed nothing
    store.set_photo(code, None)
    assert store.photo(code) is None
    store.set_photo(code, bytes(10))
    clock.now += store.ttl_s
    with pytest.raises(ClassCodeError):
        store.photo(code)


def test_sequence_numbers_and_states(store: BroadcastStore) -> None:
    code = store.create()
    assert store.publish(code, b"a", progress=0.2, text="step 1", settings={"lr": 0.05}) == 1
    assert store.publish(code, b"b", progress=2.0) == 2
    frame = store.latest(code)
    assert (frame.seq, frame.image, frame.progress, frame.state) == (2, b"b", 1.0, "running")
    assert store.mark(code, "stopped") == 3
    marked = store.latest(code)
    assert (marked.seq, marked.image, marked.state) == (3, b"b", "stopped")
    with pytest.raises(ValueError, match="unknown frame state"):
        store.publish(code, b"c", state="paused")


def test_settings_are_copied_at_publish(store: BroadcastStore) -> None:
    code = store.create()
    settings = {"lr": 0.05}
    store.publish(code, b"a", settings=settings)
    settings["lr"] = 9.0
    assert store.latest(code).settings == {"lr": 0.05}


def test_a_frame_is_made_a_data_uri_once_for_every_viewer(store: BroadcastStore) -> None:
    code = store.create()
    store.publish(code, b"\xff\xd8jpeg", maps=b"\xff\xd8maps")
    frame = store.latest(code)
    uri = frame.image_uri
    assert uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == b"\xff\xd8jpeg"
    assert store.latest(code).image_uri is uri  # the same text for the next viewer, not a copy
    assert base64.b64decode(frame.maps_uri.split(",", 1)[1]) == b"\xff\xd8maps"
    store.publish(code, b"\xff\xd8next")
    assert store.latest(code).maps_uri is None  # a frame without maps has none


def test_wait_newer_returns_at_once_when_newer_exists(store: BroadcastStore) -> None:
    code = store.create()
    store.publish(code, b"a")
    store.publish(code, b"b")
    assert store.wait_newer(code, 0, timeout=10).image == b"b"
    assert store.wait_newer(code, 1, timeout=10).seq == 2
    assert store.wait_newer(code, 2, timeout=0.01) is None  # nothing newer than what it has


def test_wait_newer_wakes_on_publish(store: BroadcastStore) -> None:
    code = store.create()
    started, got = threading.Event(), []

    def viewer() -> None:
        started.set()
        got.append(store.wait_newer(code, 0, timeout=30))

    thread = threading.Thread(target=viewer)
    thread.start()
    started.wait()
    store.publish(code, b"new")
    thread.join(timeout=30)
    assert not thread.is_alive() and got[0].image == b"new"


def test_wait_newer_raises_when_the_code_is_closed(store: BroadcastStore) -> None:
    code = store.create()
    started, errors = threading.Event(), []

    def viewer() -> None:
        started.set()
        try:
            store.wait_newer(code, 0, timeout=30)
        except ClassCodeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=viewer)
    thread.start()
    started.wait()
    store.close(code)
    thread.join(timeout=30)
    assert not thread.is_alive() and len(errors) == 1


def test_readers_in_threads_see_increasing_frames_and_the_last_one(store: BroadcastStore) -> None:
    code = store.create()
    last = 200
    seen: dict[int, list[int]] = {i: [] for i in range(8)}

    def viewer(i: int) -> None:
        seq = 0
        while seq < last:
            frame = store.wait_newer(code, seq, timeout=30)
            assert frame is not None
            assert frame.image == str(frame.seq).encode()  # never a torn frame
            seen[i].append(frame.seq)
            seq = frame.seq

    threads = [threading.Thread(target=viewer, args=(i,)) for i in seen]
    for th in threads:
        th.start()
    for n in range(1, last + 1):
        store.publish(code, str(n).encode(), progress=n / last)
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads)
    for seqs in seen.values():
        assert seqs == sorted(set(seqs)) and seqs[-1] == last


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        BroadcastStore(max_codes=0)
