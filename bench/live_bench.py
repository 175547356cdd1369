"""Live camera benchmark: frames per second and latency of each mode, with Chromium's fake camera.

    python bench/live_bench.py --seconds 20 --json bench/results/live_cpu_2cores.json

It starts ``streamlit run`` on a free localhost port and a headless Chromium whose camera is
Chromium's fake one (``--use-fake-device-for-media-stream``, 640 x 480 at 30 fps asked), opens the
Live camera page, and for each mode (an identity kernel first: the reference, the whole WebRTC
path with nothing computed; then Convolution with the seed's horizontal-edge kernel, Feature maps,
Dream) presses Start, lets ``--warmup`` frames pass, then reads for ``--seconds`` seconds:

- **fps**: frames processed at the server per second (the page's "N frames processed" count,
  first and last reading), and the frames the page's ``<video>`` decoded per second (the output
  track repeats the last processed frame while the next is computed, so this is at most the
  camera's rate and says little about the processing);
- **latency**: the page's own latency (median over its last 3 s, read once a second; the median
  of those readings): from a frame's arrival at the server to its processed picture, queueing
  included (see ``dreamlab.live.ArrivalClock``).

``--direct`` also times each mode's processing alone, in this process, on the sample photo at
320 px (no WebRTC, no browser). Each figure is also given as a ratio to the reference measured in
the same run. ``/proc/loadavg`` is recorded before and after: a shared machine is slow, say so.
Frames are processed at 320 px (the page's size). Only localhost is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

from chromium import CHROMIUM, CHROMIUM_ARGS
from harness import free_port, loadavg, start_streamlit, stop_tree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAKE_CAMERA = ["--use-fake-device-for-media-stream=fps=30", "--use-fake-ui-for-media-stream"]
MODES = [  # (name in the results, mode radio label, kernel preset or None)
    ("reference_identity", "Convolution", "Identity"),
    ("convolution", "Convolution", None),
    ("feature_maps", "Feature maps", None),
    ("dream", "Dream", None),
]
TARGETS = {"convolution": 20.0, "feature_maps": 8.0, "dream": 3.0}  # fps targets on 2 CPU cores
LATENCY_TARGET_MS = {"convolution": 200.0}
_STREAMER = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'
_MEASURES = re.compile(r"([\d.]+) frames per second · latency (\S+) ms · (\d+) frames processed")


def _idle(page, timeout_s: float = 240) -> None:
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                   return a && a.getAttribute('data-test-script-state') === 'notRunning'; }""",
        timeout=timeout_s * 1000,
    )


def _measures(page) -> tuple[float, float | None, int] | None:
    box = page.locator('[data-testid="stMarkdownContainer"]', has_text="frames processed")
    if not box.count():
        return None
    found = _MEASURES.search(box.first.inner_text())
    if not found:
        return None
    ms = found.group(2)
    return float(found.group(1)), (float(ms) if ms[0].isdigit() else None), int(found.group(3))


def _video_frames(page) -> int:
    return (
        page.frame_locator(_STREAMER)
        .locator("video")
        .evaluate("v => v.getVideoPlaybackQuality().totalVideoFrames")
    )


def _open(browser, url: str, mode: str, preset: str | None):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(240_000)
    page.goto(f"{url}/live-camera")
    _idle(page)
    if mode != "Convolution":
        page.locator(".st-key-live_mode").get_by_text(mode, exact=True).click()
        page.locator(  # the mode's own layer slider: the rerun for the mode has drawn
            ".st-key-live_fm_layer_efficientnet_lite0, .st-key-live_dream_layer_efficientnet_lite0"
        ).first.wait_for()
        _idle(page)
    if preset:
        page.locator(".st-key-live_preset").click()
        page.get_by_role("option", name=preset, exact=True).click()
        _idle(page)
    return context, page


