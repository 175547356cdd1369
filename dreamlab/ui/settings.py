"""Each page's settings as one typed, frozen object: widget values are keys and numbers, never labels.

A field says how it travels (:class:`Param`): its short query key in the address, the widget key
that shows it (``{model}`` and ``{layer}`` are filled from the settings themselves), and how its
text is read back (a parser that raises ``ValueError`` on a bad value). Defaults come from the
engine configs (``DreamConfig``, ``FeatureVisConfig``, ``TrainConfig``) and convolution's presets.
Nothing here imports streamlit: ``query.py`` moves these objects in and out of the session and the
address.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from dreamlab.convolution import BOUNDARIES, MODES, PRESETS
from dreamlab.dream.coherence import METHODS as COHERENCES
from dreamlab.dream.config import PRESETS as DREAM_PRESETS
from dreamlab.dream.config import DreamConfig
from dreamlab.dream.video import VideoConfig
from dreamlab.live import MODES as LIVE_MODES
from dreamlab.live import ConvolutionSettings as LiveConvolution
from dreamlab.live import DreamSettings as LiveDream
from dreamlab.live import MapsSettings as LiveMaps
from dreamlab.models.spec import DEFAULT_MODEL
from dreamlab.optvis.render import FeatureVisConfig
from dreamlab.train.config import TrainConfig

__all__ = [
    "CLASS_SOURCE",
    "CONV_TABS",
    "CONV_VIEWS",
    "CUSTOM_KERNEL",
    "ConvSettings",
    "DREAM_MAX_SIDES",
    "DREAM_MEDIA",
    "DREAM_TARGETS",
    "DreamSettings",
    "LIVE_CARRIES",
    "LIVE_KERNEL_SIZES",
    "LIVE_MODES",
    "LiveSettings",
    "MapsSettings",
    "PAGE_SETTINGS",
    "Param",
    "TRAIN_BATCHES",
    "TRAIN_LRS",
    "TRAIN_SIZES",
    "TrainSettings",
    "VIDEO_CLIPS",
    "VIDEO_FIELDS",
    "VIDEO_FPS",
    "VIDEO_SIDES",
    "VIS_KINDS",
    "VIS_SIZES",
    "VIS_TABS",
    "VisSettings",
    "decode_kernel",
    "dream_from_params",
    "from_query",
    "to_query",
    "encode_kernel",
    "param_of",
    "widget_key",
]

S = TypeVar("S")

# The option lists the pages' widgets offer (one place: the address is checked against them).
DREAM_MAX_SIDES: tuple[int, ...] = (128, 192, 256, 384, 512, 768, 1024)
DREAM_TARGETS: tuple[str, ...] = ("layer", "neuron", "logit")
VIS_KINDS: tuple[str, ...] = ("channel", "neuron", "class", "layer")
VIS_SIZES: tuple[int, ...] = (64, 96, 128, 160, 192, 224, 256)
VIS_TABS: tuple[str, ...] = ("single", "compare", "gallery")
TRAIN_LRS: tuple[float, ...] = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
TRAIN_BATCHES: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256)
TRAIN_SIZES: tuple[int, ...] = (200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
DREAM_MEDIA: tuple[str, ...] = ("photo", "video")  # the DeepDream page's source
VIDEO_CLIPS: tuple[str, ...] = ("builtin", "upload")
VIDEO_SIDES: tuple[int, ...] = (128, 192, 256, 384, 512)
VIDEO_FPS: tuple[int, ...] = (4, 6, 8, 12, 15, 24, 30)
CONV_TABS: tuple[str, ...] = ("multi", "inspect", "slide")
CONV_VIEWS: tuple[str, ...] = ("abs", "signed", "clip")  # abs first: the seed showed abs(output)
CUSTOM_KERNEL = "custom"
CLASS_SOURCE = "__class__"  # the image pickers' choice for a class's shared photo
LIVE_KERNEL_SIZES: tuple[int, ...] = (3, 5, 7, 9, 11)
LIVE_CARRIES: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(20))  # 0 .. 0.95
_KERNEL_SIDES = (1, 3, 5, 7, 9, 11)
_MAX_TEXT = 400  # longer query values are refused before any parsing


@dataclass(frozen=True)
class Param:
    """How one setting travels: query key, widget key, parser (raises ValueError) and writer."""

    query: str
    widget: str | None
    parse: Callable[[str], Any]
    dump: Callable[[Any], str] = str


def _setting(default: Any, query: str, widget: str | None, parse, dump=str) -> Any:
    return field(default=default, metadata={"param": Param(query, widget, parse, dump)})


def param_of(f) -> Param:
    """The :class:`Param` of a settings dataclass field."""
    return f.metadata["param"]


def widget_key(settings: object, param: Param) -> str | None:
    """The widget key of ``param`` for these settings (``dd_layer_{model}`` filled in)."""
    if param.widget is None:
        return None
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    return param.widget.format(**values)


# ---------------------------------------------------------------- parsers (text -> value)


def _text(text: str) -> str:
    if len(text) > _MAX_TEXT:
        raise ValueError("too long")
    return text.strip()


def choice(options: Sequence[str] | Callable[[], Sequence[str]]) -> Callable[[str], str]:
    """One of ``options`` (a list, or a function giving it when the address is read)."""

    def parse(text: str) -> str:
        allowed = options() if callable(options) else options
        value = _text(text)
        if value not in allowed:
            raise ValueError(f"not one of {', '.join(map(str, allowed))}")
        return value

    return parse


def integer(lo: int, hi: int) -> Callable[[str], int]:
    """A whole number in ``lo..hi``."""

    def parse(text: str) -> int:
        value = int(_text(text))
        if not lo <= value <= hi:
            raise ValueError(f"not in {lo}..{hi}")
        return value

    return parse


def number(lo: float, hi: float) -> Callable[[str], float]:
    """A finite number in ``lo..hi``."""

    def parse(text: str) -> float:
        value = float(_text(text))
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"not in {lo}..{hi}")
        return value

    return parse


def one_of(values: Sequence[float]) -> Callable[[str], Any]:
    """One of a slider's numbers (``0.001`` and ``1e-3`` both read as 0.001)."""

    def parse(text: str) -> Any:
        value = float(_text(text))
        for v in values:
            if math.isclose(v, value, rel_tol=1e-9):
                return v
        raise ValueError(f"not one of {', '.join(map(str, values))}")

    return parse


