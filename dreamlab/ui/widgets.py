"""Widgets shared by every page: sidebar settings, image and model pickers, the job gate, lessons.

Only ``dreamlab.ui`` imports streamlit. Every string shown comes from the catalogues (``t``).
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

import numpy as np
import streamlit as st

from dreamlab.backend import backend_url, is_remote, place_reporter, set_session
from dreamlab.images import (
    DEFAULT_MAX_SIDE,
    ImageError,
    LoadedImage,
    load_image,
    sample_names,
    sample_path,
)
from dreamlab.models import (
    LoadedModel,
    ModelError,
    ModelInfo,
    ModelSpec,
    list_models,
    load_model,
    load_spec,
)
from dreamlab.models.registry import download, load_spec_only, model_cache
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.runtime.budget import JobCost, MemoryRefused, shared_budget, track
from dreamlab.runtime.device import available_devices
from dreamlab.runtime.jobs import JobGate, default_capacity, default_turns
from dreamlab.runtime.memory import release_memory
from dreamlab.ui.i18n import LANGS, error_text, model_note, model_title, t
from dreamlab.ui.ignored import note_invalid

__all__ = [
    "CLASS_SOURCE",
    "Throttle",
    "advanced_controls",
    "cached_model",
    "clickable_image",
    "UPLOAD_TYPES",
    "add_session_model",
    "admit",
    "device_choice",
    "downsized_note",
    "error_line",
    "gated",
    "image_picker",
    "layer_select",
    "lesson",
    "model_key",
    "model_picker",
    "page_columns",
    "presenting",
    "qr_png",
    "session_models",
    "setup_sidebar",
    "shared_gate",
    "show_error",
    "view_columns",
]

T = TypeVar("T")

# What the uploader accepts: every format images.load_image reads (the label lists them too).
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff")

# Presenter mode (a projector at 1400 px or less): large type, and nothing cut or overlapping.
_PRESENTER_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 1.3rem; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; }
h1 { font-size: 3rem !important; }
/* the page uses the whole width: images get large */
[data-testid="stMainBlockContainer"] { max-width: 100%; padding-left: 2rem; padding-right: 2rem; }
/* sidebar: page names and labels wrap instead of being cut ("Feature visual...") */
[data-testid="stSidebarNav"] [data-testid="stMarkdownContainer"] p { font-size: 18px !important; }
[data-testid="stSidebarNav"] .stMarkdownEllipsis { white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; }
[data-testid="stSidebarNav"] span, [data-testid="stSidebar"] label p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
/* buttons and download buttons: the whole label, on two lines if need be ("PNG (f...") */
[data-testid="stBaseButton-secondary"], [data-testid="stBaseButton-primary"],
[data-testid="stDownloadButton"] button { height: auto; min-height: 2.6rem; }
[data-testid="stBaseButton-secondary"] p, [data-testid="stBaseButton-primary"] p,
[data-testid="stDownloadButton"] button p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  font-size: 1.1rem;
}
/* sliders: the value above the thumb gets room above the track, the end labels below it */
[data-testid="stSlider"] { padding-top: 0.9rem; }
[data-testid="stSliderThumbValue"] { font-size: 1rem; top: -2.1rem; white-space: nowrap; }
[data-testid="stSliderTickBarMin"], [data-testid="stSliderTickBarMax"] { font-size: 0.9rem; }
/* widget labels and captions wrap, never clipped */
[data-testid="stWidgetLabel"] p { white-space: normal !important; overflow: visible !important; }
[data-testid="stCaptionContainer"] { font-size: 1.05rem; }
/* a picked option is an <input> (it cannot wrap): large enough to read on a projector, small
   enough that a model's title fits; the open list's options alike */
[data-testid="stSelectbox"] input, [data-testid="stSelectbox"] [role="combobox"],
[data-testid="stSelectbox"] [role="combobox"] *, [role="listbox"] [role="option"] {
  font-size: 18px !important; }
</style>
"""


def _init_from_query() -> None:
    """``?lang=fr`` and ``?present=1`` set the session's defaults (a teacher's link)."""
    if "lang" not in st.session_state:
        lang = st.query_params.get("lang", "en")
        st.session_state["lang"] = lang if lang in LANGS else "en"
    if "present" not in st.session_state:
        st.session_state["present"] = st.query_params.get("present", "0") in ("1", "true", "yes")


