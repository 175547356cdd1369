"""The video dream: streaming decoder and writer, caps and bad files, the dream over a clip, the CLI."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamlab.cli import main
from dreamlab.dream.config import DreamConfig
from dreamlab.dream.video import (
    VideoConfig,
    dream_video,
    dream_video_to_file,
    flicker,
    pan_zoom_clip,
)
from dreamlab.media import (
    VideoCaps,
    VideoError,
    VideoWriter,
    probe_video,
    read_frames,
)
from dreamlab.models import load_model
from tests.dream.clips import make_clip, make_gif, moving_square

FAST = DreamConfig(num_octaves=1, iterations=2, jitter=4)


@pytest.fixture(scope="module")
def model():
    return load_model("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "walk.mp4", seconds=1.0, fps=12)


# ---------------------------------------------------------------- decoder and writer


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".mov"])
def test_decoder_streams_every_frame_of_each_container(tmp_path: Path, suffix: str) -> None:
    path = make_clip(tmp_path / f"c{suffix}", seconds=1.0, fps=12, audio=False)
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (96, 64, 12.0)
    frames = read_frames(path)
    assert not isinstance(frames, list)  # a generator: one frame decoded at a time
    got = list(frames)
    assert len(got) == 12
    assert got[0][1].shape == (64, 96, 3) and got[0][1].dtype == np.uint8
    assert [round(t * 12) for t, _ in got] == list(range(12))


def test_decoder_span_fps_and_side(clip: Path) -> None:
    got = list(read_frames(clip, start=0.25, end=0.75, fps=6, max_side=49))
    assert len(got) == 3  # 0.25, 0.42, 0.58 s: every other frame of 12 fps in half a second
    assert got[0][0] == pytest.approx(0.0, abs=1e-6)
    assert got[1][0] == pytest.approx(1 / 6, abs=0.02)
    h, w = got[0][1].shape[:2]
    assert (w, h) == (48, 32)  # longer side at most 49, both even


def test_gif_input_is_a_clip(tmp_path: Path) -> None:
    path = make_gif(tmp_path / "a.gif", frames=6, ms=100)
    info = probe_video(path)
    assert info.fps == pytest.approx(10.0) and info.frames == 6
    assert len(list(read_frames(path))) == 6


def test_writer_mp4_frame_count_fps_and_audio_kept(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 12, audio_from=clip) as writer:
        for i in range(9):
            writer.write(moving_square(i, 64, 96))
    info = probe_video(out)
    assert info.frames == 9 and info.fps == pytest.approx(12.0)
    assert (info.width, info.height) == (96, 64)
    assert info.has_audio  # the source's tone, cut to the 0.75 s of video
    assert info.duration == pytest.approx(0.75, abs=0.05)
    assert len(list(read_frames(out))) == 9
    assert not list(tmp_path.glob(".*"))  # no temporary file left beside it


def test_writer_without_audio_source_and_gif(tmp_path: Path) -> None:
    silent = make_clip(tmp_path / "silent.mp4", audio=False)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 8, audio_from=silent) as writer:
        for i in range(4):
            writer.write(moving_square(i, 64, 96))
    assert not probe_video(out).has_audio and probe_video(out).frames == 4
    gif = tmp_path / "out.gif"
    with VideoWriter(gif, 10) as writer:
        for i in range(5):
            writer.write(moving_square(i, 48, 64))
    frames = list(read_frames(gif))
    assert len(frames) == 5 and frames[0][1].shape == (48, 64, 3)


def test_writer_with_no_frame_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "none.mp4"
    writer = VideoWriter(out, 10)
    assert writer.close() is None
    assert not out.exists()
    with pytest.raises(ValueError, match="mp4 or .gif"):
        VideoWriter(tmp_path / "x.avi", 10)


# ---------------------------------------------------------------- bad files and caps


def _corrupt_mdat(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    at = data.find(b"mdat")
    size = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 : at - 4 + size] = b"\x5a" * (size - 8)  # the frames, not the header
    path.write_bytes(bytes(data))
    return path


def _bad(path: Path, model, **video) -> VideoError:
    with pytest.raises(VideoError) as info:
        run = dream_video(path, model, FAST, VideoConfig(**video), caps=VideoCaps(seconds=60))
        list(run)
    message = str(info.value)
    assert "\n" not in message and message
    return info.value


def test_bad_files_are_one_line_each(tmp_path: Path, model) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a film\n")
    assert _bad(text, model).kind == "not_a_video"
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert _bad(empty, model).kind == "empty_file"
    assert _bad(tmp_path / "missing.mp4", model).kind == "no_such_file"
    broken = _corrupt_mdat(make_clip(tmp_path / "broken.mp4", audio=False))
    assert _bad(broken, model).kind == "unreadable_codec"
    tiny = tmp_path / "tiny.gif"
    Image.new("RGB", (1, 1)).save(
        tiny, save_all=True, append_images=[Image.new("RGB", (1, 1), (9, 0, 0))], duration=100
    )
    err = _bad(tiny, model)
    assert err.kind == "video_too_small" and "1 x 1" in str(err)


def test_a_two_hour_film_is_refused_and_a_part_of_it_is_not(tmp_path: Path, model) -> None:
    film = tmp_path / "film.gif"  # 12 frames of 655 s: 2 h 11 min
    frames = [Image.new("RGB", (32, 32), (20 * i, 0, 0)) for i in range(12)]
    frames[0].save(film, save_all=True, append_images=frames[1:], duration=655_000)
    assert probe_video(film).duration > 7200
    err = _bad(film, model)
    assert err.kind == "video_too_long" and "2:11:00" in str(err) and "60 s" in str(err)
    run = dream_video(film, model, FAST, VideoConfig(end=30, max_side=32), caps=VideoCaps(60))
    assert run.total == 1


def test_caps_on_frames_side_and_span(clip: Path, model) -> None:
    caps = VideoCaps(seconds=60, frames=5, side=64)
    with pytest.raises(VideoError, match="12 frames .* over the 5 frames") as info:
        dream_video(clip, model, FAST, VideoConfig(max_side=64), caps=caps)
    assert info.value.kind == "video_too_many_frames"
    with pytest.raises(VideoError, match="over the 64 px") as info:
        dream_video(clip, model, FAST, VideoConfig(max_side=128, end=0.2), caps=caps)
    assert info.value.kind == "video_side_over_cap"
    assert _bad(clip, model, start=5).kind == "start_past_end"
    with pytest.raises(ValueError, match="end"):
        VideoConfig(start=2, end=1)
    with pytest.raises(ValueError, match="coherence"):
        VideoConfig(coherence="magic")


# ---------------------------------------------------------------- the dream over a clip


def test_dream_video_carries_the_dream_with_fewer_later_steps(clip: Path, model) -> None:
    cfg = DreamConfig(num_octaves=1, iterations=8, jitter=4)
    run = dream_video(clip, model, cfg, VideoConfig(end=0.5, max_side=64))
    assert run.total == 6 and run.fps == 12
    steps = list(run)
    finals = [s for s in steps if s.final]
    assert [s.index for s in finals] == list(range(6))
    assert finals[0].dream.total == 8  # the first frame: every step
    assert all(s.dream.total == 2 for s in finals[1:])  # later frames: a quarter of them
    assert finals[-1].frames_done == 6 and finals[-1].fps > 0 and finals[-1].eta == 0
    assert finals[0].image.shape == finals[0].raw.shape == (42, 64, 3)
    assert all(not np.array_equal(s.image, s.raw) for s in finals)


def test_coherence_lowers_flicker(tmp_path: Path, model) -> None:
    photo = np.asarray(
        Image.open(Path(__file__).parents[2] / "dreamlab/assets/samples/chelsea.png")
    )
    clip = pan_zoom_clip(photo[..., :3], tmp_path / "pan.mp4", seconds=1.0, fps=8, side=96)
    cfg = DreamConfig(num_octaves=2, iterations=4)
    result = {}
    for method in ("flow", "none"):
        steps = [s for s in dream_video(clip, model, cfg, VideoConfig(coherence=method)) if s.final]
        result[method] = flicker([s.raw for s in steps], [s.image for s in steps])
    assert result["flow"] < result["none"]


def test_stopping_keeps_a_valid_video(clip: Path, tmp_path: Path, model) -> None:
    out = tmp_path / "stopped.mp4"
    run = dream_video(clip, model, FAST, VideoConfig(max_side=64))

    def interrupt_at_three(step) -> None:
        if step.frames_done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dream_video_to_file(run, out, audio_from=clip, on_frame=interrupt_at_three)
    info = probe_video(out)
    assert info.frames == 3 and info.has_audio
    assert len(list(read_frames(out))) == 3


# ---------------------------------------------------------------- the CLI


def test_cli_dreams_a_generated_clip_to_mp4_with_audio(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dreamed.mp4"
    argv = [str(clip), "-o", str(out), "--octaves", "1", "--iterations", "2", "--fps", "6"]
    code = main(["dream", *argv, "--start", "0.25", "--max-side", "64", "--coherence", "flow"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(f"{out}\t5 frame(s)\t6 fps")
    assert "frame 5/5" in captured.err and "fps" in captured.err and "left" in captured.err
    info = probe_video(out)
    assert info.frames == 5 and info.has_audio and (info.width, info.height) == (64, 42)


def test_cli_gif_output_blend_and_errors(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dreamed.gif"
    argv = ["dream", str(clip), "-o", str(out), "--octaves", "1", "--iterations", "1"]
    assert main([*argv, "--end", "0.25", "--coherence", "blend", "--blend", "0.5"]) == 0
    assert probe_video(out).frames == 3
    capsys.readouterr()
    text = tmp_path / "notes.mp4"
    text.write_text("hello")
    for bad in (
        ["dream", str(text), "-o", str(tmp_path / "x.mp4")],
        ["dream", str(clip), "-o", str(tmp_path / "x.png")],
        ["dream", str(clip), "-o", str(tmp_path / "x.mp4"), "--blend", "2"],
        ["dream", str(clip), "-o", str(tmp_path / "x.mp4"), "--coherence", "magic"],
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert not (tmp_path / "x.mp4").exists()
