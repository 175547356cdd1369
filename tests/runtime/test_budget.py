"""The memory budget: the limit from fake cgroup files, the ledger, and the estimates against the
peaks of real jobs measured in fresh processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dreamlab.errors import DreamLabError
from dreamlab.runtime.budget import (
    MB,
    JobCost,
    MemoryBudget,
    MemoryLimit,
    MemoryRefused,
    anon_resident,
    read_limit,
)
from dreamlab.runtime.job_costs import dream_cost, train_cost

GB = 2**30


def _tree(tmp_path: Path, files: dict[str, str], cgroup: str) -> dict[str, Path]:
    """A fake /sys/fs/cgroup, /proc/self/cgroup and /proc/meminfo (16 GB of RAM)."""
    root = tmp_path / "cg"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root.mkdir(exist_ok=True)
    (tmp_path / "cgroup").write_text(cgroup)
    (tmp_path / "meminfo").write_text("MemTotal:       16777216 kB\nMemFree: 1 kB\n")
    return {
        "cgroup_root": root,
        "proc_cgroup": tmp_path / "cgroup",
        "meminfo": tmp_path / "meminfo",
    }


def test_v1_limit(tmp_path: Path) -> None:
    paths = _tree(
        tmp_path,
        {"memory/app/memory.limit_in_bytes": str(1200 * MB)},
        "5:memory:/app\n4:cpu,cpuacct:/app\n",
    )
    assert read_limit(env={}, **paths) == MemoryLimit(1200 * MB, "cgroup v1")


def test_v1_unlimited_is_a_huge_number_and_means_the_machine(tmp_path: Path) -> None:
    paths = _tree(tmp_path, {"memory/memory.limit_in_bytes": "9223372036854771712"}, "5:memory:/\n")
    assert read_limit(env={}, **paths) == MemoryLimit(16 * GB, "machine")


def test_v1_a_parent_limit_counts(tmp_path: Path) -> None:
    paths = _tree(
        tmp_path,
        {
            "memory/memory.limit_in_bytes": "9223372036854771712",
            "memory/pod/memory.limit_in_bytes": str(900 * MB),
            "memory/pod/app/memory.limit_in_bytes": "9223372036854771712",
        },
        "5:memory:/pod/app\n",
    )
    assert read_limit(env={}, **paths).bytes == 900 * MB


def test_v1_inside_a_namespace_reads_the_root(tmp_path: Path) -> None:
    # in a container /proc/self/cgroup may name a path the container's mount does not have
    paths = _tree(
        tmp_path, {"memory/memory.limit_in_bytes": str(690 * MB)}, "5:memory:/docker/abc\n"
    )
    assert read_limit(env={}, **paths) == MemoryLimit(690 * MB, "cgroup v1")


def test_v2_limit_and_max(tmp_path: Path) -> None:
    files = {"cgroup.controllers": "cpu memory", "app/memory.max": str(1500 * MB)}
    paths = _tree(tmp_path, files, "0::/app\n")
    assert read_limit(env={}, **paths) == MemoryLimit(1500 * MB, "cgroup v2")
    (paths["cgroup_root"] / "app/memory.max").write_text("max\n")
    assert read_limit(env={}, **paths) == MemoryLimit(16 * GB, "machine")


def test_no_cgroup_at_all_is_the_machine(tmp_path: Path) -> None:
    paths = _tree(tmp_path, {}, "")
    assert read_limit(env={}, **paths) == MemoryLimit(16 * GB, "machine")


def test_the_override_wins_and_empty_means_unset(tmp_path: Path) -> None:
    paths = _tree(tmp_path, {"memory/memory.limit_in_bytes": str(900 * MB)}, "5:memory:/\n")
    got = read_limit(env={"DREAMLAB_MEMORY_MB": "2048"}, **paths)
    assert got == MemoryLimit(2048 * MB, "DREAMLAB_MEMORY_MB")
    assert read_limit(env={"DREAMLAB_MEMORY_MB": " "}, **paths).source == "cgroup v1"


@pytest.mark.parametrize("bad", ["lots", "-5", "1.5", "12"])
def test_a_bad_override_is_one_line(tmp_path: Path, bad: str) -> None:
    paths = _tree(tmp_path, {}, "")
    with pytest.raises(DreamLabError) as info:
        read_limit(env={"DREAMLAB_MEMORY_MB": bad}, **paths)
    assert info.value.kind == "memory_env" and "\n" not in str(info.value)


def test_anon_resident_reads_this_process() -> None:
    if not sys.platform.startswith("linux"):
        assert anon_resident() is None
        return
    now = anon_resident()
    assert now is not None and now > 10 * MB


def _budget(limit_mb: int, used_mb: int = 0) -> MemoryBudget:
    b = MemoryBudget(MemoryLimit(limit_mb * MB, "test"), margin=0.1, measure=lambda: used_mb * MB)
    b.set_baseline()
    return b


def test_holders_count_and_the_baseline_leaves_them_out() -> None:
    held = {"n": 100 * MB}
    b = _budget(1000, used_mb=400)
    assert b.baseline == 400 * MB
    b.hold("store", lambda: held["n"])
    assert b.held() == 100 * MB and b.alone_room() == 970 * MB - 500 * MB  # 3 % kept alone
    assert b.set_baseline() == 300 * MB  # the store's bytes are in the process's 400 MB
    held["n"] = 0
    b.hold("broken", lambda: 1 // 0)  # a broken holder counts nothing, never raises
    assert b.held() == 0
    b.release("store")
    b.release("missing")


def test_idle_uses_the_measured_figure_when_higher() -> None:
    used = {"mb": 300}
    b = MemoryBudget(MemoryLimit(1000 * MB, "test"), measure=lambda: used["mb"] * MB)
    b.set_baseline()
    used["mb"] = 500  # freed memory not handed back yet
    assert b.committed(0, idle=True) == 500 * MB
    assert b.baseline == 300 * MB  # idle: not taken as the baseline until settled


def test_refusal_is_one_line_naming_the_limit_and_what_to_lower() -> None:
    b = _budget(900, used_mb=400)
    assert b.refusal(JobCost(300 * MB, "dream")) is None
    refused = b.refusal(JobCost(900 * MB, "dream"))
    assert isinstance(refused, MemoryRefused)
    text = str(refused)
    assert "\n" not in text and "900 MB" in text and "Max side" in text
    assert refused.kind == "memory_too_big_dream" and refused.params["limit"] == 900
    assert "batch" in str(b.refusal(JobCost(2 * GB, "vis")))


def test_costs_grow_with_the_image_and_the_batch() -> None:
    small, big = dream_cost(1000, (300, 400)), dream_cost(1000, (600, 800))
    assert big.bytes > 3 * (small.bytes - dream_cost(1000, (1, 1)).bytes)
    assert train_cost(512).bytes > train_cost(32).bytes


# ---------------------------------------------------------------- against measured peaks

# est / measured peak must lie in this band. Measured here (bench/CONTAINER.md, Calibration): the
# same job's peak varies by about 15 % from run to run (more under load), and a process's first
# dream peaks about 100 MB above the next ones (torch's first use: the estimate adds it while no
# job has finished). Below 0.9 the budget would let a container overfill; above 1.6 it would turn
# away or hold back jobs that fit (the default dream's estimate was 1.6x to 2.1x its peak before).
LOW, HIGH = 0.9, 1.6

CALIBRATION_JOBS = [
    {"kind": "dream", "max_side": 512, "warm": True},  # the default dream, as a server runs it
    {"kind": "dream", "max_side": 512},  # the server's first dream
    {"kind": "dream", "max_side": 768, "octaves": 2, "warm": True},
    {"kind": "vis", "layer": "_blocks.9", "size": 128, "batch": 1},
    {"kind": "train", "batch": 32},
]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RssAnon is Linux's")
@pytest.mark.parametrize("spec", CALIBRATION_JOBS, ids=lambda s: "-".join(map(str, s.values())))
def test_estimate_against_the_measured_peak(spec: dict) -> None:
    from bench.memory_peaks import measure

    got = measure(spec)  # the estimate made in the same process, as the server makes it
    peak = got["peak"] - got["before"]
    est = got["estimate"]
    ratio = est / peak
    assert LOW <= ratio <= HIGH, (
        f"{spec}: estimate {est / MB:.0f} MB vs measured peak {peak / MB:.0f} MB (x{ratio:.2f})"
    )


@pytest.mark.slow
def test_the_cli_refuses_a_dream_too_big_for_the_limit_in_one_line(tmp_path: Path) -> None:
    import os
    import subprocess

    from dreamlab.images import sample_path

    env = {**os.environ, "DREAMLAB_MEMORY_MB": "300", "DREAMLAB_OFFLINE": "1"}
    out = tmp_path / "big.png"
    args = [str(sample_path("coffee")), "-o", str(out), "--max-side", "1024", "--octaves", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "dreamlab", "dream", *args, "--iterations", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and not out.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: this dream needs about")
    assert "300 MB memory limit" in lines[0] and "Max side" in lines[0]


def test_a_busy_server_that_grew_raises_its_baseline() -> None:
    used = {"mb": 300}
    b = MemoryBudget(MemoryLimit(1000 * MB, "test"), measure=lambda: used["mb"] * MB)
    b.set_baseline()
    used["mb"] = 700  # one 200 MB job seated, and the sessions grew by 200 MB meanwhile
    assert b.committed(200 * MB, idle=False) == 700 * MB
    assert b.baseline == 500 * MB
    used["mb"] = 450  # the job's memory is not in use yet: the baseline does not drop
    assert b.committed(200 * MB, idle=False) == 700 * MB
    used["mb"] = 320
    assert b.set_baseline() == 320 * MB  # idle again: measured afresh


def test_the_activation_probe_ignores_other_threads_running_the_same_copy() -> None:
    import threading

    import torch

    from dreamlab.ascent.fastcopy import fast_model
    from dreamlab.models import load_model
    from dreamlab.runtime.job_costs import _probe

    fast = fast_model(load_model("tiny_cnn", device="cpu"), ["conv2"])
    alone = _probe(fast, 64)
    stop = threading.Event()

    def busy() -> None:  # another session's dream, running the shared copy meanwhile
        with torch.no_grad():
            while not stop.is_set():
                fast(torch.zeros(1, 3, 96, 96))

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        assert all(_probe(fast, 64) == alone for _ in range(20))
    finally:
        stop.set()
        thread.join(10)


def test_the_first_dream_of_a_process_costs_its_first_use_too() -> None:
    from dreamlab.runtime.job_costs import DREAM_FIRST_USE
    from dreamlab.runtime.jobs import JobGate

    warm, cold = dream_cost(1000, (340, 512)), dream_cost(1000, (340, 512), cold=True)
    assert cold.bytes - warm.bytes == DREAM_FIRST_USE
    b = _budget(2000, used_mb=300)
    gate = JobGate(capacity=2, budget=b)
    assert b.jobs_done == 0
    ticket = gate.enter(JobCost(100 * MB, "dream"))
    assert gate.wait_turn(ticket, timeout=0)
    gate.leave(ticket)
    gate.settle()  # after the job: its first-use costs are paid, the baseline holds what stays
    assert b.jobs_done == 1


def test_up_front_refusals_use_the_best_case_and_the_gate_the_current_one() -> None:
    used = {"mb": 300}
    b = MemoryBudget(MemoryLimit(1000 * MB, "test"), margin=0.1, measure=lambda: used["mb"] * MB)
    b.set_baseline()
    used["mb"] = 700
    b.set_baseline()  # sessions and memory not handed back: 700 MB now, 300 MB at best
    assert b.floor == 300 * MB and b.baseline == 700 * MB
    job = JobCost(500 * MB, "dream")
    assert b.refusal(job) is None  # it might fit once memory is reclaimed: it may queue
    assert b.refusal(job, best_case=False) is not None  # but not now
    assert b.refusal(JobCost(700 * MB, "dream")) is not None  # never, even at the best case


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm is Linux's")
def test_the_lone_job_meter_counts_anonymous_memory_and_not_file_pages(tmp_path) -> None:
    # In a full cgroup the kernel evicts the server's library pages and a job faults them back:
    # file pages must not count as the job's peak (VmHWM counted them), anonymous pages must.
    import mmap

    from dreamlab.runtime.budget import AnonPeak

    data = tmp_path / "pages.bin"
    data.write_bytes(b"\1" * (64 * MB))
    meter = AnonPeak()
    start = meter(reset=True)
    with data.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as pages:
        assert sum(pages[i] for i in range(0, len(pages), mmap.PAGESIZE)) > 0  # all faulted in
        file_rise = meter() - start
    assert file_rise < 16 * MB, f"file pages counted: {file_rise / MB:.0f} MB"
    start = meter(reset=True)
    block = bytearray(b"\1" * (64 * MB))  # written: anonymous and resident
    anon_rise = meter() - start
    assert anon_rise >= 60 * MB and len(block) == 64 * MB


def test_the_lone_job_meter_keeps_the_highest_sample_after_memory_falls_back() -> None:
    import threading

    from dreamlab.runtime.budget import AnonPeak

    values = iter([100, 400])  # the start, then a peak seen by the sampling thread
    seen = threading.Event()

    def measure() -> int:
        value = next(values, 150)  # then the job freed it again
        if value == 150:
            seen.set()
        return value * MB

    meter = AnonPeak(measure, interval=0.001)
    assert meter(reset=True) == 100 * MB
    assert seen.wait(60)  # the thread sampled past the peak (no timing asserted)
    assert meter() == 400 * MB
    assert meter() is None  # stopped: nothing more to report