def setup_sidebar() -> None:
    """Language switch, presenter mode and device picker, drawn on every page; this browser
    session's id for the backend (its jobs are queued and bounded as this session's)."""
    set_session(st.session_state.setdefault("_backend_session", uuid.uuid4().hex))
    _init_from_query()
    with st.sidebar:
        st.radio(
            t("common.language"),
            list(LANGS),
            key="lang",
            format_func=LANGS.__getitem__,
            horizontal=True,
        )
        st.toggle(t("common.presenter"), key="present", help=t("common.presenter_help"))
        devices = ["auto", *available_devices()]
        if st.session_state.get("device") not in devices:
            st.session_state["device"] = "auto"
        st.selectbox(t("common.device"), devices, key="device", help=t("common.device_help"))
    if presenting():
        st.markdown(_PRESENTER_CSS, unsafe_allow_html=True)


class Throttle:
    """How often a page draws live frames: at most once per ``every_s`` seconds.

    The backend never waits for the page; the page skips drawing the frames in between (drawing
    costs more than a step).
    """

    def __init__(self, every_s: float = 0.1) -> None:
        self.every_s = every_s
        self._last = float("-inf")

    def due(self, *, force: bool = False) -> bool:
        """Whether to draw now (always with ``force``, e.g. the last frame); starts the next wait."""
        now = time.monotonic()
        if force or now - self._last >= self.every_s:
            self._last = now
            return True
        return False

    def latest(self, frames: Iterable[T]) -> Iterator[T]:
        """The latest frame each time a draw is due, and always the last one."""
        pending: list[T] = []
        for frame in frames:
            pending[:] = [frame]
            if self.due():
                yield pending.pop()
        if pending:
            yield pending.pop()


def model_key(model: LoadedModel) -> str:
    """A cache key for a loaded model (Streamlit's caches cannot hash the module itself)."""
    return f"{model.name}|{model.device}|{model.weights_note}|{id(model)}"


def presenting() -> bool:
    """Whether presenter mode (large type, essential controls only) is on."""
    return bool(st.session_state.get("present", False))


def page_columns(spec: list[float], *, gap: str = "large") -> list:
    """The page's side-by-side columns; in presenter mode a wider last column (the pictures).

    ``spec`` is the normal ratio (``[1, 2]``: controls, view); presenting, the view gets a fifth
    more room: with :func:`view_columns` a picture in it is over 500 px wide in a 1400 px window.
    """
    if presenting():
        spec = [*spec[:-1], spec[-1] * 1.2]
    return st.columns(spec, gap=gap)


def view_columns(count: int) -> list:
    """``count`` columns for pictures side by side; stacked full width in presenter mode.

    On a projector two pictures side by side are each too small to read: stacked, each one gets
    the whole width of its column (the DeepDream page's dream and its maps, for instance).
    """
    if presenting():
        return [st.container() for _ in range(count)]
    return st.columns(count)


def device_choice() -> str:
    """The device picked in the sidebar (``"auto"`` by default)."""
    return str(st.session_state.get("device", "auto"))


def advanced_controls() -> AbstractContextManager[object]:
    """Where secondary controls go: folded away in presenter mode, inline otherwise."""
    if presenting():
        return st.expander(t("common.advanced"), expanded=False)
    return nullcontext()


def lesson(page: str) -> None:
    """The page's lesson (markdown with LaTeX), in a collapsible box."""
    with st.expander(t(f"{page}.lesson_title"), expanded=False):
        st.markdown(t(f"{page}.lesson"))


def error_line(exc: BaseException) -> str:
    """One line for the user, in their language (by the error's kind), never a traceback."""
    return error_text(exc)


def show_error(exc: BaseException) -> None:
    """Show an error as one line."""
    st.error(error_line(exc), icon="⚠️")


