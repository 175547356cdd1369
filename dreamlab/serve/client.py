"""The HTTP client of ``dreamlab serve``: a remote job is one more iterator of the same frames.

Standard library only (``http.client``): an app on Streamlit Community Cloud talks to a GPU
backend without installing Ray. Each call checks the request at the service before it returns
(a bad image, an unknown layer, a request over the caps: the service's one line, raised here as
a :class:`~dreamlab.errors.DreamLabError` with the same kind), exactly when the local call would.
An unreachable backend is one line saying so (:class:`BackendUnreachable`). Closing a run (or
dropping it) closes the connection, and the service stops the job (or frees its queue place).
While a job waits for a seat, its place is handed to :func:`dreamlab.serve.places.report_place`.
Each request says who sends it (``X-DreamLab-Client``: the front end or process;
``X-DreamLab-Session``: the browser session) and carries the token, if any, as
``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import torch

from dreamlab.dream.engine import DreamRun
from dreamlab.dream.frames import DreamFrame
from dreamlab.errors import DreamLabError
from dreamlab.serve.places import report_place
from dreamlab.serve.wire import Message, frame_from, plan_from, read_message, vis_from

__all__ = [
    "BackendClient",
    "BackendUnreachable",
    "RemoteDreamRun",
    "RemoteFrames",
    "image_b64",
    "png_b64",
]

_CONNECT_TIMEOUT_S = 10.0
_READ_TIMEOUT_S = 600.0  # a queued job may wait for its turn


class BackendUnreachable(DreamLabError):
    """No DreamLab backend answers at the URL."""


def png_b64(image: np.ndarray) -> str:
    """An ``H x W x 3`` uint8 image as base64 PNG (lossless: the service sees the same pixels)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=1)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def image_b64(image: Any) -> str:
    """Any image the Python API takes, as base64: arrays and PIL images as PNG, files as they are
    (the service decodes and checks them as :func:`dreamlab.images.load_image` does here)."""
    from pathlib import Path

    from PIL import Image

    if isinstance(image, np.ndarray):
        return png_b64(image)
    if isinstance(image, Image.Image):
        return png_b64(np.asarray(image.convert("RGB")))
    if isinstance(image, bytes):
        return base64.b64encode(image).decode("ascii")
    if isinstance(image, str | Path):
        try:
            return base64.b64encode(Path(image).read_bytes()).decode("ascii")
        except OSError as exc:
            raise DreamLabError(
                f"{Path(image).name}: cannot read the file ({exc.strerror})"
            ) from None
    if hasattr(image, "read"):
        return base64.b64encode(image.read()).decode("ascii")
    raise DreamLabError(f"expected an image (array, PIL image, file) or 'noise', got {image!r}")


def _waited(messages: Iterator[Message]) -> Iterator[Message]:
    """The messages, less the ``queue`` ones (the place while waiting), which are reported."""
    waited = False
    for msg in messages:
        if msg.kind == "queue":
            waited = True
            report_place(int(msg.meta["place"]), int(msg.meta["of"]))
            continue
        if waited:  # seated now: the waiting line can go
            waited = False
            report_place(0, 0)
        yield msg


class RemoteFrames:
    """A feature visualization's frames made at the backend (``remote``: no seat taken here)."""

    remote = True

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream
        self._frames = (vis_from(m) for m in _waited(stream.messages()) if m.kind == "vis")

    def __iter__(self) -> RemoteFrames:
        return self

    def __next__(self) -> Any:
        return next(self._frames)

    def close(self) -> None:
        self._stream.close()
        self._frames.close()


class _Stream:
    """One open streamed answer: its messages, and a close that drops the connection."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self.conn, self.resp = conn, resp

    def messages(self) -> Iterator[Message]:
        try:
            while (msg := read_message(self.resp.read1)) is not None:
                if msg.kind == "error":
                    raise _remote_error(msg.meta)
                if msg.kind == "end":
                    return
                yield msg
            raise DreamLabError("the backend closed the stream early", "backend_protocol")
        except (OSError, http.client.HTTPException) as exc:
            raise DreamLabError(
                f"the connection to the backend was lost ({exc})", "backend_lost"
            ) from None
        finally:
            self.close()

    def close(self) -> None:
        self.conn.close()


def _remote_error(body: dict[str, Any]) -> DreamLabError:
    """The service's one-line error, as a local DreamLabError with the same kind and params."""
    err = DreamLabError(
        str(body.get("error", "the backend refused the request")), str(body.get("kind", ""))
    )
    err.params = dict(body.get("params") or {})
    return err


