"""The "DeepDream" page: the dream, frame by frame, next to the maps of the layer it amplifies.

Settings live in a form: nothing runs until **Dream** is pressed. The dream is pulled through the
shared job gate; every frame lands in ``st.session_state`` as it arrives (a bounded
:class:`~dreamlab.dream.FrameStore` of thumbnails per run, and only the last photo and noise runs),
so **Stop**, which reruns the script and so interrupts the loop, keeps everything made so far.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

from dreamlab.backend import dream
from dreamlab.dream import PRESETS, DreamConfig, DreamFrame, DreamRun, FrameStore
from dreamlab.dream.export import dream_params
from dreamlab.images import LoadedImage
from dreamlab.media import gif_bytes, mp4_bytes, png_bytes
from dreamlab.models import LoadedModel
from dreamlab.ui import classroom
from dreamlab.ui.i18n import t
from dreamlab.ui.widgets import (
    Throttle,
    advanced_controls,
    error_line,
    gated,
    image_picker,
    layer_select,
    lesson,
    model_picker,
    presenting,
    show_error,
)
from dreamlab.viz import colorize, mosaic, shared_scale

__all__ = ["render"]

_RUNS = "dd_runs"  # session key: {"photo": _RunState, "noise": _RunState}, the last run of each
_DRAW_EVERY_S = 0.1  # draw at most ~10 frames per second; the dream itself never waits
_MAX_SIDES = [128, 192, 256, 384, 512, 768, 1024]
_FPS = 10
_DEFAULTS = DreamConfig()  # the widgets start from the engine's own defaults

# form widget key -> DreamConfig field
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


@dataclass
class _RunState:
    """One dream kept in the session: its settings, a bounded store of frames, the latest frame."""

    kind: str  # "photo" or "noise"
    model: LoadedModel
    config: DreamConfig
    run: DreamRun
    source: str
    preset: str | None
    store: FrameStore = field(default_factory=lambda: FrameStore(capacity=48, thumb_side=384))
    latest: DreamFrame | None = None
    channels: list[int] | None = None  # the channels drawn, fixed from the first frame
    done: bool = False
    downloads: dict[str, bytes] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.store.losses)

    def params(self) -> dict[str, Any]:
        p = dream_params(self.model, self.config, self.run.plan, source=self.source,
                         steps=self.steps, preset=self.preset)  # fmt: skip
        return {**p, "finished": self.done}


# ---------------------------------------------------------------- settings


def _init_state() -> None:
    """Widget values start at the engine's defaults (set once, so presets can overwrite them)."""
    for key, name in _FIELDS.items():
        st.session_state.setdefault(key, getattr(_DEFAULTS, name))
    st.session_state.setdefault("dd_preset", "default")
    st.session_state.setdefault("dd_noise", False)
    st.session_state.setdefault("dd_channel", None)


def _apply_preset() -> None:
    """Copy the chosen preset's numbers into the form (no model runs: only widget values change)."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    if preset is None:
        return
    for key, name in _FIELDS.items():
        if name not in ("max_side", "seed"):
            st.session_state[key] = getattr(preset.config, name)
    model_name = st.session_state.get("dd_model")
    if preset.layer and model_name == preset.model:
        st.session_state[f"dd_layer_{model_name}"] = preset.layer


def _preset_picker() -> None:
    names = list(PRESETS)
    st.selectbox(
        t("deepdream.preset"), names, key="dd_preset", on_change=_apply_preset,
        format_func=lambda n: t(f"deepdream.preset_{n}"), help=t("deepdream.preset_help"),
    )  # fmt: skip
    st.caption(t(f"deepdream.preset_{st.session_state['dd_preset']}_desc"))


def _form(model: LoadedModel) -> tuple[bool, str]:
    """The settings form; returns (Dream pressed, layer)."""
    with st.form("dd_form", border=True):
        layer = layer_select(model, "dd")
        st.slider(t("deepdream.octaves"), 1, 8, key="dd_octaves")
        st.slider(t("deepdream.iterations"), 1, 50, key="dd_iterations")
        st.slider(t("deepdream.lr"), 0.001, 0.3, step=0.001, format="%.3f", key="dd_lr",
                  help=t("deepdream.lr_help"))  # fmt: skip
        with advanced_controls():
            st.number_input(t("deepdream.channel"), min_value=0, step=1, key="dd_channel",
                            placeholder=t("deepdream.channel_all"), help=t("deepdream.channel_help"))  # fmt: skip
            _target_picker()
            st.slider(
                t("deepdream.octave_scale"), 1.1, 2.5, step=0.1, format="%.1f", key="dd_scale"
            )
            st.slider(t("deepdream.jitter"), 0, 64, step=4, key="dd_jitter",
                      help=t("deepdream.jitter_help"))  # fmt: skip
            st.slider(t("deepdream.smoothing"), 0.0, 2.0, step=0.1, format="%.1f",
                      key="dd_smoothing", help=t("deepdream.smoothing_help"))  # fmt: skip
            st.select_slider(t("deepdream.max_side"), _MAX_SIDES, key="dd_max_side")
            st.number_input(t("deepdream.seed"), min_value=0, max_value=2**31 - 1, step=1,
                            key="dd_seed")  # fmt: skip
            st.checkbox(
                t("deepdream.from_noise"), key="dd_noise", help=t("deepdream.from_noise_help")
            )
        pressed = st.form_submit_button(t("deepdream.dream"), type="primary", width="stretch")
    return pressed, layer


_TARGETS = ("layer", "neuron", "logit")  # DreamConfig.objective values offered on the page


def _target_picker() -> None:
    """What the dream makes grow: the layer (or its channel), a neuron, or a class logit."""
    st.selectbox(
        t("deepdream.target"),
        _TARGETS,
        key="dd_target",
        help=t("deepdream.target_help"),
        format_func=lambda k: t(f"deepdream.target_{k}"),
    )
    st.number_input(t("deepdream.logit"), min_value=0, value=281, step=1, key="dd_logit")


def _target(channel: int | None) -> dict[str, Any]:
    """The Target selector's DreamConfig fields (a neuron is the channel's centre, 0 if unset)."""
    target = st.session_state.get("dd_target", "layer")
    if target == "logit":
        return {"objective": "logit", "logit": int(st.session_state.get("dd_logit", 281))}
    if target == "neuron":
        return {"objective": "neuron", "channel": 0 if channel is None else channel}
    return {"channel": channel}


def _config(model: LoadedModel, layer: str) -> DreamConfig:
    """The form's values on top of the preset's config (its loss, normalization, octave mode)."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    base = preset.config if preset is not None else _DEFAULTS
    values = {name: st.session_state[key] for key, name in _FIELDS.items()}
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
    preset = st.session_state.get("dd_preset")
    photo = dream(image.array, model, config)
    runs = {"photo": _RunState("photo", model, config, photo, image.name, preset)}
    if noise:
        h, w = photo.plan.size
        noise_cfg = config.with_overrides(noise_size=(h, w))
        runs["noise"] = _RunState("noise", model, noise_cfg, dream("noise", model, noise_cfg),
                                  "noise", preset)  # fmt: skip
    st.session_state[_RUNS] = runs  # replaces the previous runs: memory stays bounded
    return runs


