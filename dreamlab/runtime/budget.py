"""The server's memory budget: the container's limit, what the server holds, what each job will need.

A small container (Community Cloud gives an app 690 MB to 2.7 GB) kills the whole server when its
memory runs out: every user loses their work. So every heavy job states its expected peak before it
starts (a :class:`JobCost`, from :mod:`dreamlab.runtime.job_costs`), and the job gate
(:mod:`dreamlab.runtime.jobs`) seats it only when it fits:

    limit     DREAMLAB_MEMORY_MB, else the cgroup's limit (v2 ``memory.max``, v1
              ``memory.limit_in_bytes``; v1 writes "unlimited" as a huge number), else the RAM
    usable    limit x (1 - margin)   for jobs side by side (the margin absorbs estimation error);
              a job alone may use up to limit x (1 - ALONE_MARGIN), else it is refused
    committed baseline + held + the seated jobs' expected peaks
    baseline  the server's own anonymous resident memory when the budget was made (Python, torch,
              Streamlit), less what the holders held then
    held      what holders report now: cached models, fast copies, frame stores, the class
              broadcast store, photos and uploads kept in sessions (:meth:`MemoryBudget.hold`)

Only anonymous memory counts (``RssAnon``): file pages (torch's libraries) are page cache the
kernel reclaims before it kills anything. When nothing is seated and the process holds more than the
ledger says (freed memory malloc has not handed back yet), the measured figure is used instead.

Refusals: up front, only a job that could not fit even at the smallest baseline measured so far
(:attr:`MemoryBudget.floor`); the job gate refuses the others only once nothing runs, after
:meth:`MemoryBudget.reclaim`. A job that runs alone has its real peak measured (``VmHWM``); once
two of a kind were, the alone check uses the estimate scaled by what this server measured
(:meth:`MemoryBudget.in_server`, never above the estimate).
"""

from __future__ import annotations

import collections
import mmap
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreamlab.errors import DreamLabError

__all__ = [
    "ALONE_MARGIN",
    "AnonPeak",
    "DEFAULT_MARGIN",
    "JobCost",
    "MemoryBudget",
    "MemoryLimit",
    "MemoryRefused",
    "anon_resident",
    "module_bytes",
    "track",
    "tracked_bytes",
    "read_limit",
    "shared_budget",
]

MB = 2**20
DEFAULT_MARGIN = 0.15  # of the limit kept free while jobs run side by side (estimation error)
ALONE_MARGIN = 0.03  # of the limit kept free by a job running alone (the kernel's own slack)
_UNLIMITED = 2**60  # cgroup v1 says "no limit" with a number near 2**63
_ENV = "DREAMLAB_MEMORY_MB"


class MemoryRefused(DreamLabError):
    """A job that cannot fit in the server's memory even alone (one line: the limit, what to lower)."""


@dataclass(frozen=True)
class MemoryLimit:
    """How many bytes the server may use, and where the figure came from."""

    bytes: int
    source: str  # "DREAMLAB_MEMORY_MB", "cgroup v2", "cgroup v1" or "machine"

    @property
    def mb(self) -> int:
        return round(self.bytes / MB)


@dataclass(frozen=True)
class JobCost:
    """A job's expected peak memory over the baseline, and what its user can lower if too big."""

    bytes: int
    job: str  # "dream", "vis", "train" or "maps": picks the refusal's advice
    detail: str = ""  # what the estimate was made from, for logs and benchmarks

    @property
    def mb(self) -> int:
        return round(self.bytes / MB)


# ---------------------------------------------------------------- the limit


def _read_int(path: Path) -> int | None:
    """A cgroup file's number; None if missing, unreadable, "max" or "unlimited"."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    value = int(text)
    return value if value < _UNLIMITED else None


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """This process's cgroup path per hierarchy: ``{"": path}`` for v2, ``{"memory": path}`` v1."""
    out: dict[str, str] = {}
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                out[name] = parts[2]
    return out


