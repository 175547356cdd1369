"""The feature-visualization loop: optimize an image from noise so an objective grows.

:func:`visualize` is a generator of :class:`VisFrame` (rule 2: the caller decides how often to draw
and stops by no longer pulling). One step: parameterization -> random transforms -> upsample to the
network's input size -> forward only as far as the objective's layers -> Adam step on the image
parameters. Objectives, transforms, the fast model copy, the octave schedule and Adam all come from
the optimization core (:mod:`dreamlab.ascent`). With ``octaves > 1`` the image is rendered small
first, then enlarged and optimized again (DeepDream's pyramid: coarse structure, then detail).
The model is shared and read-only: its weights are frozen, hooks are always removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import torch

from dreamlab.ascent.capture import StopForward, capture, missing_layers
from dreamlab.ascent.fastcopy import fast_model, require_model
from dreamlab.ascent.objectives import (
    LOGITS,
    Objective,
    as_objective,
    channel,
    channels,
    diversity,
)
from dreamlab.ascent.octaves import octave_sizes, resize
from dreamlab.ascent.steppers import AdamStep
from dreamlab.ascent.tiles import sample_gradient
from dreamlab.ascent.transforms import compose, scale, standard_transforms
from dreamlab.errors import DreamLabError
from dreamlab.models.registry import LoadedModel, ModelError
from dreamlab.optvis import param as P
from dreamlab.runtime.threads import govern, reproducible, tile_workers
from dreamlab.validate import check_bool, check_float, check_int, with_overrides

__all__ = [
    "LUCENT_STEPS",
    "FeatureVisConfig",
    "VisFrame",
    "activations",
    "facets",
    "gallery",
    "layer_width",
    "objective_value",
    "visualize",
]

LUCENT_STEPS = 512  # lucent's render_vis default; DreamLab defaults to half (CPU users, same look)


@dataclass(frozen=True)
class FeatureVisConfig:
    """Every setting of one feature-visualization run (lucent's defaults unless said otherwise)."""

    steps: int = 256  # optimizer steps (lucent: 512)
    size: int = 128  # rendered image side in pixels
    batch: int = 1  # images optimized together
    param: Literal["fft", "pixel"] = "fft"  # image parameterization
    decorrelate: bool = True  # optimize in Lucid's decorrelated colour space
    transforms: bool = True  # lucent's standard transforms (pad, jitter, scale, rotate)
    upsample: bool = True  # zoom to the model's input size when the image is smaller
    lr: float = 0.05  # Adam learning rate
    sd: float = 0.01  # standard deviation of the initial noise (in parameter space)
    decay_power: float = 1.0  # FFT spectrum scale 1 / f^decay_power
    thresholds: tuple[int, ...] | None = None  # steps that yield a frame; None: every step
    seed: int = 0  # seeds the initial noise and every random transform
    octaves: int = 1  # render at this many growing sizes, the steps shared out (1: size only)
    octave_scale: float = 1.4  # each octave this much larger than the one before

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 1, 100_000)
        check_int("size", self.size, 8, 1024)
        check_int("batch", self.batch, 1, 64)
        check_int("seed", self.seed, 0, 2**63 - 1)
        if self.param not in P.PARAMS:
            raise ValueError(f"param must be 'fft' or 'pixel', got {self.param!r}")
        for name in ("decorrelate", "transforms", "upsample"):
            check_bool(name, getattr(self, name))
        check_float("lr", self.lr, 1e-6, 10.0)
        check_float("sd", self.sd, 1e-6, 10.0)
        check_float("decay_power", self.decay_power, 0.0, 4.0)
        check_int("octaves", self.octaves, 1, min(8, self.steps))
        check_float("octave_scale", self.octave_scale, 1.0, 4.0, open_lo=True)
        if self.octaves > 1 and min(self.octave_sides()) < 8:
            raise ValueError(
                f"{self.octaves} octaves at scale {self.octave_scale:g} make the smallest image "
                f"{min(self.octave_sides())} px (at least 8): use fewer octaves or a larger size"
            )
        if self.thresholds is not None:
            object.__setattr__(self, "thresholds", tuple(self.thresholds))
            for step in self.thresholds:
                check_int("each threshold", step, 1, self.steps)

    def octave_sides(self) -> list[int]:
        """The image side of each octave, smallest first (the last is ``size``)."""
        sizes = octave_sizes(self.size, self.size, self.octaves, self.octave_scale)
        return [h for h, _ in reversed(sizes)]

    def octave_steps(self) -> list[int]:
        """Steps of each octave, smallest first: an even share, the remainder on the last."""
        share, extra = divmod(self.steps, self.octaves)
        return [share] * (self.octaves - 1) + [share + extra]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for PNG metadata and logs."""
        d = dataclasses.asdict(self)
        d["thresholds"] = list(self.thresholds) if self.thresholds is not None else None
        return d


@dataclass(frozen=True)
class VisFrame:
    """One step of a run: the image after ``step`` updates and the objective measured at that step.

    ``tensor`` is the batch as float ``(B, 3, H, W)`` in [0, 1]; the uint8 views are made only when
    asked for (a UI drawing 10 frames a second skips the conversion of the others).
    """

    step: int
    steps: int
    loss: float  # the objective's value at this step (what is maximized: higher is better)
    tensor: torch.Tensor = field(repr=False)

    @cached_property
    def images(self) -> np.ndarray:
        """Every image of the batch, ``B x H x W x 3`` uint8."""
        t = self.tensor.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
        return t.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # (B, H, W, 3)

    @property
    def image(self) -> np.ndarray:
        """The first image, ``H x W x 3`` uint8."""
        return self.images[0]

    @property
    def done(self) -> bool:
        return self.step >= self.steps


def _make_config(config: FeatureVisConfig | None, overrides: dict[str, Any]) -> FeatureVisConfig:
    cfg = config if config is not None else FeatureVisConfig()
    if not isinstance(cfg, FeatureVisConfig):
        raise ValueError(f"config must be a FeatureVisConfig, got {type(cfg).__name__}")
    return with_overrides(cfg, overrides)


def _check_layers(model: LoadedModel, objective: Objective) -> None:
    """Every layer the objective reads exists (an unknown one lists the valid layers)."""
    for name in objective.layers:
        if name != LOGITS:
            model.check_layer(name)


def activations(
    model: LoadedModel, x: torch.Tensor, objective: Objective
) -> dict[str, torch.Tensor]:
    """The activations ``objective`` reads for ``x`` (B, 3, H, W) in [0, 1], with their graphs.

    Runs the shared model with hooks that are removed on exit. The forward pass stops after the
    last hooked layer unless the objective reads the logits.
    """
    hooked = [name for name in objective.layers if name != LOGITS]
    # channels-last input makes oneDNN pick its fast NHWC convolutions (about 2x on a CPU), with
    # no change to the shared model itself
    inputs = model.preprocess(x).contiguous(memory_format=torch.channels_last)  # (B, 3, H, W)
    if not hooked:
        return {LOGITS: model.module(inputs)}
    output = None
    with (
        capture(model.module, hooked, detach=False, stop=not objective.needs_logits) as store,
        contextlib.suppress(StopForward),
    ):
        output = model.module(inputs)  # (B, K) when it runs to the end
    missing_layers(hooked, store)
    acts = dict(store)
    if objective.needs_logits:
        acts[LOGITS] = output
    return acts


def _forward_fn(
    model: LoadedModel, objective: Objective
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """How one run gets its activations: a fast private copy of the network when it can.

    :func:`dreamlab.ascent.fastcopy.fast_model` (shared with DeepDream) is truncated after the
    deepest layer (or runs to the logits when the objective reads them), has its BatchNorms folded
    into the convolutions, is channels-last and carries no one else's hooks. Fully connected
    layers use the hooked shared model.
    """
    hooked = tuple(name for name in objective.layers if name != LOGITS)
    logits = objective.needs_logits
    keys = (*hooked, LOGITS) if logits else hooked
    try:
        fast = fast_model(model, hooked, output=logits)
    except ModelError:  # a layer without spatial maps: the plain path handles it
        return lambda x: activations(model, x, objective)
    return lambda x: dict(zip(keys, fast(model.preprocess(x)), strict=True))


def _per_sample(
    model: LoadedModel, objective: Objective, cfg: FeatureVisConfig
) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None:
    """A gallery on a CPU (reproducible path): each image's passes through the fast copy alone at
    one intra-op thread, run by the tile workers (:func:`dreamlab.ascent.tiles.sample_gradient`);
    None for one image, a GPU, the old path or a layer without a fast copy."""
    if cfg.batch < 2 or model.device.type != "cpu" or not reproducible():
        return None
    hooked = tuple(name for name in objective.layers if name != LOGITS)
    keys = (*hooked, LOGITS) if objective.needs_logits else hooked
    try:
        fast = fast_model(model, hooked, output=objective.needs_logits)
    except ModelError:
        return None

    def net(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return fast(model.preprocess(x))

    def loss(maps: Sequence[torch.Tensor]) -> torch.Tensor:
        return objective(dict(zip(keys, maps, strict=True)))

    return lambda x: sample_gradient(net, x, loss, workers=tile_workers())


def _network_input(
    x: torch.Tensor, model: LoadedModel, objective: Objective, zoom: float
) -> torch.Tensor:
    """The transformed image at the size the network sees: exactly its input size for logits (a
    classifier's dense layers may need it), else zoomed by ``zoom`` (1 = as is)."""
    if objective.needs_logits:
        s = model.spec.input_size
        return torch.nn.functional.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)
    return scale(x, zoom)  # (B, 3, H*zoom, W*zoom)


