"""The "DeepDream" page: the dream, frame by frame, next to the maps of the layer it amplifies.

Nothing runs until **Dream** is pressed; the settings are a fragment that writes them into the
address as they change (``parts/dream_controls.py``). The dream is pulled through the shared job
gate; every frame lands in the session's :class:`~dreamlab.dream.session.DreamSession` as it
arrives (a bounded store of thumbnails per run, and only the last photo and noise runs), so
**Stop**, which reruns the script and so interrupts the loop, keeps everything made so far. The
results are drawn by ``parts/dream_results.py``.
"""

from __future__ import annotations

import streamlit as st

from dreamlab.backend import dream, is_remote
from dreamlab.dream import PRESETS, DreamConfig, DreamFrame
from dreamlab.dream.session import DreamRecord, DreamSession
from dreamlab.images import LoadedImage
from dreamlab.models import LoadedModel
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.runtime.budget import JobCost
from dreamlab.runtime.job_costs import dream_run_cost
from dreamlab.ui import query
from dreamlab.ui.i18n import t
from dreamlab.ui.parts import classroom, video_dream
from dreamlab.ui.parts.dream_controls import (
    dream_button,
    dream_config,
    guide_controls,
    init_state,
    layer_controls,
    network_title,
    preset_picker,
    preset_waits,
    recipe_for,
    recipe_of_settings,
    settings_panel,
)
from dreamlab.ui.parts.dream_results import ran_on, results
from dreamlab.ui.parts.gate import admit, gated
from dreamlab.ui.parts.layout import (
    device_choice,
    error_line,
    lesson,
    page_columns,
    show_error,
    view_columns,
)
from dreamlab.ui.parts.model_picker import cached_model, model_picker
from dreamlab.ui.parts.throttle import Throttle
from dreamlab.ui.parts.upload import image_picker
from dreamlab.ui.settings import DreamSettings
from dreamlab.ui.theme import presenting

__all__ = ["render"]

_RUNS = "dd_runs"  # session key: the last DreamSession (its "photo" and "noise" records)
_DRAW_EVERY_S = 0.1  # draw at most ~10 frames per second; the dream itself never waits
_KEEP = {"thumb_side": 384, "capacity": 48}  # each run's thumbnails: 48 at most, 384 px


def _start(
    model: LoadedModel, image: LoadedImage, config: DreamConfig, noise: bool
) -> DreamSession:
    """Create the runs (everything is checked here, before the gate) and store them."""
    preset = PRESETS.get(st.session_state.get("dd_preset", ""))
    label = preset.label_for(model.name) if preset is not None else None  # never on another net
    kept = {"preset": label, "recipe_of": recipe_for(model.name), **_KEEP}
    kept["channel_count"] = 8 if presenting() else 16
    photo = dream(image.array, model, config)
    records = [DreamRecord("photo", model, config, photo, image.name, **kept)]
    if noise:
        h, w = photo.plan.size
        noise_cfg = config.with_overrides(noise_size=(h, w))
        noise_run = dream("noise", model, noise_cfg)
        records.append(DreamRecord("noise", model, noise_cfg, noise_run, "noise", **kept))
    runs = DreamSession(*records)
    try:
        admit(_cost(runs))  # a dream too big for this server: one line, nothing kept
    except ValueError:
        for record in runs.values():
            record.run.close()
        raise
    st.session_state[_RUNS] = runs  # replaces the previous runs: memory stays bounded
    for key in ("dd_scrub", "dd_maps"):  # the new run's own slider and maps switch
        st.session_state.pop(key, None)
    return runs


def _cost(runs: DreamSession) -> JobCost:
    """The runs' expected peak memory: one after the other, so the larger one's."""
    costs = (dream_run_cost(runs.model, r.run) for r in runs.values())
    return max(costs, key=lambda c: c.bytes)


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


def _stop() -> None:
    """Stop's callback: fix every run as it is (frames still in flight are dropped)."""
    runs = st.session_state.get(_RUNS)
    if runs:
        runs.finalize()


def _live(runs: DreamSession) -> None:
    """Pull the frames through the job gate and draw them side by side, ~10 per second.

    Drawn at the top of the view column: the progress line and Stop, then the dream and its maps,
    all on screen without scrolling.
    """
    total = runs.total
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
    remote = all(is_remote(r.run) for r in runs.values())
    frames = gated(runs.frames(), queue, cost=_cost(runs), model=runs.model, remote=remote)
    try:
        for done, (state, frame) in enumerate(frames, start=1):
            draw = throttle.due(force=frame.done)
            pictures = state.record(frame, draw)
            if draw and pictures is not None:
                h, w = frame.size
                frame_box.image(
                    pictures[0],
                    width="stretch",
                    caption=f"{t('deepdream.live_frame', h=h, w=w)} · {ran_on(state)}",
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
        runs.close()
        classroom.end(runs.done)


def _usable_model(picked: LoadedModel | None) -> tuple[LoadedModel, bool]:
    """The model the settings are for: the picked one, else (picked one unavailable) the last usable
    one, or the embedded one; and whether Dream can run."""
    if picked is not None:
        st.session_state["dd_last_model"] = picked
        return picked, True
    last = st.session_state.get("dd_last_model")
    return (last or cached_model(DEFAULT_MODEL, device_choice())), False


def _controls(video: bool) -> tuple[LoadedModel, LoadedImage | None, bool, str, bool]:
    """The settings column; ``video``: the source choice (drawn atop the view column, so that
    Dream stays above the fold at 1280x720) is a clip instead of a photo."""
    init_state()
    picked = model_picker("dd")  # an unavailable model says why right under the picker
    model, usable = _usable_model(picked)
    image = None if video else image_picker("dd")
    preset_picker(str(st.session_state.get("dd_model", model.name)))
    waits = usable and preset_waits(model.name)
    why = None
    if not usable:
        why = t("deepdream.form_kept", model=network_title(model.name))
    elif waits:
        why = t("pages.preset_waits", model=network_title(model.name))
    elif not video and image is None:
        why = t("pages.no_image")
    with st.container(border=True, key="dd_settings"):
        pressed = dream_button(usable and not waits and (video or image is not None), why)
        layer = settings_panel(model)
    if video:
        video_dream.controls()
    guide_controls()
    layer_controls(model, layer)
    return model, image, pressed, layer, usable


def _dream_now(model: LoadedModel, image: LoadedImage, layer: str) -> None:
    """Dream (live, at the top of the view column), then rerun to show the results."""
    try:
        config = dream_config(model, layer)
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
        recipe_of_settings(settings)
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
            video_dream.view(model, pressed and usable, lambda: dream_config(model, layer))
            return
        if pressed and usable and image is not None:
            _dream_now(model, image, layer)
        if st.session_state.get("dd_error"):
            st.error(st.session_state.pop("dd_error"), icon="⚠️")
        runs = st.session_state.get(_RUNS)
        if runs:
            runs.finalize()  # a run the last script left unfinished is final now
            results(runs)
        elif image is not None:
            st.image(image.array, caption=image.name, width="stretch")
            st.info(t("deepdream.start_hint"), icon=":material/cyclone:")
