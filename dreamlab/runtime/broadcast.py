"""Class broadcast: one teacher's dream frames, shared with every viewer of a short class code.

The teacher's dream loop publishes each drawn frame here, already encoded (JPEG bytes), so a class
of 30 only reads bytes: nothing is computed or encoded again per viewer. The store is bounded: it
keeps only the latest frame of each code (and, when the teacher dreams from their own upload, that
photo once), refuses a frame or photo over ``max_frame_bytes``, and holds at most ``max_codes``
codes (making one more drops the least recently active), so its memory never exceeds
``2 * max_codes * max_frame_bytes``, plus the latest frames' ``data:`` URIs once viewers draw
them (4/3 of a frame's bytes, made once per frame for all its viewers). A code expires ``ttl_s``
(two hours) after its last activity (made, or a frame published). One store serves every session
of a server (thread-safe).

Codes are 6 characters from an alphabet without the look-alikes 0/O and 1/I, and are read
case-insensitively (``k7p2qx`` is ``K7P2QX``).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from dreamlab.runtime.budget import track

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "FRAME_STATES",
    "TTL_S",
    "BroadcastStore",
    "ClassCodeError",
    "ClassFrame",
    "data_uri",
    "normalize_code",
]

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0, 1, I, O: nothing to misread on a board
CODE_LENGTH = 6  # 32**6: about a billion codes, so a guessed code almost never exists
TTL_S = 2 * 3600.0
FRAME_STATES = ("running", "finished", "stopped")


class ClassCodeError(ValueError):
    """A class code that is malformed, unknown or expired (the message is one line)."""


def normalize_code(text: str) -> str:
    """``text`` as a class code (trimmed, upper case), or :class:`ClassCodeError` if it can't be one."""
    code = str(text).strip().upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        raise ClassCodeError(f"{text!r} is not a class code")
    return code


@dataclass(frozen=True)
class ClassFrame:
    """One published frame: encoded pictures, progress and the dream's settings (read-only)."""

    seq: int  # 1, 2, 3, ... per code: a viewer asks for anything newer than what it has shown
    image: bytes  # the dream, encoded once (JPEG)
    maps: bytes | None  # the layer's maps picture, encoded once
    progress: float  # 0..1
    text: str  # the progress line, as the teacher sees it
    settings: Mapping[str, Any] = field(default_factory=dict)  # JSON-like: what made the dream
    state: str = "running"  # one of FRAME_STATES

    @property
    def nbytes(self) -> int:
        return len(self.image) + len(self.maps or b"")

    @cached_property
    def image_uri(self) -> str:
        """The dream as a ``data:`` URI, made once per frame for every viewer: a viewer's page
        carries the picture in its own message, with no media file or extra request per viewer."""
        return data_uri(self.image)

    @cached_property
    def maps_uri(self) -> str | None:
        """The maps picture as a ``data:`` URI (None without maps), made once per frame."""
        return None if self.maps is None else data_uri(self.maps)


