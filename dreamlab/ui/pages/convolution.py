"""The "Convolution" page: a kernel slides over a photo, with every number of the formula on screen.

The default view is the seed's figure: the horizontal-edge kernel on a grayscale photo, input and
``|output|`` side by side. Everything is recomputed on each widget change (a few milliseconds with
``dreamlab.convolution``), so there is nothing to queue in the job gate.
"""

from __future__ import annotations

import hashlib
import io
import time

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw

from dreamlab.convolution import (
    BOUNDARIES,
    MODES,
    PRESETS,
    ConvConfig,
    KernelError,
    colorbar,
    convolve,
    default_sigma,
    display_limits,
    kernel_sum,
    normalize_sum,
    pad_amounts,
    preset_kernel,
    sample_padded,
    to_display,
    to_gray,
    window,
)
from dreamlab.images import resize_max_side
from dreamlab.ui import query
from dreamlab.ui.i18n import num, t
from dreamlab.ui.ignored import note_invalid as query_note
from dreamlab.ui.parts.layout import advanced_controls, lesson, show_error
from dreamlab.ui.parts.upload import clickable_image, image_picker
from dreamlab.ui.settings import CONV_TABS, CONV_VIEWS, ConvSettings
from dreamlab.ui.theme import presenting
from dreamlab.viz import label_font

__all__ = ["render"]

_CUSTOM = "custom"
_MULTI_DEFAULTS = ("horizontal_edge", "vertical_edge", "laplacian")
_MULTI_SIDE = 384  # the multi-channel demo shows 7 small images: a smaller copy is plenty
_ZOOM_SIDE = 240  # the inspector's magnified neighbourhood, in screen pixels
_TAP_COLOR = (255, 214, 0)
_PENDING_WEIGHTS = "conv_pending_weights"  # weights from the address, for the kernel editor
_LAST_OUT = "conv_last_out"  # the last good result, shown (marked stale) if the next one fails
_NARROW_EDITOR = 5  # kernels up to 5 x 5 are edited in the kernel column, larger ones full width
_TABS_OPENED_ON = "conv_tabs_opened_on"  # (the tabs' key, the tab they were first opened on)
_PICKED_SHAPE = "conv_picked_shape"  # the output's size when the inspected pixel was picked
_SLIDE_SIDE = 7  # the sliding window's input grid (7 x 7 numbers), larger for a wide kernel
_SLIDE_MAX = 13  # the widest kernel (dilation included) the sliding window draws
_CELL = 60  # one cell of the sliding-window figure, in pixels (read from the back of a room)
_CELL_FONT, _WEIGHT_FONT, _OUT_FONT = 20, 15, 17  # the numbers' sizes in it, in pixels (DejaVu)
_PLAY_DELAY = 0.35  # seconds between two positions when playing


# ---------------------------------------------------------------- cached conversions


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
        return source, source, _encode(source)
    gray = np.clip(source + 0.5, 0, 255).astype(np.uint8)  # (H, W)
    picture = np.repeat(gray[:, :, None], 3, axis=2)  # (H, W, 3)
    return source, picture, _encode(picture)


def _encode(picture: np.ndarray) -> bytes:
    """An ``H x W x 3`` uint8 picture as JPEG bytes (quality 92: no visible loss, a tenth of a PNG)."""
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "JPEG", quality=92)
    return buf.getvalue()


@st.cache_data(show_spinner=False, max_entries=8)
def _thumb(_image: np.ndarray, photo: str, side: int) -> np.ndarray:
    """A copy whose longer side is at most ``side`` (Lanczos, done once per photo)."""
    return resize_max_side(_image, side)


@st.cache_data(show_spinner=False, max_entries=4)
def _bar_png(view: str) -> bytes:
    """The view's colour bar as PNG, drawn once: its colours run end to end whatever the values
    (only the numbers at its ends change)."""
    bar = colorbar(view, display_limits(np.ones((1, 1), np.float32), view), width=512, height=14)
    buf = io.BytesIO()
    Image.fromarray(bar).save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- kernel controls


def _preset_label(name: str) -> str:
    return t(f"convolution.preset.{name}")


