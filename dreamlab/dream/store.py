"""Keep a dream's frames memory-safely: at most N small JPEG thumbnails, evenly spread over the run.

A web app keeps one store per run and only the last runs of each session, so memory per session is
bounded by ``capacity x`` a few tens of kB, however long the dream and however many dreams.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from dreamlab.images import resize_max_side
from dreamlab.runtime.budget import track

__all__ = ["FrameStore", "KeptFrame", "decode", "encode", "thumbnail"]

_JPEG_QUALITY = 88


def thumbnail(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` (H x W x 3 uint8) shrunk so its longer side is at most ``max_side``."""
    return resize_max_side(image, max_side, Image.Resampling.BILINEAR)  # bilinear: fast, per frame


def encode(image: np.ndarray) -> bytes:
    """JPEG bytes of an ``H x W x 3`` uint8 image (about 10x smaller than the raw array)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=_JPEG_QUALITY)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    """The ``H x W x 3`` uint8 image back from :func:`encode`."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


@dataclass(frozen=True)
class KeptFrame:
    """One kept frame: where it is in the dream, its loss, and JPEG thumbnails."""

    step: int
    octave: int
    iteration: int
    loop: int
    loss: float
    image_data: bytes  # JPEG of the frame, at most ``thumb_side`` px
    maps_data: bytes | None = None  # JPEG of a picture of the target layer's maps

    @property
    def image(self) -> np.ndarray:
        """The thumbnail as ``H x W x 3`` uint8."""
        return decode(self.image_data)

    @property
    def maps(self) -> np.ndarray | None:
        """The maps picture as ``H x W x 3`` uint8, if one was kept."""
        return decode(self.maps_data) if self.maps_data is not None else None

    @property
    def nbytes(self) -> int:
        return len(self.image_data) + len(self.maps_data or b"")


@dataclass
class FrameStore:
    """Thumbnails of at most ``capacity`` frames, evenly spread, plus every step's loss.

    Ask :meth:`wants` before converting a frame: only every ``stride``-th step is kept. When the
    store is full, every other kept frame is dropped and the stride doubles, so the kept frames
    always span the whole run.
    """

    capacity: int = 48
    thumb_side: int = 384
    stride: int = 1
    frames: list[KeptFrame] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.capacity < 2:
            raise ValueError("capacity must be at least 2")
        track(self)  # its thumbnails count in the server's memory budget while it lives

    def add_loss(self, loss: float) -> None:
        """Record one step's loss (every step has one)."""
        self.losses.append(float(loss))

    def wants(self, step: int) -> bool:
        """Whether step ``step`` falls on the stride (and so should be kept)."""
        return step % self.stride == 0

    def make(
        self,
        step: int,
        octave: int,
        iteration: int,
        loop: int,
        loss: float,
        image: np.ndarray,
        maps: np.ndarray | None = None,
    ) -> KeptFrame:
        """A :class:`KeptFrame` with the images shrunk and compressed (not stored)."""
        small = encode(thumbnail(image, self.thumb_side))
        maps_data = encode(thumbnail(maps, self.thumb_side)) if maps is not None else None
        return KeptFrame(step, octave, iteration, loop, float(loss), small, maps_data)

    def keep(
        self,
        step: int,
        octave: int,
        iteration: int,
        loop: int,
        loss: float,
        image: np.ndarray,
        maps: np.ndarray | None = None,
    ) -> None:
        """Store one frame (call when :meth:`wants` says so); thins out the store when full."""
        self.frames.append(self.make(step, octave, iteration, loop, loss, image, maps))
        while len(self.frames) > self.capacity:
            self.stride *= 2
            self.frames = [f for f in self.frames if f.step % self.stride == 0]

    @property
    def nbytes(self) -> int:
        """Bytes held by the kept thumbnails."""
        return sum(f.nbytes for f in self.frames)
