"""Dream a video, frame by frame, each frame tied to the last by optical flow (no flicker).

``dream_video(path, model, config, video)`` decodes the clip as a stream (``media.read_frames``:
never the whole clip in memory) and dreams each frame with the ordinary :func:`dream` and every
DeepDream setting of ``config``. With ``coherence="flow"`` (the default) each frame starts from its
raw pixels plus the previous frame's dream detail carried along the optical flow, masked where the
flow is not trusted (:mod:`dreamlab.dream.coherence`); ``"blend"`` mixes in the previous dreamed
frame; ``"none"`` dreams every frame alone (it flickers: the lesson's counter-example). Frames that
start from a dream take fewer steps (``VideoConfig.later_iterations``).

The run yields one :class:`VideoStep` per gradient step (a job gate can take turns per step and a
page can draw the dream growing); ``step.final`` marks a finished frame, whose ``image`` goes into
the output. :func:`dream_video_to_file` writes MP4 (audio kept) or GIF, and keeps what is done when
stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dreamlab.dream.coherence import (
    DEFAULT_BLEND,
    METHODS,
    Coherence,
    estimate_flow,
    occlusion_mask,
    warp,
)
from dreamlab.dream.config import DreamConfig, make_config
from dreamlab.dream.engine import dream
from dreamlab.dream.frames import DreamFrame
from dreamlab.media import (
    VideoCaps,
    VideoError,
    VideoInfo,
    VideoWriter,
    check_video,
    fit_side,
    probe_video,
    read_frames,
)
from dreamlab.models.registry import LoadedModel
from dreamlab.validate import check_choice, check_float, check_int

__all__ = [
    "UI_CAPS",
    "VideoConfig",
    "VideoRun",
    "VideoStep",
    "dream_video",
    "dream_video_to_file",
    "FlickerMeter",
    "flicker",
    "pan_zoom_clip",
]

# What one web-page job may cost (the CLI uses media.VideoCaps()'s larger defaults).
UI_CAPS = VideoCaps(seconds=20.0, frames=240, side=512)


@dataclass(frozen=True)
class VideoConfig:
    """How a clip is dreamed, beyond the DeepDream settings (every default in one place)."""

    coherence: str = "flow"  # one of coherence.METHODS
    blend: float = DEFAULT_BLEND  # the share of the previous frame's dream carried over
    start: float = 0.0  # seconds into the clip
    end: float | None = None  # seconds; None: the clip's end
    fps: float | None = None  # output frames per second (at most the clip's); None: the clip's
    max_side: int = 256  # each frame's longer side, in pixels (even sides, for H.264)
    # a frame that starts from a dream needs less: its steps per octave (None: a quarter of the
    # first frame's) and its octaves (None: the two largest; the carried dream holds the rest)
    later_iterations: int | None = None
    later_octaves: int | None = None

    def __post_init__(self) -> None:
        check_choice("coherence", self.coherence, METHODS)
        check_float("blend", self.blend, 0.0, 1.0)
        check_float("start", self.start, 0.0, 1e7)
        if self.end is not None and check_float("end", self.end, 0.0, 1e7) <= self.start:
            raise ValueError(f"end ({self.end:g} s) must come after start ({self.start:g} s)")
        if self.fps is not None:
            check_float("fps", self.fps, 0.0, 60.0, open_lo=True)
        check_int("max_side", self.max_side, 16, 4096)
        if self.later_iterations is not None:
            check_int("later_iterations", self.later_iterations, 1, 1000)
        if self.later_octaves is not None:
            check_int("later_octaves", self.later_octaves, 1, 20)

    def later_config(self, first: DreamConfig) -> DreamConfig:
        """The settings of a frame that starts from a dream, from the first frame's."""
        iterations = self.later_iterations or max(1, math.ceil(first.iterations / 4))
        octaves = min(self.later_octaves or 2, first.num_octaves)
        return first.with_overrides(iterations=iterations, num_octaves=octaves)