def clickable_image(
    image: np.ndarray,
    *,
    key: str,
    jpeg_quality: int | None = None,
    on_click: Callable[[], None] | None = None,
) -> tuple[float, float] | None:
    """Show an ``H x W x 3`` image across its column; a new click returns its (x, y) in image pixels.

    Uses the ``streamlit-image-coordinates`` component (a plain, unclickable image without it).
    Each click is returned once: the reruns after it return None, so a value the user then types
    in another widget is not overwritten by the same old click. ``jpeg_quality``: sent as a JPEG
    (a tenth of the component's uncompressed PNG, encoded in a fifteenth of the time: a live
    page), else as a PNG. ``on_click``: the click's callback (e.g. a rerun of chosen fragments).
    """
    try:
        from streamlit_image_coordinates import streamlit_image_coordinates
    except ImportError:  # optional at run time: the page still works by typing
        st.image(image, width="stretch")
        return None
    encoding = {"image_format": "JPEG", "jpeg_quality": jpeg_quality} if jpeg_quality else {}
    value = streamlit_image_coordinates(
        image, key=key, width="stretch", cursor="crosshair", on_click=on_click, **encoding
    )
    if not value or not value.get("width"):
        return None
    stamp = (value.get("unix_time"), value["x"], value["y"])
    if st.session_state.get(f"{key}_seen") == stamp:
        return None
    st.session_state[f"{key}_seen"] = stamp
    sx = image.shape[1] / value["width"]
    sy = image.shape[0] / value["height"]
    return value["x"] * sx, value["y"] * sy


@st.cache_data(show_spinner=False, max_entries=8)
def _sample(name: str, max_side: int) -> LoadedImage:
    return load_image(sample_path(name), max_side=max_side)


@st.cache_data(show_spinner=False, max_entries=16)
def _decode_upload(data: bytes, name: str, max_side: int) -> LoadedImage:
    return load_image(data, max_side=max_side, name=name)


def _keep_photo(key: str, img: LoadedImage) -> LoadedImage:
    """Keep the session's photo (its own copy: ``st.cache_data`` hands out copies), counted in
    the memory budget for as long as the session keeps it."""
    st.session_state[key] = img
    track(img.array)
    return img


CLASS_SOURCE = "__class__"  # the picker's choice for a class's shared photo


def image_picker(
    key: str,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    label: str | None = None,
    default: str = "chelsea",
) -> LoadedImage | None:
    """A bundled sample or an upload; a bad upload shows one line and keeps the last good upload.

    With **Upload your own** chosen and no readable upload yet, it returns None (the page waits
    for one), never the sample shown before.

    A class's photo (``{key}_class_photo`` in the session, set by **Dream with these settings**
    when the teacher dreams from their own upload) is one more choice.
    """
    samples = sample_names()
    class_photo = st.session_state.get(f"{key}_class_photo")
    choices = [*samples, *([CLASS_SOURCE] if class_photo else []), "__upload__"]
    if st.session_state.get(f"{key}_source") not in choices:  # the value is a key, never a label
        st.session_state[f"{key}_source"] = default if default in samples else choices[0]
    labels = {"__upload__": t("common.upload_own"), CLASS_SOURCE: t("common.class_photo")}
    source = st.selectbox(
        label or t("common.image"),
        choices,
        key=f"{key}_source",
        format_func=lambda c: labels.get(c) or t("common.sample", name=c),
    )
    last_key = f"{key}_last_image"
    if source == CLASS_SOURCE:
        return _keep_photo(last_key, _decode_upload(class_photo, t("common.class_photo"), max_side))
    if source != "__upload__":
        img = _keep_photo(last_key, _sample(source, max_side))
        st.session_state[f"{key}_last_sample"] = img.name
        return img
    up = st.file_uploader(t("common.upload"), type=list(UPLOAD_TYPES), key=f"{key}_upload")
    if up is not None:
        try:
            img = _decode_upload(up.getvalue(), up.name, max_side)
        except ImageError as exc:
            show_error(exc)
        else:
            if img.original_size:
                st.caption(downsized_note(img))
            return _keep_photo(last_key, img)
    last = st.session_state.get(last_key)
    if last is not None and last.name == st.session_state.get(f"{key}_last_sample"):
        return None  # "Upload your own" never silently falls back to the sample shown before
    return last


@st.cache_data(show_spinner=False, max_entries=64)
def qr_png(link: str) -> bytes | None:
    """The link as a QR code PNG (None if the ``segno`` package is missing: the link still works)."""
    try:
        import segno
    except ImportError:
        return None
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=8, border=2)
    return buf.getvalue()