def measure_mode(browser, url: str, mode: str, preset: str | None, args) -> dict:
    """Start a stream in ``mode``; after the warm-up, read its measures for ``args.seconds``."""
    context, page = _open(browser, url, mode, preset)
    try:
        page.frame_locator(_STREAMER).get_by_role(
            "button", name=re.compile("^start$", re.I)
        ).click()
        deadline = time.monotonic() + args.start_timeout
        while time.monotonic() < deadline:
            m = _measures(page)
            if m and m[2] >= args.warmup:
                break
            time.sleep(0.5)
        else:
            return {"error": f"fewer than {args.warmup} frames in {args.start_timeout} s"}
        first, v0, t0 = _measures(page), _video_frames(page), time.monotonic()
        latencies = []
        while time.monotonic() - t0 < args.seconds:
            time.sleep(1.0)
            m = _measures(page)
            if m and m[1] is not None:
                latencies.append(m[1])
        last, v1, t1 = _measures(page), _video_frames(page), time.monotonic()
        assert first and last
        return {
            "fps": round((last[2] - first[2]) / (t1 - t0), 2),
            "video_fps": round((v1 - v0) / (t1 - t0), 2),
            "latency_ms_median": round(statistics.median(latencies), 1) if latencies else None,
            "latency_ms_max": max(latencies) if latencies else None,
            "frames": last[2] - first[2],
            "seconds": round(t1 - t0, 1),
        }
    finally:
        context.close()


def direct(repeats: int) -> dict:
    """Each mode's processing alone (median seconds per frame) on the sample photo at 320 px."""
    from dreamlab.convolution import preset_kernel
    from dreamlab.images import load_sample
    from dreamlab.live import (
        ConvolutionSettings,
        DreamSettings,
        MapsSettings,
        fit_side,
        make_processor,
    )
    from dreamlab.models import load_model

    frame = fit_side(load_sample("chelsea"))
    model = load_model("efficientnet_lite0", device="cpu")
    procs = {
        "reference_identity": make_processor(ConvolutionSettings.of(preset_kernel("identity"))),
        "convolution": make_processor(ConvolutionSettings.of(preset_kernel("horizontal_edge"))),
        "feature_maps": make_processor(MapsSettings(layer="_blocks.3"), model),
        "dream": make_processor(DreamSettings(), model),
    }
    out = {}
    for name, proc in procs.items():
        proc(frame)  # warm-up (the fast copy is built once)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            proc(frame)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        out[name] = {"ms_per_frame": round(1000 * med, 2), "fps_alone": round(1 / med, 1)}
    ref = out["reference_identity"]["ms_per_frame"]
    for row in out.values():
        row["ratio_to_reference"] = round(row["ms_per_frame"] / ref, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per mode")
    parser.add_argument("--warmup", type=int, default=10, help="frames before measuring")
    parser.add_argument("--start-timeout", type=float, default=240.0)
    parser.add_argument("--direct", action="store_true", help="also time the processing alone")
    parser.add_argument("--repeats", type=int, default=20, help="frames per mode with --direct")
    parser.add_argument("--modes", default=",".join(m[0] for m in MODES))
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.seconds <= 0 or args.warmup < 1 or args.repeats < 1:
        parser.exit(2, "error: --seconds must be positive, --warmup and --repeats at least 1\n")
    wanted = args.modes.split(",")
    from playwright.sync_api import sync_playwright

    result: dict = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable)",
        "loadavg_before": loadavg(),
        "side": 320,
        "camera": "Chromium fake device, 640x480 at 30 fps asked",
        "modes": {},
    }
    port = free_port()
    server = start_streamlit(
        port,
        {
            "DREAMLAB_LIVE_STREAMS": "4",
            "HF_HUB_OFFLINE": "1",
            "DREAMLAB_LIVE_CONNECT_TIMEOUT": "600",
        },
    )
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *FAKE_CAMERA]
            )
            for name, mode, preset in MODES:
                if name in wanted:
                    row = measure_mode(browser, f"http://127.0.0.1:{port}", mode, preset, args)
                    result["modes"][name] = row
                    print(name, row, flush=True)
            browser.close()
    finally:
        stop_tree(server)
    ref = result["modes"].get("reference_identity", {}).get("fps")
    for name, row in result["modes"].items():
        if ref and row.get("fps") is not None:
            row["ratio_to_reference"] = round(row["fps"] / ref, 2)
        if name in TARGETS and "fps" in row:
            row["target_fps"] = TARGETS[name]
            row["meets_fps"] = row["fps"] >= TARGETS[name]
        if name in LATENCY_TARGET_MS and row.get("latency_ms_median") is not None:
            row["target_latency_ms"] = LATENCY_TARGET_MS[name]
            row["meets_latency"] = row["latency_ms_median"] < LATENCY_TARGET_MS[name]
    if args.direct:
        result["direct"] = direct(args.repeats)
    result["loadavg_after"] = loadavg()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
