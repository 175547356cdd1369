"""The thread chooser (fake affinity and cgroup quota) and the governor (simulated contention)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from dreamlab.runtime import threads as th
from dreamlab.runtime.cores import cgroup_cpu_limit, parse_cpu_max
from dreamlab.runtime.threads import (
    GovernorPolicy,
    IdleMeter,
    ThreadGovernor,
    govern,
    ladder,
    usable_cores,
)

# ---------------------------------------------------------------- cores


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        ("max 100000", None),
        ("200000 100000", 2.0),
        ("50000 100000", 0.5),
        ("150000", 1.5),
        ("", None),
        ("junk 100000", None),
        ("0 100000", None),
    ],
)
def test_parse_cpu_max(text: str, cores: float | None) -> None:
    assert parse_cpu_max(text) == cores


def _cgroup(tmp_path: Path, files: dict[str, str], self_line: str = "0::/\n") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    root.mkdir(exist_ok=True)
    me = tmp_path / "self_cgroup"
    me.write_text(self_line)
    return root, me


def test_cgroup_v2_quota_and_unlimited(tmp_path: Path) -> None:
    root, me = _cgroup(tmp_path, {"cpu.max": "200000 100000\n"})
    assert cgroup_cpu_limit(root, me) == 2.0
    root, me = _cgroup(tmp_path / "b", {"cpu.max": "max 100000\n"})
    assert cgroup_cpu_limit(root, me) is None


def test_cgroup_v2_nested_takes_the_tightest(tmp_path: Path) -> None:
    files = {
        "cpu.max": "max 100000",
        "app/cpu.max": "400000 100000",
        "app/web/cpu.max": "150000 100000",
    }
    root, me = _cgroup(tmp_path, files, "0::/app/web\n")
    assert cgroup_cpu_limit(root, me) == 1.5


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    files = {"cpu,cpuacct/cpu.cfs_quota_us": "300000", "cpu,cpuacct/cpu.cfs_period_us": "100000"}
    root, me = _cgroup(tmp_path, files, "")
    assert cgroup_cpu_limit(root, me) == 3.0
    unlimited = {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}
    root, me = _cgroup(tmp_path / "b", unlimited, "")
    assert cgroup_cpu_limit(root, me) is None


def test_no_cgroup_files_means_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path / "missing", tmp_path / "missing_self") is None


@pytest.mark.parametrize(
    ("affinity", "quota", "cores"),
    [
        (1, None, 1),
        (2, None, 2),
        (16, None, 16),
        (16, 2.0, 2),
        (16, 1.5, 1),
        (2, 0.5, 1),
        (2, 8.0, 2),
        (16, 15.99999999999, 16),
    ],
)
def test_usable_cores_on_1_2_and_16_cores(affinity: int, quota: float | None, cores: int) -> None:
    assert usable_cores(affinity, quota, read_quota=False) == cores


def test_ladder() -> None:
    assert ladder(1) == (1,)
    assert ladder(2) == (2, 1)
    assert ladder(16) == (16, 8, 4, 2, 1)
    assert ladder(6) == (6, 3, 1)


def test_idle_meter_reads_only_its_cpus(tmp_path: Path) -> None:
    stat = tmp_path / "stat"

    def write(busy0: int, idle0: int, busy1: int, idle1: int) -> None:
        stat.write_text(
            f"cpu  0 0 0 0 0 0 0 0\ncpu0 {busy0} 0 0 {idle0} 0 0 0 0\n"
            f"cpu1 {busy1} 0 0 {idle1} 0 0 0 0\n"
        )

    write(10, 10, 10, 10)
    both, only1 = IdleMeter(stat, cpus=[0, 1]), IdleMeter(stat, cpus=[1])
    write(110, 10, 10, 110)  # cpu0 busy all along, cpu1 idle all along
    assert both.idle_cores() == pytest.approx(1.0)
    assert only1.idle_cores() == pytest.approx(1.0)
    both.reset()
    write(210, 10, 60, 160)  # then cpu1 half busy
    assert both.idle_cores() == pytest.approx(0.5)
    assert IdleMeter(tmp_path / "nothing", cpus=[0]).idle_cores() is None


# ---------------------------------------------------------------- the governor


@dataclass
class Machine:
    """A simulated machine: each step costs time by thread count, octave size and contention."""

    cores: int = 2
    busy: int = 0  # cores taken by a neighbour
    now: float = 0.0
    cpu: float = 0.0
    threads: int = 0
    starved_cpu: float = 0.4  # CPU share of each thread while one shares a core

    def set_threads(self, n: int) -> None:
        self.threads = n

    def step(self, work: float) -> None:
        n = self.threads
        free = self.cores - self.busy
        if n <= free:
            wall = work / n  # perfect scaling while every thread has a core
            self.cpu += work
        else:  # a thread shares a core with the neighbour: every barrier waits for it
            wall = work / n * 8
            self.cpu += wall * self.starved_cpu * n  # measured on 2 cores: 0.55-0.78 of 2 threads
        self.now += wall

    def idle(self) -> float:
        return max(0.0, self.cores - self.busy - self.threads)


def _steps(machine: Machine, sizes: list[int], per_size: int) -> Iterator[tuple[int, int]]:
    for size in sizes:
        for _ in range(per_size):
            machine.step(size / 100)
            yield (size, size)


class Frame:
    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size


def _governor(machine: Machine, frames: Iterator[tuple[int, int]], **kw: object) -> ThreadGovernor:
    return ThreadGovernor(
        (Frame(s) for s in frames),
        top=machine.cores,
        start=kw.pop("start", None),
        clock=lambda: machine.now,
        cpu_clock=lambda: machine.cpu,
        set_threads=machine.set_threads,
        idle=machine.idle,
        remember=False,
        **kw,
    )


def test_quiet_machine_keeps_every_thread() -> None:
    machine = Machine(cores=2)
    gov = _governor(machine, _steps(machine, [10, 20, 40, 80], 10))
    assert [n for n, _, _ in gov.choices] == [] and len(list(gov)) == 40
    assert {n for n, _, _ in gov.choices} == {2}


def test_a_busy_core_drops_to_one_thread_within_two_steps() -> None:
    machine = Machine(cores=2, busy=1)
    gov = _governor(machine, _steps(machine, [10, 20, 40, 80], 10))
    list(gov)
    counts = [n for n, _, _ in gov.choices]
    assert counts[:2] == [2, 2] and counts[2] == 1  # starved efficiency: no reference needed
    assert counts.count(2) == 2  # the neighbour never leaves and the cores are never idle: no probe


def test_spinning_threads_still_count_as_starved() -> None:
    """OpenMP threads spin at barriers, so a starved job still shows 0.55-0.78 of its CPU time."""
    machine = Machine(cores=2, busy=1, starved_cpu=0.75)
    gov = _governor(machine, _steps(machine, [10, 20, 40, 80], 10))
    list(gov)
    counts = [n for n, _, _ in gov.choices]
    assert counts[:3] == [2, 2, 1] and counts.count(2) == 2


def test_a_drop_mid_octave_is_not_undone_by_the_quiet_best() -> None:
    """The best step at 2 threads was quiet; a neighbour arrives: stay down, do not jump back."""
    machine = Machine(cores=2, starved_cpu=0.7)

    def frames() -> Iterator[tuple[int, int]]:
        yield from _steps(machine, [50], 5)
        machine.busy = 1  # the neighbour arrives in the middle of the octave
        yield from _steps(machine, [50], 20)

    gov = _governor(machine, frames())
    list(gov)
    counts = [n for n, _, _ in gov.choices]
    assert counts[:7] == [2] * 7  # 5 quiet steps, then two starved ones
    assert counts[7:] == [1] * 18  # the cores are never idle: no probe, no jump back


def test_probes_up_again_when_the_neighbour_leaves() -> None:
    machine = Machine(cores=2, busy=1)

    def frames() -> Iterator[tuple[int, int]]:
        yield from _steps(machine, [50], 10)
        machine.busy = 0  # the neighbour ends
        yield from _steps(machine, [50], 30)

    gov = _governor(machine, frames())
    list(gov)
    counts = [n for n, _, _ in gov.choices]
    assert 1 in counts[:10]
    assert counts[-10:] == [2] * 10  # back to both cores, and it stays there


def test_a_slowdown_at_one_size_is_judged_against_that_size() -> None:
    """Bigger octaves take longer: that alone must never drop a thread."""
    machine = Machine(cores=16)
    gov = _governor(machine, _steps(machine, [10, 40, 160, 640], 5))
    list(gov)
    assert {n for n, _, _ in gov.choices} == {16}


class TinyStepsMachine(Machine):
    """Quiet, but steps under 0.1 s do not share out: 2 threads idle half the time there."""

    def step(self, work: float) -> None:
        if work >= 0.1 or self.threads == 1:
            super().step(work)
            return
        self.now += work
        self.cpu += work * 0.8  # 0.4 of 2 threads' time: looks like being descheduled


def test_a_drop_at_tiny_steps_is_undone_at_the_next_octave() -> None:
    machine = TinyStepsMachine(cores=2)
    gov = _governor(machine, _steps(machine, [5, 80], 10))
    list(gov)
    counts = [n for n, _, _ in gov.choices]
    assert 1 in counts[:10]  # the tiny octave runs on one thread
    assert counts[-7:] == [2] * 7  # the big one gets both cores back after a step or two


def test_failed_probes_back_off() -> None:
    """Idle cores reported but more threads never help (e.g. a throttled quota): probes thin out."""
    machine = Machine(cores=2, busy=1)
    gov = _governor(machine, _steps(machine, [50], 300), policy=GovernorPolicy(probe_after=4))
    gov._idle = lambda: 2.0  # the meter lies: the cores look idle
    list(gov)
    counts = [n for n, _, _ in gov.choices]
    probes = sum(1 for a, b in zip(counts, counts[1:], strict=False) if a == 1 and b == 2)
    assert 1 <= probes <= 8  # 4, 8, 16, ... steps apart, not every 4 steps (75 probes)
    assert counts.count(2) < 0.1 * len(counts)


def test_sixteen_cores_with_two_taken_step_down_the_ladder() -> None:
    machine = Machine(cores=16, busy=2)
    gov = _governor(machine, _steps(machine, [100], 40))
    list(gov)
    counts = [n for n, _, _ in gov.choices]
    assert max(set(counts), key=counts.count) == 8  # the most threads that each get a core


def test_governor_closes_its_source() -> None:
    closed = []

    def frames() -> Iterator[Frame]:
        try:
            while True:
                yield Frame((1, 1))
        finally:
            closed.append(True)

    machine = Machine()
    gov = _governor(machine, frames())
    next(gov)
    gov.close()
    assert closed == [True]


def test_govern_leaves_gpu_jobs_and_fixed_counts_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [1, 2, 3]
    assert not isinstance(govern(items, "cuda:0"), ThreadGovernor)
    monkeypatch.setenv("DREAMLAB_ADAPT_THREADS", "0")
    assert not isinstance(govern(items, "cpu"), ThreadGovernor)
    monkeypatch.delenv("DREAMLAB_ADAPT_THREADS")
    monkeypatch.setenv("DREAMLAB_TORCH_THREADS", "1")
    assert not th.adapting()
    monkeypatch.delenv("DREAMLAB_TORCH_THREADS")
    assert th.adapting() and isinstance(govern(items, "cpu"), ThreadGovernor)


def test_ceiling_is_the_env_then_the_configured_count(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("DREAMLAB_TORCH_THREADS", raising=False)
        assert th.thread_ceiling(set_ceiling=3) == 3
        torch.set_num_threads(1)  # e.g. a training run's temporary setting: not a ceiling
        assert th.thread_ceiling() == 3
        monkeypatch.setenv("DREAMLAB_TORCH_THREADS", "2")
        assert th.thread_ceiling() == 2
    finally:
        torch.set_num_threads(before)
        th.thread_ceiling(set_ceiling=before)


def test_configure_threads_uses_the_env_then_the_usable_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dreamlab.runtime.device import configure_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("DREAMLAB_TORCH_THREADS", "1")
        assert configure_threads() == 1 and th.thread_ceiling() == 1
        monkeypatch.delenv("DREAMLAB_TORCH_THREADS")
        monkeypatch.setattr(th, "_affinity", lambda: 1)
        monkeypatch.setattr(th, "cgroup_cpu_limit", lambda: None)
        assert configure_threads() == 1
    finally:
        torch.set_num_threads(before)
        th.thread_ceiling(set_ceiling=before)
