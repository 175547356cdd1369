"""Turn activations and weights into pictures: colour maps, labelled mosaics, filter tiles, overlays.

Pure numpy/PIL (no streamlit, no matplotlib figures): fast enough to redraw on every slider move.
Signed data is always shown on a zero-centred diverging map, so negative values are never black.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "ColorScale",
    "colorbar",
    "channel_scales",
    "colorize",
    "filter_tiles",
    "label_font",
    "lut",
    "mosaic",
    "outline",
    "overlay",
    "shared_scale",
    "tile_at",
]


@dataclass(frozen=True)
class ColorScale:
    """How numbers map to colours: a matplotlib colormap name and its limits."""

    cmap: str
    vmin: float
    vmax: float

    @property
    def signed(self) -> bool:
        return self.vmin < 0


def shared_scale(values: np.ndarray | torch.Tensor) -> ColorScale:
    """One scale for many maps: diverging and symmetric about 0 if any value is negative."""
    arr = values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else values
    finite = arr[np.isfinite(arr)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if lo < 0:
        m = max(abs(lo), abs(hi), 1e-12)
        return ColorScale("RdBu_r", -m, m)
    return ColorScale("magma", 0.0, max(hi, 1e-12))


def channel_scales(maps: np.ndarray) -> list[ColorScale]:
    """One scale per map (``N x h x w``), each spanning its own values, all of one kind.

    If any map has a negative value every scale is diverging and symmetric about 0 (so white is
    still 0 everywhere); else each runs from 0 to its own top (the 99.5th percentile of |value|,
    brighter values saturate). Faint maps become visible, but
    their colours no longer compare across tiles (the caller says so).
    """
    signed = shared_scale(maps).signed
    scales = []
    for m in maps:
        finite = m[np.isfinite(m)]
        # The 99.5th percentile, not the maximum: one hot pixel must not leave the rest pale.
        top = float(np.percentile(np.abs(finite), 99.5)) if finite.size else 1.0
        top = max(top, 1e-12)
        scales.append(ColorScale("RdBu_r", -top, top) if signed else ColorScale("magma", 0.0, top))
    return scales


@functools.cache
def lut(cmap: str) -> np.ndarray:
    """A 256 x 3 uint8 lookup table for a matplotlib colormap (built once)."""
    from matplotlib import colormaps

    return (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def colorize(values: np.ndarray, scale: ColorScale) -> np.ndarray:
    """``H x W`` (or ``N x H x W``) floats -> uint8 RGB through ``scale``; NaN shows as grey."""
    span = max(scale.vmax - scale.vmin, 1e-12)
    norm = (np.nan_to_num(values, nan=(scale.vmin + scale.vmax) / 2) - scale.vmin) / span
    idx = np.clip(norm * 255, 0, 255).round().astype(np.uint8)
    rgb = lut(scale.cmap)[idx]  # (..., H, W, 3)
    rgb[np.isnan(values)] = 128  # grey: not a colour of any map, so a NaN never reads as a value
    return rgb


def colorbar(scale: ColorScale, width: int = 256, height: int = 14) -> np.ndarray:
    """A horizontal colour bar image (uint8) spanning the scale, left = vmin, right = vmax."""
    ramp = np.linspace(scale.vmin, scale.vmax, width)[None, :].repeat(height, 0)  # (h, w)
    return colorize(ramp, scale)


@functools.cache
def _font_path() -> str | None:
    """DejaVu Sans, which matplotlib ships (it has every glyph we write: "×", "−", accents)."""
    try:
        from matplotlib import font_manager

        prop = font_manager.FontProperties(family="DejaVu Sans")
        return font_manager.findfont(prop, fallback_to_default=True)
    except (ImportError, ValueError):  # pragma: no cover - matplotlib is a runtime requirement
        return None


@functools.cache
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A real font (DejaVu Sans) at ``size`` pixels, loaded once per size.

    Pillow's default bitmap font has no "×" (drawn as a missing-glyph box) and blurs when sized.
    """
    path = _font_path()
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:  # pragma: no cover - an unreadable font file: the default below
            pass
    return ImageFont.load_default(size=size)


