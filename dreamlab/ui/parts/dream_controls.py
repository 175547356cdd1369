"""The DeepDream page's settings: the preset (and its closest recipe), **Dream**, the settings
panel (a fragment that writes the address as it changes), the guide image, the extra layers, and
the :class:`~dreamlab.dream.DreamConfig` they make."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dreamlab.dream import PRESETS, DreamConfig
from dreamlab.models import LoadedModel, list_models
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.ui import query
from dreamlab.ui.i18n import model_note, model_title, t
from dreamlab.ui.parts import video_dream
from dreamlab.ui.parts.layout import advanced_controls
from dreamlab.ui.parts.model_picker import layer_select
from dreamlab.ui.parts.upload import image_picker
from dreamlab.ui.settings import DREAM_MAX_SIDES, DREAM_TARGETS, DreamSettings
from dreamlab.ui.theme import presenting

__all__ = [
    "dream_button",
    "dream_config",
    "guide_controls",
    "init_state",
    "layer_controls",
    "network_title",
    "preset_picker",
    "preset_waits",
    "recipe_for",
    "recipe_of_settings",
    "settings_panel",
]

# session key: the model in place when a preset whose network is missing was picked
_WAITS = "dd_preset_waits"


_DEFAULTS = DreamConfig()  # the widgets start from the engine's own defaults


# settings widget key -> DreamConfig field
_FIELDS = {
    "dd_octaves": "num_octaves",
    "dd_scale": "octave_scale",
    "dd_iterations": "iterations",
    "dd_lr": "lr",
    "dd_jitter": "jitter",
    "dd_smoothing": "smoothing",
    "dd_max_side": "max_side",
    "dd_seed": "seed",
}


# zoom loop widget key -> DreamConfig field (apart from _FIELDS: presets and the class leave them)
_LOOP_FIELDS = {"dd_zoom_frames": "zoom_frames", "dd_zoom": "zoom", "dd_rotate": "rotate"}


def init_state() -> None:
    """The zoom loop and guide widgets start at the engine's defaults (set once, so presets can
    overwrite them); the other settings come from :class:`DreamSettings` (``query.load``)."""
    for key, name in _LOOP_FIELDS.items():
        st.session_state.setdefault(key, getattr(_DEFAULTS, name))
    st.session_state.setdefault("dd_guide", "none")
    st.session_state.setdefault("dd_channel", None)  # empty: the whole layer (settings' None)
    st.session_state.setdefault("dd_extra_layers", [])


def _model_status(name: str) -> tuple[str, str]:
    """(status, note) of a registered model, as the picker shows it (nothing is loaded)."""
    info = next((i for i in list_models() if i.name == name), None)
    return (info.status, info.note) if info is not None else ("unavailable", "")


def network_title(name: str) -> str:
    info = next((i for i in list_models() if i.name == name), None)
    return model_title(name, info.title if info else name)


def _copy_numbers(config: DreamConfig) -> None:
    for key, name in _FIELDS.items():
        if name not in ("max_side", "seed"):
            st.session_state[key] = getattr(config, name)


def _apply_preset() -> None:
    """Copy the chosen preset's numbers into the settings, and pick its network and layer when that
    network can be had here (no model runs: only widget values change)."""
    st.session_state.pop("dd_recipe", None)
    st.session_state.pop(_WAITS, None)
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    if preset is None:
        return
    _copy_numbers(preset.config)
    if preset.model and _model_status(preset.model)[0] != "unavailable":
        st.session_state["dd_model"] = preset.model
        st.session_state[f"dd_layer_{preset.model}"] = preset.layer
    elif preset.model:  # its network is missing: Dream waits for the closest recipe or a model
        st.session_state[_WAITS] = st.session_state.get("dd_model", DEFAULT_MODEL)


def _apply_fallback() -> None:
    """The closest recipe on the embedded model: its network, layer and settings (documented in
    :data:`dreamlab.dream.config.PRESETS`)."""
    preset = PRESETS[st.session_state["dd_preset"]]
    fb = preset.fallback
    assert fb is not None
    _copy_numbers(fb.config)
    st.session_state.pop(_WAITS, None)
    st.session_state["dd_model"] = fb.model
    st.session_state[f"dd_layer_{fb.model}"] = fb.layer
    st.session_state["dd_recipe"] = preset.name


def recipe_of_settings(settings: DreamSettings) -> None:
    """Settings from an address or a lesson that name a preset on its closest recipe's network
    and layer are that recipe (as if **Use the closest recipe** had been pressed)."""
    st.session_state.pop("dd_recipe", None)
    fb = getattr(PRESETS.get(settings.preset), "fallback", None)
    if fb is not None and (settings.model, settings.layer or fb.layer) == (fb.model, fb.layer):
        st.session_state["dd_recipe"] = settings.preset


def preset_waits(model_name: str) -> bool:
    """Whether Dream waits: a preset whose network is missing was picked, and neither its closest
    recipe nor another model has been chosen since (its numbers alone would dream on a network it
    was not made for, under its name)."""
    waiting = st.session_state.get(_WAITS)
    if waiting is None:
        return False
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    chose_other = st.session_state.get("dd_model", waiting) != waiting
    if (
        preset is None
        or preset.model in (None, model_name)
        or recipe_for(model_name)
        or chose_other
    ):
        st.session_state.pop(_WAITS, None)
        return False
    return True


def recipe_for(model_name: str) -> str | None:
    """The preset whose closest recipe the settings hold, if the model is still the recipe's."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    recipe = st.session_state.get("dd_recipe")
    if preset is None or recipe != preset.name or preset.fallback is None:
        return None
    return recipe if preset.fallback.model == model_name else None


