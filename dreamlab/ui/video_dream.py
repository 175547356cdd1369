"""The DeepDream page's video source: dream a clip frame by frame, tied together by optical flow.

The DeepDream page calls :func:`source_is_video` (the photo | video choice), :func:`controls`
(the clip and its settings, under the page's form) and :func:`view` (the live dream and the
results). The dream settings are the page's own ``DreamConfig``; this module adds the clip, the
coherence and the caps (``dreamlab.dream.video.UI_CAPS``).

A job passes the shared job gate (``widgets.gated``), writes its frames into a temporary folder,
and keeps what is done on Stop; Stop or a closed tab ends the job and its folder is removed. The
finished MP4 (small: a few hundred kB) is kept in the session to play and download.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from dreamlab.dream.coherence import METHODS
from dreamlab.dream.config import DreamConfig
from dreamlab.dream.video import (
    UI_CAPS,
    FlickerMeter,
    VideoConfig,
    VideoRun,
    VideoStep,
    dream_video,
)
from dreamlab.media import VideoWriter
from dreamlab.models import LoadedModel
from dreamlab.ui.i18n import num, t
from dreamlab.ui.widgets import Throttle, error_line, gated, view_columns
from dreamlab.viz import colorize, mosaic, shared_scale

__all__ = ["controls", "source_is_video", "view"]

_RESULT = "dv_result"  # session key: the last _Result
_CLIPS = ("builtin", "upload")
_UPLOAD_TYPES = ("mp4", "webm", "mov", "gif")
_SIDES = [128, 192, 256, 384, 512]
_FPS = [4, 6, 8, 12, 15, 24, 30]
_BUILTIN = {"photo": "chelsea", "seconds": 3.0, "fps": 12.0}  # the built-in clip: pan and zoom
_DRAW_EVERY_S = 0.25
_DEFAULTS = VideoConfig()


@dataclass
class _Output:
    """One dreamed clip: its coherence, MP4 bytes, frames and its flicker."""

    coherence: str
    data: bytes = b""
    frames: int = 0
    flicker: float | None = None
    meter: FlickerMeter = field(default_factory=FlickerMeter, repr=False)


@dataclass
class _Result:
    outputs: list[_Output]
    stopped: bool
    source: str


# ---------------------------------------------------------------- controls


def source_is_video() -> bool:
    """The page's source choice (photo | video): True for a video."""
    choice = st.segmented_control(
        t("video.source"),
        ["photo", "video"],
        format_func=lambda key: t(f"video.source_{key}"),
        key="dd_media",
        default="photo",
    )
    return choice == "video"