def boolean(text: str) -> bool:
    """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``."""
    value = _text(text).lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("not 0 or 1")


def _dump_bool(value: bool) -> str:
    return "1" if value else "0"


def _dump_num(value: float) -> str:
    return format(value, "g")


def name(text: str) -> str:
    """A layer-like name: letters, digits, ``._-`` (checked against the model by the page)."""
    value = _text(text)
    if not value or len(value) > 120 or not all(c.isalnum() or c in "._-" for c in value):
        raise ValueError("not a layer name")
    return value


def _samples() -> list[str]:
    from dreamlab.images import sample_names

    return sample_names()


def _models() -> list[str]:
    from dreamlab.models import list_models

    return [info.name for info in list_models()]


def encode_kernel(kernel: Sequence[Sequence[float]]) -> str:
    """A kernel as text for the address: rows split by ``;``, values by ``,`` (``1,0,-1;...``)."""
    return ";".join(",".join(format(float(v), "g") for v in row) for row in kernel)


def decode_kernel(text: str) -> tuple[tuple[float, ...], ...]:
    """The inverse of :func:`encode_kernel`: a square kernel of odd side up to 11, finite values."""
    rows = [row.split(",") for row in _text(text).split(";")]
    side = len(rows)
    if side not in _KERNEL_SIDES or any(len(r) != side for r in rows):
        raise ValueError("not a square kernel of odd side up to 11")
    values = tuple(tuple(float(v) for v in row) for row in rows)
    if not all(math.isfinite(v) and abs(v) <= 1e6 for row in values for v in row):
        raise ValueError("not finite")
    return values


def _padding(text: str) -> int | str:
    value = _text(text)
    if value in ("same", "valid"):
        return value
    return integer(0, 20)(value)


# ---------------------------------------------------------------- the pages' settings

_DREAM = DreamConfig()
_VIS = FeatureVisConfig()
_TRAIN = TrainConfig()
_VIDEO = VideoConfig()
_LIVE_CONV = LiveConvolution(kernel=((0.0,),))  # its defaults (the kernel is the page's own)
_LIVE_MAPS = LiveMaps(layer="")
_LIVE_DREAM = LiveDream()


