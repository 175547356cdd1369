"""The "DeepDream" page: the dream, frame by frame, next to the maps of the layer it amplifies.

Nothing runs until **Dream** is pressed; the settings are a fragment that writes them into the
address as they change (``_settings_panel``). The dream is pulled through the
shared job gate; every frame lands in ``st.session_state`` as it arrives (a bounded
:class:`~dreamlab.dream.FrameStore` of thumbnails per run, and only the last photo and noise runs),
so **Stop**, which reruns the script and so interrupts the loop, keeps everything made so far.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dreamlab.activations import layer_maps
from dreamlab.backend import dream, is_remote
from dreamlab.dream import PRESETS, DreamConfig, DreamFrame, DreamRun, FrameStore
from dreamlab.dream.export import dream_params
from dreamlab.dream.store import decode, encode
from dreamlab.images import LoadedImage
from dreamlab.media import gif_bytes, mp4_bytes, png_bytes
from dreamlab.models import LoadedModel, list_models
from dreamlab.runtime.budget import JobCost
from dreamlab.runtime.job_costs import dream_run_cost
from dreamlab.ui import query
from dreamlab.ui.i18n import model_note, model_title, t
from dreamlab.ui.parts import classroom, video_dream
from dreamlab.ui.parts.gate import admit, gated
from dreamlab.ui.parts.layout import (
    advanced_controls,
    device_choice,
    error_line,
    lesson,
    page_columns,
    show_error,
    view_columns,
)
from dreamlab.ui.parts.model_picker import cached_model, layer_select, model_key, model_picker
from dreamlab.ui.parts.throttle import Throttle
from dreamlab.ui.parts.upload import image_picker
from dreamlab.ui.settings import DREAM_MAX_SIDES, DREAM_TARGETS, DreamSettings
from dreamlab.ui.theme import presenting
from dreamlab.viz import colorize, mosaic, shared_scale

__all__ = ["render"]

_RUNS = "dd_runs"  # session key: {"photo": _RunState, "noise": _RunState}, the last run of each
# session key: the model in place when a preset whose network is missing was picked
_WAITS = "dd_preset_waits"
_DRAW_EVERY_S = 0.1  # draw at most ~10 frames per second; the dream itself never waits
_FPS = 10
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
_MAX_LOOP_FRAMES = 240  # JPEGs of the zoom loop kept per run (about 50 kB each at 512 px)


@dataclass
class _RunState:
    """One dream kept in the session: its settings, a bounded store of frames, the latest frame.

    ``final`` is set once, at Stop or at the end (under ``lock``): from then on every late frame is
    dropped, so the count, the frames and the loss curve stay as they were at Stop.
    """

    kind: str  # "photo" or "noise"
    model: LoadedModel
    config: DreamConfig
    run: DreamRun
    source: str
    preset: str | None  # the preset's name, only when dreamed on the preset's own network
    recipe_of: str | None = None  # the preset whose closest recipe this is (on another network)
    store: FrameStore = field(default_factory=lambda: FrameStore(capacity=48, thumb_side=384))
    latest: DreamFrame | None = None
    channels: list[int] | None = None  # the channels drawn, fixed from the first frame
    done: bool = False
    final: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    loop_frames: list[bytes] = field(default_factory=list)  # JPEG of each zoom-loop frame
    downloads: dict[str, bytes] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.store.losses)

    def params(self) -> dict[str, Any]:
        p = dream_params(
            self.model,
            self.config,
            self.run.plan,
            source=self.source,
            steps=self.steps,
            preset=self.preset,
        )
        return {**p, "recipe_of": self.recipe_of, "finished": self.done}

    def finalize(self) -> None:
        """Fix the run as it is now: later frames are dropped."""
        with self.lock:
            self.final = True


# ---------------------------------------------------------------- settings


def _init_state() -> None:
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


def _model_name(name: str) -> str:
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
        st.session_state[_WAITS] = st.session_state.get("dd_model", "efficientnet_lite0")


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


def _recipe_of_settings(settings: DreamSettings) -> None:
    """Settings from an address or a lesson that name a preset on its closest recipe's network
    and layer are that recipe (as if **Use the closest recipe** had been pressed)."""
    st.session_state.pop("dd_recipe", None)
    fb = getattr(PRESETS.get(settings.preset), "fallback", None)
    if fb is not None and (settings.model, settings.layer or fb.layer) == (fb.model, fb.layer):
        st.session_state["dd_recipe"] = settings.preset


def _preset_waits(model_name: str) -> bool:
    """Whether Dream waits: a preset whose network is missing was picked, and neither its closest
    recipe nor another model has been chosen since (its numbers alone would dream on a network it
    was not made for, under its name)."""
    waiting = st.session_state.get(_WAITS)
    if waiting is None:
        return False
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    chose_other = st.session_state.get("dd_model", waiting) != waiting
    if preset is None or preset.model in (None, model_name) or _recipe(model_name) or chose_other:
        st.session_state.pop(_WAITS, None)
        return False
    return True


def _recipe(model_name: str) -> str | None:
    """The preset whose closest recipe the settings hold, if the model is still the recipe's."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    recipe = st.session_state.get("dd_recipe")
    if preset is None or recipe != preset.name or preset.fallback is None:
        return None
    return recipe if preset.fallback.model == model_name else None


