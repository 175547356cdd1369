"""Class broadcast headless (AppTest): Share with the class, the viewer of ?class=CODE, bad codes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from dreamlab.media import jpeg_bytes
from dreamlab.runtime.broadcast import CODE_ALPHABET, CODE_LENGTH
from dreamlab.ui.i18n import translate
from dreamlab.ui.parts.classroom import class_store
from tests.ui.conftest import assert_clean, page_app


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    """``app(lang, query)``: the DeepDream page, not yet run, with the given query parameters."""

    def make(lang: str = "en", **query: str):
        monkeypatch.setattr("dreamlab.ui.i18n.current_lang", lambda: lang)
        monkeypatch.setattr("dreamlab.ui.parts.classroom._WATCH_S", 0.0)  # one pass, no waiting
        at = page_app("deepdream", lang=lang)
        for key, value in query.items():
            at.query_params[key] = value
        return at

    return make


def _button(at, key: str):
    (button,) = [b for b in at.button if b.key == key]
    return button


def _teacher_frame(code: str, **config: object) -> None:
    """What a sharing teacher's dream loop leaves in the store (settings as the page sends them)."""
    image = np.full((48, 64, 3), 120, np.uint8)
    settings = {
        "model": "efficientnet_lite0",
        "source": "coffee",
        "preset": "default",
        "config": {
            "layer": "_blocks.5",
            "num_octaves": 2,
            "iterations": 7,
            "lr": 0.03,
            "octave_scale": 1.4,
            "jitter": 16,
            "smoothing": 0.0,
            "max_side": 128,
            "seed": 5,
            "channel": None,
            **config,
        },
    }
    class_store().publish(
        code,
        jpeg_bytes(image),
        jpeg_bytes(image),
        progress=0.5,
        text="From the photo: octave 1/2",
        settings=settings,
    )


@pytest.mark.parametrize(
    ("lang", "label"), [("en", "Share with the class"), ("fr", "Partager avec la classe")]
)
def test_share_gives_a_code_a_link_and_a_qr_code(app, lang: str, label: str) -> None:
    at = app(lang).run()
    assert_clean(at)
    share = _button(at, "cls_share")
    assert share.label == label
    images_before = len(at.get("image"))
    share.click().run()
    assert_clean(at)
    code = at.session_state["cls_code"]
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert class_store().is_live(code)
    links = [c.value for c in at.code]
    assert any(f"class={code}" in link for link in links)
    assert any(code in m.value for m in at.markdown)
    assert len(at.get("image")) == images_before + 1  # the QR code
    _button(at, "cls_stop").click().run()
    assert_clean(at)
    assert "cls_code" not in at.session_state and not class_store().is_live(code)
    assert [b for b in at.button if b.key == "cls_share"]  # back to the share button


def test_sharing_teacher_publishes_the_dream_and_its_end(app) -> None:
    at = app().run()
    _button(at, "cls_share").click().run()
    code = at.session_state["cls_code"]
    _dream(at, octaves=2)
    frame = class_store().latest(code)
    assert frame is not None and frame.state == "finished" and frame.progress == 1.0
    assert frame.image[:2] == b"\xff\xd8"  # encoded once, as JPEG
    assert frame.settings["config"]["iterations"] == 2 and frame.settings["model"]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_wrong_code_is_one_line_and_the_page_still_works(app, lang: str) -> None:
    at = app(lang, **{"class": "ZZZZZZ"}).run()
    assert not at.exception
    assert [e.value for e in at.error] == [translate(lang, "classroom.bad_code", code="ZZZZZZ")]
    assert at.title[0].value == "DeepDream"
    assert [b for b in at.button if b.key == "dd_dream"]  # normal page


def test_expired_code_is_the_same_one_line(app) -> None:
    code = class_store().create()
    class_store().close(code)  # stopped or expired: the store no longer knows it
    at = app(**{"class": code}).run()
    assert len(at.error) == 1 and code in at.error[0].value


def test_viewer_waits_for_the_first_frame(app) -> None:
    code = class_store().create()
    at = app(**{"class": code.lower()}).run()  # codes are case-insensitive
    assert_clean(at)
    assert [i.value for i in at.info] == [translate("en", "classroom.waiting")]
    assert _button(at, "cls_adopt").label == "Dream with these settings"
    assert not [b for b in at.button if b.key == "dd_dream"]


