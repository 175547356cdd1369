"""The Convolution page's multi-channel tab: one kernel per RGB channel, the three products and
their sum (the seed's figure)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from dreamlab.convolution import (
    PRESETS,
    ConvConfig,
    convolve,
    display_limits,
    preset_kernel,
    to_display,
)
from dreamlab.images import resize_max_side
from dreamlab.ui.i18n import t
from dreamlab.ui.parts.convolution_draw import encode_jpeg, legend, matrix, preset_label
from dreamlab.ui.parts.layout import show_error

__all__ = ["multi_kernels", "multi_products"]

Callback = Callable[[], None] | None  # a widget's on_change (None: the default rerun)
_MULTI_DEFAULTS = ("horizontal_edge", "vertical_edge", "laplacian")
_MULTI_SIDE = 384  # the multi-channel demo shows 7 small images: a smaller copy is plenty


@st.cache_data(show_spinner=False, max_entries=8)
def _thumb(_image: np.ndarray, photo: str, side: int) -> np.ndarray:
    """A copy whose longer side is at most ``side`` (Lanczos, done once per photo)."""
    return resize_max_side(_image, side)


@st.cache_data(show_spinner=False, max_entries=4)
def _channel_pictures(_thumb: np.ndarray, photo: str) -> list[bytes]:
    """The photo's R, G and B channels as gray pictures, encoded once per photo."""
    return [encode_jpeg(np.repeat(_thumb[:, :, c : c + 1], 3, axis=2)) for c in range(3)]


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
    pictures = [encode_jpeg(p) for p in (*maps, to_display(total, "signed"))]
    return shared, display_limits(total, "signed"), pictures


def multi_kernels(image: np.ndarray, photo: str, shown: bool, changed: Callback = None) -> tuple:
    """The seed's figure, its first row: one kernel per RGB channel, with the channel's picture
    (only while the tab is ``shown``) and the weights. Returns the three kernels.

    ``changed``: the kernel lists' callback (their products, drawn by :func:`multi_products`,
    follow them).
    """
    st.markdown(t("convolution.multi_intro"))
    cols = st.columns(4)
    channels = _channel_pictures(_thumb(image, photo, _MULTI_SIDE), photo) if shown else None
    kernels = []
    for c in range(3):
        with cols[c]:
            name = st.selectbox(
                t("convolution.channel_kernel", channel=t(f"convolution.channel_{c}")),
                list(PRESETS),
                index=list(PRESETS).index(_MULTI_DEFAULTS[c]),
                format_func=preset_label,
                key=f"conv_multi_{c}",
                on_change=changed,
            )
            kernels.append(preset_kernel(name))
            if channels is not None:
                st.image(channels[c], caption=t(f"convolution.channel_{c}"), width="stretch")
            st.latex(rf"w_{{{'RGB'[c]}}} = " + matrix(kernels[c]))
    return tuple(kernels)


def multi_products(
    image: np.ndarray, photo: str, kernels: tuple, cfg: ConvConfig, shown: bool
) -> None:
    """The seed's figure, its second row: the three products and their sum, on their scales.

    Its pictures are made and sent only while its tab is ``shown`` (opening the tab reruns).
    """
    if not shown:
        return
    thumb = _thumb(image, photo, _MULTI_SIDE)
    try:
        shared, total, pictures = _multi_results(thumb, photo, kernels, cfg)
    except ValueError as exc:
        show_error(exc)
        return
    cols = st.columns(4)
    for c in range(3):
        cols[c].image(
            pictures[c],
            width="stretch",
            caption=t("convolution.product", channel=t(f"convolution.channel_{c}")),
        )
    with cols[3]:
        st.markdown(t("convolution.sum_title"))
        st.image(pictures[3], caption=t("convolution.sum_caption"), width="stretch")
        legend(total, "signed", narrow=True)
    legend(shared, "signed")
    st.caption(t("convolution.products_scale"))