def _preset_picker(model_name: str) -> None:
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
    if _recipe(model_name) and fb is not None:
        st.caption(
            t(
                "deepdream.recipe_applied",
                preset=t(f"deepdream.preset_{preset.name}"),
                model=_model_name(fb.model),
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
                model=_model_name(preset.model),
                reason=model_note(note),
            ),
            icon=":material/cloud_off:",
        )
    else:
        st.caption(t("deepdream.preset_other", model=_model_name(preset.model)))
    if fb is not None:
        st.button(
            t("deepdream.use_fallback"),
            key="dd_fallback",
            on_click=_apply_fallback,
            help=t("deepdream.fallback_help", model=_model_name(fb.model), layer=fb.layer),
            icon=":material/swap_horiz:",
            width="stretch",
        )


def _dream_button(usable: bool, why: str | None = None) -> bool:
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
def _settings_panel(model: LoadedModel) -> str:
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


def _guide_controls() -> None:
    """The guide image: a sample or an upload whose features the dream follows."""
    with st.expander(t("deepdream.guide_title"), expanded=False):
        st.caption(t("deepdream.guide_lesson"))
        guide = image_picker("dd_guide_img", label=t("deepdream.guide_image"), default="coffee")
        st.toggle(t("deepdream.guide_use"), key="dd_guide_on")
        if guide is not None and st.session_state.get("dd_guide_on"):
            st.image(guide.array, width=160, caption=guide.name)
        st.session_state["dd_guide_array"] = guide.array if guide is not None else None


def _layer_controls(model: LoadedModel, layer: str) -> None:
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


