"""Classroom load test: N real browser sessions against one ``streamlit run``, each dreaming once.

    python bench/load_test.py --sessions 1 10 30 --json bench/results/load_test.json
    python bench/load_test.py --fair --json bench/results/fair_turns.json

For each N it starts a fresh server on a free localhost port, opens N Chromium tabs (each its own
Streamlit session) on the DeepDream page, presses **Dream** in all of them at once with the default
settings, and records per session: time to the first dream frame, time to the end, and errors.
Nothing may fail: sessions beyond the job gate's seats wait in its queue.

Honest numbers: the browsers must not eat the server's cores. With ``--pin`` (the default where
the machine has 2 cores or more) the server runs on its own cores and this script, Playwright
and Chromium on the others (``taskset``-style affinity, inherited by children), and the report
gives the server's CPU seconds (psutil, the server and its children) beside the wall time, and
the clients' too. The baseline is one session dreaming alone on the same pinned server; each
row prints ``ratio = p95 finish / (N x alone)`` (goal: at most 1.5) and its peak RSS.

``--fair``: session A dreams 8 octaves x 50 steps from a 1024 px image, session B starts the
default dream 2 s later; reports B's time beside B alone (goal: at most 3x).
30 viewers of a teacher's shared dream (**Share with the class**): ``bench/broadcast_bench.py``,
which shares its server start, pinning and meters (``bench/harness.py``).
``--neighbour`` keeps one of the server's cores busy with another process for the whole run
(as on a shared machine; the baselines are measured beside it too).
``--repeat K`` makes each session dream K times in a row, to show memory does not grow across runs.
Only localhost is contacted; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil
from chromium import CHROMIUM
from chromium import CHROMIUM_ARGS as ARGS
from dream_page import UPLOAD_OWN, Bell, SessionResult, one_session, wait_state
from harness import (
    CpuMeter,
    RssSampler,
    free_port,
    loadavg,
    neighbour,
    pct,
    pinned,
    split_cpus,
    start_streamlit,
    stop_tree,
)


async def run_load(
    url: str, sessions: int, repeat: int, timeout_s: float, plans: list[dict] | None = None
) -> list[SessionResult]:
    """``sessions`` tabs pressing Dream together; ``plans[i]`` may give tab i a ``prepare`` and a
    ``delay_s`` (the fair-turns case)."""
    from playwright.async_api import async_playwright

    plans = plans or [{} for _ in range(sessions)]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        bell = Bell(sessions)
        tasks = [
            one_session(browser, url, bell, repeat, timeout_s, **plans[i]) for i in range(sessions)
        ]
        results = await asyncio.gather(*tasks)
        await browser.close()
    return list(results)


# ---------------------------------------------------------------- the long dream (--fair)


def _big_image(path: Path, side: int = 1024) -> Path:
    """A 1024 px photo-like PNG (a bundled sample, enlarged) for the long dream."""
    from PIL import Image

    from dreamlab.images import sample_path

    img = Image.open(sample_path("coffee")).convert("RGB")
    img.resize((side, round(side * img.height / img.width)), Image.Resampling.LANCZOS).save(path)
    return path


async def _slider_to_max(page, label: str) -> str:
    """Move a slider to its maximum; the value it then shows."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=label)
    await slider.get_by_role("slider").focus()
    await page.keyboard.press("End")
    return await slider.locator('[data-testid="stSliderThumbValue"]').first.inner_text()


def long_dream(
    image: Path, timeout_s: float, settings: dict[str, str]
) -> Callable[[Any], Awaitable[None]]:
    """Prepare a tab for the long dream: an uploaded 1024 px image, max side 1024,
    8 octaves x 50 steps; ``settings`` gets the sliders' values as the page shows them."""

    async def prepare(page) -> None:
        await (
            page.locator('[data-testid="stSelectbox"]')
            .filter(has_text="Image")
            .first.click(timeout=timeout_s * 1000)
        )
        await page.get_by_role("option", name=UPLOAD_OWN).click(timeout=timeout_s * 1000)
        await page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(
            str(image)
        )
        # the upload reruns the page: wait for that run to start (if not already over), then end
        with contextlib.suppress(Exception):
            await wait_state(page, "running", 10_000)
        await wait_state(page, "notRunning", timeout_s * 1000)
        for label in ("Octaves", "Iterations per octave", "Max side (pixels)"):
            settings[label] = await _slider_to_max(page, label)

    return prepare


