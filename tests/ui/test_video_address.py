"""The DeepDream page's video source in the address: set the query -> the widgets; change the
widgets -> the query; bad values -> their defaults and one line; an uploaded clip stays out."""

from __future__ import annotations

from typing import Any

import pytest

from dreamlab.ui.i18n import translate
from dreamlab.ui.settings import DreamSettings
from tests.ui.conftest import assert_clean, page_app

# the address -> the widget values it must give
QUERY = {
    "src": "video",
    "coh": "blend",
    "bl": "0.5",
    "t0": "1",
    "t1": "2.5",
    "fps": "6",
    "fs": "128",
    "cmp": "1",
}
EXPECT = {
    "dd_media": "video",
    "dv_coherence": "blend",
    "dv_blend": 0.5,
    "dv_start": 1.0,
    "dv_end": 2.5,
    "dv_fps": 6,
    "dv_side": 128,
    "dv_compare": True,
}


def _open(query: dict[str, str], lang: str = "en"):
    at = page_app("deepdream", lang=lang)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _query(at) -> dict[str, str]:
    flat = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    return {k: v for k, v in flat.items() if k not in ("lang", "present")}


def _ignored_lines(at) -> list[str]:
    return [w.value for w in at.warning if str(w.value).startswith("Ignored in the address")]


def _widgets(at) -> dict[str, Any]:
    return {key: at.session_state[key] for key in EXPECT}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_address_sets_the_video_widgets(lang: str) -> None:
    at = _open(QUERY, lang)
    assert_clean(at)
    assert not _ignored_lines(at)
    assert _widgets(at) == EXPECT
    assert at.selectbox(key="dv_coherence").value == "blend"  # the widgets drawn show them
    assert at.slider(key="dv_blend").value == 0.5
    assert at.select_slider(key="dv_side").value == 128
    assert at.checkbox(key="dv_compare").value is True
    assert _query(at) == QUERY  # what was read is written back


def test_changing_the_video_widgets_writes_the_address() -> None:
    at = _open({"src": "video"})
    assert_clean(at)
    assert _query(at) == {"src": "video"}  # every video default left out
    at.selectbox(key="dv_coherence").set_value("none").run()
    at.select_slider(key="dv_side").set_value(192).run()
    at.select_slider(key="dv_fps").set_value(24).run()
    at.number_input(key="dv_end").set_value(2.0).run()
    assert_clean(at)
    assert _query(at) == {"src": "video", "coh": "none", "fs": "192", "fps": "24", "t1": "2"}
    at.selectbox(key="dv_coherence").set_value("flow").run()  # back to the default: left out
    assert _query(at) == {"src": "video", "fs": "192", "fps": "24", "t1": "2"}


def test_the_source_choice_travels_and_photo_is_the_default() -> None:
    at = _open({})
    assert at.session_state["dd_media"] == "photo"
    assert "src" not in _query(at)
    at.session_state["dd_media"] = "video"  # what a click on Video does
    at.run()
    assert_clean(at)
    assert _query(at) == {"src": "video"}
    assert any("optical flow" in c.value for c in at.caption)  # the video controls are drawn


def test_bad_video_values_keep_their_defaults_and_one_line_names_them() -> None:
    bad = {"src": "video", "fs": "100", "coh": "magic", "bl": "2", "fps": "7", "t1": "-1"}
    at = _open({**bad, "t0": "0.5"})
    assert not at.exception
    (line,) = _ignored_lines(at)
    for key in ("fs=100", "coh=magic", "bl=2", "fps=7", "t1=-1"):
        assert key in line
    defaults = DreamSettings()
    assert at.session_state["dd_media"] == "video"  # the good settings are kept
    assert at.session_state["dv_start"] == 0.5
    assert at.session_state["dv_side"] == defaults.frame_side
    assert at.session_state["dv_coherence"] == defaults.coherence
    assert at.session_state["dv_blend"] == defaults.blend
    assert at.session_state["dv_fps"] == defaults.fps
    assert at.session_state["dv_end"] == defaults.end
    assert _query(at) == {"src": "video", "t0": "0.5"}  # the bad ones are gone from it


def test_an_uploaded_clip_cannot_travel_and_one_line_says_so() -> None:
    note = translate("en", "video.upload_note")
    at = _open({"src": "video", "fs": "128"})
    assert note not in [c.value for c in at.caption]
    at.radio(key="dv_clip").set_value("upload").run()
    assert not at.exception
    assert note in [c.value for c in at.caption]
    assert _query(at) == {"src": "video", "fs": "128"}  # clip=upload is left out
    assert translate("en", "link.upload_note") not in [c.value for c in at.caption]
    opened = _open({"src": "video", "clip": "upload"})  # typed by hand: the uploader opens
    assert_clean(opened)
    assert opened.radio(key="dv_clip").value == "upload"
