"""The Live camera page's settings in the address, and the DeepDream settings written as they change.

Live camera: the address sets every mode's widgets, the widgets write the address (short keys,
defaults left out), a bad value is named in one line and keeps its default, and the language switch
(from the first run, after a change, after a snapshot, in each mode) changes the words only.
DeepDream: its settings are no longer a form: a slider moved writes the address at once and starts
no dream.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dreamlab.dream.config import DreamConfig
from dreamlab.images import load_sample
from dreamlab.ui.i18n import set_outside_run_lang
from dreamlab.ui.settings import LiveSettings, from_query, to_query
from tests.ui.conftest import assert_clean, page_app
from tests.ui.test_page_settings import _flat, _open, _page_query, _switch, _values

_IGNORED = "Ignored in the address"


@pytest.fixture(autouse=True)
def _snapshots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Snapshots (AppTest has no browser session for WebRTC anyway); models to a temp folder."""
    monkeypatch.setenv("DREAMLAB_LIVE", "snapshots")
    monkeypatch.setenv("DREAMLAB_MODELS", str(tmp_path / "models"))
    set_outside_run_lang("en")


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(load_sample("chelsea", max_side=320)).save(buf, format="JPEG")
    return buf.getvalue()


def _ignored_lines(at) -> list[str]:
    return [w.value for w in at.warning if str(w.value).startswith(_IGNORED)]


def test_defaults_leave_the_address_bare() -> None:
    at = _open("live_camera", {})
    assert_clean(at)
    assert _flat(_page_query(at)) == {}
    assert at.radio(key="live_mode").value == "convolution"
    assert at.selectbox(key="live_preset").value == "horizontal_edge"


def test_the_address_sets_each_modes_widgets_and_stays_whole() -> None:
    query = {"mode": "feature_maps", "l": "_blocks.6", "cnt": "9", "k": "sobel_x", "s": "2"}
    query |= {"c": "rgb", "v": "signed", "dl": "_blocks.5", "st": "4", "cy": "0.5"}
    at = _open("live_camera", query)
    assert_clean(at)
    assert at.radio(key="live_mode").value == "feature_maps"
    assert at.select_slider(key="live_fm_layer_efficientnet_lite0").value == "_blocks.6"
    assert at.slider(key="live_count").value == 9
    assert _flat(_page_query(at)) == query  # the other modes' settings are kept too
    at.radio(key="live_mode").set_value("convolution").run()
    assert_clean(at)
    assert at.selectbox(key="live_preset").value == "sobel_x"
    assert at.slider(key="live_stride").value == 2
    assert at.radio(key="live_color").value == "rgb"
    assert at.radio(key="live_view").value == "signed"
    assert _flat(_page_query(at)) == {k: v for k, v in query.items() if k != "mode"}  # default
    at.radio(key="live_mode").set_value("dream").run()
    assert_clean(at)
    assert at.select_slider(key="live_dream_layer_efficientnet_lite0").value == "_blocks.5"
    assert at.slider(key="live_steps").value == 4
    assert at.slider(key="live_carry").value == pytest.approx(0.5)
    assert _flat(_page_query(at)) == {**query, "mode": "dream"}


def test_the_widgets_write_the_address_as_they_change() -> None:
    at = _open("live_camera", {})
    at.slider(key="live_dilation").set_value(3).run()
    assert _flat(_page_query(at)) == {"d": "3"}
    at.selectbox(key="live_preset").set_value("gaussian_blur").run()
    at.select_slider(key="live_size").set_value(7).run()
    assert _flat(_page_query(at)) == {"d": "3", "k": "gaussian_blur", "n": "7"}
    at.radio(key="live_mode").set_value("feature_maps").run()
    at.select_slider(key="live_fm_layer_efficientnet_lite0").set_value("_blocks.1").run()
    assert_clean(at)
    assert _flat(_page_query(at))["l"] == "_blocks.1"
    default = at.session_state["live_layer_defaults"]["live_fm_layer_efficientnet_lite0"]
    at.select_slider(key="live_fm_layer_efficientnet_lite0").set_value(default).run()
    assert "l" not in _page_query(at)  # the page's own default layer is left out again


def test_a_custom_kernel_travels_as_its_weights() -> None:
    at = _open("live_camera", {"k": "custom", "w": "0,1,0;1,-4,1;0,1,0"})
    assert_clean(at)
    assert at.text_input(key="live_custom").value == "[[0, 1, 0], [1, -4, 1], [0, 1, 0]]"
    at.text_input(key="live_custom").input("[[1, 0, -1], [2, 0, -2], [1, 0, -1]]").run()
    assert_clean(at)
    assert _flat(_page_query(at))["w"] == "1,0,-1;2,0,-2;1,0,-1"
    at.text_input(key="live_custom").input("[[1, 2], [3]]").run()  # a bad kernel: one line
    assert not at.exception and len(at.error) == 1
    assert _flat(_page_query(at))["w"] == "1,0,-1;2,0,-2;1,0,-1"  # the last good one stays


