"""Against a real local Ray Serve on a loopback port (``tests/serve/conftest.py``: one instance
for the test session, with a token)."""

from __future__ import annotations

import http.client
import json
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip(
    "ray", reason='Ray Serve is not installed (pip install "dreamlab[serve]")'
)
psutil = pytest.importorskip("psutil")

from dreamlab.dream import DreamConfig, DreamFrame, dream  # noqa: E402
from dreamlab.errors import DreamLabError  # noqa: E402
from dreamlab.serve.client import BackendClient  # noqa: E402
from tests.serve.conftest import TOKEN  # noqa: E402

TINY = DreamConfig(num_octaves=2, iterations=3, max_side=64, noise_size=(48, 64))


@pytest.fixture(scope="module")
def url(ray_backend: str) -> str:
    return ray_backend


def _client(url: str) -> BackendClient:
    return BackendClient(url, token=TOKEN)


def _post(url: str, path: str, body: dict, token: str | None = TOKEN) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", path, json.dumps(body), headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _wait_for(predicate, what: str, limit_s: float = 60) -> None:
    """Poll the service until ``predicate()`` holds (a condition, not a timing: the limit only
    keeps a broken service from hanging the suite)."""
    end = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"the service never got to: {what}")
        time.sleep(0.1)


def test_healthz(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["ok"] is True
    conn.close()


def test_a_streamed_dream_gives_the_local_frames(url: str, lite0) -> None:
    run = _client(url).dream("noise", "efficientnet_lite0", TINY)
    frames = list(run)
    local = list(dream("noise", lite0, TINY))
    assert run.plan.total == len(local) == 6 and run.plan.sizes == ((34, 46), (48, 64))
    assert all(isinstance(f, DreamFrame) for f in frames)
    assert [f.step for f in frames] == list(range(6))
    np.testing.assert_array_equal(frames[-1].image, local[-1].image)
    np.testing.assert_allclose([f.loss for f in frames], [f.loss for f in local], rtol=1e-4)
    assert frames[-1].activations.shape == local[-1].activations.shape


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"image": "bm90IGFuIGltYWdl", "config": TINY.to_dict()}, 400, "not_an_image"),
        ({"image": "noise", "config": {**TINY.to_dict(), "layer": "x"}}, 400, "unknown_layer"),
        ({"image": "noise", "config": {"max_side": 2048}}, 413, "over_cap"),
    ],
)
def test_bad_requests_get_a_4xx_and_one_line(url: str, body, status, kind) -> None:
    got, data = _post(url, "/v1/dream", body)
    answer = json.loads(data)
    assert (got, answer["kind"]) == (status, kind)
    assert answer["error"] and "\n" not in answer["error"]


def test_the_client_raises_the_services_line(url: str) -> None:
    with pytest.raises(DreamLabError, match="unknown layer 'x'") as info:
        _client(url).dream("noise", "efficientnet_lite0", TINY.with_overrides(layer="x"))
    assert info.value.kind == "unknown_layer"


def test_a_disconnect_cancels_the_job(url: str) -> None:
    client = _client(url)
    before = client.stats()
    steps_before = before["batcher"]["steps"]
    run = client.dream("noise", "efficientnet_lite0", TINY.with_overrides(iterations=150))
    next(run)
    run.close()
    _wait_for(lambda: client.stats()["cancelled"] > before["cancelled"], "cancel the dream")
    stats = client.stats()
    assert stats["running"] == 0
    assert stats["batcher"]["steps"] - steps_before < 300  # stopped before its 300 steps