def _zoom(model: LoadedModel, cfg: FeatureVisConfig, side: int) -> float:
    """lucent upsamples images smaller than the network's input (it costs zoom^2 in compute)."""
    return model.spec.input_size / side if cfg.upsample and side < model.spec.input_size else 1.0


def visualize(
    model: LoadedModel,
    objective: Objective | str,
    config: FeatureVisConfig | None = None,
    **overrides: Any,
) -> Iterator[VisFrame]:
    """Optimize ``config.batch`` images from noise to maximize ``objective``; yield frames as it goes.

    ``objective`` is an :class:`Objective` or lucent's string form (``"_blocks.9:12"``). Settings come
    from ``config`` (default :class:`FeatureVisConfig`) with ``overrides`` applied. Bad settings, an
    unknown layer or an out-of-range channel raise ``ValueError`` with a one-line message, before
    the first frame.
    """
    cfg = _make_config(config, overrides)
    obj = as_objective(objective)
    require_model(model)
    _check_layers(model, obj)
    frames = _run(model, obj, cfg)
    # On a CPU every step runs at one intra-op thread (reproducible seeds, dreamlab.runtime.threads): the
    # same bytes whatever the load. Timed steps must be alike (one step per frame) to adapt.
    return govern(frames, model.device, adapt=cfg.thresholds is None)


