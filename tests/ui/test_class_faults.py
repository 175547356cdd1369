"""Headless: the faults a new user met on the pages, each checked (AppTest and units).

The browser halves (the dream's drawn width, Dream disabled in Chromium, presenter sizes, the
``/convolution`` address, the Position slider during Play, a refused upload) are in
``tests/e2e/test_class_faults.py``.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dreamlab.ui.i18n import translate
from tests.ui.conftest import assert_clean, page_app


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    """``app(module, present=False)``: the page run once, in English."""

    def make(module: str, present: bool = False):
        monkeypatch.setattr("dreamlab.ui.i18n.current_lang", lambda: "en")
        return page_app(module, present=present).run()

    return make


def _dream_button(at):
    (button,) = [b for b in at.button if b.key == "dd_dream"]
    return button


def _tiny(at, *, octaves: int = 1, iterations: int = 1) -> None:
    at.slider(key="dd_octaves").set_value(octaves)
    at.slider(key="dd_iterations").set_value(iterations)
    at.select_slider(key="dd_max_side").set_value(128)


def _image_captions(at) -> list[str]:
    """The captions of every ``st.image`` on the page."""
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def _chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


# ---------------------------------------------------------------- 2. presets, captions, loss chart


@pytest.mark.parametrize("preset", ["google2015", "seed"])
def test_a_preset_without_its_network_keeps_dream_disabled_until_the_recipe(app, preset) -> None:
    at = app("deepdream")
    assert not _dream_button(at).disabled
    at.selectbox(key="dd_preset").set_value(preset).run()
    assert not at.exception
    assert at.session_state["dd_model"] == "efficientnet_lite0"  # its network is not here
    assert _dream_button(at).disabled  # today it dreamed the preset's numbers on EfficientNet
    assert any("Use the closest recipe" in c.value for c in at.caption)
    at.button(key="dd_fallback").click().run()
    assert_clean(at)
    assert not _dream_button(at).disabled


def test_choosing_another_model_also_lets_the_preset_dream(app) -> None:
    at = app("deepdream")
    at.selectbox(key="dd_preset").set_value("google2015").run()
    assert _dream_button(at).disabled
    at.selectbox(key="dd_model").set_value("tiny_cnn").run()
    assert not at.exception
    assert not _dream_button(at).disabled  # the user chose what to dream on


def test_a_dream_caption_names_its_model_and_layer(app) -> None:
    at = app("deepdream")
    at.selectbox(key="dd_preset").set_value("google2015").run()
    at.button(key="dd_fallback").click().run()
    _tiny(at)
    _dream_button(at).click().run()
    assert_clean(at)
    captions = _image_captions(at)
    ran = [c for c in captions if "EfficientNet-Lite0, layer _blocks.10" in c]
    assert ran and "closest recipe to Google 2015 (GoogLeNet)" in ran[0]


def test_a_one_step_loss_chart_is_a_dot_on_a_readable_axis(app) -> None:
    at = app("deepdream")
    _tiny(at)
    _dream_button(at).click().run()
    assert_clean(at)
    assert at.session_state["dd_runs"]["photo"].steps == 1
    (spec,) = _chart_specs(at)
    text = json.dumps(spec)
    assert '"point"' in text  # one step is a dot, not an empty box
    y = _encoding(spec, "y")
    low, high = y["scale"]["domain"]
    assert low < high and y["axis"]["format"] == ".3~g"  # not "0.000000"


def _encoding(spec: dict, channel: str) -> dict:
    """The first layer's encoding of ``channel`` (the line and the dots share it)."""
    layers = spec.get("layer") or [spec]
    return (spec.get("encoding") or layers[0]["encoding"])[channel]


# ---------------------------------------------------------------- 6. the zoom loop


