"""Class broadcast benchmark: the teacher's dream time with 0 vs N viewers, and frame latency.

    python bench/broadcast_bench.py --viewers 30 --reps 3 --json bench/results/broadcast.json

It starts ``streamlit run`` on a free localhost port and one Chromium: a teacher tab opens the
DeepDream page, presses **Share with the class** and reads the code; ``--viewers`` tabs of one
browser context (each its own Streamlit session) open ``?class=CODE``. The teacher then dreams
(default settings unless told otherwise) ``--reps`` times with no viewer, ``--reps`` times with
all of them watching, and ``--reps`` times with none again (drift check), each time from a click on
**Dream** to "Finished:" on the teacher's page. The server's CPU seconds (its process and children)
are recorded beside each wall time, since the browsers share the machine's cores
(``--server-cpus`` / ``--client-cpus`` pin them apart with ``taskset``).

Latency: every tab records (``Date.now()``, progress text) each time its progress line changes,
with one clock for all tabs (one browser, one machine). A viewer's latency for a frame is the time
it first shows a progress text minus the time the teacher's tab first showed that same text.

Targets (issue 10): teacher time with N=30 viewers at most 1.5x the time with none; latency p95
under 1 s. Only localhost is contacted; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
from chromium import CHROMIUM
from chromium import CHROMIUM_ARGS as ARGS

ROOT = Path(__file__).resolve().parents[1]
FINISHED = "Finished:"
WATCHING = "You are watching the teacher's dream live"
# Records (time, progress text) on every change of the page's progress line.
RECORDER = """
window.__progress = [];
new MutationObserver(() => {
  const el = document.querySelector('[data-testid="stProgress"]');
  const text = el ? el.innerText.trim() : '';
  const log = window.__progress;
  if (text && (!log.length || log[log.length - 1][1] !== text)) log.push([Date.now(), text]);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pinned(cmd: list[str], cpus: str | None) -> list[str]:
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", cpus, *cmd]
    return cmd


def start_server(port: int, cpus: str | None) -> subprocess.Popen:
    """``streamlit run`` offline on ``port``; waits until it answers its health check."""
    env = {
        **os.environ,
        "DREAMLAB_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    proc = subprocess.Popen(
        _pinned(cmd, cpus), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy in time")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far."""
    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def wait_idle(page, timeout_s: float = 300) -> None:
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-testid="stStatusWidget"]');
        }""",
        timeout=timeout_s * 1000,
    )


def open_teacher(context, url: str, args: argparse.Namespace) -> tuple[object, str]:
    """The teacher's tab on the DeepDream page, sharing; returns (tab, class code)."""
    tab = context.new_page()
    tab.set_default_timeout(300_000)
    tab.add_init_script(RECORDER)
    tab.goto(f"{url}/deepdream")
    wait_idle(tab)
    tab.get_by_role("button", name="Share with the class").click()
    text = tab.get_by_text("Class code:", exact=False).first.inner_text()
    code = re.search(r"Class code:\s*([A-Z0-9]{6})", text).group(1)
    wait_idle(tab)
    if args.side_key:  # e.g. Home: the smallest side, for a quick run
        slider = tab.locator('[data-testid="stSlider"]').filter(has_text="Max side (pixels)")
        slider.get_by_role("slider").focus()
        tab.keyboard.press(args.side_key)
    return tab, code


def dream_once(teacher, server_pid: int) -> dict[str, float]:
    """One dream from the click on Dream to "Finished:"; wall and server CPU seconds."""
    teacher.evaluate("() => { window.__progress = []; }")
    cpu0, t0 = cpu_seconds(server_pid), time.perf_counter()
    teacher.get_by_role("button", name="Dream", exact=True).click()
    # this dream's own end: its progress was seen, the run is over and says Finished (the last
    # dream's "Finished:" stays on the page until the new results replace it)
    teacher.wait_for_function(
        """(finished) => window.__progress.length > 0
            && document.querySelector('[data-testid="stApp"]')
                ?.getAttribute('data-test-script-state') === 'notRunning'
            && document.querySelector('[data-testid="stMainBlockContainer"]')
                ?.innerText.includes(finished)""",
        arg=FINISHED,
        timeout=900_000,
    )
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(server_pid) - cpu0
    return {"wall_s": round(wall, 3), "server_cpu_s": round(cpu, 3)}


def latencies(teacher, viewers: list) -> list[float]:
    """Per viewer and progress text: first time shown by the viewer minus by the teacher (s)."""
    first: dict[str, int] = {}
    for ms, text in teacher.evaluate("() => window.__progress"):
        first.setdefault(text, ms)
    out = []
    for tab in viewers:
        seen: set[str] = set()
        for ms, text in tab.evaluate("() => window.__progress"):
            if text in first and text not in seen:
                seen.add(text)
                out.append((ms - first[text]) / 1000)
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, args.server_cpus)
    result: dict = {
        "viewers": args.viewers,
        "reps": args.reps,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "server_cpus": args.server_cpus,
        "client_cpus": args.client_cpus,
    }
    try:
        with sync_playwright() as pw:
            if args.client_cpus:  # Chromium inherits this process's affinity (Playwright refuses
                # a wrapper such as taskset as its executable)
                os.sched_setaffinity(0, _cpu_list(args.client_cpus))
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            teacher, code = open_teacher(context, url, args)
            dream_once(teacher, server.pid)  # warm-up: the model loads, caches fill
            result["alone"] = [dream_once(teacher, server.pid) for _ in range(args.reps)]
            viewers = []
            for _ in range(args.viewers):
                tab = context.new_page()
                tab.set_default_timeout(300_000)
                tab.add_init_script(RECORDER)
                tab.goto(f"{url}/deepdream?class={code}")
                tab.get_by_text(WATCHING, exact=False).wait_for()
                viewers.append(tab)
            watched, lat = [], []
            for _ in range(args.reps):
                for tab in viewers:
                    tab.evaluate("() => { window.__progress = []; }")
                watched.append(dream_once(teacher, server.pid))
                # the last frame reaches the viewers just after the teacher's page shows it
                last = teacher.evaluate("() => window.__progress.at(-1)[1]")
                for tab in viewers:
                    tab.wait_for_function(
                        "(t) => window.__progress.some((e) => e[1] === t)",
                        arg=last,
                        timeout=120_000,
                    )
                lat += latencies(teacher, viewers)
            result["watched"] = watched
            for tab in viewers:
                tab.close()
            result["alone_after"] = [dream_once(teacher, server.pid) for _ in range(args.reps)]
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    alone = [r["wall_s"] for r in result["alone"] + result["alone_after"]]
    with_viewers = [r["wall_s"] for r in result["watched"]]
    result["summary"] = {
        "alone_median_s": round(statistics.median(alone), 3),
        "watched_median_s": round(statistics.median(with_viewers), 3),
        "ratio": round(statistics.median(with_viewers) / statistics.median(alone), 3),
        "latency_samples": len(lat),
        "latency_p50_s": _pct(lat, 0.5),
        "latency_p95_s": _pct(lat, 0.95),
        "latency_max_s": _pct(lat, 1.0),
    }
    return result


def _cpu_list(text: str) -> set[int]:
    """``"1"``, ``"0,2"`` or ``"2-3"`` as a set of CPU numbers (taskset's list form)."""
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--viewers", type=int, default=30)
    ap.add_argument("--reps", type=int, default=2, help="dreams per condition")
    ap.add_argument(
        "--side-key",
        default=None,
        help="key pressed on the Max side slider first (Home: 128 px); default 512",
    )
    ap.add_argument("--server-cpus", default=None, help="taskset CPU list for the server (e.g. 0)")
    ap.add_argument("--client-cpus", default=None, help="taskset CPU list for Chromium (e.g. 1)")
    ap.add_argument("--json", type=Path, default=None, help="write the result here")
    args = ap.parse_args()
    if args.viewers < 1 or args.reps < 1:
        sys.exit("error: --viewers and --reps must be at least 1")
    if not Path(CHROMIUM).exists():
        sys.exit(f"error: Chromium not found at {CHROMIUM}")
    result = run(args)
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