def downsized_note(img: LoadedImage) -> str:
    """ "Downsized from W x H to w x h", in the session's language (sizes are width x height)."""
    w0, h0 = img.original_size or img.size
    w, h = img.size
    return t("common.downsized_from", w0=w0, h0=h0, w=w, h=h, side=max(w, h))


def cached_model(
    name: str,
    device: str,
    weights_digest: str = "",
    _weights: bytes | None = None,
    _spec: ModelSpec | None = None,
) -> LoadedModel:
    """One frozen model per (model, device, weights) shared by every session (read-only), from
    the backend's model cache (least recently used models dropped over the memory budget).

    ``_spec``: a model of this session only (:func:`session_models`); its name holds its
    weights' hash, so the name alone is a safe key.
    """
    if _spec is not None:
        return model_cache().get(
            (name, device, weights_digest),
            lambda: load_spec(_spec, device=device, weights=_weights),
        )
    if _weights is None and backend_url() is not None:  # a thin front end: the backend runs it
        return _thin_model(name, device)
    return model_cache().get(
        (name, device, weights_digest),
        lambda: load_model(name, device=device, weights=_weights),
    )


@st.cache_resource(show_spinner=False, max_entries=8)
def _thin_model(name: str, device: str) -> LoadedModel:
    """A thin front end's model: its spec only, one per (model, device) for every session (its
    weights load, once, only if something runs it here)."""
    return load_spec_only(name, device=device)


_SESSION_MODELS = "session_models"


def add_session_model(spec: ModelSpec) -> None:
    """Offer a model (a network trained in this session) to this browser session's pickers only."""
    st.session_state.setdefault(_SESSION_MODELS, {})[spec.name] = spec


def session_models() -> dict[str, ModelSpec]:
    """This session's own models by name (registered nowhere: other sessions never see them)."""
    return dict(st.session_state.get(_SESSION_MODELS, {}))


def _picker_infos() -> dict[str, ModelInfo]:
    """``list_models()`` then this session's models, by name."""
    infos = {i.name: i for i in list_models()}
    for name, spec in session_models().items():
        status, note = spec.weights.status()
        infos[name] = ModelInfo(name, spec.title, status, spec.input_size, len(spec.layers), note)
    return infos


def _status_label(info_status: str) -> str:
    return t(f"common.status_{info_status}")


def _model_label(name: str, title: str, status: str) -> str:
    """``Title · status``, translated, the status said once (not "(embedded) · embedded")."""
    shown, label = model_title(name, title), _status_label(status)
    for word in {status, label}:
        shown = shown.replace(f" ({word})", "")
    return f"{shown} · {label}"


def _download_with_progress(name: str) -> bool:
    """Download a model's weights with a progress bar; False (and one line) on failure."""
    bar = st.progress(0.0, text=t("common.downloading"))
    try:
        for done, total in download(name):
            frac = done / total if total else 0.0
            bar.progress(min(frac, 1.0), text=t("common.downloading_mb", mb=f"{done / 1e6:.0f}"))
    except ModelError as exc:
        show_error(exc)
        return False
    bar.empty()
    return True


def model_picker(key: str, *, default: str = DEFAULT_MODEL) -> LoadedModel | None:
    """Pick a model (status shown), download or upload its weights, and load it (cached)."""
    infos = _picker_infos()
    names = list(infos)
    if st.session_state.get(f"{key}_model") not in names:
        note_invalid(f"{key}_model")
        st.session_state[f"{key}_model"] = default if default in names else names[0]
    name = st.selectbox(
        t("common.model"),
        names,
        key=f"{key}_model",
        format_func=lambda n: _model_label(infos[n].name, infos[n].title, infos[n].status),
    )
    info = infos[name]
    weights: bytes | None = None
    with st.expander(t("common.own_weights")):
        up = st.file_uploader(
            t("common.own_weights_help"), type=["pt", "pth"], key=f"{key}_weights"
        )
        if up is not None:
            weights = up.getvalue()
    if weights is None and info.status == "unavailable":
        title, reason = model_title(name, info.title), model_note(info.note)
        st.warning(t("common.model_unavailable", title=title, reason=reason))
        return None
    if weights is None and info.status == "downloadable":
        st.info(t("common.model_downloadable", title=model_title(name, info.title)))
        if not st.button(t("common.download"), key=f"{key}_download"):
            return None
        if not _download_with_progress(name):
            return None
    digest = hashlib.sha256(weights).hexdigest() if weights else ""
    try:
        with st.spinner(t("common.loading_model", title=model_title(name, info.title))):
            spec = session_models().get(name)
            model = cached_model(name, device_choice(), digest, weights, spec)
    except (ModelError, ValueError) as exc:
        show_error(exc)
        return None
    if info.note and info.status == "embedded" and not weights:
        st.caption(model_note(info.note))
    return model


