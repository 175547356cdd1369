"""Measuring on this machine: wall time, peak memory, FLOPs, the matmul peak, and the machine's
description (CPU, threads, load) that every benchmark result carries."""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from dreamlab.ascent.fastcopy import fast_model
from dreamlab.ascent.octaves import octave_sizes
from dreamlab.benchmark.cases import BenchCase
from dreamlab.dream import DreamConfig
from dreamlab.models import LoadedModel, get_spec, load_model
from dreamlab.runtime.cores import cpu_name

__all__ = [
    "dream_flops",
    "load_for_bench",
    "machine_info",
    "matmul_peak",
    "peak_memory",
    "sync",
    "timed",
]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _vm_hwm_mb() -> float | None:
    """The process's peak resident memory (Linux ``VmHWM``) in MB, or None elsewhere."""
    try:
        for line in _read_text("/proc/self/status").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    """Reset Linux's peak-RSS counter so the next ``VmHWM`` covers only what follows."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, float]]:
    """Peak memory of the body in MB: the CUDA allocator's peak above what was allocated before,
    or on a CPU the whole process's peak resident memory (model and Python included)."""
    result: dict[str, float] = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield result
        result["peak_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        return
    if _reset_hwm():
        yield result
        result["peak_mb"] = _vm_hwm_mb() or 0.0
        return
    import psutil  # no clear_refs (not Linux): sample the resident size every 2 ms

    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.002):
            peak[0] = max(peak[0], proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mb"] = max(peak[0], proc.memory_info().rss) / 2**20


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, float]:
    """(best seconds, peak MB) of ``fn`` after one warm-up call (kernels built, caches filled)."""
    fn()
    sync(device)
    best, peak = float("inf"), 0.0
    for _ in range(repeats):
        with peak_memory(device) as mem:
            t0 = time.perf_counter()
            fn()
            sync(device)
            best = min(best, time.perf_counter() - t0)
        peak = max(peak, mem["peak_mb"])
    return best, peak


def dream_flops(model: LoadedModel, case: BenchCase, hw: tuple[int, int], cfg: DreamConfig) -> int:
    """FLOPs of one dream: a forward and an input-gradient backward per step, at each octave."""
    from torch.utils.flop_counter import FlopCounterMode

    fm = fast_model(model, case.layer, channels_last=cfg.channels_last)
    total = 0
    for h, w in octave_sizes(hw[0], hw[1], case.num_octaves, case.octave_scale):
        x = torch.zeros(1, 3, h, w, device=model.device, requires_grad=True)  # (1, 3, h, w)
        counter = FlopCounterMode(display=False)
        with counter:
            out = fm(x)[0]
            torch.autograd.grad(out.float().norm(), x)
        total += counter.get_total_flops() * case.iterations
    return int(total)


def matmul_peak(
    device: torch.device, dtype: torch.dtype = torch.float32, *, quick: bool = False
) -> float:
    """Measured GFLOP/s of a large square matmul on ``device`` (the practical peak)."""
    n = (2048 if device.type == "cpu" else 8192) // (2 if quick else 1)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    reps = 3 if device.type == "cpu" else 20
    torch.mm(a, b)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def machine_info(device: torch.device) -> dict[str, Any]:
    """The machine the numbers come from (and how busy it was)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu_name(),
        "cpu_cores_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info


def _read_text(path: str) -> str:
    """A small text file's contents."""
    from pathlib import Path

    return Path(path).read_text(encoding="utf-8")


def _random_module(name: str, device: torch.device) -> torch.nn.Module:
    """The architecture with quick random weights (built on ``meta``, then filled in place).

    torchvision's own initialisation of VGG19 takes seconds; timing does not depend on the values.
    """
    spec = get_spec(name)
    with torch.device("meta"):
        module = spec.build()
    module = module.to_empty(device=device).eval()
    gen = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.requires_grad_(False)
            if p.dim() > 1:
                p.normal_(0.0, (2.0 / p[0].numel()) ** 0.5, generator=gen)  # He init
            else:
                p.zero_()
        for key, b in module.named_buffers():
            b.fill_(1 if key.endswith("running_var") else 0)
    return module


def load_for_bench(name: str, device: torch.device) -> tuple[LoadedModel, str]:
    """The model with its trained weights if here, else its architecture with random weights."""
    try:
        return load_model(name, device=device), "trained"
    except ValueError:
        module = _random_module(name, device)
        return LoadedModel(
            get_spec(name), module, device, []
        ), "random (timing does not depend on them)"