def preset_picker(model_name: str) -> None:
    """The preset, what it is, and (when its network is not here) why, with the closest recipe."""
    names = list(PRESETS)
    desc = t(f"deepdream.preset_{st.session_state['dd_preset']}_desc")
    st.selectbox(
        t("deepdream.preset"),
        names,
        key="dd_preset",
        on_change=_apply_preset,
        format_func=lambda n: t(f"deepdream.preset_{n}"),
        help=f"{t('deepdream.preset_help')}\n\n{desc}",
    )
    preset = PRESETS[st.session_state["dd_preset"]]
    if preset.model is None or preset.model == model_name:
        return  # its description is in the help: Dream stays above the fold at 1280 x 720
    fb = preset.fallback
    if recipe_for(model_name) and fb is not None:
        st.caption(
            t(
                "deepdream.recipe_applied",
                preset=t(f"deepdream.preset_{preset.name}"),
                model=network_title(fb.model),
                layer=fb.layer,
            )
        )
        return
    status, note = _model_status(preset.model)
    if status == "unavailable":
        st.warning(
            t(
                "deepdream.preset_missing",
                preset=t(f"deepdream.preset_{preset.name}"),
                model=network_title(preset.model),
                reason=model_note(note),
            ),
            icon=":material/cloud_off:",
        )
    else:
        st.caption(t("deepdream.preset_other", model=network_title(preset.model)))
    if fb is not None:
        st.button(
            t("deepdream.use_fallback"),
            key="dd_fallback",
            on_click=_apply_fallback,
            help=t("deepdream.fallback_help", model=network_title(fb.model), layer=fb.layer),
            icon=":material/swap_horiz:",
            width="stretch",
        )


def dream_button(usable: bool, why: str | None = None) -> bool:
    """**Dream**, first in the settings box; whether it was just pressed.

    ``usable`` is False when Dream cannot run (the picked model cannot be loaded, no image, or a
    preset waits for its network): the settings stay, Dream is disabled, ``why`` says why.
    """
    pressed = st.button(
        t("deepdream.dream"),
        key="dd_dream",
        type="primary",
        width="stretch",
        disabled=not usable,
        icon=":material/cyclone:",
    )
    if why:
        st.caption(why)
    return pressed


