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
    (button,) = [b for b in at.button if b.key == "dd_dream"]
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
    at.slider(key="dd_scrub").set_value(1).run()  # the run's own slider
    assert_clean(at)


def _png(state) -> bytes:
    return state.png()


def test_videos_and_json_download_data() -> None:
    from dreamlab.dream import DreamConfig, dream
    from dreamlab.dream.session import DreamRecord
    from dreamlab.images import load_sample
    from dreamlab.models import load_model

    model = load_model("efficientnet_lite0", device="cpu")
    cfg = DreamConfig(max_side=96, num_octaves=1, iterations=3)
    state = DreamRecord(
        "photo", model, cfg, dream(load_sample("coffee"), model, cfg), "coffee", "default"
    )
    for frame in state.run:
        state.record(frame, picture=False)
    assert state.video("gif")[:6] == b"GIF89a"
    assert state.video("mp4")[4:8] == b"ftyp"
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


def test_dream_button_comes_first_in_the_settings_box(app) -> None:
    at = app()
    (box,) = [b for b in _blocks(at.main) if getattr(b, "key", None) == "dd_settings"]
    first = next(iter(box.children.values()))
    assert first.key == "dd_dream" and first.label == "Dream"


def _blocks(block):
    """Every block under ``block``, itself included."""
    yield block
    for child in getattr(block, "children", {}).values():
        yield from _blocks(child)


def test_preset_whose_model_is_missing_offers_the_closest_recipe(app) -> None:
    at = app()
    at.selectbox(key="dd_preset").set_value("seed").run()
    assert not at.exception
    assert at.selectbox(key="dd_model").value == "efficientnet_lite0"  # VGG19 is not here
    (warning,) = [w.value for w in at.warning]
    assert "VGG19" in warning and "not here" in warning and "offline" in warning
    assert not [c.value for c in at.caption if "features.26 on VGG19" in c.value]
    at.button(key="dd_fallback").click().run()
    assert_clean(at)
    assert at.select_slider(key="dd_layer_efficientnet_lite0").value == "_blocks.9"
    assert at.slider(key="dd_iterations").value == 25 and not at.warning
    assert any("Closest recipe" in c.value for c in at.caption)
    _small(at)
    _dream_button(at).click().run()
    assert_clean(at)
    params = at.session_state["dd_runs"]["photo"].params()
    assert params["preset"] is None and params["recipe_of"] == "seed"  # never labelled "seed"
    assert params["targets"] == [["_blocks.9", 1.0]]


def test_preset_whose_model_is_here_selects_it(app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "dreamlab.ui.parts.dream_controls._model_status", lambda name: ("cached", "")
    )
    at = app()
    at.selectbox(key="dd_preset").set_value("gordic").run()
    assert not at.exception
    assert at.session_state["dd_model"] == "vgg16"
    assert at.session_state["dd_layer_vgg16"] == "features.15"


def test_unavailable_model_keeps_the_form_and_the_results(app) -> None:
    at = app()
    _small(at)
    _dream_button(at).click().run()
    at.selectbox(key="dd_model").set_value("vgg19").run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning]
    assert "VGG19" in warning and "offline" in warning  # beside the picker
    assert _dream_button(at).disabled  # the form stays, Dream waits for an available model
    assert at.slider(key="dd_iterations").value == 2
    assert [s.value for s in at.success] == ["Finished: 4 steps."]  # the last results stay
    assert at.session_state["dd_runs"]["photo"].done


def test_stop_is_final_late_frames_are_dropped(lite0) -> None:
    from dreamlab.dream import DreamConfig, dream
    from dreamlab.dream.session import DreamRecord
    from dreamlab.images import load_sample

    cfg = DreamConfig(max_side=96, num_octaves=1, iterations=6)
    state = DreamRecord(
        "photo", lite0, cfg, dream(load_sample("coffee"), lite0, cfg), "coffee", "default"
    )
    frames = iter(state.run)
    for _ in range(3):
        state.record(next(frames), picture=False)
    state.finalize()  # Stop
    timeline = len(state.timeline())
    assert state.record(next(frames), picture=True) is None  # a late frame
    assert state.steps == 3 and len(state.store.losses) == 3 and not state.done
    assert len(state.timeline()) == timeline and state.params()["steps"] == 3


def test_zoom_loop_plays_and_downloads_as_mp4_and_gif(app) -> None:
    at = app()
    _small(at)
    at.slider(key="dd_octaves").set_value(1)
    at.slider(key="dd_zoom_frames").set_value(2)
    at.slider(key="dd_rotate").set_value(2.0)
    _dream_button(at).click().run()
    assert_clean(at)
    photo = at.session_state["dd_runs"]["photo"]
    assert photo.done and len(photo.loop_frames) == 3  # the dream, then one frame per zoom
    assert photo.config.zoom_frames == 2 and photo.config.rotate == 2.0
    assert at.get("video")  # the loop plays on the page
    assert translate("en", "deepdream.zoom_result") in [s.value for s in at.subheader]
    assert photo.video("mp4")[4:8] == b"ftyp"
    assert photo.video("gif")[:6] == b"GIF89a"


def test_guided_dream(app) -> None:
    at = app()
    _small(at)
    at.toggle(key="dd_guide_on").set_value(True).run()
    _dream_button(at).click().run()
    assert_clean(at)
    photo = at.session_state["dd_runs"]["photo"]
    assert photo.done and photo.config.guide is not None
    assert photo.params()["config"]["guide"] is not None  # its size is in the parameters


def test_extra_layers_with_weights_and_a_maps_switch(app) -> None:
    at = app()
    _small(at)
    at.multiselect(key="dd_extra_efficientnet_lite0").set_value(["_blocks.5"]).run()
    at.number_input(key="dd_w_efficientnet_lite0__blocks.5").set_value(0.5).run()
    _dream_button(at).click().run()
    assert_clean(at)
    photo = at.session_state["dd_runs"]["photo"]
    assert photo.run.plan.targets == (("_blocks.9", 1.0), ("_blocks.5", 0.5))
    at.radio(key="dd_maps").set_value("_blocks.5").run()
    assert_clean(at)
    assert any("Maps of _blocks.5" in c for c in _image_captions(at))


def _image_captions(at) -> list[str]:
    return [c for e in at.main if e.type == "image" for c in e.captions]


def test_french_labels_of_the_new_sections(app) -> None:
    at = app("fr")
    assert_clean(at)
    labels = [e.label for e in at.expander]
    for key in ("zoom_title", "guide_title", "layers_title"):
        assert translate("fr", f"deepdream.{key}") in labels
