"""``dreamlab benchmark``: DreamLab's dream engine against a faithful copy of the seed's loop.

Both do the same work (model, layer, image size, octaves x iterations). The seed's loop is
eriklindernoren's PyTorch DeepDream as the blog uses it: weights that still ask for gradients, a
device -> numpy round trip every step for ``mean|grad|``, a per-channel clip loop, octaves zoomed
with ``scipy.ndimage.zoom`` on the CPU. Reported per case: steps/s of each, their ratio, FLOPs of
one dream (``torch.utils.flop_counter``), achieved GFLOP/s against a measured matmul peak on the
same machine, and peak memory (CUDA allocator peak, or sampled resident memory on a CPU).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

from dreamlab.ascent.fastcopy import fast_model
from dreamlab.benchmark.cases import BenchCase, cpu_has_bf16, default_cases
from dreamlab.benchmark.contention import (
    CONTENTION_MAX_QUIET_COST,
    CONTENTION_MAX_SLOWDOWN,
    run_contention,
)
from dreamlab.benchmark.measure import (
    dream_flops,
    load_for_bench,
    machine_info,
    matmul_peak,
    timed,
)
from dreamlab.benchmark.reference import reference_copy, seed_dream
from dreamlab.dream import dream
from dreamlab.images import load_sample
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.runtime.device import resolve_device

__all__ = ["PARTS", "run_benchmark", "run_case", "summary_lines"]

# What ``only=`` (``dreamlab benchmark --only``) may name; None runs the engine and contention parts.
PARTS: tuple[str, ...] = ("engine", "contention", "video")


def run_case(case: BenchCase, device: torch.device) -> dict[str, Any]:
    """Time one case with both loops; returns a JSON-friendly dict."""
    model, weights = load_for_bench(case.model, device)
    image = load_sample(case.image, max_side=case.max_side)
    hw = image.shape[:2]
    cfg = case.config(fit_octaves=False, precision=case.precision)

    def engine() -> None:
        last = None
        for frame in dream(image, model, cfg):
            last = frame  # frames are not converted: the image stays on the device
        assert last is not None
        last.image  # noqa: B018  the one host transfer of the run

    net = reference_copy(model, case.layer)
    t_engine, mem_engine = timed(engine, device, case.repeats)
    t_seed, mem_seed = timed(lambda: seed_dream(model, net, image, case), device, case.repeats)
    flops = dream_flops(model, case, hw, cfg)
    run = dream(image, model, cfg)
    fm = fast_model(model, case.layer, channels_last=cfg.channels_last)
    return {
        "case": asdict(case),
        "weights": weights,
        "size": list(hw),
        "steps": case.steps,
        "precision": run.plan.precision,
        "folded_batchnorms": fm.folded,
        "channels_last": fm.channels_last,
        "cuda_graphs": cfg.cuda_graphs and device.type == "cuda",
        "gflop_per_dream": flops / 1e9,
        "engine": _loop_result(case.steps, t_engine, mem_engine, flops),
        "seed_loop": _loop_result(case.steps, t_seed, mem_seed, flops),
        "speedup": t_seed / t_engine,
    }


def _loop_result(steps: int, seconds: float, peak_mb: float, flops: int) -> dict[str, float]:
    return {
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "gflops_per_s": flops / seconds / 1e9,
        "peak_mem_mb": peak_mb,
    }


def run_benchmark(
    device: str | torch.device = "auto",
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    only: str | None = None,
) -> dict[str, Any]:
    """Every case on ``device``; the result is what ``dreamlab benchmark --json`` writes.

    ``only="engine"`` runs the engine-vs-seed cases alone, ``only="contention"`` the contention
    case alone (a CPU with at least 2 usable cores; elsewhere it is skipped with a reason),
    ``only="video"`` the video dream's speed and flicker (``dreamlab.benchmark.video``).
    """
    dev = resolve_device(device)
    say = progress or (lambda _msg: None)
    result: dict[str, Any] = {"machine": machine_info(dev), "quick": quick, "cases": []}
    if only == "video":
        from dreamlab.benchmark.video import run_video_benchmark

        result["video"] = run_video_benchmark(dev, quick=quick, progress=say)
        return result
    if only != "contention":
        _engine_cases(result, dev, quick, say)
    if only in (None, "contention"):
        say("contention: the default dream quiet, then beside a one-core busy process")
        result["contention"] = run_contention(dev, quick=quick)
    result["machine"]["load_average_after"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    result["targets"] = _targets(result, dev)
    return result


def _engine_cases(
    result: dict[str, Any], dev: torch.device, quick: bool, say: Callable[[str], None]
) -> None:
    """The engine against the seed's loop, with the matmul peak they are compared to."""
    result["memory_note"] = (
        "peak_mem_mb: CUDA allocator peak above the baseline"
        if dev.type == "cuda"
        else "peak_mem_mb: the whole process's peak resident memory during the run (VmHWM)"
    )
    say("measuring the matmul peak")
    peaks = {"fp32": matmul_peak(dev, torch.float32, quick=quick)}
    if dev.type == "cuda" or cpu_has_bf16():
        peaks["bf16"] = matmul_peak(dev, torch.bfloat16, quick=quick)
    if dev.type == "cuda":
        peaks["fp16"] = matmul_peak(dev, torch.float16, quick=quick)
    result["matmul_peak_gflops"] = peaks
    for case in default_cases(dev, quick):
        say(
            f"{case.model} {case.layer} at {case.max_side} px, {case.num_octaves} x {case.iterations}"
        )
        res = run_case(case, dev)
        peak = peaks.get(res["precision"], peaks["fp32"])
        res["engine"]["fraction_of_peak"] = res["engine"]["gflops_per_s"] / peak
        res["seed_loop"]["fraction_of_peak"] = res["seed_loop"]["gflops_per_s"] / peaks["fp32"]
        result["cases"].append(res)


