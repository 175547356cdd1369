"""Measure real jobs' peak memory (anonymous RSS over the idle process), beside the budget's estimate.

    python bench/memory_peaks.py --json bench/results/memory_peaks.json

Each job runs in a fresh Python process, as the server runs it: glibc's arenas capped
(``dreamlab.runtime.memory.limit_malloc_arenas``), the job in its own thread, the model loaded first.
``RssAnon`` is sampled every millisecond while the job runs; its peak less the figure just before
the job is the job's peak. ``tests/test_budget.py`` runs a few of these and checks
:mod:`dreamlab.runtime.budget`'s estimates against them (the calibration in bench/CONTAINER.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# The child: load, then run one job in a thread while a sampler watches RssAnon.
_CHILD = r"""
import json, sys, threading, time
spec = json.loads(sys.argv[1])
import os
if spec.get("cores"):  # as in a container with that many CPUs: the tile workers follow
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: spec["cores"]])
from dreamlab.runtime.memory import limit_malloc_arenas, release_memory
limit_malloc_arenas()
from bench.memory_peaks import estimate_spec, run_job
from dreamlab.runtime import budget as B
from dreamlab.models import load_model
model = load_model(spec.get("model", "efficientnet_lite0"), device="cpu")
kind = spec["kind"]
def job():
    run_job(model, spec)
# as the server does before the gate: the job's estimate (its fast copy made and probed)
estimate = estimate_spec(model, spec).bytes
if spec.get("warm"):  # a server that has run this job before: first-use costs already paid
    t = threading.Thread(target=job); t.start(); t.join()
release_memory()
before = B.anon_resident()
peak = [before]
done = threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], B.anon_resident())
        time.sleep(0.001)
s = threading.Thread(target=sample, daemon=True); s.start()
t = threading.Thread(target=job); t.start(); t.join()
done.set(); s.join()
print(json.dumps({"before": before, "peak": peak[0], "estimate": estimate}))
"""

# A few real jobs: the default dream and larger ones, a deep layer, feature vis, training.
JOBS: list[dict[str, Any]] = [
    {"kind": "dream", "max_side": 512},
    {"kind": "dream", "max_side": 512, "warm": True},
    {"kind": "dream", "max_side": 256},
    {"kind": "dream", "max_side": 1024},
    {"kind": "dream", "max_side": 768, "octaves": 2},
    {"kind": "dream", "max_side": 512, "layer": "_blocks.15"},
    {"kind": "dream", "max_side": 512, "layer": "_blocks.4"},
    {"kind": "vis", "layer": "_blocks.9", "size": 128, "batch": 1},
    {"kind": "vis", "layer": "_blocks.9", "size": 256, "batch": 4},
    {"kind": "train", "batch": 32},
    {"kind": "train", "batch": 512},
    {"kind": "maps", "max_side": 1024, "layer": "_blocks.9"},
]


def measure(spec: dict[str, Any], timeout_s: float = 600) -> dict[str, int]:
    """Run one job in a fresh process, as the server does: its estimate made first (the fast copy
    built and probed), then the job; its anonymous RSS just before and at its peak, and the
    estimate (bytes)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "DREAMLAB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def job_image(spec: dict[str, Any]):
    """The job's photo: a bundled sample resized so its longer side is ``spec["max_side"]``."""
    from PIL import Image

    from dreamlab.images import sample_path

    img = Image.open(sample_path(spec.get("image", "chelsea"))).convert("RGB")
    side = int(spec["max_side"])
    w, h = img.size
    size = (side, round(side * h / w)) if w >= h else (round(side * w / h), side)
    return np.asarray(img.resize(size, Image.Resampling.LANCZOS))  # (H, W, 3) uint8


def _dream(model, spec: dict[str, Any]):
    from dreamlab.dream import dream

    return dream(
        job_image(spec),
        model,
        max_side=int(spec["max_side"]),
        layer=spec.get("layer"),
        num_octaves=spec.get("octaves", 4),
        iterations=spec.get("iterations", 10),
    )


def run_job(model, spec: dict[str, Any]) -> None:
    """Run one job to its end, as the server would (frames pulled and dropped)."""
    kind = spec["kind"]
    if kind == "dream":
        frames = _dream(model, spec)
    elif kind == "vis":
        from dreamlab.optvis import visualize

        frames = visualize(
            model,
            spec["layer"],
            size=spec["size"],
            batch=spec["batch"],
            steps=spec.get("steps", 16),
        )
    elif kind == "train":
        from dreamlab.train.loop import train

        frames = train(batch_size=spec["batch"], epochs=1)
    else:
        from dreamlab.activations import layer_maps

        frames = [layer_maps(model, job_image(spec), spec["layer"])]
    for _ in frames:
        pass


def estimate_spec(model, spec: dict[str, Any]):
    """The budget's estimate (a :class:`dreamlab.runtime.budget.JobCost`), made as the pages make it."""
    from dreamlab.runtime import job_costs as B

    kind = spec["kind"]
    if kind == "dream":
        from dreamlab.runtime.budget import shared_budget

        shared_budget().jobs_done = 1 if spec.get("warm") else 0  # the server's first dream or not
        run = _dream(model, spec)
        try:
            return B.dream_run_cost(model, run)
        finally:
            run.close()
    if kind == "vis":
        from dreamlab.optvis import FeatureVisConfig

        cfg = FeatureVisConfig(size=spec["size"], batch=spec["batch"])
        return B.vis_config_cost(model, [spec["layer"]], cfg)
    if kind == "maps":
        return B.maps_image_cost(model, spec["layer"], job_image(spec).shape[:2])
    return B.train_cost(int(spec["batch"]))


def estimate(spec: dict[str, Any]) -> int:
    """The budget's estimate for ``spec`` (bytes)."""
    from dreamlab.models import load_model

    model = load_model(spec.get("model", "efficientnet_lite0"), device="cpu")
    return estimate_spec(model, spec).bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", type=int, nargs="*", default=None, help="indices into JOBS")
    args = parser.parse_args()
    rows = []
    for i, spec in enumerate(JOBS):
        if args.only is not None and i not in args.only:
            continue
        got = measure(spec)
        peak = got["peak"] - got["before"]
        est = got["estimate"]
        row = {**spec, "peak_mb": round(peak / 2**20), "estimate_mb": round(est / 2**20)}
        row["ratio"] = round(est / peak, 2) if peak > 0 else None
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
