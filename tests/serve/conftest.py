"""A real local Ray Serve on a loopback port, shared by the test session's serve tests.

The fixture starts Ray (2 CPUs, no dashboard, no usage stats, no auth token in the home folder,
its files in a temp dir) and Serve with a bearer token, batching on and 8 seats, and afterwards
shuts both down and checks that no Ray process it started survives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.harness import free_port
from tests.conftest import ROOT

TOKEN = "class-token-for-tests"
SEATS = 8
_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_DEDUP_LOGS": "0"}


def _ray_processes(temp_dir: str) -> list:
    import psutil

    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if temp_dir in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except (psutil.Error, TypeError):
            continue
    return found


@pytest.fixture(scope="session")
def ray_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of ``dreamlab serve``'s app (token :data:`TOKEN`, :data:`SEATS` seats)."""
    ray = pytest.importorskip(
        "ray", reason='Ray Serve is not installed (pip install "dreamlab[serve]")'
    )
    psutil = pytest.importorskip("psutil")
    from ray import serve

    from dreamlab.serve.app import build_app
    from dreamlab.serve.service import Caps

    saved = {k: os.environ.get(k) for k in (*_ENV, "PYTHONPATH")}
    os.environ.update(_ENV)
    # the workers import this checkout's dreamlab
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]]))
    temp_dir = str(tmp_path_factory.mktemp("ray"))
    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        # a long gather: the eight tabs' dreams start together however loaded the machine is
        caps = Caps(
            max_side=256,
            max_steps=400,
            max_jobs_per_session=3,
            max_batch=SEATS,
            gather_s=30,
            gather_quiet_s=3,
        )
        app = build_app("cpu", caps, batching=True, num_cpus=0, token=TOKEN)
        serve.run(app, name="dreamlab", route_prefix="/")
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