def _chain(runs: dict[str, _RunState]) -> Iterator[tuple[_RunState, DreamFrame]]:
    for state in runs.values():
        for frame in state.run:
            yield state, frame


def _record(
    state: _RunState, frame: DreamFrame, picture: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """Keep the frame (loss always, thumbnail if on the store's stride); pictures when needed."""
    state.latest = frame
    state.store.add_loss(frame.loss)
    state.done = frame.done
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


def _progress_text(frame: DreamFrame, kind: str) -> str:
    return t(
        "deepdream.progress", source=t(f"deepdream.source_{kind}"),
        octave=frame.octave + 1, octaves=frame.num_octaves, iteration=frame.iteration + 1,
        iterations=frame.iterations, loss=f"{frame.loss:.4g}",
    )  # fmt: skip


def _live(runs: dict[str, _RunState]) -> None:
    """Pull the frames through the job gate and draw them side by side, ~10 per second."""
    total = sum(s.run.plan.total for s in runs.values())
    queue = st.empty()
    bar = st.progress(0.0, text=t("deepdream.starting"))
    st.button(t("deepdream.stop"), key="dd_stop", icon=":material/stop_circle:")
    left, right = st.columns(2)
    frame_box, maps_box = left.empty(), right.empty()
    throttle = Throttle(_DRAW_EVERY_S)
    frames = gated(_chain(runs), queue)
    try:
        for done, (state, frame) in enumerate(frames, start=1):
            draw = throttle.due(force=frame.done)
            pictures = _record(state, frame, draw)
            if draw and pictures is not None:
                h, w = frame.size
                frame_box.image(pictures[0], width="stretch",
                                caption=t("deepdream.live_frame", h=h, w=w))  # fmt: skip
                maps_box.image(pictures[1], width="stretch",
                               caption=t("deepdream.live_maps", layer=frame.layer))  # fmt: skip
                bar.progress(min(done / total, 1.0), text=_progress_text(frame, state.kind))
                classroom.publish(
                    *pictures,
                    min(done / total, 1.0),
                    _progress_text(frame, state.kind),
                    state.params(),
                )
    finally:  # Stop (a rerun) lands here too: give the gate slot back and free the dreams now
        frames.close()
        for state in runs.values():
            state.run.close()
        classroom.end(all(s.done for s in runs.values()))


# ---------------------------------------------------------------- results


def _download_png(state: _RunState) -> bytes:
    if "png" not in state.downloads:
        state.downloads["png"] = png_bytes(state.latest.image, state.params())
    return state.downloads["png"]


def _download_video(state: _RunState, kind: str) -> bytes:
    if kind not in state.downloads:
        frames = [f.image for f in _timeline(state)]
        state.downloads[kind] = (
            gif_bytes(frames, _FPS) if kind == "gif" else mp4_bytes(frames, _FPS)
        )
    return state.downloads[kind]


def _timeline(state: _RunState) -> list:
    """The kept frames, ending with the latest (a run stopped off the stride still ends there)."""
    frames = list(state.store.frames)
    latest = state.latest
    if latest is not None and (not frames or frames[-1].step != latest.step):
        maps = _maps_picture(latest.activations, state.channels or [0])
        frames.append(state.store.make(latest.step, latest.octave, latest.iteration, latest.loop,
                                       latest.loss, latest.image, maps))  # fmt: skip
    return frames


def _status(state: _RunState) -> None:
    plan = state.run.plan
    if state.done:
        st.success(t("deepdream.finished", steps=state.steps), icon=":material/check_circle:")
    else:
        st.warning(t("deepdream.stopped", steps=state.steps, total=plan.total),
                   icon=":material/pause_circle:")  # fmt: skip
    if plan.note:
        st.caption(t("deepdream.dropped", kept=len(plan.sizes), asked=len(plan.sizes) + plan.dropped,
                     side=plan.min_side))  # fmt: skip


def _scrubber(state: _RunState) -> None:
    frames = _timeline(state)
    if len(frames) > 1:
        idx = st.slider(t("deepdream.scrub"), 1, len(frames), len(frames), key="dd_scrub",
                        help=t("deepdream.scrub_help"))  # fmt: skip
    else:
        idx = 1
    f = frames[idx - 1]
    left, right = st.columns(2)
    left.image(f.image_data, width="stretch", caption=t("deepdream.frame_caption", step=f.step + 1,
               octave=f.octave + 1, iteration=f.iteration + 1, loss=f"{f.loss:.4g}"))  # fmt: skip
    if f.maps_data is not None:
        right.image(f.maps_data, width="stretch",
                    caption=t("deepdream.live_maps", layer=state.run.plan.targets[0][0]))  # fmt: skip


def _downloads(state: _RunState) -> None:
    st.subheader(t("deepdream.downloads"))
    stem = f"dream-{state.model.name}-{state.run.plan.targets[0][0]}-seed{state.config.seed}"
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button(t("deepdream.download_png"), lambda: _download_png(state), f"{stem}.png",
                       "image/png", key="dd_dl_png", on_click="ignore", width="stretch",
                       help=t("deepdream.download_help"))  # fmt: skip
    c2.download_button(t("deepdream.download_gif"), lambda: _download_video(state, "gif"),
                       f"{stem}.gif", "image/gif", key="dd_dl_gif", on_click="ignore",
                       width="stretch")  # fmt: skip
    c3.download_button(t("deepdream.download_mp4"), lambda: _download_video(state, "mp4"),
                       f"{stem}.mp4", "video/mp4", key="dd_dl_mp4", on_click="ignore",
                       width="stretch")  # fmt: skip
    c4.download_button(t("deepdream.download_json"), json.dumps(state.params(), indent=2),
                       f"{stem}.json", "application/json", key="dd_dl_json", on_click="ignore",
                       width="stretch")  # fmt: skip


def _compare(runs: dict[str, _RunState]) -> None:
    """The seed's figure: the same dream from the photo and from noise."""
    noise = runs.get("noise")
    if noise is None or noise.latest is None:
        return
    st.subheader(t("deepdream.compare"))
    left, right = st.columns(2)
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
    st.subheader(t("deepdream.loss_curve"))
    st.line_chart({t("deepdream.loss"): state.store.losses}, x_label=t("deepdream.step"),
                  height=220)  # fmt: skip
    _downloads(state)
    _compare(runs)


# ---------------------------------------------------------------- the page


def _controls() -> tuple[LoadedModel | None, LoadedImage | None, bool, str | None]:
    _init_state()
    model = model_picker("dd")
    image = image_picker("dd")
    if model is None or image is None:
        return model, image, False, None
    _preset_picker()
    pressed, layer = _form(model)
    return model, image, pressed, layer


def render() -> None:
    """Draw the page."""
    if classroom.watching(_FIELDS):  # a ?class=CODE link: the teacher's dream, live
        return
    st.title(t("deepdream.title"))
    st.caption(t("deepdream.intro"))
    lesson("deepdream")
    controls, view = st.columns([1, 2], gap="large")
    with controls:
        model, image, pressed, layer = _controls()
        classroom.share_controls()
    with view:
        if model is None or image is None or layer is None:
            return
        if pressed:
            try:
                runs = _start(
                    model, image, _config(model, layer), bool(st.session_state["dd_noise"])
                )
            except (ValueError, RuntimeError) as exc:  # one line, and the last results stay
                show_error(exc)
            else:
                try:
                    _live(runs)
                except (ValueError, RuntimeError) as exc:  # e.g. out of memory mid-dream
                    st.session_state["dd_error"] = t("deepdream.failed", error=error_line(exc))
                st.rerun()  # show the results (the frames are in the session)
        if st.session_state.get("dd_error"):
            st.error(st.session_state.pop("dd_error"), icon="⚠️")
        runs = st.session_state.get(_RUNS)
        if runs:
            _results(runs)
        else:
            st.image(image.array, caption=image.name, width="stretch")
            st.info(t("deepdream.start_hint"), icon=":material/cyclone:")
