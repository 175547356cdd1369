"""Every page's settings: read from the address, written back as they change, and kept whole when
the language is switched (before and after a change, before and after a run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamlab.ui.i18n import set_outside_run_lang, translate
from tests.ui.conftest import assert_clean, page_app

_WIDGETS = (
    "radio",
    "selectbox",
    "slider",
    "select_slider",
    "number_input",
    "checkbox",
    "toggle",
    "multiselect",
)

# page -> (address, the widget values it must give, one change and the key=value it writes,
#          the button that runs the page's work, if any)
CASES: dict[str, dict[str, Any]] = {
    "convolution": {
        "query": {"k": "sobel_x", "c": "rgb", "s": "2", "p": "same", "v": "signed"},
        "expect": {
            "conv_preset": "sobel_x",
            "conv_color": "rgb",
            "conv_stride": 2,
            "conv_pad_kind": "same",
            "conv_view": "signed",
        },
        "change": ("radio", "conv_mode", "convolve", "m", "convolve"),
        "run": None,
    },
    "feature_maps": {
        "query": {"l": "_blocks.3", "o": "mean", "n": "20", "img": "coffee"},
        "expect": {
            "fm_layer_efficientnet_lite0": "_blocks.3",
            "fm_order": "mean",
            "fm_count": 20,
            "fm_source": "coffee",
        },
        "change": ("radio", "fm_scaling", "shared", "sc", "shared"),
        "run": None,
    },
    "deepdream": {
        "query": {"o": "1", "it": "1", "ms": "128", "l": "_blocks.5", "j": "8"},
        "expect": {
            "dd_octaves": 1,
            "dd_iterations": 1,
            "dd_max_side": 128,
            "dd_layer_efficientnet_lite0": "_blocks.5",
            "dd_jitter": 8,
        },
        "change": ("slider", "dd_lr", 0.1, "lr", "0.1"),  # written at once: no form
        "run": "dd_dream",
    },
    "feature_vis": {
        "query": {"st": "16", "sz": "64", "obj": "layer", "l": "_blocks.2", "tab": "compare"},
        "expect": {
            "fv_steps": 16,
            "fv_size": 64,
            "fv_kind": "layer",
            "fv_layer_efficientnet_lite0": "_blocks.2",
        },
        "change": ("radio", "fv_param", "pixel", "par", "pixel"),
        "run": "fv_go",
    },
    "train": {
        "query": {"ep": "1", "n": "200", "lr": "0.01", "bs": "64"},
        "expect": {
            "train_epochs": 1,
            "train_size_shapes": 200,
            "train_lr": 0.01,
            "train_batch": 64,
        },
        "change": ("radio", "train_optimizer", "sgd", "opt", "sgd"),
        "run": "train_start",
    },
}


@pytest.fixture(autouse=True)
def _own_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Models trained here go to a temp folder; no torchvision data set is on disk."""
    monkeypatch.setenv("DREAMLAB_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DREAMLAB_DATA", str(tmp_path / "data"))


def _open(page: str, query: dict[str, str], lang: str = "en"):
    at = page_app(page, lang=lang)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _values(at) -> dict[str, Any]:
    """Every keyed widget's value (the language switch itself left out)."""
    out = {}
    for kind in _WIDGETS:
        for w in at.get(kind):
            if w.key and w.key != "lang":
                out[w.key] = w.value
    return out


def _switch(at, lang: str):
    """Click the language; the widgets' labels are read in the new language afterwards."""
    at.radio(key="lang").set_value(lang).run()
    set_outside_run_lang(lang)
    return at


def _page_query(at) -> dict[str, str]:
    return {k: v for k, v in at.query_params.items() if k not in ("lang", "present")}


def _flat(query: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in query.items()}


@pytest.mark.parametrize("page", list(CASES))
def test_the_address_sets_the_widgets_and_the_widgets_the_address(page: str) -> None:
    case = CASES[page]
    at = _open(page, case["query"])
    assert_clean(at)
    values = _values(at)
    for key, value in case["expect"].items():
        assert values[key] == value, key
    assert _flat(_page_query(at)) == case["query"] | {}  # what was read is written back
    kind, key, value, qkey, qvalue = case["change"]
    getattr(at, kind)(key=key).set_value(value).run()
    assert_clean(at)
    assert _flat(_page_query(at)) == {**case["query"], qkey: qvalue}


