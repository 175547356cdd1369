"""Class broadcast benchmark: the teacher's dream time with 0 vs N viewers, and what they saw.

    python bench/broadcast_bench.py --viewers 30 --reps 3 --json bench/results/broadcast.json

It starts ``streamlit run`` on a free localhost port and two Chromiums: in the first, a teacher
tab opens the DeepDream page, presses **Share with the class** and reads the code; in the second,
run at the lowest CPU priority (each student has a machine of their own; 30 tabs must not starve
the teacher's), ``--viewers`` tabs (each its own Streamlit session) open ``?class=CODE``, except
``--probes`` (3) of them, opened in a third browser at normal priority, each in a context of its
own: their delays are what a student on their own machine sees, while the crowd's are mostly the
delays of 27 tabs drawing on one low-priority core. The teacher then dreams
(default settings unless told otherwise) ``--reps`` times with no viewer, ``--reps`` times with
all of them watching, and ``--reps`` times with none again (drift check), each time from a click on
**Dream** to "Finished:" on the teacher's page. As ``load_test.py`` does (the helpers of ``harness.py`` are used
here), the server runs on its own cores and the browsers on the others (``--no-pin``: shared), and
the server's CPU seconds (its process and children) are recorded beside each wall time, with its
peak RSS while the viewers watch, and its CPU use per second while they wait between dreams. ``--neighbour`` keeps one of the server's cores busy with
another process for the whole run (a shared machine; the dreams alone are measured beside it too).

The viewers, per watched dream: how many showed the teacher's last frame (within 60 s of the
teacher's end), each one's first and last frame after the teacher's click (p50/p95), and the
latency of every frame they showed: every tab records (``Date.now()``, progress text) each time
its progress line changes, one clock for all tabs (one machine); a viewer's latency for a frame is
when it first showed it minus when the teacher's tab first showed that frame or a newer one
(negative: the viewer was first).

Targets: teacher time with N=30 viewers at most 1.5x the time with none; a viewer sees
a new frame within 1 s of the teacher. Only localhost is contacted; every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import psutil
from chromium import CHROMIUM
from chromium import CHROMIUM_ARGS as ARGS
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

# What the progress line shows now, logged at time 0: a dream's own frames are those logged later
# (the same settings make the same texts, so the last dream's end is still on screen).
RESET = """() => {
  const el = document.querySelector('[data-testid="stProgress"]');
  window.__progress = el && el.innerText.trim() ? [[0, el.innerText.trim()]] : [];
}"""
# The progress text of a dream's last frame ("octave 4/4, step 10/10"), for Python's re and
# JavaScript's RegExp alike.
LAST_FRAME = r"octave (\d+)/\1, step (\d+)/\2\b"
FINISHED = "Finished:"
IDLE_S = 20.0  # the viewers' cost between dreams is measured over this long
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


def dream_once(teacher, meter: CpuMeter) -> dict[str, float]:
    """One dream from the click on Dream to "Finished:"; wall and server CPU seconds, and the
    click's time on the browser's clock (``clicked_ms``, for the viewers' delays)."""
    teacher.evaluate(RESET)
    cpu0, t0 = meter.seconds(), time.perf_counter()
    clicked_ms = teacher.evaluate("() => Date.now()")
    teacher.get_by_role("button", name="Dream", exact=True).click()
    # this dream's own end: its progress was seen, the run is over and says Finished (the last
    # dream's "Finished:" stays on the page until the new results replace it)
    teacher.wait_for_function(
        """(finished) => window.__progress.some((e) => e[0] > 0)
            && document.querySelector('[data-testid="stApp"]')
                ?.getAttribute('data-test-script-state') === 'notRunning'
            && document.querySelector('[data-testid="stMainBlockContainer"]')
                ?.innerText.includes(finished)""",
        arg=FINISHED,
        timeout=900_000,
    )
    wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 3),
        "server_cpu_s": round(meter.seconds() - cpu0, 3),
        "clicked_ms": clicked_ms,
    }


