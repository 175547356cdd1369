"""The "Live camera" page: the class sees its own faces through a kernel, a layer's maps, a dream.

The camera streams to the server over WebRTC (``streamlit-webrtc``); each frame is processed there by
:mod:`dreamlab.live` (the same convolution, feature maps and dream step as the other pages) and
sent back. Only the newest frame is processed (older ones are dropped, so latency never grows);
a stream holds one of the server's few live seats and a seat at the job gate while it runs.

Where no live connection can be made (no ``streamlit-webrtc``, a connection that never comes up,
or snapshots asked for with ``?live=snapshots`` / ``DREAMLAB_LIVE=snapshots``) the page takes
snapshots with ``st.camera_input`` instead, in the same three modes, and says why in one line.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import numpy as np
import streamlit as st

from dreamlab.convolution import PRESETS, KernelError, parse_kernel, preset_kernel
from dreamlab.images import ImageError, load_image
from dreamlab.live import (
    MODES,
    ArrivalClock,
    ConvolutionSettings,
    DreamSettings,
    LiveStream,
    MapsSettings,
    Processor,
    StreamRegistry,
    fit_side,
    make_processor,
)
from dreamlab.models import LoadedModel
from dreamlab.ui import query
from dreamlab.ui.i18n import num, t
from dreamlab.ui.parts.gate import gated, shared_gate
from dreamlab.ui.parts.layout import advanced_controls, error_line, lesson, page_columns, show_error
from dreamlab.ui.parts.model_picker import layer_select, model_key, model_picker
from dreamlab.ui.settings import (
    CONV_VIEWS,
    CUSTOM_KERNEL,
    LIVE_KERNEL_SIZES,
    LiveSettings,
    decode_kernel,
)

__all__ = ["render"]

_CUSTOM = CUSTOM_KERNEL
_CUSTOM_TEXT = "[[-1, -1, -1], [0, 0, 0], [1, 1, 1]]"  # the custom kernel's text at first
_LAYER_DEFAULTS = "live_layer_defaults"  # session key: layer widget key -> the page's default
_STREAM = "live_stream"  # this session's LiveStream
_FAILED = "live_failed"  # the live connection did not come up: snapshots from now on
_CONNECTING = "live_connecting_since"
_CONNECT_TIMEOUT_S = 45.0  # not playing after this long: a failed connection (ICE gives up ~30 s)
_SNAPSHOT = "live_snapshot_processor"  # (key, processor) of the snapshot mode: the dream carries on
_CAMERA = {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30}}


@st.cache_resource(show_spinner=False)
def _registry() -> StreamRegistry:
    """The live streams of this server (shared by every session): at most a few at once."""
    return StreamRegistry()


def _stream() -> LiveStream:
    """This browser session's stream (its seats, settings and measures)."""
    stream = st.session_state.get(_STREAM)
    if stream is None:
        stream = st.session_state[_STREAM] = LiveStream(_registry(), shared_gate())
    return stream


# ---------------------------------------------------------------- controls


def _kernel() -> np.ndarray | None:
    """A preset (with its size) or a custom kernel typed as rows; None (and one line) if bad."""
    preset = st.selectbox(
        t("convolution.kernel"),
        [*PRESETS, _CUSTOM],
        format_func=lambda n: t(f"convolution.preset.{n}"),
        key="live_preset",
    )
    if preset == _CUSTOM:
        text = st.text_input(
            t("live_camera.custom"), key="live_custom", help=t("live_camera.custom_help")
        )
        try:
            return parse_kernel(text)
        except KernelError as exc:
            show_error(exc)
            return None
    size = 3
    if PRESETS[preset].sized:
        size = st.select_slider(
            t("convolution.size"),
            options=LIVE_KERNEL_SIZES,
            key="live_size",
            format_func=lambda k: f"{k}×{k}",
        )
    return preset_kernel(preset, size)


def _radio(label_key: str, options: tuple[str, ...], prefix: str, key: str) -> str:
    return st.radio(
        t(label_key),
        options,
        horizontal=True,
        key=key,
        format_func=lambda o: t(f"{prefix}{o}"),
    )


def _convolution_settings() -> ConvolutionSettings | None:
    kernel = _kernel()
    color = _radio("convolution.color", ("gray", "rgb"), "convolution.color_", "live_color")
    with advanced_controls():
        c1, c2 = st.columns(2)
        stride = c1.slider(t("convolution.stride"), 1, 4, key="live_stride")
        dilation = c2.slider(t("convolution.dilation"), 1, 4, key="live_dilation")
        view = _radio("convolution.view", CONV_VIEWS, "convolution.view_", "live_view")
    if kernel is None:
        return None
    return ConvolutionSettings.of(kernel, stride=stride, dilation=dilation, color=color, view=view)