@pytest.mark.parametrize("page", list(CASES))
def test_switching_language_changes_words_only(page: str) -> None:
    case = CASES[page]
    french_first = _open(page, case["query"], lang="fr")  # French from the very first run
    assert_clean(french_first)
    french = _values(french_first)
    at = _open(page, case["query"])
    before = _values(at)
    assert french == before
    _switch(at, "fr")
    assert_clean(at)
    assert at.radio(key="lang").label == "Langue"  # the words changed...
    assert _values(at) == before  # ...and nothing else
    kind, key, value, _, _ = case["change"]
    getattr(at, kind)(key=key).set_value(value).run()
    changed = _values(at)
    _switch(at, "en")
    assert _values(at) == changed
    if case["run"]:
        run = case["run"]
        (button,) = [b for b in at.button if b.key == run or str(b.key).startswith(f"{run}-")]
        button.click().run()
        assert not at.exception
        ran = _values(at)
        _switch(at, "fr")
        assert not at.exception
        after = _values(at)
        assert {k: after.get(k) for k in changed} == {k: ran.get(k) for k in changed}
    assert _flat(_page_query(at))[case["change"][3]] == case["change"][4]
    set_outside_run_lang("en")


def test_a_layer_the_model_lacks_and_a_bad_kernel_are_named_in_one_line() -> None:
    at = _open("feature_maps", {"l": "features.26", "o": "mean", "zz": "1"})
    assert not at.exception
    lines = [w.value for w in at.warning if str(w.value).startswith("Ignored in the address")]
    assert len(lines) == 1
    assert "l=features.26" in lines[0] and "zz=1" in lines[0]
    assert at.radio(key="fm_order").value == "mean"  # the good setting is kept
    at = _open("convolution", {"w": "1,2;3", "k": "sobel_y"})
    (line,) = [w.value for w in at.warning if str(w.value).startswith("Ignored")]
    assert "w=1,2;3" in line and at.selectbox(key="conv_preset").value == "sobel_y"


def test_custom_weights_travel_in_the_address() -> None:
    at = _open("convolution", {"k": "custom", "w": "0,1,0;1,-4,1;0,1,0"})
    assert_clean(at)
    assert at.selectbox(key="conv_preset").value == "custom"
    assert _flat(_page_query(at))["w"] == "0,1,0;1,-4,1;0,1,0"


def test_copy_link_is_on_every_page_in_both_languages() -> None:
    for lang, label in (("en", "Copy link"), ("fr", "Copier le lien")):
        assert translate(lang, "link.copy") == label
    at = _open("convolution", {"s": "3"})
    code = [c.value for c in at.get("code")]
    assert any(c.endswith("?s=3") for c in code), code


_hostile = st.dictionaries(
    st.sampled_from(["k", "w", "s", "p", "l", "ch", "m", "o", "lr", "tab", "img", "n"])
    | st.text(min_size=1, max_size=8),
    st.text(max_size=40) | st.sampled_from(["nan", "1e999", "-1", "99999999", "../../etc"]),
    max_size=6,
)


@pytest.mark.parametrize("page", list(CASES))
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=_hostile)
def test_hostile_addresses_open_the_page_with_one_line(page: str, query: dict[str, str]) -> None:
    at = _open(page, {k: v for k, v in query.items() if k not in ("lang", "present", "class")})
    assert not at.exception, [e.value for e in at.exception]
    lines = [w.value for w in at.warning if str(w.value).startswith("Ignored in the address")]
    assert len(lines) <= 1


def test_presenter_mode_shows_the_links_qr_code() -> None:
    at = page_app("convolution", present=True)
    at.query_params["s"] = "2"
    at.run()
    assert_clean(at)
    (box,) = at.get("popover")  # Copy link
    assert len(box.get("image")) == 1  # the QR code of the link
    (box,) = page_app("convolution").run().get("popover")
    assert not box.get("image")


def test_an_upload_cannot_travel_in_a_link_and_one_line_says_so() -> None:
    at = _open("feature_maps", {"o": "mean"})
    note = translate("en", "link.upload_note")
    assert note not in [c.value for c in at.caption]
    at.selectbox(key="fm_source").set_value("__upload__").run()
    assert not at.exception
    assert note in [c.value for c in at.caption]
    assert "img" not in at.query_params and _flat(_page_query(at)) == {"o": "mean"}
