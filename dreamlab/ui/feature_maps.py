"""The "Feature maps" page: what each layer of a network sees in a photo."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dreamlab.activations import layer_maps, top_channels
from dreamlab.models import LoadedModel
from dreamlab.ui.i18n import t
from dreamlab.ui.widgets import (
    advanced_controls,
    image_picker,
    layer_select,
    lesson,
    model_key,
    model_picker,
    presenting,
    show_error,
)
from dreamlab.viz import colorbar, colorize, filter_tiles, mosaic, overlay, shared_scale

__all__ = ["render"]

_MAX_SIDE = 384  # the forward pass runs at this size: maps stay readable and it takes ~0.1 s


@st.cache_data(show_spinner=False, max_entries=24)
def _maps(_model: LoadedModel, model_key: str, image: np.ndarray, layer: str) -> np.ndarray:
    return layer_maps(_model, image, layer)


@st.cache_data(show_spinner=False, max_entries=24)
def _predictions(_model: LoadedModel, model_key: str, image: np.ndarray) -> list[tuple[str, float]]:
    return _model.classify(image, top=5)


def _show_predictions(model: LoadedModel, key: str, image: np.ndarray) -> None:
    st.subheader(t("feature_maps.predictions"))
    preds = _predictions(model, key, image)
    st.dataframe(
        {
            t("feature_maps.label"): [p[0] for p in preds],
            t("feature_maps.probability"): [p[1] for p in preds],
        },
        column_config={
            t("feature_maps.probability"): st.column_config.ProgressColumn(
                format="%.3f", min_value=0.0, max_value=1.0
            )
        },
        hide_index=True,
        width="stretch",
    )
    if model.spec.input_size < 64:
        st.caption(t("feature_maps.small_input", size=model.spec.input_size))


def _show_grid(maps: np.ndarray, count: int) -> list[int]:
    """The ``count`` most active channels on one shared colour scale; returns their indices."""
    top = top_channels(maps, count)
    scale = shared_scale(maps[top])
    tiles = colorize(maps[top], scale)  # (N, h, w, 3)
    labels = [f"#{c}" for c in top]
    st.image(mosaic(tiles, labels, cols=8, tile_size=96), width="stretch")
    _scale_legend(scale)
    return top


def _scale_legend(scale) -> None:
    left, mid, right = st.columns([1, 6, 1])
    left.caption(f"{scale.vmin:.2g}")
    mid.image(colorbar(scale, width=512, height=12), width="stretch")
    right.caption(f"{scale.vmax:.2g}")


def _show_channel(image: np.ndarray, maps: np.ndarray, default: int, key: str) -> None:
    st.subheader(t("feature_maps.one_channel"))
    channels = maps.shape[0]
    channel = st.number_input(
        t("feature_maps.channel", count=channels), min_value=0, max_value=channels - 1,
        value=min(default, channels - 1), step=1, key=f"fm_channel_{key}",
    )  # fmt: skip
    alpha = st.slider(t("feature_maps.opacity"), 0.0, 1.0, 0.6, 0.05, key="fm_alpha")
    scale = shared_scale(maps[channel])
    c1, c2 = st.columns(2)
    c1.image(
        overlay(image, maps[channel], scale, alpha),
        caption=t("feature_maps.over_image"),
        width="stretch",
    )
    raw = colorize(maps[channel], scale)
    c2.image(
        mosaic(raw[None], tile_size=image.shape[1] // 2),
        caption=t("feature_maps.raw_map", h=maps.shape[1], w=maps.shape[2]),
        width="stretch",
    )
    stats = maps[channel]
    st.caption(
        t(
            "feature_maps.stats",
            mean=f"{stats.mean():.3g}",
            max=f"{stats.max():.3g}",
            min=f"{stats.min():.3g}",
        )
    )


def _show_filters(model: LoadedModel) -> None:
    st.subheader(t("feature_maps.filters"))
    weight = model.module.get_submodule(model.spec.first_conv).weight  # (out, in, k, k)
    tiles, m = filter_tiles(weight, tile_size=48)
    st.image(mosaic(tiles, [str(i) for i in range(len(tiles))], cols=16, pad=3), width="stretch")
    k = weight.shape[-1]
    st.caption(
        t("feature_maps.filters_caption", n=weight.shape[0], c=weight.shape[1], k=k, m=f"{m:.3g}")
    )


def render() -> None:
    """Draw the page."""
    st.title(t("feature_maps.title"))
    st.caption(t("feature_maps.intro"))
    lesson("feature_maps")
    controls, view = st.columns([1, 2], gap="large")
    with controls:
        model = model_picker("fm")
        image = image_picker("fm", max_side=_MAX_SIDE)
        if model is None or image is None:
            return
        layer = layer_select(model, "fm")
        with advanced_controls():
            count = st.slider(
                t("feature_maps.count"), 4, 64, 16 if presenting() else 32, 4, key="fm_count"
            )
        st.image(image.array, caption=image.name, width="stretch")
        _show_predictions(model, model_key(model), image.array)
    with view:
        try:
            maps = _maps(model, model_key(model), image.array, layer)
        except Exception as exc:  # one line for the user, whatever the model does
            show_error(exc)
            return
        st.subheader(
            t("feature_maps.grid", layer=layer, c=maps.shape[0], h=maps.shape[1], w=maps.shape[2])
        )
        top = _show_grid(maps, count)
        _show_channel(image.array, maps, top[0], f"{model.name}_{layer}")
    _show_filters(model)