def _maps_settings(model: LoadedModel) -> MapsSettings:
    layer = _layer(model, "live_fm", model.layers[min(4, len(model.layers) - 1)])
    with advanced_controls():
        count = st.slider(t("live_camera.count"), 2, 12, step=1, key="live_count")
    return MapsSettings(layer=layer, count=count, cols=3 if count <= 9 else 4)


def _dream_settings(model: LoadedModel) -> DreamSettings:
    layer = _layer(model, "live_dream", model.default_layer)
    steps = st.slider(
        t("live_camera.steps"), 1, 6, step=1, key="live_steps", help=t("live_camera.steps_help")
    )
    with advanced_controls():
        carry = _carry_slider()
    return DreamSettings(layer=layer, steps=steps, carry=carry)


def _layer(model: LoadedModel, key: str, default: str) -> str:
    """The layer slider; its default is kept, so that the address leaves it out."""
    st.session_state.setdefault(_LAYER_DEFAULTS, {})[f"{key}_layer_{model.name}"] = default
    return layer_select(model, key, default=default)


def _carry_slider() -> float:
    return st.slider(
        t("live_camera.carry"),
        0.0,
        0.95,
        step=0.05,
        key="live_carry",
        help=t("live_camera.carry_help"),
    )


def _controls(mode: str) -> tuple[object, Callable[[], Processor]] | None:
    """The mode's settings as (a key that changes when they do, a processor maker), or None."""
    if mode == "convolution":
        settings = _convolution_settings()
        if settings is None:
            return None
        return settings, lambda: make_processor(settings)
    model = model_picker("live")
    if model is None:
        return None
    settings = _maps_settings(model) if mode == "feature_maps" else _dream_settings(model)
    return (settings, model_key(model)), lambda: make_processor(settings, model)


# ---------------------------------------------------------------- the address


def _rows_text(weights: tuple[tuple[float, ...], ...]) -> str:
    """A kernel as the custom field shows it: ``[[-1, 0, 1], ...]``."""
    rows = (", ".join(format(v, "g") for v in row) for row in weights)
    return "[" + ", ".join(f"[{row}]" for row in rows) + "]"


_CUSTOM_WEIGHTS = decode_kernel("-1,-1,-1;0,0,0;1,1,1")  # _CUSTOM_TEXT's


def _custom_weights(text: object, kept: tuple | None) -> tuple[tuple[float, ...], ...] | None:
    """The custom kernel for the address: its weights (None: the page's own), or ``kept`` when
    the text does not parse. A kernel the address cannot hold (per channel, not square, larger
    than 11) is left out: the link gives the page's own."""
    try:
        kernel = parse_kernel(str(text))
    except KernelError:
        return kept
    side = kernel.shape[0]
    if kernel.ndim != 2 or kernel.shape[1] != side or side % 2 == 0 or side > 11:
        return None
    weights = tuple(tuple(float(v) for v in row) for row in kernel.tolist())
    return None if weights == _CUSTOM_WEIGHTS else weights


def _seed_custom(settings: LiveSettings) -> None:
    """The custom kernel's text (no one widget holds the settings' weights as they travel)."""
    if query.forced("live_camera") or "live_custom" not in st.session_state:
        weights = settings.weights
        st.session_state["live_custom"] = _rows_text(weights) if weights else _CUSTOM_TEXT


def _layer_setting(key: str) -> str | None:
    """A layer slider's value, None when it is the page's default (or not drawn this run)."""
    layer = st.session_state.get(key)
    return None if layer == st.session_state.get(_LAYER_DEFAULTS, {}).get(key) else layer


def _save(settings: LiveSettings) -> LiveSettings:
    """The page's settings as its widgets hold them now, into the address (and Copy link)."""
    ss = st.session_state
    model = str(ss.get("live_model", settings.model))
    kernel = str(ss.get("live_preset", settings.kernel))
    custom = kernel == _CUSTOM
    settings = LiveSettings(
        mode=str(ss.get("live_mode", settings.mode)),
        kernel=kernel,
        size=int(ss.get("live_size", settings.size)),
        weights=_custom_weights(ss.get("live_custom"), settings.weights) if custom else None,
        color=str(ss.get("live_color", settings.color)),
        stride=int(ss.get("live_stride", settings.stride)),
        dilation=int(ss.get("live_dilation", settings.dilation)),
        view=str(ss.get("live_view", settings.view)),
        model=model,
        maps_layer=_layer_setting(f"live_fm_layer_{model}"),
        count=int(ss.get("live_count", settings.count)),
        dream_layer=_layer_setting(f"live_dream_layer_{model}"),
        steps=int(ss.get("live_steps", settings.steps)),
        carry=round(float(ss.get("live_carry", settings.carry)), 2),
        live=settings.live,
    )
    query.save("live_camera", settings)
    query.copy_link(settings)
    return settings


