"""The DeepDream engine: gradient ascent on the pixels, octave by octave, one frame per step.

The algorithm is the seed's (eriklindernoren's PyTorch port of Google's): an image pyramid of
``num_octaves`` zoomed by ``1 / octave_scale``; starting at the smallest octave, ``iterations``
steps of ``x += lr / mean|g| * g`` where ``g`` is the gradient of the target layer's norm, each
step clipped to the valid pixel range; then only the dreamed detail is carried up to the next
octave. Google's roll jitter, gordicaleksa's gradient smoothing, guided dreams and a zoom loop are
options of the one :class:`~dreamlab.dream.config.DreamConfig`.

The pieces come from the optimization core (:mod:`dreamlab.ascent`): the objective (the layer's
norm by default; also a neuron, a direction, a class logit or a guide image), the octave schedule,
the normalized step and, on request, feature visualization's transforms.

Speed: the model is a private fast copy (:mod:`dreamlab.ascent.fastcopy`: truncated after the
target, BatchNorm folded, frozen, channels-last), the image never leaves the device between steps
(no ``.item()``, no numpy), and on CUDA the forward pass runs under autocast (bf16, else fp16)
with cuDNN's autotuner, each octave's step replayed from a CUDA graph (:mod:`dreamlab.dream.steps`).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from dreamlab.ascent import objectives as O
from dreamlab.ascent.fastcopy import FastModel, fast_model, require_model
from dreamlab.ascent.octaves import octave_sizes, resize
from dreamlab.ascent.steppers import NormalizedStep
from dreamlab.ascent.tiles import Tile, tile_grid
from dreamlab.ascent.transforms import standard_transforms, zoom_rotate
from dreamlab.dream.config import DreamConfig, make_config
from dreamlab.dream.context import DreamContext, GradientProvider, amp_dtype
from dreamlab.dream.frames import DreamFrame
from dreamlab.dream.steps import eager_steps, graph_steps, use_graphs
from dreamlab.images import ImageError, ImageLike, load_image, resize_max_side, to_tensor
from dreamlab.models.registry import LoadedModel
from dreamlab.runtime.threads import govern, reproducible

__all__ = ["DreamPlan", "DreamRun", "dream", "resolve_targets"]

_NOISE_AMPLITUDE = 0.2  # a dream from noise starts from grey +- 0.1: the network invents the rest
_GUIDE_MAX_SIDE = 512


@dataclass(frozen=True)
class DreamPlan:
    """What a dream will do, known before its first step (a UI shows it, a test checks it)."""

    sizes: tuple[tuple[int, int], ...]  # (H, W) of each octave dreamed, smallest first
    dropped: int  # octaves left out because they would be smaller than ``min_side``
    min_side: int  # the smallest side the target layers can use
    targets: tuple[tuple[str, float], ...]  # (layer, weight)
    iterations: int
    loops: int  # 1 + zoom frames
    device: str
    precision: str  # what the forward pass runs in: fp32, bf16 or fp16

    @property
    def total(self) -> int:
        """Frames (gradient steps) the dream yields."""
        return len(self.sizes) * self.iterations * self.loops

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the final image."""
        return self.sizes[-1]

    @property
    def note(self) -> str | None:
        """One line when octaves were dropped, else None."""
        if not self.dropped:
            return None
        kept = len(self.sizes)
        return (
            f"{kept} of {kept + self.dropped} octaves fit this image (the smallest octave must be "
            f"at least {self.min_side} px for layer {self.targets[0][0]})"
        )


class DreamRun(Iterator[DreamFrame]):
    """The frames of one dream (an iterator), with its :class:`DreamPlan` and config.

    Stop by no longer pulling (or :meth:`close`): nothing runs between frames.
    """

    def __init__(
        self,
        frames: Iterator[DreamFrame],
        plan: DreamPlan,
        config: DreamConfig,
        *,
        governed: bool = True,
    ) -> None:
        # torch's CPU threads adapt to contention (not when a batcher or a server runs the steps)
        self._frames = govern(frames, plan.device) if governed else frames
        self.plan = plan
        self.config = config

    def __iter__(self) -> DreamRun:
        return self

    def __next__(self) -> DreamFrame:
        return next(self._frames)

    def close(self) -> None:
        """Stop the dream now (frees its tensors)."""
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()


def resolve_targets(model: LoadedModel, cfg: DreamConfig) -> tuple[tuple[str, float], ...]:
    """(layer, weight) pairs of a config for a model, checked (an unknown layer lists the valid)."""
    pairs = cfg.layers or ((cfg.layer or model.default_layer, 1.0),)
    merged: dict[str, float] = {}
    for name, weight in pairs:
        model.check_layer(name)
        merged[name] = merged.get(name, 0.0) + weight
    return tuple(merged.items())


