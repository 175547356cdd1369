"""Memory helpers for a long-running server."""

from __future__ import annotations

import os
import sys

import pytest

from dreamlab.runtime.memory import limit_malloc_arenas, release_memory


def _resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_glibc_calls_take_effect_on_linux() -> None:
    assert limit_malloc_arenas(2) is True
    blocks = [bytearray(1 << 16) for _ in range(2000)]  # 128 MB in heap-sized (64 kB) blocks
    pinned = blocks[::50]  # a few survivors pin the heap: free() alone cannot shrink it
    del blocks
    before = _resident_bytes()
    assert release_memory() is True  # malloc_trim handed pages back
    released = before - _resident_bytes()
    assert released > 64 << 20, f"only {released >> 20} MB of about 125 MB freed went back"
    assert len(pinned) == 40


def test_release_memory_is_safe_to_call_repeatedly() -> None:
    for _ in range(3):
        release_memory()


# ---------------------------------------------------------------- what holds memory, counted


def test_tracked_objects_count_while_they_live() -> None:
    import gc

    import numpy as np

    from dreamlab.dream import FrameStore
    from dreamlab.runtime.budget import track, tracked_bytes

    before = tracked_bytes()
    photo = track(np.zeros((100, 100, 3), np.uint8))
    store = FrameStore(capacity=4)
    store.keep(0, 0, 0, 0, 1.0, np.zeros((64, 64, 3), np.uint8))
    assert tracked_bytes() == before + 30_000 + store.nbytes
    del photo, store
    gc.collect()
    assert tracked_bytes() == before


def test_the_broadcast_store_is_tracked() -> None:
    from dreamlab.runtime.broadcast import BroadcastStore
    from dreamlab.runtime.budget import tracked_bytes

    before = tracked_bytes()
    store = BroadcastStore()
    code = store.create()
    store.set_photo(code, b"x" * 5000)
    assert tracked_bytes() == before + store.nbytes and store.nbytes >= 5000


def _fake_model(mb: int):
    """A LoadedModel-like object whose module holds ``mb`` MB of weights."""
    from types import SimpleNamespace

    import torch

    return SimpleNamespace(module=torch.nn.Linear(mb * 2**18, 1, bias=False))  # mb MB of fp32


def test_model_cache_drops_least_recently_used_over_its_bound() -> None:
    from dreamlab.models.registry import ModelCache

    cache = ModelCache(lambda: 10 * 2**20, max_entries=4)
    a = cache.get("a", lambda: _fake_model(4))
    cache.get("b", lambda: _fake_model(4))
    assert cache.get("a", lambda: _fake_model(99)) is a  # a hit: not loaded again, now newest
    cache.get("c", lambda: _fake_model(4))  # 12 MB > 10: the least recently used (b) goes
    assert cache.keys() == ["a", "c"]


def test_model_cache_never_drops_a_model_a_job_uses() -> None:
    from dreamlab.models.registry import ModelCache

    cache = ModelCache(lambda: 5 * 2**20, max_entries=4)
    a = cache.get("a", lambda: _fake_model(4))
    with cache.using(a):
        cache.get("b", lambda: _fake_model(4))  # over the bound, but a runs: both stay
        assert cache.keys() == ["a", "b"]
    assert cache.keys() == ["b"]  # the job ended: a, least recently used, goes now
    big = cache.get("big", lambda: _fake_model(8))  # the newest stays even alone over the bound
    assert cache.keys() == ["big"] and big is not None


def test_loaded_models_count_in_the_budget() -> None:
    import gc

    from dreamlab.models import load_model
    from dreamlab.runtime.budget import module_bytes, tracked_bytes

    before = tracked_bytes()
    model = load_model("tiny_cnn", device="cpu")
    assert tracked_bytes() == before + module_bytes(model.module)
    del model
    gc.collect()
    assert tracked_bytes() == before


def test_an_object_collected_while_the_tracker_is_locked_does_not_deadlock() -> None:
    # the garbage collector runs weakref callbacks on whatever thread allocates, maybe one that
    # holds the tracker's lock (a server froze that way: the job gate's lock held forever)
    import gc
    import threading

    from dreamlab.runtime import budget

    class Node:
        pass

    before = budget.tracked_bytes()
    node = Node()
    node.me = node  # a cycle: only the cyclic collector frees it
    budget.track(node, 1000)
    del node
    done = threading.Event()

    def collect_under_the_lock() -> None:
        with budget._TRACKED_LOCK:
            gc.collect()
        done.set()

    threading.Thread(target=collect_under_the_lock, daemon=True).start()
    assert done.wait(30), "the tracker's weakref callback took its own lock"
    assert budget.tracked_bytes() == before


def test_model_cache_evicts_every_unused_model_when_asked() -> None:
    from dreamlab.models.registry import ModelCache

    cache = ModelCache(lambda: 100 * 2**20, max_entries=4)  # well under its bounds
    a = cache.get("a", lambda: _fake_model(1))
    cache.get("b", lambda: _fake_model(1))
    cache.get("c", lambda: _fake_model(1))
    assert cache.evict() == []  # under the bounds: nothing goes
    with cache.using(a):
        assert cache.evict(everything=True) == ["b"]  # a runs, c is the newest
    assert cache.keys() == ["a", "c"]


def test_the_shared_model_cache_is_a_reclaimer_of_the_shared_budget() -> None:
    from dreamlab.models.registry import model_cache
    from dreamlab.runtime.budget import shared_budget

    cache = model_cache()
    assert "model cache" in shared_budget()._reclaimers and cache is model_cache()


def test_reclaim_trims_and_measures_the_baseline_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from dreamlab.runtime import memory
    from dreamlab.runtime.budget import MemoryBudget, MemoryLimit

    trims = []
    monkeypatch.setattr(memory, "release_memory", lambda: trims.append(1) or True)

    MB = 2**20
    used = {"mb": 400}
    budget = MemoryBudget(MemoryLimit(1000 * MB, "t"), measure=lambda: used["mb"] * MB)
    budget.set_baseline()
    held = [bytearray(1 << 20) for _ in range(8)]  # a cache of 8 MB
    budget.add_reclaimer("cache", held.clear)
    budget.add_reclaimer("broken", lambda: 1 // 0)  # a failing reclaimer is skipped

    def freed() -> None:
        used["mb"] = 250

    budget.add_reclaimer("freed", freed)
    assert budget.reclaim() == 150 * MB and budget.baseline == 250 * MB and not held
    assert trims == [1]  # malloc_trim after the caches let go, before measuring
    assert budget.floor == 250 * MB
