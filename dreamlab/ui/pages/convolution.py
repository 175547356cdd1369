"""The "Convolution" page: a kernel slides over a photo, with every number of the formula on screen.

The default view is the seed's figure: the horizontal-edge kernel on a grayscale photo, input and
``|output|`` side by side. Everything is recomputed on each widget change (a few milliseconds with
``dreamlab.convolution``), so there is nothing to queue in the job gate. The controls and the tabs
live in ``dreamlab.ui.parts.convolution_*``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

import numpy as np
import streamlit as st
from streamlit import config as st_config

from dreamlab.convolution import (
    PRESETS,
    ConvConfig,
    convolve,
    display_limits,
    pad_amounts,
    to_display,
    to_gray,
)
from dreamlab.ui import query
from dreamlab.ui.i18n import num, t
from dreamlab.ui.parts.convolution_controls import (
    CUSTOM,
    PENDING_WEIGHTS,
    current_config,
    geometry_controls,
    kernel_controls,
    seed_padding,
)
from dreamlab.ui.parts.convolution_draw import encode_jpeg, legend
from dreamlab.ui.parts.convolution_inspect import inspector, picked_feedback, select_on_click
from dreamlab.ui.parts.convolution_multi import multi_kernels, multi_products
from dreamlab.ui.parts.convolution_window import sliding_window
from dreamlab.ui.parts.layout import lesson, show_error
from dreamlab.ui.parts.upload import clickable_image, image_picker
from dreamlab.ui.settings import CONV_TABS, CONV_VIEWS, ConvSettings
from dreamlab.ui.theme import presenting

__all__ = ["render"]

_LAST_OUT = "conv_last_out"  # the last good result, shown (marked stale) if the next one fails
_TABS_OPENED_ON = "conv_tabs_opened_on"  # (the tabs' key, the tab they were first opened on)


def _fingerprint(image: np.ndarray) -> str:
    """A short digest of the photo, the key of the cached conversions below: a rerun hashes the
    photo once, instead of Streamlit hashing it (and its float copies) for every cached call."""
    data = np.ascontiguousarray(image)
    return hashlib.blake2b(data.data, digest_size=16).hexdigest() + str(data.shape)


@st.cache_data(show_spinner=False, max_entries=8)
def _photo(_image: np.ndarray, photo: str, color: str) -> tuple[np.ndarray, np.ndarray, bytes]:
    """What gets convolved, that as a picture, and the picture as JPEG: once per photo and colour.

    The source is luma (``H x W`` float32) or the RGB photo itself (uint8); the picture is
    ``H x W x 3`` uint8 (gray repeated on three channels). ``photo`` is ``_fingerprint(_image)``.
    """
    source = to_gray(_image) if color == "gray" else _image
    if source.ndim == 3:
        return source, source, encode_jpeg(source)
    gray = np.clip(source + 0.5, 0, 255).astype(np.uint8)  # (H, W)
    picture = np.repeat(gray[:, :, None], 3, axis=2)  # (H, W, 3)
    return source, picture, encode_jpeg(picture)


@st.cache_data(show_spinner=False, max_entries=8)
def _convolved(
    _source: np.ndarray, source_key: str, kernel: np.ndarray, cfg: ConvConfig
) -> np.ndarray:
    """The convolution, computed once per (photo and colour, kernel, geometry): a rerun for
    another widget (the view, a tab's control) does not compute it again. Errors are not cached."""
    return convolve(_source, kernel, **cfg.to_dict())


def _compute(
    source: np.ndarray, source_key: str, kernel: np.ndarray, cfg: ConvConfig
) -> tuple[np.ndarray | None, bool]:
    """The output and whether it is fresh; on bad input one line, and the last good result."""
    try:
        out = _convolved(source, source_key, kernel, cfg)
    except (ValueError, RuntimeError, MemoryError) as exc:  # bad input, or torch refusing it
        show_error(exc)
        return st.session_state.get(_LAST_OUT), False
    st.session_state[_LAST_OUT] = out
    return out, True


def _show_result(
    jpeg: bytes, shape: tuple[int, ...], out: np.ndarray, view: str, fresh: bool
) -> None:
    """Input (``jpeg``, of that ``shape``) and output side by side, the output with its colour bar."""
    strip = out.ndim == 3 and view == "signed"  # three channel maps side by side: more room
    left, right = st.columns([1, 3] if strip else [1, 1])
    h, w = shape[:2]
    left.image(jpeg, caption=t("convolution.input_caption", h=h, w=w), width="stretch")
    with right.container(key="conv_output"):
        oh, ow = out.shape[:2]
        caption = t("convolution.output_caption", h=oh, w=ow)
        if strip:
            caption = t("convolution.output_caption_channels", h=oh, w=ow)
        click = clickable_image(
            to_display(out, view), key="conv_out_click", jpeg_quality=92, on_click=_output_clicked
        )
        select_on_click(click, oh, ow)
        st.caption(caption)
        if click is not None:  # feedback here, whichever tab is open
            picked_feedback(out)
        else:
            st.caption(t("convolution.click_output"))
        legend(display_limits(out, view), view)
        st.caption(t(f"convolution.view_help_{view}"))
        if view == "clip":
            st.caption(
                t(
                    "convolution.clip_stats",
                    below=num(100 * (out < 0).mean(), ".0f"),
                    above=num(100 * (out > 255).mean(), ".0f"),
                )
            )
        if not fresh:
            st.caption(t("convolution.stale"))


def _formula_line(symbol: str, n: int, k: int, cfg: ConvConfig, result: int) -> str:
    """One axis of the output-size formula with this page's numbers in it (an aligned line)."""
    before, after = pad_amounts(n, k, cfg.stride, cfg.padding, cfg.dilation, cfg.mode)
    pad = rf"2\cdot {before}" if before == after else rf"({before}+{after})"
    return (
        rf"{symbol}' &= \left\lfloor \frac{{{n} + {pad} - {cfg.dilation}\cdot({k}-1) - 1}}"
        rf"{{{cfg.stride}}} \right\rfloor + 1 = {result}"
    )


def _show_formula(
    image_shape: tuple[int, ...], kernel: np.ndarray, cfg: ConvConfig, out_shape: tuple[int, ...]
) -> None:
    """The output-size formula with the current numbers filled in, for both axes."""
    st.markdown(t("convolution.formula_title"))
    rows = _formula_line("H", image_shape[0], kernel.shape[0], cfg, out_shape[0])
    cols = _formula_line("W", image_shape[1], kernel.shape[1], cfg, out_shape[1])
    st.latex(rf"\begin{{aligned}} {rows} \\ {cols} \end{{aligned}}")


def _top_controls() -> tuple[np.ndarray | None, str, str]:
    """Image, grayscale/RGB and the view of signed values."""
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        loaded = image_picker("conv")
    color = c2.radio(
        t("convolution.color"),
        ["gray", "rgb"],
        key="conv_color",
        format_func=lambda c: t(f"convolution.color_{c}"),
    )
    view = c3.radio(
        t("convolution.view"),
        CONV_VIEWS,
        key="conv_view",
        format_func=lambda v: t(f"convolution.view_{v}"),
    )
    return (None if loaded is None else loaded.array), color, view


def _settings(
    cfg: ConvConfig, edited: np.ndarray, own: bool, settings: ConvSettings
) -> ConvSettings:
    """The page's settings as its widgets hold them now (what the address and the lesson carry)."""
    ss = st.session_state
    info = PRESETS.get(ss["conv_preset"])
    sized = ss["conv_preset"] == CUSTOM or (info is not None and info.sized)
    size = edited.shape[0] if sized and edited.ndim == 2 else ConvSettings.size
    weights = None
    if not own and edited.ndim == 2 and np.isfinite(edited).all():
        weights = tuple(tuple(float(v) for v in row) for row in edited)
    return ConvSettings(
        image=str(ss.get("conv_source", settings.image)),
        color=ss["conv_color"],
        view=ss["conv_view"],
        kernel=ss["conv_preset"],
        size=size,
        weights=weights,
        normalise=bool(ss["conv_normalise"]),
        stride=cfg.stride,
        padding=cfg.padding,
        dilation=cfg.dilation,
        mode=cfg.mode,
        boundary=cfg.boundary,
        tab=query.open_tab("convolution", CONV_TABS, settings.tab),
    )


def render() -> None:
    """Draw the page."""
    st.title(t("convolution.title"))
    settings = query.load("convolution", ConvSettings)
    if query.forced("convolution"):  # the settings that no one widget holds
        seed_padding(settings.padding)
        st.session_state[PENDING_WEIGHTS] = settings.weights
        size_key = "conv_custom_size" if settings.kernel == CUSTOM else "conv_size"
        st.session_state[size_key] = settings.size
    st.caption(t("convolution.intro"))
    lesson("convolution")
    image, color, view = _top_controls()
    if image is None:
        st.info(t("convolution.no_image"))
        return
    _workbench(image, color, view)


def _tabs_opened_on(current: str) -> str:
    """The tab the tabs were first opened on, kept while they live.

    ``st.tabs``'s identity holds its ``default``: passing the tab shown now (it follows every tab
    click) would make new tabs on each switch, remounting every panel's widgets and pictures.
    New tabs (a language switch, an address or lesson step that sets the tab) open afresh.
    """
    tabs_key = query._tab_key("convolution")
    kept = st.session_state.get(_TABS_OPENED_ON)
    if kept is None or kept[0] != tabs_key or tabs_key not in st.session_state:
        kept = (tabs_key, current)
        st.session_state[_TABS_OPENED_ON] = kept
    return kept[1]


# ---------------------------------------------------------------- the workbench, in parts
#
# The workbench is keyed fragments ("parts") in boxes the page lays out on a full run: the kernel
# controls, the geometry controls, the result, one part per tab and the link. A change reruns only
# the parts it affects (each widget's callback names them, in this order): a stride change redraws
# the output, the open tab and the link, not the kernel editor nor the closed tabs (a tab catches
# up when it is opened); a kernel change skips the tabs while the multi-channel tab (its own
# kernels) is open. One part hands the next the kernel (_KERNEL) and the result (_RESULT) through
# the session state.

_CONTROLS, _GEOMETRY, _RESULT_PART, _LINK = (
    "conv_controls",
    "conv_geometry",
    "conv_result",
    "conv_link",
)
_TAB_PARTS = {name: f"conv_tab_{name}" for name in CONV_TABS}  # what a change redraws in a tab
_MULTI_KERNELS = "conv_tab_multi_kernels"  # the multi-channel tab's kernels (over its products)
_MULTI = "conv_multi_now"  # the multi-channel tab's three kernels
_KERNEL = "conv_kernel_now"  # (kernel applied, weights as edited, whether the preset's own)
_RESULT = "conv_result_now"  # (output or None, whether it is fresh)


def _app_test() -> bool:
    """Whether AppTest runs the page (it patches ``streamlit.config.get_option``, not
    ``st.get_option``)."""
    return bool(st_config.get_option("global.appTest"))


def _part(key: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A keyed fragment, or under AppTest (``global.appTest``) the plain function: AppTest's
    element tree holds only what the last run drew, so there every change reruns the page whole
    (what the page shows is the same; which parts a change reruns is for the browser tests)."""

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        fragment = st.fragment(fn, key=key)

        @functools.wraps(fn)
        def call(*args: object) -> None:
            (fn if _app_test() else fragment)(*args)

        return call

    return wrap


def _rerun(*parts: str) -> None:
    """Rerun only these parts (from a widget's callback; a full run under AppTest)."""
    if not _app_test():
        st.rerun(list(parts))


def _kernel_changed() -> None:
    open_tab = _open_tab()
    tabs = () if open_tab == "multi" else (_TAB_PARTS[open_tab],)  # multi: its own kernels
    _rerun(_CONTROLS, _RESULT_PART, *tabs, _LINK)


def _geometry_moved() -> None:
    _rerun(_RESULT_PART, _TAB_PARTS[_open_tab()], _LINK)


def _geometry_reshaped() -> None:
    _rerun(_GEOMETRY, _RESULT_PART, _TAB_PARTS[_open_tab()], _LINK)


def _output_clicked() -> None:
    _rerun(_RESULT_PART, _TAB_PARTS["inspect"])  # the inspector follows the picked pixel


def _tab_switched() -> None:
    opened = _open_tab()  # it catches up (the multi-channel tab: its pictures of the channels too)
    _rerun(*((_MULTI_KERNELS,) if opened == "multi" else ()), _TAB_PARTS[opened], _LINK)


def _multi_changed() -> None:
    _rerun(_MULTI_KERNELS, _TAB_PARTS["multi"])


def _current() -> ConvSettings:
    return query.current("convolution", ConvSettings)


def _workbench(image: np.ndarray, color: str, view: str) -> None:
    """Kernel, geometry, the output, the tabs and the link, each a keyed fragment in its box."""
    # presenting, the kernel column is wider (large type) and the gap small (a "large" gap grows
    # with the large type): the photos stay at least as large as without presenter mode
    kernel_col, result_col = (
        st.columns([1.4, 2.6], gap="small") if presenting() else st.columns([1, 2.6], gap="large")
    )
    wide_box = st.container()  # under both columns: a large kernel's editor
    tabs_box = st.container()
    with kernel_col:
        controls_box, link_box = st.container(), st.container()
    with result_col:
        result_box, geometry_box = st.container(), st.container()  # the output above the controls
    with controls_box:
        _controls(wide_box)
    with geometry_box:
        _geometry()
    with result_box:
        _result(image, color, view)
    with tabs_box:
        _tabs(image, color)
    with link_box:
        _link()


@_part(_CONTROLS)
def _controls(wide_box) -> None:
    st.session_state[_KERNEL] = kernel_controls(wide_box, _kernel_changed)


@_part(_GEOMETRY)
def _geometry() -> None:
    geometry_controls(_geometry_moved, _geometry_reshaped)


@_part(_RESULT_PART)
def _result(image: np.ndarray, color: str, view: str) -> None:
    """The input and the output (what a change is waiting for) and the output-size formula."""
    kernel = st.session_state[_KERNEL][0]
    cfg = current_config()
    photo = _fingerprint(image)
    source, picture, jpeg = _photo(image, photo, color)
    out, fresh = _compute(source, f"{photo}|{color}", kernel, cfg)
    st.session_state[_RESULT] = (out, fresh)
    if out is not None:
        _show_result(jpeg, picture.shape, out, view, fresh)
        if fresh:
            _show_formula(source.shape, kernel, cfg, out.shape)


@_part(_LINK)
def _link() -> None:
    """The address and **Copy link**: the settings as the widgets hold them now."""
    cfg = current_config()
    _, edited, own = st.session_state[_KERNEL]
    settings = _settings(cfg, edited, own, _current())
    query.save("convolution", settings)
    query.copy_link(settings)


def _tabs(image: np.ndarray, color: str) -> None:
    """Multi-channel, the pixel inspector and the sliding window, each tab a part of its own.

    A change reruns only the open tab's part; a closed tab catches up when it is opened (the
    switch reruns it), and its pictures are made and sent only while it is open.
    """
    settings_tab = query.open_tab("convolution", CONV_TABS, _current().tab)
    tabs = query.keyed_tabs(
        "convolution", CONV_TABS, _tabs_opened_on(settings_tab), on_change=_tab_switched
    )
    multi_tab, inspect_tab, slide_tab = tabs
    with multi_tab:
        _multi_kernels_part(image, color)
        _multi_part(image, color)
    with inspect_tab:
        _inspect_part(image, color)
    with slide_tab:
        _slide_part(image, color)


def _open_tab() -> str:
    """The name of the tab open now."""
    return query.open_tab("convolution", CONV_TABS, _current().tab)


def _inputs(image: np.ndarray, color: str) -> tuple[str, np.ndarray, np.ndarray]:
    """The photo's digest, what gets convolved and that as a picture (cached conversions)."""
    photo = _fingerprint(image)
    source, picture, _ = _photo(image, photo, color)
    return photo, source, picture


@_part(_MULTI_KERNELS)
def _multi_kernels_part(image: np.ndarray, color: str) -> None:
    shown = _open_tab() == "multi"
    changed = _multi_changed
    st.session_state[_MULTI] = multi_kernels(image, _fingerprint(image), shown, changed)


@_part(_TAB_PARTS["multi"])
def _multi_part(image: np.ndarray, color: str) -> None:
    kernels, shown = st.session_state[_MULTI], _open_tab() == "multi"
    multi_products(image, _fingerprint(image), kernels, current_config(), shown)


def _fresh_output() -> np.ndarray | None:
    """The result part's output, for the inspector and the sliding window; None (with one line
    saying so) when there is none or it is stale."""
    out, fresh = st.session_state.get(_RESULT, (None, False))
    if out is None or not fresh:
        st.info(t("convolution.inspect_needs_valid"))
        return None
    return out


@_part(_TAB_PARTS["inspect"])
def _inspect_part(image: np.ndarray, color: str) -> None:
    out = _fresh_output()
    if out is None:
        return
    _, source, picture = _inputs(image, color)
    kernel, shown = st.session_state[_KERNEL][0], _open_tab() == "inspect"
    inspector(source, picture, kernel, out, current_config(), shown)


@_part(_TAB_PARTS["slide"])
def _slide_part(image: np.ndarray, color: str) -> None:
    out = _fresh_output()
    if out is None:
        return
    _, source, _ = _inputs(image, color)
    kernel = st.session_state[_KERNEL][0]
    sliding_window(source, kernel, current_config(), _open_tab() == "slide")
