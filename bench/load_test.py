"""Classroom load test: N real browser sessions against one ``streamlit run``, each dreaming once.

    python bench/load_test.py --sessions 1 10 30 --json bench/results/load_test.json

For each N it starts a fresh server on a free localhost port, opens N Chromium tabs (each its own
Streamlit session) on the DeepDream page, presses **Dream** in all of them at once with the default
settings, and records per session: time to the first dream frame, time to the end, and errors. A
sampler thread records the server's resident memory (RSS, the server and its children) throughout.
Nothing may fail: sessions beyond the job gate's capacity wait in its queue.

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
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DREAMLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--disable-dev-shm-usage"]  # fmt: skip

# How the DeepDream page shows its progress (see dreamlab/ui/deepdream.py).
DREAM_BUTTON = "Dream"
FIRST_FRAME = "The dream ("  # caption of the live frame
FINISHED = "Finished:"  # the status line once every step is done
SCRIPT_STATE = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"


@dataclass
class SessionResult:
    first_frame_s: list[float] = field(default_factory=list)
    finish_s: list[float] = field(default_factory=list)
    error: str = ""
    stage: str = "opening"  # where the session is, for the error report


class RssSampler(threading.Thread):
    """Samples the server's RSS (with its children) every ``period`` seconds."""

    def __init__(self, pid: int, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.period = period
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def rss(self) -> int:
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs if p.is_running())
        except psutil.Error:
            return 0

    def run(self) -> None:
        t0 = time.monotonic()
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - t0, self.rss()))
            self._halt.wait(self.period)

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=5)
        return max((r for _, r in self.samples), default=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "DREAMLAB_OFFLINE": "1", **(env_extra or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


async def _wait_state(page, state: str, timeout_ms: float) -> None:
    await page.wait_for_function(f"() => ({SCRIPT_STATE[6:]}) === '{state}'", timeout=timeout_ms)


class Bell:
    """Rings once every session has its page loaded, so all press Dream together."""

    def __init__(self, expected: int) -> None:
        self.expected, self.ready, self.event = expected, 0, asyncio.Event()

    def arrive(self) -> None:
        self.ready += 1
        if self.ready >= self.expected:
            self.event.set()


async def one_session(
    browser, url: str, bell: Bell, repeat: int, timeout_s: float
) -> SessionResult:
    result = SessionResult()
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(f"{url}/deepdream", timeout=timeout_s * 1000)
        result.stage = "loading"
        await _wait_state(page, "notRunning", timeout_s * 1000)
        await page.get_by_role("button", name=DREAM_BUTTON, exact=True).wait_for(
            timeout=timeout_s * 1000
        )
    except Exception as exc:
        result.error = f"page did not load: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    bell.arrive()
    await bell.event.wait()
    try:
        if result.error:
            return result
        for _ in range(repeat):
            result.stage = "pressing Dream"
            t0 = time.monotonic()
            await page.get_by_role("button", name=DREAM_BUTTON, exact=True).click()
            result.stage = "waiting for the first frame"
            # the live frame's caption; under heavy load the browser may only ever paint the
            # finished page, whose status line then counts as the first frame seen
            first = page.get_by_text(FIRST_FRAME).or_(page.get_by_text(FINISHED))
            await first.first.wait_for(timeout=timeout_s * 1000)
            result.first_frame_s.append(time.monotonic() - t0)
            result.stage = "dreaming"
            await page.get_by_text(FINISHED).first.wait_for(timeout=timeout_s * 1000)
            result.finish_s.append(time.monotonic() - t0)
            await _wait_state(page, "notRunning", timeout_s * 1000)
            if await page.locator('[data-testid="stException"]').count():
                raise RuntimeError("the page shows an exception")
    except Exception as exc:  # record, never crash the whole run
        result.error = f"{result.stage}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        shot = Path(os.environ.get("LOAD_TEST_SHOTS", "/tmp")) / f"load-error-{id(result)}.png"
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(shot))
    finally:
        await context.close()
    return result


async def run_load(url: str, sessions: int, repeat: int, timeout_s: float) -> list[SessionResult]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        bell = Bell(sessions)
        tasks = [one_session(browser, url, bell, repeat, timeout_s) for _ in range(sessions)]
        results = await asyncio.gather(*tasks)
        await browser.close()
    return list(results)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[k], 2)


def measure(n: int, repeat: int, timeout_s: float) -> dict:
    port = _free_port()
    server = start_server(port)
    sampler = RssSampler(server.pid)
    sampler.start()
    idle_rss = sampler.rss()
    try:
        results = asyncio.run(run_load(f"http://127.0.0.1:{port}", n, repeat, timeout_s))
    finally:
        peak = sampler.stop()
        server.terminate()
        server.wait(timeout=20)
    firsts = [t for r in results for t in r.first_frame_s]
    finishes = [t for r in results for t in r.finish_s]
    return {
        "sessions": n,
        "runs_per_session": repeat,
        "completed_runs": len(finishes),
        "errors": [r.error for r in results if r.error],
        "first_frame_p50_s": _pct(firsts, 0.5),
        "first_frame_p95_s": _pct(firsts, 0.95),
        "finish_p50_s": _pct(finishes, 0.5),
        "finish_p95_s": _pct(finishes, 0.95),
        "finish_max_s": round(max(finishes), 2) if finishes else None,
        "server_rss_idle_mb": round(idle_rss / 2**20),
        "server_rss_peak_mb": round(peak / 2**20),
        "rss_timeline_mb": [
            (round(t, 1), round(r / 2**20))
            for t, r in sampler.samples[:: max(1, len(sampler.samples) // 60)]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600, help="per-session limit, seconds")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "runs": [],
    }  # fmt: skip
    for n in args.sessions:
        row = measure(n, args.repeat, args.timeout)
        report["runs"].append(row)
        brief = {k: v for k, v in row.items() if k != "rss_timeline_mb"}
        print(json.dumps(brief), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(
        f"median over all sessions: {statistics.median([r['finish_p50_s'] or 0 for r in report['runs']])}"
    )


if __name__ == "__main__":
    main()
