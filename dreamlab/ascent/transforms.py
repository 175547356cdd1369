"""Image transforms for gradient ascent, in pure torch (no kornia): jitter, scale, rotate.

An image optimized to excite a neuron through *random* small shifts, zooms and rotations cannot rely
on exact pixel patterns, so high-frequency noise stops paying off. Each transform is a small frozen
dataclass called as ``t(x, generator)`` on a ``(B, 3, H, W)`` tensor; the same random draw applies to
the whole batch (the tiles of a batch keep one size). Random choices come from the ``torch.Generator``
passed in, so a seed reproduces a run exactly.

Jitter comes two ways: Google's roll (:func:`roll`, :class:`Roll`: the content wraps around and the
step is rolled back; the image keeps its size) and Lucid's crop (:class:`Jitter`). One affine
matrix (:func:`affine_theta`) does every rotation and zoom, here and in the dream's zoom loop.

The deterministic pieces (:func:`crop`, :func:`scale`, :func:`zoom`, :func:`rotate`, :func:`roll`)
are public so tests can pin them; :func:`standard_transforms` uses lucent's values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "Compose",
    "Jitter",
    "Pad",
    "RandomRotate",
    "RandomScale",
    "Roll",
    "Transform",
    "affine_theta",
    "compose",
    "crop",
    "roll",
    "rotate",
    "scale",
    "standard_transforms",
    "zoom",
    "zoom_rotate",
]

Transform = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def _choice(options: Sequence[float], generator: torch.Generator | None) -> float:
    """One element of ``options``, drawn with ``generator`` (uniform over the list, repeats count)."""
    index = int(torch.randint(len(options), (1,), generator=generator))
    return options[index]


def crop(x: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """The ``height x width`` window of ``x`` (B, C, H, W) starting at (``top``, ``left``)."""
    return x[..., top : top + height, left : left + width]  # (B, C, height, width)


def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinear zoom by ``factor``: the output side is ``round(side * factor)`` (at least 1)."""
    if factor == 1.0:
        return x
    h, w = x.shape[-2:]
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)  # (B, C, h', w')


def affine_theta(h: int, w: int, degrees: float = 0.0, factor: float = 1.0) -> list[list[float]]:
    """The 2 x 3 map (output -> input, normalized coordinates) of a rotation and a zoom.

    Rotates by ``degrees`` counter-clockwise as displayed (y down) and magnifies by ``factor``,
    both about the centre. ``affine_grid``'s normalized x spans W and y spans H, so the
    off-diagonal terms carry the aspect ratio to keep the rotation rigid in pixels (no shear).
    """
    rad = math.radians(degrees)
    c, s = math.cos(rad) / factor, math.sin(rad) / factor
    return [[c, -s * h / w, 0.0], [s * w / h, c, 0.0]]


