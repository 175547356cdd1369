"""Live camera frames through the same backend functions as the pages, within the server's means.

The Live camera page hands every camera frame (``H x W x 3`` uint8, already at about
:data:`LIVE_SIDE` px) to a :class:`LiveStream`, which runs the chosen mode on it:

- :class:`ConvolutionSettings`: :func:`dreamlab.convolution.convolve` with the page's kernel,
  stride, dilation and colour mode; the input and the output side by side;
- :class:`MapsSettings`: :func:`dreamlab.activations.layer_maps` at a layer, its most active
  channels (ranked by :func:`~dreamlab.activations.top_channels` on a running average, so the tiles
  do not jump from frame to frame) laid out by :func:`dreamlab.viz.mosaic`;
- :class:`DreamSettings`: a few steps of :func:`dreamlab.dream.dream` (one octave) per frame, the
  dream's detail (dream minus camera) carried to the next frame along the optical flow by the video
  dream's :class:`~dreamlab.dream.coherence.Coherence`, so the room dreams without starting over
  (and without boiling) on every frame.

Within the server's means: a :class:`StreamRegistry` caps the streams at once (``open`` returns
None when full); each stream takes a seat at the shared :class:`~dreamlab.runtime.jobs.JobGate` and one
turn per frame (a frame that cannot get its turn in time is dropped, never queued), and its frames
run under a :class:`~dreamlab.runtime.threads.ThreadGovernor` (the dream mode's steps are governed by the
dream engine itself). Only the newest frame is ever processed (the page drops the older ones), so
latency cannot grow. A stream that stops sending frames (a closed tab) is ended by the registry
after ``stale_s`` seconds even if nobody told it; its seat and its gate seat are freed.

No streamlit and no WebRTC or video library here: the page converts its video frames.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from dreamlab.activations import layer_maps, top_channels
from dreamlab.convolution import DEFAULT_VIEW, ConvConfig, convolve, to_display, to_gray
from dreamlab.dream import dream
from dreamlab.dream.coherence import Coherence
from dreamlab.images import resize_max_side
from dreamlab.models.registry import LoadedModel
from dreamlab.runtime.jobs import JobGate, Ticket
from dreamlab.runtime.threads import govern
from dreamlab.viz import channel_scales, colorize, mosaic

__all__ = [
    "LIVE_SIDE",
    "MODES",
    "ArrivalClock",
    "ConvolutionSettings",
    "DreamSettings",
    "LiveFrame",
    "LiveStats",
    "LiveStream",
    "MapsSettings",
    "Processor",
    "StreamRegistry",
    "default_stream_cap",
    "fit_side",
    "make_processor",
]

LIVE_SIDE = 320  # frames are processed at this longer side (a 640 x 480 camera -> 320 x 240)
MODES = ("convolution", "feature_maps", "dream")
_GAP = 4  # white pixels between the input and the output
_FLOW_PRESET = "ultrafast"  # two DIS flows per dream frame: the fastest keeps the frame rate


def default_stream_cap() -> int:
    """Live streams at once: ``DREAMLAB_LIVE_STREAMS`` if set, else 2 (each keeps a core busy)."""
    env = os.environ.get("DREAMLAB_LIVE_STREAMS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else 2


def fit_side(image: np.ndarray, side: int = LIVE_SIDE) -> np.ndarray:
    """A camera picture downsized (never enlarged) to ``side`` px on its longer side (bilinear:
    a frame's worth of Lanczos would cost more than the convolution itself)."""
    return resize_max_side(image, side, Image.Resampling.BILINEAR)


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two ``H x W x 3`` pictures of equal height, left to right, with a white gap."""
    gap = np.full((left.shape[0], _GAP, 3), 255, np.uint8)
    return np.concatenate([left, gap, right], axis=1)  # (H, W1 + gap + W2, 3)


def _enlarge(picture: np.ndarray, factor: int, height: int) -> np.ndarray:
    """A strided output back to the input's height: each value a ``factor``-pixel square."""
    if factor > 1:
        picture = np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)
    return np.ascontiguousarray(picture[:height])


# ---------------------------------------------------------------- the three modes


