"""Class broadcast on the DeepDream page: **Share with the class**, and the viewer of ``?class=CODE``.

The teacher's session publishes its drawn frames, at most ~4 per second and encoded once as JPEG,
into one :class:`~dreamlab.runtime.broadcast.BroadcastStore` shared by every session of the server. A
viewer's page is a fragment that redraws the stored bytes in place each time the store has a newer
frame (it waits on the store, no polling loop of script runs): viewers cost the server a small
redraw per new frame, never a dream or an encode. **Dream with these settings** copies the teacher's settings into the
viewer's own DeepDream form and leaves viewer mode.

The DeepDream page calls four functions: :func:`watching` at the top of ``render``,
:func:`share_controls` near the Dream button, :func:`publish` per drawn frame and :func:`end` when
the dream stops. Everything else about the broadcast lives here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
import streamlit as st

from dreamlab.images import sample_names
from dreamlab.media import jpeg_bytes
from dreamlab.runtime.broadcast import BroadcastStore, ClassCodeError, ClassFrame, normalize_code
from dreamlab.ui import query
from dreamlab.ui.i18n import t
from dreamlab.ui.query import qr_png
from dreamlab.ui.settings import CLASS_SOURCE, dream_from_params
from dreamlab.ui.theme import presenting

__all__ = ["class_store", "end", "publish", "share_controls", "watching"]

PARAM = "class"  # the query parameter of a class link
_CODE = "cls_code"  # session key: the code this (teacher's) session shares, if any
_PUBLISHED = "cls_published"  # session key: time.monotonic() of the last frame published
_LOADED = "cls_loaded"  # session key: the code whose settings were just loaded (one notice)
_PHOTO_SENT = "cls_photo_sent"  # session key: (code, id) of the photo last shared with the class
TEACHER_IMAGE = "dd_last_image"  # session key: the DeepDream page's picture (widgets.image_picker)
CLASS_PHOTO = (
    "dd_class_photo"  # session key: the teacher's photo taken by Dream with these settings
)
_PUBLISH_EVERY_S = 0.25  # at most ~4 frames/s to the class: smooth enough, cheap for 30 viewers
_POLL_S = 2.0  # the viewer's fragment starts again this long after a run ended
# One viewer run redraws frames in place for this long (see _watch): each run's end costs the
# server a full garbage collection (Streamlit's postScriptGC), so runs are long.
_WATCH_S = 600.0
_WAIT_S = 0.5  # it waits this long at most for a newer frame (a click waits as long)


@st.cache_resource(show_spinner=False)
def class_store() -> BroadcastStore:
    """The one broadcast store of this server, shared by every browser session."""
    return BroadcastStore()


# ---------------------------------------------------------------- the teacher


def share_controls() -> None:
    """**Share with the class**; once pressed, the code, the link and its QR code, and a stop."""
    store = class_store()
    code = st.session_state.get(_CODE)
    if code and not store.is_live(code):
        st.session_state.pop(_CODE, None)
        st.caption(t("classroom.share_expired"))
        code = None
    if code is None:
        if not st.button(
            t("classroom.share"),
            key="cls_share",
            icon=":material/cast:",
            help=t("classroom.share_help"),
            width="stretch",
        ):
            return
        code = st.session_state[_CODE] = store.create()
    link = _class_link(code)
    with st.container(border=True):
        st.markdown(t("classroom.code", code=code))
        st.code(link, language=None)
        qr = qr_png(link)
        if qr is not None:
            st.image(
                qr,
                width=260 if presenting() else 180,
                caption=t("classroom.qr_caption"),
                output_format="PNG",
            )  # sharp modules: never re-encoded as JPEG
        hours = max(store.remaining_s(code), 0.0) / 3600
        st.caption(t("classroom.validity", hours=f"{hours:.1f}"))
        st.button(
            t("classroom.stop_sharing"),
            key="cls_stop",
            on_click=_stop_sharing,
            icon=":material/cancel_presentation:",
        )


def _stop_sharing() -> None:
    code = st.session_state.pop(_CODE, None)
    if code:
        class_store().close(code)


def _class_link(code: str) -> str:
    """This page's URL with ``?class=CODE`` (and ``lang`` when not English)."""
    query = {PARAM: code}
    if st.session_state.get("lang", "en") != "en":
        query["lang"] = st.session_state["lang"]
    url = st.context.url or ""  # None outside a browser (AppTest): a relative link then
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def publish(
    image: np.ndarray,
    maps: np.ndarray | None,
    progress: float,
    text: str,
    settings: Mapping[str, Any],
) -> None:
    """Send a drawn frame to the class when this session shares (at most ~4 frames/s, last always)."""
    code = st.session_state.get(_CODE)
    if code is None:
        return
    now = time.monotonic()
    if progress < 1.0 and now - st.session_state.get(_PUBLISHED, 0.0) < _PUBLISH_EVERY_S:
        return
    st.session_state[_PUBLISHED] = now
    encoded = jpeg_bytes(image), None if maps is None else jpeg_bytes(maps)
    try:
        _share_photo(code, settings)
        class_store().publish(code, *encoded, progress=progress, text=text, settings=settings)
    except ClassCodeError:  # expired or stopped: the share controls say so on the next run
        st.session_state.pop(_CODE, None)