def measure(
    n: int, repeat: int, timeout_s: float, cpus: tuple, plans: list[dict] | None = None
) -> dict:
    """One fresh server, ``n`` sessions; the row of the report (wall, CPU, memory, errors)."""
    server_cpus, client_cpus = cpus
    port = free_port()
    server = start_streamlit(port, cpus=server_cpus)
    sampler = RssSampler(server.pid)
    sampler.start()
    idle_rss = sampler.rss()
    server_cpu, client_cpu = CpuMeter(server.pid), CpuMeter(os.getpid())
    t0 = time.monotonic()
    try:
        with pinned(client_cpus):
            results = asyncio.run(run_load(f"http://127.0.0.1:{port}", n, repeat, timeout_s, plans))
    finally:
        wall = time.monotonic() - t0
        used = server_cpu.used()
        peak = sampler.stop()
        stop_tree(server)
    firsts = [t for r in results for t in r.first_frame_s]
    finishes = [t for r in results for t in r.finish_s]
    return {
        "sessions": n,
        "runs_per_session": repeat,
        "completed_runs": len(finishes),
        "errors": [r.error for r in results if r.error],
        "first_frame_p50_s": pct(firsts, 0.5),
        "first_frame_p95_s": pct(firsts, 0.95),
        "finish_p50_s": pct(finishes, 0.5),
        "finish_p95_s": pct(finishes, 0.95),
        "finish_max_s": round(max(finishes), 2) if finishes else None,
        "finish_each_s": [[round(t, 2) for t in r.finish_s] for r in results],
        "wall_s": round(wall, 2),
        "server_cpu_s": used,
        "server_cores_busy": round(used / wall, 2) if wall else None,
        "client_cpu_s": client_cpu.used(),
        "server_cpus": sorted(server_cpus) if server_cpus else None,
        "client_cpus": sorted(client_cpus) if client_cpus else None,
        "server_rss_idle_mb": round(idle_rss / 2**20),
        "server_rss_peak_mb": round(peak / 2**20),
        "rss_timeline_mb": [
            (round(t, 1), round(r / 2**20))
            for t, r in sampler.samples[:: max(1, len(sampler.samples) // 60)]
        ],
    }


def _brief(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("rss_timeline_mb", "finish_each_s")}


def sessions_report(args: argparse.Namespace, cpus: tuple) -> list[dict]:
    """The classroom rows: one session dreaming twice first (its warm second dream is the
    baseline), then each N at once, each on a fresh server."""
    rows = []
    alone = measure(1, 2, args.timeout, cpus)  # the second, warm dream is the baseline
    each = alone["finish_each_s"][0] if alone["finish_each_s"] else []
    alone_s = round(each[-1], 2) if each else None
    print(f"one dream alone (warm, second of two): {alone_s} s", flush=True)
    for n in args.sessions:
        row = measure(n, args.repeat, args.timeout, cpus)
        row["alone_s"] = alone_s
        ideal = n * args.repeat * alone_s if alone_s else None
        row["ratio_p95_to_n_alone"] = (
            round(row["finish_p95_s"] / ideal, 2) if ideal and row["finish_p95_s"] else None
        )
        row["goal_met"] = (
            not row["errors"]
            and row["ratio_p95_to_n_alone"] is not None
            and row["ratio_p95_to_n_alone"] <= 1.5
        )
        rows.append(row)
        print(json.dumps(_brief(row)), flush=True)
        print(
            f"N={n}: {row['completed_runs']} completed, {len(row['errors'])} errors, first frame p50/p95 "
            f"{row['first_frame_p50_s']}/{row['first_frame_p95_s']} s, finish p50/p95 "
            f"{row['finish_p50_s']}/{row['finish_p95_s']} s, server CPU {row['server_cpu_s']} s "
            f"in {row['wall_s']} s wall, peak RSS {row['server_rss_peak_mb']} MB, "
            f"ratio p95 / (N x {alone_s} s alone) = {row['ratio_p95_to_n_alone']} (goal <= 1.5)",
            flush=True,
        )
    return rows


def fair_report(args: argparse.Namespace, cpus: tuple) -> dict:
    """B's default dream alone, then beside A's long dream started 2 s before (goal: <= 3x)."""
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        big = _big_image(Path(tmp) / "big-1024.png")
        a_settings: dict[str, str] = {"image": "x".join(map(str, Image.open(big).size))}
        alone = measure(1, 2, args.timeout, cpus)  # B's default dream, warm (second of two)
        b_done = asyncio.Event()  # binds to measure()'s event loop on first use
        plans = [
            # A: stopped once B is done
            {"prepare": long_dream(big, args.timeout, a_settings), "stop_on": b_done},
            {"delay_s": 2.0, "done": b_done},
        ]
        both = measure(2, 1, args.timeout, cpus, plans)
    each = alone["finish_each_s"][0] if alone["finish_each_s"] else []
    b_alone = round(each[-1], 2) if each else None
    a_times, b_times = both["finish_each_s"]
    b_beside = b_times[0] if b_times else None
    row = {
        "a_settings": a_settings,  # the upload's W x H, and the sliders as A's page showed them
        "b_alone_s": b_alone,
        "a_finished_first": bool(a_times),
        "b_beside_a_s": b_beside,
        "a_s": a_times[0] if a_times else None,
        "ratio": round(b_beside / b_alone, 2) if b_alone and b_beside else None,
        "errors": both["errors"] + alone["errors"],
        "server_cpu_s": both["server_cpu_s"],
        "wall_s": both["wall_s"],
        "server_rss_peak_mb": both["server_rss_peak_mb"],
    }
    if row["errors"]:  # e.g. A never started: B's time beside it would mean nothing
        row["ratio"] = None
    row["goal_met"] = not row["errors"] and row["ratio"] is not None and row["ratio"] <= 3.0
    print(
        f"fair turns: B alone {b_alone} s, B beside A {b_beside} s (x{row['ratio']}, goal <= 3); "
        f"A finished first: {row['a_finished_first']} (else stopped once B was done)",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600, help="per-session limit, seconds")
    parser.add_argument("--fair", action="store_true", help="only the fair-turns case")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and clients apart")
    parser.add_argument(
        "--neighbour",
        action="store_true",
        help="a one-core busy process on the server's first core for the whole run (a shared machine)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cpus = split_cpus(not args.no_pin)
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_before": loadavg(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "server_cpus": sorted(cpus[0]) if cpus[0] else "all",
        "client_cpus": sorted(cpus[1]) if cpus[1] else "all",
    }
    report["neighbour"] = args.neighbour
    with neighbour(cpus[0], args.neighbour):
        if args.fair:
            report["fair"] = fair_report(args, cpus)
        else:
            report["runs"] = sessions_report(args, cpus)
    report["machine"]["load_average_after"] = loadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
