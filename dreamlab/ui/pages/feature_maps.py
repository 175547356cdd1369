"""The "Feature maps" page: what each layer of a network sees in a photo.

Deep layers have small maps (a 16x stride turns a 450-px photo into 28 x 19 values), so the page
runs the network on the photo enlarged until the chosen layer's maps are at least ``_MIN_MAP`` px on
their shorter side (within a memory cap), and says so under the grid. Clicking a tile picks that
channel; clicking the large map outlines that unit's receptive field on the photo.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dreamlab.activations import (
    layer_stride,
    maps_input_size,
    receptive_field,
    top_channels,
)
from dreamlab.backend import classify, layer_maps
from dreamlab.images import resize_to
from dreamlab.models import LoadedModel
from dreamlab.runtime.budget import MemoryRefused
from dreamlab.runtime.job_costs import maps_image_cost
from dreamlab.ui import query
from dreamlab.ui.i18n import num, t
from dreamlab.ui.ignored import note_invalid
from dreamlab.ui.parts.gate import shared_gate
from dreamlab.ui.parts.layout import advanced_controls, lesson, page_columns, show_error
from dreamlab.ui.parts.model_picker import layer_select, model_key, model_picker
from dreamlab.ui.parts.upload import clickable_image, image_picker
from dreamlab.ui.settings import MapsSettings
from dreamlab.ui.theme import presenting
from dreamlab.viz import (
    channel_scales,
    colorbar,
    colorize,
    filter_tiles,
    mosaic,
    outline,
    overlay,
    shared_scale,
    tile_at,
)

__all__ = ["render"]

_MIN_MAP = 28  # the shorter side of a map, in values, below which a photo cannot be recognised
_MAX_PIXELS = 1_000_000  # the memory cap on the enlarged photo (about 1224 x 816)
_TILE = 200  # each tile's side in the mosaic: 4 across fill the view column at >= 120 px each
_PAD = 4
_TABLE_WIDTHS = (105, 80, 60)  # the top-5 table's columns, px: 245 fit a 1400-px presenter view


@st.cache_data(show_spinner=False, max_entries=64)
def _stride(_model: LoadedModel, model_key: str, layer: str) -> float:
    return layer_stride(_model, layer)


@st.cache_data(show_spinner=False, max_entries=8)
def _run_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return resize_to(image, size)


@st.cache_data(show_spinner=False, max_entries=24)
def _maps(_model: LoadedModel, model_key: str, image: np.ndarray, layer: str) -> np.ndarray:
    cost = maps_image_cost(_model, layer, image.shape[:2])
    with shared_gate().slot(cost=cost):  # a seat and the memory, as every heavy job waits for
        return layer_maps(_model, image, layer)


@st.cache_data(show_spinner=False, max_entries=64)
def _field(
    _model: LoadedModel, model_key: str, image: np.ndarray, layer: str, row: int, col: int
) -> tuple[int, int, int, int]:
    return receptive_field(_model, image, layer, row, col)


@st.cache_data(show_spinner=False, max_entries=24)
def _predictions(_model: LoadedModel, model_key: str, image: np.ndarray) -> list[tuple[str, float]]:
    return classify(_model, image, top=5)


def _show_predictions(model: LoadedModel, key: str, image: np.ndarray) -> None:
    """Top-5 of the photo as loaded (the CLI's ``dreamlab classify`` gives the same numbers)."""
    st.subheader(t("feature_maps.predictions"))
    preds = _predictions(model, key, image)
    label, prob, bar = (t(f"feature_maps.{k}") for k in ("label", "probability", "bar"))
    st.dataframe(
        {
            label: [p[0] for p in preds],
            prob: [num(p[1], ".4f") for p in preds],  # as the CLI prints it, in the page's language
            bar: [round(100 * p[1]) for p in preds],
        },
        column_config={  # widths that add up to less than the narrowest column (presenter)
            label: st.column_config.TextColumn(label, width=_TABLE_WIDTHS[0]),
            prob: st.column_config.TextColumn(prob, width=_TABLE_WIDTHS[1]),
            bar: st.column_config.ProgressColumn(
                bar,
                format="%d %%" if num(0.5, ".1f") == "0,5" else "%d%%",
                min_value=0,
                max_value=100,
                width=_TABLE_WIDTHS[2],
            ),
        },
        hide_index=True,
        width="stretch",
    )
    size = model.spec.input_size
    side = size if size < 64 else round(size * 256 / 224)  # as LoadedModel.fit_input resizes
    st.caption(t("feature_maps.same_as_cli", size=size, side=side))


def _choice(name: str, options: list[str]) -> str:
    """A horizontal radio of the page (``feature_maps.<name>_<option>`` labels, a help text)."""
    return st.radio(
        t(f"feature_maps.{name}"),
        options,
        horizontal=True,
        format_func=lambda o: t(f"feature_maps.{name}_{o}"),
        key=f"fm_{name}",
        help=t(f"feature_maps.{name}_help"),
    )


def _grid_layout() -> tuple[int, int]:
    """(tiles, columns) of the grid: fewer and larger on a projector."""
    return (6, 3) if presenting() else (12, 4)


def _show_grid(
    maps: np.ndarray, count: int, cols: int, per_channel: bool, order: str, key: str
) -> list[int]:
    """The ``count`` first channels in ``order``; a click on a tile picks it. Returns their indices."""
    top = top_channels(maps, count, by=order)
    if per_channel:
        scales = channel_scales(maps[top])
        tiles = np.stack([colorize(maps[c], s) for c, s in zip(top, scales, strict=True)])
    else:
        tiles = colorize(maps[top], shared_scale(maps[top]))  # (N, h, w, 3)
    grid = mosaic(tiles, [f"#{c}" for c in top], cols=cols, pad=_PAD, tile_size=_TILE, smooth=True)
    click = clickable_image(grid, key=f"fm_grid_{key}")
    if click is not None:
        h, w = _tile_shape(maps.shape[1:])
        hit = tile_at(click[0], click[1], len(top), (h, w), cols=cols, pad=_PAD)
        if hit is not None:
            st.session_state[f"fm_channel_{key}"] = top[hit[0]]
    _scale_legend(maps[top], per_channel)
    return top


def _tile_shape(map_shape: tuple[int, ...]) -> tuple[int, int]:
    """A map's size once :func:`mosaic` has enlarged it to ``_TILE`` (longer side)."""
    h, w = map_shape[:2]
    scale = _TILE / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def _scale_legend(maps: np.ndarray, per_channel: bool) -> None:
    scale = shared_scale(maps)
    if per_channel:
        st.image(colorbar(scale, width=512, height=12), width="stretch")
        key = "scale_per_channel_signed" if scale.signed else "scale_per_channel"
        st.caption(t(f"feature_maps.{key}"))
        return
    left, mid, right = st.columns([1, 6, 1])
    left.caption(num(scale.vmin, ".2g"))
    mid.image(colorbar(scale, width=512, height=12), width="stretch")
    right.caption(num(scale.vmax, ".2g"))
    st.caption(t("feature_maps.scale_shared"))


def _run_note(layer: str, image: np.ndarray, run: np.ndarray, maps: np.ndarray) -> None:
    """Say at which size the network saw the photo, when it is not the photo's own."""
    h0, w0 = image.shape[:2]
    h, w = run.shape[:2]
    mh, mw = maps.shape[1:]
    short = min(mh, mw) < _MIN_MAP and mh > 1  # the memory cap stopped the enlargement short
    if (h, w) != (h0, w0) and not short:
        st.caption(t("feature_maps.enlarged", w0=w0, h0=h0, w=w, h=h, layer=layer, side=_MIN_MAP))
    if short:  # one message, with the maps' real size (not "at least 28" then "under 28")
        mp = num(_MAX_PIXELS / 1e6, ".0f")
        key = "pages.maps_capped" if (h, w) != (h0, w0) else "pages.maps_small"
        st.caption(t(key, w0=w0, h0=h0, w=w, h=h, layer=layer, mh=mh, mw=mw, side=_MIN_MAP, mp=mp))


def _pick_unit(maps: np.ndarray, key: str, shown: np.ndarray) -> tuple[int, int]:
    """The map position whose receptive field is outlined: clicked on the large map, else the centre."""
    h, w = maps.shape[1:]
    state = f"fm_unit_{key}"
    click = clickable_image(shown, key=f"fm_map_{key}")
    if click is not None:
        row = min(h - 1, int(click[1] * h / shown.shape[0]))
        col = min(w - 1, int(click[0] * w / shown.shape[1]))
        st.session_state[state] = (row, col)
    row, col = st.session_state.get(state, (h // 2, w // 2))
    return min(row, h - 1), min(col, w - 1)


def _show_channel(
    model: LoadedModel,
    mkey: str,
    run: np.ndarray,
    maps: np.ndarray,
    layer: str,
    key: str,
    default: int,
) -> None:
    """One channel large: the map over the photo (the receptive field outlined) and the map itself."""
    st.subheader(t("feature_maps.one_channel"))
    channels = maps.shape[0]
    state = f"fm_channel_{key}"
    st.session_state[f"{state}_default"] = default  # left out of the address (see _save)
    if int(st.session_state.get(state, default)) > channels - 1 and note_invalid(state):
        st.session_state[state] = default  # a channel the address gave that this layer lacks
    st.session_state[state] = min(int(st.session_state.get(state, default)), channels - 1)
    channel = st.number_input(
        t("feature_maps.channel", last=channels - 1),
        min_value=0,
        max_value=channels - 1,
        step=1,
        key=state,
    )
    alpha = st.slider(t("feature_maps.opacity"), 0.0, 1.0, 0.6, 0.05, key="fm_alpha")
    scale = shared_scale(maps[channel])
    c1, c2 = st.columns(2)
    with c2:
        raw = mosaic(colorize(maps[channel], scale)[None], tile_size=max(run.shape[:2]) // 2, pad=0)
        row, col = _pick_unit(maps, key, raw)
        st.caption(t("feature_maps.raw_map", h=maps.shape[1], w=maps.shape[2]))
        st.caption(t("feature_maps.click_map"))
    box = _field(model, mkey, run, layer, row, col) if maps.shape[1] > 1 else None
    shown = overlay(run, maps[channel], scale, alpha)
    with c1:
        st.image(outline(shown, box) if box else shown, width="stretch")
        st.caption(t("feature_maps.over_image"))
        if box:
            top, left, bottom, right = box
            st.caption(t("feature_maps.field", row=row, col=col, w=right - left, h=bottom - top))
    stats = maps[channel]
    st.caption(
        t(
            "feature_maps.stats",
            mean=num(stats.mean(), ".3g"),
            max=num(stats.max(), ".3g"),
            min=num(stats.min(), ".3g"),
        )
    )


def _show_filters(model: LoadedModel) -> None:
    st.subheader(t("feature_maps.filters"))
    weight = model.module.get_submodule(model.spec.first_conv).weight  # (out, in, k, k)
    tiles, m = filter_tiles(weight, tile_size=48)
    st.image(mosaic(tiles, [str(i) for i in range(len(tiles))], cols=16, pad=3), width="stretch")
    k = weight.shape[-1]
    st.caption(
        t(
            "feature_maps.filters_caption",
            n=weight.shape[0],
            c=weight.shape[1],
            k=k,
            m=num(m, ".3g"),
        )
    )


def _view(
    model: LoadedModel,
    image: np.ndarray,
    layer: str,
    count: int,
    cols: int,
    per_channel: bool,
    order: str,
) -> None:
    """The grid, the note on the run size and the large channel (the page's right column)."""
    mkey = model_key(model)
    stride = _stride(model, mkey, layer)
    run = _run_image(
        image,
        maps_input_size(
            (image.shape[1], image.shape[0]), stride, min_map=_MIN_MAP, max_pixels=_MAX_PIXELS
        ),
    )
    try:
        maps = _maps(model, mkey, run, layer)
    except MemoryRefused as exc:  # too big for this server even alone: one line
        show_error(exc)
        return
    st.subheader(
        t(
            f"feature_maps.grid_{order}",
            layer=layer,
            c=maps.shape[0],
            h=maps.shape[1],
            w=maps.shape[2],
        )
    )
    key = f"{model.name}_{layer}"
    top = _show_grid(maps, count, cols, per_channel, order, key)
    _run_note(layer, image, run, maps)
    st.caption(t("feature_maps.click_tile"))
    _show_channel(model, mkey, run, maps, layer, key, top[0])


def _save(settings: MapsSettings) -> None:
    """The page's settings as its widgets hold them now, into the address."""
    ss = st.session_state
    model = str(ss.get("fm_model", settings.model))
    layer = ss.get(f"fm_layer_{model}")
    channel = ss.get(f"fm_channel_{model}_{layer}")
    if channel == ss.get(f"fm_channel_{model}_{layer}_default"):
        channel = None  # the most active channel, the page's own default
    default_count, _ = _grid_layout()
    count = ss.get("fm_count")
    settings = MapsSettings(
        model=model,
        image=str(ss.get("fm_source", settings.image)),
        layer=layer,
        channel=None if channel is None else int(channel),
        count=None if count in (None, default_count) else int(count),
        scaling=ss.get("fm_scaling", settings.scaling),
        order=ss.get("fm_order", settings.order),
    )
    query.save("feature_maps", settings)
    query.copy_link(settings)


def render() -> None:
    """Draw the page."""
    st.title(t("feature_maps.title"))
    settings = query.load("feature_maps", MapsSettings)
    st.caption(t("feature_maps.intro"))
    lesson("feature_maps")
    controls, view = page_columns([1, 2])
    with controls:
        model = model_picker("fm")
        image = image_picker("fm")  # the CLI's size: the top-5 below equals `dreamlab classify`
        if model is None or image is None:
            _save(settings)
            return
        layer = layer_select(model, "fm")
        default_count, cols = _grid_layout()
        per_channel = _choice("scaling", ["per_channel", "shared"]) == "per_channel"
        order = _choice("order", ["std", "mean"])
        st.session_state.setdefault("fm_count", default_count)
        with advanced_controls():
            count = st.slider(t("feature_maps.count"), 3, 48, step=1, key="fm_count")
        _save(settings)
        w, h = image.size
        st.image(image.array, width="stretch")
        st.caption(t("feature_maps.photo_caption", name=image.name, w=w, h=h))
        _show_predictions(model, model_key(model), image.array)
    with view:
        try:
            _view(model, image.array, layer, count, cols, per_channel, order)
        except Exception as exc:  # one line for the user, whatever the model does
            show_error(exc)
            return
    _show_filters(model)
