"""What the Convolution page's parts share: the JPEG encoder, the colour legend, the preset names
and the LaTeX of matrices and weighted sums."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from dreamlab.convolution import colorbar, display_limits
from dreamlab.ui.i18n import num, t
from dreamlab.ui.theme import presenting

__all__ = ["encode_jpeg", "legend", "matrix", "preset_label", "sum_latex", "tex"]


def encode_jpeg(picture: np.ndarray) -> bytes:
    """An ``H x W x 3`` uint8 picture as JPEG bytes (quality 92: no visible loss, a tenth of a PNG)."""
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "JPEG", quality=92)
    return buf.getvalue()


@st.cache_data(show_spinner=False, max_entries=4)
def _bar_png(view: str) -> bytes:
    """The view's colour bar as PNG, drawn once: its colours run end to end whatever the values
    (only the numbers at its ends change)."""
    bar = colorbar(view, display_limits(np.ones((1, 1), np.float32), view), width=512, height=14)
    buf = io.BytesIO()
    Image.fromarray(bar).save(buf, "PNG")
    return buf.getvalue()


def legend(limits: tuple[float, float], view: str, *, narrow: bool = False) -> None:
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


def preset_label(name: str) -> str:
    return t(f"convolution.preset.{name}")


def tex(value: float, spec: str = ".4g") -> str:
    """A number for LaTeX in the page's language (a French decimal comma is written ``{,}``)."""
    return num(float(value), spec).replace(",", "{,}").replace("\u202f", r"\,")


def matrix(arr: np.ndarray, digits: int = 3) -> str:
    """A 2-D array as a LaTeX bmatrix (numbers with up to ``digits`` significant digits)."""
    rows = [" & ".join(tex(v, f".{digits}g") for v in row) for row in np.asarray(arr, np.float64)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def sum_latex(win) -> str:
    """``out(i,j) = v w + ...`` written out, one kernel row per line (up to 5x5), then the total."""
    values, weights = win.values, win.weights
    if values.ndim == 3 or max(values.shape) > 5:
        terms = r"\sum_{x,y} I(\cdot)\, w(x,y)"
        return rf"\mathrm{{out}}(i,j) = {terms} = {tex(win.total)}"
    lines = [
        " + ".join(rf"({tex(v)})({tex(w, '.3g')})" for v, w in zip(vrow, wrow, strict=True))
        for vrow, wrow in zip(values, weights, strict=True)
    ]
    body = r" \\ &+ ".join(lines)
    total = tex(win.total)
    return rf"\begin{{aligned}} \mathrm{{out}}(i,j) &= {body} \\ &= {total} \end{{aligned}}"
