"""How many CPU threads torch should use here, and a governor that adapts them while a job runs.

Two problems on shared machines (a teacher's laptop, a classroom server, a Cloud container):

- **Cores this process may really use.** ``os.cpu_count()`` counts the host's cores; the process
  may be pinned to fewer (``sched_getaffinity``) or throttled by a cgroup CPU quota (cgroup v2
  ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, what Streamlit Cloud and Docker
  ``--cpus`` set). :func:`usable_cores` takes the smallest of these; each reader takes its paths as
  parameters so tests can fake them.
- **Cores taken by someone else.** torch's OpenMP threads meet at a barrier after every parallel
  loop; when the OS deschedules one of them for a busy neighbour (another process, or the
  Streamlit server's own Python work), every thread waits for it. Measured on 2 cores with one
  core kept busy: 2 threads made the default dream about 7-9x slower, 1 thread about 1.1x.
  libgomp reads ``OMP_WAIT_POLICY`` only when torch is imported, and ``PASSIVE`` costs the quiet
  case too, so the one knob left at run time is the number of threads.

:class:`ThreadGovernor` wraps a job's frame iterator (the dream engine and feature visualization
do this, so the UI, the CLI and the Python API all get it). It times every ``next()`` (one step)
and compares like with like, steps of the same size at the same thread count:

- **drop** one rung of the ladder (e.g. 16 -> 8 -> 4 -> 2 -> 1) after two slow steps in a row: a
  step slower than ``slow`` x the best seen at that size and thread count, or one where the
  process got less than ``min_efficiency`` of the CPU time its threads should have had (this
  catches contention from the very first step, with no reference yet; OpenMP threads spin at
  barriers, so a starved 2-thread job still shows 0.55-0.78 of its threads' time, a quiet one
  0.95-1.05);
- **probe** one rung up when the cores look idle (``/proc/stat``) after ``probe_after`` steps,
  or after the first step of a new size (steps too small to share out may share out at the next
  octave), keeping it only if it is at least ``1 / probe_gain`` faster; a failed probe doubles
  the wait (up to ``probe_max`` steps). Under contention the cores are not idle, so the busy case
  pays for almost no probe steps.

**Reproducible seeds** (the default on a CPU, ``DREAMLAB_REPRODUCIBLE=0`` turns it off): torch's
kernels sum in an order that depends on the intra-op thread count, and gradient ascent amplifies
the last bits, so a dream at 1 and at 2 threads are two different pictures. Reproducible jobs keep
torch at **one** intra-op thread and parallelize over tiles instead
(:mod:`dreamlab.ascent.tiles`: the tiles are fixed by the image size, each computed at one thread,
summed in a fixed order); the governor then moves the number of tile *workers* up and down the
same ladder, with the same rules (:func:`set_tile_workers`). The bytes never depend on it.

The choice is remembered process-wide: the next job starts where the last one ended. torch's
thread count is process-wide too; the job gate (:mod:`dreamlab.runtime.jobs`) runs one step at a time on
a CPU, so each job's governor sets it just before its own step (a caller's own
``torch.set_num_threads`` is overridden while a governed job runs). ``DREAMLAB_TORCH_THREADS``
fixes the count (no adapting); ``DREAMLAB_ADAPT_THREADS=0`` keeps the ceiling, no adapting.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from dreamlab.runtime.cores import cgroup_cpu_limit, read_text

__all__ = [
    "WORKER_POLICY",
    "GovernorPolicy",
    "IdleMeter",
    "ThreadGovernor",
    "adapting",
    "env_threads",
    "forget_choice",
    "govern",
    "ladder",
    "reproducible",
    "set_tile_workers",
    "set_torch_threads",
    "thread_ceiling",
    "tile_workers",
    "usable_cores",
]

T = TypeVar("T")

PROC_STAT = "/proc/stat"


# ---------------------------------------------------------------- cores this process may use


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def usable_cores(
    affinity: int | None = None, quota: float | None = None, *, read_quota: bool = True
) -> int:
    """Cores this process may keep busy: its CPU affinity, capped by the cgroup quota (rounded
    down: 1.5 cores of quota cannot feed 2 threads without throttling them), at least 1."""
    cores = affinity if affinity is not None else _affinity()
    limit = quota if quota is not None or not read_quota else cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, max(1, math.floor(limit + 1e-9)))
    return max(1, cores)


def env_threads() -> int | None:
    """``DREAMLAB_TORCH_THREADS`` as a positive int, else None."""
    env = os.environ.get("DREAMLAB_TORCH_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


def adapting() -> bool:
    """Whether governors adapt (not when ``DREAMLAB_TORCH_THREADS`` fixes the count, or
    ``DREAMLAB_ADAPT_THREADS=0``)."""
    if env_threads() is not None:
        return False
    return os.environ.get("DREAMLAB_ADAPT_THREADS", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def reproducible() -> bool:
    """Whether CPU jobs take the reproducible path (one intra-op thread, tiles run by workers):
    yes unless ``DREAMLAB_REPRODUCIBLE`` is 0/false/no/off (the old adapting path, benchmarks)."""
    return os.environ.get("DREAMLAB_REPRODUCIBLE", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def ladder(top: int) -> tuple[int, ...]:
    """The thread counts a governor moves between, most first: halvings of ``top`` down to 1."""
    rungs = [max(1, top)]
    while rungs[-1] > 1:
        rungs.append(rungs[-1] // 2)
    return tuple(rungs)


# ---------------------------------------------------------------- torch's process-wide setting


class _Shared:
    """What every governor of this process shares (torch's setting is process-wide)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ceiling: int | None = None  # the most threads a job may use (None: not decided yet)
        self.choice: int | None = None  # where the last governor ended


_SHARED = _Shared()


def set_torch_threads(n: int) -> int:
    """Set torch's intra-op threads (only when they change: the call is not free)."""
    import torch

    n = max(1, int(n))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


_LOCAL = threading.local()  # the tile workers of the job running on this thread


def set_tile_workers(n: int) -> int:
    """Reproducible jobs: torch at one intra-op thread, ``n`` tile workers for the calling thread's
    next steps (read by :func:`tile_workers`). What a governor calls instead of
    :func:`set_torch_threads`."""
    set_torch_threads(1)
    _LOCAL.workers = max(1, int(n))
    return _LOCAL.workers


def tile_workers() -> int:
    """How many tile workers the job on this thread may use now (its governor's choice, else the
    ceiling). Never changes what a step computes, only how fast."""
    workers = getattr(_LOCAL, "workers", None)
    return workers if workers is not None else thread_ceiling()


def thread_ceiling(set_ceiling: int | None = None) -> int:
    """The most threads a job may use: ``DREAMLAB_TORCH_THREADS``, else what
    :func:`dreamlab.runtime.device.configure_threads` set, else the usable cores.

    torch's own current setting is not a guide: training sets one thread for its duration and a
    governor may have dropped to fewer, so governors own the count while a CPU job runs.
    """
    with _SHARED.lock:
        if set_ceiling is not None:
            _SHARED.ceiling, _SHARED.choice = max(1, set_ceiling), None
        fixed = env_threads()
        if fixed is not None:
            return fixed
        if _SHARED.ceiling is None:
            _SHARED.ceiling = usable_cores()
        return _SHARED.ceiling


def forget_choice() -> None:
    """Forget where the last governor ended: the next job starts from the ceiling (benchmarks)."""
    with _SHARED.lock:
        _SHARED.choice = None


# ---------------------------------------------------------------- idle cores


class IdleMeter:
    """Idle cores (of those this process may use) since the last :meth:`reset`, from /proc/stat."""

    def __init__(self, path: str | Path = PROC_STAT, cpus: Iterable[int] | None = None) -> None:
        self.path = Path(path)
        if cpus is None:
            try:
                cpus = os.sched_getaffinity(0)
            except AttributeError:
                cpus = ()
        self.cpus = {f"cpu{c}" for c in cpus}
        self._start = self._sample()

    def _sample(self) -> tuple[int, int] | None:
        text = read_text(self.path)
        if not text or not self.cpus:
            return None
        idle = total = 0
        for line in text.splitlines():
            name, *fields = line.split()
            if name in self.cpus and len(fields) >= 5:
                values = [int(v) for v in fields[:8]]
                idle += values[3] + values[4]  # idle + iowait
                total += sum(values)
        return (idle, total) if total else None

    def reset(self) -> None:
        self._start = self._sample()

    def idle_cores(self) -> float | None:
        """Idle core-equivalents since the last reset; None where /proc/stat is not available."""
        now = self._sample()
        if now is None or self._start is None or now[1] <= self._start[1]:
            return None
        idle, total = now[0] - self._start[0], now[1] - self._start[1]
        return len(self.cpus) * idle / total


# ---------------------------------------------------------------- the governor


@dataclass(frozen=True)
class GovernorPolicy:
    """The governor's thresholds (see the module docstring)."""

    slow: float = 1.6  # a step this much slower than the best at its size and thread count is slow
    min_efficiency: float = 0.8  # CPU seconds / (threads x wall seconds) below this: descheduled
    strikes: int = 2  # slow steps in a row before dropping a rung
    probe_after: int = 8  # steps at a lower rung before trying the next one up
    probe_max: int = 128  # the longest wait between probes, after failures
    probe_steps: int = 2  # steps a probe lasts (its first may pay for waking threads)
    probe_gain: float = 0.9  # a probe is kept when its best step takes under this x the base
    probe_abort: float = 2.5  # a first probe step this much slower than the base ends the probe
    idle_per_thread: float = 0.5  # idle cores wanted per extra thread before probing


# Tile workers wait for each other only twice a step and do not spin while they wait, so a worker
# sharing a core with a neighbour costs lost time, not lost CPU: only slow steps drop a rung. (Two
# workers beside one busy core still beat one: the free worker takes the next tiles.)
WORKER_POLICY = GovernorPolicy(min_efficiency=0.0)


@dataclass
class _Probe:
    key: Hashable
    base: float  # the last step time at the lower rung, same key
    lower: int
    times: list[float]


def _size_key(frame: object) -> Hashable:
    """Steps compare when their frames have the same ``size`` (a dream's octave)."""
    return getattr(frame, "size", None)


class ThreadGovernor(Iterator[T], Generic[T]):
    """Wraps a frame iterator; sets torch's threads before each step and adapts them (see module).

    ``clock``, ``cpu_clock``, ``set_threads`` and ``idle`` are injectable so tests can simulate
    contention without a busy machine. ``choices`` records ``(threads, seconds, key)`` per step.
    """

    def __init__(
        self,
        frames: Iterable[T],
        *,
        top: int | None = None,
        key: Callable[[T], Hashable] = _size_key,
        policy: GovernorPolicy | None = None,
        start: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
        set_threads: Callable[[int], object] = set_torch_threads,
        idle: Callable[[], float | None] | None = None,
        reset_idle: Callable[[], None] | None = None,
        remember: bool = True,
    ) -> None:
        self._frames = iter(frames)
        self.rungs = ladder(top if top is not None else thread_ceiling())
        self.policy = policy or GovernorPolicy()
        self._key, self._clock, self._cpu, self._set = key, clock, cpu_clock, set_threads
        if idle is None:
            meter = IdleMeter()
            idle, reset_idle = meter.idle_cores, meter.reset
        self._idle, self._reset_idle = idle, reset_idle or (lambda: None)
        self._remember = remember
        begin = start if start is not None else (_SHARED.choice if remember else None)
        self.threads = begin if begin in self.rungs else self.rungs[0]
        self._best: dict[tuple[Hashable, int], float] = {}
        self._last: dict[tuple[Hashable, int], float] = {}
        self._count: dict[tuple[Hashable, int], int] = {}
        self._sizes: set[Hashable] = set()  # the sizes (keys) seen so far, at any thread count
        self._dropped_at: Hashable | None = None  # the size of the last drop
        self._slow = 0
        self._since = 0
        self._wait = self.policy.probe_after
        self._probe: _Probe | None = None
        self.choices: list[tuple[int, float, Hashable]] = []

    def __iter__(self) -> ThreadGovernor[T]:
        return self

    def __next__(self) -> T:
        n = self.threads
        self._set(n)
        t0, c0 = self._clock(), self._cpu()
        frame = next(self._frames)  # StopIteration ends the run; the choice stays remembered
        dt, dc = self._clock() - t0, self._cpu() - c0
        self._observe(n, dt, dc, self._key(frame))
        return frame

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    # -- decisions

    def _observe(self, n: int, dt: float, dc: float, key: Hashable) -> None:
        self.choices.append((n, dt, key))
        new_size = key not in self._sizes
        self._sizes.add(key)
        best = self._best.get((key, n))
        self._best[(key, n)] = dt if best is None else min(best, dt)
        self._last[(key, n)] = dt
        self._count[(key, n)] = self._count.get((key, n), 0) + 1
        if self._probe is not None:
            self._judge_probe(dt, key)
        else:
            self._watch(n, dt, dc, best, new_size)
        if self._remember:
            _SHARED.choice = self.threads

    def _watch(self, n: int, dt: float, dc: float, best: float | None, first: bool) -> None:
        """Drop a rung after slow or starved steps; probe one up when it may pay. ``first``: the
        first step of a new size (the next octave), at whatever thread count."""
        p = self.policy
        slow = best is not None and dt > p.slow * best
        starved = n > 1 and dt > 0 and dc / (n * dt) < p.min_efficiency
        self._slow = self._slow + 1 if (slow or starved) else 0
        key = self.choices[-1][2]
        lower = self._rung(+1)
        if self._slow >= p.strikes and lower is not None:
            self._move(lower)
            self._wait, self._dropped_at = p.probe_after, key
            return
        self._since += 1
        upper = self._rung(-1)
        if upper is None:
            return
        known = self._best.get((key, upper))
        # A size first met at this count after a probe ran into it at the next one up: that probe
        # already showed more threads help (unless this count was chosen by a drop at this size).
        if (
            self._count[(key, n)] == 1
            and key != self._dropped_at
            and known is not None
            and known < p.probe_gain * dt
        ):
            self._move(upper)
            return
        if first:  # steps too small to share out at one size may share out at the next
            self._wait = p.probe_after
        if (self._since >= self._wait or first) and self._idle_enough(upper - n):
            self._probe = _Probe(key, self._last[(key, n)], n, [])
            self._move(upper)

    def _judge_probe(self, dt: float, key: Hashable) -> None:
        p, probe = self.policy, self._probe
        assert probe is not None
        if key != probe.key:  # a new octave: nothing to compare with; start over down there
            self._probe = None
            self._move(probe.lower)
            return
        probe.times.append(dt)
        if dt > p.probe_abort * probe.base or len(probe.times) >= p.probe_steps:
            self._probe = None
            if min(probe.times) < p.probe_gain * probe.base:
                self._wait = p.probe_after  # kept: more threads help again
                self._move(self.threads)
            else:
                self._wait = min(2 * self._wait, p.probe_max)
                self._move(probe.lower)

    def _move(self, n: int) -> None:
        self.threads, self._slow, self._since = n, 0, 0
        self._reset_idle()

    def _rung(self, offset: int) -> int | None:
        """The rung ``offset`` places down (+1: fewer threads) or up (-1), or None past an end."""
        i = self.rungs.index(self.threads) + offset
        return self.rungs[i] if 0 <= i < len(self.rungs) else None

    def _idle_enough(self, extra: int) -> bool:
        idle = self._idle()
        return idle is None or idle >= self.policy.idle_per_thread * extra


class _Fixed(Iterator[T], Generic[T]):
    """Frames with one thread (or worker) count set before every step, on the stepping thread."""

    def __init__(self, frames: Iterable[T], n: int, set_threads: Callable[[int], object]) -> None:
        self._frames, self._n, self._set = iter(frames), n, set_threads

    def __next__(self) -> T:
        self._set(self._n)
        return next(self._frames)

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


def govern(
    frames: Iterable[T], device: object = "cpu", *, adapt: bool = True, **options: object
) -> Iterator[T]:
    """``frames`` wrapped in a :class:`ThreadGovernor` when the job runs on the CPU and adapting
    is on (and ``adapt``: steps alike enough to time); otherwise with a fixed count set before each
    step. Reproducible jobs (:func:`reproducible`) govern tile workers at one intra-op thread.
    A GPU job is left alone."""
    if str(device).split(":")[0] != "cpu":
        return iter(frames)
    setter = set_tile_workers if reproducible() else set_torch_threads
    if not adapting() or not adapt:
        return _Fixed(frames, thread_ceiling(), setter)
    if reproducible():
        options.setdefault("policy", WORKER_POLICY)
    return ThreadGovernor(frames, set_threads=setter, **options)  # type: ignore[arg-type]
