"""The "Feature visualization" page: optimize an image from noise until a feature fires.

Three views of the same objective: one image improving live, the seed's lesson side by side (naive
pixels vs Lucid's regularization) and a gallery of a layer's first channels rendered as one batch.
Every result is kept in ``st.session_state`` with the parameters that made it, so a Stop, a rerun
or a changed control never loses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dreamlab.media import png_bytes
from dreamlab.models import LoadedModel
from dreamlab.optvis import (
    FeatureVisConfig,
    Objective,
    channel,
    class_logit,
    layer,
    neuron,
)
from dreamlab.ui import query
from dreamlab.ui.i18n import t
from dreamlab.ui.ignored import note_invalid
from dreamlab.ui.parts.layout import advanced_controls, lesson, show_error
from dreamlab.ui.parts.model_picker import layer_select, model_key, model_picker
from dreamlab.ui.parts.vis_runs import (
    NAIVE,
    Choice,
    Result,
    layer_channels,
    progress_line,
    run_compare,
    run_gallery,
    run_single,
    sheet,
)
from dreamlab.ui.settings import VIS_KINDS, VIS_SIZES, VIS_TABS, VisSettings
from dreamlab.ui.theme import presenting
from dreamlab.viz import mosaic

__all__ = ["render"]


def _class_picker(model: LoadedModel) -> int:
    cats = model.categories or [str(i) for i in range(1000)]
    default = 281 if len(cats) > 281 else 0  # ImageNet's "tabby": the sample cat's class
    key = f"fv_class_{model.name}"
    if not 0 <= int(st.session_state.get(key, default)) < len(cats):
        note_invalid(key)  # a class the address gave that this model lacks
        st.session_state[key] = default
    st.session_state.setdefault(key, default)
    return st.selectbox(
        t("feature_vis.class"),
        range(len(cats)),
        key=key,
        format_func=lambda i: f"{i} · {cats[i]}",
    )


def _objective_controls(model: LoadedModel) -> tuple[Objective, str | None, int | None]:
    kind = st.radio(
        t("feature_vis.objective"),
        VIS_KINDS,
        key="fv_kind",
        horizontal=True,
        format_func=lambda k: t(f"feature_vis.kind_{k}"),
        help=t("feature_vis.objective_help"),
    )
    if kind == "class":
        return class_logit(_class_picker(model)), None, None
    name = layer_select(model, "fv")
    if kind == "layer":
        return layer(name), name, None
    width = layer_channels(model, model_key(model), name)
    key = f"fv_channel_{model.name}_{name}"
    if int(st.session_state.get(key, 0)) > width - 1:
        note_invalid(key)  # a channel the address gave that this layer lacks
        st.session_state[key] = 0
    st.session_state.setdefault(key, 0)
    c = st.number_input(
        t("feature_vis.channel", last=width - 1),
        min_value=0,
        max_value=width - 1,
        step=1,
        key=key,
    )
    obj = channel(name, int(c)) if kind == "channel" else neuron(name, int(c))
    return obj, name, int(c)


def _config_controls() -> FeatureVisConfig:
    steps = st.slider(
        t("feature_vis.steps"),
        16,
        512,
        step=16,
        key="fv_steps",
        help=t("feature_vis.steps_help"),
    )
    with advanced_controls():
        size = st.select_slider(
            t("feature_vis.size"),
            VIS_SIZES,
            key="fv_size",
            help=t("feature_vis.size_help"),
        )
        param = st.radio(
            t("feature_vis.param"),
            ("fft", "pixel"),
            key="fv_param",
            horizontal=True,
            format_func=lambda p: t(f"feature_vis.param_{p}"),
        )
        decorrelate = st.toggle(
            t("feature_vis.decorrelate"),
            key="fv_decorrelate",
            help=t("feature_vis.decorrelate_help"),
        )
        transforms = st.toggle(
            t("feature_vis.transforms"),
            key="fv_transforms",
            help=t("feature_vis.transforms_help"),
        )
        octaves = st.slider(
            t("feature_vis.octaves"),
            1,
            4,
            step=1,
            key="fv_octaves",
            help=t("feature_vis.octaves_help"),
        )
        seed = st.number_input(t("feature_vis.seed"), 0, 2**31 - 1, key="fv_seed")
    return FeatureVisConfig(
        steps=int(steps),
        size=int(size),
        param=param,
        decorrelate=bool(decorrelate),
        transforms=bool(transforms),
        seed=int(seed),
        octaves=int(octaves),
    )


def _download(image: np.ndarray, params: dict[str, Any], name: str, key: str) -> None:
    st.download_button(
        t("feature_vis.download_png"),
        png_bytes(image, params),
        file_name=f"{name}.png",
        mime="image/png",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


def _describe(r: Result, param: str | None = None) -> str:
    p = r.params
    line = t(
        "feature_vis.made_with",
        objective=p["objective"],
        model=p["model"],
        steps=p["steps"],
        size=p["size"],
        param=param or p["param"],
        seed=p["seed"],
    )
    return line + (" " + t("feature_vis.stopped", step=r.step, steps=r.steps) if r.stopped else "")


def _run_button(label: str, key: str, enabled: bool, primary: bool = False) -> tuple[bool, Any]:
    """The run button, and under it a placeholder for the Stop button shown while a job runs."""
    kind = "primary" if primary else "secondary"
    clicked = st.button(label, key=key, type=kind, disabled=not enabled)
    return clicked and enabled, st.empty()


def _single_tab(choice: Choice | None) -> None:
    st.caption(t("feature_vis.single_intro"))
    clicked, button = _run_button(t("feature_vis.visualize"), "fv_go", choice is not None, True)
    boxes = {"button": button, "image": st.empty(), "line": st.empty()}
    if clicked:
        _guarded(lambda: run_single(choice, boxes))
    r: Result | None = st.session_state.get("fv_single")
    if r is None:
        return
    boxes["image"].image(r.images[0], width="stretch")
    boxes["line"].caption(progress_line(r))
    st.caption(_describe(r))
    if len(r.history) > 1 and not presenting():
        st.line_chart({t("feature_vis.objective_value"): dict(r.history)}, height=160)
    _download(r.images[0], r.params, "dreamlab-feature", "fv_dl_single")


def _compare_tab(choice: Choice | None) -> None:
    st.caption(t("feature_vis.compare_intro"))
    clicked, button = _run_button(t("feature_vis.compare"), "fv_go_compare", choice is not None)
    left, right = st.columns(2)
    left.markdown(f"**{t('feature_vis.naive')}**")
    right.markdown(f"**{t('feature_vis.regularized')}**")
    boxes = {
        "button": button,
        "naive": (left.empty(), left.empty()),
        "regular": (right.empty(), right.empty()),
        "line": st.empty(),
    }
    if clicked:
        _guarded(lambda: run_compare(choice, boxes))
    results: dict[str, Result] = st.session_state.get("fv_compare", {})
    for variant, r in results.items():
        boxes[variant][0].image(r.images[0], width="stretch")
        boxes[variant][1].caption(progress_line(r))
    if len(results) == 2:
        naive, regular = results["naive"], results["regular"]
        st.caption(_describe(regular, param=f"{naive.params['param']} / {regular.params['param']}"))
        figure = mosaic(
            np.stack([naive.images[0], regular.images[0]]),
            [t("feature_vis.naive"), t("feature_vis.regularized")],
            cols=2,
        )
        params = {**regular.params, "figure": "naive vs regularized", "naive": NAIVE}
        _download(figure, params, "dreamlab-naive-vs-regularized", "fv_dl_compare")


def _gallery_controls(choice: Choice | None) -> tuple[str, int, float, bool]:
    mode = st.radio(
        t("feature_vis.gallery_mode"),
        ("channels", "facets"),
        key="fv_gallery_mode",
        horizontal=True,
        format_func=lambda m: t(f"feature_vis.mode_{m}"),
    )
    count = st.slider(
        t("feature_vis.count"),
        2,
        16,
        4 if presenting() else 8,
        1,
        key="fv_count",
        help=t("feature_vis.count_help"),
    )
    weight = 0.0
    if mode == "facets":
        weight = st.slider(
            t("feature_vis.diversity"),
            0.0,
            100.0,
            10.0,
            1.0,
            key="fv_weight",
            help=t("feature_vis.diversity_help"),
        )
    usable = choice is not None and choice.layer is not None
    if mode == "facets":
        usable = usable and choice.channel is not None
    if choice is not None and not usable:
        st.info(t("feature_vis.gallery_needs_layer"))
    return mode, int(count), float(weight), usable


def _gallery_tab(choice: Choice | None) -> None:
    st.caption(t("feature_vis.gallery_intro"))
    mode, count, weight, usable = _gallery_controls(choice)
    clicked, button = _run_button(t("feature_vis.render_gallery"), "fv_go_gallery", usable)
    boxes = {"button": button, "image": st.empty(), "line": st.empty()}
    if clicked:
        _guarded(lambda: run_gallery(choice, mode, count, weight, boxes))
    r: Result | None = st.session_state.get("fv_gallery")
    if r is None:
        return
    picture = sheet(r)
    boxes["image"].image(picture, width="stretch")
    boxes["line"].caption(progress_line(r))
    st.caption(_describe(r))
    _download(picture, r.params, "dreamlab-gallery", "fv_dl_gallery")


def _guarded(run) -> None:
    """Run a job; a failure is one line, and what was made before it stays on the page."""
    try:
        run()
    except Exception as exc:  # Streamlit's Stop/rerun are BaseExceptions: they pass through
        show_error(exc)


def _choice(model: LoadedModel) -> Choice | None:
    """The controls' values; a model that cannot be probed gives one line, not a traceback."""
    try:
        objective, layer_name, c = _objective_controls(model)
        config = _config_controls()
    except Exception as exc:  # Streamlit's Stop/rerun are BaseExceptions: they pass through
        show_error(exc)
        return None
    return Choice(model, objective, config, layer_name, c)