def _config(model: LoadedModel, layer: str) -> DreamConfig:
    """The settings' values on top of the preset's config (its loss, normalization, octave mode),
    or of its closest recipe's; the zoom loop, the guide image and the extra layers."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    base = preset.config if preset is not None else _DEFAULTS
    if preset is not None and preset.fallback is not None and _recipe(model.name):
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


# ---------------------------------------------------------------- pictures


def _pick_channels(maps: np.ndarray, chosen: int | None, count: int) -> list[int]:
    """The channels to draw: the chosen one first, then the most active ones of the first frame."""
    means = maps.reshape(maps.shape[0], -1).mean(axis=1)
    order = [int(c) for c in np.argsort(-means)]
    if chosen is not None:
        order = [chosen, *[c for c in order if c != chosen]]
    return order[:count]


def _maps_picture(maps: np.ndarray, channels: list[int]) -> np.ndarray:
    """The drawn channels on one colour scale, as a labelled mosaic."""
    picked = maps[channels]  # (N, h, w)
    tiles = colorize(picked, shared_scale(picked))
    cols = 4 if len(channels) <= 16 else 6
    return mosaic(tiles, [f"#{c}" for c in channels], cols=cols, tile_size=96, pad=3)


# ---------------------------------------------------------------- the live dream


def _start(
    model: LoadedModel, image: LoadedImage, config: DreamConfig, noise: bool
) -> dict[str, _RunState]:
    """Create the runs (everything is checked here, before the gate) and store them."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    label = preset.label_for(model.name) if preset is not None else None  # never on another net
    recipe = _recipe(model.name)
    photo = dream(image.array, model, config)
    runs = {"photo": _RunState("photo", model, config, photo, image.name, label, recipe)}
    if noise:
        h, w = photo.plan.size
        noise_cfg = config.with_overrides(noise_size=(h, w))
        runs["noise"] = _RunState(
            "noise", model, noise_cfg, dream("noise", model, noise_cfg), "noise", label, recipe
        )
    try:
        admit(_cost(model, runs))  # a dream too big for this server: one line, nothing kept
    except ValueError:
        for state in runs.values():
            state.run.close()
        raise
    st.session_state[_RUNS] = runs  # replaces the previous runs: memory stays bounded
    for key in ("dd_scrub", "dd_maps"):  # the new run's own slider and maps switch
        st.session_state.pop(key, None)
    return runs


def _cost(model: LoadedModel, runs: dict[str, _RunState]) -> JobCost:
    """The runs' expected peak memory: one after the other, so the larger one's."""
    return max((dream_run_cost(model, s.run) for s in runs.values()), key=lambda c: c.bytes)


def _chain(runs: dict[str, _RunState]) -> Iterator[tuple[_RunState, DreamFrame]]:
    for state in runs.values():
        for frame in state.run:
            yield state, frame