def test_two_concurrent_dreams_run_as_batches(url: str) -> None:
    """Both dreams are opened before either is read, then read in turn: their steps meet."""
    client = _client(url)
    sizes_before = client.stats()["batcher"]["sizes"]
    cfg = TINY.with_overrides(num_octaves=1, iterations=40, noise_size=(64, 64))
    runs = [client.dream("noise", "efficientnet_lite0", cfg.with_overrides(seed=s)) for s in (1, 2)]
    counts = [0, 0]

    def read(i: int) -> None:
        counts[i] = sum(1 for _ in runs[i])

    threads = [threading.Thread(target=read, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == [40, 40]
    sizes = client.stats()["batcher"]["sizes"]
    assert sizes.get("2", 0) > sizes_before.get("2", 0)  # some steps ran as one batch of two


def test_classify_and_maps_through_the_backend(url: str, lite0, chelsea, monkeypatch) -> None:
    from dreamlab import backend
    from dreamlab.activations import layer_maps

    small = chelsea[::4, ::4].copy()
    monkeypatch.setenv("DREAMLAB_BACKEND", url)
    monkeypatch.setenv("DREAMLAB_BACKEND_TOKEN", TOKEN)
    remote = backend.classify(lite0, small, top=3)
    assert [lab for lab, _ in remote] == [lab for lab, _ in lite0.classify(small, top=3)]
    maps = backend.layer_maps(lite0, small, "_blocks.5")
    np.testing.assert_allclose(maps, layer_maps(lite0, small, "_blocks.5"), rtol=1e-4, atol=1e-4)
    frames = list(backend.visualize(lite0, "_blocks.5:3", steps=2, size=32))
    assert len(frames) == 2 and frames[-1].image.shape == (32, 32, 3)


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x"])
def test_without_the_token_a_request_is_refused_in_one_line(url: str, token) -> None:
    got, data = _post(url, "/v1/dream", {"image": "noise", "config": TINY.to_dict()}, token)
    body = json.loads(data)
    assert got == 401 and body["kind"] == "unauthorized"
    assert data.count(b"\n") == 0 and "\n" not in body["error"]
    with pytest.raises(DreamLabError) as info:
        BackendClient(url, token=token or "").stats()
    assert info.value.kind == "unauthorized" and "\n" not in str(info.value)


def test_the_cli_without_the_token_exits_2_in_one_line(
    url: str, tmp_path, capsys, monkeypatch
) -> None:
    from dreamlab.cli import main

    monkeypatch.delenv("DREAMLAB_BACKEND_TOKEN", raising=False)
    out = tmp_path / "d.png"
    code = main(["dream", "noise", "-o", str(out), "--backend", url, "--max-side", "64"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "token" in err and "\n" not in err
    assert not out.exists()


def test_a_session_over_its_bound_gets_429_other_sessions_wait(url: str) -> None:
    """Four jobs of one session: the fourth is refused (429); another session's job is taken."""
    cfg = TINY.with_overrides(iterations=100)
    same = [BackendClient(url, "fe", session="one", token=TOKEN) for _ in range(4)]
    runs = [c.dream("noise", "efficientnet_lite0", cfg) for c in same[:3]]
    try:
        with pytest.raises(DreamLabError) as info:
            same[3].dream("noise", "efficientnet_lite0", cfg)
        assert info.value.kind == "too_many_jobs"
        other = BackendClient(url, "fe", session="two", token=TOKEN)
        other.dream("noise", "efficientnet_lite0", TINY).close()
    finally:
        for run in runs:
            run.close()


def test_replicas_share_one_queue_actor(url: str) -> None:
    """The queue every replica asks (``--replicas N``): bounds and places cross the actor."""
    from dreamlab.serve.app import QUEUE_ACTOR, SharedQueue, queue_actor
    from dreamlab.serve.fairqueue import QueueError
    from dreamlab.serve.service import Caps

    actor = queue_actor(Caps(seats=1, max_jobs_per_session=1), batching=False, replicas=2)
    try:
        first, second = SharedQueue(actor), SharedQueue(ray.get_actor(QUEUE_ACTOR))
        tickets = [first.enter("a", "r1"), second.enter("b", "r2"), second.enter("c", "r2")]
        assert [first.place(t).place for t in tickets] == [0, 0, 1]  # 1 seat x 2 replicas
        with pytest.raises(QueueError) as info:
            second.enter("a", "r2")
        assert info.value.status == 429
        first.leave(tickets[0])
        assert second.wait(tickets[2], timeout=30).seated
    finally:
        ray.kill(actor)
