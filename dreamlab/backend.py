"""Where heavy jobs run: in this process (the default) or at a ``dreamlab serve`` backend.

With ``DREAMLAB_BACKEND=http://host:port`` set (the CLI's ``--backend URL`` sets it), :func:`dream`,
:func:`visualize`, :func:`layer_maps` and :func:`classify` send their work to that service and
return the same things (a remote dream is a :class:`~dreamlab.dream.DreamRun` of the same
:class:`~dreamlab.dream.DreamFrame` objects) with the same one-line errors. An unreachable backend
is one line saying so; with ``DREAMLAB_BACKEND_FALLBACK=local`` the job runs here instead. Unset:
exactly the local calls. Models loaded with the user's own weights always run here (the service
has only the registered weights: :attr:`LoadedModel.servable`). Nothing here imports Ray: the
client is the standard library.

Who asks: every request carries the front end's id (``DREAMLAB_CLIENT_ID``, else one per
process) and a session id, which the service bounds and queues fairly. A web front end sets one
per browser session (:func:`set_session`, in the thread running that session's page); the CLI
and the Python API leave it unset, so a process is one session. ``DREAMLAB_BACKEND_TOKEN`` is sent
as ``Authorization: Bearer TOKEN``. While a remote job waits for a seat at the service, its place
is handed to the callback of :func:`place_reporter` (the page's waiting line).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, TypeVar

import numpy as np

from dreamlab.serve.places import place_reporter, report_place

__all__ = [
    "backend_for",
    "backend_url",
    "classify",
    "dream",
    "front_end_id",
    "is_remote",
    "layer_maps",
    "place_reporter",
    "report_place",
    "runs_remote",
    "session_id",
    "set_backend",
    "set_session",
    "visualize",
]

ENV_URL = "DREAMLAB_BACKEND"
ENV_FALLBACK = "DREAMLAB_BACKEND_FALLBACK"
ENV_TOKEN = "DREAMLAB_BACKEND_TOKEN"
T = TypeVar("T")

_SESSION: ContextVar[str] = ContextVar("dreamlab_session", default="")


@cache
def front_end_id() -> str:
    """This process's id at the backend: ``DREAMLAB_CLIENT_ID``, else made once per process."""
    return os.environ.get("DREAMLAB_CLIENT_ID", "").strip()[:64] or uuid.uuid4().hex[:16]


def set_session(session: str) -> None:
    """The session (one browser tab) whose page runs in this thread: its jobs are queued and
    bounded as its own at the backend. Unset: the whole process is one session."""
    _SESSION.set(session[:64])


def session_id() -> str:
    """The session sent with this thread's requests ('' : the process is the session)."""
    return _SESSION.get()


def is_remote(run: object) -> bool:
    """Whether a run (a dream, a frame iterator) is made at the backend: it takes no seat here."""
    return bool(getattr(run, "remote", False))


def runs_remote(model: Any) -> bool:
    """Whether this model's jobs go to the backend now (a backend is set and has its weights)."""
    return backend_url() is not None and bool(getattr(model, "servable", True))


def backend_url() -> str | None:
    """The backend's URL (``DREAMLAB_BACKEND``), or None: run here."""
    url = os.environ.get(ENV_URL, "").strip()
    return url or None


@contextmanager
def backend_for(url: str | None) -> Iterator[None]:
    """Send heavy jobs to ``url`` inside the block (None: leave the setting as it is), then put
    the process's setting back (the CLI's ``--backend`` lasts one command)."""
    if not url:
        yield
        return
    before = os.environ.get(ENV_URL)
    set_backend(url)
    try:
        yield
    finally:
        set_backend(before)


def set_backend(url: str | None) -> None:
    """Send this process's heavy jobs to ``url`` (None: run them here)."""
    if url:
        os.environ[ENV_URL] = url
    else:
        os.environ.pop(ENV_URL, None)


def _remote(model: Any) -> Any | None:
    """A client for the backend, or None when this job runs here."""
    if not runs_remote(model):
        return None
    from dreamlab.serve.client import BackendClient

    token = os.environ.get(ENV_TOKEN, "").strip()
    return BackendClient(backend_url() or "", front_end_id(), session=session_id(), token=token)


def _either(model: Any, remote: Callable[[Any], T], local: Callable[[], T]) -> T:
    """The remote call, or the local one (no backend, or unreachable with the local fallback)."""
    client = _remote(model)
    if client is None:
        return local()
    from dreamlab.serve.client import BackendUnreachable

    try:
        return remote(client)
    except BackendUnreachable:
        if os.environ.get(ENV_FALLBACK, "").strip().lower() == "local":
            return local()
        raise


def dream(image: Any, model: Any, config: Any = None, **overrides: Any) -> Any:
    """:func:`dreamlab.dream` here or at the backend (the same DreamRun of DreamFrames)."""
    from dreamlab.dream import dream as local_dream
    from dreamlab.dream import make_config

    cfg = make_config(config, **overrides)  # bad settings: the same error, before any request
    return _either(
        model,
        lambda c: c.dream(image, model.name, cfg),
        lambda: local_dream(image, model, cfg),
    )


def visualize(model: Any, objective: Any, config: Any = None, **overrides: Any) -> Iterator[Any]:
    """:func:`dreamlab.optvis.visualize` here or at the backend.

    Objectives travel by name (lucent's ``"layer:channel"`` form and what parses back to the same
    name); any other objective (a sum, a gallery's diversity) runs here.
    """
    from dreamlab.ascent.objectives import as_objective
    from dreamlab.optvis import FeatureVisConfig
    from dreamlab.optvis import visualize as local_vis
    from dreamlab.validate import with_overrides

    cfg = with_overrides(config or FeatureVisConfig(), overrides, "visualization")
    obj = as_objective(objective)
    try:
        sendable = as_objective(obj.name).name == obj.name
    except ValueError:
        sendable = False
    if not sendable:
        return local_vis(model, obj, cfg)
    return _either(
        model, lambda c: c.visualize(model.name, obj.name, cfg), lambda: local_vis(model, obj, cfg)
    )


def layer_maps(model: Any, image: np.ndarray, layer: str) -> np.ndarray:
    """:func:`dreamlab.activations.layer_maps` here or at the backend."""
    from dreamlab.activations import layer_maps as local_maps

    return _either(
        model,
        lambda c: c.layer_maps(model.name, image, layer),
        lambda: local_maps(model, image, layer),
    )


def classify(model: Any, image: Any, top: int = 5) -> list[tuple[str, float]]:
    """``model.classify(image, top)`` here or at the backend."""
    return _either(
        model,
        lambda c: c.classify(model.name, np.asarray(image), top),
        lambda: model.classify(image, top=top),
    )
