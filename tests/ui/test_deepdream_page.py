"""The DeepDream page headless (AppTest): nothing runs before Dream; a dream fills the results."""

from __future__ import annotations

import json

import pytest

from dreamlab.media import read_png_params
from dreamlab.ui.i18n import translate
from tests.ui.conftest import assert_clean, page_app


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    """``app(lang, present)``: the page run once, the language pinned for format functions."""

    def make(lang: str = "en", present: bool = False):
        monkeypatch.setattr("dreamlab.ui.i18n.current_lang", lambda: lang)
        return page_app("deepdream", lang=lang, present=present).run()

    return make


def _small(at) -> None:
    """Settings for a quick dream (a few steps on a small image)."""
    at.slider(key="dd_octaves").set_value(2)
    at.slider(key="dd_iterations").set_value(2)
    at.select_slider(key="dd_max_side").set_value(128)


def _dream_button(at):
    (button,) = [b for b in at.button if b.key.startswith("FormSubmitter:dd_form")]
    return button


@pytest.mark.parametrize(("lang", "label"), [("en", "Dream"), ("fr", "Rêver")])
def test_page_renders_and_waits_for_dream(app, lang: str, label: str) -> None:
    at = app(lang)
    assert_clean(at)
    assert at.title[0].value == translate(lang, "deepdream.title") == "DeepDream"
    assert _dream_button(at).label == label
    assert "dd_runs" not in at.session_state  # nothing dreamed before the button
    assert at.info  # the hint to press Dream


def test_moving_sliders_runs_no_model(app) -> None:
    at = app()
    at.slider(key="dd_iterations").set_value(30).run()
    at.select_slider(key="dd_layer_efficientnet_lite0").set_value("_blocks.3").run()
    assert_clean(at)
    assert "dd_runs" not in at.session_state


def test_dream_fills_results_and_downloads(app) -> None:
    at = app()
    _small(at)
    _dream_button(at).click().run()
    assert_clean(at)
    runs = at.session_state["dd_runs"]
    photo = runs["photo"]
    assert photo.done and photo.steps == 4 and len(photo.store.frames) == 4
    assert [s.value for s in at.success] == ["Finished: 4 steps."]
    assert len(at.get("vega_lite_chart")) == 1  # the loss curve
    keys = [d.key for d in at.get("download_button")]
    assert keys == ["dd_dl_png", "dd_dl_gif", "dd_dl_mp4", "dd_dl_json"]
    params = read_png_params(_png(photo))
    assert params["config"]["iterations"] == 2 and params["finished"] is True
    at.slider(key="dd_scrub").set_value(1).run()
    assert_clean(at)


def _png(state) -> bytes:
    from dreamlab.ui.deepdream import _download_png

    return _download_png(state)


def test_videos_and_json_download_data() -> None:
    from dreamlab.dream import DreamConfig, dream
    from dreamlab.images import load_sample
    from dreamlab.models import load_model
    from dreamlab.ui import deepdream as page

    model = load_model("efficientnet_lite0", device="cpu")
    cfg = DreamConfig(max_side=96, num_octaves=1, iterations=3)
    state = page._RunState("photo", model, cfg, dream(load_sample("coffee"), model, cfg),
                           "coffee", "default")  # fmt: skip
    for frame in state.run:
        page._record(state, frame, picture=False)
    assert page._download_video(state, "gif")[:6] == b"GIF89a"
    assert page._download_video(state, "mp4")[4:8] == b"ftyp"
    assert json.loads(json.dumps(state.params()))["steps"] == 3


def test_dream_from_noise_is_shown_next_to_the_photo(app) -> None:
    at = app()
    _small(at)
    at.checkbox(key="dd_noise").check()
    _dream_button(at).click().run()
    assert_clean(at)
    runs = at.session_state["dd_runs"]
    assert set(runs) == {"photo", "noise"} and runs["noise"].done
    assert translate("en", "deepdream.compare") in [s.value for s in at.subheader]
    assert runs["noise"].latest.image.shape == runs["photo"].latest.image.shape


def test_preset_fills_the_form(app) -> None:
    at = app()
    at.selectbox(key="dd_preset").set_value("seed").run()
    assert_clean(at)
    assert at.slider(key="dd_iterations").value == 25
    assert at.slider(key="dd_scale").value == pytest.approx(2.0)
    assert at.slider(key="dd_jitter").value == 0
    assert "dd_runs" not in at.session_state


def test_bad_channel_is_one_line_and_keeps_the_last_dream(app) -> None:
    at = app()
    _small(at)
    _dream_button(at).click().run()
    first = at.session_state["dd_runs"]
    at.number_input(key="dd_channel").set_value(999)
    _dream_button(at).click().run()
    assert not at.exception
    assert len(at.error) == 1 and "channel 999 is out of range" in at.error[0].value
    assert at.session_state["dd_runs"] is first  # the previous dream is still there


def test_presenter_mode_folds_the_advanced_controls(app) -> None:
    at = app(present=True)
    assert_clean(at)
    assert at.expander  # "More settings" holds the secondary controls
