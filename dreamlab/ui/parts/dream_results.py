"""The DeepDream page's results: the status, the frames one at a time (the scrubber), the zoom
loop, the loss curve, the downloads and the photo-and-noise comparison, all read from the
session's :class:`~dreamlab.dream.session.DreamSession`."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dreamlab.activations import layer_maps
from dreamlab.dream.session import DreamRecord, DreamSession, maps_picture, pick_channels
from dreamlab.dream.store import decode
from dreamlab.models import LoadedModel
from dreamlab.ui.i18n import t
from dreamlab.ui.parts.dream_controls import network_title
from dreamlab.ui.parts.layout import view_columns
from dreamlab.ui.parts.model_picker import model_key

__all__ = ["ran_on", "results"]


def ran_on(state: DreamRecord) -> str:
    """The model and layer a dream really ran on (and the preset or recipe it followed)."""
    layer = state.run.plan.targets[0][0]
    text = t("pages.ran_on", model=network_title(state.model.name), layer=layer)
    if state.preset and state.preset != "default":
        text += " · " + t(f"deepdream.preset_{state.preset}")
    elif state.recipe_of:
        text += " · " + t("pages.recipe_of", preset=t(f"deepdream.preset_{state.recipe_of}"))
    return text


def _status(state: DreamRecord) -> None:
    plan = state.run.plan
    if state.done:
        st.success(t("deepdream.finished", steps=state.steps), icon=":material/check_circle:")
    else:
        st.warning(
            t("deepdream.stopped", steps=state.steps, total=plan.total),
            icon=":material/pause_circle:",
        )
    if plan.note:
        st.caption(
            t(
                "deepdream.dropped",
                kept=len(plan.sizes),
                asked=len(plan.sizes) + plan.dropped,
                side=plan.min_side,
            )
        )


def _scrubber(state: DreamRecord) -> None:
    """The kept frames, one at a time. The slider starts afresh with each run (``_start``) and
    the run is final, so its range never moves under the user: the first keypress counts.

    With a zoom loop the slider runs over the loop's frames (as many as its caption counts). The
    dream is drawn across the view column, its maps below it; the last frame at full resolution.
    """
    if len(state.loop_frames) > 1:
        _loop_scrubber(state)
        return
    frames = state.timeline()
    idx = _scrub_slider(len(frames))
    f = frames[idx - 1]
    last = idx == len(frames) and state.latest is not None
    picture = state.latest.image if last else f.image_data  # the final dream: not a thumbnail
    caption = t(
        "deepdream.frame_caption",
        step=f.step + 1,
        octave=f.octave + 1,
        iteration=f.iteration + 1,
        loss=f"{f.loss:.4g}",
    )
    st.image(picture, width="stretch", caption=f"{caption} · {ran_on(state)}")
    layer = _maps_layer(state)
    first = state.run.plan.targets[0][0]
    maps = f.maps_data if layer == first else _other_maps(state, f.image, layer)
    if maps is not None:
        st.image(maps, width="stretch", caption=t("deepdream.live_maps", layer=layer))


def _scrub_slider(count: int) -> int:
    """The **Frame** slider over ``count`` frames (1-based); 1 when there is a single frame."""
    if count < 2:
        return 1
    return st.slider(
        t("deepdream.scrub"), 1, count, count, key="dd_scrub", help=t("deepdream.scrub_help")
    )


def _loop_scrubber(state: DreamRecord) -> None:
    """The zoom loop's frames (the dream, then one per zoom), each with its layer's maps."""
    count = len(state.loop_frames)
    idx = _scrub_slider(count)
    image = decode(state.loop_frames[idx - 1])
    caption = t("pages.loop_frame", frame=idx, frames=count)
    st.image(image, width="stretch", caption=f"{caption} · {ran_on(state)}")
    layer = _maps_layer(state)
    maps = _layer_picture(
        state.model, model_key(state.model), image, layer, len(state.channels or range(16))
    )
    st.image(maps, width="stretch", caption=t("deepdream.live_maps", layer=layer))


def _maps_layer(state: DreamRecord) -> str:
    """Which target layer's maps are shown (a switch when the dream has several)."""
    names = [name for name, _ in state.run.plan.targets]
    if len(names) == 1:
        return names[0]
    return st.radio(
        t("deepdream.maps_of"),
        names,
        horizontal=True,
        key="dd_maps",
        help=t("deepdream.maps_of_help"),
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _layer_picture(
    _model: LoadedModel, key: str, image: np.ndarray, layer: str, count: int
) -> np.ndarray:
    maps = layer_maps(_model, image, layer)  # (C, h, w)
    return maps_picture(maps, pick_channels(maps, None, count))


def _other_maps(state: DreamRecord, image: np.ndarray, layer: str) -> np.ndarray:
    """Another target layer's maps for a kept frame (measured again on its picture)."""
    return _layer_picture(
        state.model, model_key(state.model), image, layer, len(state.channels or range(16))
    )


def _zoom_loop(state: DreamRecord) -> None:
    """The zoom loop, played on the page (the MP4 and GIF downloads hold the same frames)."""
    if len(state.loop_frames) < 2:
        return
    st.subheader(t("deepdream.zoom_result"))
    st.video(state.video("mp4"), format="video/mp4", loop=True, autoplay=True, muted=True)
    st.caption(
        t(
            "deepdream.zoom_caption",
            frames=len(state.loop_frames),
            asked=state.config.zoom_frames + 1,
        )
    )


def _downloads(state: DreamRecord) -> None:
    st.subheader(t("deepdream.downloads"))
    stem = f"dream-{state.model.name}-{state.run.plan.targets[0][0]}-seed{state.config.seed}"
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button(
        t("deepdream.download_png"),
        lambda: state.png(),
        f"{stem}.png",
        "image/png",
        key="dd_dl_png",
        on_click="ignore",
        width="stretch",
        help=t("deepdream.download_help"),
    )
    for column, kind, mime in ((c2, "gif", "image/gif"), (c3, "mp4", "video/mp4")):
        column.download_button(
            t(f"deepdream.download_{kind}"),
            lambda kind=kind: state.video(kind),
            f"{stem}.{kind}",
            mime,
            key=f"dd_dl_{kind}",
            on_click="ignore",
            width="stretch",
        )
    c4.download_button(
        t("deepdream.download_json"),
        json.dumps(state.params(), indent=2),
        f"{stem}.json",
        "application/json",
        key="dd_dl_json",
        on_click="ignore",
        width="stretch",
    )


def _compare(runs: DreamSession) -> None:
    """The seed's figure: the same dream from the photo and from noise."""
    noise = runs.get("noise")
    if noise is None or noise.latest is None:
        return
    st.subheader(t("deepdream.compare"))
    left, right = view_columns(2)
    left.image(runs["photo"].latest.image, caption=t("deepdream.source_photo"), width="stretch")
    right.image(noise.latest.image, caption=t("deepdream.source_noise"), width="stretch")
    st.caption(t("deepdream.compare_caption"))


def results(runs: DreamSession) -> None:
    state = runs["photo"]
    if state.latest is None:
        return
    st.subheader(t("deepdream.result"))
    _status(state)
    _scrubber(state)
    _zoom_loop(state)
    st.subheader(t("deepdream.loss_curve"))
    st.altair_chart(_loss_chart(state.store.losses))
    _downloads(state)
    _compare(runs)


def _loss_chart(losses: list[float]) -> alt.Chart:
    """The loss at each step: a line with a dot per step (one step is a dot, not an empty box),
    on an axis padded around the values so its labels read as numbers (not "0.000000")."""
    steps = list(range(1, len(losses) + 1))
    data = pd.DataFrame({"step": steps, "loss": [float(v) for v in losses]})
    finite = data["loss"][np.isfinite(data["loss"])]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    pad = 0.1 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 1e-3)
    base = alt.Chart(data).encode(
        x=alt.X(
            "step:Q",
            title=t("deepdream.step"),
            scale=alt.Scale(domain=[0.5, max(len(steps), 1) + 0.5]),
            axis=alt.Axis(format="d", tickMinStep=1),
        ),
        y=alt.Y(
            "loss:Q",
            title=t("deepdream.loss"),
            scale=alt.Scale(domain=[lo - pad, hi + pad], zero=False),
            axis=alt.Axis(format=".3~g"),
        ),
        tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4~g")],
    )
    dots = base.mark_point(filled=True, size=30 if len(steps) > 60 else 60)
    return (base.mark_line() + dots).properties(height=220)
