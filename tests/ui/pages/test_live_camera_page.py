"""The Live camera page through AppTest: the live view renders, and the snapshot fallback works in
every mode, saying why in one line."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from dreamlab.images import load_sample
from dreamlab.ui.i18n import translate
from dreamlab.ui.pages import live_camera
from tests.ui.conftest import assert_clean, page_app


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(load_sample("chelsea", max_side=640)).save(buf, format="JPEG")
    return buf.getvalue()


def _texts(at) -> list[str]:
    return [m.value for m in at.markdown] + [i.value for i in at.info]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_without_a_server_session_the_page_says_why_and_takes_snapshots(lang: str) -> None:
    at = page_app("live_camera", lang=lang).run()  # AppTest: no browser session to signal through
    assert_clean(at)
    assert at.title[0].value == translate(lang, "live_camera.title")
    assert at.radio(key="live_mode").options == [
        translate(lang, f"live_camera.mode_{m}") for m in ("convolution", "feature_maps", "dream")
    ]
    assert translate(lang, "live_camera.fallback_no_session") in _texts(at)
    assert len(at.camera_input) == 1 and len(at.get("component_instance")) == 0


@pytest.mark.parametrize("mode", ["convolution", "feature_maps", "dream"])
def test_snapshot_fallback_runs_each_mode(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMLAB_LIVE", "snapshots")
    at = page_app("live_camera").run()
    at.radio(key="live_mode").set_value(mode).run()
    assert_clean(at)
    assert translate("en", "live_camera.fallback_chosen") in _texts(at)
    assert len(at.get("component_instance")) == 0  # no WebRTC: st.camera_input instead
    assert len(at.get("image")) == 0
    at.camera_input(key="live_snapshot").set_value(("shot.jpg", _jpeg(), "image/jpeg")).run()
    assert_clean(at)
    assert len(at.get("image")) == 1, "the processed snapshot is shown"
    assert any("ms" in m.value and "**" in m.value for m in at.markdown), _texts(at)


def test_without_streamlit_webrtc_the_page_says_why_and_takes_snapshots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_camera, "_webrtc", lambda: None)
    at = page_app("live_camera", lang="fr").run()
    assert_clean(at)
    assert translate("fr", "live_camera.fallback_missing") in _texts(at)
    assert len(at.camera_input) == 1


def test_a_failed_connection_falls_back_with_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_camera, "_has_session", lambda: True)
    at = page_app("live_camera")
    at.session_state["live_failed"] = True
    at.run()
    assert_clean(at)
    assert translate("en", "live_camera.fallback_failed") in _texts(at)
    monkeypatch.setattr(live_camera, "_has_session", lambda: False)
    at.button(key="live_retry").click().run()
    assert_clean(at)
    assert "live_failed" not in at.session_state  # live is tried again
    assert translate("en", "live_camera.fallback_no_session") in _texts(at)


def test_snapshots_asked_in_the_query(monkeypatch: pytest.MonkeyPatch) -> None:
    at = page_app("live_camera")
    at.query_params["live"] = "snapshots"
    at.run()
    assert translate("en", "live_camera.fallback_chosen") in _texts(at)


def test_a_bad_custom_kernel_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMLAB_LIVE", "snapshots")
    at = page_app("live_camera").run()
    at.selectbox(key="live_preset").set_value("custom").run()
    at.text_input(key="live_custom").input("[[1, 2], [3]]").run()
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert len(at.camera_input) == 0  # nothing to run until the kernel is fixed


def test_a_bad_snapshot_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMLAB_LIVE", "snapshots")
    at = page_app("live_camera").run()
    data = np.zeros(10, np.uint8).tobytes()
    at.camera_input(key="live_snapshot").set_value(("shot.jpg", data, "image/jpeg")).run()
    assert not at.exception
    assert len(at.error) == 1


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://localhost:8501/live-camera", False),
        ("http://127.0.0.1:8501/live-camera", False),
        ("https://class.example.org/live-camera", False),
        ("http://192.168.1.20:8501/live-camera", True),
    ],
)
def test_plain_http_to_another_machine_is_where_browsers_refuse_the_camera(
    url: str, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Context:
        pass

    ctx = Context()
    ctx.url = url
    monkeypatch.setattr(live_camera.st, "context", ctx)
    assert live_camera._insecure() is refused


def test_the_connection_timeout_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DREAMLAB_LIVE_CONNECT_TIMEOUT", raising=False)
    assert live_camera._connect_timeout() == 45.0
    monkeypatch.setenv("DREAMLAB_LIVE_CONNECT_TIMEOUT", "600")
    assert live_camera._connect_timeout() == 600.0
    monkeypatch.setenv("DREAMLAB_LIVE_CONNECT_TIMEOUT", "soon")
    assert live_camera._connect_timeout() == 45.0


def test_ice_servers_come_from_the_environment_and_a_bad_list_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    turn = [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}]
    monkeypatch.setenv("DREAMLAB_ICE_SERVERS", json.dumps(turn))
    assert live_camera._ice_servers() == turn
    monkeypatch.setenv("DREAMLAB_ICE_SERVERS", "[{")
    warned = []
    monkeypatch.setattr(live_camera.st, "warning", warned.append)
    assert live_camera._ice_servers() == []
    assert len(warned) == 1 and "\n" not in warned[0]
