"""The DeepDream page's video source headless (AppTest): upload a short clip, dream it, get the MP4."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest

from dreamlab.media import probe_video
from tests.dream.clips import make_clip
from tests.ui.conftest import assert_clean, page_app


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    def make(lang: str = "en"):
        monkeypatch.setattr("dreamlab.ui.i18n.current_lang", lambda: lang)
        at = page_app("deepdream", lang=lang)
        at.query_params["src"] = "video"  # the video source, as a link opens it
        return at.run()

    return make


def _small(at) -> None:
    """A quick dream: one octave, two steps, small frames."""
    at.slider(key="dd_octaves").set_value(1)
    at.slider(key="dd_iterations").set_value(2)
    at.select_slider(key="dv_side").set_value(128)
    at.select_slider(key="dv_fps").set_value(6)


def _dream_button(at):
    (button,) = [b for b in at.button if b.key == "dd_dream"]
    return button


@pytest.mark.parametrize(("lang", "word"), [("en", "optical flow"), ("fr", "flot optique")])
def test_video_source_shows_its_controls_and_lesson(app, lang: str, word: str) -> None:
    at = app(lang)
    assert_clean(at)
    assert "dv_result" not in at.session_state
    assert any(word in c.value for c in at.caption)  # the lesson line
    assert at.info  # the hint to press Dream


def test_upload_dream_and_download_mp4(
    app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(jobs))  # the job's folder goes here
    clip = make_clip(tmp_path / "walk.mp4", seconds=1.0, fps=12, w=160, h=96)
    at = app()
    at.radio(key="dv_clip").set_value("upload").run()
    at.file_uploader(key="dv_upload").set_value(("walk.mp4", clip.read_bytes(), "video/mp4")).run()
    _small(at)
    at.checkbox(key="dv_compare").set_value(True)
    _dream_button(at).click().run()
    assert_clean(at)
    result = at.session_state["dv_result"]
    assert not result.stopped and result.source == "walk.mp4"
    flow, none = result.outputs
    assert (flow.coherence, none.coherence) == ("flow", "none")
    assert flow.frames == none.frames == 6
    out = tmp_path / "got.mp4"
    out.write_bytes(flow.data)
    info = probe_video(out)
    assert info.frames == 6 and info.has_audio and (info.width, info.height) == (128, 76)
    assert flow.flicker is not None and none.flicker is not None
    downloads = [d for d in at.get("download_button")]
    assert len(downloads) == 2
    assert not list(jobs.glob("dreamlab-video-*"))  # the job's files are gone


def test_builtin_clip_dreams_offline(app) -> None:
    at = app()
    _small(at)
    at.number_input(key="dv_end").set_value(1.0)
    _dream_button(at).click().run()
    assert_clean(at)
    (out,) = at.session_state["dv_result"].outputs
    assert out.frames == 6 and out.data[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("name", "data", "expect"),
    [
        ("notes.mp4", b"this is a text file\n", "notes.mp4: not a video"),
        ("film.mp4", None, "film.mp4: 25.0 s to dream is over the 20 s"),
    ],
)
def test_bad_uploads_are_one_line(app, tmp_path: Path, name: str, data, expect: str) -> None:
    if data is None:
        data = make_clip(tmp_path / name, seconds=25.0, fps=2, w=32, h=32, audio=False).read_bytes()
    at = app()
    at.radio(key="dv_clip").set_value("upload").run()
    at.file_uploader(key="dv_upload").set_value((name, data, "video/mp4")).run()
    _dream_button(at).click().run()
    assert not at.exception
    (error,) = at.error
    assert expect in error.value and "\n" not in error.value


def test_the_run_after_stop_waits_for_the_jobs_mp4(app, tmp_path: Path) -> None:
    """Stop starts the page's next run at once on another thread while the job's run still
    closes its MP4 (Streamlit's fast reruns): that run must draw the finished MP4, not an empty
    one. Here the job's thread finishes only once the page is already waiting for it."""
    from dreamlab.ui.parts import video_dream

    data = make_clip(tmp_path / "done.mp4", seconds=0.5, fps=4, w=32, h=32, audio=False)
    out = video_dream._Output("flow", frames=2)  # counted, but its MP4 not read yet
    result = video_dream._Result([out], source="walk.mp4")
    waiting = threading.Event()

    class Final(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waiting.set()  # the page's run is waiting: only now does the job finish
            return super().wait(timeout)

    result.final = Final()

    def finish() -> None:
        assert waiting.wait(120)
        out.data = data.read_bytes()
        result.final.set()

    at = app()
    job = threading.Thread(target=finish)
    job.start()
    at.session_state["dv_result"] = result
    at.run()
    job.join(120)
    assert_clean(at)
    assert waiting.is_set() and not job.is_alive()
    assert any(w.value.startswith("Stopped") for w in at.warning)
    (button,) = at.get("download_button")
    (video,) = at.get("video")
    drawn = (button.proto.url, video.proto.url)
    at.run()  # the finished result, drawn again: the same MP4 as the run that waited
    (button,) = at.get("download_button")
    (video,) = at.get("video")
    assert (button.proto.url, video.proto.url) == drawn


def test_stop_ends_the_job_before_its_next_step(
    app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop's callback runs in the page's next run, on another thread, while the job's run is
    between two steps: the job ends there (not at its next drawing) and keeps the frames done."""
    from dreamlab.ui.parts import video_dream

    draw = video_dream._Live.draw

    def draw_then_stop(self, out, step) -> None:
        draw(self, out, step)
        if out.frames == 2 and step.final:
            video_dream._stop()  # what the click's run does first, on its own thread

    monkeypatch.setattr(video_dream._Live, "draw", draw_then_stop)
    at = app()
    _small(at)
    _dream_button(at).click().run()
    assert_clean(at)
    result = at.session_state["dv_result"]
    assert result.stopped and result.final.is_set()
    (out,) = result.outputs
    assert out.frames == 2
    got = tmp_path / "stopped.mp4"
    got.write_bytes(out.data)
    assert probe_video(got).frames == 2  # a playable video of the frames done
    assert any(w.value.startswith("Stopped") for w in at.warning)
    assert len(at.get("download_button")) == 1