def _save(settings: VisSettings) -> VisSettings:
    """The page's settings as its widgets hold them now, into the address."""
    ss = st.session_state
    model = str(ss.get("fv_model", settings.model))
    layer = ss.get(f"fv_layer_{model}")
    settings = VisSettings(
        model=model,
        kind=ss["fv_kind"],
        layer=layer,
        channel=int(ss.get(f"fv_channel_{model}_{layer}", settings.channel)),
        cls=int(ss.get(f"fv_class_{model}", settings.cls)),
        steps=int(ss["fv_steps"]),
        size=int(ss["fv_size"]),
        param=ss["fv_param"],
        decorrelate=bool(ss["fv_decorrelate"]),
        transforms=bool(ss["fv_transforms"]),
        octaves=int(ss["fv_octaves"]),
        seed=int(ss["fv_seed"]),
        tab=query.open_tab("feature_vis", VIS_TABS, settings.tab),
    )
    query.save("feature_vis", settings)
    query.copy_link(settings)
    return settings


def _tabs_opened_on(current: str) -> str:
    """The tab the tabs were first opened on, kept while they live.

    ``st.tabs``'s identity holds its ``default``: passing the tab shown now (it follows every tab
    click) would make new tabs on each switch, remounting the panel's widgets (a focused slider
    loses its focus, its key presses go nowhere). A language switch makes new tabs: opened afresh.
    """
    tabs_key = query._tab_key("feature_vis")
    kept = st.session_state.get("fv_tabs_opened_on")
    if kept is None or kept[0] != tabs_key or tabs_key not in st.session_state:
        kept = (tabs_key, current)
        st.session_state["fv_tabs_opened_on"] = kept
    return kept[1]


def render() -> None:
    """Draw the page."""
    st.title(t("feature_vis.title"))
    settings = query.load("feature_vis", VisSettings)
    st.caption(t("feature_vis.intro"))
    lesson("feature_vis")
    controls, view = st.columns([1, 2], gap="large")
    with controls:
        model = model_picker("fv")
        choice = _choice(model) if model is not None else None
        settings = _save(settings)
    with view:
        opened_on = _tabs_opened_on(settings.tab)
        single, compare, gallery_tab = query.keyed_tabs("feature_vis", VIS_TABS, opened_on)
        with single:
            _single_tab(choice)
        with compare:
            _compare_tab(choice)
        with gallery_tab:
            _gallery_tab(choice)
