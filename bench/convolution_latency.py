"""Convolution page latency: from a kernel or stride change to the new output drawn, in Chromium.

    python bench/convolution_latency.py --changes 20 --json bench/results/convolution_latency.json

It starts ``streamlit run`` on a free localhost port (or uses ``--url``), opens the Convolution
page at 1400 x 1000 in headless Chromium and makes ``--changes`` changes, alternating a stride
change (a key press on the **Stride** slider: 1 -> 2 -> 3 -> 2 -> 1 ...) and a kernel change (a
click on another preset in the **Kernel** list: ten in turn), so that no change finds its result
already computed. Every timestamp is taken
by the page itself (``performance.now()``): the start in a capturing ``keydown`` / ``click``
listener, the end on the first animation frame at which the output picture (an ``<img>`` inside
the clickable component's iframe) has a new ``src`` and has finished loading. Between two changes
it waits for the app to be idle. It reports each latency, the median, p90 and max, and the
machine's load average before and after (``/proc/loadavg``): a shared machine is slower.

With the server started here, each change also records the server's CPU milliseconds from just
before it to the end of its rerun (what the change costs, less sensitive to a shared machine's
load than the wall time). Target: median under 150 ms. Only localhost is contacted; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import psutil
from chromium import CHROMIUM, CHROMIUM_ARGS
from harness import free_port, loadavg, start_streamlit, stop_tree

TARGET_MS = 150.0
# Each change makes a (stride, kernel) pair the page has not shown before, so no cached result
# serves it: the stride goes 1 2 3 2 1 2 3 ..., the kernel through ten presets in turn.
KERNELS = (
    "Vertical edge",
    "Sobel x",
    "Sobel y",
    "Prewitt x",
    "Prewitt y",
    "Laplacian",
    "Sharpen",
    "Identity",
    "Box blur",
    "Horizontal edge (classic)",
)
STRIDE_KEYS = ("ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft")
IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stStatusWidget"]');
}"""
# The output picture: the <img> in the clickable component's iframe (same origin).
OUTPUT_IMG = """() => {
  const f = document.querySelector('.st-key-conv_output iframe');
  const d = f && f.contentDocument;
  return d ? d.querySelector('img') : null;
}"""
# Arms the page: the next keydown or click (capturing) is t0; then, on each animation frame, the
# first frame at which the output <img> has another src and is loaded is t1.
ARM = (
    """() => {
  const outputImg = """
    + OUTPUT_IMG
    + """;
  const img0 = outputImg();
  const old = img0 ? img0.src : null;
  window.__lat = {t0: null, t1: null, before: old ? old.length : 0, after: 0, width: 0};
  const lat = window.__lat;
  const start = () => {
    document.removeEventListener('keydown', start, {capture: true});
    document.removeEventListener('click', start, {capture: true});
    if (lat.t0 !== null || window.__lat !== lat) return;  // only this arming's first event
    lat.t0 = performance.now();
    const poll = () => {
      const img = outputImg();
      if (img && img.src && img.src !== old && img.complete && img.naturalWidth > 0) {
        lat.t1 = performance.now();
        Object.assign(lat, {after: img.src.length, width: img.naturalWidth});
      } else {
        requestAnimationFrame(poll);
      }
    };
    requestAnimationFrame(poll);
  };
  document.addEventListener('keydown', start, {capture: true});
  document.addEventListener('click', start, {capture: true});
}"""
)


def _wait_idle(page, timeout_s: float = 120) -> None:
    page.wait_for_function(IDLE, timeout=timeout_s * 1000)


def _wait_output(page, timeout_s: float = 60) -> dict:
    """The latency (ms) of the armed change, once the page has recorded its end."""
    done = "() => window.__lat && window.__lat.t1 !== null"
    page.wait_for_function(done, timeout=timeout_s * 1000)
    lat = page.evaluate("() => window.__lat")
    return {"ms": round(float(lat["t1"] - lat["t0"]), 1), "output_width": lat["width"]}