def _affine(x: torch.Tensor, theta: list[list[float]], padding: str = "border") -> torch.Tensor:
    """Resample ``x`` through a 2 x 3 affine map of normalized coordinates (output -> input).

    Bilinear; pixels brought in from outside repeat the border (the 0.5 grey of :class:`Pad`) or,
    with ``padding="reflection"``, mirror the image.
    """
    b, c, h, w = x.shape
    mat = torch.tensor(theta, dtype=x.dtype, device=x.device).expand(b, 2, 3)  # (B, 2, 3)
    grid = F.affine_grid(mat, [b, c, h, w], align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Magnify the content of ``x`` by ``factor`` about its centre, keeping the frame's size.

    ``zoom(x, 2)`` is the centre of a 2x bilinear upscale; a factor under 1 shrinks the content and
    brings the border in. Keeping the size means the network sees one input shape all run long.
    """
    if factor == 1.0:
        return x
    h, w = x.shape[-2:]
    return _affine(x, affine_theta(h, w, 0.0, factor))  # (B, C, H, W)


def rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate ``x`` (B, C, H, W) about its centre, counter-clockwise as displayed (y down).

    The border repeats into the corners (the grey padding), so no black corners appear.
    ``rotate(x, 90)`` equals ``torch.rot90(x, 1, (-2, -1))`` on a square image.
    """
    if degrees % 360 == 0:
        return x
    h, w = x.shape[-2:]
    return _affine(x, affine_theta(h, w, degrees))  # (B, C, H, W)


def zoom_rotate(x: torch.Tensor, factor: float, degrees: float) -> torch.Tensor:
    """Zoom into the centre by ``factor`` and rotate by ``degrees`` (a zoom-loop frame step).

    The edges mirror in (reflection), so the loop never grows a grey or smeared frame.
    """
    h, w = x.shape[-2:]
    return _affine(x, affine_theta(h, w, degrees, factor), "reflection")  # (B, C, H, W)


def roll(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Google's jitter: shift ``x`` by (``dy``, ``dx``) pixels, wrapping around (``roll(x, -dy, -dx)``
    undoes it exactly)."""
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1)) if dy or dx else x


@dataclass(frozen=True)
class Pad:
    """Pad every side by ``width`` pixels of ``value`` (lucent pads 12 with grey 0.5)."""

    width: int
    value: float = 0.5

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.width <= 0:
            return x
        return F.pad(x, [self.width] * 4, mode="constant", value=self.value)  # (B, C, H+2w, W+2w)


@dataclass(frozen=True)
class Jitter:
    """Random translation by up to ``d`` pixels, done as Lucid does: a random ``(H-d) x (W-d)`` crop.

    Cropping moves the content without bringing in any fill, and is exact (no resampling).
    """

    d: int

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.d <= 0 or self.d >= min(h, w):
            return x
        top = int(torch.randint(self.d + 1, (1,), generator=generator))
        left = int(torch.randint(self.d + 1, (1,), generator=generator))
        return crop(x, top, left, h - self.d, w - self.d)  # (B, C, H-d, W-d)


@dataclass(frozen=True)
class Roll:
    """Random roll by up to ``d`` pixels each way, drawn from the generator (Google's jitter)."""

    d: int

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.d <= 0:
            return x
        dy, dx = torch.randint(-self.d, self.d + 1, (2,), generator=generator).tolist()
        return roll(x, dy, dx)


@dataclass(frozen=True)
class RandomScale:
    """Zoom the content by a factor drawn from ``scales``, keeping the frame's size.

    (Lucid resizes the whole image instead; lucent pads a shrunk image back to its size.) A fixed
    size gives the network one input shape for the whole run: cuDNN and oneDNN plan their kernels
    once per shape, and a new shape on every step made a GPU run several times slower.
    """

    scales: tuple[float, ...]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return zoom(x, _choice(self.scales, generator))


@dataclass(frozen=True)
class RandomRotate:
    """Rotate by an angle in degrees drawn from ``angles`` (repeat an angle to weight it)."""

    angles: tuple[float, ...]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return rotate(x, _choice(self.angles, generator))


@dataclass(frozen=True)
class Compose:
    """Apply transforms in order."""

    transforms: tuple[Transform, ...]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator)
        return x


def compose(transforms: Sequence[Transform]) -> Compose:
    """A :class:`Compose` of ``transforms`` (an empty list is the identity)."""
    return Compose(tuple(transforms))


def standard_transforms() -> Compose:
    """lucent's ``standard_transforms``: pad 12 (grey), jitter 8, zoom 0.9-1.1, rotate +-10, jitter 4.

    An ``n x n`` image always comes out ``(n + 12) x (n + 12)`` (24 of padding, 8 + 4 of jitter).

    Scales are ``1 + (i - 5) / 50`` for ``i = 0..10``; angles ``-10..10`` degrees with 0 weighted six
    times, so most steps are not rotated.
    """
    return compose(
        [
            Pad(12, 0.5),
            Jitter(8),
            RandomScale(tuple(1 + (i - 5) / 50 for i in range(11))),
            RandomRotate(tuple(float(a) for a in [*range(-10, 11), 0, 0, 0, 0, 0])),
            Jitter(4),
        ]
    )