def _smallest_up(base: Path, rel: str, name: str) -> int | None:
    """The smallest limit ``name`` from the cgroup ``rel`` up to ``base`` (a parent can limit)."""
    found: list[int] = []
    node = Path(rel.strip("/") or ".")
    while True:
        value = _read_int(base / node / name)
        if value is not None:
            found.append(value)
        if node == Path("."):
            break
        node = node.parent
    return min(found, default=None)


def _mem_total(meminfo: Path) -> int:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 * 2**30  # no /proc (macOS, Windows): assume a small laptop


def read_limit(
    env: Mapping[str, str] | None = None,
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    meminfo: Path = Path("/proc/meminfo"),
) -> MemoryLimit:
    """The server's memory limit: ``DREAMLAB_MEMORY_MB``, else the cgroup's, else the RAM.

    A malformed ``DREAMLAB_MEMORY_MB`` raises :class:`~dreamlab.errors.DreamLabError` (one line).
    """
    raw = (os.environ if env is None else env).get(_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 64:
            raise DreamLabError(
                f"{_ENV} must be a whole number of megabytes, at least 64; got {raw!r}",
                "memory_env",
                value=raw,
            )
        return MemoryLimit(int(raw) * MB, _ENV)
    total = _mem_total(meminfo)
    own = _own_cgroups(proc_cgroup)
    if (cgroup_root / "cgroup.controllers").exists():
        v2 = _smallest_up(cgroup_root, own.get("", "/"), "memory.max")
        if v2 is not None:
            return MemoryLimit(min(v2, total), "cgroup v2")
    v1 = _smallest_up(cgroup_root / "memory", own.get("memory", "/"), "memory.limit_in_bytes")
    if v1 is not None and v1 < total:
        return MemoryLimit(v1, "cgroup v1")
    return MemoryLimit(total, "machine")


def anon_resident(status: Path = Path("/proc/self/status")) -> int | None:
    """This process's anonymous resident bytes (``RssAnon``), None where /proc has no such line."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _statm_anon(statm: Path = Path("/proc/self/statm")) -> int | None:
    """``RssAnon`` the cheap way (``statm``: resident less file and shared pages), for sampling."""
    try:
        fields = statm.read_text().split()
        return (int(fields[1]) - int(fields[2])) * mmap.PAGESIZE
    except (OSError, ValueError, IndexError):
        return None


SAMPLE_S = 0.004  # how often a lone job's anonymous memory is sampled (a step lasts 0.1 s or more)


class AnonPeak:
    """A lone job's peak anonymous memory, sampled on a small thread while it runs.

    ``peak(reset=True)`` starts sampling and returns the
    anonymous bytes now; ``peak()`` stops it and returns the highest seen since (None where /proc
    cannot tell). Only anonymous memory counts: in a full cgroup the kernel evicts the server's
    library pages between jobs and the next job faults them back in, which ``VmHWM`` counts as the
    job's own (the likely reason ``VmHWM`` rises never relaxed the alone check at 900 MB).
    """

    def __init__(
        self, measure: Callable[[], int | None] = _statm_anon, interval: float = SAMPLE_S
    ) -> None:
        self._measure = measure
        self._interval = interval
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._high: int | None = None

    def __call__(self, reset: bool = False) -> int | None:
        if reset:
            return self._start()
        return self._finish()

    def _start(self) -> int | None:
        self._finish()
        now = self._measure()
        if now is None:
            return None
        stop = threading.Event()
        with self._lock:
            self._high, self._stop = now, stop
        threading.Thread(target=self._sample, args=(stop,), name="anon-peak", daemon=True).start()
        return now

    def _sample(self, stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            self._note(stop)

    def _note(self, stop: threading.Event) -> None:
        now = self._measure()
        with self._lock:
            if self._stop is stop and now is not None and now > (self._high or 0):
                self._high = now

    def _finish(self) -> int | None:
        with self._lock:
            stop, self._stop = self._stop, None
        if stop is None:
            return None
        stop.set()
        now = self._measure()  # the job's end, in case it peaked after the last sample
        with self._lock:
            return max(self._high or 0, now or 0) or None


OBSERVED_SPREAD = 0.10  # the least margin on the largest measured need of lone jobs
OBSERVED_SPREAD_ONE = 0.15  # the margin when only one such job was measured
OBSERVED_KEEP = 8  # lone jobs remembered per kind of job
OBSERVED_SIZE = 0.10  # how close (of the estimate) a measured job's estimate must be to count


@dataclass(frozen=True)
class _Observed:
    """A lone job measured in this server: its estimate, what it needed, what it was."""

    estimate: int
    need: int  # measured rise less what it left behind (caches the next one reuses)
    detail: str


# ---------------------------------------------------------------- the ledger


@dataclass
class MemoryBudget:
    """Bytes the server may commit: ``limit`` less a margin, its baseline and what holders hold.

    ``measure`` (bytes in use now, or None) is injectable for tests; holders are callables giving
    the bytes they hold now (registered with :meth:`hold`, dropped with :meth:`release`).
    """

    limit: MemoryLimit
    margin: float = DEFAULT_MARGIN
    measure: Callable[[], int | None] = anon_resident
    baseline: int = 0
    floor: int | None = None  # the smallest baseline measured so far (the best case)
    jobs_done: int = 0  # heavy jobs finished (the first one pays first-use costs)
    peak: Callable[..., int | None] = field(default_factory=AnonPeak)  # a lone job's, measured
    _observed: dict[str, list[_Observed]] = field(default_factory=dict, repr=False)
    _holders: dict[str, Callable[[], int]] = field(default_factory=dict, repr=False)
    _reclaimers: dict[str, Callable[[], object]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def usable(self) -> int:
        """The limit less the margin: what baseline, holders and jobs may add up to."""
        return int(self.limit.bytes * (1.0 - self.margin))

    def hold(self, name: str, nbytes: Callable[[], int]) -> None:
        """Count what ``nbytes()`` reports in the budget from now on (same name: replaced)."""
        with self._lock:
            self._holders[name] = nbytes

    def release(self, name: str) -> None:
        """Stop counting a holder (unknown: no-op)."""
        with self._lock:
            self._holders.pop(name, None)

    def held(self) -> int:
        """Bytes the holders report now (a holder that fails counts 0)."""
        with self._lock:
            holders = list(self._holders.values())
        total = 0
        for nbytes in holders:
            try:
                total += max(0, int(nbytes()))
            except Exception:  # a holder that broke must not stop admission
                continue
        return total

    def set_baseline(self) -> int:
        """The baseline is what the process holds now outside the holders (call when idle)."""
        now = self.measure()
        self.baseline = max(0, (now or 0) - self.held())
        self.floor = self.baseline if self.floor is None else min(self.floor, self.baseline)
        return self.baseline

    def observe(self, job: str, estimate: int, rise: int, left: int = 0, detail: str = "") -> None:
        """Record a job that ran alone: how far it rose above where it started (``rise`` bytes,
        its measured peak) against its ``estimate``, and how much of that it ``left`` behind
        once done (caches the next such job reuses, e.g. torch's first use: counted off)."""
        need = rise - min(max(0, left), rise // 2)  # at least half the rise always counts
        if estimate > 0 and need > 0:
            kept = self._observed.setdefault(job, [])
            kept.append(_Observed(estimate, need, detail))
            del kept[:-OBSERVED_KEEP]

    def in_server(self, cost: JobCost) -> int:
        """``cost`` as this server measured jobs of its kind and size to need alone.

        Jobs with the same ``detail`` (same work: size, layers) count their measured needs
        (rise less what the job left behind); else jobs whose estimate was within
        :data:`OBSERVED_SIZE` of this one count as need / estimate x this estimate (a warm server
        reuses freed heap, a share that differs with the size). The largest, plus a margin of the
        measured spread (``(max - min) / max``, at least :data:`OBSERVED_SPREAD`, or
        :data:`OBSERVED_SPREAD_ONE` from one job), never more than the estimate; the estimate
        itself until one such job was measured."""
        needs = [
            o.need if cost.detail and o.detail == cost.detail else o.need * cost.bytes / o.estimate
            for o in self._observed.get(cost.job, [])
            if (cost.detail and o.detail == cost.detail)
            or abs(o.estimate - cost.bytes) <= OBSERVED_SIZE * cost.bytes
        ]
        if not needs:
            return cost.bytes
        high = max(needs)
        least = OBSERVED_SPREAD if len(needs) > 1 else OBSERVED_SPREAD_ONE
        spread = max(least, (high - min(needs)) / high)
        return int(min(cost.bytes, high * (1.0 + spread)))

    def add_reclaimer(self, name: str, free: Callable[[], object]) -> None:
        """Call ``free()`` before a job is refused (same name: replaced): a cache that can let go
        of what no running job needs (the model cache's least recently used models)."""
        with self._lock:
            self._reclaimers[name] = free

    def reclaim(self) -> int:
        """Free what can be freed before refusing a job: every reclaimer, then the garbage
        collector and malloc_trim (:func:`dreamlab.runtime.memory.release_memory`), then the baseline
        measured afresh. Call with no job seated. Returns how far the baseline dropped (bytes)."""
        from dreamlab.runtime.memory import release_memory

        with self._lock:
            reclaimers = list(self._reclaimers.values())
        before = self.baseline
        for free in reclaimers:
            try:
                free()
            except Exception:  # a cache that failed to shrink must not stop admission
                continue
        release_memory()
        self.set_baseline()
        return before - self.baseline

    def committed(self, seated: int, idle: bool) -> int:
        """Bytes spoken for: baseline + held + ``seated`` (the seated jobs' expected peaks).

        The measured figure corrects it: idle (no job seated), it counts if higher (freed memory
        malloc has not handed back yet). With jobs seated, the process holds at least
        ``measured - seated - held`` outside the jobs, so the baseline is raised to that if
        higher (sessions that grew while the gate never idled); :meth:`set_baseline` lowers it
        again once idle."""
        held = self.held()
        now = self.measure()
        if now is not None and not idle:
            self.baseline = max(self.baseline, now - seated - held)
        ledger = self.baseline + held + seated
        if idle and now is not None:
            return max(ledger, now)
        return ledger

    def alone_room(self, best_case: bool = False) -> int:
        """The most a job running alone may need: the limit less :data:`ALONE_MARGIN`, the
        baseline and what is held (the wider margin is for several estimates at once).

        ``best_case``: with the smallest baseline measured so far (:attr:`floor`) instead of the
        current one, which running jobs and memory not handed back yet may have raised; else
        with what the process holds now if more (call with no job seated)."""
        held = self.held()
        base = self.baseline
        if best_case and self.floor is not None:
            base = min(base, self.floor)
        elif not best_case:  # what the process holds now, if more (nothing may be seated)
            now = self.measure()
            base = max(base, (now or 0) - held)
        return int(self.limit.bytes * (1.0 - ALONE_MARGIN)) - base - held

    def refusal(self, cost: JobCost, best_case: bool = True) -> MemoryRefused | None:
        """The one-line refusal for a job that cannot fit even alone, else None.

        ``best_case`` (what pages and the CLI check before a job queues): refused only if it could
        not fit even at the smallest baseline measured so far. A job that passes waits; the job
        gate checks it against the current baseline (``best_case=False``) once nothing runs, after
        :meth:`reclaim`, so a server that grew refuses it only then."""
        room = self.alone_room(best_case)
        if self.in_server(cost) <= room:
            return None
        lower = _LOWER.get(cost.job, "the job's size")
        return MemoryRefused(
            f"this {_JOBS.get(cost.job, 'job')} needs about {cost.mb} MB but only "
            f"{max(0, room) // MB} MB of the {self.limit.mb} MB memory limit "
            f"({self.limit.source}) is free for it: lower {lower}",
            f"memory_too_big_{cost.job}",
            need=cost.mb,
            free=max(0, room) // MB,
            limit=self.limit.mb,
        )


_JOBS = {
    "dream": "dream",
    "vis": "feature visualization",
    "train": "training",
    "maps": "feature map",
}
_LOWER = {
    "dream": "Max side (or the octave scale)",
    "vis": "the size or the batch",
    "train": "the batch size",
    "maps": "the image's size",
}

_SHARED: list[MemoryBudget] = []
_SHARED_LOCK = threading.Lock()


def shared_budget() -> MemoryBudget:
    """The one budget of this process (made on first use: limit read, baseline measured), with
    every :func:`track`-ed object and the fast model copies as holders."""
    with _SHARED_LOCK:
        if not _SHARED:
            budget = MemoryBudget(read_limit())
            budget.hold("tracked", tracked_bytes)
            budget.hold("fast copies", _fast_copies_bytes)
            budget.set_baseline()
            _SHARED.append(budget)
        return _SHARED[0]


# ---------------------------------------------------------------- what holds memory

_TRACKED: dict[int, tuple[weakref.ref, Callable[[Any], int]]] = {}
_TRACKED_LOCK = threading.Lock()
_DEAD: collections.deque[tuple[int, weakref.ref]] = (
    collections.deque()
)  # keys of tracked objects since collected


def track(obj: Any, size: Callable[[Any], int] | int | None = None) -> Any:
    """Count ``obj``'s bytes in the budget for as long as it lives; returns ``obj``.

    ``size`` is a number, a function of ``obj``, or None for ``obj.nbytes`` read each time (a
    frame store that grows). Frame stores, the broadcast store, loaded models and the photos kept in
    sessions call this; nothing is counted twice (one entry per object).
    """
    if callable(size):
        measure = size
    elif size is None:
        measure = _nbytes
    else:
        fixed = int(size)
        measure = lambda _obj: fixed  # noqa: E731
    ref = weakref.ref(obj, _collected(id(obj)))
    with _TRACKED_LOCK:
        _purge()
        _TRACKED[id(obj)] = (ref, measure)
    return obj


def _collected(key: int) -> Callable[[weakref.ref], None]:
    # Runs inside the garbage collector, on whatever thread allocated (maybe one holding
    # _TRACKED_LOCK): it must take no lock. deque.append is atomic; the entry goes at the next
    # _purge(), and a dead entry counts nothing meanwhile.
    return lambda ref: _DEAD.append((key, ref))


def _purge() -> None:
    """Drop the entries of collected objects (call holding ``_TRACKED_LOCK``)."""
    while _DEAD:
        key, ref = _DEAD.popleft()
        entry = _TRACKED.get(key)
        if entry is not None and entry[0] is ref:  # not a new object that reused the id
            del _TRACKED[key]


def _nbytes(obj: Any) -> int:
    return int(getattr(obj, "nbytes", 0))


def tracked_bytes() -> int:
    """Bytes held by every live :func:`track`-ed object."""
    with _TRACKED_LOCK:
        _purge()
        entries = list(_TRACKED.values())
    total = 0
    for ref, measure in entries:
        obj = ref()
        if obj is not None:
            try:
                total += max(0, int(measure(obj)))
            except Exception:  # a broken size counts nothing; admission goes on
                continue
    return total


def module_bytes(module: Any) -> int:
    """Bytes of a module's parameters and buffers."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _fast_copies_bytes() -> int:
    import sys

    fastcopy = sys.modules.get("dreamlab.ascent.fastcopy")  # none made yet: nothing held
    if fastcopy is None:
        return 0
    return sum(module_bytes(fm.module) for fm in fastcopy.cached_copies())