@dataclass(frozen=True, eq=False)
class VideoStep:
    """One gradient step of one frame of the video dream.

    ``dream`` is the engine's frame (its ``image`` and ``activations`` convert when looked at).
    ``final`` marks a frame's last step: ``image`` is then the dreamed frame for the output.
    """

    index: int  # frame, from 0
    total: int  # frames planned (from the clip's header: an estimate)
    time: float  # seconds from the span's start
    raw: np.ndarray = field(repr=False)  # (H, W, 3) uint8: the clip's frame
    dream: DreamFrame = field(repr=False)
    final: bool
    elapsed: float  # seconds since the run started
    frames_done: int  # frames finished, this one included when final

    @property
    def image(self) -> np.ndarray:
        """The dream so far (H x W x 3 uint8)."""
        return self.dream.image

    @property
    def fps(self) -> float:
        """Frames dreamed per second so far."""
        return self.frames_done / self.elapsed if self.elapsed > 0 and self.frames_done else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the speed so far (None before the first frame is done)."""
        if not self.frames_done:
            return None
        return max(0, self.total - self.frames_done) / max(self.fps, 1e-9)


class VideoRun(Iterator[VideoStep]):
    """The steps of a video dream (an iterator), with the clip's ``info``, output ``fps`` and
    ``total`` frames planned. Stop by no longer pulling (or :meth:`close`)."""

    def __init__(self, steps: Iterator[VideoStep], info: VideoInfo, fps: float, total: int):
        self._steps, self.info, self.fps, self.total = steps, info, fps, total

    def __iter__(self) -> VideoRun:
        return self

    def __next__(self) -> VideoStep:
        return next(self._steps)

    def close(self) -> None:
        """Stop now: the decoder and the dream are closed."""
        self._steps.close()  # type: ignore[attr-defined]


Dreamer = Callable[..., Iterator[DreamFrame]]


def dream_video(
    path: str | Path,
    model: LoadedModel,
    config: DreamConfig | None = None,
    video: VideoConfig | None = None,
    *,
    caps: VideoCaps | None = None,
    dreamer: Dreamer | None = None,
) -> VideoRun:
    """Dream the clip at ``path`` (see the module's docstring); everything is checked first.

    A clip that cannot be read, too small, or over ``caps`` (span, frames, side) is a one-line
    ``VideoError``; bad settings a one-line ``ValueError``. ``dreamer`` replaces :func:`dream`
    (the CLI's ``--backend``).
    """
    video = video or VideoConfig()
    caps = caps or VideoCaps()
    cfg = make_config(config)
    if cfg.zoom_frames:
        cfg = cfg.with_overrides(zoom_frames=0)  # a zoom loop is a different thing from a clip
    info = probe_video(path)
    stop = check_video(info, video.start, video.end, caps)
    fps = min(video.fps or info.fps, info.fps)
    total = max(1, math.ceil((stop - video.start) * fps - 1e-6))
    _check_caps(info, video, caps, total)
    side = min(video.max_side, caps.side)
    first = cfg.with_overrides(max_side=side)
    later = video.later_config(first)
    frames = read_frames(path, start=video.start, end=stop, fps=fps, max_side=side)
    steps = _steps(frames, info, model, (first, later), video, total, dreamer or dream)
    return VideoRun(steps, info, fps, total)


def _check_caps(info: VideoInfo, video: VideoConfig, caps: VideoCaps, total: int) -> None:
    if total > caps.frames:
        raise VideoError(
            f"{info.name}: {total} frames to dream is over the {caps.frames} frames a video dream "
            "may have here: pick a shorter part or fewer frames per second",
            "video_too_many_frames",
            name=info.name,
            frames=total,
            limit=caps.frames,
        )
    if video.max_side > caps.side:
        raise VideoError(
            f"a video frame's side of {video.max_side} px is over the {caps.side} px allowed here",
            "video_side_over_cap",
            side=video.max_side,
            limit=caps.side,
        )


def _steps(
    frames: Iterator[tuple[float, np.ndarray]],
    info: VideoInfo,
    model: LoadedModel,
    configs: tuple[DreamConfig, DreamConfig],
    video: VideoConfig,
    total: int,
    dreamer: Dreamer,
) -> Iterator[VideoStep]:
    """Each frame's dream steps, the frame started from the carried dream."""
    t0 = time.perf_counter()
    coh = Coherence()
    done, index = 0, -1
    try:
        for index, (ts, raw) in enumerate(frames):
            if index == 0:
                coh.start(raw, video.coherence, video.blend)
            begin = coh.init_for(raw)  # (H, W, 3) uint8: raw plus the carried dream
            cfg = configs[1] if coh.carrying else configs[0]
            last = None
            for last in dreamer(begin, model, cfg):
                if last.done:
                    coh.update(raw, last.image)
                    done += 1
                elapsed = time.perf_counter() - t0
                yield VideoStep(index, max(total, done), ts, raw, last, last.done, elapsed, done)
        if index < 0:
            raise VideoError(f"{info.name}: no frame to dream there", "no_frames", name=info.name)
    finally:
        frames.close()  # type: ignore[attr-defined]


def dream_video_to_file(
    run: VideoRun,
    output: str | Path,
    *,
    audio_from: str | Path | None = None,
    audio_start: float = 0.0,
    on_frame: Callable[[VideoStep], None] | None = None,
) -> tuple[Path | None, int]:
    """Write each finished frame of ``run`` to ``output`` (.mp4 with the source's audio, or .gif).

    Stopped early (Ctrl-C, an exception, a closed generator), the frames made so far are still a
    valid video, and the interruption goes on up. Returns (the path, or None with no frame; frames).
    """
    writer = VideoWriter(output, run.fps, audio_from=audio_from, audio_start=audio_start)
    try:
        for step in run:
            if step.final:
                writer.write(step.image)
                if on_frame is not None:
                    on_frame(step)
    finally:
        run.close()
        path = writer.close()
    return path, writer.frames


class FlickerMeter:
    """Flicker measured as frames come (two frames held, never the clip): see :func:`flicker`."""

    def __init__(self) -> None:
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._values: list[float] = []

    def add(self, raw: np.ndarray, out: np.ndarray) -> None:
        """The next frame: ``raw`` (the clip's) and ``out`` (the dreamed), both H x W x 3 uint8."""
        if self._prev is not None:
            self._values.append(_aligned_change(*self._prev, raw, out))
        self._prev = (raw, out)

    @property
    def value(self) -> float | None:
        """The mean so far (None before two frames)."""
        return float(np.mean(self._values)) if self._values else None


def _aligned_change(
    raw0: np.ndarray, out0: np.ndarray, raw1: np.ndarray, out1: np.ndarray
) -> float:
    """Mean |out1 - out0 moved along the raw frames' motion| where the flow is trusted (0-255)."""
    fwd = estimate_flow(raw0, raw1)  # (H, W, 2)
    bwd = estimate_flow(raw1, raw0)  # (H, W, 2)
    mask = occlusion_mask(fwd, bwd)  # (H, W)
    aligned = warp(out0.astype(np.float32), bwd)  # (H, W, 3)
    diff = np.abs(out1.astype(np.float32) - aligned).mean(axis=-1)  # (H, W)
    return float((diff * mask).sum() / max(mask.sum(), 1.0))


def flicker(raw: list[np.ndarray], out: list[np.ndarray]) -> float:
    """Mean change between consecutive output frames once aligned with the input's motion.

    For each pair, the previous output frame is warped along the raw frames' backward flow and
    compared with the current one (mean absolute difference, 0-255 units) where the flow is
    trusted. Independent frames boil (high); a dream that moves with the scene does not.
    """
    if len(raw) != len(out) or len(raw) < 2:
        raise ValueError("flicker needs two or more frames, as many raw as dreamed")
    meter = FlickerMeter()
    for r, o in zip(raw, out, strict=True):
        meter.add(r, o)
    assert meter.value is not None
    return meter.value


def pan_zoom_clip(
    image: np.ndarray,
    output: str | Path,
    *,
    seconds: float = 3.0,
    fps: float = 12.0,
    side: int = 256,
    zoom: float = 1.25,
) -> Path:
    """A short clip of a slow pan and zoom over ``image`` (H x W x 3 uint8): a built-in video.

    The view starts on the whole frame's left part and ends ``zoom`` times closer, to the right.
    """
    import cv2

    h, w = image.shape[:2]
    out_w, out_h = fit_side(w, h, side)
    n = max(2, round(seconds * fps))
    with VideoWriter(output, fps) as writer:
        for i in range(n):
            u = i / (n - 1)
            scale = 0.85 / (1 + (zoom - 1) * u)  # the crop's share of the photo
            cw, ch = w * scale, h * scale
            x0, y0 = (w - cw) * (0.1 + 0.8 * u), (h - ch) * (0.5 - 0.2 * u)
            m = np.float32([[cw / out_w, 0, x0], [0, ch / out_h, y0]])
            frame = cv2.warpAffine(
                image, m, (out_w, out_h), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
            )
            writer.write(frame)
    return Path(output)
