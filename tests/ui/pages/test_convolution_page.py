"""The Convolution page headless (AppTest), in English and French."""

from __future__ import annotations

import numpy as np
import pytest

from dreamlab.convolution import to_gray
from dreamlab.images import load_sample
from dreamlab.ui.i18n import translate
from tests.ui.conftest import assert_clean, page_app


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    """``app(lang, present)``: an AppTest of the page, run once.

    AppTest calls a widget's ``format_func`` outside the script run when it sends the widget
    states, where ``t()`` cannot see the session's language; pinning the language makes the test
    side and the script agree (otherwise a French selectbox cannot find its own labels).
    """

    def make(lang: str = "en", present: bool = False):
        monkeypatch.setattr("dreamlab.ui.i18n.current_lang", lambda: lang)
        return page_app("convolution", lang=lang, present=present).run()

    return make


def _out(at) -> np.ndarray:
    return at.session_state["conv_last_out"]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_default_view_is_the_seed_figure(app, lang: str) -> None:
    at = app(lang)
    assert_clean(at)
    assert at.title[0].value == translate(lang, "convolution.title")
    assert at.selectbox(key="conv_preset").value == "horizontal_edge"
    assert at.radio(key="conv_view").value == "abs"
    out = _out(at)
    assert out.shape == (298, 449)  # chelsea 300 x 451, 3x3 kernel, no padding
    # the output-size formula is written out with the current numbers
    latex = " ".join(e.value for e in at.latex)
    assert "300 + 2\\cdot 0 - 1\\cdot(3-1) - 1" in latex and "= 298" in latex
    assert "451 + 2\\cdot 0 - 1\\cdot(3-1) - 1" in latex and "= 449" in latex


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_controls_change_the_result_without_errors(app, lang: str) -> None:
    at = app(lang)
    first = _out(at).copy()
    at.selectbox(key="conv_preset").set_value("sobel_x").run()
    assert_clean(at)
    assert not np.allclose(_out(at), first)
    at.slider(key="conv_stride").set_value(2).run()
    assert _out(at).shape == (149, 225)
    at.radio(key="conv_pad_kind").set_value("same").run()
    assert _out(at).shape == (150, 226)
    at.slider(key="conv_dilation").set_value(3).run()
    at.selectbox(key="conv_boundary").set_value("reflect").run()
    at.radio(key="conv_mode").set_value("convolve").run()
    at.radio(key="conv_view").set_value("signed").run()
    at.radio(key="conv_color").set_value("rgb").run()
    assert_clean(at)
    assert _out(at).shape == (150, 226, 3)
    at.radio(key="conv_view").set_value("clip").run()
    assert_clean(at)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_sized_presets_custom_kernel_and_presenter_mode(app, lang: str) -> None:
    at = app(lang, present=True)
    at.selectbox(key="conv_preset").set_value("gaussian_blur").run()
    at.select_slider(key="conv_size").set_value(7).run()
    assert_clean(at)
    assert _out(at).shape == (294, 445)
    at.checkbox(key="conv_normalise").check().run()
    assert_clean(at)
    at.selectbox(key="conv_preset").set_value("custom").run()
    at.select_slider(key="conv_custom_size").set_value(1).run()
    assert_clean(at)
    # a new custom kernel is the identity: 1x1 gives the grayscale photo back
    np.testing.assert_allclose(_out(at), to_gray(load_sample("chelsea")), atol=1e-3)
    at.selectbox(key="conv_preset").set_value("laplacian").run()
    assert at.warning, "normalising a zero-sum kernel says why it cannot"
    assert_clean(at)


def test_bad_kernel_shows_one_line_and_keeps_the_last_result(app) -> None:
    at = app()
    good = _out(at).copy()
    # a custom kernel whose user emptied a cell (the editor gives NaN for it)
    broken = np.ones((3, 3))
    broken[1, 1] = np.nan
    at.session_state["conv_kernels"] = {"custom|3|None": broken}
    at.selectbox(key="conv_preset").set_value("custom").run()
    assert not at.exception
    assert len(at.error) == 1 and "row 2, column 2" in at.error[0].value  # which cell
    assert "\n" not in at.error[0].value
    np.testing.assert_array_equal(_out(at), good)  # the last good output is still there
    assert any(c.value == translate("en", "convolution.stale") for c in at.caption)
    # going back to a preset recovers, and the broken custom kernel is remembered
    at.selectbox(key="conv_preset").set_value("sobel_y").run()
    assert_clean(at)
    assert np.isnan(at.session_state["conv_kernels"]["custom|3|None"][1, 1])


