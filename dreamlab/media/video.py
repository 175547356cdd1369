"""Video files as streams: probe a clip, check it against the caps, read its frames one at a time,
write a dreamed clip (MP4 with the source's audio, or GIF).

A clip is read and written one frame at a time (PyAV, FFmpeg's libraries): never the whole clip
in memory. The source's audio is put back into an MP4 output by FFmpeg (imageio-ffmpeg's binary).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dreamlab.errors import DreamLabError
from dreamlab.media.export import check_fps, check_frame

__all__ = [
    "MIN_VIDEO_SIDE",
    "VIDEO_INPUT_SUFFIXES",
    "VIDEO_OUTPUT_SUFFIXES",
    "VideoCaps",
    "VideoError",
    "VideoInfo",
    "VideoWriter",
    "check_video",
    "fit_side",
    "probe_video",
    "read_frames",
]

VIDEO_INPUT_SUFFIXES = (".mp4", ".webm", ".mov", ".gif", ".mkv", ".m4v")
VIDEO_OUTPUT_SUFFIXES = (".mp4", ".gif")
MIN_VIDEO_SIDE = 16


class VideoError(DreamLabError):
    """A clip that cannot be used; one line, with ``kind`` and ``params`` for a translated UI."""


@dataclass(frozen=True)
class VideoCaps:
    """What a video job may cost: the span dreamed (seconds), its frames, the dreamed frame's side."""

    seconds: float = 600.0
    frames: int = 10_000
    side: int = 1024


@dataclass(frozen=True)
class VideoInfo:
    """What a clip's header says (``frames`` is an estimate when the container does not count)."""

    name: str
    width: int
    height: int
    fps: float
    duration: float  # seconds
    frames: int
    has_audio: bool
    codec: str


def _open_input(path: str | Path) -> Any:
    """The PyAV container of ``path``, or a one-line VideoError (missing, not a video)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path.name}: no such file", "no_such_file", name=path.name)
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name}: the file is empty", "empty_file", name=path.name)
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise VideoError(
            f"{path.name}: not a video (or a format DreamLab cannot read)",
            "not_a_video",
            name=path.name,
        ) from None


def _video_stream(container: Any, name: str) -> Any:
    if not container.streams.video:
        container.close()
        raise VideoError(f"{name}: the file holds no video", "no_video_stream", name=name)
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        container.close()
        raise VideoError(
            f"{name}: cannot decode its video", "unreadable_codec", name=name, codec="?"
        )
    return stream


def probe_video(path: str | Path) -> VideoInfo:
    """A clip's size, frame rate, duration, frame count and audio, from its header (no decoding)."""
    path = Path(path)
    with _open_input(path) as container:
        stream = _video_stream(container, path.name)
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # av.time_base: microseconds
        frames = int(stream.frames) or max(1, round(duration * fps))
        ctx = stream.codec_context
        return VideoInfo(
            path.name,
            ctx.width,
            ctx.height,
            fps,
            duration,
            frames,
            bool(container.streams.audio),
            ctx.name,
        )


def check_video(info: VideoInfo, start: float, end: float | None, caps: VideoCaps) -> float:
    """Refuse a clip DreamLab cannot or should not dream (too small, span too long); the span's end.

    ``end`` None means the clip's end. The message names the cap and the way around it.
    """
    if min(info.width, info.height) < MIN_VIDEO_SIDE:
        raise VideoError(
            f"{info.name}: {info.width} x {info.height} is too small "
            f"(each side must be at least {MIN_VIDEO_SIDE} px)",
            "video_too_small",
            name=info.name,
            w=info.width,
            h=info.height,
            min_side=MIN_VIDEO_SIDE,
        )
    if start < 0 or (end is not None and end <= start):
        raise VideoError(
            f"the span must start at 0 s or later and end after it (got {start:g} to {end})",
            "bad_span",
            start=start,
            end=end,
        )
    if info.duration and start >= info.duration:
        raise VideoError(
            f"{info.name}: the clip lasts {_clock(info.duration)}; a start at {start:g} s is past "
            "its end",
            "start_past_end", name=info.name, length=_clock(info.duration), start=start,
        )  # fmt: skip
    stop = info.duration if end is None or (info.duration and end > info.duration) else end
    stop = stop or end or start + caps.seconds
    if stop - start > caps.seconds + 1e-6:
        raise VideoError(
            f"{info.name}: {_clock(stop - start)} to dream is over the {caps.seconds:g} s a video "
            f"dream may last here: pick a shorter part (start and end)",
            "video_too_long",
            name=info.name,
            length=_clock(stop - start),
            limit=f"{caps.seconds:g}",
        )
    return stop


def _clock(seconds: float) -> str:
    """1:02:03 or 2:03 or 4.5 s."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fit_side(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(W, H) scaled so the longer side is at most ``max_side``, both even (H.264 needs them)."""
    scale = min(1.0, max_side / max(width, height))
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    return w - w % 2, h - h % 2


