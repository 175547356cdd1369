"""The app in a real memory-limited cgroup (900 MB, one CPU): many sessions dream at once and every
dream finishes, the server alive and never OOM-killed. Skipped, with the reason, where no cgroup
can be made (not root, no writable cgroup hierarchy, no Chromium)."""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import sys
from pathlib import Path

import pytest

from bench.chromium import CHROMIUM
from bench.harness import CgroupError, Container, split_cpus

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LIMIT_MB = 900  # the smallest limit the memory budget must hold
SESSIONS = 6


@pytest.fixture(scope="module")
def container_bench():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    pytest.importorskip("playwright")
    sys.path.insert(0, str(BENCH))  # the scripts import harness.py by plain name
    try:
        import container_bench
    finally:
        sys.path.remove(str(BENCH))
    try:
        Container(f"dreamlab-test-probe-{os.getpid()}", 64, 1.0).remove()
    except CgroupError as exc:
        pytest.skip(str(exc))
    return container_bench


def test_many_sessions_dreaming_at_once_all_finish_in_a_900_mb_container(container_bench) -> None:
    args = argparse.Namespace(cpus=1.0, timeout=900.0, keep_env=False)
    cpus = split_cpus(True)
    # The benchmark drives its browsers with asyncio.run(), which cannot run in a thread where
    # the session's sync Playwright driver already runs its loop: a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        row = pool.submit(container_bench.measure, LIMIT_MB, SESSIONS, 1, args, cpus).result()
    assert not row["server_died"] and row["oom_kills"] == 0, row
    assert row["errors"] == [] and row["completed_runs"] == SESSIONS, row