def test_largest_settings_still_fit(app) -> None:
    at = app()
    at.selectbox(key="conv_preset").set_value("box_blur").run()
    at.select_slider(key="conv_size").set_value(11).run()
    at.slider(key="conv_pad").set_value(20).run()
    at.selectbox(key="conv_boundary").set_value("reflect").run()
    at.slider(key="conv_dilation").set_value(8).run()
    at.slider(key="conv_stride").set_value(8).run()
    at.radio(key="conv_color").set_value("rgb").run()
    assert_clean(at)
    assert _out(at).shape == ((300 + 40 - 80 - 1) // 8 + 1, (451 + 40 - 80 - 1) // 8 + 1, 3)


def test_inspector_sum_matches_the_output_pixel(app) -> None:
    at = app()
    at.number_input(key="conv_i").set_value(10).run()
    at.number_input(key="conv_j").set_value(20).run()
    assert_clean(at)
    value = float(_out(at)[10, 20])
    check = [c.value for c in at.caption if "(10, 20)" in c.value]
    assert check and f"{value:.4g}" in check[0]
    latex = [e.value.strip("$\n") for e in at.latex]
    sums = [x for x in latex if "\\mathrm{out}(i,j)" in x]
    # the inspector's sum first, then the sliding window's (its own tab)
    assert len(sums) == 2 and sums[0].count("&+") == 2  # one line per kernel row
    total = sums[0].rsplit("=", 1)[1].replace("\\end{aligned}", "")
    assert float(total) == pytest.approx(value, abs=0.01)
    # the inspector follows an output that shrinks: the row is clamped, never an error
    at.slider(key="conv_stride").set_value(8).run()
    assert_clean(at)
    assert at.number_input(key="conv_i").value <= _out(at).shape[0] - 1


def test_multichannel_kernels_per_channel(app) -> None:
    at = app()
    at.selectbox(key="conv_multi_0").set_value("sobel_x").run()
    at.selectbox(key="conv_multi_2").set_value("identity").run()
    assert_clean(at)
    assert any("w_{R}" in e.value and "-2" in e.value for e in at.latex)


def test_edited_weights_are_kept_per_preset_and_reset_restores_them(app) -> None:
    at = app()
    at.session_state["conv_kernels"] = {"sobel_x|3|None": np.ones((3, 3))}  # the user's edits
    at.selectbox(key="conv_preset").set_value("sobel_x").run()
    gray = to_gray(load_sample("chelsea"))
    np.testing.assert_allclose(_out(at)[5, 7], gray[5:8, 7:10].sum(), rtol=1e-5)
    at.button(key="conv_reset").click().run()
    assert_clean(at)
    sobel = (gray[5:8, 9] - gray[5:8, 7]) @ np.array([1.0, 2.0, 1.0])
    np.testing.assert_allclose(_out(at)[5, 7], sobel, rtol=1e-4, atol=1e-3)
    assert "sobel_x|3|None" not in at.session_state["conv_kernels"] or np.allclose(
        at.session_state["conv_kernels"]["sobel_x|3|None"], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    )


def test_sizes_are_width_by_height_as_the_cli() -> None:
    at = page_app("convolution").run()
    captions = [c.value for c in at.caption]
    assert "Output, 449 x 298 px (width x height)" in captions  # chelsea is 451 wide, 300 high
    image_captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert "Input, 451 x 300 px (width x height)" in image_captions


def test_laplacian_of_gaussian_sums_to_zero_on_the_page(app) -> None:
    at = app()
    at.selectbox(key="conv_preset").set_value("laplacian_of_gaussian").run()
    assert_clean(at)
    assert translate("en", "convolution.kernel_sum", total="0") in [c.value for c in at.caption]


def test_an_eleven_by_eleven_kernel_is_edited_at_full_width(app) -> None:
    at = app()
    at.selectbox(key="conv_preset").set_value("gaussian_blur").run()
    at.select_slider(key="conv_size").set_value(11).run()
    assert_clean(at)
    editor = at.session_state["conv_kernels"]["gaussian_blur|11|2.0"]
    assert editor.shape == (11, 11)
    assert translate("en", "convolution.editor_below", k=11) in [c.value for c in at.caption]


def test_inspector_stays_in_place_when_the_output_shrinks(app) -> None:
    at = app()
    out = _out(at)
    at.number_input(key="conv_i").set_value(out.shape[0] // 2).run()
    at.number_input(key="conv_j").set_value(out.shape[1] // 2).run()
    at.radio(key="conv_pad_kind").set_value("valid").run()
    at.slider(key="conv_stride").set_value(2).run()
    assert_clean(at)
    oh, ow = _out(at).shape[:2]
    i, j = at.number_input(key="conv_i").value, at.number_input(key="conv_j").value
    assert abs(i - oh // 2) <= 1 and abs(j - ow // 2) <= 1  # the centre, not the last pixel


def test_sliding_window_steps_and_plays(app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dreamlab.ui.parts.convolution_window._PLAY_DELAY", 0.0)
    at = app()
    assert translate("en", "convolution.tab_slide") in [tab.label for tab in at.tabs]
    assert at.slider(key="conv_slide_pos").value == 0
    at.button(key="conv_slide_step").click().run()
    assert_clean(at)
    assert at.slider(key="conv_slide_pos").value == 1
    # 7 x 7 numbers, 3 x 3 kernel, valid: 5 x 5 positions; Play runs to the last one
    at.button(key="conv_slide_play").click().run()
    assert at.slider(key="conv_slide_pos").value == 24
    # padding 1 and stride 2: 4 x 4 positions, the padded cells are part of the figure
    at.slider(key="conv_pad").set_value(1).run()
    at.slider(key="conv_stride").set_value(2).run()
    assert_clean(at)
    assert at.slider(key="conv_slide_pos").max == 15
    assert any("a 4 x 4 output" in c.value for c in at.caption)


def test_sliding_window_sum_is_the_output_cell(app) -> None:
    from dreamlab.convolution import convolve, preset_kernel

    at = app()
    at.slider(key="conv_slide_pos").set_value(7).run()  # row 1, column 2 of the 5 x 5 output
    grid = np.full((7, 7), 10.0)
    grid[1:5, 1:6] = 200.0
    want = convolve(grid, preset_kernel("horizontal_edge"))[1, 2]
    sums = [e.value for e in at.latex if "\\mathrm{out}(i,j)" in e.value]
    assert sums[-1].rstrip("$\n ").endswith(f"&= {want:.4g} \\end{{aligned}}")


def _tabs_id(at) -> str:
    """The id of the page's tabs, as the browser gets it (a new id: new tabs, every panel remade)."""
    found = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            proto = getattr(child, "proto", None)
            if hasattr(proto, "ListFields") and "tab_container" in [
                f.name for f, _ in proto.ListFields()
            ]:
                found.append(child._block_id)
            walk(child)

    walk(at._tree)
    assert len(found) == 1, found
    return found[0]


def _image_captions(at) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def _open_tab(at, name: str):
    """A click on a tab: the tabs' key holds the label shown."""
    at.session_state["convolution_tab_en"] = translate("en", f"convolution.tab_{name}")
    return at


def test_opening_a_tab_keeps_the_same_tabs(app) -> None:
    at = app()
    tabs = _tabs_id(at)
    # the tabs' default stays the tab first opened; before, it followed each click, which made
    # new tabs (a new id) and remade every panel's widgets and pictures in the browser
    _open_tab(at, "inspect").run()
    assert_clean(at)
    assert _tabs_id(at) == tabs
    _open_tab(at, "slide").slider(key="conv_stride").set_value(2).run()
    assert_clean(at)
    assert _tabs_id(at) == tabs


def test_only_the_open_tab_draws_its_pictures(app) -> None:
    at = app()
    window = translate("en", "convolution.window_caption")
    red = translate("en", "convolution.channel_0")
    assert red in _image_captions(at) and window not in _image_captions(at)
    _open_tab(at, "inspect").run()
    assert_clean(at)
    assert window in _image_captions(at) and red not in _image_captions(at)
    _open_tab(at, "slide").run()
    assert_clean(at)
    captions = _image_captions(at)
    assert window not in captions and red not in captions
    assert captions.count("") == 2  # the output's colour bar and the sliding window's figure
    # the closed tabs' controls and formulas are still there
    assert at.selectbox(key="conv_multi_0").value == "horizontal_edge"
    assert at.number_input(key="conv_i").value == 149


@pytest.mark.parametrize(
    "geometry",
    [
        {},
        {"stride": 2, "padding": "same", "boundary": "reflect"},
        {"dilation": 2, "padding": 3, "mode": "convolve", "boundary": "circular"},
    ],
)
def test_the_multichannel_sum_is_the_sum_of_its_products(geometry: dict) -> None:
    """The page adds up its three products instead of running the 3-channel filter again."""
    from dreamlab.convolution import convolve, preset_kernel

    photo = load_sample("chelsea")[:60, :80]
    kernels = [preset_kernel(n) for n in ("sobel_x", "laplacian", "sharpen")]
    products = [convolve(photo[:, :, c], kernels[c], **geometry) for c in range(3)]
    whole = convolve(photo, np.stack(kernels, axis=-1), **geometry)
    np.testing.assert_allclose(products[0] + products[1] + products[2], whole, rtol=1e-5, atol=1e-3)


_PARTS_SCRIPT = """
import streamlit as st
from dreamlab.ui import query
from dreamlab.ui.pages import convolution as page
from dreamlab.ui.settings import ConvSettings

asked = {}
for tab in ("multi", "inspect", "slide"):
    st.session_state[query._SETTINGS.format("convolution")] = ConvSettings(tab=tab)
    st.session_state.pop(query._tab_key("convolution"), None)
    for name in ("kernel_changed", "geometry_moved", "geometry_reshaped", "output_clicked",
                 "tab_switched", "multi_changed"):
        getattr(page, "_" + name)()
        asked[tab, name] = st.session_state.pop("parts_asked")
st.session_state["asked"] = asked
"""


def test_a_change_reruns_only_the_parts_it_affects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each widget's callback names the parts (keyed fragments) its change affects, in the
    page's order: a stride change not the kernel controls nor a closed tab, a kernel change not
    the multi-channel tab (its own kernels). AppTest itself reruns the page whole."""
    import streamlit
    from streamlit.testing.v1 import AppTest

    from dreamlab.ui.pages import convolution as page

    def fake_rerun(scope="app") -> None:
        streamlit.session_state["parts_asked"] = scope

    monkeypatch.setattr(page, "_app_test", lambda: False)
    monkeypatch.setattr(streamlit, "rerun", fake_rerun)
    at = AppTest.from_string(_PARTS_SCRIPT, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    asked = at.session_state["asked"]
    result, link, controls = "conv_result", "conv_link", "conv_controls"
    assert asked["multi", "kernel_changed"] == [controls, result, link]
    assert asked["inspect", "kernel_changed"] == [controls, result, "conv_tab_inspect", link]
    assert asked["slide", "geometry_moved"] == [result, "conv_tab_slide", link]
    assert asked["multi", "geometry_moved"] == [result, "conv_tab_multi", link]
    assert asked["inspect", "geometry_reshaped"] == [
        "conv_geometry",
        result,
        "conv_tab_inspect",
        link,
    ]
    assert asked["multi", "output_clicked"] == [result, "conv_tab_inspect"]
    assert asked["multi", "tab_switched"] == ["conv_tab_multi_kernels", "conv_tab_multi", link]
    assert asked["slide", "tab_switched"] == ["conv_tab_slide", link]
    assert asked["inspect", "multi_changed"] == ["conv_tab_multi_kernels", "conv_tab_multi"]
