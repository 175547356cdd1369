"""A class on one backend: N browser sessions through one or two front ends, one ``dreamlab serve``.

    python bench/class_bench.py --json bench/results/class_cpu_2cores.json
    python bench/class_bench.py --cases 8x1 30x1 30x2 --batching on

It starts ``dreamlab serve`` (the real command: batching as told, a token file, its Ray files in a
temp dir) and, for each case ``NxF``, F fresh ``streamlit run`` front ends with
``DREAMLAB_BACKEND`` and ``DREAMLAB_BACKEND_TOKEN`` set, then N Chromium tabs (each its own
Streamlit session, spread evenly over the front ends) on the DeepDream page press **Dream** at
once with the default settings (``dream_page.py``'s sessions, bell and timings). Per case: sessions
completed, refused (the service's 429/503 count: target 0), time to the first frame and to the
end (p50/p95), the service's batches (mean and largest, from its ``/stats``: target with batching
on, a mean batch of at least 8 for 30 sessions), and the CPU seconds of the service (its process
and Ray's, its children) and of the front ends. As in ``load_test.py`` (both use ``harness.py``), the
service and front ends run on their own cores and the browsers on the others
(``--no-pin``: shared). The load average before and after is recorded: the machine may be shared.
Only localhost is contacted; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from chromium import CHROMIUM
from chromium import CHROMIUM_ARGS as ARGS
from dream_page import Bell, one_session
from harness import (
    CpuMeter,
    free_port,
    loadavg,
    pct,
    pinned,
    split_cpus,
    start_serve,
    start_streamlit,
    stop_serve,
    stop_tree,
)

TOKEN = "class-bench-token"


def warm_up(port: int) -> None:
    """One small dream at the service first: its model loads before any case is timed."""
    from dreamlab.dream import DreamConfig
    from dreamlab.serve.client import BackendClient

    client = BackendClient(f"http://127.0.0.1:{port}", "warm-up", token=TOKEN)
    small = DreamConfig(num_octaves=1, iterations=2, max_side=64, noise_size=(64, 64))
    for _ in client.dream("noise", "efficientnet_lite0", small):
        pass


def stats(port: int) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/stats", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


async def run_class(urls: list[str], sessions: int, timeout_s: float, stagger_s: float) -> list:
    """``sessions`` tabs, spread over ``urls`` in turn, opened ``stagger_s`` apart (thirty pages
    loading at once on a loaded machine abort), pressing Dream together once all are loaded."""
    from playwright.async_api import async_playwright

    async def tab(i: int, browser, bell: Bell):
        await asyncio.sleep(i * stagger_s)
        return await one_session(browser, urls[i % len(urls)], bell, 1, timeout_s)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        bell = Bell(sessions)
        tasks = [tab(i, browser, bell) for i in range(sessions)]
        results = await asyncio.gather(*tasks)
        await browser.close()
    return list(results)


def _delta(after: dict, before: dict) -> dict[str, Any]:
    """The batches made between two /stats (sizes -> counts), their mean and largest."""
    sizes_a = after["batcher"]["sizes"] if after["batcher"] else {}
    sizes_b = before["batcher"]["sizes"] if before["batcher"] else {}
    sizes = {k: v - sizes_b.get(k, 0) for k, v in sizes_a.items() if v - sizes_b.get(k, 0)}
    batches = sum(sizes.values())
    steps = sum(int(k) * v for k, v in sizes.items())
    return {
        "batches": batches,
        "mean_batch": round(steps / batches, 2) if batches else None,
        "largest_batch": max((int(k) for k in sizes), default=0),
        "batch_sizes": sizes,
    }


def measure_case(
    sessions: int, front_ends: int, port: int, service_pid: int, args: argparse.Namespace, cpus
) -> dict[str, Any]:
    """One case: fresh front ends, ``sessions`` tabs; the row of the report."""
    server_cpus, client_cpus = cpus
    env = {"DREAMLAB_BACKEND": f"http://127.0.0.1:{port}", "DREAMLAB_BACKEND_TOKEN": TOKEN}
    procs = []
    for i in range(front_ends):
        fe_env = {**env, "DREAMLAB_CLIENT_ID": f"front-end-{i + 1}"}
        procs.append(start_streamlit(free_port(), fe_env, server_cpus))
    urls = [f"http://127.0.0.1:{p.args[p.args.index('--server.port') + 1]}" for p in procs]
    before = stats(port)
    service_cpu, fe_cpus = CpuMeter(service_pid), [CpuMeter(p.pid) for p in procs]
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    try:
        with pinned(client_cpus):
            results = asyncio.run(run_class(urls, sessions, args.timeout, args.stagger))
    finally:
        wall = time.monotonic() - t0
        used = service_cpu.used()
        fe_used = round(sum(m.used() for m in fe_cpus), 2)
        for proc in procs:
            stop_tree(proc)
    after = stats(port)
    firsts = [t for r in results for t in r.first_frame_s]
    finishes = [t for r in results for t in r.finish_s]
    row = {
        "sessions": sessions,
        "front_ends": front_ends,
        "completed": len(finishes),
        "refused": after["refused"] - before["refused"],
        "errors": [r.error for r in results if r.error],
        "first_frame_p50_s": pct(firsts, 0.5),
        "first_frame_p95_s": pct(firsts, 0.95),
        "finish_p50_s": pct(finishes, 0.5),
        "finish_p95_s": pct(finishes, 0.95),
        "finish_max_s": round(max(finishes), 2) if finishes else None,
        **_delta(after, before),
        "peak_waiting": after["queue"]["peak_waiting"],
        "wall_s": round(wall, 2),
        "service_cpu_s": used,
        "front_ends_cpu_s": fe_used,
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", nargs="+", default=["8x1", "30x1", "30x2"], help="SESSIONSxFRONT_ENDS"
    )
    parser.add_argument("--batching", choices=("on", "off"), default="on")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=900, help="per-session limit, seconds")
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds between tab openings")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin servers and browsers apart"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    try:
        cases = [tuple(int(v) for v in case.split("x")) for case in args.cases]
    except ValueError:
        parser.error("a case is SESSIONSxFRONT_ENDS, e.g. 30x2")
    if any(len(c) != 2 or min(c) < 1 for c in cases):
        parser.error("a case is SESSIONSxFRONT_ENDS, both at least 1")
    cpus = split_cpus(not args.no_pin)
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_before": loadavg(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "device": "cpu",
        "batching": args.batching,
        "max_batch": args.max_batch,
        "server_cpus": sorted(cpus[0]) if cpus[0] else "all",
        "client_cpus": sorted(cpus[1]) if cpus[1] else "all",
        "runs": [],
    }
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="dreamlab-class-") as tmp:
        options = [
            "--device",
            "cpu",
            "--batching",
            args.batching,
            "--max-batch",
            str(args.max_batch),
        ]
        service = start_serve(port, Path(tmp), TOKEN, options, cpus[0])
        try:
            warm_up(port)
            for sessions, front_ends in cases:
                row = measure_case(sessions, front_ends, port, service.pid, args, cpus)
                report["runs"].append(row)
                print(json.dumps(row), flush=True)
        finally:
            stop_serve(service, Path(tmp))
    report["machine"]["load_average_after"] = loadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