@dataclass(frozen=True)
class ConvSettings:
    """The Convolution page: the seed's figure by default (horizontal edges on a grey photo)."""

    image: str = _setting("chelsea", "img", "conv_source", choice(_samples))
    color: str = _setting("gray", "c", "conv_color", choice(("gray", "rgb")))
    view: str = _setting("abs", "v", "conv_view", choice(CONV_VIEWS))
    kernel: str = _setting("horizontal_edge", "k", "conv_preset", choice((*PRESETS, CUSTOM_KERNEL)))
    size: int = _setting(3, "n", None, one_of(_KERNEL_SIDES))  # its slider: preset's or custom
    # the edited weights, when they differ from the preset's (None: the preset as it is)
    weights: tuple[tuple[float, ...], ...] | None = _setting(
        None, "w", None, decode_kernel, encode_kernel
    )
    normalise: bool = _setting(False, "norm", "conv_normalise", boolean, _dump_bool)
    stride: int = _setting(1, "s", "conv_stride", integer(1, 8))
    padding: int | str = _setting(0, "p", None, _padding)
    dilation: int = _setting(1, "d", "conv_dilation", integer(1, 8))
    mode: str = _setting("correlate", "m", "conv_mode", choice(MODES))
    boundary: str = _setting("zeros", "b", "conv_boundary", choice(BOUNDARIES))
    tab: str = _setting("multi", "tab", None, choice(CONV_TABS))


@dataclass(frozen=True)
class MapsSettings:
    """The Feature maps page (``layer`` None: the model's default layer)."""

    model: str = _setting(DEFAULT_MODEL, "m", "fm_model", choice(_models))
    image: str = _setting("chelsea", "img", "fm_source", choice(_samples))
    layer: str | None = _setting(None, "l", "fm_layer_{model}", name)
    channel: int | None = _setting(None, "ch", "fm_channel_{model}_{layer}", integer(0, 1 << 16))
    count: int | None = _setting(None, "n", "fm_count", integer(3, 48))  # None: 12, 6 presenting
    scaling: str = _setting("per_channel", "sc", "fm_scaling", choice(("per_channel", "shared")))
    order: str = _setting("std", "o", "fm_order", choice(("std", "mean")))


@dataclass(frozen=True)
class DreamSettings:
    """The DeepDream page's form (numbers from :class:`DreamConfig`)."""

    model: str = _setting(DEFAULT_MODEL, "m", "dd_model", choice(_models))
    image: str = _setting("chelsea", "img", "dd_source", choice(_samples))
    preset: str = _setting("default", "pre", "dd_preset", choice(tuple(DREAM_PRESETS)))
    layer: str | None = _setting(None, "l", "dd_layer_{model}", name)
    octaves: int = _setting(_DREAM.num_octaves, "o", "dd_octaves", integer(1, 8))
    iterations: int = _setting(_DREAM.iterations, "it", "dd_iterations", integer(1, 50))
    lr: float = _setting(_DREAM.lr, "lr", "dd_lr", number(0.001, 0.3), _dump_num)
    max_side: int = _setting(_DREAM.max_side, "ms", "dd_max_side", one_of(DREAM_MAX_SIDES))
    noise: bool = _setting(False, "noise", "dd_noise", boolean, _dump_bool)
    channel: int | None = _setting(_DREAM.channel, "ch", "dd_channel", integer(0, 1 << 16))
    objective: str = _setting("layer", "obj", "dd_target", choice(DREAM_TARGETS))
    logit: int = _setting(281, "cls", "dd_logit", integer(0, 100_000))
    octave_scale: float = _setting(
        _DREAM.octave_scale, "os", "dd_scale", number(1.1, 2.5), _dump_num
    )
    jitter: int = _setting(_DREAM.jitter, "j", "dd_jitter", integer(0, 64))
    smoothing: float = _setting(_DREAM.smoothing, "sm", "dd_smoothing", number(0, 2), _dump_num)
    seed: int = _setting(_DREAM.seed, "seed", "dd_seed", integer(0, 2**31 - 1))
    # the video source (ui/parts/video_dream.py; numbers from VideoConfig): an uploaded clip cannot
    # travel in a link (clip=upload is left out of it, like an uploaded photo)
    media: str = _setting("photo", "src", "dd_media", choice(DREAM_MEDIA))
    clip: str = _setting("builtin", "clip", "dv_clip", choice(VIDEO_CLIPS))
    coherence: str = _setting(_VIDEO.coherence, "coh", "dv_coherence", choice(COHERENCES))
    blend: float = _setting(_VIDEO.blend, "bl", "dv_blend", number(0, 1), _dump_num)
    start: float = _setting(_VIDEO.start, "t0", "dv_start", number(0, 1e5), _dump_num)
    end: float = _setting(0.0, "t1", "dv_end", number(0, 1e5), _dump_num)  # 0: the clip's end
    fps: int = _setting(12, "fps", "dv_fps", one_of(VIDEO_FPS))
    frame_side: int = _setting(_VIDEO.max_side, "fs", "dv_side", one_of(VIDEO_SIDES))
    compare: bool = _setting(False, "cmp", "dv_compare", boolean, _dump_bool)