def layer_select(
    model: LoadedModel, key: str, *, default: str | None = None, label: str | None = None
) -> str:
    """A slider over the model's layers (dotted names, shallow to deep)."""
    layers = model.layers
    state_key = f"{key}_layer_{model.name}"
    if st.session_state.get(state_key) not in layers:
        note_invalid(state_key)  # a layer the address named that this model lacks: one line
        st.session_state[state_key] = default if default in layers else model.default_layer
    return st.select_slider(label or t("common.layer"), options=layers, key=state_key)


@st.cache_resource(show_spinner=False)
def shared_gate() -> JobGate:
    """The one job gate of this server, shared by every browser session (seats, fair turns,
    admission by the memory budget)."""
    device = "cuda" if "cuda" in available_devices() else "cpu"
    return JobGate(default_capacity(device), default_turns(device), budget=shared_budget())


def admit(cost: JobCost) -> JobCost:
    """``cost`` if a job of that size can ever run here, else raise
    :class:`~dreamlab.runtime.budget.MemoryRefused` (one line: the limit and what to lower). Pages call
    it before they start a job, where they already show a ``ValueError`` as one line."""
    budget = shared_gate().budget
    refused = budget.refusal(cost) if budget is not None else None
    if refused is not None:
        raise refused
    return cost


def _waiting_line(ticket, gate: JobGate) -> str:
    if ticket.reason == "memory":
        return t("memory.waiting", place=ticket.position, running=gate.running)
    return t("common.queue", position=ticket.position, running=gate.running)


def gated(
    frames: Iterable[T],
    placeholder: st.delta_generator.DeltaGenerator | None = None,
    cost: JobCost | None = None,
    model: LoadedModel | None = None,
    *,
    remote: bool | None = None,
) -> Iterator[T]:
    """Pull ``frames`` once this session has a seat, one fair turn per frame; show its place in
    the queue meanwhile, and why (seats, or memory: ``cost`` is the job's expected peak).

    A job that cannot fit even alone yields nothing and shows one line (see :func:`admit`).
    ``model`` is kept in the model cache while the job runs. The seat is given back when the loop
    ends, breaks, or Streamlit interrupts the run (Stop, or a closed tab: the next ``st`` call in
    the drawing loop raises, closing this generator).
    ``remote`` (None: ask ``frames``): the frames are made at the backend, so they take no seat
    here and no memory here; the place shown is the one at the GPU server, streamed from it.
    """
    box = placeholder or st.empty()
    if remote if remote is not None else is_remote(frames):
        yield from _remote_frames(frames, box)
        return
    gate = shared_gate()
    try:
        ticket = gate.enter(cost)
    except MemoryRefused as exc:
        box.error(error_line(exc), icon="⚠️")
        return
    try:
        try:
            while not gate.wait_turn(ticket, timeout=0.25):
                box.info(_waiting_line(ticket, gate))
        except MemoryRefused as exc:  # the server grew while it waited: it can never fit now
            box.error(error_line(exc), icon="⚠️")
            return
        box.empty()
        with model_cache().using(model):
            yield from gate.take_turns(ticket, frames)
    finally:
        gate.leave(ticket)
        release_memory()  # a heavy job just ended: hand its freed memory back
        gate.settle()


def _remote_frames(frames: Iterable[T], box: st.delta_generator.DeltaGenerator) -> Iterator[T]:
    """Frames made at the backend, with the place at its queue shown while they wait."""

    def show(place: int, of: int) -> None:
        if place:
            box.info(t("serve.waiting", place=place, of=of))
        else:
            box.empty()

    with place_reporter(show):  # this thread's (the session's script thread) while pulling
        yield from frames
