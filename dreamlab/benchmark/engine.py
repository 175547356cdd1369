"""``dreamlab benchmark``: DreamLab's dream engine against a faithful copy of the seed's loop.

Both do the same work (model, layer, image size, octaves x iterations). The seed's loop is
eriklindernoren's PyTorch DeepDream as the blog uses it: weights that still ask for gradients, a
device -> numpy round trip every step for ``mean|grad|``, a per-channel clip loop, octaves zoomed
with ``scipy.ndimage.zoom`` on the CPU. Reported per case: steps/s of each, their ratio, FLOPs of
one dream (``torch.utils.flop_counter``), achieved GFLOP/s against a measured matmul peak on the
same machine, and peak memory (CUDA allocator peak, or sampled resident memory on a CPU).
"""

from __future__ import annotations

import collections
import contextlib
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from dreamlab.ascent.fastcopy import FastModel, build_copy, fast_model
from dreamlab.ascent.octaves import octave_sizes
from dreamlab.device import resolve_device
from dreamlab.dream import DreamConfig, dream
from dreamlab.images import load_sample, to_tensor
from dreamlab.models import LoadedModel, get_spec, load_model
from dreamlab.threads import cpu_name, forget_choice, thread_ceiling

__all__ = [
    "BenchCase",
    "busy_neighbour",
    "cpu_has_bf16",
    "default_cases",
    "dream_flops",
    "machine_info",
    "matmul_peak",
    "reference_copy",
    "run_benchmark",
    "run_case",
    "run_contention",
    "seed_dream",
    "summary_lines",
]


def reference_copy(model: LoadedModel, layer: str) -> FastModel:
    """A plain truncated copy, as the seed builds one: nothing folded, NCHW, weights *trainable*.

    Only for this benchmark (the seed's loop computes weight gradients it never uses); not cached.
    """
    return build_copy(model, (layer,), False, fold=False, trainable=True)


@dataclass(frozen=True)
class BenchCase:
    """One piece of dream work, done once by each loop."""

    model: str
    layer: str
    max_side: int
    num_octaves: int
    iterations: int
    octave_scale: float = 1.4
    lr: float = 0.02
    image: str = "coffee"  # a bundled sample (coffee is 600 x 400: 512 x 341 at 512 max side)
    repeats: int = 2  # timed runs after one warm-up run; the best is reported
    precision: str = "auto"  # the engine's precision (the seed's loop is always fp32)

    @property
    def steps(self) -> int:
        return self.num_octaves * self.iterations


def default_cases(device: torch.device, quick: bool = False) -> list[BenchCase]:
    """The issue's cases: the default dream on the embedded model, and the seed's VGG19 at layer 26.

    On a CPU, VGG19 (about 20x the embedded model's work per pixel) runs at 256 px; on a GPU both
    run the full default (512 px, 4 octaves x 10 iterations).
    """
    if quick:
        return [
            BenchCase("efficientnet_lite0", "_blocks.9", 96, 2, 2, repeats=1),
            BenchCase("vgg19", "features.26", 64, 1, 2, repeats=1),
        ]
    vgg_side, vgg_oct = (512, 4) if device.type != "cpu" else (256, 2)
    cases = [
        BenchCase("efficientnet_lite0", "_blocks.9", 512, 4, 10),
        BenchCase("vgg19", "features.26", vgg_side, vgg_oct, 10),
    ]
    if device.type == "cpu" and cpu_has_bf16():
        # VGG's dense convolutions are compute-bound at fp32: native bf16 halves their time
        cases.append(BenchCase("vgg19", "features.26", vgg_side, vgg_oct, 10, precision="bf16"))
    return cases


def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX), not emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# ---------------------------------------------------------------- the seed's loop, faithfully


def _seed_clip(image: torch.Tensor, mean: tuple, std: tuple) -> torch.Tensor:
    """The seed's ``clip``: a Python loop over channels clamping to the normalized pixel range."""
    for c in range(3):
        m, s = mean[c], std[c]
        image[0, c] = torch.clamp(image[0, c], -m / s, (1 - m) / s)
    return image


def _seed_octave(
    net: Callable, image_np: np.ndarray, iterations: int, lr: float, model: LoadedModel
) -> np.ndarray:
    """The seed's ``dream()``: numpy in, numpy out, a host round trip every step."""
    image = torch.tensor(image_np, requires_grad=True, device=model.device)  # (1, 3, H, W)
    params = list(net.module.parameters())
    for _ in range(iterations):
        for p in params:  # model.zero_grad()
            p.grad = None
        out = net(image)[0]
        loss = out.norm()
        loss.backward()  # weight gradients too: the seed's parameters require them
        avg_grad = np.abs(image.grad.data.cpu().numpy()).mean()  # device -> host, every step
        norm_lr = lr / avg_grad
        image.data += norm_lr * image.grad.data
        image.data = _seed_clip(image.data, model.spec.mean, model.spec.std)
        image.grad.data.zero_()
    return image.cpu().data.numpy()


