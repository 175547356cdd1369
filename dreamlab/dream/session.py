"""The dreams a page (or any caller) keeps: what ran, a bounded record of its frames, a Stop kept.

A :class:`DreamRecord` takes the frames of one :class:`~dreamlab.dream.DreamRun` as they arrive
(:meth:`~DreamRecord.record`): the loss of every step, a thumbnail of some (a bounded
:class:`~dreamlab.dream.FrameStore`), the latest frame, the zoom loop's frames as JPEGs; it makes
the downloads (PNG with the parameters, GIF, MP4) once and keeps them. :meth:`~DreamRecord.finalize`
fixes it as it is (Stop, or the end): frames arriving later are dropped, so the count, the frames
and the loss curve stay what they were at Stop.

A :class:`DreamSession` is one press of **Dream**: the photo's record, and the noise's when the
same dream runs from noise too, pulled one after the other (:meth:`~DreamSession.frames`).

Both are the counterpart of training's :class:`~dreamlab.train.session.TrainingRun`: no UI, no
drawing; what the page decides (the thumbnail size, how many channels to draw) comes in as
parameters. They are mutable, one per run (a page keeps the last one in its session).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from dreamlab.dream.config import DreamConfig
from dreamlab.dream.engine import DreamRun
from dreamlab.dream.export import dream_params
from dreamlab.dream.frames import DreamFrame
from dreamlab.dream.store import FrameStore, KeptFrame, decode, encode
from dreamlab.media import gif_bytes, mp4_bytes, png_bytes
from dreamlab.models import LoadedModel
from dreamlab.viz import colorize, mosaic, shared_scale

__all__ = [
    "DreamRecord",
    "DreamSession",
    "Pictures",
    "RecordSource",
    "maps_picture",
    "pick_channels",
    "settled",
]

RecordSource = Literal["photo", "noise"]
Pictures = tuple[np.ndarray, np.ndarray]  # (the dream HxWx3 uint8, its maps' mosaic HxWx3 uint8)
MAX_LOOP_FRAMES = 240  # JPEGs of the zoom loop kept per run (about 50 kB each at 512 px)
VIDEO_FPS = 10  # the downloaded GIF's and MP4's frame rate


def pick_channels(maps: np.ndarray, chosen: int | None, count: int) -> list[int]:
    """The channels to draw: ``chosen`` first, then the most active ones of ``maps`` (C, h, w)."""
    means = maps.reshape(maps.shape[0], -1).mean(axis=1)
    order = [int(c) for c in np.argsort(-means)]
    if chosen is not None:
        order = [chosen, *[c for c in order if c != chosen]]
    return order[:count]


def maps_picture(maps: np.ndarray, channels: list[int]) -> np.ndarray:
    """The ``channels`` of ``maps`` (C, h, w) on one colour scale, as a labelled mosaic."""
    picked = maps[channels]  # (N, h, w)
    tiles = colorize(picked, shared_scale(picked))
    cols = 4 if len(channels) <= 16 else 6
    return mosaic(tiles, [f"#{c}" for c in channels], cols=cols, tile_size=96, pad=3)


def settled(frame: DreamFrame | None) -> DreamFrame | None:
    """The last frame a session keeps, without its float tensors (the image, the maps): only its
    picture, maps and loss are read from now on, converted once here (30 sessions: ~70 MB)."""
    if frame is None:
        return None
    h, w = frame.size
    tiny = torch.zeros(1, 1, 1, 1)  # one float, expanded to the right shapes (no copies)
    light = dataclasses.replace(
        frame, x=tiny.expand(1, 3, h, w), maps=tiny, loss_tensor=frame.loss_tensor.detach().cpu()
    )
    light.__dict__.update(image=frame.image, activations=frame.activations, loss=frame.loss)
    return light


@dataclass
class DreamRecord:
    """One dream kept: its settings, a bounded store of frames, the latest frame, its downloads.

    ``preset`` is the preset's name only when dreamed on the preset's own network; ``recipe_of``
    the preset whose closest recipe this is (on another network). ``channel_count``: how many of
    the target layer's channels the maps picture shows (fixed from the first frame). ``final`` is
    set once, at Stop or at the end (under ``lock``): from then on every late frame is dropped.
    """

    kind: RecordSource
    model: LoadedModel
    config: DreamConfig
    run: DreamRun
    source: str
    preset: str | None
    recipe_of: str | None = None
    thumb_side: int = 384
    capacity: int = 48
    channel_count: int = 16
    store: FrameStore = field(init=False)
    latest: DreamFrame | None = None
    channels: list[int] | None = None  # the channels drawn, fixed from the first frame
    done: bool = False
    final: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    loop_frames: list[bytes] = field(default_factory=list)  # JPEG of each zoom-loop frame
    downloads: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = FrameStore(capacity=self.capacity, thumb_side=self.thumb_side)

    @property
    def steps(self) -> int:
        """The steps recorded (every step's loss is kept)."""
        return len(self.store.losses)

    def params(self) -> dict[str, Any]:
        """Every parameter of the dream as run so far (what its PNG and JSON carry)."""
        p = dream_params(
            self.model, self.config, self.run.plan, source=self.source, steps=self.steps,
            preset=self.preset,
        )  # fmt: skip
        return {**p, "recipe_of": self.recipe_of, "finished": self.done}

    def finalize(self) -> None:
        """Fix the record as it is now: later frames are dropped."""
        with self.lock:
            self.final = True

    def record(self, frame: DreamFrame, picture: bool) -> Pictures | None:
        """Keep the frame (its loss always, a thumbnail if on the store's stride); its pictures
        when kept or ``picture`` asks for them. A frame that arrives after Stop is dropped."""
        with self.lock:
            if self.final:
                return None
            return self._keep(frame, picture)

    def _keep(self, frame: DreamFrame, picture: bool) -> Pictures | None:
        self.latest = frame
        self.store.add_loss(frame.loss)
        self.done = frame.done
        loop_end = frame.last_of_octave and frame.octave == frame.num_octaves - 1
        if self.config.zoom_frames and loop_end and len(self.loop_frames) < MAX_LOOP_FRAMES:
            self.loop_frames.append(encode(frame.image))
        keep = self.store.wants(frame.step)
        if not (keep or picture):
            return None
        maps = frame.activations  # (C, h, w)
        if self.channels is None:
            self.channels = pick_channels(maps, self.config.channel, self.channel_count)
        pictures = frame.image, maps_picture(maps, self.channels)
        if keep:
            f = frame
            self.store.keep(f.step, f.octave, f.iteration, f.loop, f.loss, *pictures)
        return pictures

    def settle(self) -> None:
        """Finalize, free the run, and keep the latest frame without its tensors."""
        self.finalize()
        self.run.close()
        self.latest = settled(self.latest)

    def timeline(self) -> list[KeptFrame]:
        """The kept frames, ending with the latest (a run stopped off the stride ends there too)."""
        frames = list(self.store.frames)
        f = self.latest
        if f is not None and (not frames or frames[-1].step != f.step):
            maps = maps_picture(f.activations, self.channels or [0])
            frames.append(
                self.store.make(f.step, f.octave, f.iteration, f.loop, f.loss, f.image, maps)
            )
        return frames

    def video_frames(self) -> list[np.ndarray]:
        """The zoom loop's frames when it made some, else one kept frame per step."""
        if len(self.loop_frames) > 1:  # the zoom loop, as `dreamlab dream --zoom-frames` writes it
            return [decode(data) for data in self.loop_frames]
        return [f.image for f in self.timeline()]

    def png(self) -> bytes:
        """The latest picture as a PNG carrying :meth:`params` (made once)."""
        if "png" not in self.downloads:
            if self.latest is None:
                raise ValueError("nothing dreamed yet")
            self.downloads["png"] = png_bytes(self.latest.image, self.params())
        return self.downloads["png"]

    def video(self, kind: Literal["gif", "mp4"], fps: int = VIDEO_FPS) -> bytes:
        """:meth:`video_frames` as a GIF or an MP4 (made once per kind)."""
        if kind not in self.downloads:
            frames = self.video_frames()
            self.downloads[kind] = (
                gif_bytes(frames, fps) if kind == "gif" else mp4_bytes(frames, fps)
            )
        return self.downloads[kind]


class DreamSession(Mapping[str, DreamRecord]):
    """One press of **Dream**: ``"photo"``'s record, and ``"noise"``'s when dreamed from noise too
    (a mapping by kind). The records' runs are pulled one after the other."""

    def __init__(self, *records: DreamRecord) -> None:
        if not records:
            raise ValueError("a dream session needs at least one record")
        self._records = {r.kind: r for r in records}

    def __getitem__(self, kind: str) -> DreamRecord:
        return self._records[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    @property
    def model(self) -> LoadedModel:
        """The model every record dreams with."""
        return next(iter(self._records.values())).model

    @property
    def total(self) -> int:
        """The steps of every run together."""
        return sum(r.run.plan.total for r in self._records.values())

    @property
    def done(self) -> bool:
        """Whether every run ran to its end."""
        return all(r.done for r in self._records.values())

    def frames(self) -> Iterator[tuple[DreamRecord, DreamFrame]]:
        """Each record's frames in turn, with the record they belong to."""
        for record in self._records.values():
            for frame in record.run:
                yield record, frame

    def finalize(self) -> None:
        """Fix every record as it is (Stop): frames still in flight are dropped."""
        for record in self._records.values():
            record.finalize()

    def close(self) -> None:
        """Finalize every record and free its run (the pictures made so far stay)."""
        for record in self._records.values():
            record.settle()
