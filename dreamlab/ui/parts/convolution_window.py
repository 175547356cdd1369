"""The Convolution page's sliding window: the kernel moving over a small grid of numbers position
by position (Play, Step or the slider), with the figure and the sum at each position."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from dreamlab.convolution import ConvConfig, convolve, pad_amounts, sample_padded, to_gray, window
from dreamlab.ui.i18n import num, t
from dreamlab.ui.parts.convolution_draw import sum_latex
from dreamlab.ui.parts.layout import show_error
from dreamlab.viz import label_font

__all__ = ["sliding_window"]

_SLIDE_SIDE = 7  # the sliding window's input grid (7 x 7 numbers), larger for a wide kernel
_SLIDE_MAX = 13  # the widest kernel (dilation included) the sliding window draws
_CELL = 60  # one cell of the sliding-window figure, in pixels (read from the back of a room)
_CELL_FONT, _WEIGHT_FONT, _OUT_FONT = 20, 15, 17  # the numbers' sizes in it, in pixels (DejaVu)
_PLAY_DELAY = 0.35  # seconds between two positions when playing


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
    oh, ow = out.shape
    win = window(grid, kernel, *divmod(pos, ow), **cfg.to_dict())
    width = (len(cols) + 1 + ow) * _CELL + 8  # the input, a gap of one cell, the output
    height = max(len(rows), oh) * _CELL + 8
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    padded = sample_padded(grid, rows, cols, cfg.boundary)  # (n + pt + pb, n + pl + pr)
    _draw_input(draw, padded, rows, cols, n, win)
    _draw_output(draw, out, pos, 4 + (len(cols) + 1) * _CELL)
    return np.asarray(img)


def _outline(draw: ImageDraw.ImageDraw, x: int, y: int) -> None:
    """The orange outline of a tapped input cell or of the current output cell."""
    draw.rectangle((x + 1, y + 1, x + _CELL - 2, y + _CELL - 2), outline=(230, 150, 0), width=3)


def _draw_input(
    draw: ImageDraw.ImageDraw,
    padded: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    n: int,
    win,
) -> None:
    """The padded ``n x n`` input: every cell's value, the kernel's taps outlined with weights."""
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
                _outline(draw, x, y)
                weight = "×" + num(float(taps[r, c]), ".2g")
                _cell_text(draw, x, y + _CELL // 5, weight, (200, 90, 0), _WEIGHT_FONT)


def _draw_output(draw: ImageDraw.ImageDraw, out: np.ndarray, pos: int, left: int) -> None:
    """The output grid from ``left``: cells up to ``pos`` hold their value, ``pos`` outlined."""
    oh, ow = out.shape
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
            if a * ow + b == pos:
                _outline(draw, x, y)


def _slide_state(count: int) -> int:
    """The position slider's value, kept in range; a finished Play or a Step set it before."""
    pending = st.session_state.pop("conv_slide_next", None)
    if pending is not None:
        st.session_state["conv_slide_pos"] = pending
    st.session_state["conv_slide_pos"] = min(
        int(st.session_state.get("conv_slide_pos", 0)), count - 1
    )
    return count


def sliding_window(source: np.ndarray, kernel: np.ndarray, cfg: ConvConfig, shown: bool) -> None:
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
    count = _slide_state(out.size)
    play, slot, pos = _slide_controls(count)
    st.caption(_geometry_caption(cfg, n, out.shape))
    positions = range(pos, count) if play else [pos]
    _slide_frames(grid, kernel, cfg, out, positions, slot if play else None, shown)
    if play:  # the slider moves to where the animation stopped
        st.session_state["conv_slide_next"] = count - 1
        st.rerun()


def _slide_controls(count: int) -> tuple[bool, object, int]:
    """Play, Step and the position slider: whether Play was pressed, the slider's slot (a
    moving copy of the slider takes its place during Play) and the position to start from."""
    c1, c2, c3 = st.columns([1, 1, 4], vertical_alignment="bottom")
    play = c1.button(t("convolution.play"), key="conv_slide_play", icon=":material/play_arrow:")
    if c2.button(t("convolution.step"), key="conv_slide_step", icon=":material/skip_next:"):
        st.session_state["conv_slide_next"] = (st.session_state["conv_slide_pos"] + 1) % count
        st.rerun()
    slot = c3.empty()
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
    return play, slot, min(pos, count - 1)


def _geometry_caption(cfg: ConvConfig, n: int, shape: tuple[int, ...]) -> str:
    """The small example's stride, dilation, padding and sizes, in one line."""
    padding = cfg.padding if isinstance(cfg.padding, int) else t(f"convolution.pad_{cfg.padding}")
    return t(
        "convolution.slide_geometry",
        stride=cfg.stride,
        dilation=cfg.dilation,
        padding=padding,
        n=n,
        oh=shape[0],
        ow=shape[1],
    )


def _slide_frames(
    grid: np.ndarray,
    kernel: np.ndarray,
    cfg: ConvConfig,
    out: np.ndarray,
    positions,
    slot,
    shown: bool,
) -> None:
    """The figure and the sum at each of ``positions`` in turn (one, or all of them when Play
    passes its ``slot``, where a disabled copy of the slider follows the animation)."""
    count, ow = out.size, out.shape[1]
    figure, formula = st.empty(), st.empty()
    for p in positions:
        if slot is not None:  # the slider follows the animation (Play owns the position)
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
            st.latex(sum_latex(win))
        if slot is not None and p < count - 1:
            time.sleep(_PLAY_DELAY)  # the animation's pace (a UI pause, not backend work)