def mosaic(
    tiles: np.ndarray,
    labels: list[str] | None = None,
    *,
    cols: int = 8,
    pad: int = 4,
    tile_size: int | None = None,
    background: int = 14,
    smooth: bool = False,
) -> np.ndarray:
    """Lay ``N x h x w x 3`` uint8 tiles on a grid, each optionally labelled in its corner.

    ``tile_size`` enlarges each tile's longer side to that many pixels: nearest neighbour (each
    value a sharp square), or bilinear with ``smooth`` (easier to read a photo in).
    """
    n = len(tiles)
    if n == 0:
        return np.full((16, 16, 3), background, np.uint8)
    if tile_size is not None:
        resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
        tiles = np.stack([_resize_nearest(t, tile_size, resample) for t in tiles])
    h, w = tiles.shape[1:3]
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), background, np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        canvas[y : y + h, x : x + w] = tile
    if labels:
        canvas = _label(canvas, labels, cols, h, w, pad)
    return canvas


def _label(
    canvas: np.ndarray, labels: list[str], cols: int, h: int, w: int, pad: int
) -> np.ndarray:
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    font = label_font(max(10, min(28, w // 7)))  # large tiles get large labels (a projector)
    for k, text in enumerate(labels):
        r, c = divmod(k, cols)
        x, y = pad + c * (w + pad) + 2, pad + r * (h + pad) + 1
        box = draw.textbbox((x, y), text, font=font)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0))
        draw.text((x, y), text, fill=(255, 255, 255), font=font)
    return np.asarray(img)


def _resize_nearest(
    tile: np.ndarray, size: int, resample: Image.Resampling = Image.Resampling.NEAREST
) -> np.ndarray:
    h, w = tile.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(tile).resize(new, resample))


def tile_at(
    x: float, y: float, count: int, tile_shape: tuple[int, int], *, cols: int, pad: int = 4
) -> tuple[int, float, float] | None:
    """Which tile of a :func:`mosaic` the canvas point (x, y) falls on, and where inside it.

    Returns (tile index, fraction down, fraction across), each fraction in [0, 1), or None for
    the padding between tiles and the empty end of the last row.
    """
    h, w = tile_shape
    c, r = int(x // (w + pad)), int(y // (h + pad))
    fx, fy = (x - c * (w + pad) - pad) / w, (y - r * (h + pad) - pad) / h
    k = r * max(1, min(cols, count)) + c
    if not (0 <= fx < 1 and 0 <= fy < 1) or c >= cols or k >= count:
        return None
    return k, fy, fx


def outline(
    image: np.ndarray, box: tuple[int, int, int, int], color: tuple[int, int, int] = (255, 214, 0)
) -> np.ndarray:
    """A copy of ``image`` with the box (top, left, bottom, right; exclusive) outlined."""
    top, left, bottom, right = box
    img = Image.fromarray(image)
    width = max(2, round(max(image.shape[:2]) / 150))  # visible once the picture is shown small
    ImageDraw.Draw(img).rectangle(
        (left, top, max(left, right - 1), max(top, bottom - 1)), outline=color, width=width
    )
    return np.asarray(img)


def filter_tiles(weight: torch.Tensor, tile_size: int = 48) -> tuple[np.ndarray, float]:
    """First-layer filters ``(out, 3, k, k)`` as RGB tiles on one shared symmetric scale.

    Grey is 0, and each colour channel shows that input channel's weight, all filters scaled by
    the same ``max|w|`` so their strengths compare. Returns the tiles and that ``max|w|``.
    """
    w = weight.detach().float().cpu()  # (out, in, k, k)
    if w.shape[1] == 1:
        w = w.repeat(1, 3, 1, 1)
    w = w[:, :3]
    m = float(w.abs().max().clamp_min(1e-12))
    rgb = ((w / m) * 0.5 + 0.5).clamp(0, 1).mul(255).round().byte()  # (out, 3, k, k)
    tiles = rgb.permute(0, 2, 3, 1).numpy()  # (out, k, k, 3)
    return np.stack([_resize_nearest(t, tile_size) for t in tiles]), m


def overlay(
    image: np.ndarray, heat: np.ndarray, scale: ColorScale, alpha: float = 0.6
) -> np.ndarray:
    """A feature map (``h x w``) stretched over the image (``H x W x 3``) as a translucent heat map."""
    H, W = image.shape[:2]
    heat_rgb = colorize(heat, scale)
    big = np.asarray(
        Image.fromarray(heat_rgb).resize((W, H), Image.Resampling.BILINEAR), np.float32
    )
    out = (1 - alpha) * image.astype(np.float32) + alpha * big
    return out.clip(0, 255).round().astype(np.uint8)