def _share_photo(code: str, settings: Mapping[str, Any]) -> None:
    """Once per photo: the teacher's own upload goes to the class with the frames (a sample or
    noise needs nothing: its name is in the settings)."""
    source = settings.get("source")
    own = source not in (None, "noise") and _sample_of(source) is None
    picture = st.session_state.get(TEACHER_IMAGE) if own else None
    sent = (code, id(picture))
    if st.session_state.get(_PHOTO_SENT) == sent:
        return
    photo = None if picture is None else jpeg_bytes(picture.array, quality=92)
    with contextlib.suppress(ValueError):  # over the store's bound: the class gets the settings
        class_store().set_photo(code, photo)
    st.session_state[_PHOTO_SENT] = sent


def end(finished: bool) -> None:
    """Tell the class the dream finished or was stopped (safe inside a ``finally``: no drawing)."""
    code = st.session_state.get(_CODE)
    if code is None:
        return
    try:
        class_store().mark(code, "finished" if finished else "stopped")
    except ClassCodeError:
        st.session_state.pop(_CODE, None)


# ---------------------------------------------------------------- the viewer


def watching() -> bool:
    """Draw the viewer if the URL has a live ``?class=CODE``; True if it did (the page is done).

    **Dream with these settings** makes the teacher's settings this session's typed
    :class:`~dreamlab.ui.settings.DreamSettings`. A wrong or expired code gives one line, and False.
    """
    loaded = st.session_state.pop(_LOADED, None)
    if loaded:
        st.success(t("classroom.loaded", code=loaded), icon=":material/tune:")
    raw = st.query_params.get(PARAM)
    if raw is None:
        return False
    try:
        code = normalize_code(raw)
        class_store().latest(code)  # raises if unknown or expired
    except ClassCodeError:
        st.error(t("classroom.bad_code", code=raw.strip()[:12]), icon="⚠️")
        return False
    st.title(t("deepdream.title"))
    st.caption(t("classroom.watching", code=code))
    st.button(
        t("classroom.dream_these"),
        key="cls_adopt",
        type="primary",
        on_click=_adopt,
        args=(code,),
        icon=":material/cyclone:",
        help=t("classroom.dream_these_help"),
    )
    _watch(code)
    return True


@st.fragment(run_every=_POLL_S)
def _watch(code: str) -> None:
    """The teacher's latest frame, redrawn in place whenever the store has a newer one.

    One fragment run loops for up to ``_WATCH_S`` seconds, so a viewer costs the server one small
    redraw per new frame, not a script run (each run ends with Streamlit's full garbage
    collection, a tenth of a second or more with torch loaded); ``run_every`` then starts the next.
    The layout is drawn once per run and a new frame only refills its slots; the pictures travel
    as the frame's ``data:`` URIs, made once for the whole class, so a viewer's redraw is a few
    small messages with no media file and no extra request. The status line is drawn only when
    it changes; every pass reads the session state, which is where a click (a rerun) takes over.
    """
    store = class_store()
    status, view = st.empty(), _View()
    deadline = time.monotonic() + _WATCH_S
    shown, settings, line = 0, None, None
    while True:
        try:
            frame = store.latest(code)
        except ClassCodeError:
            status.warning(t("classroom.ended"), icon=":material/timer_off:")
            view.clear()
            return
        if (state := _state(frame)) != line:  # drawn on a change: an idle class costs ~nothing
            line = state
            _status(status, frame)
        if frame is not None and frame.seq != shown:
            view.draw(frame, redraw_settings=frame.settings != settings)
            shown, settings = frame.seq, frame.settings
        if time.monotonic() >= deadline:
            return
        # reading the session state is where a click (a rerun) stops this loop, with no message
        _ = _CODE in st.session_state
        with contextlib.suppress(ClassCodeError):  # ended meanwhile: the next pass says so
            store.wait_newer(code, shown, _WAIT_S)