def seed_dream(model: LoadedModel, net: Callable, image: np.ndarray, case: BenchCase) -> np.ndarray:
    """The seed's ``deep_dream()``: octaves with ``scipy.ndimage.zoom`` (order 1), detail carry."""
    try:
        import scipy.ndimage as nd
    except ImportError:
        raise ValueError(
            "the benchmark needs scipy (the seed's loop zooms octaves with scipy.ndimage): "
            "pip install -r requirements-dev.txt"
        ) from None

    x = to_tensor(image)  # (1, 3, H, W) in [0, 1]
    x = (x - torch.tensor(model.spec.mean).view(1, 3, 1, 1)) / torch.tensor(model.spec.std).view(
        1, 3, 1, 1
    )
    octaves = [x.numpy()]
    for _ in range(case.num_octaves - 1):
        s = 1 / case.octave_scale
        octaves.append(nd.zoom(octaves[-1], (1, 1, s, s), order=1))
    detail = np.zeros_like(octaves[-1])
    dreamed = octaves[-1]
    for i, base in enumerate(octaves[::-1]):
        if i > 0:
            detail = nd.zoom(detail, np.array(base.shape) / np.array(detail.shape), order=1)
        dreamed = _seed_octave(net, base + detail, case.iterations, case.lr, model)
        detail = dreamed - base
    return dreamed


# ---------------------------------------------------------------- measuring


def _sync(device: torch.device) -> None:
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
def _peak_memory(device: torch.device) -> Iterator[dict[str, float]]:
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


def _timed(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, float]:
    """(best seconds, peak MB) of ``fn`` after one warm-up call (kernels built, caches filled)."""
    fn()
    _sync(device)
    best, peak = float("inf"), 0.0
    for _ in range(repeats):
        with _peak_memory(device) as mem:
            t0 = time.perf_counter()
            fn()
            _sync(device)
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
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    _sync(device)
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


def _load(name: str, device: torch.device) -> tuple[LoadedModel, str]:
    """The model with its trained weights if here, else its architecture with random weights."""
    try:
        return load_model(name, device=device), "trained"
    except ValueError:
        module = _random_module(name, device)
        return LoadedModel(
            get_spec(name), module, device, []
        ), "random (timing does not depend on them)"


def run_case(case: BenchCase, device: torch.device) -> dict[str, Any]:
    """Time one case with both loops; returns a JSON-friendly dict."""
    model, weights = _load(case.model, device)
    image = load_sample(case.image, max_side=case.max_side)
    hw = image.shape[:2]
    cfg = DreamConfig(
        layer=case.layer,
        num_octaves=case.num_octaves,
        iterations=case.iterations,
        octave_scale=case.octave_scale,
        lr=case.lr,
        max_side=case.max_side,
        fit_octaves=False,
        precision=case.precision,
    )

    def engine() -> None:
        last = None
        for frame in dream(image, model, cfg):
            last = frame  # frames are not converted: the image stays on the device
        assert last is not None
        last.image  # noqa: B018  the one host transfer of the run

    net = reference_copy(model, case.layer)
    t_engine, mem_engine = _timed(engine, device, case.repeats)
    t_seed, mem_seed = _timed(lambda: seed_dream(model, net, image, case), device, case.repeats)
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
    ``only="video"`` the video dream's speed and flicker (``dreamlab.video_benchmark``).
    """
    dev = resolve_device(device)
    say = progress or (lambda _msg: None)
    result: dict[str, Any] = {"machine": machine_info(dev), "quick": quick, "cases": []}
    if only == "video":
        from dreamlab.video_benchmark import run_video_benchmark

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
    """The issue's targets, checked on these numbers (informative: never asserted in tests)."""
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
            if c["case"]["model"] == "efficientnet_lite0" and c["case"]["max_side"] == 512
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
        from dreamlab.video_benchmark import video_lines

        return [*lines, *video_lines(result["video"])]
    lines.append(f"targets: {result['targets']}")
    return lines


# ---------------------------------------------------------------- contention

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
        BenchCase("efficientnet_lite0", "_blocks.9", 128, 2, 4, repeats=1)
        if quick
        else BenchCase("efficientnet_lite0", "_blocks.9", 512, 4, 10, repeats=2)
    )
    model, weights = _load(case.model, device)
    image = load_sample(case.image, max_side=case.max_side)
    cfg = DreamConfig(
        layer=case.layer,
        num_octaves=case.num_octaves,
        iterations=case.iterations,
        octave_scale=case.octave_scale,
        lr=case.lr,
        max_side=case.max_side,
        seed=11,
    )
    last: dict[str, bytes] = {}

    def one_dream() -> None:
        forget_choice()
        (frame,) = collections.deque(dream(image, model, cfg), maxlen=1)  # the last frame
        last["image"] = frame.image.tobytes()

    def timed(path: str) -> tuple[float, bytes]:
        with _environ(**CONTENTION_PATHS[path]):
            seconds = _timed(one_dream, device, case.repeats)[0]
        return seconds, last["image"]

    quiet = {path: timed(path) for path in CONTENTION_PATHS}
    with busy_neighbour(cores[-1]):
        busy = {path: timed(path) for path in CONTENTION_PATHS}
    paths = {
        path: {
            "quiet_s": quiet[path][0],
            "busy_s": busy[path][0],
            "slowdown": busy[path][0] / quiet[path][0],
            "same_bytes_quiet_and_busy": quiet[path][1] == busy[path][1],
        }
        for path in CONTENTION_PATHS
    }
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
