"""Container benchmark: the app in a memory-limited cgroup with one CPU, N sessions dreaming at once.

    python bench/container_bench.py --limits 900 1200 1500 --sessions 6 30 --cpus 1 \
        --json bench/results/container_cpu1.json

As Community Cloud runs an app: a Linux cgroup (v1 here, v2 where the machine has it) with a memory
limit and a CPU quota, the server started inside it with the README's ``streamlit run`` (a tiny
wrapper writes its own PID into the cgroup's ``cgroup.procs`` and then execs the command: cgexec is
not needed). For each limit it measures one dream alone on a warm server (a first tab dreams once
and closes, then a fresh tab's dream is the baseline, in the same container), then each N: N Chromium tabs press **Dream** at once with the
default settings (``bench/load_test.py``'s sessions, pinning and meters; the browsers are outside
the cgroup). It reports completed dreams, errors, server deaths (the server process gone, and the
kernel's OOM-kill count from ``memory.oom_control`` / ``memory.events``), queue waits (press to
first frame), p95 finish, the ratio ``p95 / (N x alone)`` (goal: at most 1.5) and the cgroup's
peak memory (``memory.max_usage_in_bytes`` / ``memory.peak``), and how many jobs the server's log
says the gate refused (``--logs``: one log per server).

Where no cgroup can be made (not root, no writable hierarchy) it says so in one line and exits 2.
Every cgroup it makes is removed at the end (``finally`` and ``atexit``), its processes killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from chromium import CHROMIUM, CHROMIUM_ARGS
from dream_page import Bell, SessionResult, one_session
from harness import (
    CGROUP,
    ROOT,
    CgroupError,
    Container,
    CpuMeter,
    RssSampler,
    free_port,
    pct,
    pinned,
    split_cpus,
    start_streamlit,
    stop_tree,
)

LOGS = "/tmp/dreamlab-container-logs"  # the servers' logs, one per measured server


def _rss_anon_mb(pid: int) -> int | None:
    """A process's anonymous resident memory (``RssAnon``, what the budget counts), in MB."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return round(int(line.split()[1]) / 1024)
    return None


async def _sessions(
    url: str,
    n: int,
    repeat: int,
    timeout_s: float,
    server,
    seen: dict[str, Any],
    log: Path | None = None,
) -> list[Any]:
    """``n`` tabs pressing Dream together; all given up at once if the server dies, or once the
    server's ``log`` shows that every tab still waiting was refused (it never finishes). ``seen``
    gets the server's anonymous memory once every tab has loaded the page (before Dream)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        bell, refused = Bell(n), False
        tasks = [
            asyncio.ensure_future(one_session(browser, url, bell, repeat, timeout_s))
            for _ in range(n)
        ]
        while not all(t.done() for t in tasks):
            if bell.event.is_set() and "loaded_rss_anon_mb" not in seen:
                seen["loaded_rss_anon_mb"] = _rss_anon_mb(server.pid)
            if server.poll() is not None:  # the server is gone: nothing will finish
                for t in tasks:
                    t.cancel()
                break
            pending = [t for t in tasks if not t.done()]
            if log is not None and _refusals(log)["refused"] >= len(pending) > 0:
                refused = True  # each one still waiting saw a refusal: none will finish
                for t in pending:
                    t.cancel()
                break
            await asyncio.wait(tasks, timeout=0.5)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await browser.close()
    gone = "refused (the server's log)" if refused else "server died"
    return [r if isinstance(r, SessionResult) else SessionResult(error=gone) for r in results]


def measure(
    limit_mb: int,
    n: int,
    repeat: int,
    args: argparse.Namespace,
    cpus: tuple,
    warm_up: bool = False,
) -> dict[str, Any]:
    """A fresh container and server, ``n`` sessions; the row of the report. ``warm_up``: one
    other tab dreams once first (then closes), so the measured sessions find a warm server; a
    fresh tab for the measured dream, since a second press in the same tab can see the first
    dream's "Finished" line before the rerun clears it."""
    server_cpus, client_cpus = cpus
    box = Container(f"dreamlab-bench-{os.getpid()}-{limit_mb}-{n}", limit_mb, args.cpus)
    try:
        port = free_port()
        env = {"DREAMLAB_MEMORY_MB": ""} if not args.keep_env else {}
        log = Path(getattr(args, "logs", LOGS)) / f"server-{limit_mb}mb-{n}x{repeat}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        server = start_streamlit(port, env_extra=env, cpus=server_cpus, wrap=box.wrap(), log=log)
        sampler = RssSampler(server.pid)
        sampler.start()
        idle_mb = round(sampler.rss() / 2**20)
        meter = CpuMeter(server.pid)
        t0 = time.monotonic()
        seen: dict[str, Any] = {"idle_rss_anon_mb": _rss_anon_mb(server.pid)}
        try:
            with pinned(client_cpus):
                if warm_up:
                    url = f"http://127.0.0.1:{port}"
                    asyncio.run(_sessions(url, 1, 1, args.timeout, server, {}))
                results = asyncio.run(
                    _sessions(
                        f"http://127.0.0.1:{port}", n, repeat, args.timeout, server, seen, log
                    )
                )
        finally:
            wall, used = time.monotonic() - t0, meter.used()
            peak_rss = sampler.stop()
            died = server.poll() is not None
            seen["after_rss_anon_mb"] = None if died else _rss_anon_mb(server.pid)
            if not died:
                stop_tree(server)
        row = _row(limit_mb, n, repeat, results, box, died, wall, used, idle_mb, peak_rss)
        return {**row, **seen, **_refusals(log)}
    finally:
        box.remove()


