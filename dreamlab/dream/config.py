"""The one frozen configuration of a dream, its checks, and the presets of the classic settings."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from dreamlab.ascent.objectives import DEEPDREAM_KINDS
from dreamlab.ascent.steppers import NORMALIZERS
from dreamlab.images import ImageError, as_uint8
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.validate import check_bool, check_choice, check_float, check_int, with_overrides

__all__ = [
    "LOSSES",
    "NORMALIZERS",
    "OBJECTIVES",
    "OCTAVE_MODES",
    "PRECISIONS",
    "PRESETS",
    "DreamConfig",
    "Fallback",
    "Preset",
    "make_config",
]

LOSSES = DEEPDREAM_KINDS  # the seed's ||A||, gordicaleksa's mean(A^2)
# what grows: the layer (or one channel of it, with ``channel``), one neuron (``channel`` at the
# centre), a direction in the layer's channel space, or a class logit
OBJECTIVES = ("layer", "neuron", "direction", "logit")
OCTAVE_MODES = ("detail", "rescale")  # carry only the dreamed detail up (seed, Google) or all of it
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
MAX_SIDE_RANGE = (32, 4096)


@dataclass(frozen=True)
class DreamConfig:
    """Every setting of one dream; the defaults here are DreamLab's (the CLI and the UI build these).

    The defaults dream a 512-px photo on the embedded EfficientNet-Lite0 in about a second on two
    CPU cores: 4 octaves x 10 iterations with Google's octave scale and roll jitter, the seed's loss
    and step. ``layers`` (pairs of layer and weight) overrides ``layer`` to dream several at once.
    """

    layer: str | None = None  # dotted name; None: the model's default layer
    channel: int | None = None  # amplify one channel of the layer instead of all of it
    objective: str = "layer"  # one of OBJECTIVES
    logit: int | None = None  # the class whose logit grows (objective "logit")
    direction: tuple[float, ...] | None = None  # one value per channel (objective "direction")
    transforms: bool = False  # also apply feature visualization's transforms at each step
    layers: tuple[tuple[str, float], ...] = ()  # several layers, each loss times its weight
    num_octaves: int = 4
    octave_scale: float = 1.4
    iterations: int = 10  # gradient steps per octave
    lr: float = 0.05  # each step moves pixels by lr / mean|g| * g (normalized units)
    jitter: int = 32  # random roll of up to this many pixels, undone after each step
    smoothing: float = 0.0  # 0: off; else gordicaleksa's Gaussian cascade coefficient (0.5)
    normalize: str = "mean_abs"
    loss: str = "norm"
    octave_mode: str = "detail"
    max_side: int = 512  # photos are downsized to this longer side first
    noise_size: tuple[int, int] | None = None  # (H, W) of a dream from noise; None: 3/4 x max_side
    seed: int = 0  # jitter and noise come from this seed: the same seed, the same dream (CPU)
    guide: np.ndarray | None = field(default=None, compare=False, repr=False)  # guided dream
    zoom_frames: int = 0  # zoom loop: dream the zoomed output again this many times
    zoom: float = 1.05  # zoom factor per loop frame (Google's 5 %)
    rotate: float = 0.0  # degrees per loop frame
    fit_octaves: bool = True  # drop octaves smaller than the network can see (else an error)
    precision: str = "auto"  # auto: bf16 (or fp16) autocast on CUDA, fp32 elsewhere
    channels_last: bool = True
    cuda_graphs: bool = True  # on CUDA, replay each octave's step from a captured graph

    def __post_init__(self) -> None:
        _normalize_fields(self)
        _check(self)

    def to_dict(self) -> dict[str, Any]:
        """Every setting as JSON-friendly values (the guide image as its size only)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "guide"}
        out["layers"] = [[name, weight] for name, weight in self.layers]
        out["noise_size"] = list(self.noise_size) if self.noise_size else None
        out["direction"] = list(self.direction) if self.direction is not None else None
        out["guide"] = list(self.guide.shape[:2]) if self.guide is not None else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DreamConfig:
        """The inverse of :meth:`to_dict` (unknown keys and the guide are ignored)."""
        names = {f.name for f in fields(cls)} - {"guide"}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_overrides(self, **overrides: Any) -> DreamConfig:
        """A copy with some settings changed; an unknown name is a one-line ``ValueError``."""
        return with_overrides(self, overrides, "dream")


