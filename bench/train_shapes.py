"""How fast the seed's small CNN reaches 90 % test accuracy on the synthetic shapes set.

Measures, for the default :class:`~dreamlab.train.loop.TrainConfig` (and optionally the seed's own
settings), the wall time from the call to ``train()`` (data generation included) to the first
evaluation at or above the target, and the final test accuracy. Pin it to two cores to reproduce
the "two CPU cores" figure::

    taskset -c 0,1 python bench/train_shapes.py --threads 1 --json bench/results/train_shapes.json

The load of the machine (``os.getloadavg``) is recorded next to the numbers: other work on the same
cores slows every step down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from dreamlab.train.config import TrainConfig
from dreamlab.train.loop import EvalResult, train

SEED_SETTINGS = {"optimizer": "sgd", "lr": 0.001, "momentum": 0.9, "batch_size": 4}


def run(config: TrainConfig, target: float) -> dict[str, object]:
    """Train once; the time to ``target`` test accuracy, the final accuracy and per-epoch curve."""
    start = time.perf_counter()
    reached: float | None = None
    curve = []
    steps = 0
    for item in train(config):
        if not isinstance(item, EvalResult):
            continue
        elapsed = time.perf_counter() - start
        steps = item.step
        curve.append(
            {"epoch": item.epoch, "accuracy": round(item.accuracy, 4), "s": round(elapsed, 2)}
        )
        if reached is None and item.accuracy >= target:
            reached = elapsed
    total = time.perf_counter() - start
    return {
        "config": config.to_dict(),
        "seconds_to_target": None if reached is None else round(reached, 2),
        "final_accuracy": curve[-1]["accuracy"],
        "total_seconds": round(total, 2),
        "batches_per_second": round(steps / max(total, 1e-9), 1),
        "curve": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.90)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed-settings", action="store_true", help="also run the seed's SGD")
    parser.add_argument("--epochs", type=int, default=None, help="override the default epochs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"device": "cpu"} | ({"epochs": args.epochs} if args.epochs else {})
    configs = {"defaults": TrainConfig(**overrides)}
    if args.seed_settings:
        configs["seed_settings"] = TrainConfig(**overrides, **SEED_SETTINGS)
    results = {
        "machine": {
            "cpus_allowed": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
            "torch_threads": torch.get_num_threads(),
            "load_before": os.getloadavg(),
            "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(),
        },
        "target": args.target,
    }
    for name, config in configs.items():
        results[name] = run(config, args.target)
        print(
            name, json.dumps({k: v for k, v in results[name].items() if k != "curve"}), flush=True
        )
    results["machine"]["load_after"] = os.getloadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
