"""The contention case: the default dream quiet, then beside a busy process pinned to one core,
on each thread path (reproducible tiles, adapting threads, fixed threads)."""

from __future__ import annotations

import collections
import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import torch

from dreamlab.benchmark.cases import BenchCase
from dreamlab.benchmark.measure import load_for_bench, timed
from dreamlab.dream import dream
from dreamlab.images import load_sample
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.runtime.threads import forget_choice, thread_ceiling

__all__ = [
    "CONTENTION_MAX_QUIET_COST",
    "CONTENTION_MAX_SLOWDOWN",
    "CONTENTION_PATHS",
    "busy_neighbour",
    "run_contention",
]


CONTENTION_MAX_SLOWDOWN = 2.0  # the target: one core taken costs at most 2x
CONTENTION_MAX_QUIET_COST = 1.10  # and adapting costs the quiet case at most 10 %
_BUSY_LOOP = "while True: pass"


def _die_with_parent() -> None:
    """In the neighbour (before exec): die if the benchmark dies, whatever kills it (Linux)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextmanager
def busy_neighbour(core: int) -> Iterator[int]:
    """A separate process spinning on one core (pinned to ``core``) for the body; always stopped."""
    import subprocess
    import sys

    def setup() -> None:
        _die_with_parent()
        os.sched_setaffinity(0, {core})

    proc = subprocess.Popen([sys.executable, "-c", _BUSY_LOOP], preexec_fn=setup)  # noqa: S603
    try:
        time.sleep(0.2)  # let it start spinning before the timed work
        yield proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Environment variables set for the body, then put back as they were."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# The paths compared: the reproducible default (tiles at one intra-op thread, workers adapt), the
# adapting path before it (intra-op threads adapt; seeds do not reproduce under load), and fixed
# threads (no adapting at all).
CONTENTION_PATHS = {
    "reproducible": {},
    "adapting": {"DREAMLAB_REPRODUCIBLE": "0"},
    "fixed": {"DREAMLAB_REPRODUCIBLE": "0", "DREAMLAB_ADAPT_THREADS": "0"},
}


def run_contention(device: torch.device, quick: bool = False) -> dict[str, Any]:
    """The default dream quiet and beside a one-core busy process, on each of CONTENTION_PATHS.

    Each timed run starts with the governor's memory wiped (as a fresh ``dreamlab dream`` would),
    so the busy runs include finding out. Best of ``repeats`` after a warm-up, as elsewhere. The
    reproducible path's final image is compared byte for byte between the quiet and busy runs.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if device.type != "cpu" or len(cores) < 2:
        return {"skipped": "needs a CPU run with at least 2 usable cores"}
    case = (
        BenchCase(DEFAULT_MODEL, "_blocks.9", 128, 2, 4, repeats=1)
        if quick
        else BenchCase(DEFAULT_MODEL, "_blocks.9", 512, 4, 10, repeats=2)
    )
    model, weights = load_for_bench(case.model, device)
    image = load_sample(case.image, max_side=case.max_side)
    cfg = case.config(seed=11)  # the reproducible path's bytes are compared
    last: dict[str, bytes] = {}

    def one_dream() -> None:
        forget_choice()
        (frame,) = collections.deque(dream(image, model, cfg), maxlen=1)  # the last frame
        last["image"] = frame.image.tobytes()

    def on_path(path: str) -> tuple[float, bytes]:
        with _environ(**CONTENTION_PATHS[path]):
            seconds = timed(one_dream, device, case.repeats)[0]
        return seconds, last["image"]

    quiet = {path: on_path(path) for path in CONTENTION_PATHS}
    with busy_neighbour(cores[-1]):
        busy = {path: on_path(path) for path in CONTENTION_PATHS}
    paths = _compare(quiet, busy)
    rep, ada, fix = paths["reproducible"], paths["adapting"], paths["fixed"]
    return {
        "case": asdict(case),
        "seed": cfg.seed,
        "weights": weights,
        "threads": thread_ceiling(),
        "neighbour_core": cores[-1],
        "paths": paths,
        # the default (reproducible) path, and how it compares in the same run
        "quiet_s": rep["quiet_s"],
        "contended_s": rep["busy_s"],
        "slowdown": rep["slowdown"],
        "same_bytes": rep["same_bytes_quiet_and_busy"],
        "quiet_fixed_s": fix["quiet_s"],
        "contended_fixed_s": fix["busy_s"],
        "slowdown_fixed": fix["slowdown"],
        "quiet_vs_fixed": rep["quiet_s"] / fix["quiet_s"],
        "quiet_vs_adapting": rep["quiet_s"] / ada["quiet_s"],
        "busy_vs_adapting": rep["busy_s"] / ada["busy_s"],
    }


def _compare(
    quiet: dict[str, tuple[float, bytes]], busy: dict[str, tuple[float, bytes]]
) -> dict[str, dict[str, Any]]:
    """Each path's quiet and busy times, their ratio, and whether the bytes stayed the same."""
    return {
        path: {
            "quiet_s": quiet[path][0],
            "busy_s": busy[path][0],
            "slowdown": busy[path][0] / quiet[path][0],
            "same_bytes_quiet_and_busy": quiet[path][1] == busy[path][1],
        }
        for path in CONTENTION_PATHS
    }