def _state(frame: ClassFrame | None) -> str:
    """The status line's case: waiting for a first frame, or the frame's state."""
    return "waiting" if frame is None else frame.state


def _status(box: Any, frame: ClassFrame | None) -> None:
    """The state of the teacher's dream, in one line."""
    if frame is None:
        box.info(t("classroom.waiting"), icon=":material/hourglass_top:")
    elif frame.state == "finished":
        box.success(t("classroom.finished"), icon=":material/check_circle:")
    elif frame.state == "stopped":
        box.warning(t("classroom.stopped"), icon=":material/pause_circle:")
    else:
        box.caption(t("classroom.live"))


class _View:
    """The viewer's slots (progress, dream, maps, settings), laid out once, refilled per frame."""

    def __init__(self) -> None:
        self.slot = st.empty()
        root = self.slot.container()
        self.bar = root.empty()
        left, right = root.columns(2)
        self.image, self.maps = left.empty(), right.empty()
        self.settings = root.empty()

    def draw(self, frame: ClassFrame, *, redraw_settings: bool) -> None:
        """One stored frame: its progress, pictures (as stored, never re-encoded) and settings."""
        self.bar.progress(frame.progress, text=frame.text)
        self.image.image(frame.image_uri, width="stretch", caption=t("classroom.frame_caption"))
        if frame.maps_uri is None:
            self.maps.empty()
        else:
            self.maps.image(frame.maps_uri, width="stretch", caption=t("classroom.maps_caption"))
        if redraw_settings:
            self.settings.caption(_settings_line(frame.settings))

    def clear(self) -> None:
        """The class ended: nothing left to show."""
        self.slot.empty()


def _settings_line(settings: Mapping[str, Any]) -> str:
    """The settings that made the dream, as one line of "label: value"."""
    cfg = settings.get("config", {})
    items = [
        (t("common.model"), settings.get("model")),
        (t("common.layer"), cfg.get("layer")),
        (t("deepdream.octaves"), cfg.get("num_octaves")),
        (t("deepdream.iterations"), cfg.get("iterations")),
        (t("deepdream.lr"), cfg.get("lr")),
        (t("deepdream.octave_scale"), cfg.get("octave_scale")),
        (t("deepdream.jitter"), cfg.get("jitter")),
        (t("deepdream.max_side"), cfg.get("max_side")),
        (t("deepdream.seed"), cfg.get("seed")),
        (t("common.image"), settings.get("source")),
    ]
    shown = " · ".join(f"{label}: {value}" for label, value in items if value is not None)
    return f"{t('classroom.settings')}: {shown}" if shown else ""


def _adopt(code: str) -> None:
    """Copy the teacher's settings into this session's DeepDream settings, and leave viewer mode."""
    st.query_params.pop(PARAM, None)
    try:
        frame = class_store().latest(code)
    except ClassCodeError:
        return
    if frame is None:
        return
    settings = dream_from_params(frame.settings)
    photo = class_store().photo(code)
    if photo is not None:  # the teacher's own photo: the picker offers it, selected
        st.session_state[CLASS_PHOTO] = photo
        settings = replace(settings, image=CLASS_SOURCE)
    query.adopt("deepdream", settings)
    st.session_state[_LOADED] = code


def _sample_of(source: object) -> str | None:
    """The bundled sample a dream's ``source`` names (``chelsea`` or its file ``chelsea.png``)."""
    name = str(source or "")
    stem = name.rsplit(".", 1)[0]
    samples = sample_names()
    return name if name in samples else stem if stem in samples else None
