"""Objectives: what gradient ascent maximizes (DeepDream and feature visualization alike).

An :class:`Objective` names the layers it reads and maps their activations (a dict ``layer ->
tensor``, the model's output under :data:`LOGITS`) to one scalar **to maximize** (higher is better;
the renderer minimizes its negative). Objectives compose: ``a + b``, ``a - b``, ``2 * a``, ``-a``.

One DeepDream family (:func:`deepdream`) with the seed's ``||A||`` and gordicaleksa's / lucent's
``mean(A^2)`` as its two kinds, and Google's guided objective (:func:`guide`), sit next to lucent's
channel, neuron, direction, class logit and diversity.

The string form works like lucent's: ``"_blocks.9:12"`` is channel 12 of ``_blocks.9``, ``"_blocks.9"``
the whole layer (the DeepDream objective), ``"logits:281"`` (or ``"labels:281"``) the class logit.
Layer names are PyTorch's dotted ``named_modules()`` names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "DEEPDREAM_KINDS",
    "LOGITS",
    "Objective",
    "as_objective",
    "channel",
    "channels",
    "class_logit",
    "deepdream",
    "deepdream_loss",
    "direction",
    "diversity",
    "guide",
    "guided_loss",
    "layer",
    "neuron",
]

# The key under which the model's output (class logits) is handed to objectives.
LOGITS = "logits"
DEEPDREAM_KINDS = ("norm", "mean_square")  # the seed's ||A||, gordicaleksa's and lucent's mean(A^2)

Activations = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """A scalar to maximize, computed from the activations of ``layers``."""

    fn: Callable[[Activations], torch.Tensor]
    layers: tuple[str, ...]
    name: str

    def __call__(self, acts: Activations) -> torch.Tensor:
        return self.fn(acts)

    @property
    def needs_logits(self) -> bool:
        """Whether the whole network must run (the objective reads the model's output)."""
        return LOGITS in self.layers

    def __add__(self, other: Objective | float) -> Objective:
        if isinstance(other, int | float):
            k = _finite(other)
            return Objective(lambda a: self(a) + k, self.layers, f"{self.name} + {k:g}")
        if not isinstance(other, Objective):
            return NotImplemented
        return Objective(
            lambda a: self(a) + other(a),
            _union(self.layers, other.layers),
            f"{self.name} + {other.name}",
        )

    __radd__ = __add__

    def __neg__(self) -> Objective:
        return Objective(lambda a: -self(a), self.layers, f"-{_wrap(self.name)}")

    def __sub__(self, other: Objective | float) -> Objective:
        if not isinstance(other, Objective | int | float):
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other: float) -> Objective:
        return (-self) + other

    def __mul__(self, k: float) -> Objective:
        if not isinstance(k, int | float):
            return NotImplemented  # objective * objective is not supported: the scale is ambiguous
        k = _finite(k)
        return Objective(lambda a: k * self(a), self.layers, f"{k:g} * {_wrap(self.name)}")

    __rmul__ = __mul__

    def __truediv__(self, k: float) -> Objective:
        if not isinstance(k, int | float):
            return NotImplemented
        if k == 0:
            raise ValueError("cannot divide an objective by zero")
        return self * (1.0 / k)


def _finite(k: float) -> float:
    if isinstance(k, bool) or not math.isfinite(k):
        raise ValueError(f"an objective's weight must be a finite number, got {k!r}")
    return float(k)


def _wrap(name: str) -> str:
    return f"({name})" if " + " in name or " - " in name else name


def _union(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*a, *b]))


def _rows(t: torch.Tensor, batch: int | None) -> torch.Tensor:
    """All batch rows of ``t``, or just row ``batch`` (kept as a batch of one)."""
    if batch is None:
        return t
    if not 0 <= batch < t.shape[0]:
        raise ValueError(f"batch index {batch} is out of range for a batch of {t.shape[0]}")
    return t[batch : batch + 1]


def _unit(t: torch.Tensor, index: int, layer_name: str) -> torch.Tensor:
    """Channel (or unit) ``index`` of ``t`` (B, C, ...), with a one-line error when out of range."""
    count = t.shape[1]
    if not 0 <= index < count:
        if layer_name == LOGITS:
            raise ValueError(
                f"class {index} is out of range: the model has {count} classes (0-{count - 1})"
            )
        raise ValueError(
            f"channel {index} is out of range: {layer_name} has {count} channels (0-{count - 1})"
        )
    return t[:, index]  # (B, ...)