def test_the_zoom_loops_slider_runs_over_its_frames(app) -> None:
    at = app("deepdream")
    _tiny(at)
    at.slider(key="dd_zoom_frames").set_value(2)
    _dream_button(at).click().run()
    assert_clean(at)
    state = at.session_state["dd_runs"]["photo"]
    assert len(state.loop_frames) == 3
    assert at.slider(key="dd_scrub").max == 3  # today: every kept step (more than 3)
    assert any(c.startswith("Zoom loop frame 3 of 3") for c in _image_captions(at))
    at.slider(key="dd_scrub").set_value(1).run()
    assert_clean(at)
    assert any(c.startswith("Zoom loop frame 1 of 3") for c in _image_captions(at))


def test_the_progress_line_says_which_zoom_frame() -> None:
    from dreamlab.ui.pages import deepdream as page

    class Frame:  # the fields the progress line reads
        octave, num_octaves, iteration, iterations, loss, loop = 0, 1, 4, 10, 1.5, 3

    text = page._progress_text(Frame(), "photo", zoom_frames=10)
    assert text.startswith("Zoom loop frame 4 of 11 · ") and "step 5/10" in text
    assert "Zoom" not in page._progress_text(Frame(), "photo")


# ---------------------------------------------------------------- 5. an upload never becomes the sample


def test_upload_chosen_without_a_readable_file_never_dreams_the_sample(app) -> None:
    at = app("deepdream")
    at.selectbox(key="dd_source").set_value("__upload__").run()
    assert not at.exception
    assert _dream_button(at).disabled  # today: Dream dreamed the sample cat
    assert any(c.value == translate("en", "pages.no_image") for c in at.caption)


# ---------------------------------------------------------------- 3. the sliding window's labels


def _drawn(text: str, font) -> np.ndarray:
    img = Image.new("L", (120, 40), 0)
    ImageDraw.Draw(img).text((4, 4), text, fill=255, font=font)
    return np.asarray(img)


def test_labels_use_a_real_font_that_draws_the_times_sign() -> None:
    from dreamlab.viz import label_font

    font = label_font(15)
    assert font.getname()[0] == "DejaVu Sans"
    missing = _drawn("\U000f0000", font)  # a private-use character: the missing-glyph box
    times = _drawn("×", font)
    assert times.any() and not np.array_equal(times, missing)  # today: "×" drawn as that box


def test_the_sliding_window_numbers_are_large() -> None:
    from dreamlab.ui.parts import convolution_window as page

    assert page._CELL >= 56 and min(page._CELL_FONT, page._WEIGHT_FONT, page._OUT_FONT) >= 14


# ---------------------------------------------------------------- 4. feature maps at the cap


def test_a_capped_layer_says_its_real_map_size_once(app) -> None:
    at = app("feature_maps")
    at.select_slider(key="fm_layer_efficientnet_lite0").set_value("_head_act").run()
    assert_clean(at)
    heading = at.subheader[1].value
    h, w = (int(v) for v in re.search(r"of (\d+) x (\d+)", heading).groups())
    assert min(h, w) < 28  # the cap stops the enlargement short of 28 on this photo
    captions = [c.value for c in at.caption]
    assert not [c for c in captions if "at least 28 values" in c]  # today: said, then denied
    (note,) = [c for c in captions if f"{h} x {w} values" in c]
    assert "memory cap" in note


# ---------------------------------------------------------------- 9. a clicked pixel answers


def test_clicking_an_output_pixel_says_so_under_the_output(app, monkeypatch) -> None:
    clicks = iter([(100.0, 50.0)])
    monkeypatch.setattr(
        "dreamlab.ui.pages.convolution.clickable_image",
        lambda image, **kw: next(clicks, None),
    )
    at = app("convolution")
    assert_clean(at)
    captions = [c.value for c in at.caption]
    (said,) = [c for c in captions if "Pixel (50, 100) picked" in c]
    assert "Pixel inspector" in said
    assert [t.value for t in at.toast if "Pixel (50, 100) picked" in t.value]
