"""The image pickers: a bundled sample, an upload or the class's photo, and a clickable picture."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from dreamlab.images import (
    DEFAULT_MAX_SIDE,
    ImageError,
    LoadedImage,
    load_image,
    sample_names,
    sample_path,
)
from dreamlab.runtime.budget import track
from dreamlab.ui.i18n import t
from dreamlab.ui.parts.layout import show_error
from dreamlab.ui.settings import CLASS_SOURCE

__all__ = ["UPLOAD_TYPES", "clickable_image", "downsized_note", "image_picker"]

# What the uploader accepts: every format images.load_image reads (the label lists them too).
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff")


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


def downsized_note(img: LoadedImage) -> str:
    """ "Downsized from W x H to w x h", in the session's language (sizes are width x height)."""
    w0, h0 = img.original_size or img.size
    w, h = img.size
    return t("common.downsized_from", w0=w0, h0=h0, w=w, h=h, side=max(w, h))
