"""The service's wire format, shared by the server and the client (no Ray, no web framework).

A streamed job is a sequence of messages. Each message is a 4-byte big-endian length, a UTF-8
JSON header of that length, then the raw bytes of the arrays the header lists (``arrays``: name,
dtype, shape, in order). Kinds: ``plan`` (a dream's :class:`~dreamlab.dream.DreamPlan`, first),
``frame`` (a dream step: its numbers, the image as H x W x 3 uint8, the maps as float16),
``vis`` (a feature-visualization step: the images as B x H x W x 3 uint8), ``error`` (a one-line
error after the stream began) and ``end``. Raw arrays, not PNG: on a LAN the bytes are cheaper
than the encoding time.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dreamlab.dream.engine import DreamPlan
from dreamlab.dream.frames import DreamFrame
from dreamlab.errors import DreamLabError
from dreamlab.images import to_tensor
from dreamlab.optvis.render import VisFrame

__all__ = [
    "CONTENT_TYPE",
    "Message",
    "WireError",
    "decode_arrays",
    "encode",
    "frame_from",
    "frame_message",
    "plan_from",
    "plan_message",
    "read_message",
    "vis_from",
    "vis_message",
]

CONTENT_TYPE = "application/x-dreamlab-frames"
_LEN = struct.Struct(">I")
_MAX_HEADER = 1 << 20  # a header is numbers and names: anything larger is not ours
_DTYPES = {"uint8", "float16", "float32"}


class WireError(DreamLabError):
    """The stream is not DreamLab's frame format (or was cut)."""


@dataclass(frozen=True)
class Message:
    """One message: its kind, its numbers (``meta``) and its arrays."""

    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def encode(kind: str, meta: dict[str, Any] | None = None, **arrays: np.ndarray) -> bytes:
    """One message as bytes (the arrays are sent C-contiguous, in the order given)."""
    specs, blobs = [], []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        if a.dtype.name not in _DTYPES:
            raise ValueError(f"array {name}: dtype {a.dtype} is not sent on the wire")
        specs.append({"name": name, "dtype": a.dtype.name, "shape": list(a.shape)})
        blobs.append(a.tobytes())
    header = json.dumps({"kind": kind, "meta": meta or {}, "arrays": specs}).encode()
    return b"".join([_LEN.pack(len(header)), header, *blobs])


