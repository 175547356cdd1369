"""Export images and animations: PNG with parameters in its metadata, animated GIF, MP4.

Frames come in as ``H x W x 3`` uint8 arrays (the edge convention). A PNG carries the parameters
that made it as JSON under the text key ``dreamlab`` (with the DreamLab version), so any image can
be reproduced: ``read_png_params(path)`` gives them back. The same pixels and parameters always
give the same bytes (no timestamps), so a seeded dream's PNG is byte-identical run after run.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

__all__ = [
    "METADATA_KEY",
    "VIDEO_SUFFIXES",
    "check_fps",
    "check_frame",
    "fit_frames",
    "gif_bytes",
    "jpeg_bytes",
    "mp4_bytes",
    "png_bytes",
    "read_png_params",
    "write_media",
]

METADATA_KEY = "dreamlab"
VIDEO_SUFFIXES = (".gif", ".mp4")
_MAX_FPS = 60


def check_frame(image: np.ndarray, what: str = "image") -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"{what} must be an H x W x 3 uint8 array")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"{what} must be an H x W x 3 uint8 array, got shape {image.shape}")
    return np.ascontiguousarray(image)


def png_bytes(image: np.ndarray, params: dict[str, Any] | None = None) -> bytes:
    """A PNG of ``image`` with ``params`` (and ``version``) as JSON in the ``dreamlab`` text chunk."""
    from dreamlab import __version__

    info = PngImagePlugin.PngInfo()
    meta = {"version": __version__, **(params or {})}
    if (
        _seeded(meta) and "reproduce" not in meta
    ):  # what the same bytes need (dreamlab.ascent.tiles)
        from dreamlab.ascent.tiles import reproduction

        meta["reproduce"] = reproduction(meta.get("device", "cpu"))
    info.add_itxt(METADATA_KEY, json.dumps(meta, sort_keys=True, default=_json_default))
    buf = io.BytesIO()
    Image.fromarray(check_frame(image)).save(buf, format="PNG", pnginfo=info, compress_level=6)
    return buf.getvalue()


def _seeded(params: dict[str, Any]) -> bool:
    """A picture made from a seed (a dream, a feature visualization): its metadata says what
    reproducing it needs."""
    config = params.get("config")
    return "seed" in params or (isinstance(config, dict) and "seed" in config)


def jpeg_bytes(image: np.ndarray, quality: int = 80) -> bytes:
    """A JPEG of ``image``: a few milliseconds and a tenth of a PNG's size, for frames sent live."""
    buf = io.BytesIO()
    Image.fromarray(check_frame(image)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray | tuple):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def read_png_params(source: bytes | str | Path) -> dict[str, Any] | None:
    """The parameters stored by :func:`png_bytes`, or None if the PNG has none."""
    data = Path(source).read_bytes() if isinstance(source, str | Path) else bytes(source)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            text = getattr(img, "text", {}) or img.info
            raw = text.get(METADATA_KEY)
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"not a readable PNG ({exc})") from None
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError(f"the PNG's {METADATA_KEY!r} metadata is not valid JSON") from None


def fit_frames(
    frames: Sequence[np.ndarray], size: tuple[int, int] | None = None, *, even: bool = False
) -> list[np.ndarray]:
    """Every frame resized to ``size`` (H, W), by default the last frame's (the dream's final size).

    ``even`` rounds the size down to even numbers (H.264 in yuv420p needs them).
    """
    if not frames:
        raise ValueError("no frames to encode")
    checked = [check_frame(f, "each frame") for f in frames]
    h, w = size or checked[-1].shape[:2]
    if even:
        h, w = max(2, h - h % 2), max(2, w - w % 2)
    out = []
    for f in checked:
        if f.shape[:2] != (h, w):
            f = np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.BILINEAR))
        out.append(f)
    return out


def check_fps(fps: float) -> float:
    if not isinstance(fps, int | float) or not 0 < fps <= _MAX_FPS:
        raise ValueError(f"fps must be above 0 and at most {_MAX_FPS}, got {fps!r}")
    return float(fps)


def gif_bytes(frames: Sequence[np.ndarray], fps: float = 10, *, loop: int = 0) -> bytes:
    """An animated GIF of ``frames`` (resized to the last one's size), looping forever by default."""
    duration = round(1000 / check_fps(fps))
    images = [Image.fromarray(f) for f in fit_frames(frames)]
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration,
        loop=loop,
        optimize=False,
        disposal=1,
    )
    return buf.getvalue()


def mp4_bytes(frames: Sequence[np.ndarray], fps: float = 10, *, quality: int = 23) -> bytes:
    """An H.264 MP4 of ``frames`` (yuv420p, plays everywhere) through imageio-ffmpeg's ffmpeg."""
    import imageio_ffmpeg

    fitted = fit_frames(frames, even=True)
    h, w = fitted[0].shape[:2]
    fd, name = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = imageio_ffmpeg.write_frames(
            name,
            (w, h),
            fps=check_fps(fps),
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            macro_block_size=2,
            quality=None,
            output_params=["-crf", str(quality), "-movflags", "+faststart"],
            ffmpeg_log_level="error",
        )
        writer.send(None)  # start ffmpeg
        for f in fitted:
            writer.send(np.ascontiguousarray(f))
        writer.close()
        return Path(name).read_bytes()
    finally:
        Path(name).unlink(missing_ok=True)


def write_media(
    path: str | Path,
    frames: Sequence[np.ndarray],
    params: dict[str, Any] | None = None,
    fps: float = 10,
) -> Path:
    """Write ``frames`` by the file's suffix: ``.png`` (the last frame, with ``params``), ``.gif``
    or ``.mp4`` (every frame). Returns the path written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        data = png_bytes(frames[-1], params)
    elif suffix == ".gif":
        data = gif_bytes(frames, fps)
    elif suffix == ".mp4":
        data = mp4_bytes(frames, fps)
    else:
        raise ValueError(f"cannot write {path.name}: use a .png, .gif or .mp4 file name")
    if not path.parent.exists():
        raise ValueError(f"cannot write {path}: the folder {path.parent} does not exist")
    path.write_bytes(data)
    return path
