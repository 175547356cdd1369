"""The backend service without the web: request checks, the model cache and the jobs (no Ray).

:class:`DreamService` is what every replica of ``dreamlab serve`` holds; the Ray Serve app
(:mod:`dreamlab.serve.app`) only moves its requests and answers over HTTP, so all of this is tested
without Ray. A request is checked as the Python API checks it (the same calls: the image decoded
by :func:`dreamlab.images.load_image` inside :func:`dreamlab.dream`, the layer by the model, the
settings by the configs) plus the service's caps; anything wrong, or over a cap, is refused at once
with a 4xx status and one line (:class:`ServiceError`), never queued. A good streamed job enters the
:class:`~dreamlab.serve.fairqueue.ClassQueue` with its session (one browser tab, one CLI process)
and its front end: its stream sends the plan at once, then ``queue`` messages (its place) while it
waits, then its frames once seated. 429 only for one session's own excess, 503 only when the
queue is full; closing the job (Stop, a closed tab) frees its seat or place at once.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dreamlab.errors import DreamLabError
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.serve.batcher import GradientBatcher
from dreamlab.serve.fairqueue import ClassQueue
from dreamlab.serve.wire import encode, frame_message, plan_message, vis_message

__all__ = ["Caps", "DreamService", "Job", "ServiceError", "error_body"]

_KEEPALIVE_S = 2.0  # a waiting job re-sends its place this often, even unchanged
_POLL_S = 0.25  # how often a waiting job looks at its place (and whether it was closed)


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
    max_batch: int = 32  # dream steps in one batch (halved for good on an out-of-memory error)
    seats: int | None = None  # jobs running at once (None: max_batch with batching, else 4)
    max_waiting: int = 256  # jobs waiting for a seat (503 beyond: the queue is full)
    max_jobs_per_session: int = 4  # one session's jobs, seated or waiting (429 beyond)
    gather_s: float = 10.0  # with batching, the most a dream waits to start with a cohort
    gather_quiet_s: float = 1.0  # ... a cohort starts once no dream was seated for this long

    def seats_for(self, batching: bool) -> int:
        """The seats: as many as a batch holds when batching, else a few threads at once."""
        if self.seats is not None:
            return self.seats
        return self.max_batch if batching else 4


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for an error: one line, its kind and params for translation."""
    if isinstance(getattr(exc, "status", None), int) and isinstance(exc, DreamLabError):
        status = exc.status  # a ServiceError or the queue's QueueError
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


class _Left(Exception):
    """The job's client left while it waited: it ends without a step (nothing to send)."""