def test_bad_values_are_named_in_one_line_and_the_rest_is_kept() -> None:
    at = _open("live_camera", {"mode": "feature_maps", "cnt": "99", "l": "features.26", "z": "1"})
    assert not at.exception
    (line,) = _ignored_lines(at)
    for item in ("cnt=99", "l=features.26", "z=1"):
        assert item in line
    assert at.radio(key="live_mode").value == "feature_maps"  # the good setting is kept
    assert at.slider(key="live_count").value == LiveSettings().count
    at = _open("live_camera", {"mode": "sideways", "w": "1,2;3", "k": "custom"})
    (line,) = _ignored_lines(at)
    assert "mode=sideways" in line and "w=1,2;3" in line
    assert at.radio(key="live_mode").value == "convolution"
    assert at.selectbox(key="live_preset").value == "custom"


def test_snapshots_asked_in_the_address_stay_in_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DREAMLAB_LIVE")
    at = _open("live_camera", {"live": "snapshots"})
    assert_clean(at)
    at.slider(key="live_stride").set_value(2).run()
    assert _flat(_page_query(at)) == {"live": "snapshots", "s": "2"}
    assert LiveSettings(live="snapshots") == from_query(LiveSettings, {"live": "off"})[0]


@pytest.mark.parametrize("mode", ["convolution", "feature_maps", "dream"])
def test_switching_language_changes_words_only(mode: str) -> None:
    query = {"mode": mode, "s": "2", "cnt": "4", "st": "1", "k": "sobel_y"}
    french = _values(_open("live_camera", query, lang="fr"))  # French from the first run
    at = _open("live_camera", query)
    before = _values(at)
    assert french == before
    _switch(at, "fr")
    assert_clean(at)
    assert _values(at) == before
    change = {"convolution": ("slider", "live_dilation", 2)}
    change |= {"feature_maps": ("slider", "live_count", 8), "dream": ("slider", "live_steps", 3)}
    kind, key, value = change[mode]
    getattr(at, kind)(key=key).set_value(value).run()
    changed = _values(at)
    _switch(at, "en")
    assert _values(at) == changed
    if mode != "dream":  # a snapshot through the mode (a dream step is slow on a busy CPU)
        at.camera_input(key="live_snapshot").set_value(("s.jpg", _jpeg(), "image/jpeg")).run()
        assert_clean(at)
        shot = _values(at)
        _switch(at, "fr")
        assert_clean(at)
        assert _values(at) == shot == changed
    set_outside_run_lang("en")


_hostile = st.dictionaries(
    st.sampled_from(["mode", "k", "w", "n", "s", "d", "c", "v", "m", "l", "dl", "cnt", "st", "cy"])
    | st.text(min_size=1, max_size=8),
    st.text(max_size=40) | st.sampled_from(["nan", "1e999", "-1", "99999999", "feature_maps"]),
    max_size=6,
)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=_hostile)
def test_hostile_addresses_open_the_page_with_one_line(query: dict[str, str]) -> None:
    reserved = ("lang", "present", "class", "lesson", "step", "live")
    at = _open("live_camera", {k: v for k, v in query.items() if k not in reserved})
    assert not at.exception, [e.value for e in at.exception]
    assert len(_ignored_lines(at)) <= 1


def test_settings_round_trip_through_the_address() -> None:
    chosen = LiveSettings(mode="dream", kernel="custom", weights=((0.5,),), stride=3, carry=0.3)
    assert from_query(LiveSettings, to_query(chosen)) == (chosen, [])


# ---------------------------------------------------------------- DeepDream: no form


def test_deepdream_settings_reach_the_address_as_they_change_and_dream_nothing() -> None:
    at = page_app("deepdream").run()
    assert_clean(at)
    at.slider(key="dd_iterations").set_value(3).run()
    assert _flat(_page_query(at)) == {"it": "3"}
    at.slider(key="dd_lr").set_value(0.1).run()
    at.number_input(key="dd_seed").set_value(7).run()
    assert _flat(_page_query(at)) == {"it": "3", "lr": "0.1", "seed": "7"}
    assert "dd_runs" not in at.session_state  # no change started a dream
    at.slider(key="dd_iterations").set_value(DreamConfig().iterations).run()
    assert _flat(_page_query(at)) == {"lr": "0.1", "seed": "7"}  # a default is left out