# the DreamSettings fields of the video source (ui/parts/video_dream.py reads their widgets)
VIDEO_FIELDS: tuple[str, ...] = (
    "media", "clip", "coherence", "blend", "start", "end", "fps", "frame_side", "compare",
)  # fmt: skip


@dataclass(frozen=True)
class VisSettings:
    """The Feature visualization page (numbers from :class:`FeatureVisConfig`)."""

    model: str = _setting(DEFAULT_MODEL, "m", "fv_model", choice(_models))
    kind: str = _setting("channel", "obj", "fv_kind", choice(VIS_KINDS))
    layer: str | None = _setting(None, "l", "fv_layer_{model}", name)
    channel: int = _setting(0, "ch", "fv_channel_{model}_{layer}", integer(0, 1 << 16))
    cls: int = _setting(281, "cls", "fv_class_{model}", integer(0, 100_000))
    steps: int = _setting(_VIS.steps, "st", "fv_steps", integer(16, 512))
    size: int = _setting(_VIS.size, "sz", "fv_size", one_of(VIS_SIZES))
    param: str = _setting(_VIS.param, "par", "fv_param", choice(("fft", "pixel")))
    decorrelate: bool = _setting(_VIS.decorrelate, "dec", "fv_decorrelate", boolean, _dump_bool)
    transforms: bool = _setting(_VIS.transforms, "tr", "fv_transforms", boolean, _dump_bool)
    octaves: int = _setting(_VIS.octaves, "o", "fv_octaves", integer(1, 4))
    seed: int = _setting(_VIS.seed, "seed", "fv_seed", integer(0, 2**31 - 1))
    tab: str = _setting("single", "tab", None, choice(VIS_TABS))


def _datasets() -> list[str]:
    from dreamlab.train.datasets import DATASETS

    return list(DATASETS)


@dataclass(frozen=True)
class TrainSettings:
    """The Train a CNN page (numbers from :class:`TrainConfig`; ``size`` None: the set's own)."""

    dataset: str = _setting(_TRAIN.dataset, "ds", "train_dataset", choice(_datasets))
    optimizer: str = _setting(_TRAIN.optimizer, "opt", "train_optimizer", choice(("adam", "sgd")))
    lr: float = _setting(_TRAIN.lr, "lr", "train_lr", one_of(TRAIN_LRS), _dump_num)
    batch: int = _setting(_TRAIN.batch_size, "bs", "train_batch", one_of(TRAIN_BATCHES))
    epochs: int = _setting(_TRAIN.epochs, "ep", "train_epochs", integer(1, 30))
    momentum: float = _setting(_TRAIN.momentum, "mom", "train_momentum", number(0, 0.99), _dump_num)
    size: int | None = _setting(None, "n", "train_size_{dataset}", one_of(TRAIN_SIZES))
    seed: int = _setting(_TRAIN.seed, "seed", "train_seed", integer(0, 10**6))


def _live_source(text: str) -> str:
    """``?live=``: ``snapshots`` (also ``off``, ``0``) or ``auto`` (live video where it can)."""
    value = _text(text).lower()
    if value in ("snapshots", "off", "0"):
        return "snapshots"
    if value in ("auto", "on", "1", "live"):
        return "auto"
    raise ValueError("not snapshots or auto")


@dataclass(frozen=True)
class LiveSettings:
    """The Live camera page: its mode and each mode's settings (numbers from ``dreamlab.live``).

    ``maps_layer`` None: the page's default for the maps (the model's fifth layer);
    ``dream_layer`` None: the model's default layer; ``weights``: the custom kernel, when it
    differs from the page's own; ``live``: ``snapshots`` takes photos instead of live video.
    """

    mode: str = _setting(LIVE_MODES[0], "mode", "live_mode", choice(LIVE_MODES))
    kernel: str = _setting("horizontal_edge", "k", "live_preset", choice((*PRESETS, CUSTOM_KERNEL)))
    size: int = _setting(3, "n", "live_size", one_of(LIVE_KERNEL_SIZES))
    weights: tuple[tuple[float, ...], ...] | None = _setting(
        None, "w", None, decode_kernel, encode_kernel
    )
    color: str = _setting(_LIVE_CONV.color, "c", "live_color", choice(("gray", "rgb")))
    stride: int = _setting(_LIVE_CONV.stride, "s", "live_stride", integer(1, 4))
    dilation: int = _setting(_LIVE_CONV.dilation, "d", "live_dilation", integer(1, 4))
    view: str = _setting(_LIVE_CONV.view, "v", "live_view", choice(CONV_VIEWS))
    model: str = _setting(DEFAULT_MODEL, "m", "live_model", choice(_models))
    maps_layer: str | None = _setting(None, "l", "live_fm_layer_{model}", name)
    count: int = _setting(_LIVE_MAPS.count, "cnt", "live_count", integer(2, 12))
    dream_layer: str | None = _setting(None, "dl", "live_dream_layer_{model}", name)
    steps: int = _setting(_LIVE_DREAM.steps, "st", "live_steps", integer(1, 6))
    carry: float = _setting(_LIVE_DREAM.carry, "cy", "live_carry", one_of(LIVE_CARRIES), _dump_num)
    live: str = _setting("auto", "live", None, _live_source)