def _start_image(image: ImageLike | str, cfg: DreamConfig, gen: torch.Generator) -> torch.Tensor:
    """The starting image in [0, 1] on the CPU: a photo (downsized to max_side) or seeded noise."""
    if isinstance(image, str) and image == "noise":
        h, w = cfg.noise_size or (round(cfg.max_side * 3 / 4), cfg.max_side)
        u = torch.rand(1, 3, h, w, generator=gen)  # (1, 3, H, W) in [0, 1)
        return 0.5 + (u - 0.5) * _NOISE_AMPLITUDE
    if not isinstance(image, str | Path | bytes | Image.Image | np.ndarray) and not hasattr(
        image, "read"
    ):
        raise ImageError(f"expected an image (array, PIL image, file) or 'noise', got {image!r}")
    arr = load_image(image, max_side=cfg.max_side, min_side=1).array  # (H, W, 3) uint8
    return to_tensor(arr)  # (1, 3, H, W)


def _plan(
    hw: tuple[int, int], cfg: DreamConfig, fast: FastModel, targets: tuple, amp: torch.dtype | None
) -> DreamPlan:
    """The octave sizes for an image, dropping those the network cannot see (or refusing)."""
    sizes = octave_sizes(hw[0], hw[1], cfg.num_octaves, cfg.octave_scale)
    ok = [s for s in sizes if min(s) >= fast.min_side]
    layer = targets[0][0]
    if not ok:
        raise ValueError(
            f"the image is {hw[1]}x{hw[0]} px: layer {layer} needs at least {fast.min_side} px "
            "on each side (use a larger image or max side)"
        )
    if len(ok) < len(sizes) and not cfg.fit_octaves:
        small = sizes[len(ok)]
        raise ValueError(
            f"octave {cfg.num_octaves - len(ok)} would be {small[1]}x{small[0]} px, smaller than "
            f"the {fast.min_side} px layer {layer} needs: use fewer octaves or a smaller scale"
        )
    precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp]
    return DreamPlan(
        tuple(reversed(ok)),
        len(sizes) - len(ok),
        fast.min_side,
        targets,
        cfg.iterations,
        1 + cfg.zoom_frames,
        str(fast.device),
        precision,
    )


def _check_target(cfg: DreamConfig, fast: FastModel, targets: tuple, model: LoadedModel) -> None:
    """A channel, a direction or a class that fits the model (checked before the first step)."""
    width, layer, classes = fast.channels[0], targets[0][0], len(model.categories)
    if cfg.logit is not None and classes and cfg.logit >= classes:
        raise ValueError(
            f"class {cfg.logit} is out of range: {model.name} has {classes} classes "
            f"(0 to {classes - 1})"
        )
    if cfg.channel is not None and cfg.channel >= width:
        raise ValueError(
            f"channel {cfg.channel} is out of range: layer {layer} has "
            f"{width} channels (0 to {width - 1})"
        )
    if cfg.direction is not None and len(cfg.direction) != width:
        raise ValueError(
            f"the direction has {len(cfg.direction)} values but layer {layer} has {width} channels"
        )


def _objective(cfg: DreamConfig, targets: tuple, guide: torch.Tensor | None) -> O.Objective:
    """The config's objective, from the core's objectives."""
    layer = targets[0][0]
    if guide is not None:
        return O.guide(layer, guide)
    if cfg.objective == "neuron":
        assert cfg.channel is not None
        return O.neuron(layer, cfg.channel)
    if cfg.objective == "direction":
        assert cfg.direction is not None
        return O.direction(layer, cfg.direction)
    if cfg.objective == "logit":
        assert cfg.logit is not None
        return O.class_logit(cfg.logit)
    if len(targets) == 1:
        return O.deepdream(layer, kind=cfg.loss, channel=cfg.channel)
    parts = [weight * O.deepdream(name, kind=cfg.loss) for name, weight in targets]
    return sum(parts[1:], parts[0])


@torch.no_grad()
def _guide_features(
    cfg: DreamConfig,
    fast: FastModel,
    amp: torch.dtype | None,
    guide: np.ndarray,
    model: LoadedModel,
) -> torch.Tensor:
    """The guide image's features at the first target layer, as (C, M) columns."""
    arr = resize_max_side(guide, min(cfg.max_side, _GUIDE_MAX_SIDE))
    if min(arr.shape[:2]) < fast.min_side:
        raise ValueError(
            f"the guide image is {arr.shape[1]}x{arr.shape[0]} px: layer {fast.layers[0]} "
            f"needs at least {fast.min_side} px on each side"
        )
    x = model.preprocess(to_tensor(arr, model.device))  # (1, 3, H, W)
    half = torch.autocast(fast.device.type, dtype=amp, cache_enabled=False) if amp else None
    with half or contextlib.nullcontext():
        act = fast(x)[0]  # (1, C, h, w)
    return act.float().flatten(2)[0]  # (C, M)


