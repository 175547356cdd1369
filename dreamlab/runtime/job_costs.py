"""Each heavy job's expected peak memory, from its plan, before it starts (the memory budget's input).

A job's peak over the server's baseline grows with the activations it keeps for the backward pass:
:func:`activation_floats` counts them per input pixel for a model's fast copy up to its target
layers (one small forward pass, cached per copy), times the pixels the job runs at (a dream's
largest octave; a feature visualization's batch at the size the network sees), plus a fixed part.
The constants are calibrated by measuring real jobs' peaks (``bench/memory_peaks.py``; the table in
bench/CONTAINER.md), and ``tests/test_budget.py`` checks the estimates against fresh measurements.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dreamlab.runtime.budget import MB, JobCost

if TYPE_CHECKING:
    from dreamlab.models.registry import LoadedModel

__all__ = [
    "activation_floats",
    "dream_cost",
    "dream_run_cost",
    "maps_cost",
    "maps_image_cost",
    "train_cost",
    "vis_config_cost",
    "vis_cost",
]

# Calibration (measured: bench/CONTAINER.md, "Calibration"; checked by tests/test_budget.py).
# A job's peak over the baseline = FIXED + PER_FLOAT x 4 bytes x activation floats it runs at.
DREAM_FIXED = 30 * MB  # a frame's pictures, the step's small tensors (the fast copy is held)
DREAM_PER_FLOAT = 1.15  # forward activations kept for the backward pass (gradients reuse them)
DREAM_FIRST_USE = 110 * MB  # the process's first dream: torch's and the tile workers' first use
VIS_FIXED = 40 * MB
VIS_PER_FLOAT = 1.15  # a batch: Adam's state and the transformed copies on top
MAPS_FIXED = 20 * MB
MAPS_PER_FLOAT = 0.3  # forward only, no gradients: each layer's output is freed after the next
TRAIN_FIXED = 250 * MB  # the data set in memory, its first-use imports, the net, Adam's state
TRAIN_PER_SAMPLE = 32 * 1024  # one 32 x 32 image's activations and gradients, with slack


def activation_floats(fast: object, side: int = 128) -> float:
    """Floats of activation per input pixel a fast copy computes (every leaf module's output up to
    its deepest target, summed), from one small forward pass at ``side`` x ``side``.

    ``fast`` is a :class:`~dreamlab.ascent.fastcopy.FastModel`, shared by every session: other
    threads may run it meanwhile (their dreams, their own probes), so only this thread's calls are
    counted, and one probe per copy runs at a time (then the figure is cached).
    """
    cached = _FLOATS.get(fast)
    if cached is not None:
        return cached
    with _PROBE_LOCK:
        cached = _FLOATS.get(fast)
        if cached is None:
            cached = _FLOATS[fast] = _probe(fast, side)
        return cached


def _probe(fast: Any, side: int) -> float:
    import torch

    if not getattr(fast, "output", False):
        side = max(side, int(getattr(fast, "min_side", 1)))
    me, total = threading.get_ident(), [0]

    def count(_m: object, _i: object, out: object) -> None:
        if threading.get_ident() == me and isinstance(out, torch.Tensor):
            total[0] += out.numel()

    leaves = [m for m in fast.module.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            fast(torch.zeros(1, 3, side, side, device=fast.device))
    finally:
        for h in hooks:
            h.remove()
    return total[0] / (side * side)


_PROBE_LOCK = threading.Lock()
_FLOATS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _floats(model: LoadedModel, layers: Sequence[str], output: bool = False, **kw: Any) -> float:
    """Activation floats per pixel of the fast copy the engines will use (probed once per copy).

    With ``output`` the whole network runs, so the probe is at the model's input size (a
    classifier's dense layers need it). A probe that fails counts :data:`_UNKNOWN_FLOATS`: a job
    is never stopped by its estimate."""
    from dreamlab.ascent.fastcopy import fast_model

    fast = fast_model(model, list(layers), output=output, **kw)
    side = int(model.spec.input_size) if output else 128
    try:
        return activation_floats(fast, side)
    except RuntimeError:
        return _UNKNOWN_FLOATS


_UNKNOWN_FLOATS = 2000.0  # floats per pixel if a probe fails: more than the built-in nets need


def dream_run_cost(model: LoadedModel, run: Any) -> JobCost:
    """The cost of a dream made by :func:`dreamlab.dream.dream` (its plan and config), before its
    first step; a dream computed elsewhere (``--backend``) costs nothing here."""
    plan, cfg = getattr(run, "plan", None), getattr(run, "config", None)
    if plan is None or cfg is None or not getattr(plan, "sizes", None):
        return JobCost(0, "dream", "remote")
    layers = [name for name, _ in plan.targets]
    logits = getattr(cfg, "objective", "") == "logit"
    floats = _floats(model, layers, logits, channels_last=cfg.channels_last)
    return dream_cost(floats, plan.size, cold=cold_server())


def cold_server() -> bool:
    """Whether no heavy job has finished in this process yet (its first dream pays torch's
    first-use costs on top: :data:`DREAM_FIRST_USE`)."""
    from dreamlab.runtime.budget import shared_budget

    return shared_budget().jobs_done == 0


def vis_config_cost(model: LoadedModel, layers: Sequence[str], config: Any) -> JobCost:
    """The cost of a feature visualization of ``layers`` with a ``FeatureVisConfig``."""
    side = int(config.size)
    if getattr(config, "upsample", True):
        side = max(side, int(model.spec.input_size))  # lucent zooms small images up
    real = [name for name in layers if name != "logits"]
    try:
        floats = _floats(model, real or [model.default_layer], output=len(real) < len(layers))
    except ValueError:  # a layer without spatial maps: the whole network, as a logit
        floats = _floats(model, [model.default_layer], output=True)
    return vis_cost(floats, side, int(config.batch))


def maps_image_cost(model: LoadedModel, layer: str, size: tuple[int, int]) -> JobCost:
    """The cost of one image's maps at ``layer`` (size (H, W))."""
    try:
        return maps_cost(_floats(model, [layer]), size)
    except ValueError:
        return maps_cost(_floats(model, [model.default_layer], output=True), size)


