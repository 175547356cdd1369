"""Widgets shared by every page: sidebar settings, image and model pickers, the job gate, lessons.

Only ``dreamlab.ui`` imports streamlit. Every string shown comes from the catalogues (``t``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

import streamlit as st

from dreamlab.device import available_devices
from dreamlab.images import (
    DEFAULT_MAX_SIDE,
    ImageError,
    LoadedImage,
    load_image,
    sample_names,
    sample_path,
)
from dreamlab.jobs import JobGate, default_capacity, default_turns
from dreamlab.memory import release_memory
from dreamlab.models import LoadedModel, ModelError, list_models, load_model
from dreamlab.models.registry import download
from dreamlab.ui.i18n import LANGS, t

__all__ = [
    "advanced_controls",
    "cached_model",
    "device_choice",
    "error_line",
    "gated",
    "image_picker",
    "layer_select",
    "lesson",
    "model_picker",
    "presenting",
    "setup_sidebar",
    "shared_gate",
    "show_error",
]

T = TypeVar("T")

_PRESENTER_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 1.3rem; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; }
h1 { font-size: 3rem !important; }
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
    """Language switch, presenter mode and device picker, drawn on every page."""
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


def presenting() -> bool:
    """Whether presenter mode (large type, essential controls only) is on."""
    return bool(st.session_state.get("present", False))


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
    """The first line of an exception's message (one line for the user, never a traceback)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def show_error(exc: BaseException) -> None:
    """Show an error as one line."""
    st.error(error_line(exc), icon="⚠️")


@st.cache_data(show_spinner=False, max_entries=8)
def _sample(name: str, max_side: int) -> LoadedImage:
    return load_image(sample_path(name), max_side=max_side)


@st.cache_data(show_spinner=False, max_entries=16)
def _decode_upload(data: bytes, name: str, max_side: int) -> LoadedImage:
    return load_image(data, max_side=max_side, name=name)


def image_picker(
    key: str,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    label: str | None = None,
    default: str = "chelsea",
) -> LoadedImage | None:
    """A bundled sample or an upload; a bad upload shows one line and keeps the last good image."""
    samples = sample_names()
    choices = [*samples, "__upload__"]
    source = st.selectbox(
        label or t("common.image"), choices,
        index=samples.index(default) if default in samples else 0, key=f"{key}_source",
        format_func=lambda c: t("common.upload_own") if c == "__upload__" else t("common.sample", name=c),
    )  # fmt: skip
    last_key = f"{key}_last_image"
    if source != "__upload__":
        img = _sample(source, max_side)
        st.session_state[last_key] = img
        return img
    up = st.file_uploader(
        t("common.upload"), type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
        key=f"{key}_upload",
    )  # fmt: skip
    if up is not None:
        try:
            img = _decode_upload(up.getvalue(), up.name, max_side)
        except ImageError as exc:
            show_error(exc)
        else:
            if img.note:
                st.caption(t("common.downsized", note=img.note))
            st.session_state[last_key] = img
            return img
    return st.session_state.get(last_key)


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_model(
    name: str, device: str, weights_digest: str = "", _weights: bytes | None = None
) -> LoadedModel:
    """One frozen model per (model, device, weights) shared by every session (read-only)."""
    return load_model(name, device=device, weights=_weights)


def _status_label(info_status: str) -> str:
    return t(f"common.status_{info_status}")


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


def model_picker(key: str, *, default: str = "efficientnet_lite0") -> LoadedModel | None:
    """Pick a model (status shown), download or upload its weights, and load it (cached)."""
    infos = {i.name: i for i in list_models()}
    names = list(infos)
    name = st.selectbox(
        t("common.model"), names, index=names.index(default) if default in names else 0,
        key=f"{key}_model",
        format_func=lambda n: f"{infos[n].title} · {_status_label(infos[n].status)}",
    )  # fmt: skip
    info = infos[name]
    weights: bytes | None = None
    with st.expander(t("common.own_weights")):
        up = st.file_uploader(
            t("common.own_weights_help"), type=["pt", "pth"], key=f"{key}_weights"
        )
        if up is not None:
            weights = up.getvalue()
    if weights is None and info.status == "unavailable":
        st.warning(t("common.model_unavailable", title=info.title, reason=info.note))
        return None
    if weights is None and info.status == "downloadable":
        st.info(t("common.model_downloadable", title=info.title))
        if not st.button(t("common.download"), key=f"{key}_download"):
            return None
        if not _download_with_progress(name):
            return None
    digest = hashlib.sha256(weights).hexdigest() if weights else ""
    try:
        with st.spinner(t("common.loading_model", title=info.title)):
            model = cached_model(name, device_choice(), digest, weights)
    except (ModelError, ValueError) as exc:
        show_error(exc)
        return None
    if info.note and info.status == "embedded" and not weights:
        st.caption(info.note)
    return model


def layer_select(
    model: LoadedModel, key: str, *, default: str | None = None, label: str | None = None
) -> str:
    """A slider over the model's layers (dotted names, shallow to deep)."""
    layers = model.layers
    state_key = f"{key}_layer_{model.name}"
    if st.session_state.get(state_key) not in layers:
        st.session_state[state_key] = default if default in layers else model.default_layer
    return st.select_slider(label or t("common.layer"), options=layers, key=state_key)


@st.cache_resource(show_spinner=False)
def shared_gate() -> JobGate:
    """The one job gate of this server, shared by every browser session (seats, fair turns)."""
    device = "cuda" if "cuda" in available_devices() else "cpu"
    return JobGate(default_capacity(device), default_turns(device))


def gated(
    frames: Iterable[T], placeholder: st.delta_generator.DeltaGenerator | None = None
) -> Iterator[T]:
    """Pull ``frames`` once this session has a seat, one fair turn per frame; show its place in
    the queue meanwhile.

    The seat is given back when the loop ends, breaks, or Streamlit interrupts the run (Stop, or a
    closed tab: the next ``st`` call in the drawing loop raises, closing this generator).
    """
    gate = shared_gate()
    ticket = gate.enter()
    box = placeholder or st.empty()
    try:
        while not gate.wait_turn(ticket, timeout=0.25):
            box.info(t("common.queue", position=ticket.position, running=gate.running))
        box.empty()
        yield from gate.take_turns(ticket, frames)
    finally:
        gate.leave(ticket)
        release_memory()  # a heavy job just ended: hand its freed memory back
