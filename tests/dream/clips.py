"""Small clips made on the spot for the video tests (no files shipped, no network)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image


def moving_square(i: int, h: int, w: int) -> np.ndarray:
    """Frame ``i``: a textured background and a bright square moving right 2 px a frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 4) % 256, (yy * 4) % 256, ((xx + yy) * 2) % 256], -1).astype(np.uint8)
    x = (8 + 2 * i) % max(1, w - 12)
    img[h // 3 : h // 3 + 12, x : x + 12] = 255
    return img


def make_clip(
    path: Path, *, seconds: float = 1.0, fps: int = 12, w: int = 96, h: int = 64, audio: bool = True
) -> Path:
    """An H.264 MP4 (or WebM/MOV by suffix) of a moving square, with a 440 Hz tone if ``audio``."""
    container = av.open(str(path), "w")
    codec = "libvpx" if path.suffix == ".webm" else "libx264"
    video = container.add_stream(codec, rate=fps)
    video.width, video.height, video.pix_fmt = w, h, "yuv420p"
    sound = (
        _tone_stream(container, "libopus" if path.suffix == ".webm" else "aac") if audio else None
    )
    for i in range(round(seconds * fps)):
        frame = av.VideoFrame.from_ndarray(moving_square(i, h, w), format="rgb24")
        frame.pts = i
        container.mux(video.encode(frame))
    container.mux(video.encode(None))
    if sound is not None:
        _tone(container, sound, seconds)
    container.close()
    return path


def _tone_stream(container: av.container.OutputContainer, codec: str) -> av.AudioStream:
    stream = container.add_stream(codec, rate=48000)
    stream.layout = "mono"
    return stream


def _tone(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    rate = 48000
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32
    )
    for k in range(0, len(samples), 960):
        frame = av.AudioFrame.from_ndarray(samples[None, k : k + 960], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, k
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_gif(path: Path, *, frames: int = 6, w: int = 64, h: int = 48, ms: int = 100) -> Path:
    """An animated GIF of the moving square, ``ms`` per frame."""
    images = [Image.fromarray(moving_square(i, h, w)) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms, loop=0)
    return path
