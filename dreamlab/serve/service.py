"""The backend service without the web: request checks, the model cache and the jobs (no Ray).

:class:`DreamService` is what every replica of ``dreamlab serve`` holds; the Ray Serve app
(:mod:`dreamlab.serve.app`) only moves its requests and answers over HTTP, so all of this is tested
without Ray. A request is checked as the Python API checks it (the same calls: the image decoded
by :func:`dreamlab.images.load_image` inside :func:`dreamlab.dream`, the layer by the model, the
settings by the configs) plus the service's caps; anything wrong, or over a cap, is refused at once
with a 4xx status and one line (:class:`ServiceError`), never queued. Each client (its
``X-DreamLab-Client`` header, else its address) may run a bounded number of jobs at once (429).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dreamlab.errors import DreamLabError
from dreamlab.serve.batcher import GradientBatcher
from dreamlab.serve.wire import encode, frame_message, plan_message, vis_message

__all__ = ["Caps", "DreamService", "Job", "ServiceError", "error_body"]


class ServiceError(DreamLabError):
    """A refused request: an HTTP status (4xx, or 503) and one line."""

    def __init__(self, message: str, kind: str = "", /, status: int = 400, **params: object):
        super().__init__(message, kind, **params)
        self.status = status


@dataclass(frozen=True)
class Caps:
    """What one request may ask for; over any of these it is refused (413), not queued."""

    max_side: int = 1024  # a dream's longer side (photo or noise)
    max_steps: int = 400  # a dream's gradient steps (octaves x iterations x loops)
    max_image_bytes: int = 20_000_000  # an uploaded image, encoded
    max_vis_steps: int = 2048
    max_vis_size: int = 512
    max_vis_batch: int = 16
    max_jobs: int = 64  # streamed jobs running at once on this replica (503 beyond)
    max_jobs_per_client: int = 4  # (429 beyond)


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for an error: one line, its kind and params for translation."""
    if isinstance(exc, ServiceError):
        status = exc.status
    elif isinstance(exc, ValueError | FileNotFoundError):
        status = 400
    else:
        status = 500
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    kind = getattr(exc, "kind", "")
    params = {k: str(v) for k, v in getattr(exc, "params", {}).items()}
    return status, {"error": line, "kind": kind, "params": params}


def _over(what: str, value: object, cap: object) -> ServiceError:
    return ServiceError(
        f"{what} {value} is over this server's limit of {cap}",
        "over_cap",
        status=413,
        what=what,
        value=value,
        cap=cap,
    )


def _field(payload: dict[str, Any], name: str, kinds: type | tuple, default: Any = None) -> Any:
    value = payload.get(name, default)
    if value is not None and not isinstance(value, kinds):
        raise ServiceError(
            f"field {name!r} has the wrong type ({type(value).__name__})", "bad_request"
        )
    return value


