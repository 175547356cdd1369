"""Where a default dream's time goes: cold vs warm, channels-last on or off, per-device precision.

    python bench/dream_study.py [--device cpu|cuda] [--json OUT]

A cold dream includes building the fast copy and the first call at each octave size (oneDNN and
cuDNN pick their kernels per shape); a warm dream is the same dream again in the same process, as
every dream after the first is in the web app.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from dreamlab.ascent.fastcopy import clear_cache
from dreamlab.benchmark.measure import machine_info
from dreamlab.dream import dream
from dreamlab.images import load_sample
from dreamlab.models import load_model
from dreamlab.runtime.device import resolve_device


def _one(image, model, **settings) -> float:
    t0 = time.perf_counter()
    last = None
    for frame in dream(image, model, **settings):
        last = frame
    last.image  # noqa: B018  (synchronizes)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    model = load_model("efficientnet_lite0", device=dev)
    rows = []
    precisions = ["fp32"] if dev.type == "cpu" else ["fp32", "bf16", "fp16"]
    for sample in ("coffee", "chelsea"):
        image = load_sample(sample, max_side=512)
        for channels_last in (True, False):
            for precision in precisions:
                clear_cache()
                kw = {"channels_last": channels_last, "precision": precision}
                cold = _one(image, model, **kw)
                warm = min(_one(image, model, **kw) for _ in range(3))
                row = {
                    "image": sample,
                    "size": list(image.shape[:2]),
                    **kw,
                    "cold_s": round(cold, 3),
                    "warm_s": round(warm, 3),
                }
                rows.append(row)
                print(row, file=sys.stderr)
    out = {"machine": machine_info(dev), "rows": rows}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