class Processor(Protocol):
    """One mode, ready to run: a camera picture in, the picture to show out (both uint8 RGB)."""

    governed_inside: bool  # True when the work governs its own threads (the dream engine does)

    def __call__(self, image: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ConvolutionSettings:
    """The Convolution page's kernel and geometry for live frames (``same`` padding keeps the
    output as large as the input, ``replicate`` keeps the frame's border from lighting up)."""

    kernel: tuple[tuple[float, ...], ...] | tuple[tuple[tuple[float, ...], ...], ...]
    stride: int = 1
    dilation: int = 1
    mode: str = "correlate"
    color: str = "gray"  # "gray": convolve the luma; "rgb": each channel (or a 3-channel kernel)
    view: str = DEFAULT_VIEW  # see dreamlab.convolution.to_display

    @classmethod
    def of(cls, kernel: np.ndarray, **options: object) -> ConvolutionSettings:
        """Settings from a kernel array (kept as nested tuples, so settings compare by value)."""
        return cls(kernel=tuple(map(tuple, np.asarray(kernel, np.float32).tolist())), **options)

    def conv_config(self) -> ConvConfig:
        return ConvConfig(self.stride, "same", self.dilation, self.mode, "replicate")


class _Convolution:
    governed_inside = False

    def __init__(self, settings: ConvolutionSettings) -> None:
        self.settings = settings
        self.kernel = np.asarray(settings.kernel, np.float32)  # (kh, kw) or (kh, kw, C)
        self.cfg = settings.conv_config().to_dict()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        s = self.settings
        source = to_gray(image) if s.color == "gray" else image  # (H, W) or (H, W, 3)
        out = convolve(source, self.kernel, **self.cfg)  # (H', W') or (H', W', C)
        picture = _enlarge(to_display(out, s.view), s.stride, image.shape[0])
        return _side_by_side(image, picture)


@dataclass(frozen=True)
class MapsSettings:
    """A layer's most active channels as tiles."""

    layer: str
    count: int = 6
    cols: int = 3
    tile: int = 160  # each tile's longer side, px
    order: str = "std"  # see dreamlab.activations.top_channels
    memory: float = 0.8  # how much of the last frames' channel scores the ranking keeps


class _FeatureMaps:
    governed_inside = False

    def __init__(self, settings: MapsSettings, model: LoadedModel) -> None:
        self.settings, self.model = settings, model
        self._scores: np.ndarray | None = None  # (C,) running channel scores

    def _ranked(self, maps: np.ndarray) -> list[int]:
        """The top channels of the running scores, in channel order (tiles stay in place)."""
        s = self.settings
        flat = maps.reshape(maps.shape[0], -1)  # (C, h*w)
        now = flat.std(axis=1) if s.order == "std" and flat.shape[1] > 1 else flat.mean(axis=1)
        if self._scores is None or self._scores.shape != now.shape:
            self._scores = now
        else:
            self._scores = s.memory * self._scores + (1 - s.memory) * now
        picked = top_channels(self._scores[:, None, None], s.count, by="mean")
        return sorted(picked)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        s = self.settings
        maps = layer_maps(self.model, image, s.layer)  # (C, h, w)
        top = self._ranked(maps)
        tiles = np.stack(
            [colorize(maps[c], sc) for c, sc in zip(top, channel_scales(maps[top]), strict=True)]
        )  # (N, h, w, 3)
        return mosaic(tiles, [f"#{c}" for c in top], cols=s.cols, pad=_GAP, tile_size=s.tile)


@dataclass(frozen=True)
class DreamSettings:
    """A few dream steps per frame; ``carry`` of the dream's detail goes on to the next frame."""

    layer: str | None = None  # None: the model's default layer
    steps: int = 2
    lr: float = 0.05
    jitter: int = 8
    carry: float = 0.85  # 0: every frame dreams afresh (boils); near 1: the dream lingers


class _Dream:
    governed_inside = True  # dream() wraps its steps in the thread governor itself

    def __init__(self, settings: DreamSettings, model: LoadedModel) -> None:
        self.settings, self.model = settings, model
        self._coherence: Coherence | None = None  # the dream carried frame to frame
        self._count = 0

    def _start(self, image: np.ndarray) -> np.ndarray:
        """The camera picture plus the last frame's dream detail, moved along the optical flow
        (a picture of a new size starts afresh)."""
        if self._coherence is None:
            method = "flow" if self.settings.carry > 0 else "none"
            self._coherence = Coherence(preset=_FLOW_PRESET)
            self._coherence.start(image, method=method, blend=self.settings.carry)
        return self._coherence.init_for(image)  # (H, W, 3) uint8

    def __call__(self, image: np.ndarray) -> np.ndarray:
        s = self.settings
        run = dream(
            self._start(image),
            self.model,
            layer=s.layer,
            num_octaves=1,
            iterations=s.steps,
            lr=s.lr,
            jitter=s.jitter,
            max_side=max(image.shape[:2]),
            seed=self._count,  # a new jitter each frame: no fixed pattern burnt in
        )
        (frame,) = deque(run, maxlen=1)  # the last step (one octave of ``steps`` steps)
        self._count += 1
        dreamed = frame.image  # (H, W, 3) uint8
        assert self._coherence is not None
        self._coherence.update(image, dreamed)
        return dreamed


Settings = ConvolutionSettings | MapsSettings | DreamSettings


def make_processor(settings: Settings, model: LoadedModel | None = None) -> Processor:
    """The processor of a mode's settings (feature maps and dream need the model)."""
    if isinstance(settings, ConvolutionSettings):
        return _Convolution(settings)
    if model is None:
        raise ValueError("the feature maps and dream modes need a model")
    if isinstance(settings, MapsSettings):
        model.check_layer(settings.layer)
        return _FeatureMaps(settings, model)
    if settings.layer is not None:
        model.check_layer(settings.layer)
    return _Dream(settings, model)


# ---------------------------------------------------------------- measures


class ArrivalClock:
    """When a frame reached the server, on the server's clock, from its timestamp.

    A frame's timestamp (seconds of the sender's media clock) plus a fixed offset is its arrival;
    the offset is the smallest ``now - timestamp`` seen so far (the frames that waited least), so
    a latency measured from here is the time a frame spent queued and processed at the server.
    """

    def __init__(self) -> None:
        self._offset: float | None = None

    def arrival(self, timestamp: float, now: float) -> float:
        seen = now - timestamp
        if self._offset is None or seen < self._offset:
            self._offset = seen
        return timestamp + self._offset


class LiveStats:
    """Frames per second and latency of the frames processed over the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self._clock = window_s, clock
        self._done: deque[tuple[float, float]] = deque()  # (finished at, latency s)
        self._lock = threading.Lock()
        self.total = 0

    def record(self, latency: float) -> None:
        now = self._clock()
        with self._lock:
            self._done.append((now, max(0.0, latency)))
            self.total += 1
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._done and now - self._done[0][0] > self.window_s:
            self._done.popleft()

    def fps(self) -> float:
        """Processed frames per second over the window (0 until two frames are in it)."""
        with self._lock:
            self._trim(self._clock())
            if len(self._done) < 2:
                return 0.0
            span = self._done[-1][0] - self._done[0][0]
            return (len(self._done) - 1) / span if span > 0 else 0.0

    def latency(self) -> float | None:
        """The median latency (seconds) over the window, None without frames."""
        with self._lock:
            self._trim(self._clock())
            values = sorted(lat for _, lat in self._done)
        return values[len(values) // 2] if values else None


# ---------------------------------------------------------------- streams


class StreamRegistry:
    """The live streams of this server: at most ``cap`` at once; a stream whose last frame is
    older than ``stale_s`` is ended (a tab closed without a word) when anyone next looks."""

    def __init__(
        self,
        cap: int | None = None,
        stale_s: float = 20.0,  # a backstop: WebRTC itself ends a closed tab's stream at once
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cap = cap if cap is not None else default_stream_cap()
        if self.cap < 1:
            raise ValueError("the live stream cap must be at least 1")
        self.stale_s, self._clock = stale_s, clock
        self._lock = threading.Lock()
        self._seen: dict[int, tuple[LiveStream, float]] = {}  # id -> (stream, last frame at)

    def _prune(self) -> list[LiveStream]:
        now = self._clock()
        gone = [s for s, t in self._seen.values() if now - t > self.stale_s]
        for stream in gone:
            del self._seen[id(stream)]
        return gone

    def join(self, stream: LiveStream) -> bool:
        """Admit ``stream`` (True), or refuse it because the server is full (False)."""
        with self._lock:
            gone = self._prune()
            ok = id(stream) in self._seen or len(self._seen) < self.cap
            if ok:
                self._seen[id(stream)] = (stream, self._clock())
        for old in gone:
            old.end()
        return ok

    def touch(self, stream: LiveStream) -> bool:
        """A frame of ``stream`` arrived; False if it is no longer admitted (it must join again)."""
        with self._lock:
            if id(stream) not in self._seen:
                return False
            self._seen[id(stream)] = (stream, self._clock())
            return True

    def leave(self, stream: LiveStream) -> None:
        with self._lock:
            self._seen.pop(id(stream), None)

    def active(self) -> int:
        """Streams running now (stale ones ended first)."""
        with self._lock:
            gone = self._prune()
            count = len(self._seen)
        for old in gone:
            old.end()
        return count


@dataclass
class LiveFrame:
    """One processed frame (``size`` lets the thread governor compare like with like)."""

    image: np.ndarray  # H x W x 3 uint8, what the page shows
    size: tuple[int, int]  # (H, W) of the processed camera picture


@dataclass
class _Status:
    state: str = "idle"  # idle, waiting (for a gate seat), running, full, error
    error: BaseException | None = None


@dataclass
class LiveStream:
    """One browser's stream: its settings, its seats, its measures. Thread-safe: the page sets the
    processor, the video thread calls :meth:`process`, either may call :meth:`end`."""

    registry: StreamRegistry
    gate: JobGate
    device: str = "cpu"
    turn_timeout_s: float = 1.0  # a frame that cannot get a turn in this time is dropped
    clock: Callable[[], float] = time.monotonic
    stats: LiveStats = field(default_factory=LiveStats)
    status: _Status = field(default_factory=_Status)
    _processor: Processor | None = None
    _key: object = None
    _ticket: Ticket | None = None
    _frames: Iterator[LiveFrame] | None = None
    _pending: np.ndarray | None = None
    _last: np.ndarray | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, key: object, build: Callable[[], Processor]) -> None:
        """Use ``build()``'s processor unless the current one was built for the same ``key``
        (a rerun with the same settings keeps the dream's carried detail)."""
        with self._lock:
            if self._processor is not None and key == self._key:
                return
            self._processor, self._key, self._frames = build(), key, None
            self.status.error = None

    def process(self, image: np.ndarray, arrived: float | None = None) -> np.ndarray:
        """The picture to show for the newest camera picture (the input itself while the server is
        full or the stream waits for a seat; the last output when this frame's turn is refused)."""
        arrived = self.clock() if arrived is None else arrived
        ticket = self._seated() if self._admitted() else None
        if ticket is None:
            return image
        gate = self.gate
        if not gate.begin_turn(ticket, timeout=self.turn_timeout_s):  # False too once ended
            return self._last if self._last is not None else image  # dropped, not queued
        try:
            frame = self._run(image)
        finally:
            gate.end_turn(ticket)
        if frame is None:
            return image
        self._last = frame.image
        self.stats.record(self.clock() - arrived)
        self.registry.touch(self)
        return frame.image

    def _admitted(self) -> bool:
        if self.registry.touch(self) or self.registry.join(self):
            return True
        self.status.state = "full"
        return False

    def _seated(self) -> Ticket | None:
        """This stream's gate ticket once it has a seat (never waiting for one), else None."""
        with self._lock:
            if self._ticket is None:
                self._ticket = self.gate.enter()
            ticket = self._ticket
        if self.gate.wait_turn(ticket, timeout=0):
            if self.status.error is None:
                self.status.state = "running"
            return ticket
        self.status.state = "waiting"
        return None

    def _run(self, image: np.ndarray) -> LiveFrame | None:
        with self._lock:
            processor = self._processor
            if processor is None or self.status.error is not None:
                return None  # a failed mode waits for new settings (the page shows its error)
            if self._frames is None:
                pulled = self._pull()
                self._frames = pulled if processor.governed_inside else govern(pulled, self.device)
            frames = self._frames
        self._pending = image
        try:
            frame = next(frames)
        except (ValueError, RuntimeError, MemoryError) as exc:  # one line on the page
            with self._lock:
                self._frames = None
            self.status.state, self.status.error = "error", exc
            return None
        return frame

    def _pull(self) -> Iterator[LiveFrame]:
        while True:
            image, processor = self._pending, self._processor
            assert image is not None and processor is not None
            yield LiveFrame(processor(image), image.shape[:2])

    def end(self) -> None:
        """The stream is over (Stop, a closed tab, a stale stream): free its seats; idempotent."""
        with self._lock:
            ticket, self._ticket, self._frames = self._ticket, None, None
        if ticket is not None:
            self.gate.leave(ticket)
        self.registry.leave(self)
        self.status.state = "idle"
