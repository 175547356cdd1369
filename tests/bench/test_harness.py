"""bench/harness.py: the server start and stop, CPU split and meters the benchmarks and the
browser tests share (no browser, no streamlit: small local processes only)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from bench.harness import (
    CpuMeter,
    RssSampler,
    free_port,
    pct,
    split_cpus,
    stop_tree,
    wait_http,
)


def test_pct_is_the_nearest_rank_and_none_when_empty() -> None:
    assert pct([], 0.5) is None
    assert pct([3.0, 1.0, 2.0], 0.5) == 2.0
    assert pct([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert pct([1.234], 0.95) == 1.23


def test_split_cpus_gives_the_server_its_own_cores() -> None:
    assert split_cpus(False) == (None, None)
    server, client = split_cpus(True)
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        assert (server, client) == (None, None)
    else:
        assert server and client and not server & client and server | client == cpus


def test_wait_http_waits_for_the_server_and_stop_tree_ends_it() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}", proc, timeout=120, path="/")
    finally:
        stop_tree(proc)
    assert proc.poll() is not None


def test_wait_http_says_when_the_process_exits_first() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=120)
    with pytest.raises(RuntimeError, match="exited with 0"):
        wait_http(f"http://127.0.0.1:{free_port()}", proc, timeout=120)


def test_stop_tree_kills_the_children_left_behind() -> None:
    # a shell that ends on SIGTERM but leaves its child running: the child must not survive
    proc = subprocess.Popen(["sh", "-c", "sleep 600 & wait"])
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    while not parent.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = parent.children()
    stop_tree(proc)
    child.wait(timeout=60)  # psutil.TimeoutExpired if it were still running
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_meters_read_this_process() -> None:
    meter = CpuMeter(os.getpid())
    sum(i * i for i in range(200_000))  # a little CPU work to measure
    assert meter.used() >= 0
    sampler = RssSampler(os.getpid(), period=0.01)
    sampler.start()
    deadline = time.monotonic() + 60
    while not sampler.samples and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sampler.stop() > 10 * 2**20  # a Python process holds more than 10 MB