def watch_report(teacher, viewers: list, clicked_ms: int, wait_s: float) -> dict:
    """What the viewers saw of one dream: who showed its last frame (all within ``wait_s`` of the
    teacher's end), each one's first and last frame after the click, and per-frame latency: when
    a viewer first showed a frame minus when the teacher's tab first showed it or a newer one."""
    shown_by_teacher = [
        (ms, _step(text)) for ms, text in teacher.evaluate("() => window.__progress") if ms
    ]
    shown_by_teacher = [(ms, k) for ms, k in shown_by_teacher if k is not None]
    completed, errors, first_s, finish_s, lat = 0, [], [], [], []
    deadline = time.monotonic() + wait_s  # one deadline for all: a lost viewer costs it once
    for i, tab in enumerate(viewers):
        try:
            left_ms = max(deadline - time.monotonic(), 0.001) * 1000
            tab.wait_for_function(
                "(p) => window.__progress.some((e) => e[0] > 0 && new RegExp(p).test(e[1]))",
                arg=LAST_FRAME,
                timeout=left_ms,
            )
            completed += 1
        except Exception as exc:  # recorded, never fatal: the report says how many saw the end
            shown = [text for _, text in tab.evaluate("() => window.__progress")[-2:]]
            errors.append(f"viewer {i}: {type(exc).__name__}; last shown: {shown}")
        log = [e for e in tab.evaluate("() => window.__progress") if e[0]]  # (0, before)
        if log:
            first_s.append((log[0][0] - clicked_ms) / 1000)
        ends = [ms for ms, text in log if re.search(LAST_FRAME, text)]
        if ends:
            finish_s.append((ends[0] - clicked_ms) / 1000)
        for ms, text in log:  # when the teacher's tab first had this frame or a newer one
            k = _step(text)
            since = [t for t, j in shown_by_teacher if k is not None and j >= k]
            if since:
                lat.append((ms - min(since)) / 1000)
    return {
        "viewers": len(viewers),
        "completed": completed,
        "errors": errors,
        "first_frame_s": first_s,
        "finish_s": finish_s,
        "latency_s": lat,
    }


def _step(text: str) -> int | None:
    """The frame's place in the dream from its progress text ("octave 2/4, step 3/10" -> 13)."""
    found = re.search(r"octave (\d+)/\d+, step (\d+)/(\d+)", text)
    if found is None:
        return None
    octave, step, steps = map(int, found.groups())
    return (octave - 1) * steps + step


def _chromium_pids() -> set[int]:
    """The Chromium processes running now."""
    return {p.pid for p in psutil.process_iter(["name"]) if "chrom" in (p.info["name"] or "")}