class Job:
    """A streamed job: an iterator of wire messages; :meth:`close` stops it (a disconnect)."""

    def __init__(self, service: DreamService, client: str, messages: Iterator[bytes]) -> None:
        self._service, self._client, self._messages = service, client, messages
        self.finished = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._messages
            self.finished = True
        except Exception as exc:  # after the first byte, an error is one more message
            _, body = error_body(exc)
            yield encode("error", body)
        finally:
            self.close()

    def close(self) -> None:
        """Stop now (idempotent): the dream's generator is closed, the client's slot freed."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._messages, "close", None)
        if close is not None:
            close()
        self._service._release(self._client, cancelled=not self.finished)


class DreamService:
    """Models cached once per replica, request checks, and the streamed jobs."""

    def __init__(
        self, device: str = "auto", caps: Caps | None = None, *, batching: bool = True
    ) -> None:
        self.device = device
        self.caps = caps or Caps()
        self.batcher = GradientBatcher() if batching else None
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._per_client: dict[str, int] = {}
        self.counts = {"started": 0, "finished": 0, "cancelled": 0, "refused": 0}

    # ------------------------------------------------------------ models and stats

    def model(self, name: object) -> Any:
        """A registered model, loaded once (an unknown one is a one-line error listing them)."""
        from dreamlab.models import load_model

        if not isinstance(name, str):
            raise ServiceError("field 'model' must be a model name", "bad_request")
        with self._lock:
            if name not in self._models:
                self._models[name] = load_model(name, device=self.device)
            return self._models[name]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self.counts)
            out["running"] = sum(self._per_client.values())
        out["batcher"] = self.batcher.stats.as_dict() if self.batcher else None
        return out

    # ------------------------------------------------------------ one-shot requests

    def classify(self, payload: dict[str, Any]) -> dict[str, Any]:
        model = self.model(payload.get("model"))
        top = _field(payload, "top", int, 5)
        return {"top": [[label, p] for label, p in model.classify(self._image(payload), top=top)]}

    def feature_maps(self, payload: dict[str, Any]) -> bytes:
        from dreamlab.activations import layer_maps

        model = self.model(payload.get("model"))
        layer = _field(payload, "layer", str)
        if layer is None:
            raise ServiceError("field 'layer' is missing", "bad_request")
        maps = layer_maps(model, self._image(payload), model.check_layer(layer))
        return encode("maps", {"layer": layer}, maps=maps)

    def _image_bytes(self, payload: dict[str, Any], name: str = "image") -> bytes:
        text = _field(payload, name, str)
        if text is None:
            raise ServiceError(f"field {name!r} is missing", "bad_request")
        if len(text) * 3 // 4 > self.caps.max_image_bytes:
            raise _over("an image of", f"{len(text) * 3 // 4} bytes", self.caps.max_image_bytes)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError(f"field {name!r} is not base64", "bad_request") from None

    def _image(self, payload: dict[str, Any], name: str = "image") -> Any:
        from dreamlab.images import load_image

        side = self.caps.max_side * 4  # maps and classes of large photos, downsized first
        return load_image(self._image_bytes(payload, name), max_side=side, name=name).array

    # ------------------------------------------------------------ streamed jobs

    def _admit(self, client: str) -> None:
        with self._lock:
            if sum(self._per_client.values()) >= self.caps.max_jobs:
                self.counts["refused"] += 1
                raise ServiceError("the server is busy: try again shortly", "busy", status=503)
            if self._per_client.get(client, 0) >= self.caps.max_jobs_per_client:
                self.counts["refused"] += 1
                raise ServiceError(
                    f"too many jobs at once from this client (at most "
                    f"{self.caps.max_jobs_per_client})",
                    "too_many_jobs",
                    status=429,
                    limit=self.caps.max_jobs_per_client,
                )
            self._per_client[client] = self._per_client.get(client, 0) + 1
            self.counts["started"] += 1

    def _release(self, client: str, *, cancelled: bool | None) -> None:
        """Free one of ``client``'s seats, counted as cancelled or finished (None: not counted)."""
        with self._lock:
            left = self._per_client.get(client, 0) - 1
            if left > 0:
                self._per_client[client] = left
            else:
                self._per_client.pop(client, None)
            if cancelled is not None:
                self.counts["cancelled" if cancelled else "finished"] += 1

    def _job(self, client: str, make: Any) -> Job:
        """Admit, then build the run (every check before the first step), else free the slot."""
        self._admit(client)
        try:
            messages = make()
        except BaseException:
            with self._lock:
                self.counts["started"] -= 1
                self.counts["refused"] += 1
            self._release(client, cancelled=None)
            raise
        return Job(self, client, messages)

    def dream_config(self, payload: dict[str, Any]) -> Any:
        """The request's DreamConfig (unknown settings refused), checked against the caps."""
        from dreamlab.dream import DreamConfig
        from dreamlab.images import load_image

        settings = dict(_field(payload, "config", dict, {}))
        settings.pop("guide", None)
        cfg = DreamConfig().with_overrides(**settings)
        if payload.get("guide") is not None:
            guide = load_image(self._image_bytes(payload, "guide"), max_side=None, name="guide")
            cfg = cfg.with_overrides(guide=guide.array)
        caps = self.caps
        if cfg.max_side > caps.max_side:
            raise _over("max_side", cfg.max_side, caps.max_side)
        if cfg.noise_size is not None and max(cfg.noise_size) > caps.max_side:
            raise _over("noise_size side", max(cfg.noise_size), caps.max_side)
        steps = cfg.num_octaves * cfg.iterations * (1 + cfg.zoom_frames)
        if steps > caps.max_steps:
            raise _over("steps", steps, caps.max_steps)
        return cfg

    def start_dream(self, payload: dict[str, Any], client: str = "") -> Job:
        """A dream's messages: its plan, then one frame per step. Refused before any step."""
        from dreamlab.dream import dream

        cfg = self.dream_config(payload)
        model = self.model(payload.get("model", "efficientnet_lite0"))
        image = payload.get("image") if payload.get("image") == "noise" else None
        source = image or self._image_bytes(payload)
        maps = bool(_field(payload, "maps", bool, True))

        def make() -> Iterator[bytes]:
            run = dream(source, model, cfg, gradient=self.batcher)
            return self._dream_messages(run, model, maps)

        return self._job(client, make)

    def _dream_messages(self, run: Any, model: Any, maps: bool) -> Iterator[bytes]:
        yield plan_message(run.plan, model.spec.mean, model.spec.std)
        batch = self.batcher.job() if self.batcher else None
        try:
            if batch is not None:
                batch.__enter__()
            for frame in run:
                yield frame_message(frame, maps)
            yield encode("end")
        finally:
            run.close()
            if batch is not None:
                batch.__exit__(None, None, None)

    def start_visualize(self, payload: dict[str, Any], client: str = "") -> Job:
        """A feature visualization's messages: one per step (or per threshold)."""
        from dreamlab.optvis import FeatureVisConfig, visualize
        from dreamlab.validate import with_overrides

        cfg = with_overrides(FeatureVisConfig(), dict(_field(payload, "config", dict, {})))
        caps = self.caps
        for what, value, cap in (
            ("steps", cfg.steps, caps.max_vis_steps),
            ("size", cfg.size, caps.max_vis_size),
            ("batch", cfg.batch, caps.max_vis_batch),
        ):
            if value > cap:
                raise _over(what, value, cap)
        objective = _field(payload, "objective", str)
        if objective is None:
            raise ServiceError("field 'objective' is missing", "bad_request")
        model = self.model(payload.get("model", "efficientnet_lite0"))

        def make() -> Iterator[bytes]:
            frames = visualize(model, objective, cfg)
            return self._vis_messages(frames)

        return self._job(client, make)

    def _vis_messages(self, frames: Iterator[Any]) -> Iterator[bytes]:
        try:
            for frame in frames:
                yield vis_message(frame)
            yield encode("end")
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