class RemoteDreamRun(DreamRun):
    """A dream running at the backend: the same :class:`DreamRun` (plan, config, frames, close);
    ``remote``: it takes no seat at this process's job gate."""

    remote = True

    def __init__(self, stream: _Stream, config: Any) -> None:
        messages = stream.messages()
        first = next(messages, None)
        if first is None or first.kind != "plan":
            stream.close()
            raise DreamLabError("the backend sent no dream plan", "backend_protocol")
        self._stream = stream
        mean = torch.tensor(first.meta["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(first.meta["std"], dtype=torch.float32).view(1, 3, 1, 1)
        frames = (frame_from(m, mean, std) for m in _waited(messages) if m.kind == "frame")
        super().__init__(frames, plan_from(first), config, governed=False)

    def __next__(self) -> DreamFrame:
        return super().__next__()

    def close(self) -> None:
        self._stream.close()  # the service sees the disconnect and stops the job
        super().close()


class BackendClient:
    """Calls to one backend URL (``http://host:port``)."""

    def __init__(
        self, url: str, client_id: str = "", *, session: str = "", token: str = ""
    ) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DreamLabError(
                f"not a backend URL: {url!r} (expected http://host:port)", "backend_url", url=url
            )
        self.url = f"{parts.scheme}://{parts.netloc}"
        self._parts = parts
        self.client_id, self.session, self._token = client_id, session, token

    def _connect(self) -> http.client.HTTPConnection:
        cls = (
            http.client.HTTPSConnection
            if self._parts.scheme == "https"
            else http.client.HTTPConnection
        )
        return cls(self._parts.hostname, self._parts.port, timeout=_CONNECT_TIMEOUT_S)

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> _Stream:
        """Send a request; a refusal raises the service's one line, no answer raises unreachable."""
        conn = self._connect()
        headers = {"Content-Type": "application/json"}
        if self.client_id:
            headers["X-DreamLab-Client"] = self.client_id
        if self.session:
            headers["X-DreamLab-Session"] = self.session
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            conn.request(
                method, path, json.dumps(body).encode() if body is not None else None, headers
            )
            if conn.sock is not None:
                conn.sock.settimeout(_READ_TIMEOUT_S)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            reason = (
                exc.strerror
                if isinstance(exc, OSError) and exc.strerror
                else str(exc) or type(exc).__name__
            )
            raise BackendUnreachable(
                f"the DreamLab backend at {self.url} cannot be reached ({reason}); "
                "set DREAMLAB_BACKEND_FALLBACK=local to run here instead",
                "backend_unreachable",
                url=self.url,
            ) from None
        if resp.status >= 400:
            data = resp.read()
            conn.close()
            try:
                body_in = json.loads(data)
            except ValueError:
                body_in = {}
            if resp.status == 401:  # the token's own kind, whatever the proxy in front said
                body_in = {
                    "error": f"the backend at {self.url} refused the token "
                    "(set DREAMLAB_BACKEND_TOKEN to the server's token)",
                    "kind": "unauthorized",
                    "params": {"url": self.url},
                }
            elif not isinstance(body_in, dict) or "error" not in body_in:
                body_in = {
                    "error": f"the backend answered HTTP {resp.status}",
                    "kind": "backend_error",
                }
            raise _remote_error(body_in)
        return _Stream(conn, resp)

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        stream = self._send(method, path, body)
        try:
            return json.loads(stream.resp.read())
        finally:
            stream.close()

    # ------------------------------------------------------------ the API

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/healthz")

    def stats(self) -> dict[str, Any]:
        return self._json("GET", "/stats")

    def classify(self, model: str, image: np.ndarray, top: int = 5) -> list[tuple[str, float]]:
        body = self._json(
            "POST", "/v1/classify", {"model": model, "image": png_b64(image), "top": top}
        )
        return [(str(label), float(p)) for label, p in body["top"]]

    def layer_maps(self, model: str, image: np.ndarray, layer: str) -> np.ndarray:
        stream = self._send(
            "POST", "/v1/maps", {"model": model, "image": png_b64(image), "layer": layer}
        )
        try:
            msg = read_message(stream.resp.read1)
        finally:
            stream.close()
        if msg is None or "maps" not in msg.arrays:
            raise DreamLabError("the backend sent no maps", "backend_protocol")
        return np.array(msg.arrays["maps"])

    def dream(self, image: Any, model: str, config: Any, *, maps: bool = True) -> RemoteDreamRun:
        """A :class:`RemoteDreamRun` of ``config`` (a DreamConfig); ``image`` uint8 or "noise"."""
        body: dict[str, Any] = {"model": model, "config": config.to_dict(), "maps": maps}
        body["image"] = "noise" if isinstance(image, str) and image == "noise" else image_b64(image)
        if config.guide is not None:
            body["guide"] = png_b64(config.guide)
        return RemoteDreamRun(self._send("POST", "/v1/dream", body), config)

    def visualize(self, model: str, objective: str, config: Any) -> RemoteFrames:
        """Feature visualization frames (:class:`~dreamlab.optvis.VisFrame`) made at the backend."""
        body = {"model": model, "objective": objective, "config": config.to_dict()}
        return RemoteFrames(self._send("POST", "/v1/visualize", body))