def _image(cfg: FeatureVisConfig, side: int, gen: torch.Generator, device, prev) -> P.ImageParam:
    """The first octave's image from seeded noise; each later one from the last, enlarged."""
    kw = {"param": cfg.param, "decorrelate": cfg.decorrelate, "decay_power": cfg.decay_power}
    if prev is None:
        return P.image(side, batch=cfg.batch, sd=cfg.sd, generator=gen, device=device, **kw)
    with torch.no_grad():
        start = resize(prev(), (side, side))  # (B, 3, side, side) in (0, 1)
    return P.image_from(start, **kw)


def _run(model: LoadedModel, obj: Objective, cfg: FeatureVisConfig) -> Iterator[VisFrame]:
    gen = torch.Generator().manual_seed(cfg.seed)  # CPU generator: the same seed on any device
    transform = standard_transforms() if cfg.transforms else compose([])
    forward = _forward_fn(model, obj)
    split = _per_sample(model, obj, cfg)
    keep = set(cfg.thresholds) if cfg.thresholds is not None else None
    image, step = None, 0
    for side, count in zip(cfg.octave_sides(), cfg.octave_steps(), strict=True):
        image = _image(cfg, side, gen, model.device, image)
        adam = AdamStep(image.parameters(), cfg.lr)
        zoom = _zoom(model, cfg, side)
        for _ in range(count):
            step += 1
            x = _network_input(transform(image(), gen), model, obj, zoom)  # (B, 3, h, w)
            grad = None
            if split is None:
                value = obj(forward(x))  # scalar to maximize
            else:  # a gallery on a CPU: one image per task, the same bytes at any worker count
                value, grad = split(x)  # (B, 3, h, w) d value / d x
            loss = float(value.detach())
            if not math.isfinite(loss):
                raise DreamLabError(
                    f"the objective became {loss} at step {step}; try a lower lr",
                    "objective_not_finite",
                    value=str(loss),
                    step=step,
                )
            if grad is None:
                adam(value)
            else:  # the rest of the way back (transforms, parameterization) on this thread
                adam.optimizer.zero_grad(set_to_none=True)
                x.backward(-grad)
                adam.optimizer.step()
            if keep is None or step in keep or step == cfg.steps:
                with torch.no_grad():
                    shown = image().detach()  # (B, 3, H, W) after this step's update
                yield VisFrame(step, cfg.steps, loss, shown)