# page name (as in ui/app.py's PAGES) -> its settings class
PAGE_SETTINGS: dict[str, type] = {
    "convolution": ConvSettings,
    "feature_maps": MapsSettings,
    "deepdream": DreamSettings,
    "live_camera": LiveSettings,
    "feature_vis": VisSettings,
    "train": TrainSettings,
}


def from_query(cls: type[S], params: dict[str, str]) -> tuple[S, list[str]]:
    """Settings from an address's parameters, and the ``key=value`` items ignored (each at its
    default): unknown keys and values that do not parse. Never raises."""
    by_key = {param_of(f).query: f for f in fields(cls)}
    values: dict[str, Any] = {}
    ignored: list[str] = []
    for key, text in params.items():
        f = by_key.get(key)
        if f is None:
            ignored.append(_item(key, text))
            continue
        try:
            values[f.name] = param_of(f).parse(str(text))
        except (ValueError, TypeError, OverflowError):
            ignored.append(_item(key, text))
    return cls(**values), ignored


def to_query(settings: object) -> dict[str, str]:
    """The settings that differ from their defaults, as ``{query key: text}`` (short addresses).

    A photo that is not a bundled sample (an upload) cannot travel in a link: it is left out.
    """
    out: dict[str, str] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value == f.default or value is None:
            continue
        if f.name == "image" and value not in _samples():
            continue
        if f.name == "clip" and value == "upload":
            continue  # an uploaded clip cannot travel either
        if f.name == "layer" and value == _default_layer(getattr(settings, "model", "")):
            continue  # the model's own default layer is a default too
        p = param_of(f)
        out[p.query] = p.dump(value)
    return out


def _default_layer(model: str) -> str | None:
    """A registered model's default layer (None for a model of one session only)."""
    from dreamlab.models.registry import get_spec

    try:
        return get_spec(model).default_layer
    except (KeyError, ValueError):
        return None


def _item(key: str, text: object) -> str:
    """``key=value`` for the ignored-settings line, cut short (a hostile value can be huge)."""
    shown = f"{key}={text}"
    shown = "".join(c if c.isprintable() else "?" for c in shown)
    return shown if len(shown) <= 40 else shown[:39] + "…"


# DreamSettings field -> the DreamConfig field a dream's recorded parameters hold it in
_DREAM_CONFIG_FIELDS = {
    "layer": "layer",
    "octaves": "num_octaves",
    "iterations": "iterations",
    "lr": "lr",
    "max_side": "max_side",
    "channel": "channel",
    "objective": "objective",
    "logit": "logit",
    "octave_scale": "octave_scale",
    "jitter": "jitter",
    "smoothing": "smoothing",
    "seed": "seed",
}


def dream_from_params(params: Mapping[str, Any]) -> DreamSettings:
    """A dream's recorded parameters (``dream_params``: model, config, preset, source; what the
    class broadcast carries) as the DeepDream page's settings, checked like an address: what is
    missing or unusable keeps its default."""
    cfg = params.get("config") or {}
    keys = {f.name: param_of(f).query for f in fields(DreamSettings)}
    text = {
        keys[name]: cfg[key]
        for name, key in _DREAM_CONFIG_FIELDS.items()
        if cfg.get(key) is not None
    }
    for name in ("model", "preset"):
        if params.get(name):
            text[keys[name]] = params[name]
    source = str(params.get("source") or "")
    stem = source.rsplit(".", 1)[0]
    if stem in _samples():
        text[keys["image"]] = stem
    if source == "noise":
        text[keys["noise"]] = "1"
    settings, _ = from_query(DreamSettings, {k: str(v) for k, v in text.items()})
    return settings