# ---------------------------------------------------------------- where the camera comes from


def _webrtc() -> Any | None:
    """The ``streamlit_webrtc`` module, or None where it is not installed."""
    try:
        import streamlit_webrtc
    except ImportError:
        return None
    return streamlit_webrtc


def _has_session() -> bool:
    """Whether this run has a browser session on a Streamlit server (WebRTC signals through it;
    a headless run, such as AppTest's, has none)."""
    from streamlit_webrtc.session_info import get_this_session_info

    try:
        return get_this_session_info() is not None
    except AttributeError:  # AppTest's stand-in runtime has no session manager
        return False


def _snapshot_reason(live: str = "auto") -> str | None:
    """Why this page takes snapshots instead of live video (a catalogue key's end), or None.

    ``live``: the address's choice (``?live=snapshots``), else ``DREAMLAB_LIVE``.
    """
    asked = live if live != "auto" else os.environ.get("DREAMLAB_LIVE", "").lower()
    if asked in ("snapshots", "off", "0"):
        return "chosen"
    if _webrtc() is None:
        return "missing"
    if not _has_session():
        return "no_session"
    if st.session_state.get(_FAILED):
        return "failed"
    return None


def _ice_servers() -> list[dict[str, Any]]:
    """STUN/TURN servers: ``[webrtc] ice_servers`` in the app's secrets, else the JSON list in
    ``DREAMLAB_ICE_SERVERS``, else none (enough on localhost and on one classroom network)."""
    try:
        servers = st.secrets.get("webrtc", {}).get("ice_servers")
    except (FileNotFoundError, KeyError, AttributeError):  # no secrets file: none configured
        servers = None
    if servers is None:
        text = os.environ.get("DREAMLAB_ICE_SERVERS", "").strip()
        try:
            servers = json.loads(text) if text else []
        except json.JSONDecodeError as exc:
            st.warning(t("live_camera.bad_ice_servers", reason=exc.msg))
            return []
    try:
        return [dict(s) for s in servers]
    except (TypeError, ValueError):
        st.warning(t("live_camera.bad_ice_servers", reason=type(servers).__name__))
        return []


def _translations() -> dict[str, str]:
    keys = (
        "start",
        "stop",
        "select_device",
        "device_access_denied",
        "device_not_available",
        "media_api_not_available",
    )
    return {k: t(f"live_camera.webrtc_{k}") for k in keys}


def _insecure() -> bool:
    """Whether the browser will refuse the camera: plain HTTP to a host other than this machine."""
    url = urlparse(str(getattr(st.context, "url", "") or ""))
    local = url.hostname in (None, "", "localhost", "127.0.0.1", "::1")
    return url.scheme == "http" and not local