@torch.no_grad()
def objective_value(
    model: LoadedModel, objective: Objective | str, x: torch.Tensor, *, size: int | None = None
) -> float:
    """The objective for images ``x`` (B, 3, H, W) in [0, 1], untransformed.

    With ``size`` (a rendered image's side), ``x`` is zoomed as :func:`visualize` zooms it, so a
    rendered image and a photo are measured the same way.
    """
    obj = as_objective(objective)
    _check_layers(model, obj)
    x = x.to(model.device, torch.float32)
    zoom = (
        model.spec.input_size / size if size is not None and size < model.spec.input_size else 1.0
    )
    return float(obj(activations(model, _network_input(x, model, obj, zoom), obj)))


@torch.no_grad()
def layer_width(model: LoadedModel, layer_name: str) -> int:
    """Channels (or units) of a layer, from one cheap forward pass of a grey image."""
    model.check_layer(layer_name)
    s = model.spec.input_size
    x = torch.full((1, 3, s, s), 0.5, device=model.device)  # (1, 3, S, S)
    probe = Objective(lambda a: a[layer_name].sum(), (layer_name,), "probe")
    return int(activations(model, x, probe)[layer_name].shape[1])


def gallery(
    model: LoadedModel,
    layer_name: str,
    indices: Sequence[int],
    config: FeatureVisConfig | None = None,
    **overrides: Any,
) -> Iterator[VisFrame]:
    """Channels ``indices`` of a layer rendered as one batch: image ``i`` shows channel ``indices[i]``."""
    if not indices:
        raise ValueError("a gallery needs at least one channel")
    return visualize(
        model, channels(layer_name, indices), config, **{**overrides, "batch": len(indices)}
    )


def facets(
    model: LoadedModel,
    layer_name: str,
    n: int,
    count: int,
    weight: float = 10.0,
    config: FeatureVisConfig | None = None,
    **overrides: Any,
) -> Iterator[VisFrame]:
    """``count`` different images of one channel: the channel plus ``weight`` x batch diversity."""
    obj = channel(layer_name, n) + weight * diversity(layer_name)
    return visualize(model, obj, config, **{**overrides, "batch": count})
