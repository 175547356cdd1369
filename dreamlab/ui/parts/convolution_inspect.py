"""The Convolution page's pixel inspector: an output pixel picked (by number or by a click on the
output), its input window magnified, the weights and the weighted sum written out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw

from dreamlab.convolution import ConvConfig, sample_padded, window
from dreamlab.ui.i18n import num, t
from dreamlab.ui.parts.convolution_draw import matrix, sum_latex

__all__ = ["inspector", "picked_feedback", "select_on_click"]

_ZOOM_SIDE = 240  # the inspector's magnified neighbourhood, in screen pixels
_TAP_COLOR = (255, 214, 0)
_PICKED_SHAPE = "conv_picked_shape"  # the output's size when the inspected pixel was picked


def select_on_click(click: tuple[float, float] | None, oh: int, ow: int) -> None:
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


def picked_feedback(out: np.ndarray) -> None:
    """Say which output pixel a click picked and its value, under the output and in a toast."""
    i, j = int(st.session_state["conv_i"]), int(st.session_state["conv_j"])
    value = out[i, j] if out.ndim == 2 else out[i, j, int(st.session_state.get("conv_ic", 0))]
    text = t("pages.pixel_picked", i=i, j=j, value=num(float(value), ".4g"))
    st.caption(f":material/my_location: {text}")
    st.toast(text, icon=":material/my_location:")


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


def inspector(
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
            st.latex(rf"I = {matrix(win.values, 4)} \quad w = {matrix(win.weights)}")
        else:
            st.dataframe(pd.DataFrame(win.products), hide_index=True)
            st.caption(t("convolution.products_table"))
        st.latex(sum_latex(win))
        value = out[i, j] if out.ndim == 2 else out[i, j, channel]
        st.caption(t("convolution.check", i=i, j=j, value=num(float(value), ".4g")))
        if cfg.mode == "convolve":
            st.caption(t("convolution.flipped"))
