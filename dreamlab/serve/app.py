"""``dreamlab serve``: the DreamLab backend as a Ray Serve application (FastAPI ingress).

One deployment, :class:`Backend`, holds a :class:`~dreamlab.serve.service.DreamService` per
replica (models load once per replica and stay cached; concurrent dreams' steps are batched).
Routes: ``GET /healthz`` (200), ``GET /stats`` (jobs and batch sizes), ``POST /v1/classify``
(JSON), ``POST /v1/maps`` and the streamed ``POST /v1/dream`` and ``POST /v1/visualize``
(:mod:`dreamlab.serve.wire` messages, sent as each frame is made). A bad request answers 4xx with
``{"error": one line, "kind", "params"}``. A request's session is its ``X-DreamLab-Session``
header (one browser tab; else its client), its front end its ``X-DreamLab-Client`` header (else
its address). With a token (``dreamlab serve --token-file``), every route but ``/healthz`` needs
``Authorization: Bearer TOKEN`` (compared in constant time), else 401 and one JSON line. With
several replicas, the queue (:class:`~dreamlab.serve.fairqueue.ClassQueue`) lives in one named
Ray actor that every replica asks, so seats and fairness hold across replicas. A job runs in its own thread and hands its messages
to the response through a small queue; when the client disconnects, Serve cancels the response
and the job stops at its next frame.

Ray and FastAPI are imported only here, and only when the app is built. (No postponed
annotations in this module: FastAPI reads the routes' annotations, and ``Request`` is local.)
"""

import asyncio
import concurrent.futures
import hmac
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from dreamlab.serve.fairqueue import ClassQueue, Place, QueueError
from dreamlab.serve.service import Caps, DreamService, Job, error_body
from dreamlab.serve.wire import CONTENT_TYPE

__all__ = ["SharedQueue", "authorized", "build_app", "serve_forever"]

QUEUE_ACTOR = "dreamlab_class_queue"  # the named actor holding the queue of every replica

_QUEUE = 8  # messages made ahead of a slow reader (then the job waits: no unbounded memory)
_POLL_S = 0.25  # how often a waiting job checks whether its client left


def _pump(job: Job, q: asyncio.Queue, loop: asyncio.AbstractEventLoop, stop: threading.Event):
    """Run the job in this thread, handing each message to the event loop's queue (then None)."""

    def put(item: bytes | None) -> bool:
        while not stop.is_set():
            fut = asyncio.run_coroutine_threadsafe(q.put(item), loop)
            try:
                fut.result(timeout=_POLL_S)
                return True
            except concurrent.futures.TimeoutError:
                if not fut.cancel():  # it went in just now
                    return True
        return False

    try:
        for message in job:
            if not put(message):
                break
    finally:
        job.close()
        put(None)


async def _stream(job: Job) -> AsyncIterator[bytes]:
    """The job's messages as the response body; a cancelled response (a disconnect) stops it."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue = asyncio.Queue(_QUEUE)
    stop = threading.Event()
    threading.Thread(target=_pump, args=(job, q, loop, stop), daemon=True).start()
    try:
        while (message := await q.get()) is not None:
            yield message
    finally:
        stop.set()
        if not job.finished:
            job.cancel()  # a disconnect frees the seat or queue place now, not at the next frame


def authorized(header: str, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (always, when there is no token).
    Compared in constant time, so the answer's timing tells nothing about the token."""
    if not token:
        return True
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


class SharedQueue:
    """The :class:`ClassQueue` methods the service calls, answered by the named Ray actor that
    every replica shares (its methods block in the actor's own threads)."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def _call(self, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(self._actor, method).remote(*args))

    def enter(self, session: str, front_end: str = "") -> int:
        answer = self._call("enter_or_refusal", session, front_end)
        if isinstance(answer, int):
            return answer
        message, kind, status, params = answer  # rebuilt here: the status survives the trip
        raise QueueError(message, kind, status=status, **params)

    def leave(self, ticket: int) -> None:
        self._call("leave", ticket)

    def wait(self, ticket: int, timeout: float | None = None) -> Place:
        return self._call("wait", ticket, timeout)

    def place(self, ticket: int) -> Place:
        return self._call("place", ticket)

    def stats(self) -> dict[str, object]:
        return self._call("stats")


class _QueueActor(ClassQueue):
    """The queue as a Ray actor: a refusal comes back as data, not as a pickled exception."""

    def enter_or_refusal(self, session: str, front_end: str) -> int | tuple:
        try:
            return self.enter(session, front_end)
        except QueueError as exc:
            return str(exc), exc.kind, exc.status, dict(exc.params)


def queue_actor(caps: Caps, batching: bool, replicas: int) -> Any:
    """The shared queue's actor (created once, found by name afterwards): seats for every replica."""
    import ray

    seats = caps.seats_for(batching) * replicas
    actor = ray.remote(_QueueActor).options(
        name=QUEUE_ACTOR, get_if_exists=True, num_cpus=0, max_concurrency=caps.max_waiting + 64
    )
    return actor.remote(seats, caps.max_waiting, caps.max_jobs_per_session)


