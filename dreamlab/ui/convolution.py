"""The "Convolution" page: a kernel slides over a photo, with every number of the formula on screen.

The default view is the seed's figure: the horizontal-edge kernel on a grayscale photo, input and
``|output|`` side by side. Everything is recomputed on each widget change (a few milliseconds with
``dreamlab.convolution``), so there is nothing to queue in the job gate.
"""

from __future__ import annotations

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
    normalize_sum,
    pad_amounts,
    preset_kernel,
    sample_padded,
    to_display,
    to_gray,
    window,
)
from dreamlab.images import resize_max_side
from dreamlab.ui.i18n import t
from dreamlab.ui.widgets import advanced_controls, image_picker, lesson, presenting, show_error

__all__ = ["render"]

_VIEWS = ("abs", "signed", "clip")  # abs first: the seed showed abs(output)
_CUSTOM = "custom"
_DEFAULT_PRESET = "horizontal_edge"  # the seed's kernel
_MULTI_DEFAULTS = ("horizontal_edge", "vertical_edge", "laplacian")
_MULTI_SIDE = 384  # the multi-channel demo shows 7 small images: a smaller copy is plenty
_ZOOM_SIDE = 240  # the inspector's magnified neighbourhood, in screen pixels
_TAP_COLOR = (255, 214, 0)
_LAST_OUT = "conv_last_out"  # the last good result, shown (marked stale) if the next one fails


# ---------------------------------------------------------------- cached conversions


@st.cache_data(show_spinner=False, max_entries=8)
def _source(image: np.ndarray, color: str) -> np.ndarray:
    """What gets convolved: luma (``H x W`` float32) or the RGB photo itself (uint8)."""
    return to_gray(image) if color == "gray" else image


@st.cache_data(show_spinner=False, max_entries=8)
def _picture(source: np.ndarray) -> np.ndarray:
    """The source as an ``H x W x 3`` uint8 picture (gray repeated on three channels)."""
    if source.ndim == 3:
        return source
    gray = np.clip(source + 0.5, 0, 255).astype(np.uint8)  # (H, W)
    return np.repeat(gray[:, :, None], 3, axis=2)


@st.cache_data(show_spinner=False, max_entries=8)
def _thumb(image: np.ndarray, side: int) -> np.ndarray:
    """A copy whose longer side is at most ``side`` (Lanczos, done once per image)."""
    return resize_max_side(image, side)


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
        size = st.select_slider(
            t("convolution.size"), options=options, value=3, key=key, format_func=lambda k: f"{k}×{k}"
        )  # fmt: skip
    sigma = None
    if info is not None and info.sigma:
        with advanced_controls():
            sigma = st.slider(
                t("convolution.sigma"), 0.3, 5.0, round(default_sigma(size), 1), 0.1,
                key=f"conv_sigma_{size}", help=t("convolution.sigma_help"),
            )  # fmt: skip
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
    columns = [str(c) for c in range(base.shape[1])]
    frame = pd.DataFrame(st.session_state[init], columns=columns)
    edited = st.data_editor(
        frame, key=key, hide_index=True, num_rows="fixed",
        column_config={c: st.column_config.NumberColumn(c, format="%.4g") for c in columns},
    )  # fmt: skip
    kernel = edited.to_numpy(dtype=np.float64, na_value=np.nan)  # an emptied cell -> NaN -> error
    store[editor_id] = kernel
    return kernel


def _kernel_controls() -> np.ndarray:
    """Preset, size, the editable weights, normalise and reset; returns the kernel to apply."""
    names = [*PRESETS, _CUSTOM]
    preset = st.selectbox(
        t("convolution.kernel"), names, index=names.index(_DEFAULT_PRESET),
        format_func=_preset_label, key="conv_preset",
    )  # fmt: skip
    size, sigma = _size_and_sigma(preset)
    editor_id = f"{preset}|{size}|{sigma}"
    st.caption(t("convolution.editor_help"))
    kernel = _kernel_editor(editor_id, _base_kernel(preset, size, sigma))
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
        st.caption(t("convolution.kernel_sum", total=f"{kernel.sum():.4g}"))
    return kernel


