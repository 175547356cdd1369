"""Against a real local Ray Serve on a loopback port: one shared instance for the module.

The fixture starts Ray (2 CPUs, no dashboard, no usage stats, no auth token in the home folder,
its files in a temp dir) and Serve, and afterwards shuts both down and checks that no Ray
process it started survives.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

ray = pytest.importorskip(
    "ray", reason='Ray Serve is not installed (pip install "dreamlab[serve]")'
)
psutil = pytest.importorskip("psutil")

from dreamlab.dream import DreamConfig, DreamFrame, dream  # noqa: E402
from dreamlab.errors import DreamLabError  # noqa: E402
from dreamlab.serve.client import BackendClient  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

TINY = DreamConfig(num_octaves=2, iterations=3, max_side=64, noise_size=(48, 64))
_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_DEDUP_LOGS": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_processes(temp_dir: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if temp_dir in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except (psutil.Error, TypeError):
            continue
    return found


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from ray import serve

    from dreamlab.serve.app import build_app
    from dreamlab.serve.service import Caps

    saved = {k: os.environ.get(k) for k in (*_ENV, "PYTHONPATH")}
    os.environ.update(_ENV)
    # the workers import this checkout's dreamlab
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]]))
    temp_dir = str(tmp_path_factory.mktemp("ray"))
    port = _free_port()
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        caps = Caps(max_side=256, max_steps=400, max_jobs_per_session=3)
        serve.run(build_app("cpu", caps, num_cpus=0), name="dreamlab", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _, alive = psutil.wait_procs(_ray_processes(temp_dir), timeout=15)
        for p in alive:
            p.kill()  # only processes of this fixture's Ray (its temp dir on their command line)
        assert not alive, f"Ray processes left running: {[p.info['name'] for p in alive]}"


def _post(url: str, path: str, body: dict) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
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
    run = BackendClient(url).dream("noise", "efficientnet_lite0", TINY)
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
        BackendClient(url).dream("noise", "efficientnet_lite0", TINY.with_overrides(layer="x"))
    assert info.value.kind == "unknown_layer"


def test_a_disconnect_cancels_the_job(url: str) -> None:
    client = BackendClient(url)
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
    client = BackendClient(url)
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
    remote = backend.classify(lite0, small, top=3)
    assert [lab for lab, _ in remote] == [lab for lab, _ in lite0.classify(small, top=3)]
    maps = backend.layer_maps(lite0, small, "_blocks.5")
    np.testing.assert_allclose(maps, layer_maps(lite0, small, "_blocks.5"), rtol=1e-4, atol=1e-4)
    frames = list(backend.visualize(lite0, "_blocks.5:3", steps=2, size=32))
    assert len(frames) == 2 and frames[-1].image.shape == (32, 32, 3)