def _yield_to_others(pids: set[int]) -> None:
    """Lowest CPU priority for these processes and their scheduling group (Linux autogroup), so
    the viewers' browser never starves the teacher's: on a real class each has its own machine."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, 19)  # renderers forked later inherit it
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text("19")


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def open_viewers(browser, url: str, code: str, n: int, own: bool = False) -> list:
    """``n`` tabs (each its own Streamlit session) watching ``?class=CODE``; ``own``: each in a
    context of its own (a person on another machine), else all in one."""
    viewers, shared = [], None
    for i in range(n):
        _log(f"opening viewer {i + 1}/{n}")
        if own or shared is None:
            shared = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = shared.new_page()
        tab.set_default_timeout(300_000)
        tab.add_init_script(RECORDER)
        tab.goto(f"{url}/deepdream?class={code}")
        tab.get_by_text(WATCHING, exact=False).wait_for()
        viewers.append(tab)
    return viewers


def run(args: argparse.Namespace) -> dict:
    """Start the server, dream alone, with ``args.viewers`` watching and alone again; the result."""
    from playwright.sync_api import sync_playwright

    server_cpus, client_cpus = split_cpus(not args.no_pin)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_streamlit(port, cpus=server_cpus)
    meter = CpuMeter(server.pid)
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "viewers": args.viewers,
        "reps": args.reps,
        "max_side": 128 if args.side_key == "Home" else None if args.side_key else 512,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_before": loadavg(),
        "neighbour": args.neighbour,
        "server_cpus": sorted(server_cpus) if server_cpus else "all",
        "client_cpus": sorted(client_cpus) if client_cpus else "all",
    }
    try:
        with neighbour(server_cpus, args.neighbour), pinned(client_cpus), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            before = _chromium_pids()  # then the crowd's browser, started at the lowest priority
            crowd = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            _yield_to_others(_chromium_pids() - before)
            teacher, code = open_teacher(context, url, args)
            dream_once(teacher, meter)  # warm-up: the model loads, caches fill
            _log("dreaming alone")
            result["alone"] = [dream_once(teacher, meter) for _ in range(args.reps)]
            probing = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            probes = open_viewers(probing, url, code, min(args.probes, args.viewers), own=True)
            others = open_viewers(crowd, url, code, args.viewers - len(probes))
            rss = RssSampler(server.pid)
            rss.start()
            cpu0 = meter.seconds()
            time.sleep(IDLE_S)  # the class waits for the teacher's next dream
            result["idle_server_cpu_per_s"] = round((meter.seconds() - cpu0) / IDLE_S, 4)
            watched, seen = [], []
            for _ in range(args.reps):
                for tab in probes + others:
                    tab.evaluate(RESET)
                _log("dreaming watched")
                watched.append(dream_once(teacher, meter))
                _log(f"dreamt in {watched[-1]['wall_s']} s; waiting for the viewers")
                clicked = watched[-1]["clicked_ms"]
                seen.append(
                    {
                        "probes": watch_report(teacher, probes, clicked, 60),
                        "crowd": watch_report(teacher, others, clicked, 60),
                    }
                )
            result["server_rss_peak_mb"] = round(rss.stop() / 2**20)
            result["watched"], result["seen"] = watched, seen
            for tab in probes + others:
                tab.close()
            _log("dreaming alone again")
            result["alone_after"] = [dream_once(teacher, meter) for _ in range(args.reps)]
            for each in (crowd, probing, browser):
                each.close()
    finally:
        stop_tree(server)
    result["load_average_after"] = loadavg()
    result["summary"] = summary(result)
    return result


def summary(result: dict) -> dict:
    """Teacher's ratio (median watched / median alone); the viewers' numbers over all reps: the
    probes' (normal priority, as on a student's own machine) and the crowd's (one low-priority
    browser on one core, so its delays are mostly that browser's own)."""
    alone = [r["wall_s"] for r in result["alone"] + result["alone_after"]]
    with_viewers = [r["wall_s"] for r in result["watched"]]
    out = {
        "alone_median_s": round(statistics.median(alone), 3),
        "watched_median_s": round(statistics.median(with_viewers), 3),
        "ratio": round(statistics.median(with_viewers) / statistics.median(alone), 3),
        "server_cpu_alone_s": [r["server_cpu_s"] for r in result["alone"]],
        "server_cpu_watched_s": [r["server_cpu_s"] for r in result["watched"]],
        "server_rss_peak_mb": result.get("server_rss_peak_mb"),
        "idle_server_cpu_per_s": result.get("idle_server_cpu_per_s"),
    }
    for group in ("probes", "crowd"):
        seen = [s[group] for s in result["seen"]]
        pooled = {k: [v for s in seen for v in s[k]] for k in ("first_frame_s", "finish_s")}
        lat = [v for s in seen for v in s["latency_s"]]
        out[group] = {
            "viewers": seen[0]["viewers"] if seen else 0,
            "completed": [s["completed"] for s in seen],
            "errors": sum(len(s["errors"]) for s in seen),
            "first_frame_p50_p95_s": [pct(pooled["first_frame_s"], q) for q in (0.5, 0.95)],
            "finish_p50_p95_s": [pct(pooled["finish_s"], q) for q in (0.5, 0.95)],
            "latency_samples": len(lat),
            "latency_p50_p95_max_s": [pct(lat, q) for q in (0.5, 0.95, 1.0)],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--viewers", type=int, default=30)
    ap.add_argument("--reps", type=int, default=2, help="dreams per condition")
    ap.add_argument(
        "--probes",
        type=int,
        default=3,
        help="viewers at normal priority, each in its own context (latency as on their own machine)",
    )
    ap.add_argument(
        "--side-key",
        default=None,
        help="key pressed on the Max side slider first (Home: 128 px); default 512",
    )
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and browsers apart")
    ap.add_argument(
        "--neighbour",
        action="store_true",
        help="a one-core busy process on the server's first core for the whole run (a shared machine)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the result here")
    args = ap.parse_args()
    if args.viewers < 1 or args.reps < 1:
        sys.exit("error: --viewers and --reps must be at least 1")
    if args.probes < 0:
        sys.exit("error: --probes must be 0 or more")
    if not Path(CHROMIUM).exists():
        sys.exit(f"error: Chromium not found at {CHROMIUM}")
    result = run(args)
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