def data_uri(jpeg: bytes) -> str:
    """JPEG bytes as a ``data:image/jpeg;base64,...`` URI."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


@dataclass
class _Channel:
    touched: float  # the last activity (made or published), on the store's clock
    seq: int = 0
    frame: ClassFrame | None = None
    photo: bytes | None = None  # the teacher's own photo (an upload), encoded once


class BroadcastStore:
    """Codes and their latest frame; ``clock`` (seconds, monotonic) is injectable for tests."""

    def __init__(
        self,
        *,
        ttl_s: float = TTL_S,
        max_codes: int = 32,
        max_frame_bytes: int = 2_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0 or max_codes < 1 or max_frame_bytes < 1:
            raise ValueError("ttl_s, max_codes and max_frame_bytes must be positive")
        self.ttl_s, self.max_codes, self.max_frame_bytes = ttl_s, max_codes, max_frame_bytes
        self._clock = clock
        self._channels: dict[str, _Channel] = {}
        self._changed = threading.Condition()  # guards _channels; notified on every publish
        track(self)  # its frames and photos count in the server's memory budget

    # ------------------------------------------------------------ codes

    def create(self) -> str:
        """A new code (the least recently active one is dropped when ``max_codes`` are live)."""
        with self._changed:
            self._purge()
            while len(self._channels) >= self.max_codes:
                oldest = min(self._channels, key=lambda c: self._channels[c].touched)
                del self._channels[oldest]
            code = self._new_code()
            self._channels[code] = _Channel(touched=self._clock())
            return code

    def close(self, code: str) -> None:
        """Stop sharing ``code`` (its viewers then get "unknown or expired"); unknown: no-op."""
        with self._changed:
            self._channels.pop(code.strip().upper(), None)
            self._changed.notify_all()

    def is_live(self, code: str) -> bool:
        """Whether ``code`` names a live (known, unexpired) class."""
        try:
            with self._changed:
                self._channel(code)
        except ClassCodeError:
            return False
        return True

    def remaining_s(self, code: str) -> float:
        """Seconds until ``code`` expires if nothing more is published."""
        with self._changed:
            return self._channel(code).touched + self.ttl_s - self._clock()

    def codes(self) -> list[str]:
        """The live codes."""
        with self._changed:
            self._purge()
            return list(self._channels)

    @property
    def nbytes(self) -> int:
        """Bytes held by the frames and photos of every code."""
        with self._changed:
            return sum(
                (ch.frame.nbytes if ch.frame else 0) + len(ch.photo or b"")
                for ch in self._channels.values()
            )

    # ------------------------------------------------------------ frames

    def publish(
        self,
        code: str,
        image: bytes,
        maps: bytes | None = None,
        *,
        progress: float = 0.0,
        text: str = "",
        settings: Mapping[str, Any] | None = None,
        state: str = "running",
    ) -> int:
        """Make this the code's latest frame (the previous one is dropped); its sequence number."""
        if state not in FRAME_STATES:
            raise ValueError(f"unknown frame state {state!r}; states: {', '.join(FRAME_STATES)}")
        size = len(image) + len(maps or b"")
        if size > self.max_frame_bytes:
            raise ValueError(f"a {size} byte frame is over the {self.max_frame_bytes} byte limit")
        with self._changed:
            channel = self._channel(code)
            channel.seq += 1
            channel.frame = ClassFrame(
                channel.seq,
                bytes(image),
                maps,
                min(max(progress, 0.0), 1.0),
                text,
                dict(settings or {}),
                state,
            )
            channel.touched = self._clock()
            self._changed.notify_all()
            return channel.seq

    def mark(self, code: str, state: str) -> int | None:
        """Publish the latest frame again with a new ``state`` (finished, stopped); None if none."""
        if state not in FRAME_STATES:
            raise ValueError(f"unknown frame state {state!r}; states: {', '.join(FRAME_STATES)}")
        with self._changed:
            channel = self._channel(code)
            if channel.frame is None:
                return None
            channel.seq += 1
            channel.frame = replace(channel.frame, seq=channel.seq, state=state)
            channel.touched = self._clock()
            self._changed.notify_all()
            return channel.seq

    def set_photo(self, code: str, photo: bytes | None) -> None:
        """The photo the teacher dreams from when it is their own (None: a sample or noise), so
        **Dream with these settings** can start from it too; at most ``max_frame_bytes``."""
        if photo is not None and len(photo) > self.max_frame_bytes:
            raise ValueError(f"a {len(photo)} byte photo is over the {self.max_frame_bytes} limit")
        with self._changed:
            self._channel(code).photo = None if photo is None else bytes(photo)

    def photo(self, code: str) -> bytes | None:
        """The code's shared photo, if the teacher dreams from their own."""
        with self._changed:
            return self._channel(code).photo

    def latest(self, code: str) -> ClassFrame | None:
        """The code's latest frame (None before the first); :class:`ClassCodeError` if not live."""
        with self._changed:
            return self._channel(code).frame

    def wait_newer(self, code: str, after: int, timeout: float) -> ClassFrame | None:
        """The latest frame once its ``seq`` is above ``after``; None if none comes in ``timeout`` s.

        Raises :class:`ClassCodeError` if the code is not live (also when it ends while waiting).
        """
        deadline = time.monotonic() + max(timeout, 0.0)  # real time: the clock is only for expiry
        with self._changed:
            while True:
                frame = self._channel(code).frame
                if frame is not None and frame.seq > after:
                    return frame
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    # ------------------------------------------------------------ internals (lock held)

    def _channel(self, code: str) -> _Channel:
        key = normalize_code(code)
        channel = self._channels.get(key)
        if channel is not None and self._clock() - channel.touched >= self.ttl_s:
            del self._channels[key]
            channel = None
        if channel is None:
            raise ClassCodeError(f"class code {key} is unknown or has expired")
        return channel

    def _purge(self) -> None:
        now = self._clock()
        for code in [c for c, ch in self._channels.items() if now - ch.touched >= self.ttl_s]:
            del self._channels[code]

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self._channels:
                return code