@st.fragment
def settings_panel(model: LoadedModel) -> str:
    """The dream's settings, then the address and **Copy link**; returns the layer.

    A fragment (not a form): a change reruns only this panel, which writes the settings into the
    address as they change, starts no dream and leaves the view (and a running dream: a
    fragment's rerun waits for the page's run to end) as it is.
    """
    layer = layer_select(model, "dd")
    st.slider(t("deepdream.octaves"), 1, 8, key="dd_octaves")
    st.slider(t("deepdream.iterations"), 1, 50, key="dd_iterations")
    st.slider(
        t("deepdream.lr"),
        0.001,
        0.3,
        step=0.001,
        format="%.3f",
        key="dd_lr",
        help=t("deepdream.lr_help"),
    )
    st.select_slider(t("deepdream.max_side"), DREAM_MAX_SIDES, key="dd_max_side")
    st.checkbox(t("deepdream.from_noise"), key="dd_noise", help=t("deepdream.from_noise_help"))
    with advanced_controls() if presenting() else st.expander(t("deepdream.fine")):
        _fine_controls()
    _zoom_controls()
    settings = _settings(query.current("deepdream", DreamSettings))
    query.save("deepdream", settings)
    query.copy_link(settings)
    return layer


def _fine_controls() -> None:
    """Channel, target, octave scale, jitter, smoothing and seed."""
    st.number_input(
        t("deepdream.channel"),
        min_value=0,
        step=1,
        key="dd_channel",
        placeholder=t("deepdream.channel_all"),
        help=t("deepdream.channel_help"),
    )
    _target_picker()
    st.slider(t("deepdream.octave_scale"), 1.1, 2.5, step=0.1, format="%.1f", key="dd_scale")
    st.slider(
        t("deepdream.jitter"), 0, 64, step=4, key="dd_jitter", help=t("deepdream.jitter_help")
    )
    st.slider(
        t("deepdream.smoothing"),
        0.0,
        2.0,
        step=0.1,
        format="%.1f",
        key="dd_smoothing",
        help=t("deepdream.smoothing_help"),
    )
    st.number_input(t("deepdream.seed"), min_value=0, max_value=2**31 - 1, step=1, key="dd_seed")


def _zoom_controls() -> None:
    """The zoom loop: dream the zoomed (and turned) result again, frame after frame."""
    with st.expander(t("deepdream.zoom_title"), expanded=False):
        st.caption(t("deepdream.zoom_lesson"))
        st.slider(
            t("deepdream.zoom_frames"),
            0,
            120,
            key="dd_zoom_frames",
            help=t("deepdream.zoom_frames_help"),
        )
        st.slider(t("deepdream.zoom"), 1.0, 1.2, step=0.01, format="%.2f", key="dd_zoom")
        st.slider(t("deepdream.rotate"), -10.0, 10.0, step=0.5, format="%.1f", key="dd_rotate")


def guide_controls() -> None:
    """The guide image: a sample or an upload whose features the dream follows."""
    with st.expander(t("deepdream.guide_title"), expanded=False):
        st.caption(t("deepdream.guide_lesson"))
        guide = image_picker("dd_guide_img", label=t("deepdream.guide_image"), default="coffee")
        st.toggle(t("deepdream.guide_use"), key="dd_guide_on")
        if guide is not None and st.session_state.get("dd_guide_on"):
            st.image(guide.array, width=160, caption=guide.name)
        st.session_state["dd_guide_array"] = guide.array if guide is not None else None


def layer_controls(model: LoadedModel, layer: str) -> None:
    """Extra layers, each with its weight, added to the target layer's loss."""
    with st.expander(t("deepdream.layers_title"), expanded=False):
        st.caption(t("deepdream.layers_lesson"))
        options = [name for name in model.layers if name != layer]
        key = f"dd_extra_{model.name}"
        picked = st.multiselect(
            t("deepdream.extra_layers"), options, key=key, placeholder=t("deepdream.extra_none")
        )
        for name in picked:
            st.number_input(
                t("deepdream.layer_weight", layer=name),
                -10.0,
                10.0,
                1.0,
                0.25,
                key=f"dd_w_{model.name}_{name}",
            )