# ---------------------------------------------------------------- geometry controls


def _geometry_controls() -> ConvConfig:
    """Stride, padding, boundary, dilation and correlate/convolve (folded away when presenting)."""
    with advanced_controls():
        c1, c2, c3 = st.columns(3)
        stride = c1.slider(t("convolution.stride"), 1, 8, 1, key="conv_stride",
                           help=t("convolution.stride_help"))  # fmt: skip
        dilation = c1.slider(t("convolution.dilation"), 1, 8, 1, key="conv_dilation",
                             help=t("convolution.dilation_help"))  # fmt: skip
        kind = c2.radio(
            t("convolution.padding"), ["number", "same", "valid"], horizontal=True,
            format_func=lambda k: t(f"convolution.pad_{k}"), key="conv_pad_kind",
            help=t("convolution.padding_help"),
        )  # fmt: skip
        pixels = c2.slider(t("convolution.padding_px"), 0, 20, 0, key="conv_pad",
                           disabled=kind != "number")  # fmt: skip
        boundary = c2.selectbox(
            t("convolution.boundary"), BOUNDARIES, key="conv_boundary",
            format_func=lambda b: t(f"convolution.boundary_{b}"), help=t("convolution.boundary_help"),
        )  # fmt: skip
        mode = c3.radio(t("convolution.mode"), MODES, key="conv_mode", horizontal=True,
                        format_func=lambda m: t(f"convolution.mode_{m}"))  # fmt: skip
        c3.caption(t(f"convolution.mode_help_{mode}"))
    return ConvConfig(stride, pixels if kind == "number" else kind, dilation, mode, boundary)


# ---------------------------------------------------------------- the result


def _compute(
    source: np.ndarray, kernel: np.ndarray, cfg: ConvConfig
) -> tuple[np.ndarray | None, bool]:
    """The output and whether it is fresh; on bad input one line, and the last good result."""
    try:
        out = convolve(source, kernel, **cfg.to_dict())
    except (ValueError, RuntimeError, MemoryError) as exc:  # bad input, or torch refusing it
        show_error(exc)
        return st.session_state.get(_LAST_OUT), False
    st.session_state[_LAST_OUT] = out
    return out, True


def _legend(
    values: np.ndarray,
    view: str,
    limits: tuple[float, float] | None = None,
    *,
    narrow: bool = False,
) -> None:
    """The colour bar with its end values (beside it, or under it in a narrow column)."""
    lo, hi = limits or display_limits(values, view)
    bar = colorbar(view, (lo, hi), width=512, height=14)
    if narrow or presenting():  # large type: the end values would not fit beside the bar
        st.image(bar, width="stretch")
        st.caption(t("convolution.scale_range", low=f"{lo:.4g}", high=f"{hi:.4g}"))
        return
    left, mid, right = st.columns([1, 5, 1], vertical_alignment="center")
    left.caption(f"{lo:.4g}")
    mid.image(bar, width="stretch")
    right.caption(f"{hi:.4g}")


def _show_result(picture: np.ndarray, out: np.ndarray, view: str, fresh: bool) -> None:
    """Input and output side by side, the output with its colour bar."""
    strip = out.ndim == 3 and view == "signed"  # three channel maps side by side: more room
    left, right = st.columns([1, 3] if strip else [1, 1])
    h, w = picture.shape[:2]
    left.image(picture, caption=t("convolution.input_caption", h=h, w=w), width="stretch")
    with right.container(key="conv_output"):
        oh, ow = out.shape[:2]
        caption = t("convolution.output_caption", h=oh, w=ow)
        if strip:
            caption = t("convolution.output_caption_channels", h=oh, w=ow)
        st.image(to_display(out, view), caption=caption, width="stretch")
        _legend(out, view)
        st.caption(t(f"convolution.view_help_{view}"))
        if view == "clip":
            st.caption(t("convolution.clip_stats", below=f"{(out < 0).mean():.0%}",
                         above=f"{(out > 255).mean():.0%}"))  # fmt: skip
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