def test_viewer_sees_the_frame_and_takes_the_settings(app) -> None:
    code = class_store().create()
    _teacher_frame(code)
    at = app(**{"class": code}).run()
    assert_clean(at)
    images = at.get("image")
    assert len(images) == 2  # the dream and its maps, as stored
    frame = class_store().latest(code)
    urls = [image.proto.imgs[0].url for image in images]
    assert urls == [frame.image_uri, frame.maps_uri]  # the stored bytes, no media file per viewer
    assert at.get("progress")[0].proto.text == "From the photo: octave 1/2"
    assert any("_blocks.5" in c.value for c in at.caption)  # the settings line
    _button(at, "cls_adopt").click().run()
    assert_clean(at)
    assert "class" not in at.query_params
    assert at.slider(key="dd_iterations").value == 7
    assert at.slider(key="dd_octaves").value == 2
    assert at.select_slider(key="dd_max_side").value == 128
    assert at.select_slider(key="dd_layer_efficientnet_lite0").value == "_blocks.5"
    assert at.number_input(key="dd_seed").value == 5
    assert at.selectbox(key="dd_source").value == "coffee"
    assert [s.value for s in at.success] == [translate("en", "classroom.loaded", code=code)]


def test_viewer_sees_a_finished_dream(app) -> None:
    code = class_store().create()
    _teacher_frame(code)
    class_store().mark(code, "finished")
    at = app("fr", **{"class": code}).run()
    assert_clean(at)
    assert [s.value for s in at.success] == [translate("fr", "classroom.finished")]
    assert _button(at, "cls_adopt").label == "Rêver avec ces réglages"


def _dream(at, octaves: int = 1) -> None:
    """Press Dream with the smallest settings (2 steps per octave at 128 px)."""
    at.slider(key="dd_octaves").set_value(octaves)
    at.slider(key="dd_iterations").set_value(2)
    at.select_slider(key="dd_max_side").set_value(128)
    (dream,) = [b for b in at.button if b.key == "dd_dream"]
    dream.click().run()
    assert_clean(at)


def test_the_teachers_own_photo_goes_to_the_class(app) -> None:
    """A teacher who dreams from an upload shares it; Dream with these settings starts from it."""
    from PIL import Image

    from dreamlab.images import LoadedImage

    teacher = app().run()
    _button(teacher, "cls_share").click().run()
    code = teacher.session_state["cls_code"]
    photo = np.zeros((96, 128, 3), np.uint8)
    photo[:, :64] = (200, 30, 30)  # left half red: recognisable after a JPEG round trip
    teacher.session_state["dd_last_image"] = LoadedImage(photo, name="mine.png")
    teacher.selectbox(key="dd_source").set_value("__upload__").run()  # the upload is kept
    _dream(teacher)
    shared = class_store().photo(code)
    assert shared is not None and shared[:2] == b"\xff\xd8"
    got = np.asarray(Image.open(io.BytesIO(shared)).convert("RGB"))
    assert got.shape == (96, 128, 3) and got[40, 10, 0] > 150 and got[40, 120, 0] < 60

    viewer = app(**{"class": code}).run()
    _button(viewer, "cls_adopt").click().run()
    assert_clean(viewer)
    picker = viewer.selectbox(key="dd_source")
    assert picker.value == "__class__"
    assert translate("en", "common.class_photo") in picker.options
    assert viewer.session_state["dd_last_image"].array.shape == (96, 128, 3)


def test_a_sample_photo_is_not_sent(app) -> None:
    teacher = app().run()
    _button(teacher, "cls_share").click().run()
    code = teacher.session_state["cls_code"]
    teacher.selectbox(key="dd_source").set_value("coffee").run()
    _dream(teacher)  # a sample: the viewer gets it by name
    frame = class_store().latest(code)
    assert frame is not None and class_store().photo(code) is None
    viewer = app(**{"class": code}).run()
    _button(viewer, "cls_adopt").click().run()
    assert viewer.selectbox(key="dd_source").value == "coffee"  # "coffee.png" on the teacher's side