def _normalize_fields(cfg: DreamConfig) -> None:
    """Accept friendly forms (a dict of layers, a list size, a PIL guide) and store canonical ones."""
    layers = cfg.layers
    if isinstance(layers, dict):
        layers = list(layers.items())
    if isinstance(layers, str):
        layers = [(layers, 1.0)]
    try:
        canon = tuple(
            (item, 1.0) if isinstance(item, str) else (str(item[0]), float(item[1]))
            for item in (layers or ())
        )
    except (TypeError, ValueError, IndexError):
        raise ValueError("layers must be pairs of (layer name, weight)") from None
    object.__setattr__(cfg, "layers", canon)
    if cfg.noise_size is not None:
        try:
            size = tuple(int(v) for v in cfg.noise_size)
        except (TypeError, ValueError):
            raise ValueError("noise_size must be (height, width) in pixels") from None
        object.__setattr__(cfg, "noise_size", size)
    if cfg.direction is not None:
        try:
            vector = tuple(float(v) for v in np.asarray(cfg.direction, dtype=float).ravel())
        except (TypeError, ValueError):
            raise ValueError("direction must be a list of numbers, one per channel") from None
        object.__setattr__(cfg, "direction", vector)
    if cfg.guide is not None and not (
        isinstance(cfg.guide, np.ndarray) and cfg.guide.dtype == np.uint8
    ):
        try:
            object.__setattr__(cfg, "guide", as_uint8(cfg.guide))
        except ImageError as exc:
            raise ValueError(f"guide: {exc}") from None


def _check_objective(cfg: DreamConfig) -> None:
    """The objective and the settings it needs (each setting only where it means something)."""
    check_choice("objective", cfg.objective, OBJECTIVES)
    if cfg.objective == "neuron" and cfg.channel is None:
        raise ValueError("objective neuron needs a channel (the neuron is that channel's centre)")
    if (cfg.objective == "logit") != (cfg.logit is not None):
        raise ValueError("a class logit is set with objective logit and logit=N, both or neither")
    if cfg.logit is not None:
        check_int("logit", cfg.logit, 0, 1_000_000)
    if (cfg.objective == "direction") != (cfg.direction is not None):
        raise ValueError(
            "a direction is set with objective direction and its vector, both or neither"
        )
    if cfg.direction is not None:
        for value in cfg.direction:
            check_float("each direction value", value, -1e6, 1e6)
        if not any(cfg.direction):
            raise ValueError("direction must be a non-zero vector")
    if cfg.objective in ("direction", "logit") and cfg.channel is not None:
        raise ValueError(f"objective {cfg.objective} takes no channel")
    if cfg.objective != "layer" and (len(cfg.layers) > 1 or cfg.guide is not None):
        raise ValueError(f"objective {cfg.objective} needs one layer and no guide image")
    if cfg.guide is not None and len(cfg.layers) > 1:
        raise ValueError("a guided dream follows one layer: remove the extra layers")


def _check(cfg: DreamConfig) -> None:
    """Refuse bad settings with one clear line (NaN, out of range, wrong type)."""
    if cfg.layer is not None and not isinstance(cfg.layer, str):
        raise ValueError(f"layer must be a layer name, got {cfg.layer!r}")
    if cfg.channel is not None:
        check_int("channel", cfg.channel, 0, 1_000_000)
    for name, weight in cfg.layers:
        check_float(f"weight of layer {name}", weight, -1000.0, 1000.0)
    if cfg.channel is not None and len(cfg.layers) > 1:
        raise ValueError("channel needs a single target layer (several layers are given)")
    check_int("num_octaves", cfg.num_octaves, 1, 12)
    check_float("octave_scale", cfg.octave_scale, 1.0, 4.0)
    check_int("iterations", cfg.iterations, 1, 1000)
    check_float("lr", cfg.lr, 0.0, 100.0, open_lo=True)
    check_int("jitter", cfg.jitter, 0, 1024)
    check_float("smoothing", cfg.smoothing, 0.0, 10.0)
    check_choice("normalize", cfg.normalize, NORMALIZERS)
    check_choice("loss", cfg.loss, LOSSES)
    check_choice("octave_mode", cfg.octave_mode, OCTAVE_MODES)
    check_int("max_side", cfg.max_side, *MAX_SIDE_RANGE)
    if cfg.noise_size is not None:
        if len(cfg.noise_size) != 2:
            raise ValueError("noise_size must be (height, width) in pixels")
        for side in cfg.noise_size:
            check_int("noise_size", side, 16, MAX_SIDE_RANGE[1])
    check_int("seed", cfg.seed, 0, 2**63 - 1)
    check_int("zoom_frames", cfg.zoom_frames, 0, 10_000)
    check_float("zoom", cfg.zoom, 0.5, 2.0)
    check_float("rotate", cfg.rotate, -180.0, 180.0)
    check_choice("precision", cfg.precision, PRECISIONS)
    for flag in ("fit_octaves", "channels_last", "cuda_graphs", "transforms"):
        check_bool(flag, getattr(cfg, flag))
    _check_objective(cfg)