def _show_formula(image_shape: tuple[int, ...], kernel: np.ndarray, cfg: ConvConfig,
                  out_shape: tuple[int, ...]) -> None:  # fmt: skip
    """The output-size formula with the current numbers filled in, for both axes."""
    st.markdown(t("convolution.formula_title"))
    rows = _formula_line("H", image_shape[0], kernel.shape[0], cfg, out_shape[0])
    cols = _formula_line("W", image_shape[1], kernel.shape[1], cfg, out_shape[1])
    st.latex(rf"\begin{{aligned}} {rows} \\ {cols} \end{{aligned}}")


# ---------------------------------------------------------------- multi-channel


def _matrix(arr: np.ndarray, digits: int = 3) -> str:
    """A 2-D array as a LaTeX bmatrix (numbers with up to ``digits`` significant digits)."""
    rows = [" & ".join(f"{v:.{digits}g}" for v in row) for row in np.asarray(arr, dtype=np.float64)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def _multichannel(image: np.ndarray, cfg: ConvConfig) -> None:
    """The seed's figure: one kernel per RGB channel, the three products, and their sum."""
    st.markdown(t("convolution.multi_intro"))
    thumb = _thumb(image, _MULTI_SIDE)
    cols = st.columns(4)
    kernels = []
    for c in range(3):
        name = cols[c].selectbox(
            t("convolution.channel_kernel", channel=t(f"convolution.channel_{c}")), list(PRESETS),
            index=list(PRESETS).index(_MULTI_DEFAULTS[c]), format_func=_preset_label,
            key=f"conv_multi_{c}",
        )  # fmt: skip
        kernels.append(preset_kernel(name))
    try:
        products = [convolve(thumb[:, :, c], kernels[c], **cfg.to_dict()) for c in range(3)]
        total = convolve(thumb, np.stack(kernels, axis=-1), **cfg.to_dict())  # (H', W')
    except ValueError as exc:
        show_error(exc)
        return
    shared = display_limits(np.stack(products), "signed")  # one scale for the three products
    for c in range(3):
        with cols[c]:
            st.image(thumb[:, :, c], caption=t(f"convolution.channel_{c}"), width="stretch")
            st.latex(rf"w_{{{'RGB'[c]}}} = " + _matrix(kernels[c]))
            st.image(to_display(products[c], "signed", shared), width="stretch",
                     caption=t("convolution.product", channel=t(f"convolution.channel_{c}")))  # fmt: skip
    with cols[3]:
        st.markdown(t("convolution.sum_title"))
        st.image(to_display(total, "signed"), caption=t("convolution.sum_caption"), width="stretch")
        _legend(total, "signed", narrow=True)
    _legend(np.stack(products), "signed", shared)
    st.caption(t("convolution.products_scale"))


# ---------------------------------------------------------------- the pixel inspector


def _index_input(column, label: str, key: str, size: int, default: int) -> int:
    """A whole-number input kept inside ``0..size-1`` even when the output shrinks."""
    st.session_state[key] = min(int(st.session_state.get(key, default)), size - 1)
    return int(column.number_input(label, min_value=0, max_value=size - 1, step=1, key=key))


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
            draw.rectangle([c * f, r * f, (c + 1) * f - 1, (r + 1) * f - 1], outline=_TAP_COLOR,
                           width=max(1, f // 8))  # fmt: skip
    return np.asarray(big)


def _sum_latex(win) -> str:
    """``out(i,j) = v w + ...`` written out, one kernel row per line (up to 5x5), then the total."""
    values, weights = win.values, win.weights
    if values.ndim == 3 or max(values.shape) > 5:
        terms = r"\sum_{x,y} I(\cdot)\, w(x,y)"
        return rf"\mathrm{{out}}(i,j) = {terms} = {win.total:.4g}"
    lines = [
        " + ".join(rf"({v:.4g})({w:.3g})" for v, w in zip(vrow, wrow, strict=True))
        for vrow, wrow in zip(values, weights, strict=True)
    ]
    body = r" \\ &+ ".join(lines)
    return rf"\begin{{aligned}} \mathrm{{out}}(i,j) &= {body} \\ &= {win.total:.4g} \end{{aligned}}"


def _inspector(source: np.ndarray, picture: np.ndarray, kernel: np.ndarray, out: np.ndarray,
               cfg: ConvConfig) -> None:  # fmt: skip
    """Pick an output pixel; see the input window, the weights and the weighted sum."""
    st.markdown(t("convolution.inspect_intro"))
    oh, ow = out.shape[:2]
    c1, c2, c3 = st.columns(3)
    i = _index_input(c1, t("convolution.row", last=oh - 1), "conv_i", oh, oh // 2)
    j = _index_input(c2, t("convolution.col", last=ow - 1), "conv_j", ow, ow // 2)
    channel = None
    if source.ndim == 3:
        channel = c3.radio(t("convolution.inspect_channel"), [0, 1, 2], horizontal=True,
                           format_func=lambda c: t(f"convolution.channel_{c}"), key="conv_ic")  # fmt: skip
        picture = np.repeat(source[:, :, channel : channel + 1], 3, axis=2)
    win = window(source, kernel, i, j, channel=channel, **cfg.to_dict())
    left, right = st.columns([1, 2])
    left.image(_zoom(picture, win, cfg.boundary), caption=t("convolution.window_caption"))
    with right:
        if max(kernel.shape) <= 5:
            st.latex(rf"I = {_matrix(win.values, 4)} \quad w = {_matrix(win.weights)}")
        else:
            st.dataframe(pd.DataFrame(win.products), hide_index=True)
            st.caption(t("convolution.products_table"))
        st.latex(_sum_latex(win))
        value = out[i, j] if out.ndim == 2 else out[i, j, channel]
        st.caption(t("convolution.check", i=i, j=j, value=f"{float(value):.4g}"))
        if cfg.mode == "convolve":
            st.caption(t("convolution.flipped"))


# ---------------------------------------------------------------- the page


def _top_controls() -> tuple[np.ndarray | None, str, str]:
    """Image, grayscale/RGB and the view of signed values."""
    c1, c2, c3 = st.columns([2, 1, 1])
    with c1:
        loaded = image_picker("conv")
    color = c2.radio(t("convolution.color"), ["gray", "rgb"], key="conv_color",
                     format_func=lambda c: t(f"convolution.color_{c}"))  # fmt: skip
    view = c3.radio(t("convolution.view"), _VIEWS, key="conv_view",
                    format_func=lambda v: t(f"convolution.view_{v}"))  # fmt: skip
    return (None if loaded is None else loaded.array), color, view


def render() -> None:
    """Draw the page."""
    st.title(t("convolution.title"))
    st.caption(t("convolution.intro"))
    lesson("convolution")
    image, color, view = _top_controls()
    if image is None:
        st.info(t("convolution.no_image"))
        return
    kernel_col, result_col = st.columns([1.4, 2.6] if presenting() else [1, 2.6], gap="large")
    with kernel_col:
        kernel = _kernel_controls()
    with result_col:
        result_box = st.container()  # drawn above the controls, filled once they are read
        cfg = _geometry_controls()
    source = _source(image, color)
    picture = _picture(source)
    with result_box:
        out, fresh = _compute(source, kernel, cfg)
        if out is None:
            return
        _show_result(picture, out, view, fresh)
        if fresh:
            _show_formula(source.shape, kernel, cfg, out.shape)
    multi_tab, inspect_tab = st.tabs([t("convolution.tab_multi"), t("convolution.tab_inspect")])
    with multi_tab:
        _multichannel(image, cfg)
    with inspect_tab:
        if fresh:
            _inspector(source, picture, kernel, out, cfg)
        else:
            st.info(t("convolution.inspect_needs_valid"))
