"""The dreams a session keeps (``dreamlab.dream.session``): frames recorded as they arrive, Stop
kept (late frames dropped), the downloads made once, and a finished dream's last frame without its
float tensors (30 sessions each kept ~2.5 MB of them)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from dreamlab.dream import DreamConfig, dream
from dreamlab.dream.session import DreamRecord, DreamSession, pick_channels, settled
from dreamlab.images import load_sample
from dreamlab.models import load_model


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny_cnn", device="cpu")


def _record(model, kind: str = "photo", **overrides) -> DreamRecord:
    cfg = DreamConfig(layer="conv2", max_side=64, num_octaves=1, iterations=3).with_overrides(
        **overrides
    )
    source = "noise" if kind == "noise" else load_sample("coffee")
    run = dream(source, model, cfg)
    return DreamRecord(kind, model, cfg, run, kind, "default", thumb_side=32, capacity=8)


def test_a_settled_frame_keeps_its_results_and_lets_the_tensors_go() -> None:
    model = load_model("tiny_cnn", device="cpu")
    image = np.full((96, 128, 3), 120, np.uint8)
    run = dream(image, model, layer="conv2", num_octaves=1, iterations=2, max_side=128)
    *_, last = list(run)
    light = settled(last)
    assert light is not None and settled(None) is None
    assert np.array_equal(light.image, last.image) and light.image.shape == (96, 128, 3)
    assert np.array_equal(light.activations, last.activations) and light.loss == last.loss
    assert (light.step, light.octave, light.done, light.size) == (
        last.step,
        last.octave,
        last.done,
        last.size,
    )
    kept = light.x.untyped_storage().nbytes() + light.maps.untyped_storage().nbytes()
    assert kept <= 8 and last.x.untyped_storage().nbytes() >= 96 * 128 * 3 * 4


def test_a_record_keeps_every_loss_and_thumbnails_of_the_size_asked(tiny) -> None:
    record = _record(tiny)
    for frame in record.run:
        record.record(frame, picture=False)
    assert record.done and record.steps == 3 and len(record.store.losses) == 3
    thumbs = [f.image for f in record.store.frames]
    assert thumbs and max(max(t.shape[:2]) for t in thumbs) <= 32  # the page's thumbnail side
    assert record.timeline()[-1].step == record.latest.step


def test_pictures_only_when_asked_or_kept_and_the_channels_drawn_are_the_count_asked(tiny) -> None:
    record = _record(tiny)
    record.channel_count = 4
    frame = next(iter(record.run))
    pictures = record.record(frame, picture=True)
    assert pictures is not None and pictures[0].shape == frame.image.shape
    assert record.channels is not None and len(record.channels) == 4


def test_stop_is_final_late_frames_are_dropped(tiny) -> None:
    record = _record(tiny, iterations=6)
    frames = iter(record.run)
    for _ in range(3):
        record.record(next(frames), picture=False)
    record.finalize()  # Stop
    timeline = len(record.timeline())
    assert record.record(next(frames), picture=True) is None  # a late frame
    assert record.steps == 3 and not record.done
    assert len(record.timeline()) == timeline and record.params()["steps"] == 3


def test_downloads_are_made_once_and_carry_the_parameters(tiny) -> None:
    from dreamlab.media import read_png_params

    record = _record(tiny)
    with pytest.raises(ValueError):
        record.png()  # nothing dreamed yet: no empty picture
    for frame in record.run:
        record.record(frame, picture=False)
    png = record.png()
    assert record.png() is png  # cached: a second click makes nothing again
    assert read_png_params(png)["config"]["iterations"] == 3
    assert record.video("gif")[:6] == b"GIF89a"
    assert record.video("mp4")[4:8] == b"ftyp"
    assert json.loads(json.dumps(record.params()))["finished"] is True


def test_the_zoom_loop_keeps_one_jpeg_per_loop_frame_and_its_video_plays_them(tiny) -> None:
    record = _record(tiny, zoom_frames=2, zoom=1.05)
    for frame in record.run:
        record.record(frame, picture=False)
    assert len(record.loop_frames) == 3  # the dream, then one frame per zoom
    assert len(record.video_frames()) == 3


def test_a_session_pulls_photo_then_noise_and_closes_both(tiny) -> None:
    photo, noise = _record(tiny), _record(tiny, "noise")
    session = DreamSession(photo, noise)
    assert list(session) == ["photo", "noise"] and session.model is tiny
    assert session.total == 6 and not session.done
    kinds = []
    for record, frame in session.frames():
        record.record(frame, picture=False)
        kinds.append(record.kind)
    assert kinds == ["photo"] * 3 + ["noise"] * 3
    assert session.done
    session.close()
    assert all(r.final for r in session.values())
    assert session["photo"].latest.x.untyped_storage().nbytes() <= 8  # settled: tensors gone
    with pytest.raises(ValueError):
        DreamSession()


def test_pick_channels_puts_the_chosen_one_first_then_the_most_active() -> None:
    maps = np.zeros((5, 2, 2), np.float32)
    maps[3] = 9.0
    maps[1] = 5.0
    assert pick_channels(maps, None, 3)[:2] == [3, 1]
    assert pick_channels(maps, 4, 3)[:3] == [4, 3, 1]


def test_the_session_module_imports_no_streamlit() -> None:
    assert "dreamlab.dream.session" in sys.modules
    import ast
    import inspect

    import dreamlab.dream.session as mod

    tree = ast.parse(inspect.getsource(mod))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(n.startswith("streamlit") for n in names)