def _record(
    state: _RunState, frame: DreamFrame, picture: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """Keep the frame (loss always, thumbnail if on the store's stride); pictures when needed.

    A frame that arrives after Stop (the run is final) is dropped.
    """
    with state.lock:
        if state.final:
            return None
        return _keep(state, frame, picture)


def _keep(
    state: _RunState, frame: DreamFrame, picture: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    state.latest = frame
    state.store.add_loss(frame.loss)
    state.done = frame.done
    loop_end = frame.last_of_octave and frame.octave == frame.num_octaves - 1
    if state.config.zoom_frames and loop_end and len(state.loop_frames) < _MAX_LOOP_FRAMES:
        state.loop_frames.append(encode(frame.image))
    keep = state.store.wants(frame.step)
    if not (keep or picture):
        return None
    maps = frame.activations
    if state.channels is None:
        chosen = state.config.channel
        state.channels = _pick_channels(maps, chosen, 8 if presenting() else 16)
    pictures = frame.image, _maps_picture(maps, state.channels)
    if keep:
        state.store.keep(
            frame.step, frame.octave, frame.iteration, frame.loop, frame.loss, *pictures
        )
    return pictures


def _progress_text(frame: DreamFrame, kind: str, zoom_frames: int = 0) -> str:
    """Where the dream is; with a zoom loop, which of its frames first ("frame 3 of 11")."""
    text = t(
        "deepdream.progress",
        source=t(f"deepdream.source_{kind}"),
        octave=frame.octave + 1,
        octaves=frame.num_octaves,
        iteration=frame.iteration + 1,
        iterations=frame.iterations,
        loss=f"{frame.loss:.4g}",
    )
    if not zoom_frames:
        return text
    return t("pages.zoom_progress", frame=frame.loop + 1, frames=zoom_frames + 1, progress=text)


def _ran_on(state: _RunState) -> str:
    """The model and layer a dream really ran on (and the preset or recipe it followed)."""
    layer = state.run.plan.targets[0][0]
    text = t("pages.ran_on", model=_model_name(state.model.name), layer=layer)
    if state.preset and state.preset != "default":
        text += " · " + t(f"deepdream.preset_{state.preset}")
    elif state.recipe_of:
        text += " · " + t("pages.recipe_of", preset=t(f"deepdream.preset_{state.recipe_of}"))
    return text


def _stop() -> None:
    """Stop's callback: fix every run as it is (frames still in flight are dropped)."""
    for state in (st.session_state.get(_RUNS) or {}).values():
        state.finalize()


def _live(runs: dict[str, _RunState]) -> None:
    """Pull the frames through the job gate and draw them side by side, ~10 per second.

    Drawn at the top of the view column: the progress line and Stop, then the dream and its maps,
    all on screen without scrolling.
    """
    total = sum(s.run.plan.total for s in runs.values())
    queue = st.empty()
    line, stop = st.columns([4, 1], vertical_alignment="bottom")
    bar = line.progress(0.0, text=t("deepdream.starting"))
    stop.button(
        t("deepdream.stop"),
        key="dd_stop",
        icon=":material/stop_circle:",
        on_click=_stop,
        width="stretch",
    )
    left, right = view_columns(2)  # while it runs, the dream and its maps side by side: both
    frame_box, maps_box = left.empty(), right.empty()  # on screen (the result is drawn larger)
    throttle = Throttle(_DRAW_EVERY_S)
    model = next(iter(runs.values())).model
    remote = all(is_remote(s.run) for s in runs.values())
    frames = gated(_chain(runs), queue, cost=_cost(model, runs), model=model, remote=remote)
    try:
        for done, (state, frame) in enumerate(frames, start=1):
            draw = throttle.due(force=frame.done)
            pictures = _record(state, frame, draw)
            if draw and pictures is not None:
                h, w = frame.size
                frame_box.image(
                    pictures[0],
                    width="stretch",
                    caption=f"{t('deepdream.live_frame', h=h, w=w)} · {_ran_on(state)}",
                )
                maps_box.image(
                    pictures[1],
                    width="stretch",
                    caption=t("deepdream.live_maps", layer=frame.layer),
                )
                text = _progress_text(frame, state.kind, state.config.zoom_frames)
                bar.progress(min(done / total, 1.0), text=text)
                classroom.publish(*pictures, min(done / total, 1.0), text, state.params())
    finally:  # Stop (a rerun) lands here too: give the gate slot back and free the dreams now
        frames.close()
        for state in runs.values():
            state.finalize()
            state.run.close()
            state.latest = _settled(state.latest)
        classroom.end(all(s.done for s in runs.values()))


def _settled(frame: DreamFrame | None) -> DreamFrame | None:
    """The last frame a session keeps, without its float tensors (the image, the maps): only its
    picture, maps and loss are read from now on, converted once here (30 sessions: ~70 MB)."""
    if frame is None:
        return None
    import dataclasses

    import torch

    h, w = frame.size
    tiny = torch.zeros(1, 1, 1, 1)  # one float, expanded to the right shapes (no copies)
    light = dataclasses.replace(
        frame, x=tiny.expand(1, 3, h, w), maps=tiny, loss_tensor=frame.loss_tensor.detach().cpu()
    )
    light.__dict__.update(image=frame.image, activations=frame.activations, loss=frame.loss)
    return light


# ---------------------------------------------------------------- results


def _download_png(state: _RunState) -> bytes:
    if "png" not in state.downloads:
        state.downloads["png"] = png_bytes(state.latest.image, state.params())
    return state.downloads["png"]


def _download_video(state: _RunState, kind: str) -> bytes:
    """The progression (one kept frame per step), or with a zoom loop the loop's frames."""
    if kind not in state.downloads:
        frames = _video_frames(state)
        state.downloads[kind] = (
            gif_bytes(frames, _FPS) if kind == "gif" else mp4_bytes(frames, _FPS)
        )
    return state.downloads[kind]


def _video_frames(state: _RunState) -> list[np.ndarray]:
    if len(state.loop_frames) > 1:  # the zoom loop, as `dreamlab dream --zoom-frames` writes it
        return [decode(data) for data in state.loop_frames]
    return [f.image for f in _timeline(state)]


def _timeline(state: _RunState) -> list:
    """The kept frames, ending with the latest (a run stopped off the stride still ends there)."""
    frames = list(state.store.frames)
    latest = state.latest
    if latest is not None and (not frames or frames[-1].step != latest.step):
        maps = _maps_picture(latest.activations, state.channels or [0])
        frames.append(
            state.store.make(
                latest.step,
                latest.octave,
                latest.iteration,
                latest.loop,
                latest.loss,
                latest.image,
                maps,
            )
        )
    return frames


def _status(state: _RunState) -> None:
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


def _scrubber(state: _RunState) -> None:
    """The kept frames, one at a time. The slider starts afresh with each run (``_start``) and
    the run is final, so its range never moves under the user: the first keypress counts.

    With a zoom loop the slider runs over the loop's frames (as many as its caption counts). The
    dream is drawn across the view column, its maps below it; the last frame at full resolution.
    """
    if len(state.loop_frames) > 1:
        _loop_scrubber(state)
        return
    frames = _timeline(state)
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
    st.image(picture, width="stretch", caption=f"{caption} · {_ran_on(state)}")
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


def _loop_scrubber(state: _RunState) -> None:
    """The zoom loop's frames (the dream, then one per zoom), each with its layer's maps."""
    count = len(state.loop_frames)
    idx = _scrub_slider(count)
    image = decode(state.loop_frames[idx - 1])
    caption = t("pages.loop_frame", frame=idx, frames=count)
    st.image(image, width="stretch", caption=f"{caption} · {_ran_on(state)}")
    layer = _maps_layer(state)
    maps = _layer_picture(
        state.model, model_key(state.model), image, layer, len(state.channels or range(16))
    )
    st.image(maps, width="stretch", caption=t("deepdream.live_maps", layer=layer))


def _maps_layer(state: _RunState) -> str:
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
    return _maps_picture(maps, _pick_channels(maps, None, count))


def _other_maps(state: _RunState, image: np.ndarray, layer: str) -> np.ndarray:
    """Another target layer's maps for a kept frame (measured again on its picture)."""
    return _layer_picture(
        state.model, model_key(state.model), image, layer, len(state.channels or range(16))
    )


def _zoom_loop(state: _RunState) -> None:
    """The zoom loop, played on the page (the MP4 and GIF downloads hold the same frames)."""
    if len(state.loop_frames) < 2:
        return
    st.subheader(t("deepdream.zoom_result"))
    st.video(
        _download_video(state, "mp4"), format="video/mp4", loop=True, autoplay=True, muted=True
    )
    st.caption(
        t(
            "deepdream.zoom_caption",
            frames=len(state.loop_frames),
            asked=state.config.zoom_frames + 1,
        )
    )


def _downloads(state: _RunState) -> None:
    st.subheader(t("deepdream.downloads"))
    stem = f"dream-{state.model.name}-{state.run.plan.targets[0][0]}-seed{state.config.seed}"
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button(
        t("deepdream.download_png"),
        lambda: _download_png(state),
        f"{stem}.png",
        "image/png",
        key="dd_dl_png",
        on_click="ignore",
        width="stretch",
        help=t("deepdream.download_help"),
    )
    c2.download_button(
        t("deepdream.download_gif"),
        lambda: _download_video(state, "gif"),
        f"{stem}.gif",
        "image/gif",
        key="dd_dl_gif",
        on_click="ignore",
        width="stretch",
    )
    c3.download_button(
        t("deepdream.download_mp4"),
        lambda: _download_video(state, "mp4"),
        f"{stem}.mp4",
        "video/mp4",
        key="dd_dl_mp4",
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


def _compare(runs: dict[str, _RunState]) -> None:
    """The seed's figure: the same dream from the photo and from noise."""
    noise = runs.get("noise")
    if noise is None or noise.latest is None:
        return
    st.subheader(t("deepdream.compare"))
    left, right = view_columns(2)
    left.image(runs["photo"].latest.image, caption=t("deepdream.source_photo"), width="stretch")
    right.image(noise.latest.image, caption=t("deepdream.source_noise"), width="stretch")
    st.caption(t("deepdream.compare_caption"))


def _results(runs: dict[str, _RunState]) -> None:
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


# ---------------------------------------------------------------- the page


def _usable_model(picked: LoadedModel | None) -> tuple[LoadedModel, bool]:
    """The model the settings are for: the picked one, else (picked one unavailable) the last usable
    one, or the embedded one; and whether Dream can run."""
    if picked is not None:
        st.session_state["dd_last_model"] = picked
        return picked, True
    last = st.session_state.get("dd_last_model")
    return (last or cached_model("efficientnet_lite0", device_choice())), False


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


def _controls(video: bool) -> tuple[LoadedModel, LoadedImage | None, bool, str, bool]:
    """The settings column; ``video``: the source choice (drawn atop the view column, so that
    Dream stays above the fold at 1280x720) is a clip instead of a photo."""
    _init_state()
    picked = model_picker("dd")  # an unavailable model says why right under the picker
    model, usable = _usable_model(picked)
    image = None if video else image_picker("dd")
    _preset_picker(str(st.session_state.get("dd_model", model.name)))
    waits = usable and _preset_waits(model.name)
    why = None
    if not usable:
        why = t("deepdream.form_kept", model=_model_name(model.name))
    elif waits:
        why = t("pages.preset_waits", model=_model_name(model.name))
    elif not video and image is None:
        why = t("pages.no_image")
    with st.container(border=True, key="dd_settings"):
        pressed = _dream_button(usable and not waits and (video or image is not None), why)
        layer = _settings_panel(model)
    if video:
        video_dream.controls()
    _guide_controls()
    _layer_controls(model, layer)
    return model, image, pressed, layer, usable


def _dream_now(model: LoadedModel, image: LoadedImage, layer: str) -> None:
    """Dream (live, at the top of the view column), then rerun to show the results."""
    try:
        config = _config(model, layer)
        runs = _start(model, image, config, bool(st.session_state["dd_noise"]))
    except (ValueError, RuntimeError) as exc:  # one line, and the last results stay
        show_error(exc)
        return
    try:
        _live(runs)
    except (ValueError, RuntimeError) as exc:  # e.g. out of memory mid-dream
        st.session_state["dd_error"] = t("deepdream.failed", error=error_line(exc))
    st.rerun()  # show the results (the frames are in the session)


def render() -> None:
    """Draw the page: the settings on the left (Dream first), the dream on the right."""
    if classroom.watching():  # a ?class=CODE link: the teacher's dream, live
        return
    settings = query.load("deepdream", DreamSettings)
    if query.forced("deepdream"):
        _recipe_of_settings(settings)
    st.title(t("deepdream.title"))
    if not presenting():  # on a projector the large type would push Dream below the fold
        st.caption(t("deepdream.intro"))
    controls, view = page_columns([1, 2])
    with view:  # the source choice heads the view: in the settings it pushed Dream below the fold
        video = video_dream.source_is_video()  # a clip instead of a photo (ui/parts/video_dream.py)
    with controls:
        model, image, pressed, layer, usable = _controls(video)
        classroom.share_controls()
        lesson("deepdream")
    with view:
        if st.session_state.get("dd_media") == "video":
            video_dream.view(model, pressed and usable, lambda: _config(model, layer))
            return
        if pressed and usable and image is not None:
            _dream_now(model, image, layer)
        if st.session_state.get("dd_error"):
            st.error(st.session_state.pop("dd_error"), icon="⚠️")
        runs = st.session_state.get(_RUNS)
        if runs:
            for state in runs.values():  # a run the last script left unfinished is final now
                state.finalize()
            _results(runs)
        elif image is not None:
            st.image(image.array, caption=image.name, width="stretch")
            st.info(t("deepdream.start_hint"), icon=":material/cyclone:")