def _door(token: str | None) -> Any:
    """The FastAPI app whose middleware lets through only requests with ``token`` (and
    ``/healthz``): the others get 401 and one JSON line."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    api = FastAPI(title="DreamLab backend")

    @api.middleware("http")
    async def door(request: Request, call_next: Any) -> Any:
        if request.url.path == "/healthz" or authorized(
            request.headers.get("authorization", ""), token
        ):
            return await call_next(request)
        body = {"error": "a valid backend token is needed", "kind": "unauthorized", "params": {}}
        return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    return api


def _refused(exc: BaseException) -> Any:
    """A failed request's answer: its status and one JSON line."""
    from fastapi.responses import JSONResponse

    status, body = error_body(exc)
    return JSONResponse(body, status_code=status)


async def _payload_of(request: Any) -> dict[str, Any]:
    """A request's JSON object body (anything else: a ``bad_request`` error)."""
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        from dreamlab.serve.service import ServiceError

        raise ServiceError("the request body must be a JSON object", "bad_request")
    return data


def _who(request: Any) -> tuple[str, str]:
    """(session, front end): the tab's id, else the client's; the client's id, else address."""
    front_end = request.headers.get("x-dreamlab-client", "")[:128] or (
        request.client.host if request.client else ""
    )
    session = request.headers.get("x-dreamlab-session", "")[:128]
    return (f"{front_end}/{session}" if session else front_end), front_end


async def _answer(call: Callable[..., Any], request: Any, wrap: Callable[[Any], Any]) -> Any:
    """Run ``call`` on the request's body in a worker thread; its result wrapped, or the error."""
    from starlette.concurrency import run_in_threadpool

    try:
        result = await run_in_threadpool(call, await _payload_of(request))
    except Exception as exc:
        return _refused(exc)
    return wrap(result)


async def _streamed(start: Callable[..., Job], request: Any) -> Any:
    """Start a job for the request (its body, session and front end) and stream its messages."""
    from fastapi.responses import StreamingResponse
    from starlette.concurrency import run_in_threadpool

    try:
        job = await run_in_threadpool(start, await _payload_of(request), *_who(request))
    except Exception as exc:
        return _refused(exc)
    return StreamingResponse(_stream(job), media_type=CONTENT_TYPE)


def build_app(
    device: str = "auto",
    caps: Caps | None = None,
    *,
    batching: bool = True,
    num_replicas: int = 1,
    num_cpus: float = 1,
    num_gpus: float = 0,
    token: str | None = None,
) -> Any:
    """The bound Ray Serve application (``serve.run(build_app(...))``); ``token``: the bearer
    token every route but ``/healthz`` needs (None: open). With ``num_replicas`` above 1 the
    queue is one Ray actor shared by the replicas (call inside ``ray.init``)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response
    from ray import serve

    caps = caps or Caps()
    api = _door(token)
    shared = queue_actor(caps, batching, num_replicas) if num_replicas > 1 else None

    @serve.deployment(
        num_replicas=num_replicas,
        max_ongoing_requests=caps.seats_for(batching) + caps.max_waiting + 16,
        ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus},
    )
    @serve.ingress(api)
    class Backend:
        def __init__(self) -> None:
            queue = SharedQueue(shared) if shared is not None else None
            self.service = DreamService(device, caps, batching=batching, queue=queue)

        @api.get("/healthz")
        def healthz(self) -> JSONResponse:
            from dreamlab import __version__

            return JSONResponse({"ok": True, "version": __version__, "device": self.service.device})

        @api.get("/stats")
        def stats(self) -> JSONResponse:
            return JSONResponse(self.service.stats())

        @api.post("/v1/classify")
        async def classify(self, request: Request) -> Response:
            return await _answer(self.service.classify, request, JSONResponse)

        @api.post("/v1/maps")
        async def maps(self, request: Request) -> Response:
            return await _answer(
                self.service.feature_maps, request, lambda d: Response(d, media_type=CONTENT_TYPE)
            )

        @api.post("/v1/dream")
        async def dream(self, request: Request) -> Response:
            return await _streamed(self.service.start_dream, request)

        @api.post("/v1/visualize")
        async def visualize(self, request: Request) -> Response:
            return await _streamed(self.service.start_visualize, request)

    return Backend.bind()


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "auto",
    address: str | None = None,
    on_ready: Callable[[str], None] | None = None,
    batching: bool | None = None,
    *,
    replicas: int = 1,
    token: str | None = None,
    caps: Caps | None = None,
) -> None:
    """Start Ray (local, or the cluster at ``address`` / RAY_ADDRESS), run the app until Ctrl-C;
    ``on_ready`` gets the URL once it answers. ``batching`` None: on for a GPU, off on a CPU
    (where a batch costs as much as its steps: bench/SERVE.md). ``replicas``: Ray Serve replicas
    (one GPU each when the device is CUDA), sharing one queue. ``token``: see :func:`build_app`."""
    import os

    import ray
    from ray import serve

    from dreamlab.runtime.device import resolve_device

    gpus = 1 if resolve_device(device).type == "cuda" else 0
    batching = bool(gpus) if batching is None else batching
    ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False)
    try:
        serve.start(http_options={"host": host, "port": port})
        app = build_app(
            device, caps, batching=batching, num_gpus=gpus, num_replicas=replicas, token=token
        )
        serve.run(app, name="dreamlab", route_prefix="/")
        if on_ready is not None:
            on_ready(f"http://{host}:{port}")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
        ray.shutdown()
