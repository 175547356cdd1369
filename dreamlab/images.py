"""The one place that decodes, validates, resizes and converts images.

Inside the backend every image is a float32 tensor, NCHW, in [0, 1]. At the edges (files, uploads,
frames handed to the UI) an image is an ``H x W x 3`` uint8 numpy array. This module converts
between the two and turns every kind of bad input into an :class:`ImageError` with a one-line reason.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from dreamlab.errors import DreamLabError

__all__ = [
    "DEFAULT_MAX_SIDE",
    "MAX_PIXELS",
    "MIN_SIDE",
    "ImageError",
    "ImageLike",
    "LoadedImage",
    "as_uint8",
    "load_image",
    "load_sample",
    "resize_max_side",
    "resize_to",
    "resize_tensor",
    "sample_names",
    "sample_path",
    "to_tensor",
    "to_uint8",
]

DEFAULT_MAX_SIDE = 1024
MIN_SIDE = 16
# Refuse anything that would decode to more than this many pixels (a decompression bomb: a tiny
# file that claims a huge canvas). 50 MP is a 8660 x 5773 photo, more than any phone makes.
MAX_PIXELS = 50_000_000

ImageLike = str | Path | bytes | BinaryIO | Image.Image | np.ndarray

_SAMPLES_DIR = Path(__file__).parent / "assets" / "samples"


class ImageError(DreamLabError):
    """An image that cannot be used; the message is one line, fit to show a user.

    ``kind`` and ``params`` say what went wrong for a translated interface (``dreamlab.errors``).
    """


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image (``H x W x 3`` uint8) and what was done to it on the way in."""

    array: np.ndarray
    name: str = "image"
    note: str | None = None  # e.g. "downsized from 4000x3000 to 1024x768 (max side 1024 px)"
    original_size: tuple[int, int] | None = None  # (width, height) before a downsize, if any

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as PIL says it."""
        return self.array.shape[1], self.array.shape[0]


def sample_names() -> list[str]:
    """Names of the bundled sample photos (file stems), sorted."""
    return sorted(p.stem for p in _SAMPLES_DIR.glob("*.png"))


def sample_path(name: str) -> Path:
    """Path of a bundled sample photo by name (``"chelsea"``)."""
    path = _SAMPLES_DIR / f"{name}.png"
    if not path.is_file():
        raise ImageError(
            f"unknown sample {name!r}; samples: {', '.join(sample_names())}",
            "unknown_sample",
            name=name,
            samples=", ".join(sample_names()),
        )
    return path


def load_sample(name: str, *, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """A bundled sample photo as ``H x W x 3`` uint8."""
    return load_image(sample_path(name), max_side=max_side).array


def _read_source(
    source: str | Path | bytes | BinaryIO, name: str | None
) -> tuple[BinaryIO, str | None]:
    """The bytes of a file, bytes or binary stream (and its name where it has one); one line for
    a missing or unreadable file, a text stream or something that is no image source."""
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or path.name
        if not path.is_file():
            raise ImageError(f"{name}: no such file", "no_such_file", name=name)
        try:
            data: BinaryIO = io.BytesIO(path.read_bytes())
        except OSError as exc:  # unreadable (permissions, a vanished file)
            reason = exc.strerror or str(exc)
            raise ImageError(
                f"{name}: cannot read the file ({reason})",
                "unreadable_file",
                name=name,
                reason=reason,
            ) from None
    elif isinstance(source, bytes | bytearray):
        data = io.BytesIO(bytes(source))
    elif callable(getattr(source, "read", None)):
        name = name or Path(str(getattr(source, "name", "image"))).name
        raw = source.read()
        if not isinstance(raw, bytes | bytearray):  # a text-mode stream
            got = type(raw).__name__
            raise ImageError(
                f"{name}: expected binary image data, got {got}", "text_stream", name=name, got=got
            )
        data = io.BytesIO(bytes(raw))
    else:  # None, numbers, lists...: say so instead of an AttributeError deep inside
        got = type(source).__name__
        raise ImageError(
            f"expected an image file, bytes or array, got {got}", "not_an_image_source", got=got
        )
    return data, name


def _open(
    source: str | Path | bytes | BinaryIO, name: str | None = None
) -> tuple[Image.Image, str]:
    """Open (lazily) a file, bytes or stream with PIL; refuse what PIL cannot identify.

    ``name`` (an upload's file name) names the image in every error, the first one included.
    """
    data, name = _read_source(source, name)
    name = name or "image"
    if data.getbuffer().nbytes == 0:
        raise ImageError(f"{name}: the file is empty", "empty_file", name=name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # PIL refuses huge canvases itself before our own MAX_PIXELS check can: say why.
        raise ImageError(
            f"{name}: the image claims too many pixels (possible decompression bomb)",
            "bomb",
            name=name,
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name}: not an image (or a format DreamLab cannot read)", "not_an_image", name=name
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        # PIL's plugins raise all of these for damaged headers (e.g. "Truncated IHDR chunk")
        raise ImageError(
            f"{name}: cannot read the image ({exc})", "damaged_image", name=name, reason=str(exc)
        ) from None
    return img, name


def _check_canvas(img: Image.Image, name: str) -> None:
    """Refuse decompression bombs before any pixel is decoded."""
    w, h = img.size
    if w * h > MAX_PIXELS:
        mp, limit = round(w * h / 1e6), round(MAX_PIXELS / 1e6)
        raise ImageError(
            f"{name}: {w}x{h} is {mp} megapixels, over the {limit} MP limit "
            "(possible decompression bomb)",
            "too_many_pixels",
            name=name,
            w=w,
            h=h,
            mp=mp,
            limit=limit,
        )


def _decode_pixels(img: Image.Image, name: str) -> np.ndarray:
    """Decode the first frame to ``H x W x 3`` uint8, whatever the mode."""
    try:
        img.seek(0)  # GIF / APNG / multi-page TIFF: the first frame
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"{name}: the file is truncated or corrupt ({exc})",
            "corrupt",
            name=name,
            reason=str(exc),
        ) from None
    return _to_rgb(img)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to RGB uint8, scaling high bit depths and flattening alpha on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F":
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
        else:
            arr = arr / hi * 255.0
        gray = np.clip(np.nan_to_num(arr), 0, 255).round().astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _from_array(arr: np.ndarray) -> np.ndarray:
    """Validate an array image and bring it to ``H x W x 3`` uint8."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageError(
            f"expected an H x W, H x W x 3 or H x W x 4 array, got shape {arr.shape}",
            "array_shape",
            shape=str(arr.shape),
        )
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ImageError(
            f"expected a numeric array, got dtype {arr.dtype}", "array_dtype", dtype=str(arr.dtype)
        )
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ImageError("the image array contains NaN or infinite values", "array_not_finite")
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).round().astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