def _size_and_sigma(preset: str) -> tuple[int, float | None]:
    """The kernel size (odd) and, for Gaussians, sigma; only the controls the preset needs."""
    info = PRESETS.get(preset)
    size = 3
    if preset == _CUSTOM or (info is not None and info.sized):
        options = [1, 3, 5, 7, 9, 11] if preset == _CUSTOM else [3, 5, 7, 9, 11]
        key = "conv_custom_size" if preset == _CUSTOM else "conv_size"
        if st.session_state.get(key) not in options:
            st.session_state[key] = 3
        size = st.select_slider(
            t("convolution.size"),
            options=options,
            key=key,
            format_func=lambda k: f"{k}×{k}",
        )
    sigma = None
    if info is not None and info.sigma:
        with advanced_controls():
            sigma = st.slider(
                t("convolution.sigma"),
                0.3,
                5.0,
                round(default_sigma(size), 1),
                0.1,
                key=f"conv_sigma_{size}",
                help=t("convolution.sigma_help"),
            )
    return size, sigma


def _base_kernel(preset: str, size: int, sigma: float | None) -> np.ndarray:
    """The preset's weights, or a centred 1 (the identity) for a new custom kernel."""
    if preset != _CUSTOM:
        return preset_kernel(preset, size, sigma)
    base = np.zeros((size, size), dtype=np.float32)
    base[size // 2, size // 2] = 1.0
    return base


def _kernel_editor(editor_id: str, base: np.ndarray) -> np.ndarray:
    """A cell-by-cell editor; edits are kept per preset and size, also when the user looks away."""
    store: dict[str, np.ndarray] = st.session_state.setdefault("conv_kernels", {})
    key = f"conv_editor_{editor_id}_{st.session_state.get('conv_kernel_version', 0)}"
    init = f"{key}_init"
    if key not in st.session_state or init not in st.session_state:
        # The editor's data must not change while it lives (its edits are deltas against it), so
        # it starts from a snapshot: the stored edits, or the preset.
        st.session_state[init] = store.get(editor_id, base)
    columns = [str(c + 1) for c in range(base.shape[1])]  # counted from 1, as the errors say
    frame = pd.DataFrame(st.session_state[init], columns=columns)
    # Narrow columns so an 11 x 11 kernel shows all its columns in the kernel column.
    width = 64 if base.shape[1] <= _NARROW_EDITOR else 72
    edited = st.data_editor(
        frame,
        key=key,
        hide_index=True,
        num_rows="fixed",
        # every row visible, no scrolling (11 x 11 too; presenter mode's header is taller)
        height=36 * (base.shape[0] + 1) + (40 if presenting() else 3),
        column_config={
            c: st.column_config.NumberColumn(c, format="%.3g", width=width) for c in columns
        },
    )
    kernel = edited.to_numpy(dtype=np.float64, na_value=np.nan)  # an emptied cell -> NaN -> error
    store[editor_id] = kernel
    return kernel


def _kernel_controls(wide_box) -> tuple[np.ndarray, np.ndarray, bool]:
    """Preset, size, the editable weights, normalise and reset.

    Returns the kernel to apply, the weights as edited (before normalising) and whether they are
    the preset's own. Kernels wider than ``_NARROW_EDITOR`` are edited in ``wide_box`` (the page's
    full width), so every column of an 11 x 11 kernel stays visible.
    """
    names = [*PRESETS, _CUSTOM]
    preset = st.selectbox(
        t("convolution.kernel"),
        names,
        format_func=_preset_label,
        key="conv_preset",
    )
    size, sigma = _size_and_sigma(preset)
    editor_id = f"{preset}|{size}|{sigma}"
    base = _base_kernel(preset, size, sigma)
    pending = st.session_state.pop(_PENDING_WEIGHTS, None)  # taken once (a fragment reruns)
    if pending is not None:
        _load_weights(editor_id, base, np.asarray(pending, np.float64))
    st.caption(t("convolution.editor_help"))
    if size > _NARROW_EDITOR:
        st.caption(t("convolution.editor_below", k=size))
        with wide_box:
            st.markdown(t("convolution.editor_title", k=size))
            kernel = _kernel_editor(editor_id, base)
    else:
        kernel = _kernel_editor(editor_id, base)
    edited = kernel
    own = kernel.shape == base.shape and bool(np.array_equal(kernel, base))
    if st.button(t("convolution.reset"), key="conv_reset"):
        st.session_state["conv_kernels"].pop(editor_id, None)
        st.session_state["conv_kernel_version"] = st.session_state.get("conv_kernel_version", 0) + 1
        st.rerun()
    if st.checkbox(
        t("convolution.normalise"), key="conv_normalise", help=t("convolution.normalise_help")
    ):
        try:
            kernel = normalize_sum(kernel)
        except KernelError:
            st.warning(t("convolution.cannot_normalise"))
    if np.isfinite(kernel).all():
        st.caption(t("convolution.kernel_sum", total=num(kernel_sum(kernel), ".4g")))
    return kernel, edited, own


def _load_weights(editor_id: str, base: np.ndarray, weights: np.ndarray) -> None:
    """Weights from the address go into the editor (a new editor: its data is fixed while it
    lives); weights whose shape is not the kernel's are ignored, with the one line."""
    if weights.shape != base.shape:
        query_note("settings.weights")
        return
    st.session_state.setdefault("conv_kernels", {})[editor_id] = weights
    st.session_state["conv_kernel_version"] = st.session_state.get("conv_kernel_version", 0) + 1


# ---------------------------------------------------------------- geometry controls


def _seed_padding(padding: int | str) -> None:
    """The padding setting (a number of pixels, or ``same`` / ``valid``) into its two widgets."""
    if isinstance(padding, str):
        st.session_state["conv_pad_kind"] = padding
        st.session_state["conv_pad"] = 0
    else:
        st.session_state["conv_pad_kind"] = "number"
        st.session_state["conv_pad"] = int(padding)


def _geometry_controls() -> ConvConfig:
    """Stride, padding, boundary, dilation and correlate/convolve (folded away when presenting)."""
    with advanced_controls():
        c1, c2, c3 = st.columns(3)
        stride = c1.slider(
            t("convolution.stride"), 1, 8, key="conv_stride", help=t("convolution.stride_help")
        )
        dilation = c1.slider(
            t("convolution.dilation"),
            1,
            8,
            key="conv_dilation",
            help=t("convolution.dilation_help"),
        )
        kind = c2.radio(
            t("convolution.padding"),
            ["number", "same", "valid"],
            horizontal=True,
            format_func=lambda k: t(f"convolution.pad_{k}"),
            key="conv_pad_kind",
            help=t("convolution.padding_help"),
        )
        pixels = c2.slider(
            t("convolution.padding_px"), 0, 20, key="conv_pad", disabled=kind != "number"
        )
        boundary = c2.selectbox(
            t("convolution.boundary"),
            BOUNDARIES,
            key="conv_boundary",
            format_func=lambda b: t(f"convolution.boundary_{b}"),
            help=t("convolution.boundary_help"),
        )
        mode = c3.radio(
            t("convolution.mode"),
            MODES,
            key="conv_mode",
            horizontal=True,
            format_func=lambda m: t(f"convolution.mode_{m}"),
        )
        c3.caption(t(f"convolution.mode_help_{mode}"))
    return ConvConfig(stride, pixels if kind == "number" else kind, dilation, mode, boundary)


# ---------------------------------------------------------------- the result


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


def _legend(limits: tuple[float, float], view: str, *, narrow: bool = False) -> None:
    """The colour bar with its end values (beside it, or under it in a narrow column)."""
    lo, hi = limits
    bar = _bar_png(view)
    if narrow or presenting():  # large type: the end values would not fit beside the bar
        st.image(bar, width="stretch")
        st.caption(t("convolution.scale_range", low=num(lo, ".4g"), high=num(hi, ".4g")))
        return
    left, mid, right = st.columns([1, 5, 1], vertical_alignment="center")
    left.caption(num(lo, ".4g"))
    mid.image(bar, width="stretch")
    right.caption(num(hi, ".4g"))


def _select_on_click(click: tuple[float, float] | None, oh: int, ow: int) -> None:
    """A click on the output picks that pixel in the inspector (before its inputs are drawn).

    With the R, G, B maps side by side (4-px gaps), the click picks the column and the channel.
    """
    if click is None:
        return
    x, y = click
    tile = int(x // (ow + 4))
    if tile > 0:  # the strip of three channel maps
        st.session_state["conv_ic"] = min(tile, 2)
        x -= tile * (ow + 4)
    st.session_state["conv_i"] = int(min(max(y, 0), oh - 1))
    st.session_state["conv_j"] = int(min(max(x, 0), ow - 1))
    st.session_state[_PICKED_SHAPE] = (oh, ow)


def _picked_feedback(out: np.ndarray) -> None:
    """Say which output pixel a click picked and its value, under the output and in a toast."""
    i, j = int(st.session_state["conv_i"]), int(st.session_state["conv_j"])
    value = out[i, j] if out.ndim == 2 else out[i, j, int(st.session_state.get("conv_ic", 0))]
    text = t("pages.pixel_picked", i=i, j=j, value=num(float(value), ".4g"))
    st.caption(f":material/my_location: {text}")
    st.toast(text, icon=":material/my_location:")


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
        click = clickable_image(to_display(out, view), key="conv_out_click", jpeg_quality=92)
        _select_on_click(click, oh, ow)
        st.caption(caption)
        if click is not None:  # feedback here, whichever tab is open
            _picked_feedback(out)
        else:
            st.caption(t("convolution.click_output"))
        _legend(display_limits(out, view), view)
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


# ---------------------------------------------------------------- multi-channel


def _matrix(arr: np.ndarray, digits: int = 3) -> str:
    """A 2-D array as a LaTeX bmatrix (numbers with up to ``digits`` significant digits)."""
    rows = [" & ".join(_tex(v, f".{digits}g") for v in row) for row in np.asarray(arr, np.float64)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


@st.cache_data(show_spinner=False, max_entries=4)
def _channel_pictures(_thumb: np.ndarray, photo: str) -> list[bytes]:
    """The photo's R, G and B channels as gray pictures, encoded once per photo."""
    return [_encode(np.repeat(_thumb[:, :, c : c + 1], 3, axis=2)) for c in range(3)]


@st.cache_data(show_spinner=False, max_entries=16)
def _multi_results(
    _thumb: np.ndarray, photo: str, kernels: tuple[np.ndarray, ...], cfg: ConvConfig
) -> tuple[tuple[float, float], tuple[float, float], list[bytes]]:
    """The three products' and their sum's pictures (encoded once) and their two scales: a change
    of the main kernel reruns the page but finds these unchanged."""
    products = [convolve(_thumb[:, :, c], kernels[c], **cfg.to_dict()) for c in range(3)]
    # the multi-channel filter's output is the sum of its per-channel products: (H', W')
    total = products[0] + products[1] + products[2]
    shared = display_limits(np.stack(products), "signed")  # one scale for the three products
    maps = [to_display(p, "signed", shared) for p in products]
    pictures = [_encode(p) for p in (*maps, to_display(total, "signed"))]
    return shared, display_limits(total, "signed"), pictures


def _multichannel(image: np.ndarray, photo: str, cfg: ConvConfig, shown: bool) -> None:
    """The seed's figure: one kernel per RGB channel, the three products, and their sum.

    Its pictures are made and sent only while its tab is ``shown`` (opening the tab reruns).
    """
    st.markdown(t("convolution.multi_intro"))
    cols = st.columns(4)
    kernels = []
    for c in range(3):
        name = cols[c].selectbox(
            t("convolution.channel_kernel", channel=t(f"convolution.channel_{c}")),
            list(PRESETS),
            index=list(PRESETS).index(_MULTI_DEFAULTS[c]),
            format_func=_preset_label,
            key=f"conv_multi_{c}",
        )
        kernels.append(preset_kernel(name))
    if not shown:
        for c in range(3):
            cols[c].latex(rf"w_{{{'RGB'[c]}}} = " + _matrix(kernels[c]))
        return
    thumb = _thumb(image, photo, _MULTI_SIDE)
    try:
        shared, total, pictures = _multi_results(thumb, photo, tuple(kernels), cfg)
    except ValueError as exc:
        show_error(exc)
        return
    channels = _channel_pictures(thumb, photo)
    for c in range(3):
        with cols[c]:
            st.image(channels[c], caption=t(f"convolution.channel_{c}"), width="stretch")
            st.latex(rf"w_{{{'RGB'[c]}}} = " + _matrix(kernels[c]))
            st.image(
                pictures[c],
                width="stretch",
                caption=t("convolution.product", channel=t(f"convolution.channel_{c}")),
            )
    with cols[3]:
        st.markdown(t("convolution.sum_title"))
        st.image(pictures[3], caption=t("convolution.sum_caption"), width="stretch")
        _legend(total, "signed", narrow=True)
    _legend(shared, "signed")
    st.caption(t("convolution.products_scale"))


# ---------------------------------------------------------------- the pixel inspector


def _index_input(column, label: str, key: str, size: int, default: int) -> int:
    """A whole-number input kept inside ``0..size-1`` even when the output shrinks."""
    st.session_state[key] = min(int(st.session_state.get(key, default)), size - 1)
    return int(column.number_input(label, min_value=0, max_value=size - 1, step=1, key=key))


def _follow_resize(oh: int, ow: int) -> None:
    """When the output changes size (stride, padding), keep the inspected pixel on the same spot.

    The pixel is moved in proportion (the centre stays the centre), instead of being clamped to
    the last row and column.
    """
    old = st.session_state.get(_PICKED_SHAPE)
    st.session_state[_PICKED_SHAPE] = (oh, ow)
    if old is None or tuple(old) == (oh, ow):
        return
    for key, before, after in (("conv_i", old[0], oh), ("conv_j", old[1], ow)):
        if key in st.session_state:
            frac = (int(st.session_state[key]) + 0.5) / max(before, 1)
            st.session_state[key] = min(after - 1, int(frac * after))


def _zoom(picture: np.ndarray, win, boundary: str) -> np.ndarray:
    """The window's neighbourhood (padding included), magnified, each kernel tap outlined."""
    margin = 2
    rows = np.arange(win.rows.min() - margin, win.rows.max() + margin + 1)
    cols = np.arange(win.cols.min() - margin, win.cols.max() + margin + 1)
    crop = sample_padded(picture, rows, cols, boundary)  # (h, w, 3)
    f = max(1, _ZOOM_SIDE // max(len(rows), len(cols)))
    big = Image.fromarray(np.repeat(np.repeat(crop, f, axis=0), f, axis=1))
    draw = ImageDraw.Draw(big)
    for r in win.rows - rows[0]:
        for c in win.cols - cols[0]:
            draw.rectangle(
                [c * f, r * f, (c + 1) * f - 1, (r + 1) * f - 1],
                outline=_TAP_COLOR,
                width=max(1, f // 8),
            )
    return np.asarray(big)


def _sum_latex(win) -> str:
    """``out(i,j) = v w + ...`` written out, one kernel row per line (up to 5x5), then the total."""
    values, weights = win.values, win.weights
    if values.ndim == 3 or max(values.shape) > 5:
        terms = r"\sum_{x,y} I(\cdot)\, w(x,y)"
        return rf"\mathrm{{out}}(i,j) = {terms} = {_tex(win.total)}"
    lines = [
        " + ".join(rf"({_tex(v)})({_tex(w, '.3g')})" for v, w in zip(vrow, wrow, strict=True))
        for vrow, wrow in zip(values, weights, strict=True)
    ]
    body = r" \\ &+ ".join(lines)
    total = _tex(win.total)
    return rf"\begin{{aligned}} \mathrm{{out}}(i,j) &= {body} \\ &= {total} \end{{aligned}}"


def _tex(value: float, spec: str = ".4g") -> str:
    """A number for LaTeX in the page's language (a French decimal comma is written ``{,}``)."""
    return num(float(value), spec).replace(",", "{,}").replace("\u202f", r"\,")


def _inspector(
    source: np.ndarray,
    picture: np.ndarray,
    kernel: np.ndarray,
    out: np.ndarray,
    cfg: ConvConfig,
    shown: bool,
) -> None:
    """Pick an output pixel; see the input window, the weights and the weighted sum.

    The magnified window is drawn only while the tab is ``shown`` (opening the tab reruns).
    """
    st.markdown(t("convolution.inspect_intro"))
    oh, ow = out.shape[:2]
    _follow_resize(oh, ow)
    c1, c2, c3 = st.columns(3)
    i = _index_input(c1, t("convolution.row", last=oh - 1), "conv_i", oh, oh // 2)
    j = _index_input(c2, t("convolution.col", last=ow - 1), "conv_j", ow, ow // 2)
    channel = None
    if source.ndim == 3:
        channel = c3.radio(
            t("convolution.inspect_channel"),
            [0, 1, 2],
            horizontal=True,
            format_func=lambda c: t(f"convolution.channel_{c}"),
            key="conv_ic",
        )
    win = window(source, kernel, i, j, channel=channel, **cfg.to_dict())
    left, right = st.columns([1, 2])
    if shown:
        if channel is not None:
            picture = np.repeat(source[:, :, channel : channel + 1], 3, axis=2)  # (H, W, 3)
        left.image(_zoom(picture, win, cfg.boundary), caption=t("convolution.window_caption"))
    with right:
        if max(kernel.shape) <= 5:
            st.latex(rf"I = {_matrix(win.values, 4)} \quad w = {_matrix(win.weights)}")
        else:
            st.dataframe(pd.DataFrame(win.products), hide_index=True)
            st.caption(t("convolution.products_table"))
        st.latex(_sum_latex(win))
        value = out[i, j] if out.ndim == 2 else out[i, j, channel]
        st.caption(t("convolution.check", i=i, j=j, value=num(float(value), ".4g")))
        if cfg.mode == "convolve":
            st.caption(t("convolution.flipped"))


# ---------------------------------------------------------------- the sliding window


def _slide_input(source: np.ndarray, kind: str, n: int) -> np.ndarray:
    """The small ``n x n`` input grid: a bright block on a dark ground, or the photo's centre."""
    if kind == "numbers":
        grid = np.full((n, n), 10.0, np.float32)
        grid[n // 4 : n - n // 4 - 1, n // 4 : n - n // 4] = 200.0  # edge kernels light its borders
        return grid
    gray = source if source.ndim == 2 else to_gray(source)  # (H, W)
    top, left = (gray.shape[0] - n) // 2, (gray.shape[1] - n) // 2
    return np.round(gray[top : top + n, left : left + n]).astype(np.float32)


def _cell_text(
    draw: ImageDraw.ImageDraw, x: int, y: int, text: str, fill, size: int = _CELL_FONT
) -> None:
    font = label_font(size)
    box = draw.textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    draw.text((x + (_CELL - tw) / 2, y + (_CELL - th) / 2 - box[1]), text, fill=fill, font=font)


def _slide_figure(
    grid: np.ndarray, kernel: np.ndarray, cfg: ConvConfig, out: np.ndarray, pos: int
) -> np.ndarray:
    """The padded input (padded cells grey), the kernel's taps at position ``pos``, the output so far.

    Output cells up to ``pos`` (row by row) hold their value; the current one is outlined.
    """
    n = grid.shape[0]
    (pt, pb), (pl, pr) = (
        pad_amounts(n, kernel.shape[a], cfg.stride, cfg.padding, cfg.dilation, cfg.mode)
        for a in (0, 1)
    )
    rows, cols = np.arange(-pt, n + pb), np.arange(-pl, n + pr)
    padded = sample_padded(grid, rows, cols, cfg.boundary)  # (n + pt + pb, n + pl + pr)
    oh, ow = out.shape
    i, j = divmod(pos, ow)
    win = window(grid, kernel, i, j, **cfg.to_dict())
    gap = _CELL
    width = (len(cols) + ow) * _CELL + gap + 8
    height = max(len(rows), oh) * _CELL + 8
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    taps = {
        (int(r), int(c)): w
        for r, wr in zip(win.rows, win.weights, strict=True)
        for c, w in zip(win.cols, wr, strict=True)
    }
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            x, y = 4 + b * _CELL, 4 + a * _CELL
            inside = 0 <= r < n and 0 <= c < n
            fill = (255, 255, 255) if inside else (225, 225, 225)  # padded cells grey
            draw.rectangle((x, y, x + _CELL - 1, y + _CELL - 1), fill=fill, outline=(160, 160, 160))
            tapped = (int(r), int(c)) in taps
            _cell_text(  # a tapped cell: its value in the upper half, the weight below it
                draw,
                x,
                y - (_CELL // 5 if tapped else 0),
                num(float(padded[a, b]), ".0f"),
                (0, 0, 0) if inside else (120, 120, 120),
            )
            if tapped:
                draw.rectangle(
                    (x + 1, y + 1, x + _CELL - 2, y + _CELL - 2), outline=(230, 150, 0), width=3
                )
                _cell_text(
                    draw,
                    x,
                    y + _CELL // 5,
                    "×" + num(float(taps[r, c]), ".2g"),
                    (200, 90, 0),
                    _WEIGHT_FONT,
                )
    left = 4 + len(cols) * _CELL + gap
    for a in range(oh):
        for b in range(ow):
            x, y = left + b * _CELL, 4 + a * _CELL
            done = a * ow + b <= pos
            draw.rectangle(
                (x, y, x + _CELL - 1, y + _CELL - 1),
                fill=(235, 245, 255) if done else (250, 250, 250),
                outline=(160, 160, 160),
            )
            if done:
                _cell_text(draw, x, y, num(float(out[a, b]), ".3g"), (0, 0, 0), _OUT_FONT)
            if (a, b) == (i, j):
                draw.rectangle(
                    (x + 1, y + 1, x + _CELL - 2, y + _CELL - 2), outline=(230, 150, 0), width=3
                )
    return np.asarray(img)


def _slide_state(count: int) -> int:
    """The position slider's value, kept in range; a finished Play or a Step set it before."""
    pending = st.session_state.pop("conv_slide_next", None)
    if pending is not None:
        st.session_state["conv_slide_pos"] = pending
    st.session_state["conv_slide_pos"] = min(
        int(st.session_state.get("conv_slide_pos", 0)), count - 1
    )
    return count


def _sliding_window(source: np.ndarray, kernel: np.ndarray, cfg: ConvConfig, shown: bool) -> None:
    """The kernel moving over a small grid position by position: Play, Step, or the slider.

    The figure is drawn only while the tab is ``shown`` (opening the tab reruns).
    """
    st.markdown(t("convolution.slide_intro"))
    kind = st.radio(
        t("convolution.slide_input"),
        ["numbers", "photo"],
        horizontal=True,
        format_func=lambda k: t(f"convolution.slide_{k}"),
        key="conv_slide_input",
    )
    extent = cfg.dilation * (max(kernel.shape[:2]) - 1) + 1  # the cells the kernel spans
    if extent > _SLIDE_MAX:
        st.info(t("convolution.slide_too_big", extent=extent, most=_SLIDE_MAX))
        return
    n = max(_SLIDE_SIDE, extent)
    grid = _slide_input(source, kind, n)
    try:
        out = convolve(grid, kernel, **cfg.to_dict())  # (oh, ow)
    except ValueError as exc:
        show_error(exc)
        return
    oh, ow = out.shape
    count = _slide_state(oh * ow)
    c1, c2, c3 = st.columns([1, 1, 4], vertical_alignment="bottom")
    play = c1.button(t("convolution.play"), key="conv_slide_play", icon=":material/play_arrow:")
    if c2.button(t("convolution.step"), key="conv_slide_step", icon=":material/skip_next:"):
        st.session_state["conv_slide_next"] = (st.session_state["conv_slide_pos"] + 1) % count
        st.rerun()
    slot = c3.empty()  # during Play a moving copy of the slider takes its place
    if play:  # from where the slider stands, or from the start once it is at the end
        pos = int(st.session_state["conv_slide_pos"])
        pos = 0 if pos >= count - 1 else pos
    else:
        pos = slot.slider(
            t("convolution.slide_position"),
            0,
            max(count - 1, 1),
            key="conv_slide_pos",
            disabled=count == 1,
        )
    pos = min(pos, count - 1)
    st.caption(
        t(
            "convolution.slide_geometry",
            stride=cfg.stride,
            dilation=cfg.dilation,
            padding=cfg.padding
            if isinstance(cfg.padding, int)
            else t(f"convolution.pad_{cfg.padding}"),
            n=n,
            oh=oh,
            ow=ow,
        )
    )
    figure, formula = st.empty(), st.empty()
    for p in range(pos, count) if play else [pos]:
        if play:  # the slider follows the animation (a disabled copy: Play owns the position)
            slot.slider(
                t("convolution.slide_position"),
                0,
                max(count - 1, 1),
                value=p,
                key=f"conv_slide_playing_{p}",
                disabled=True,
            )
        if shown:
            figure.image(_slide_figure(grid, kernel, cfg, out, p), width="content")
        i, j = divmod(p, ow)
        win = window(grid, kernel, i, j, **cfg.to_dict())
        with formula.container():
            st.caption(t("convolution.slide_now", i=i, j=j, pos=p + 1, count=count))
            st.latex(_sum_latex(win))
        if play and p < count - 1:
            time.sleep(_PLAY_DELAY)  # the animation's pace (a UI pause, not backend work)
    if play:  # the slider moves to where the animation stopped
        st.session_state["conv_slide_next"] = count - 1
        st.rerun()


# ---------------------------------------------------------------- the page


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
    sized = ss["conv_preset"] == _CUSTOM or (info is not None and info.sized)
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
        _seed_padding(settings.padding)
        st.session_state[_PENDING_WEIGHTS] = settings.weights
        size_key = "conv_custom_size" if settings.kernel == _CUSTOM else "conv_size"
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


@st.fragment
def _workbench(image: np.ndarray, color: str, view: str) -> None:
    """Kernel, geometry, the output and the tabs: a fragment, so a kernel or stride change reruns
    only this part of the page (not the sidebar, the lesson or the image picker)."""
    # presenting, the kernel column is wider (large type) and the gap small (a "large" gap grows
    # with the large type): the photos stay at least as large as without presenter mode
    kernel_col, result_col = (
        st.columns([1.4, 2.6], gap="small") if presenting() else st.columns([1, 2.6], gap="large")
    )
    wide_box = st.container()  # under both columns: a large kernel's editor
    with kernel_col:
        kernel, edited, own = _kernel_controls(wide_box)
    with result_col:
        result_box = st.container()  # drawn above the controls, filled once they are read
        cfg = _geometry_controls()
    photo = _fingerprint(image)
    source, picture, jpeg = _photo(image, photo, color)
    with result_box:  # the output first: what a change is waiting for
        out, fresh = _compute(source, f"{photo}|{color}", kernel, cfg)
        if out is not None:
            _show_result(jpeg, picture.shape, out, view, fresh)
            if fresh:
                _show_formula(source.shape, kernel, cfg, out.shape)
    # read here, in the fragment: its reruns update the address and the link too
    settings = _settings(cfg, edited, own, query.current("convolution", ConvSettings))
    query.save("convolution", settings)
    with kernel_col:
        query.copy_link(settings)
    if out is None:
        return
    tabs = query.keyed_tabs("convolution", CONV_TABS, _tabs_opened_on(settings.tab))
    multi_tab, inspect_tab, slide_tab = tabs
    with multi_tab:
        _multichannel(image, photo, cfg, bool(multi_tab.open))
    with inspect_tab:
        if fresh:
            _inspector(source, picture, kernel, out, cfg, bool(inspect_tab.open))
        else:
            st.info(t("convolution.inspect_needs_valid"))
    with slide_tab:
        if fresh:
            _sliding_window(source, kernel, cfg, bool(slide_tab.open))
        else:
            st.info(t("convolution.inspect_needs_valid"))