def channel(layer_name: str, n: int, *, batch: int | None = None) -> Objective:
    """Mean activation of channel ``n`` of a layer (over positions, and the batch or one image)."""

    def fn(acts: Activations) -> torch.Tensor:
        return _unit(_rows(acts[layer_name], batch), n, layer_name).mean()

    return Objective(fn, (layer_name,), f"channel({layer_name}:{n})")


def neuron(
    layer_name: str, n: int, *, x: int | None = None, y: int | None = None, batch: int | None = None
) -> Objective:
    """Activation of channel ``n`` at one position (the centre of the map unless ``x``, ``y`` given)."""

    def fn(acts: Activations) -> torch.Tensor:
        t = _unit(_rows(acts[layer_name], batch), n, layer_name)  # (B, h, w) or (B,)
        if t.dim() == 1:  # a fully connected layer: a unit has no position
            return t.mean()
        h, w = t.shape[-2:]
        yy, xx = (h // 2 if y is None else y), (w // 2 if x is None else x)
        if not (0 <= yy < h and 0 <= xx < w):
            raise ValueError(f"position ({xx}, {yy}) is outside the {w}x{h} map of {layer_name}")
        return t[:, yy, xx].mean()

    where = "" if x is None and y is None else f"@{x},{y}"
    return Objective(fn, (layer_name,), f"neuron({layer_name}:{n}{where})")


def deepdream_loss(
    act: torch.Tensor, kind: str = "norm", channel: int | None = None
) -> torch.Tensor:
    """The DeepDream quantity: ``||A||`` (the seed, ``kind="norm"``) or ``mean(A^2)`` (gordicaleksa).

    ``act`` is a layer's output ``(B, C, h, w)``; with ``channel`` only that channel counts.
    Computed in float32 whatever the autocast dtype (a norm of many fp16 values overflows).
    """
    a = act.float()  # (B, C, h, w)
    if channel is not None:
        a = a[:, channel]  # (B, h, w)
    return a.norm() if kind == "norm" else a.square().mean()


def deepdream(
    layer_name: str,
    *,
    kind: str = "mean_square",
    channel: int | None = None,
    batch: int | None = None,
) -> Objective:
    """The DeepDream objective on a layer (every feature at once, or one ``channel``).

    ``kind`` is ``"mean_square"`` (lucent's ``deepdream``, the default here) or ``"norm"`` (the
    seed's, what :func:`dreamlab.dream` uses by default).
    """
    if kind not in DEEPDREAM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DEEPDREAM_KINDS)}; got {kind!r}")

    def fn(acts: Activations) -> torch.Tensor:
        t = _rows(acts[layer_name], batch)  # (B, C, h, w)
        if channel is not None:
            _unit(t, channel, layer_name)  # range check, one line
        return deepdream_loss(t, kind, channel)

    if kind == "mean_square" and channel is None:
        return Objective(fn, (layer_name,), f"layer({layer_name})")
    where = "" if channel is None else f":{channel}"
    return Objective(fn, (layer_name,), f"deepdream({layer_name}{where}, {kind})")


layer = deepdream  # lucent's name for the same objective (mean square by default)