def _init_state() -> None:
    defaults = {
        "dv_clip": "builtin",
        "dv_coherence": _DEFAULTS.coherence,
        "dv_blend": _DEFAULTS.blend,
        "dv_start": 0.0,
        "dv_end": 0.0,
        "dv_fps": 12,
        "dv_side": _DEFAULTS.max_side,
        "dv_compare": False,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def controls() -> None:
    """The clip (built-in or uploaded) and the video settings, with the lesson line."""
    _init_state()
    st.radio(
        t("video.clip"),
        _CLIPS,
        format_func=lambda key: t(f"video.clip_{key}"),
        key="dv_clip",
        horizontal=True,
    )
    if st.session_state["dv_clip"] == "upload":
        st.file_uploader(t("video.upload"), type=list(_UPLOAD_TYPES), key="dv_upload")
    st.selectbox(
        t("video.coherence"),
        list(METHODS),
        format_func=lambda key: t(f"video.coherence_{key}"),
        key="dv_coherence",
        help=t("video.coherence_help"),
    )
    st.slider(t("video.blend"), 0.0, 1.0, step=0.05, key="dv_blend", help=t("video.blend_help"))
    left, right = st.columns(2)
    left.number_input(t("video.start"), min_value=0.0, step=0.5, key="dv_start")
    right.number_input(
        t("video.end"), min_value=0.0, step=0.5, key="dv_end", help=t("video.end_help")
    )
    st.select_slider(t("video.fps"), _FPS, key="dv_fps")
    st.select_slider(t("video.side"), _SIDES, key="dv_side")
    st.checkbox(t("video.compare"), key="dv_compare", help=t("video.compare_help"))
    st.caption(t("video.lesson_line"))
    st.caption(
        t("video.caps", seconds=num(UI_CAPS.seconds, "g"), frames=UI_CAPS.frames, side=UI_CAPS.side)
    )


def _video_config(coherence: str | None = None) -> VideoConfig:
    """The widgets' values as a checked VideoConfig (``coherence`` overrides the picked one)."""
    s = st.session_state
    end = float(s["dv_end"]) or None  # 0: the clip's end
    return VideoConfig(
        coherence=coherence or s["dv_coherence"],
        blend=round(float(s["dv_blend"]), 3),
        start=float(s["dv_start"]),
        end=end,
        fps=float(s["dv_fps"]),
        max_side=int(s["dv_side"]),
    )


# ---------------------------------------------------------------- the job


def _clip_file(folder: Path) -> tuple[Path, str]:
    """The clip to dream, as a file in the job's folder (the upload, or the built-in clip made)."""
    if st.session_state.get("dv_clip") == "upload":
        upload = st.session_state.get("dv_upload")
        if upload is None:
            raise ValueError(t("video.no_upload"))
        name = Path(upload.name).name or "clip.mp4"  # no folders: the user's file name only
        path = folder / name  # errors name the user's file
        path.write_bytes(upload.getvalue())
        return path, name
    from dreamlab.dream.video import pan_zoom_clip
    from dreamlab.images import load_sample

    photo = load_sample(str(_BUILTIN["photo"]))
    path = folder / "builtin.mp4"
    pan_zoom_clip(photo, path, seconds=_BUILTIN["seconds"], fps=_BUILTIN["fps"], side=512)
    return path, t("video.clip_builtin")


def _runs(model: LoadedModel, config: DreamConfig, clip: Path) -> list[tuple[_Output, VideoRun]]:
    """The run(s) to make: the picked coherence, and independent frames beside it to compare."""
    picked = st.session_state["dv_coherence"]
    methods = [picked]
    if st.session_state.get("dv_compare") and picked != "none":
        methods.append("none")
    return [
        (_Output(m), dream_video(clip, model, config, _video_config(m), caps=UI_CAPS))
        for m in methods
    ]


def _chain(jobs: list[tuple[_Output, VideoRun]]) -> Iterator[tuple[int, VideoStep]]:
    for i, (_, run) in enumerate(jobs):
        for step in run:
            yield i, step


def _maps(maps: np.ndarray, count: int = 8) -> np.ndarray:
    """The most active channels of the layer, on one colour scale."""
    means = maps.reshape(maps.shape[0], -1).mean(axis=1)
    channels = [int(c) for c in np.argsort(-means)[:count]]
    picked = maps[channels]  # (N, h, w)
    tiles = colorize(picked, shared_scale(picked))
    return mosaic(tiles, [f"#{c}" for c in channels], cols=4, tile_size=96, pad=3)


def _progress_text(step: VideoStep, coherence: str, done: int, total: int) -> str:
    eta = step.eta
    left = "…" if eta is None else f"{int(eta // 60)}:{int(eta % 60):02d}"
    return t(
        "video.progress",
        done=done,
        total=total,
        fps=num(step.fps, ".2f"),
        left=left,
        coherence=t(f"video.coherence_{coherence}"),
    )


class _Live:
    """The live view: the raw frame, the dream so far, the layer's maps, the progress bar."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.queue = st.empty()
        line, stop = st.columns([4, 1], vertical_alignment="bottom")
        self.bar = line.progress(0.0, text=t("video.starting"))
        stop.button(t("deepdream.stop"), key="dv_stop", icon=":material/stop_circle:")
        raw, dreamed, maps = view_columns(3)
        self.raw, self.dreamed, self.maps = raw.empty(), dreamed.empty(), maps.empty()
        self.throttle = Throttle(_DRAW_EVERY_S)

    def draw(self, out: _Output, step: VideoStep) -> None:
        if step.final:
            self.done += 1
        if not self.throttle.due(force=step.final and self.done == self.total):
            return
        self.raw.image(step.raw, width="stretch", caption=t("video.live_raw", index=step.index + 1))
        self.dreamed.image(step.image, width="stretch", caption=t("video.live_dream"))
        self.maps.image(
            _maps(step.dream.activations),
            width="stretch",
            caption=t("deepdream.live_maps", layer=step.dream.layer),
        )
        self.bar.progress(
            min(self.done / self.total, 1.0),
            text=_progress_text(step, out.coherence, self.done, self.total),
        )


def _dream(model: LoadedModel, config: DreamConfig, folder: Path) -> _Result:
    """Dream the clip (through the job gate); Stop or a closed tab lands in ``finally``."""
    clip, source = _clip_file(folder)
    jobs = _runs(model, config, clip)
    start = _video_config().start  # the audio is cut from there
    writers = [
        VideoWriter(folder / f"dream-{i}.mp4", run.fps, audio_from=clip, audio_start=start)
        for i, (_, run) in enumerate(jobs)
    ]
    live = _Live(sum(run.total for _, run in jobs))
    result = _Result([out for out, _ in jobs], stopped=True, source=source)
    st.session_state[_RESULT] = result  # kept even if the run is interrupted
    steps = gated(_chain(jobs), live.queue)
    try:
        for i, step in steps:
            out = jobs[i][0]
            if step.final:
                writers[i].write(step.image)
                out.frames += 1
                out.meter.add(step.raw, step.image)  # two frames held, never the clip
            live.draw(out, step)
        result.stopped = False
    finally:  # Stop, a closed tab, an error: what is done is kept, the job's files go
        steps.close()
        for (out, run), writer in zip(jobs, writers, strict=True):
            run.close()
            path = writer.close()
            out.data = path.read_bytes() if path is not None else b""
            out.flicker, out.meter = out.meter.value, FlickerMeter()
    return result


# ---------------------------------------------------------------- the view


def view(model: LoadedModel, pressed: bool, config: Callable[[], DreamConfig]) -> None:
    """The live dream when Dream was pressed, then the last result (plays, downloads)."""
    if pressed:
        folder = Path(tempfile.mkdtemp(prefix="dreamlab-video-"))
        try:
            _dream(model, config(), folder)
        except (ValueError, RuntimeError, OSError) as exc:  # one line; the last result stays
            st.session_state.pop(_RESULT, None)
            st.session_state["dv_error"] = error_line(exc)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        st.rerun()
    if st.session_state.get("dv_error"):
        st.error(st.session_state.pop("dv_error"), icon="⚠️")
    result: _Result | None = st.session_state.get(_RESULT)
    if result is None or not any(out.frames for out in result.outputs):
        st.info(t("video.hint"), icon=":material/movie:")
        return
    _results(result)


def _results(result: _Result) -> None:
    if result.stopped:
        st.warning(t("video.stopped"), icon=":material/stop_circle:")
    outputs = [out for out in result.outputs if out.frames]
    columns = st.columns(len(outputs))
    for col, out in zip(columns, outputs, strict=True):
        with col:
            st.markdown(f"**{t(f'video.coherence_{out.coherence}')}**")
            st.video(out.data, format="video/mp4", loop=True, autoplay=len(outputs) > 1, muted=True)
            st.caption(_caption(out))
            st.download_button(
                t("video.download"),
                out.data,
                file_name=f"dream-{out.coherence}.mp4",
                mime="video/mp4",
                key=f"dv_download_{out.coherence}",
                icon=":material/download:",
            )
    if len(outputs) > 1:
        st.caption(t("video.compare_note"))


def _caption(out: _Output) -> str:
    text = t("video.result", frames=out.frames)
    if out.flicker is not None:
        text += " · " + t("video.flicker", value=num(out.flicker, ".1f"))
    return text