def resize_max_side(
    arr: np.ndarray,
    max_side: int,
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> np.ndarray:
    """Downsize (never upsize) so the longer side is at most ``max_side``, keeping the aspect."""
    h, w = arr.shape[:2]
    if max(h, w) <= max_side:
        return arr
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(arr).resize(size, resample), dtype=np.uint8)


def resize_to(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``H x W x 3`` uint8 image to (width, height), up or down (Lanczos)."""
    if (arr.shape[1], arr.shape[0]) == tuple(size):
        return arr
    img = Image.fromarray(arr).resize(tuple(size), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def load_image(
    source: ImageLike,
    *,
    max_side: int | None = DEFAULT_MAX_SIDE,
    min_side: int = MIN_SIDE,
    name: str | None = None,
) -> LoadedImage:
    """Decode and validate an image from a path, bytes, stream, PIL image or array.

    JPEG (CMYK too), PNG (8/16-bit, palette, RGBA, grayscale), WebP, BMP and GIF (first frame) are
    read with EXIF orientation applied. Raises :class:`ImageError` with a one-line reason for
    non-images, truncated files, decompression bombs and images with a side under ``min_side``.
    Images whose longer side exceeds ``max_side`` are downsized and the result says so in ``note``.
    """
    if isinstance(source, np.ndarray):
        arr, label = _from_array(source), name or "array"
    else:
        if isinstance(source, Image.Image):
            img, label = source, name or "image"
        else:
            img, label = _open(source, name)
        _check_canvas(img, label)
        arr = _decode_pixels(img, label)
    h, w = arr.shape[:2]
    if min(h, w) < min_side:
        raise ImageError(
            f"{label}: {w}x{h} is too small (each side must be at least {min_side} px)",
            "too_small",
            name=label,
            w=w,
            h=h,
            min_side=min_side,
        )
    note, original = None, None
    if max_side is not None and max(h, w) > max_side:
        arr = resize_max_side(arr, max_side)
        note = f"downsized from {w}x{h} to {arr.shape[1]}x{arr.shape[0]} (max side {max_side} px)"
        original = (w, h)
    return LoadedImage(array=arr, name=label, note=note, original_size=original)


def as_uint8(image: ImageLike) -> np.ndarray:
    """Any image-like input as ``H x W x 3`` uint8 without resizing (PIL and arrays pass through)."""
    return load_image(image, max_side=None, min_side=1).array


def to_tensor(arr: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``H x W x 3`` uint8 -> float32 ``(1, 3, H, W)`` in [0, 1] on ``device``."""
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.array(arr, copy=True)  # torch wants a writable, contiguous buffer
    t = torch.from_numpy(arr).to(device)  # (H, W, 3) uint8
    return t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)  # (1, 3, H, W)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """Float ``(1, 3, H, W)`` or ``(3, H, W)`` in [0, 1] -> ``H x W x 3`` uint8 (on the CPU)."""
    if t.dim() == 4:
        t = t[0]
    t = t.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)  # (3, H, W)
    return t.permute(1, 2, 0).contiguous().cpu().numpy()


def resize_tensor(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of an NCHW tensor to ``(H, W)`` (order 1, as the classic DeepDream zoom)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)  # (N, C, H', W')
