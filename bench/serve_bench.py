"""1, 8 and 32 concurrent default dreams through `dreamlab serve`, batched and unbatched.

Starts a local Ray (``--cpus``) and Serve on a free loopback port, deploys the backend with
cross-user batching on, runs each count of concurrent users (each a client thread dreaming the
sample photo with the default DreamConfig), then redeploys without batching and runs them again.
Reports, per case, the wall time until every user has their dream (total) and each user's own
time (mean and max), plus the batch sizes the batcher ran. Writes JSON (default
bench/results/serve_cpu_2cores.json) and prints one line per case. The machine's load is
recorded before and after (/proc/loadavg): on a shared machine the numbers move with it.

    PYTHONPATH=. python bench/serve_bench.py [--counts 1 8 32] [--max-side 512] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import free_port, loadavg

ROOT = Path(__file__).resolve().parents[1]


def _users(url: str, n: int, image, config) -> dict:
    """``n`` users dreaming at once; each one's time from its request to its last frame."""
    from dreamlab.serve.client import BackendClient

    times: list[float] = [0.0] * n
    errors: list[str] = []
    start = threading.Barrier(n + 1)

    def user(i: int) -> None:
        client = BackendClient(url, client_id=f"user{i}")
        start.wait()
        t0 = time.perf_counter()
        try:
            for _ in client.dream(image, "efficientnet_lite0", config.with_overrides(seed=i)):
                pass
        except Exception as exc:  # recorded, not raised: the other users go on
            errors.append(str(exc))
        times[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=user, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    total = time.perf_counter() - t0
    return {
        "users": n,
        "total_s": round(total, 3),
        "per_user_mean_s": round(sum(times) / n, 3),
        "per_user_max_s": round(max(times), 3),
        "errors": errors[:3],
    }


def _local_one(image, config, device: str) -> float:
    from dreamlab.dream import dream
    from dreamlab.models import load_model

    model = load_model("efficientnet_lite0", device=device)
    for _ in dream(image, model, config):  # warm-up (fast copy, allocator)
        pass
    t0 = time.perf_counter()
    for _ in dream(image, model, config):
        pass
    return round(time.perf_counter() - t0, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-side", type=int, default=None, help="default: DreamConfig's")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/serve_cpu_2cores.json")
    args = parser.parse_args(argv)

    os.environ.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    import ray
    from ray import serve

    from dreamlab.dream import DreamConfig
    from dreamlab.images import load_sample
    from dreamlab.serve.app import build_app
    from dreamlab.serve.client import BackendClient
    from dreamlab.serve.service import Caps

    config = DreamConfig() if args.max_side is None else DreamConfig(max_side=args.max_side)
    image = load_sample("chelsea")
    result: dict = {
        "what": "concurrent default dreams (chelsea, DreamConfig defaults) through dreamlab serve",
        "config": {
            k: v
            for k, v in config.to_dict().items()
            if k in ("max_side", "num_octaves", "iterations", "layer")
        },
        "machine": {
            "cpus_visible": os.cpu_count(),
            "ray_cpus": args.cpus,
            "device": args.device,
            "python": platform.python_version(),
        },
        "loadavg_before": loadavg(),
        "local_one_dream_s": _local_one(image, config, args.device),
        "cases": [],
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="dlray")  # Ray's session files: not /tmp/ray
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        most = max(32, max(args.counts))  # every user seated at once, batches as big as the class
        caps = Caps(seats=most, max_batch=most, max_jobs_per_session=4)
        for batching in (True, False):
            app = build_app(args.device, caps, batching=batching, num_cpus=args.cpus)
            serve.run(app, name="dreamlab", route_prefix="/")
            _users(url, 1, image, config)  # warm-up: the model loads, the fast copy is made
            for n in args.counts:
                before = BackendClient(url).stats()["batcher"]
                case = {"batching": batching, **_users(url, n, image, config)}
                after = BackendClient(url).stats()["batcher"]
                if after is not None:
                    steps = after["steps"] - before["steps"]
                    batches = after["batches"] - before["batches"]
                    case["mean_batch"] = round(steps / max(batches, 1), 2)
                    case["largest_batch"] = after["largest"]
                result["cases"].append(case)
                print(json.dumps(case), file=sys.stderr, flush=True)
            serve.delete("dreamlab")
    finally:
        serve.shutdown()
        ray.shutdown()
    result["loadavg_after"] = loadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for c in result["cases"]:
        mode = "batched  " if c["batching"] else "unbatched"
        print(
            f"{mode} {c['users']:>3} users: total {c['total_s']:7.2f} s, per user "
            f"{c['per_user_mean_s']:6.2f} s (max {c['per_user_max_s']:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
