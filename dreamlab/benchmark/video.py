"""``dreamlab benchmark --only video``: how fast a clip dreams, and how much it flickers.

The clip is the built-in kind (``pan_zoom_clip``: a slow pan and zoom over a sample photo), made
on the spot at 12 frames per second. Measured, with the video defaults (``VideoConfig()`` and
``DreamConfig()``):

- frames per second of the whole video dream (decode, flow, dream, everything but the encoder) at
  256 and 512 px max side;
- flicker (:func:`dreamlab.dream.video.flicker`: the mean change between consecutive output frames
  once aligned with the input's motion) with flow coherence, with blending and with independent
  frames, on the same clip and settings; the raw clip's own value is the floor.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dreamlab.dream.config import DreamConfig
from dreamlab.dream.video import FlickerMeter, VideoConfig, dream_video, pan_zoom_clip
from dreamlab.images import load_sample
from dreamlab.models import load_model
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.runtime.device import resolve_device

__all__ = ["VIDEO_TARGET_FPS", "VIDEO_TARGET_FLICKER_RATIO", "run_video_benchmark", "video_lines"]

VIDEO_TARGET_FPS = 4.0  # the target: at 256 px with the video defaults, on 2 CPU cores
VIDEO_TARGET_FLICKER_RATIO = 0.5  # flicker with flow at most half of independent frames'
_CLIP_FPS = 12.0
_PHOTO = "coffee"  # 600 x 400: the clip is 512 x 340, so the 512 px run is really 512 px


def _dream_clip(model: Any, clip: Path, video: VideoConfig) -> dict[str, Any]:
    """One video dream: its speed, and its flicker measured on the frames it made."""
    frames, size = 0, None
    meter, floor = FlickerMeter(), FlickerMeter()  # the dream's, and the raw clip's own
    seconds = cpu = 0.0  # the video dream's own time: the flicker measure is left out
    steps = dream_video(clip, model, DreamConfig(), video)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        step = next(steps, None)
        seconds, cpu = seconds + time.perf_counter() - t0, cpu + time.process_time() - c0
        if step is None:
            break
        if step.final:
            frames, size = frames + 1, step.image.shape[:2]
            meter.add(step.raw, step.image)
            floor.add(step.raw, step.raw)
    return {
        "coherence": video.coherence,
        "max_side": video.max_side,
        "frames": frames,
        "size": list(size or (0, 0)),
        "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 3),
        # the process's CPU time (every thread): less sensitive to other processes than the wall
        # clock on a shared machine; frames per CPU-second x usable cores bounds a quiet run's fps
        "cpu_seconds": round(cpu, 3),
        "frames_per_cpu_s": round(frames / cpu, 3) if cpu > 0 else None,
        "flicker": round(meter.value or 0.0, 3),
        "raw_flicker": round(floor.value or 0.0, 3),
    }


def run_video_benchmark(
    device: str | torch.device = "auto",
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Speed at 256 and 512 px, flicker flow vs blend vs independent frames (see the module).

    ``seconds`` is the clip's length (10 by default, 2 with ``quick``).
    """
    say = progress or (lambda _msg: None)
    dev = resolve_device(device)
    model = load_model(DEFAULT_MODEL, device=dev)
    length = seconds or (2.0 if quick else 10.0)
    load_before = list(os.getloadavg())
    runs = []
    with tempfile.TemporaryDirectory(prefix="dreamlab-videobench-") as folder:
        clip = pan_zoom_clip(
            load_sample(_PHOTO), Path(folder) / "clip.mp4", seconds=length, fps=_CLIP_FPS,
            side=512,
        )  # fmt: skip
        for side, coherence in [(256, "flow"), (512, "flow"), (256, "blend"), (256, "none")]:
            say(f"video: {length:g} s clip at {side} px, coherence {coherence}")
            runs.append(_dream_clip(model, clip, VideoConfig(coherence=coherence, max_side=side)))
    return {
        "device": str(dev),
        "torch_threads": torch.get_num_threads(),
        "clip": {"seconds": length, "fps": _CLIP_FPS, "kind": f"pan and zoom over {_PHOTO}"},
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        "runs": runs,
        "targets": _targets(runs),
    }


def _targets(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["max_side"], r["coherence"]): r for r in runs}
    flow, none = by[(256, "flow")], by[(256, "none")]
    ratio = flow["flicker"] / none["flicker"] if none["flicker"] else None
    return {
        "fps_256": flow["fps"],
        "fps_256_met": flow["fps"] >= VIDEO_TARGET_FPS,
        "flicker_flow_over_none": round(ratio, 3) if ratio is not None else None,
        "flicker_met": ratio is not None and ratio <= VIDEO_TARGET_FLICKER_RATIO,
    }


def video_lines(result: dict[str, Any]) -> list[str]:
    """A short human-readable table of :func:`run_video_benchmark`'s result."""
    lines = [
        f"video ({result['device']}, {result['torch_threads']} threads, clip "
        f"{result['clip']['seconds']:g} s at {result['clip']['fps']:g} fps; load "
        f"{result['load_average_before']} -> {result['load_average_after']}):"
    ]
    for r in result["runs"]:
        lines.append(
            f"  {r['max_side']} px {r['coherence']:<5} {r['frames']} frames "
            f"{r['size'][1]}x{r['size'][0]}: {r['fps']:.2f} fps ({r['seconds']:.1f} s, "
            f"{r['frames_per_cpu_s']:.2f} frames per CPU-second), "
            f"flicker {r['flicker']:.2f} (raw clip {r['raw_flicker']:.2f})"
        )
    lines.append(f"  targets: {result['targets']}")
    return lines