def read_frames(
    path: str | Path,
    *,
    start: float = 0.0,
    end: float | None = None,
    fps: float | None = None,
    max_side: int | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """``(time in s, H x W x 3 uint8)`` of each frame from ``start`` to ``end``, decoded one at a time.

    ``fps`` (at most the clip's own) drops frames evenly; ``max_side`` downsizes each frame (even
    sides). A clip whose video cannot be decoded is a one-line VideoError (``unreadable_codec``).
    """
    import av

    path = Path(path)
    container = _open_input(path)
    try:
        stream = _video_stream(container, path.name)
        stream.thread_type = "AUTO"
        src_fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        period = 1.0 / min(fps, src_fps) if fps else 0.0
        slack = 0.5 / src_fps  # a frame this close before its slot on the grid takes it
        next_t = start
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
        try:
            for frame in container.decode(stream):
                ts = float(frame.time) if frame.time is not None else next_t
                if ts < next_t - slack:
                    continue
                if end is not None and ts >= end - 1e-6:
                    break
                while period and next_t <= ts + slack:
                    next_t += period  # the next slot on the output's time grid
                yield ts - start, _frame_array(frame, max_side)
        except (av.error.FFmpegError, ValueError):
            raise VideoError(
                f"{path.name}: cannot decode its video ({stream.codec_context.name})",
                "unreadable_codec",
                name=path.name,
                codec=stream.codec_context.name,
            ) from None
    finally:
        container.close()


def _frame_array(frame: Any, max_side: int | None) -> np.ndarray:
    """A PyAV frame as H x W x 3 uint8, downsized to ``max_side`` (even sides) if given."""
    if max_side is None:
        return frame.to_ndarray(format="rgb24")
    w, h = fit_side(frame.width, frame.height, max_side)
    return frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()


class VideoWriter:
    """Write frames one at a time to an MP4 (H.264, yuv420p) or a GIF; ``close()`` finishes the file.

    With ``audio_from`` (a source clip) and an MP4, ``close()`` puts the source's audio from
    ``audio_start`` back in, cut to the frames written. Frames of another size are resized to the
    first one's (even sides). Use as a context manager; a file with no frame is removed on close.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        *,
        audio_from: str | Path | None = None,
        audio_start: float = 0.0,
        quality: int = 23,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_OUTPUT_SUFFIXES:
            raise ValueError(f"cannot write {self.path.name}: use a .mp4 or .gif file name")
        if not self.path.parent.is_dir():
            raise ValueError(
                f"cannot write {self.path}: the folder {self.path.parent} does not exist"
            )
        self.fps, self.frames = check_fps(fps), 0
        self._gif = suffix == ".gif"
        self._audio, self._audio_start, self._quality = audio_from, audio_start, quality
        self._tmp = self.path.with_name(f".{self.path.stem}.video{suffix}")  # beside: same disk
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None  # (W, H)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, w: int, h: int) -> None:
        from fractions import Fraction

        import av

        self._container = av.open(str(self._tmp), mode="w")
        rate = Fraction(self.fps).limit_denominator(1001)
        if self._gif:
            self._stream = self._container.add_stream("gif", rate=rate)
            self._stream.pix_fmt = "rgb8"
        else:
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self._quality), "preset": "veryfast"}
        self._stream.width, self._stream.height = w, h
        self._size = (w, h)

    def write(self, image: np.ndarray) -> None:
        """Append one H x W x 3 uint8 frame."""
        import av

        image = check_frame(image, "each frame")
        if self._container is None:
            self._open(*fit_side(image.shape[1], image.shape[0], max(image.shape[:2])))
        w, h = self._size  # type: ignore[misc]
        if image.shape[:2] != (h, w):
            image = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = self.frames
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> Path | None:
        """Finish the file (flush, audio back in); the path, or None when no frame was written."""
        if self._container is not None:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = None
            if self._audio is not None and not self._gif:
                _mux_audio(self._tmp, self._audio, self._audio_start, self.frames / self.fps)
            os.replace(self._tmp, self.path)
        self._tmp.unlink(missing_ok=True)
        return self.path if self.frames else None


def _mux_audio(video: Path, source: str | Path, start: float, duration: float) -> None:
    """Put ``source``'s audio from ``start`` (``duration`` s of it) into ``video``, in place."""
    import subprocess

    import imageio_ffmpeg

    with _open_input(source) as container:
        if not container.streams.audio:
            return
    out = video.with_name(f".{video.stem}.audio.mp4")
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-i", str(video),
        "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(source),
        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
        "-movflags", "+faststart", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode == 0 and out.is_file():
        os.replace(out, video)
    out.unlink(missing_ok=True)  # audio that cannot be copied: the video stays, silent
