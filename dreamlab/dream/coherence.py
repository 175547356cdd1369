"""Tie consecutive dreamed frames together: optical flow, warping, occlusion masks, carried detail.

Dreaming each frame of a clip alone makes the patterns boil: every frame starts from its own raw
pixels and the ascent lands on different details. The cure (Ruder et al. 2016 for style transfer,
DeepDreamVideo's blending before it) is to start each frame from the previous dream. This module
carries only the dream's *detail* (dreamed minus raw) to the next frame, moved along the optical
flow between the raw frames, and drops it where the flow is not trusted (occlusions: the forward
and backward flows disagree), so the dream moves with the scene.

Images are ``H x W x 3`` uint8 (the edge convention) or float arrays in [0, 1]; flows are
``(H, W, 2)`` float32 in pixels, ``flow[y, x] = (dx, dy)``. The flow is OpenCV's DIS (CPU,
offline, no weights). Used by the video dream (``dreamlab.dream.video``) and the Live camera page.

    coh = Coherence()
    coh.start(raw0, method="flow", blend=0.9)
    coh.update(raw0, dream_of(raw0))
    start1 = coh.init_for(raw1)      # raw1 plus the carried detail: dream from here
    coh.update(raw1, dream_of(start1))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

__all__ = [
    "DEFAULT_BLEND",
    "DEFAULT_TOL",
    "FLOW_PRESETS",
    "METHODS",
    "Coherence",
    "Method",
    "estimate_flow",
    "occlusion_mask",
    "to_gray",
    "warp",
]

Method = Literal["flow", "blend", "none"]
METHODS: tuple[str, ...] = ("flow", "blend", "none")
# How much of the previous frame's dream carries over: the share of the detail (flow) or of the
# previous dreamed frame (blend). Below 1 the carried detail fades, so it cannot pile up forever.
DEFAULT_BLEND = 0.9
# Forward-backward disagreement (pixels) tolerated before a pixel counts as occluded.
DEFAULT_TOL = 1.0
FLOW_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def to_gray(image: np.ndarray) -> np.ndarray:
    """``image`` (H x W x 3 or H x W; uint8 or float in [0, 1]) as H x W uint8 grey, for the flow."""
    img = _as_uint8(image)
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def estimate_flow(
    prev_gray: np.ndarray, next_gray: np.ndarray, preset: str = "medium"
) -> np.ndarray:
    """Dense optical flow from ``prev_gray`` to ``next_gray``: ``(H, W, 2)`` float32, in pixels.

    ``flow[y, x] = (dx, dy)`` says where the pixel at ``(x, y)`` of ``prev`` went in ``next``.
    Colour or float images are turned grey first. ``preset`` is one of ``FLOW_PRESETS``.
    """
    a, b = to_gray(prev_gray), to_gray(next_gray)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} vs {b.shape}")
    if preset not in FLOW_PRESETS:
        raise ValueError(f"flow preset must be one of {', '.join(FLOW_PRESETS)}; got {preset!r}")
    dis = cv2.DISOpticalFlow_create(FLOW_PRESETS[preset])  # cheap; one per call is thread-safe
    return dis.calc(a, b, None).astype(np.float32, copy=False)  # (H, W, 2)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)  # (H, W) each
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray, border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """Sample ``image`` at ``(x, y) + flow[y, x]`` (bilinear): the backward warp.

    With ``flow`` from the *next* frame to ``image``'s frame (``estimate_flow(next, prev)``), the
    result is ``image`` moved into the next frame's place: a scene shifted right by 3 px has a
    backward flow of -3, and ``warp`` moves ``image``'s detail 3 px right. Outside the frame it
    reads 0 (``border``). Any dtype and channel count; the result keeps ``image``'s dtype.
    """
    h, w = flow.shape[:2]
    if image.shape[:2] != (h, w):
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    xs, ys = _grid(h, w)
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    src = image.astype(np.float32) if image.dtype == np.float64 else image
    out = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=border, borderValue=0)
    return out.astype(image.dtype, copy=False)


def occlusion_mask(
    flow_fwd: np.ndarray, flow_bwd: np.ndarray, tol: float = DEFAULT_TOL
) -> np.ndarray:
    """Where the flow is trusted, in the *next* frame: ``(H, W)`` float32, 1 trusted, 0 not.

    ``flow_fwd`` goes prev -> next, ``flow_bwd`` next -> prev. Following ``flow_bwd`` from a pixel
    of next and then ``flow_fwd`` back should land where it started; where the round trip misses by
    more than ``tol`` pixels (plus 5 % of the motion, as fast motion is measured less precisely) the
    pixel was hidden in prev (an occlusion) or the flow is wrong. Pixels whose source lies outside
    prev are 0 too. The edge of the mask is softened over about a pixel.
    """
    if flow_fwd.shape != flow_bwd.shape:
        raise ValueError(f"flows differ in shape: {flow_fwd.shape} vs {flow_bwd.shape}")
    if tol < 0:
        raise ValueError(f"tol must be at least 0, got {tol}")
    h, w = flow_bwd.shape[:2]
    fwd_at_src = warp(flow_fwd, flow_bwd, border=cv2.BORDER_REPLICATE)  # (H, W, 2)
    miss = np.sum((fwd_at_src + flow_bwd) ** 2, axis=-1)  # (H, W) squared round-trip error
    motion = np.sum(fwd_at_src**2, axis=-1) + np.sum(flow_bwd**2, axis=-1)
    ok = miss <= tol**2 + 0.05**2 * motion
    xs, ys = _grid(h, w)
    sx, sy = xs + flow_bwd[..., 0], ys + flow_bwd[..., 1]
    ok &= (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    mask = ok.astype(np.float32)
    return cv2.GaussianBlur(mask, (3, 3), 0) if min(h, w) >= 3 else mask


def _as_float(image: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1]; floats -> float32 unchanged."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    return image.astype(np.float32, copy=False)


def _as_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _like(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """``image`` (float32 in [0, 1], clipped) in ``template``'s convention (uint8 or float32)."""
    out = np.clip(image, 0.0, 1.0)
    return _as_uint8(out) if template.dtype == np.uint8 else out