class Job:
    """A streamed job: an iterator of wire messages; :meth:`close` stops it (a disconnect) and
    frees its seat or queue place."""

    def __init__(self, service: DreamService, ticket: int, messages: Iterator[bytes]) -> None:
        self._service, self.ticket, self._messages = service, ticket, messages
        self.finished = False
        self._closed = False
        self._cancelled = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._messages
            self.finished = True
        except _Left:
            self._cancelled = True
        except Exception as exc:  # after the first byte, an error is one more message
            _, body = error_body(exc)
            yield encode("error", body)
        finally:
            self.close()

    def cancel(self) -> None:
        """The client left (from any thread): free the seat or place now; the job's own thread
        sees it at its next look (a waiting job within a fraction of a second) and stops."""
        self._cancelled = True
        self._service.queue.leave(self.ticket)

    def close(self) -> None:
        """Stop now (idempotent): the dream's generator is closed, the seat or place freed."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._messages, "close", None)
        if close is not None:
            close()
        self._service._release(self.ticket, cancelled=self._cancelled or not self.finished)


class DreamService:
    """Models cached once per replica, request checks, and the streamed jobs."""

    def __init__(
        self,
        device: str = "auto",
        caps: Caps | None = None,
        *,
        batching: bool = True,
        queue: Any = None,
    ) -> None:
        """``queue``: a :class:`ClassQueue` shared with other replicas (a Ray actor's proxy);
        None: this replica's own."""
        self.device = device
        self.caps = caps or Caps()
        self.batcher = (
            GradientBatcher(max_batch=self.caps.max_batch, max_wait_s=0.05) if batching else None
        )
        self.queue = queue or ClassQueue(
            self.caps.seats_for(batching), self.caps.max_waiting, self.caps.max_jobs_per_session
        )
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._seated = threading.Condition()
        self._last_seat = float("-inf")
        self._cohort = 0  # bumped each time a cohort of gathered dreams starts
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
        queue = self.queue.stats()
        out["running"] = queue["seated"]
        out["queue"] = queue
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

    def _admit(self, session: str, front_end: str) -> int:
        """A queue ticket for the job (429: the session's own excess; 503: the queue is full)."""
        try:
            ticket = self.queue.enter(session, front_end)
        except DreamLabError:
            with self._lock:
                self.counts["refused"] += 1
            raise
        with self._lock:
            self.counts["started"] += 1
        return ticket

    def _release(self, ticket: int, *, cancelled: bool | None) -> None:
        """Free the ticket's seat or place, counted as cancelled or finished (None: not counted)."""
        self.queue.leave(ticket)
        if cancelled is not None:
            with self._lock:
                self.counts["cancelled" if cancelled else "finished"] += 1

    def _job(self, session: str, front_end: str, make: Any) -> Job:
        """Admit, then build the run (every check before the first step), else free the place."""
        ticket = self._admit(session, front_end)
        try:
            messages = make(ticket)
        except BaseException:
            with self._lock:
                self.counts["started"] -= 1
                self.counts["refused"] += 1
            self._release(ticket, cancelled=None)
            raise
        return Job(self, ticket, messages)

    def _seat(self, ticket: int) -> Iterator[bytes]:
        """Wait for a seat, sending the ticket's place when it changes (and every few seconds);
        a ticket that left meanwhile (the client went) ends the job here."""
        last, sent_at = None, float("-inf")
        while True:
            place = self.queue.wait(ticket, timeout=_POLL_S)
            if place.gone:
                raise _Left
            if place.seated:
                with self._seated:
                    self._last_seat = time.monotonic()
                    self._seated.notify_all()
                return
            now = time.monotonic()
            if place != last or now - sent_at >= _KEEPALIVE_S:
                yield encode("queue", {"place": place.place, "of": place.of})
                last, sent_at = place, now

    def _gather(self) -> None:
        """With batching, dreams start in cohorts, so a class's steps share batches from the
        first to the last (dreams started apart are at different image sizes, which cannot share
        a batch). A seated dream waits until no other was seated for ``gather_quiet_s`` and no
        dream is stepping (the cohort before it is done), or at most ``gather_s``; then every
        dream waiting so starts at once."""
        if self.batcher is None or self.caps.gather_s <= 0:
            return
        deadline = time.monotonic() + self.caps.gather_s
        with self._seated:
            cohort = self._cohort
            while self._cohort == cohort:
                now = time.monotonic()
                quiet_at = self._last_seat + self.caps.gather_quiet_s
                if now >= deadline or (now >= quiet_at and self.batcher.active == 0):
                    self._cohort += 1  # this cohort starts: everyone waiting with it goes now
                    self._seated.notify_all()
                    return
                self._seated.wait(max(0.0, min(deadline, max(quiet_at, now + _POLL_S)) - now))

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

    def start_dream(self, payload: dict[str, Any], session: str = "", front_end: str = "") -> Job:
        """A dream's messages: its plan, its place while it waits, then one frame per step.
        Refused before any step."""
        from dreamlab.dream import dream

        cfg = self.dream_config(payload)
        model = self.model(payload.get("model", DEFAULT_MODEL))
        image = payload.get("image") if payload.get("image") == "noise" else None
        source = image or self._image_bytes(payload)
        maps = bool(_field(payload, "maps", bool, True))

        def make(ticket: int) -> Iterator[bytes]:
            run = dream(source, model, cfg, gradient=self.batcher)
            return self._dream_messages(run, model, maps, ticket)

        return self._job(session, front_end, make)

    def _dream_messages(self, run: Any, model: Any, maps: bool, ticket: int) -> Iterator[bytes]:
        yield plan_message(run.plan, model.spec.mean, model.spec.std)
        try:
            yield from self._seat(ticket)
            self._gather()
        except BaseException:
            run.close()
            raise
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

    def start_visualize(
        self, payload: dict[str, Any], session: str = "", front_end: str = ""
    ) -> Job:
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
        model = self.model(payload.get("model", DEFAULT_MODEL))

        def make(ticket: int) -> Iterator[bytes]:
            frames = visualize(model, objective, cfg)
            return self._vis_messages(frames, ticket)

        return self._job(session, front_end, make)

    def _vis_messages(self, frames: Iterator[Any], ticket: int) -> Iterator[bytes]:
        try:
            yield from self._seat(ticket)
            for frame in frames:
                yield vis_message(frame)
            yield encode("end")
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