def _octaves(
    ctx: DreamContext, x: torch.Tensor, plan: DreamPlan, loop: int, first_step: int
) -> Iterator[DreamFrame]:
    """Dream ``x`` (normalized, full size) over the plan's octaves, smallest first."""
    bases = [x]
    for size in reversed(plan.sizes[:-1]):  # successive zooms down, as the seed does
        bases.append(resize(bases[-1], size))
    bases.reverse()  # smallest first
    detail = torch.zeros_like(bases[0])
    cur = bases[0]
    step = first_step
    for octave, base in enumerate(bases):
        if ctx.cfg.octave_mode == "detail":  # only the dreamed detail travels up
            cur = base + resize(detail, base.shape[-2:])
        elif octave:  # gordicaleksa: the whole dreamed image travels up
            cur = resize(cur, base.shape[-2:])
        run_steps = graph_steps if use_graphs(ctx) else eager_steps
        for it, (new, loss, maps, shift) in enumerate(run_steps(ctx, cur)):
            yield DreamFrame(
                octave,
                it,
                step,
                plan.total,
                len(bases),
                ctx.cfg.iterations,
                loop,
                ctx.targets[0][0],
                new,
                ctx.mean,
                ctx.std,
                loss,
                maps,
                shift,
            )
            cur = new
            step += 1
        detail = cur - base


def _frames(ctx: DreamContext, start: torch.Tensor, plan: DreamPlan) -> Iterator[DreamFrame]:
    """The whole dream: the octaves, then each zoom-loop frame dreamed again from the last."""
    x01 = start.to(ctx.fast.device)  # (1, 3, H, W) in [0, 1]
    step = 0
    for loop in range(plan.loops):
        if loop:
            x01 = zoom_rotate(x01, ctx.cfg.zoom, ctx.cfg.rotate)
        frame = None
        for frame in _octaves(ctx, (x01 - ctx.mean) / ctx.std, plan, loop, step):
            yield frame
        assert frame is not None
        step = frame.step + 1
        x01 = frame.image_tensor()


def _tiles(
    fast: FastModel, device: torch.device, whole: bool
) -> Callable[[int, int], tuple[Tile, ...]] | None:
    """How a step's gradient is cut (reproducible CPU path, :mod:`dreamlab.ascent.tiles`), or None.

    ``whole``: the step needs the whole image at once (logits, transforms that change its size, a
    remote batcher): one tile, still at one intra-op thread, so still the same bytes.
    """
    if device.type != "cpu" or whole or not reproducible():
        return None
    align = math.lcm(*fast.strides)
    return functools.partial(tile_grid, align=align, min_side=fast.min_side)


def dream(
    image: ImageLike | str,
    model: LoadedModel,
    config: DreamConfig | None = None,
    *,
    gradient: GradientProvider | None = None,
    **overrides: Any,
) -> DreamRun:
    """DeepDream ``image`` (a PIL image, ``H x W x 3`` array, path, or ``"noise"``) with ``model``.

    Returns an iterator of :class:`DreamFrame`, one per gradient step (``num_octaves x iterations``
    of them, times ``1 + zoom_frames``). Settings come from ``config`` (or the defaults) with
    ``overrides`` applied. Everything is checked before the first step: bad settings, an unknown
    layer (the message lists the valid ones), an image too small for the layer, each raise a
    ``ValueError`` (``ModelError``/``ImageError`` are ones) with a one-line message.

    ``gradient`` (for servers) computes each step's gradient elsewhere, e.g. batched with other
    users' dreams (see :mod:`dreamlab.dream.steps`); by default it is computed here.
    """
    require_model(model)
    cfg = make_config(config, **overrides)
    targets = resolve_targets(model, cfg)
    logits = cfg.objective == "logit"  # the whole network runs, its output comes last
    fast = fast_model(
        model, [name for name, _ in targets], channels_last=cfg.channels_last, output=logits
    )
    _check_target(cfg, fast, targets, model)
    amp = amp_dtype(model.device, cfg.precision)
    if model.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed sizes per octave: autotune each once
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    start = _start_image(image, cfg, gen)  # (1, 3, H, W) in [0, 1], CPU
    plan = _plan(tuple(start.shape[-2:]), cfg, fast, targets, amp)
    mean = torch.tensor(model.spec.mean, device=model.device).view(1, 3, 1, 1)
    std = torch.tensor(model.spec.std, device=model.device).view(1, 3, 1, 1)
    guide = None if cfg.guide is None else _guide_features(cfg, fast, amp, cfg.guide, model)
    transform = standard_transforms() if cfg.transforms else None
    ctx = DreamContext(
        cfg=cfg,
        fast=fast,
        targets=targets,
        keys=(*fast.layers, O.LOGITS) if logits else fast.layers,
        objective=_objective(cfg, targets, guide),
        step=NormalizedStep(cfg.lr, cfg.normalize, cfg.smoothing),
        mean=mean,
        std=std,
        lo=(0 - mean) / std,
        hi=(1 - mean) / std,
        gen=gen,
        amp=amp,
        transform=transform,
        guided=guide is not None,
        gradient=gradient,
        tiles=_tiles(fast, model.device, logits or transform is not None or gradient is not None),
    )
    return DreamRun(_frames(ctx, start, plan), plan, cfg, governed=gradient is None)