def _callback(stream: LiveStream) -> Callable[[list], Any]:
    """The video thread's callback: the newest frame processed at about 320 px, the rest dropped."""
    import av

    clock = ArrivalClock()

    async def newest(frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        frame = frames[-1]  # older frames are dropped: latency never grows
        arrived = clock.arrival(frame.time or 0.0, time.monotonic())
        scale = min(1.0, 320 / max(frame.width, frame.height))
        w, h = round(frame.width * scale) // 2 * 2, round(frame.height * scale) // 2 * 2
        image = frame.to_ndarray(format="rgb24", width=w, height=h)  # (h, w, 3) uint8
        out = stream.process(image, arrived)
        out = out[: out.shape[0] // 2 * 2, : out.shape[1] // 2 * 2]  # the encoder wants even sides
        return [av.VideoFrame.from_ndarray(np.ascontiguousarray(out), format="rgb24")]

    return newest


def _live(stream: LiveStream) -> None:
    """The camera, streamed; the measures and the server's state under it."""
    webrtc = _webrtc()
    assert webrtc is not None
    if _insecure():
        st.warning(t("live_camera.insecure"))
    ctx = webrtc.webrtc_streamer(
        key="live_camera",
        mode=webrtc.WebRtcMode.SENDRECV,
        rtc_configuration={"iceServers": _ice_servers()},
        media_stream_constraints={"video": _CAMERA, "audio": False},
        queued_video_frames_callback=_callback(stream),
        on_video_ended=stream.end,
        async_processing=True,
        translations=_translations(),
    )
    if ctx.state.signalling and not ctx.state.playing:
        st.session_state.setdefault(_CONNECTING, time.monotonic())
    else:
        st.session_state.pop(_CONNECTING, None)
    _measures(stream)


@st.fragment(run_every=1.0)
def _measures(stream: LiveStream) -> None:
    """Frames per second and latency, the server's live streams, and why a stream waits."""
    registry = _registry()
    lat = stream.stats.latency()
    st.markdown(
        t(
            "live_camera.measures",
            fps=num(stream.stats.fps(), ".1f"),
            ms="–" if lat is None else num(1000 * lat, ".0f"),
            frames=stream.stats.total,
        )
    )
    st.caption(t("live_camera.streams", n=registry.active(), cap=registry.cap))
    state = stream.status.state
    if state == "full":
        st.warning(t("live_camera.full", cap=registry.cap), icon="⏳")
    elif state == "waiting":
        st.info(t("live_camera.waiting"))
    elif state == "error" and stream.status.error is not None:
        st.error(error_line(stream.status.error), icon="⚠️")
    since = st.session_state.get(_CONNECTING)
    if since is not None and time.monotonic() - since > _connect_timeout():
        st.session_state[_FAILED] = True
        st.session_state.pop(_CONNECTING, None)
        st.rerun(scope="app")


def _connect_timeout() -> float:
    """Seconds a connection may take: ``DREAMLAB_LIVE_CONNECT_TIMEOUT`` (a slow, busy server),
    else :data:`_CONNECT_TIMEOUT_S`."""
    try:
        return float(os.environ.get("DREAMLAB_LIVE_CONNECT_TIMEOUT", "")) or _CONNECT_TIMEOUT_S
    except ValueError:
        return _CONNECT_TIMEOUT_S


def _snapshot_processor(key: object, build: Callable[[], Processor]) -> Processor:
    """The snapshot mode's processor, kept while the settings stay (a dream carries on)."""
    kept = st.session_state.get(_SNAPSHOT)
    if kept is None or kept[0] != key:
        kept = st.session_state[_SNAPSHOT] = (key, build())
    return kept[1]


def _snapshots(reason: str, key: object, build: Callable[[], Processor]) -> None:
    """The fallback: one photo at a time through the same mode, through the job gate."""
    st.info(t(f"live_camera.fallback_{reason}"))
    if reason == "failed":  # the callback runs before the next run: that run tries live again
        st.button(
            t("live_camera.retry"),
            key="live_retry",
            on_click=st.session_state.pop,
            args=(_FAILED, None),
        )
    shot = st.camera_input(t("live_camera.snapshot"), key="live_snapshot")
    if shot is None:
        return
    try:
        image = fit_side(load_image(shot.getvalue(), max_side=None, name="camera").array)
        processor = _snapshot_processor(key, build)
        began = time.monotonic()
        (out,) = list(gated(processor(image) for _ in range(1)))  # one turn; the seat given back
    except (ImageError, ValueError, RuntimeError) as exc:
        show_error(exc)
        return
    seconds = max(time.monotonic() - began, 1e-6)
    st.image(out, width="stretch")
    st.markdown(
        t(
            "live_camera.snapshot_measures",
            fps=num(1 / seconds, ".1f"),
            ms=num(1000 * seconds, ".0f"),
        )
    )


# ---------------------------------------------------------------- the page


def render() -> None:
    """Draw the page."""
    st.title(t("live_camera.title"))
    settings = query.load("live_camera", LiveSettings)
    _seed_custom(settings)
    st.caption(t("live_camera.intro"))
    lesson("live_camera")
    controls, view = page_columns([1, 2])
    with controls:
        mode = st.radio(
            t("live_camera.mode"),
            MODES,
            horizontal=True,
            key="live_mode",
            format_func=lambda m: t(f"live_camera.mode_{m}"),
        )
        chosen = _controls(mode)
        settings = _save(settings)
    with view:
        st.caption(t(f"live_camera.about_{mode}"))
        if chosen is None:
            return
        key, build = chosen
        reason = _snapshot_reason(settings.live)
        if reason is not None:
            _snapshots(reason, key, build)
            return
        stream = _stream()
        try:
            stream.configure(key, build)
        except ValueError as exc:  # a layer the model lacks, for instance
            show_error(exc)
            return
        _live(stream)