def _layers(model: LoadedModel, layer: str) -> tuple[tuple[str, float], ...]:
    """The target layer (weight 1) and the extra layers with their weights; () for one layer."""
    extra = [n for n in st.session_state.get(f"dd_extra_{model.name}", []) if n != layer]
    if not extra:
        return ()
    weights = [float(st.session_state.get(f"dd_w_{model.name}_{n}", 1.0)) for n in extra]
    return ((layer, 1.0), *zip(extra, weights, strict=True))


def _target_picker() -> None:
    """What the dream makes grow: the layer (or its channel), a neuron, or a class logit."""
    st.selectbox(
        t("deepdream.target"),
        DREAM_TARGETS,
        key="dd_target",
        help=t("deepdream.target_help"),
        format_func=lambda k: t(f"deepdream.target_{k}"),
    )
    st.number_input(t("deepdream.logit"), min_value=0, step=1, key="dd_logit")


def _target(channel: int | None) -> dict[str, Any]:
    """The Target selector's DreamConfig fields (a neuron is the channel's centre, 0 if unset)."""
    target = st.session_state.get("dd_target", "layer")
    if target == "logit":
        return {"objective": "logit", "logit": int(st.session_state.get("dd_logit", 281))}
    if target == "neuron":
        return {"objective": "neuron", "channel": 0 if channel is None else channel}
    return {"channel": channel}


def dream_config(model: LoadedModel, layer: str) -> DreamConfig:
    """The settings' values on top of the preset's config (its loss, normalization, octave mode),
    or of its closest recipe's; the zoom loop, the guide image and the extra layers."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    base = preset.config if preset is not None else _DEFAULTS
    if preset is not None and preset.fallback is not None and recipe_for(model.name):
        base = preset.fallback.config
    values = {name: st.session_state[key] for key, name in _FIELDS.items()}
    values.update({name: st.session_state[key] for key, name in _LOOP_FIELDS.items()})
    values["zoom"] = round(float(values["zoom"]), 3)
    values["rotate"] = round(float(values["rotate"]), 2)
    if st.session_state.get("dd_guide_on"):
        values["guide"] = st.session_state.get("dd_guide_array")
    values["layers"] = _layers(model, layer)
    channel = st.session_state.get("dd_channel")
    values["octave_scale"] = round(float(values["octave_scale"]), 3)
    values["lr"] = round(float(values["lr"]), 4)
    values["smoothing"] = round(float(values["smoothing"]), 3)
    target = _target(None if channel is None else int(channel))
    return base.with_overrides(layer=layer, **target, **values)


def _settings(settings: DreamSettings) -> DreamSettings:
    """The settings as the session holds them now (what the address and the class carry)."""
    ss = st.session_state
    model = str(ss.get("dd_model", settings.model))
    channel = ss.get("dd_channel")
    return DreamSettings(
        model=model,
        image=str(ss.get("dd_source", settings.image)),
        preset=ss["dd_preset"],
        layer=ss.get(f"dd_layer_{model}"),
        octaves=int(ss["dd_octaves"]),
        iterations=int(ss["dd_iterations"]),
        lr=round(float(ss["dd_lr"]), 4),
        max_side=int(ss["dd_max_side"]),
        noise=bool(ss["dd_noise"]),
        channel=None if channel is None else int(channel),
        objective=str(ss.get("dd_target", settings.objective)),
        logit=int(ss.get("dd_logit", settings.logit)),
        octave_scale=round(float(ss["dd_scale"]), 3),
        jitter=int(ss["dd_jitter"]),
        smoothing=round(float(ss["dd_smoothing"]), 3),
        seed=int(ss["dd_seed"]),
        **video_dream.settings_values(settings),  # the video source's part
    )