def _stride_change(page, step: int) -> dict:
    thumb = page.locator(".st-key-conv_stride input[type='range']")
    thumb.focus()
    page.evaluate(ARM)
    page.keyboard.press(STRIDE_KEYS[step % len(STRIDE_KEYS)])
    return _wait_output(page)


def _kernel_change(page, step: int) -> dict:
    option = page.get_by_role("option", name=KERNELS[step % len(KERNELS)], exact=True)
    for _ in range(5):  # a rerun finishing as the list opens can close it again: open it anew
        page.locator(".st-key-conv_preset [role='combobox']").click()
        try:
            option.wait_for(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError; try again
            page.keyboard.press("Escape")
    else:
        raise RuntimeError("the Kernel list did not open")
    page.evaluate(ARM)
    option.click()
    return _wait_output(page)


def _cpu_seconds(proc: psutil.Process | None) -> float | None:
    """The server's CPU time so far (user + system, its children included), or None."""
    if proc is None:
        return None
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def measure(
    url: str, changes: int, path: str = "convolution", server: psutil.Process | None = None
) -> dict:
    """Open the page and time ``changes`` alternating stride and kernel changes.

    With the ``server`` process known, each change also gets the server's CPU milliseconds from
    just before it to the end of its rerun: the work a change costs, which a loaded machine
    slows down but does not grow.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/{path}")
            _wait_idle(page)
            page.wait_for_function(
                f"() => {{ const i = ({OUTPUT_IMG})(); return i && i.complete && i.naturalWidth; }}"
            )
            rows = []
            for k in range(changes):
                kind = "stride" if k % 2 == 0 else "kernel"
                cpu0 = _cpu_seconds(server)
                row = (_stride_change if kind == "stride" else _kernel_change)(page, k // 2)
                _wait_idle(page)
                cpu1 = _cpu_seconds(server)
                if cpu0 is not None and cpu1 is not None:
                    row["server_cpu_ms"] = round(1000 * (cpu1 - cpu0), 1)
                rows.append({"change": kind, **row})
                page.wait_for_timeout(200)  # let the last deltas settle before the next change
        finally:
            browser.close()
    return {"changes": rows}


def summary(rows: list[dict]) -> dict:
    values = sorted(r["ms"] for r in rows)
    by_kind = {
        kind: round(statistics.median([r["ms"] for r in rows if r["change"] == kind]), 1)
        for kind in ("stride", "kernel")
    }
    cpu = [r["server_cpu_ms"] for r in rows if "server_cpu_ms" in r]
    return {
        "median_ms": round(statistics.median(values), 1),
        "median_server_cpu_ms": round(statistics.median(cpu), 1) if cpu else None,
        "p90_ms": values[min(len(values) - 1, int(0.9 * len(values)))],
        "max_ms": values[-1],
        "median_by_change_ms": by_kind,
        "target_ms": TARGET_MS,
        "under_target": statistics.median(values) < TARGET_MS,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=20, help="changes to time (alternating)")
    ap.add_argument("--url", default=None, help="a running app instead of starting one")
    ap.add_argument(
        "--path", default="convolution", help="the page's address (in older versions: the root, '')"
    )
    ap.add_argument("--json", type=Path, default=None, help="write the result here")
    args = ap.parse_args()
    if args.changes < 2:
        sys.exit("error: --changes must be at least 2")
    if not Path(CHROMIUM).exists():
        sys.exit(f"error: Chromium not found at {CHROMIUM}")
    load_before = loadavg()
    server = None
    url = args.url
    if url is None:
        port = free_port()
        server = start_streamlit(port)
        url = f"http://127.0.0.1:{port}"
    try:
        proc = psutil.Process(server.pid) if server is not None else None
        result = measure(url, args.changes, args.path, proc)
    finally:
        if server is not None:
            stop_tree(server)
    result.update(
        summary=summary(result["changes"]),
        loadavg_before=load_before,
        loadavg_after=loadavg(),
        cpus=os.cpu_count(),
        machine=platform.machine(),
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