@dataclass
class Coherence:
    """Carries a dream from one frame to the next (see the module's docstring).

    ``method``: ``"flow"`` moves the detail (dreamed - raw) along the backward flow, masked by
    :func:`occlusion_mask` and scaled by ``blend``; ``"blend"`` mixes the next raw frame with the
    previous dreamed frame, ``(1 - blend) * raw + blend * dreamed`` (DeepDreamVideo's way, which
    leaves ghosts where things move); ``"none"`` dreams each frame alone. Not thread-safe: one per
    stream.
    """

    method: str = "flow"
    blend: float = DEFAULT_BLEND
    tol: float = DEFAULT_TOL
    preset: str = "medium"
    _prev_raw: np.ndarray | None = field(default=None, repr=False)  # (H, W, 3) float32
    _detail: np.ndarray | None = field(default=None, repr=False)  # (H, W, 3) float32
    last_mask: np.ndarray | None = field(default=None, repr=False)  # the latest trust mask

    def start(self, raw: np.ndarray, method: str = "flow", blend: float = DEFAULT_BLEND) -> None:
        """Begin a new stream at ``raw``: forget the carried dream, set the method and blend."""
        if method not in METHODS:
            raise ValueError(f"coherence must be one of {', '.join(METHODS)}; got {method!r}")
        if not 0.0 <= float(blend) <= 1.0:
            raise ValueError(f"blend must be between 0 and 1, got {blend}")
        self.method, self.blend = method, float(blend)
        self._prev_raw, self._detail, self.last_mask = _as_float(raw), None, None

    @property
    def carrying(self) -> bool:
        """True once a dreamed frame has been seen (the next ``init_for`` carries something)."""
        return self._detail is not None and self.method != "none"

    def init_for(self, raw_next: np.ndarray) -> np.ndarray:
        """The image the next frame's dream should start from: ``raw_next`` plus the carried dream.

        Same convention as ``raw_next`` (uint8 or float). ``raw_next`` itself when nothing is
        carried (first frame, method ``"none"``, or the frame size changed).
        """
        nxt = _as_float(raw_next)
        prev, detail = self._prev_raw, self._detail
        if not self.carrying or prev is None or detail is None or prev.shape != nxt.shape:
            return raw_next
        if self.method == "blend":
            return _like((1.0 - self.blend) * nxt + self.blend * (prev + detail), raw_next)
        g_prev, g_next = to_gray(prev), to_gray(nxt)
        fwd = estimate_flow(g_prev, g_next, self.preset)  # (H, W, 2) prev -> next
        bwd = estimate_flow(g_next, g_prev, self.preset)  # (H, W, 2) next -> prev
        self.last_mask = occlusion_mask(fwd, bwd, self.tol)  # (H, W)
        moved = warp(detail, bwd)  # (H, W, 3) the detail in next's place
        return _like(nxt + self.blend * self.last_mask[..., None] * moved, raw_next)

    def update(self, raw: np.ndarray, dreamed: np.ndarray) -> None:
        """Remember the frame just dreamed: ``raw`` (its input frame) and ``dreamed`` (the result).

        ``dreamed`` of another size than ``raw`` (a dream at a smaller side) is resized to it.
        """
        r, d = _as_float(raw), _as_float(dreamed)
        if d.shape[:2] != r.shape[:2]:
            d = cv2.resize(d, (r.shape[1], r.shape[0]), interpolation=cv2.INTER_LINEAR)
        self._prev_raw, self._detail = r, d - r  # (H, W, 3) each