def _exact(read: Callable[[int], bytes], n: int) -> bytes:
    """``n`` bytes from ``read`` (which may return fewer), or fewer at the end of the stream."""
    parts, got = [], 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def decode_arrays(specs: list[dict[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    """The arrays a header lists, read from the bytes that follow it."""
    out, pos = {}, 0
    for spec in specs:
        dtype = np.dtype(spec["dtype"])
        shape = tuple(int(s) for s in spec["shape"])
        n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        out[spec["name"]] = np.frombuffer(data[pos : pos + n], dtype=dtype).reshape(shape)
        pos += n
    return out


def _size(specs: list[dict[str, Any]]) -> int:
    if not isinstance(specs, list) or any(s.get("dtype") not in _DTYPES for s in specs):
        raise WireError("the backend sent an array DreamLab does not read", "backend_protocol")
    return sum(
        int(np.prod(s["shape"], dtype=np.int64)) * np.dtype(s["dtype"]).itemsize for s in specs
    )


def read_message(read: Callable[[int], bytes]) -> Message | None:
    """The next message from a byte stream, or None at its clean end.

    A stream cut inside a message, or bytes that are not this format, raise :class:`WireError`.
    """
    head = _exact(read, _LEN.size)
    if not head:
        return None
    if len(head) < _LEN.size:
        raise WireError("the backend's stream was cut", "backend_protocol")
    (n,) = _LEN.unpack(head)
    if n > _MAX_HEADER:
        raise WireError("the backend's answer is not DreamLab frames", "backend_protocol")
    raw = _exact(read, n)
    if len(raw) < n:
        raise WireError("the backend's stream was cut", "backend_protocol")
    try:
        header = json.loads(raw)
        kind, meta, specs = header["kind"], header["meta"], header["arrays"]
    except (ValueError, KeyError, TypeError):
        raise WireError("the backend's answer is not DreamLab frames", "backend_protocol") from None
    size = _size(specs)
    data = _exact(read, size)
    if len(data) < size:
        raise WireError("the backend's stream was cut", "backend_protocol")
    return Message(str(kind), dict(meta), decode_arrays(specs, data))


# ---------------------------------------------------------------- frames <-> messages


def plan_message(plan: DreamPlan, mean: tuple[float, ...], std: tuple[float, ...]) -> bytes:
    """A dream's plan, first in its stream, with the model's normalization (to rebuild frames)."""
    meta = {
        "sizes": [list(s) for s in plan.sizes],
        "dropped": plan.dropped,
        "min_side": plan.min_side,
        "targets": [list(t) for t in plan.targets],
        "iterations": plan.iterations,
        "loops": plan.loops,
        "device": plan.device,
        "precision": plan.precision,
        "mean": list(mean),
        "std": list(std),
    }
    return encode("plan", meta)


def plan_from(msg: Message) -> DreamPlan:
    m = msg.meta
    return DreamPlan(
        tuple(tuple(int(v) for v in s) for s in m["sizes"]),
        int(m["dropped"]),
        int(m["min_side"]),
        tuple((str(name), float(w)) for name, w in m["targets"]),
        int(m["iterations"]),
        int(m["loops"]),
        str(m["device"]),
        str(m["precision"]),
    )


_FRAME_INTS = ("octave", "iteration", "step", "total", "num_octaves", "iterations", "loop")


def frame_message(frame: DreamFrame, maps: bool = True) -> bytes:
    """One dream step: its numbers, its image (uint8) and, if asked, its maps (float16)."""
    meta: dict[str, Any] = {k: getattr(frame, k) for k in _FRAME_INTS}
    meta.update(layer=frame.layer, loss=frame.loss, shift=list(frame.shift))
    arrays = {"image": frame.image}
    if maps:
        arrays["maps"] = frame.maps.detach().to(torch.float16).cpu().numpy()  # (1, C, h, w)
    return encode("frame", meta, **arrays)


def frame_from(msg: Message, mean: torch.Tensor, std: torch.Tensor) -> DreamFrame:
    """The :class:`DreamFrame` a ``frame`` message describes (on the CPU): the same object a
    local dream yields, so ``.image``, ``.activations`` and ``.loss`` read the same."""
    m, a = msg.meta, msg.arrays
    x = (to_tensor(np.array(a["image"])) - mean) / std  # (1, 3, H, W) normalized
    maps = a.get("maps")
    maps_t = (
        torch.from_numpy(maps.astype(np.float32)) if maps is not None else torch.zeros(1, 0, 1, 1)
    )  # (1, C, h, w)
    return DreamFrame(
        *(int(m[k]) for k in _FRAME_INTS),
        str(m["layer"]),
        x,
        mean,
        std,
        torch.tensor(float(m["loss"])),
        maps_t,
        (int(m["shift"][0]), int(m["shift"][1])),
    )


def vis_message(frame: VisFrame) -> bytes:
    return encode(
        "vis", {"step": frame.step, "steps": frame.steps, "loss": frame.loss}, images=frame.images
    )


def vis_from(msg: Message) -> VisFrame:
    """The :class:`VisFrame` a ``vis`` message describes (its tensor rebuilt from the uint8 images)."""
    images = torch.from_numpy(np.array(msg.arrays["images"]))  # (B, H, W, 3) uint8
    tensor = images.permute(0, 3, 1, 2).float() / 255  # (B, 3, H, W) in [0, 1]
    m = msg.meta
    return VisFrame(int(m["step"]), int(m["steps"]), float(m["loss"]), tensor)
