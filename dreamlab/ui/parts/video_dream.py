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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
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
from dreamlab.ui.parts.gate import gated
from dreamlab.ui.parts.layout import error_line, view_columns
from dreamlab.ui.parts.throttle import Throttle
from dreamlab.ui.settings import (
    DREAM_MEDIA,
    VIDEO_CLIPS,
    VIDEO_FIELDS,
    VIDEO_FPS,
    VIDEO_SIDES,
    DreamSettings,
    param_of,
    widget_key,
)
from dreamlab.viz import colorize, mosaic, shared_scale

__all__ = ["controls", "settings_values", "source_is_video", "view"]

_RESULT = "dv_result"  # session key: the last _Result
_UPLOAD_TYPES = ("mp4", "webm", "mov", "gif")
_BUILTIN = {"photo": "chelsea", "seconds": 3.0, "fps": 12.0}  # the built-in clip: pan and zoom
_DRAW_EVERY_S = 0.25
_FINISH_WAIT_S = 120.0  # the longest a run waits for a stopped job to close its files
_FINISH_POLL_S = 0.2


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
    """A video job's outcome, shared by the job's script run and the page's next runs.

    A click during the job (Stop, or any other widget) starts the page's next run at once on
    another thread (Streamlit's fast reruns), while the job's run is still in its step and has its
    files to close. So Stop's callback sets ``stop`` (the job ends before its next step), the job
    sets ``final`` once every output's MP4 is written and read, and a run draws the result only
    after ``final`` (:func:`_await_final`): never an MP4 half made.
    """

    outputs: list[_Output]
    source: str
    stopped: bool = True  # until every frame is dreamed
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    final: threading.Event = field(default_factory=threading.Event, repr=False)


# ---------------------------------------------------------------- controls


def source_is_video() -> bool:
    """The page's source choice (photo | video): True for a video.

    Its value, like the video settings', comes from the page's settings (``query.load`` put it
    into the widget's key: the address, else this session's last choice)."""
    choice = st.segmented_control(
        t("video.source"),
        DREAM_MEDIA,
        format_func=lambda key: t(f"video.source_{key}"),
        key="dd_media",
        required=True,  # a click on the chosen source keeps it (never neither)
    )
    return choice == "video"


def settings_values(settings: DreamSettings) -> dict[str, object]:
    """The video source's part of the page's settings, as its widgets hold it now (a widget not
    drawn in this run keeps ``settings``' value): for ``DreamSettings(**...)``."""
    out: dict[str, object] = {}
    for f in fields(settings):
        if f.name not in VIDEO_FIELDS:
            continue
        value = st.session_state.get(widget_key(settings, param_of(f)) or "")
        if value is None:
            out[f.name] = getattr(settings, f.name)
        elif isinstance(f.default, float):
            out[f.name] = round(float(value), 3)
        else:
            out[f.name] = type(f.default)(value)  # str, int or bool, as the field's default
    return out


def controls() -> None:
    """The clip (built-in or uploaded) and the video settings, with the lesson line; their
    values are the page's settings (``query.load`` put them into the widgets' keys)."""
    st.radio(
        t("video.clip"),
        VIDEO_CLIPS,
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
    st.select_slider(t("video.fps"), VIDEO_FPS, key="dv_fps")
    st.select_slider(t("video.side"), VIDEO_SIDES, key="dv_side")
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
        stop.button(
            t("deepdream.stop"), key="dv_stop", icon=":material/stop_circle:", on_click=_stop
        )
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


def _stop() -> None:
    """Stop's callback, first thing in the page's next run (on another thread than the job's):
    the job ends before its next step, keeping what is done."""
    result: _Result | None = st.session_state.get(_RESULT)
    if result is not None:
        result.stop.set()


def _dream(model: LoadedModel, config: DreamConfig, folder: Path) -> _Result:
    """Dream the clip (through the job gate); Stop, a closed tab or an error lands in ``finally``,
    which closes the files and marks the result final whatever happens."""
    clip, source = _clip_file(folder)
    jobs = _runs(model, config, clip)
    start = _video_config().start  # the audio is cut from there
    writers = [
        VideoWriter(folder / f"dream-{i}.mp4", run.fps, audio_from=clip, audio_start=start)
        for i, (_, run) in enumerate(jobs)
    ]
    result = _Result([out for out, _ in jobs], source=source)
    steps: Iterator[tuple[int, VideoStep]] | None = None
    try:
        st.session_state[_RESULT] = result  # before Stop is drawn: its callback finds this job
        live = _Live(sum(run.total for _, run in jobs))
        steps = gated(_chain(jobs), live.queue)
        for i, step in steps:
            if result.stop.is_set():  # Stop was clicked: the page's next run waits for us
                break
            out = jobs[i][0]
            if step.final:
                writers[i].write(step.image)
                out.frames += 1
                out.meter.add(step.raw, step.image)  # two frames held, never the clip
            live.draw(out, step)
        else:
            result.stopped = False
    finally:
        try:
            if steps is not None:
                steps.close()  # the seat is given back
            _close(jobs, writers)
        finally:
            result.final.set()
    return result


def _close(jobs: list[tuple[_Output, VideoRun]], writers: list[VideoWriter]) -> None:
    """End the runs and finish each output's MP4 (its bytes kept in the session)."""
    for (out, run), writer in zip(jobs, writers, strict=True):
        run.close()
        path = writer.close()
        out.data = path.read_bytes() if path is not None else b""
        out.flicker, out.meter = out.meter.value, FlickerMeter()


def _await_final(result: _Result) -> bool:
    """Wait while a stopped job (on another thread) closes its files: at most one step and its
    MP4s. The line drawn while waiting is also where a newer click ends this run."""
    if result.final.is_set():
        return True
    box = st.empty()
    deadline = time.monotonic() + _FINISH_WAIT_S
    while not result.final.wait(_FINISH_POLL_S):
        if time.monotonic() > deadline:
            return False
        box.info(t("video.finishing"), icon=":material/hourglass_top:")
    box.empty()
    return True


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
    if result is not None and not _await_final(result):
        st.info(t("video.finishing"), icon=":material/hourglass_top:")
        return
    if result is None or not any(out.frames and out.data for out in result.outputs):
        st.info(t("video.hint"), icon=":material/movie:")
        return
    _results(result)


def _results(result: _Result) -> None:
    if result.stopped:
        st.warning(t("video.stopped"), icon=":material/stop_circle:")
    outputs = [out for out in result.outputs if out.frames and out.data]
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