def _refusals(log: Path) -> dict[str, Any]:
    """What the server's log says the job gate refused (``dreamlab.runtime.jobs`` warns once per
    refusal): how many, and the first line, so a missing "Finished" is told apart from a stall."""
    lines: list[str] = []
    with contextlib.suppress(OSError):
        lines = [x for x in log.read_text(errors="replace").splitlines() if "job refused" in x]
    return {
        "refused": len(lines),
        "first_refusal": lines[0][:300] if lines else "",
        "log": str(log),
    }


def _row(limit_mb, n, repeat, results, box, died, wall, used, idle_mb, peak_rss) -> dict:
    firsts = [t for r in results for t in r.first_frame_s]
    finishes = [t for r in results for t in r.finish_s]
    return {
        "memory_limit_mb": limit_mb,
        "sessions": n,
        "runs_per_session": repeat,
        "completed_runs": len(finishes),
        "errors": [r.error for r in results if r.error],
        "server_died": died,
        "oom_kills": box.oom_kills(),
        "queue_wait_p50_s": pct(firsts, 0.5),  # press to first frame: the queue, then one step
        "queue_wait_p95_s": pct(firsts, 0.95),
        "finish_p50_s": pct(finishes, 0.5),
        "finish_p95_s": pct(finishes, 0.95),
        "finish_each_s": [[round(t, 2) for t in r.finish_s] for r in results],
        "wall_s": round(wall, 2),
        "server_cpu_s": used if used >= 0 else None,  # a dead server's children are gone
        "server_rss_idle_mb": idle_mb,
        "server_rss_peak_mb": round(peak_rss / 2**20),
        "cgroup_peak_mb": box.peak_mb(),
    }


def limit_report(limit_mb: int, args: argparse.Namespace, cpus: tuple) -> list[dict]:
    """One dream alone (warm: after another tab's dream) then each N, all in containers of
    ``limit_mb``."""
    alone = measure(limit_mb, 1, 1, args, cpus, warm_up=True)
    each = alone["finish_each_s"][0] if alone["finish_each_s"] else []
    alone_s = round(each[-1], 2) if len(each) == 1 else None
    print(f"{limit_mb} MB: one dream alone {alone_s} s, {_brief(alone)}", flush=True)
    rows = [{**alone, "baseline": True}]
    for n in args.sessions:
        row = measure(limit_mb, n, 1, args, cpus)
        row["alone_s"] = alone_s
        ideal = n * alone_s if alone_s else None
        p95 = row["finish_p95_s"]
        row["ratio_p95_to_n_alone"] = round(p95 / ideal, 2) if ideal and p95 else None
        row["goal_met"] = (
            not row["errors"]
            and not row["server_died"]
            and row["completed_runs"] == n
            and row["ratio_p95_to_n_alone"] is not None
            and row["ratio_p95_to_n_alone"] <= 1.5
        )
        print(f"{limit_mb} MB, N={n}: {_brief(row)}", flush=True)
        rows.append(row)
    return rows


def _brief(row: dict) -> str:
    return json.dumps({k: v for k, v in row.items() if k != "finish_each_s"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", type=int, nargs="+", default=[900, 1200, 1500], help="MB")
    parser.add_argument("--sessions", type=int, nargs="+", default=[6, 30])
    parser.add_argument("--cpus", type=float, default=1.0, help="CPU quota of the container")
    parser.add_argument("--timeout", type=float, default=600, help="per-session limit, seconds")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and clients apart")
    parser.add_argument(
        "--keep-env", action="store_true", help="keep DREAMLAB_MEMORY_MB from this shell"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--logs", default=LOGS, help="folder for the servers' logs")
    args = parser.parse_args()
    # SIGTERM (a timeout, a kill) ends like Ctrl-C: the finally blocks stop the server and remove
    # the cgroups, and atexit runs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if min(args.limits) < 1 or min(args.sessions) < 1 or args.cpus <= 0:
        print("error: limits, sessions and cpus must be positive", file=sys.stderr)
        sys.exit(2)
    try:  # can a cgroup be made here at all? (one line and exit 2 if not)
        Container(f"dreamlab-probe-{os.getpid()}", 64, args.cpus).remove()
    except CgroupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    cpus = split_cpus(not args.no_pin)
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_before": list(os.getloadavg()),
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "commit": _commit(),
        "cgroup_version": 2 if (CGROUP / "cgroup.controllers").exists() else 1,
        "cpu_quota": args.cpus,
        "server_cpus": sorted(cpus[0]) if cpus[0] else "all",
        "client_cpus": sorted(cpus[1]) if cpus[1] else "all",
        "limits": {},
    }
    for limit in args.limits:
        report["limits"][str(limit)] = limit_report(limit, args, cpus)
        if args.json:  # written after each limit: a long run keeps what it measured
            _write(args.json, report)
    report["machine"]["load_average_after"] = list(os.getloadavg())
    if args.json:
        _write(args.json, report)


def _commit() -> str:
    import subprocess

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip()
    return ""


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