def dream_cost(
    floats_per_pixel: float,
    size: tuple[int, int],
    model_bytes: int = 0,
    *,
    cold: bool = False,
) -> JobCost:
    """A dream's peak: its largest octave ``size`` (H, W) through a copy that computes
    ``floats_per_pixel``; ``model_bytes``: a fast copy not made yet (0 when cached); ``cold``:
    the process's first heavy job (first-use costs on top)."""
    h, w = size
    act = 4 * floats_per_pixel * h * w
    peak = DREAM_FIXED + model_bytes + int(DREAM_PER_FLOAT * act)
    peak += DREAM_FIRST_USE if cold else 0
    return JobCost(peak, "dream", f"{w}x{h}, {floats_per_pixel:.0f} floats/px")


def vis_cost(floats_per_pixel: float, side: int, batch: int, model_bytes: int = 0) -> JobCost:
    """A feature visualization's peak: ``batch`` images of ``side`` px as the network sees them."""
    act = 4 * floats_per_pixel * side * side * batch
    peak = VIS_FIXED + model_bytes + int(VIS_PER_FLOAT * act)
    return JobCost(peak, "vis", f"{batch} x {side}px, {floats_per_pixel:.0f} floats/px")


def maps_cost(floats_per_pixel: float, size: tuple[int, int]) -> JobCost:
    """Feature maps of one image (a forward pass, no gradients)."""
    h, w = size
    peak = MAPS_FIXED + int(MAPS_PER_FLOAT * 4 * floats_per_pixel * h * w)
    return JobCost(peak, "maps", f"{w}x{h}")


def train_cost(batch: int) -> JobCost:
    """Training the small CNN with ``batch`` images per step."""
    return JobCost(TRAIN_FIXED + TRAIN_PER_SAMPLE * batch, "train", f"batch {batch}")