def _targets(result: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The targets these numbers are checked against (informative: never asserted in tests)."""
    out: dict[str, Any] = {}
    contention = result.get("contention")
    if contention and "slowdown" in contention:
        out["contention_slowdown"] = contention["slowdown"]
        out["contention_slowdown_met"] = contention["slowdown"] <= CONTENTION_MAX_SLOWDOWN
        out["contention_quiet_vs_fixed"] = contention["quiet_vs_fixed"]
        out["contention_quiet_met"] = contention["quiet_vs_fixed"] <= CONTENTION_MAX_QUIET_COST
        out["contention_same_bytes"] = contention.get("same_bytes")
    if not result["cases"]:
        return out
    need = 2.0 if device.type == "cpu" else 5.0
    speedups = [c["speedup"] for c in result["cases"]]
    out |= {"speedup_needed": need, "speedup_met": all(s >= need for s in speedups)}
    best: dict[str, float] = {}
    for c in result["cases"]:  # e.g. VGG19 at fp32 and at bf16 on a CPU with native bf16
        best[c["case"]["model"]] = max(best.get(c["case"]["model"], 0.0), c["speedup"])
    out["best_speedup_per_model"] = best
    default = next(
        (
            c
            for c in result["cases"]
            if c["case"]["model"] == DEFAULT_MODEL and c["case"]["max_side"] == 512
        ),
        None,
    )
    if default is not None:
        out["default_dream_s"] = default["engine"]["seconds"]
        if device.type == "cpu":
            out["default_dream_under_2s"] = default["engine"]["seconds"] < 2.0
    return out


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A short human-readable table of a result."""
    m = result["machine"]
    lines = [
        f"device {m['device']} ({m.get('gpu', m['cpu'])}), {m['torch_threads']} torch threads, "
        f"load {m['load_average']}",
    ]
    if "matmul_peak_gflops" in result:
        lines.append(
            "matmul peak: "
            + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in result["matmul_peak_gflops"].items())
        )
    c = result.get("contention")
    if c and "slowdown" in c:
        lines.append(
            f"contention ({c['threads']} threads max, one core busy), reproducible: quiet "
            f"{c['quiet_s']:.2f} s, busy {c['contended_s']:.2f} s = x{c['slowdown']:.2f}, same "
            f"bytes {c['same_bytes']}; quiet {c['quiet_vs_adapting']:.2f}x and busy "
            f"{c['busy_vs_adapting']:.2f}x of the adapting path's"
        )
        for path, p in c.get("paths", {}).items():
            lines.append(
                f"  {path:<12} quiet {p['quiet_s']:.2f} s, busy {p['busy_s']:.2f} s = "
                f"x{p['slowdown']:.2f}, same bytes {p['same_bytes_quiet_and_busy']}"
            )
    elif c:
        lines.append(f"contention: skipped ({c['skipped']})")
    for c in result["cases"]:
        e, s = c["engine"], c["seed_loop"]
        lines.append(
            f"{c['case']['model']:<19} {c['case']['layer']:<12} {c['size'][1]}x{c['size'][0]} "
            f"{c['case']['num_octaves']}x{c['case']['iterations']}: engine ({c['precision']}) "
            f"{e['steps_per_s']:.1f} steps/s "
            f"({e['seconds']:.2f} s, {e['gflops_per_s']:.0f} GFLOP/s, {e['fraction_of_peak']:.0%} of peak, "
            f"{e['peak_mem_mb']:.0f} MB) | seed {s['steps_per_s']:.1f} steps/s ({s['seconds']:.2f} s, "
            f"{s['peak_mem_mb']:.0f} MB) | x{c['speedup']:.2f}"
        )
    if "video" in result:
        from dreamlab.benchmark.video import video_lines

        return [*lines, *video_lines(result["video"])]
    lines.append(f"targets: {result['targets']}")
    return lines


# ---------------------------------------------------------------- contention
