"""The service, the wire format, the batcher and the backend dispatch, without Ray."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from dreamlab.dream import dream
from dreamlab.errors import DreamLabError
from dreamlab.serve.batcher import GradientBatcher
from dreamlab.serve.client import png_b64
from dreamlab.serve.service import Caps, DreamService, ServiceError, error_body
from dreamlab.serve.wire import (
    WireError,
    encode,
    frame_from,
    frame_message,
    plan_from,
    read_message,
)
from tests.conftest import ROOT

TINY = {"num_octaves": 2, "iterations": 3, "max_side": 64, "noise_size": [48, 64]}


def _messages(data: bytes) -> list:
    r = io.BytesIO(data)
    out = []
    while (m := read_message(r.read)) is not None:
        out.append(m)
    return out


@pytest.fixture(scope="module")
def service() -> DreamService:
    return DreamService("cpu", Caps(max_steps=60, max_side=256, max_jobs_per_session=1))


# ---------------------------------------------------------------- wire


def test_wire_round_trip_and_cut_streams() -> None:
    a = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    data = encode("frame", {"step": 3}, image=a) + encode("end")
    first, last = _messages(data)
    assert (first.kind, first.meta, last.kind) == ("frame", {"step": 3}, "end")
    np.testing.assert_array_equal(first.arrays["image"], a)
    with pytest.raises(WireError, match="cut"):
        _messages(data[:-10])
    with pytest.raises(WireError, match="not DreamLab frames"):
        _messages(b"\x00\x00\x00\x05hello")
    with pytest.raises(ValueError, match="dtype"):
        encode("x", img=np.zeros(2, dtype=np.int64))


def test_a_frame_survives_the_wire(lite0) -> None:
    run = dream("noise", lite0, **TINY)
    frame = list(run)[-1]
    msg = _messages(frame_message(frame))[0]
    back = frame_from(msg, frame.mean, frame.std)
    np.testing.assert_array_equal(back.image, frame.image)
    assert (back.step, back.octave, back.total, back.loss) == (
        frame.step,
        frame.octave,
        frame.total,
        frame.loss,
    )
    np.testing.assert_allclose(back.activations, frame.activations, atol=0.05, rtol=0.01)


# ---------------------------------------------------------------- batching seam


def test_batched_steps_equal_local_steps(lite0) -> None:
    """Two dreams whose steps run as batches of two give the local dreams' frames."""
    batcher = GradientBatcher(max_wait_s=5.0)  # every step waits for both dreams
    results: dict[int, list[float]] = {}

    def go(seed: int) -> None:
        with batcher.job():
            run = dream("noise", lite0, gradient=batcher, seed=seed, **TINY)
            results[seed] = [f.loss for f in run]

    gate = threading.Barrier(2)
    threads = [threading.Thread(target=lambda s=s: (gate.wait(), go(s))) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert batcher.stats.largest == 2
    for seed in (1, 2):
        local = [f.loss for f in dream("noise", lite0, seed=seed, **TINY)]
        np.testing.assert_allclose(results[seed], local, rtol=1e-4)


# ---------------------------------------------------------------- validation


def _refused(call, *args) -> ServiceError:
    with pytest.raises(ServiceError if call.__name__ != "start_dream" else DreamLabError) as info:
        call(*args)
    status, body = error_body(info.value)
    assert 400 <= status < 500 and "\n" not in body["error"]
    return info.value


@pytest.mark.parametrize(
    ("payload", "status", "kind"),
    [
        (
            {"image": base64.b64encode(b"not an image").decode(), "config": TINY},
            400,
            "not_an_image",
        ),
        ({"image": "%%%", "config": TINY}, 400, "bad_request"),
        ({"image": "noise", "config": {**TINY, "layer": "nope"}}, 400, "unknown_layer"),
        ({"image": "noise", "config": {"max_side": 512}}, 413, "over_cap"),
        ({"image": "noise", "config": {"iterations": 50}}, 413, "over_cap"),
        ({"image": "noise", "config": {"nope": 1}}, 400, ""),
        ({"image": "noise", "config": TINY, "model": "no_such_model"}, 400, "unknown_model"),
    ],
)
def test_bad_dreams_are_refused_with_one_line(service, payload, status, kind) -> None:
    with pytest.raises(ValueError) as info:
        service.start_dream(payload, "v")
    got, body = error_body(info.value)
    assert (got, body["kind"]) == (status, kind)
    assert body["error"] and "\n" not in body["error"]
    assert service.stats()["running"] == 0  # refused, not queued


def test_jobs_per_session_are_bounded(service) -> None:
    first = service.start_dream({"image": "noise", "config": TINY}, "alice", "fe")
    with pytest.raises(DreamLabError) as info:
        service.start_dream({"image": "noise", "config": TINY}, "alice", "fe")
    assert info.value.status == 429 and info.value.kind == "too_many_jobs"
    other = service.start_dream({"image": "noise", "config": TINY}, "bob", "fe")  # same front end
    kinds = [m.kind for m in _messages(b"".join(first))]
    assert kinds[0] == "plan" and kinds[-1] == "end" and kinds.count("frame") == 6
    other.close()  # never read: closing frees the place
    again = service.start_dream({"image": "noise", "config": TINY}, "alice", "fe")
    plan = plan_from(_messages(next(iter(again)))[0])
    assert plan.total == 6
    again.close()
    assert service.stats()["running"] == 0


def test_a_waiting_job_streams_its_place_then_runs() -> None:
    """One seat: the second session's stream says its place until the first job ends."""
    svc = DreamService("cpu", Caps(max_steps=60, max_side=256, seats=1), batching=False)
    first = svc.start_dream({"image": "noise", "config": TINY}, "a", "fe1")
    second = svc.start_dream({"image": "noise", "config": TINY}, "b", "fe2")
    first_stream, second_stream = iter(first), iter(second)
    assert _messages(next(first_stream))[0].kind == "plan"
    assert _messages(next(first_stream))[0].kind == "frame"  # seated: it runs
    assert _messages(next(second_stream))[0].kind == "plan"
    waiting = _messages(next(second_stream))[0]
    assert (waiting.kind, waiting.meta) == ("queue", {"place": 1, "of": 1})
    assert svc.stats()["queue"]["waiting"] == 1
    first.close()  # Stop: the seat goes to the waiting job at once
    kinds = [m.kind for m in _messages(b"".join(second_stream))]
    assert kinds.count("frame") == 6 and kinds[-1] == "end"
    assert svc.stats()["queue"]["seated"] == 0 and svc.stats()["cancelled"] == 1


def test_visualize_maps_and_classify(service, lite0, chelsea) -> None:
    with pytest.raises(ServiceError) as info:
        service.start_visualize({"objective": "_blocks.5:3", "config": {"size": 1000}}, "v")
    assert info.value.status in (400, 413)
    job = service.start_visualize({"objective": "_blocks.5:3", "config": {"steps": 3, "size": 32}})
    kinds = [m.kind for m in _messages(b"".join(job))]
    assert kinds == ["vis"] * 3 + ["end"]
    small = chelsea[::4, ::4].copy()
    got = service.classify({"model": "efficientnet_lite0", "image": png_b64(small), "top": 3})
    assert [label for label, _ in got["top"]] == [label for label, _ in lite0.classify(small, 3)]
    msg = _messages(
        service.feature_maps(
            {"image": png_b64(small), "layer": "_blocks.5", "model": "efficientnet_lite0"}
        )
    )[0]
    from dreamlab.activations import layer_maps

    np.testing.assert_allclose(msg.arrays["maps"], layer_maps(lite0, small, "_blocks.5"), atol=1e-5)
    with pytest.raises(DreamLabError, match="unknown layer"):
        service.feature_maps({"image": png_b64(small), "layer": "x", "model": "efficientnet_lite0"})


# ---------------------------------------------------------------- backend dispatch


def test_no_backend_runs_here_and_an_unreachable_one_says_so(lite0, monkeypatch) -> None:
    from dreamlab import backend
    from dreamlab.dream import DreamRun

    monkeypatch.delenv("DREAMLAB_BACKEND", raising=False)
    run = backend.dream("noise", lite0, **TINY)
    assert type(run) is DreamRun
    run.close()
    monkeypatch.setenv("DREAMLAB_BACKEND", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(DreamLabError) as info:
        backend.dream("noise", lite0, **TINY)
    assert info.value.kind == "backend_unreachable" and "\n" not in str(info.value)
    assert "127.0.0.1:9" in str(info.value)
    monkeypatch.setenv("DREAMLAB_BACKEND_FALLBACK", "local")
    assert len(list(backend.dream("noise", lite0, **TINY))) == 6
    assert backend.classify(lite0, np.zeros((40, 40, 3), np.uint8), top=2)


def test_cli_backend_unreachable_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    from dreamlab.cli import main

    monkeypatch.delenv("DREAMLAB_BACKEND_FALLBACK", raising=False)
    monkeypatch.delenv("DREAMLAB_BACKEND", raising=False)
    out = tmp_path / "d.png"
    code = main(
        [
            "dream",
            "noise",
            "-o",
            str(out),
            "--iterations",
            "1",
            "--octaves",
            "1",
            "--max-side",
            "64",
            "--backend",
            "http://127.0.0.1:9",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: the DreamLab backend at http://127.0.0.1:9")
    assert "DREAMLAB_BACKEND" not in os.environ  # --backend lasted that command only
    assert err.count("\n") == 1 and not out.exists()


def test_dreamlab_works_without_ray() -> None:
    """With ray and fastapi impossible to import, the package, the client and the pages load,
    and `dreamlab serve` says what to install."""
    code = textwrap.dedent(
        """
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("ray", "fastapi"):
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        import dreamlab, dreamlab.backend, dreamlab.cli, dreamlab.serve.client
        import dreamlab.serve.service, dreamlab.ui.app
        assert not any(m.split(".")[0] in ("ray", "fastapi") for m in sys.modules)
        sys.exit(dreamlab.cli.main(["serve"]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    # (streamlit's own warnings, from importing the pages, come before it)
    last = proc.stderr.strip().splitlines()[-1]
    assert last == 'error: dreamlab serve needs Ray Serve: pip install "dreamlab[serve]"'
    assert "Traceback" not in proc.stderr


def test_a_client_leaving_frees_its_place_at_once() -> None:
    """A disconnect (``cancel``, from the web side's thread) frees the place before the job's
    own thread looks again; that thread then ends the job without a step."""
    svc = DreamService("cpu", Caps(max_steps=60, max_side=256, seats=1), batching=False)
    first = svc.start_dream({"image": "noise", "config": TINY}, "a", "fe")
    waiting = svc.start_dream({"image": "noise", "config": TINY}, "b", "fe")
    running, stream = iter(first), iter(waiting)
    next(running), next(stream)  # both plans sent; the second waits
    waiting.cancel()
    assert svc.stats()["queue"]["waiting"] == 0
    assert [m.kind for m in _messages(b"".join(stream))] in (["queue"], [])  # no frame, no error
    assert svc.stats()["cancelled"] == 1
    first.close()
    assert svc.stats()["queue"]["seated"] == 0


def test_serve_token_file_errors_are_one_line(tmp_path, capsys, monkeypatch) -> None:
    pytest.importorskip("ray")
    from dreamlab.cli import main
    from dreamlab.cli.serve import serve_token as _serve_token

    empty = tmp_path / "token"
    empty.write_text("\n")
    for path in (tmp_path / "missing", empty):
        assert main(["serve", "--token-file", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "token file" in err and "\n" not in err
    empty.write_text("  s3cret \nignored\n")
    assert _serve_token(empty) == "s3cret"
    monkeypatch.setenv("DREAMLAB_SERVE_TOKEN", "from-env")
    assert _serve_token(None) == "from-env"
    monkeypatch.delenv("DREAMLAB_SERVE_TOKEN")
    assert _serve_token(None) is None


def test_dreams_arriving_during_a_dream_start_together_after_it() -> None:
    """Cohorts: B and C, seated while A steps, wait for A's end, then step as batches of two."""
    caps = Caps(max_steps=60, max_side=256, gather_s=120, gather_quiet_s=0.05)
    svc = DreamService("cpu", caps, batching=True)
    a = iter(svc.start_dream({"image": "noise", "config": TINY}, "a", "fe"))
    next(a), next(a)  # A's plan and first frame: A is stepping
    later = [svc.start_dream({"image": "noise", "config": TINY}, s, "fe") for s in ("b", "c")]
    kinds: dict[int, list[str]] = {}

    def read(i: int) -> None:
        kinds[i] = [m.kind for m in _messages(b"".join(later[i]))]

    readers = [threading.Thread(target=read, args=(i,)) for i in (0, 1)]
    for r in readers:
        r.start()
    rest = [m.kind for m in _messages(b"".join(a))]  # A runs alone to its end
    for r in readers:
        r.join(timeout=600)
    assert rest.count("frame") == 5 and kinds[0].count("frame") == kinds[1].count("frame") == 6
    sizes = svc.stats()["batcher"]["sizes"]
    assert sizes.get("2", 0) >= 4  # B and C stepped together (the first step may race)


def test_a_thin_front_end_reads_the_spec_not_the_weights(lite0, monkeypatch) -> None:
    """With a backend set, a spec-only model goes remote without its weights being read; the
    local fallback (and anything local) loads them once, on first use."""
    from dreamlab import backend
    from dreamlab.models.registry import load_spec_only

    thin = load_spec_only("efficientnet_lite0", "cpu")
    assert (thin.layers, thin.categories, thin.input_size) == (
        lite0.layers,
        lite0.categories,
        lite0.input_size,
    )
    assert not thin.weights_loaded and thin.servable
    monkeypatch.delenv("DREAMLAB_BACKEND_FALLBACK", raising=False)
    monkeypatch.setenv("DREAMLAB_BACKEND", "http://127.0.0.1:9")  # nothing listens
    assert backend.runs_remote(thin) and not backend.runs_remote(
        type(lite0)(lite0.spec, lite0.module, lite0.device, lite0.categories, "", True)
    )  # the user's own weights: here
    with pytest.raises(DreamLabError, match="cannot be reached"):
        backend.dream("noise", thin, **TINY)
    assert not thin.weights_loaded
    monkeypatch.setenv("DREAMLAB_BACKEND_FALLBACK", "local")
    local = list(backend.dream("noise", thin, **TINY, seed=3))
    assert thin.weights_loaded
    np.testing.assert_array_equal(
        local[-1].image, list(dream("noise", lite0, **TINY, seed=3))[-1].image
    )


def test_requests_say_who_asks_and_carry_the_token(monkeypatch) -> None:
    """The front end's id, the browser session's id (set per page run) and the bearer token."""
    import http.server
    import json as _json

    from dreamlab import backend
    from dreamlab.models.registry import load_spec_only

    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = _json.dumps({"top": [["cat", 0.9]]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("DREAMLAB_BACKEND", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("DREAMLAB_BACKEND_TOKEN", "s3cret")
        thin = load_spec_only("efficientnet_lite0")
        image = np.zeros((8, 8, 3), np.uint8)

        def tab(session: str) -> None:
            backend.set_session(session)  # what each browser session's page run does
            backend.classify(thin, image)

        for session in ("tab-1", "tab-2"):
            t = threading.Thread(target=tab, args=(session,))
            t.start()
            t.join()
        backend.classify(thin, image)  # this thread: no session set, the process is the session
    finally:
        server.shutdown()
    assert [h.get("x-dreamlab-session") for h in seen] == ["tab-1", "tab-2", None]
    assert len({h["x-dreamlab-client"] for h in seen}) == 1  # one front end
    assert all(h["authorization"] == "Bearer s3cret" for h in seen)