def guided_loss(act: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Google's guided objective: each position follows the guide feature it best matches.

    ``act`` (1, C, h, w), ``features`` (C, M) of the guide image at the same layer. The gradient
    with respect to the features at each position is the guide feature with the largest dot
    product there (``y[:, argmax(x.T @ y)]``).
    """
    x = act.float().flatten(2)[0]  # (C, N)
    with torch.no_grad():
        best = (x.T @ features).argmax(dim=1)  # (N,)
    return (x * features[:, best]).sum()


def guide(layer_name: str, features: torch.Tensor) -> Objective:
    """A guided dream: follow the guide image's ``features`` (C, M) at ``layer_name``."""
    return Objective(
        lambda acts: guided_loss(acts[layer_name], features), (layer_name,), f"guide({layer_name})"
    )


def class_logit(n: int, *, batch: int | None = None) -> Objective:
    """The logit of class ``n`` (before the softmax: the softmax could also rise by lowering others)."""

    def fn(acts: Activations) -> torch.Tensor:
        return _unit(_rows(acts[LOGITS], batch), n, LOGITS).mean()

    return Objective(fn, (LOGITS,), f"class({n})")


def direction(
    layer_name: str, vector: Sequence[float] | torch.Tensor, *, batch: int | None = None
) -> Objective:
    """Cosine similarity between each position's activation vector and ``vector`` (lucent's form)."""
    vec = torch.as_tensor(vector, dtype=torch.float32).flatten()  # (C,)
    if not torch.isfinite(vec).all() or vec.norm() == 0:
        raise ValueError("a direction must be a finite, non-zero vector")

    def fn(acts: Activations) -> torch.Tensor:
        t = _rows(acts[layer_name], batch)  # (B, C, h, w)
        if t.shape[1] != vec.numel():
            raise ValueError(
                f"the direction has {vec.numel()} values but {layer_name} has {t.shape[1]} channels"
            )
        v = vec.to(t.device, t.dtype).view(1, -1, *([1] * (t.dim() - 2)))  # (1, C, 1, 1)
        return F.cosine_similarity(t, v, dim=1).mean()

    return Objective(fn, (layer_name,), f"direction({layer_name})")


def diversity(layer_name: str) -> Objective:
    """How different the images of a batch are: minus the mean pairwise cosine of their Gram matrices.

    Higher is more diverse, so **add** it (``channel(...) + 10 * diversity(...)``) to get several
    facets of one feature. (Lucid returns the similarity and subtracts it; the effect is the same.)
    A batch of one has nothing to differ from: the value is 0.
    """

    def fn(acts: Activations) -> torch.Tensor:
        t = acts[layer_name]  # (B, C, h, w)
        b = t.shape[0]
        if b < 2:
            return t.sum() * 0.0
        flat = t.reshape(b, t.shape[1], -1)  # (B, C, h*w)
        grams = flat @ flat.transpose(1, 2)  # (B, C, C): which channels fire together
        grams = F.normalize(grams.reshape(b, -1), dim=1)  # (B, C*C), unit norm
        sims = grams @ grams.T  # (B, B) cosine similarities
        off_diagonal = sims.sum() - sims.diagonal().sum()
        return -off_diagonal / (b * (b - 1))

    return Objective(fn, (layer_name,), f"diversity({layer_name})")


def channels(layer_name: str, indices: Sequence[int]) -> Objective:
    """Image ``i`` of the batch maximizes channel ``indices[i]``: a gallery rendered as one batch."""
    idx = [int(i) for i in indices]

    def fn(acts: Activations) -> torch.Tensor:
        t = acts[layer_name]  # (B, C, ...)
        if t.shape[0] != len(idx):
            raise ValueError(f"{len(idx)} channels need a batch of {len(idx)}, got {t.shape[0]}")
        for i in idx:
            _unit(t, i, layer_name)  # range check, one line
        rows = torch.arange(len(idx), device=t.device)
        picked = t[rows, torch.tensor(idx, device=t.device)]  # (B, ...)
        return picked.reshape(len(idx), -1).mean()

    shown = ",".join(map(str, idx[:8])) + ("…" if len(idx) > 8 else "")
    return Objective(fn, (layer_name,), f"channels({layer_name}:{shown})")


def as_objective(obj: Objective | str) -> Objective:
    """An :class:`Objective` as is, or lucent's string form (``"layer:channel"``, ``"layer"``)."""
    if isinstance(obj, Objective):
        return obj
    if not isinstance(obj, str) or not obj.strip():
        raise ValueError(f"an objective is an Objective or a 'layer:channel' string, got {obj!r}")
    text = obj.strip()
    name, sep, index = text.rpartition(":")
    if not sep:
        if text in (LOGITS, "labels"):
            raise ValueError(f"objective {text!r} needs a class number, e.g. '{text}:281'")
        return layer(text)
    if not name:
        raise ValueError(f"objective {text!r} has no layer name before ':'")
    try:
        n = int(index)
    except ValueError:
        raise ValueError(f"objective {text!r}: {index!r} is not a channel number") from None
    if name in (LOGITS, "labels"):
        return class_logit(n)
    return channel(name, n)