@dataclass(frozen=True)
class Fallback:
    """The closest recipe on another network when a preset's own network is not here.

    ``layer`` is the one of ``model`` whose role matches the original layer's (same depth in the
    network, same kind of patterns), ``config`` the settings to dream it with. A dream made with it
    is the *closest recipe*, never labelled with the preset's name.
    """

    model: str
    layer: str
    config: DreamConfig
    why: str


@dataclass(frozen=True)
class Preset:
    """A classic setting: the dream's parameters and the network and layer it was made for."""

    name: str
    description: str
    config: DreamConfig
    model: str | None = None  # the network of the original (its layer applies only there)
    layer: str | None = None
    fallback: Fallback | None = None  # the closest recipe on the embedded model

    def config_for(self, model_name: str, **overrides: Any) -> DreamConfig:
        """The preset's config for ``model_name``: its own layer on its own network, else default."""
        layer = self.layer if model_name == self.model else None
        return self.config.with_overrides(**{"layer": layer, **overrides})

    def label_for(self, model_name: str) -> str | None:
        """The preset's name as a dream's label: only on its own network (else None)."""
        return self.name if self.model in (None, model_name) else None


# The classic settings; each ``fallback`` is the documented mapping to the embedded model's layer
# of the same depth (used when the original network's weights are not here).
_SEED = DreamConfig(num_octaves=4, octave_scale=2.0, iterations=25, lr=0.02, jitter=0)
_GOOGLE = DreamConfig(num_octaves=4, octave_scale=1.4, iterations=10, lr=0.026, jitter=32)
_GORDIC = DreamConfig(
    num_octaves=4,
    octave_scale=1.8,
    iterations=10,
    lr=0.09,
    jitter=32,
    smoothing=0.5,
    normalize="std",
    loss="mean_square",
    octave_mode="rescale",
)

PRESETS: dict[str, Preset] = {
    "default": Preset(
        "default",
        "DreamLab's: 4 octaves x 10 steps at scale 1.4 with 32-px jitter, the seed's loss and step",
        DreamConfig(),
    ),
    "seed": Preset(
        "seed",
        "the blog's VGG19: at_layer=26, 4 octaves at scale 2, 25 iterations, lr 0.02, no jitter",
        _SEED,
        model="vgg19",
        layer="features.26",
        fallback=Fallback(
            DEFAULT_MODEL,
            "_blocks.9",
            _SEED,
            "block 9 (stride 16, 80 channels) is as deep as relu4_4: eyes, fur and snouts",
        ),
    ),
    # Google's step 1.5 / mean|g| is in Caffe's 0-255 pixels; DreamLab steps in ImageNet-normalized
    # units (pixels / 255 / std, std about 0.226): 1.5 / 255 / 0.226 = 0.026.
    "google2015": Preset(
        "google2015",
        "google/deepdream: GoogLeNet inception_4c, 4 octaves at 1.4, 10 steps of 1.5 px, jitter 32",
        _GOOGLE,
        model="googlenet",
        layer="inception4c",
        fallback=Fallback(
            DEFAULT_MODEL,
            "_blocks.10",
            _GOOGLE,
            "block 10 (stride 16, 112 channels) matches inception_4c's depth: animal parts",
        ),
    ),
    "gordic": Preset(
        "gordic",
        "gordicaleksa/pytorch-deepdream: VGG16 relu3_3, pyramid 4 x 1.8 rescaling the image, "
        "10 steps of lr 0.09 on a smoothed, standardized gradient, mean-square loss, jitter 32",
        _GORDIC,
        model="vgg16",
        layer="features.15",
        fallback=Fallback(
            DEFAULT_MODEL,
            "_blocks.5",
            _GORDIC,
            "block 5 (stride 8, 40 channels) is as shallow as relu3_3: swirls and stripes",
        ),
    ),
}


def make_config(
    config: DreamConfig | None = None, preset: str | None = None, **overrides: Any
) -> DreamConfig:
    """``config`` (or a preset's, or the defaults) with ``overrides`` applied, all checked."""
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        if config is not None:
            raise ValueError("give a config or a preset, not both")
        base = PRESETS[preset].config
    else:
        base = config or DreamConfig()
    if not isinstance(base, DreamConfig):
        raise ValueError(f"config must be a DreamConfig, got {type(base).__name__}")
    return base.with_overrides(**overrides) if overrides else base
