"""Image convolution as a CNN layer computes it: kernels, stride, padding, dilation, boundaries.

``convolve`` works in the image's own units (a uint8 photo gives outputs on the 0..255 scale, as in
the seed's figure) and returns float32. It runs on ``torch.nn.functional.conv2d``: a 1024 px photo
takes a few milliseconds on a laptop CPU, so the page can recompute on every slider move.

Conventions (the same as PyTorch and scipy, tested against both):

* ``mode="correlate"`` (the default) computes ``out(i, j) = sum_{x,y} I(i*s + x*d - p, j*s + y*d - p)
  w(x, y)``: no kernel flip, what a CNN layer computes. ``mode="convolve"`` flips the kernel on
  both axes first, as ``scipy.signal.convolve2d``.
* ``padding`` is pixels on every side, ``"valid"`` (0) or ``"same"`` (the output has ``ceil(H/s)``
  rows, the TensorFlow rule). When ``"same"`` needs an odd total, the extra pixel goes after
  (bottom/right) in correlate mode, as ``torch.nn.Conv2d(padding="same")``, and before
  (top/left) in convolve mode, so that both modes agree with scipy's ``mode="same"``.
* ``boundary`` says what the padded pixels hold: ``zeros``, ``reflect`` (mirror without repeating
  the edge, numpy ``reflect``), ``replicate`` (numpy ``edge``) or ``circular`` (numpy ``wrap``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from dreamlab.errors import DreamLabError
from dreamlab.validate import check_int
from dreamlab.viz import lut

__all__ = [
    "BOUNDARIES",
    "MAX_KERNEL_SIDE",
    "MODES",
    "PRESETS",
    "VIEWS",
    "ConvConfig",
    "KernelError",
    "Preset",
    "Window",
    "colorbar",
    "convolve",
    "default_sigma",
    "display_limits",
    "kernel_sum",
    "normalize_sum",
    "output_shape",
    "output_size",
    "pad_amounts",
    "parse_kernel",
    "preset_kernel",
    "sample_padded",
    "to_display",
    "to_gray",
    "window",
]

Padding = int | str
Mode = Literal["correlate", "convolve"]
Boundary = Literal["zeros", "reflect", "replicate", "circular"]
View = Literal["signed", "abs", "clip"]

MODES: tuple[str, ...] = ("correlate", "convolve")
BOUNDARIES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")
VIEWS: tuple[str, ...] = ("signed", "abs", "clip")
# A kernel side above this would take seconds on a large photo and teaches nothing more.
MAX_KERNEL_SIDE = 63
# Luma weights (ITU-R BT.601), the usual RGB -> gray conversion.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SIGNED_CMAP = "RdBu_r"  # diverging: blue < 0 < red, white at exactly 0
# Kernels with at most this many taps use the tap loop (faster on CPUs), larger ones conv2d.
_TAP_LOOP_MAX = 169
_TORCH_PAD = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


class KernelError(DreamLabError):
    """A kernel that cannot be used; the message is one line, fit to show a user."""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ConvConfig:
    """Everything but the image and the kernel: the defaults live here and nowhere else."""

    stride: int = 1
    padding: Padding = 0
    dilation: int = 1
    mode: str = "correlate"
    boundary: str = "zeros"

    def __post_init__(self) -> None:
        check_int("stride", self.stride, 1)
        check_int("dilation", self.dilation, 1)
        if isinstance(self.padding, str):
            if self.padding not in ("same", "valid"):
                raise ValueError(
                    f"padding must be a number, 'same' or 'valid', got {self.padding!r}"
                )
        else:
            check_int("padding", self.padding, 0)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.boundary not in BOUNDARIES:
            raise ValueError(
                f"boundary must be one of {', '.join(BOUNDARIES)}, got {self.boundary!r}"
            )
        # numpy integers become plain ints, so that to_dict() is JSON-ready
        names = ["stride", "dilation"] + ([] if isinstance(self.padding, str) else ["padding"])
        for name in names:
            object.__setattr__(self, name, int(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for metadata (PNG text, logs)."""
        return asdict(self)


# ---------------------------------------------------------------- sizes


def pad_amounts(
    n: int,
    k: int,
    stride: int = 1,
    padding: Padding = 0,
    dilation: int = 1,
    mode: str = "correlate",
) -> tuple[int, int]:
    """Pixels added (before, after) along one axis of length ``n`` for a kernel side ``k``."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        span = dilation * (k - 1) + 1
        out = -(-n // stride)  # ceil(n / s): TensorFlow's "same"
        total = max((out - 1) * stride + span - n, 0)
        small, big = total // 2, total - total // 2
        return (small, big) if mode == "correlate" else (big, small)
    if isinstance(padding, str):
        raise ValueError(f"padding must be a number, 'same' or 'valid', got {padding!r}")
    return int(padding), int(padding)


def output_size(n: int, k: int, stride: int = 1, padding: Padding = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``floor((n + 2p - d(k-1) - 1)/s) + 1`` (PyTorch's Conv2d).

    With ``"same"`` the two sides may differ by one pixel; ``2p`` is then their sum. Returns 0 or
    less when the (dilated) kernel does not fit in the padded input.
    """
    before, after = pad_amounts(n, k, stride, padding, dilation)
    return (n + before + after - dilation * (k - 1) - 1) // stride + 1


def output_shape(
    image_shape: tuple[int, ...], kernel_shape: tuple[int, ...], config: ConvConfig | None = None
) -> tuple[int, ...]:
    """The shape ``convolve`` returns for these shapes (without computing anything)."""
    cfg = config or ConvConfig()
    h, w = image_shape[:2]
    kh, kw = kernel_shape[:2]
    oh = output_size(h, kh, cfg.stride, cfg.padding, cfg.dilation)
    ow = output_size(w, kw, cfg.stride, cfg.padding, cfg.dilation)
    if len(image_shape) == 3 and len(kernel_shape) == 2:
        return (oh, ow, image_shape[2])
    return (oh, ow)


# ---------------------------------------------------------------- validation


def _as_image(image: object) -> np.ndarray:
    """An ``H x W`` or ``H x W x C`` float32 array in the image's own units; one-line errors."""
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"the image must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"the image must be H x W or H x W x C, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):  # integers are always finite: skip the check
        return arr.astype(np.float32)
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError("the image contains NaN or infinite values")
    return arr


def _as_kernel(kernel: object) -> np.ndarray:
    """A ``kh x kw`` or ``kh x kw x C`` float32 kernel with finite values; one-line errors."""
    try:
        arr = np.asarray(kernel, dtype=np.float64)
    except (TypeError, ValueError):
        raise KernelError("the kernel must be a rectangular grid of numbers") from None
    if arr.ndim not in (2, 3):
        raise KernelError(f"the kernel must be kh x kw or kh x kw x C, got shape {arr.shape}")
    if arr.size == 0:
        raise KernelError("the kernel is empty")
    if not np.isfinite(arr).all():
        raise _bad_cell(arr)
    if max(arr.shape[:2]) > MAX_KERNEL_SIDE:
        raise KernelError(
            f"the kernel is {arr.shape[0]}x{arr.shape[1]}; the largest side allowed is "
            f"{MAX_KERNEL_SIDE}"
        )
    if np.abs(arr).max() > 1e6:
        raise KernelError("kernel values must lie between -1e6 and 1e6")
    return arr.astype(np.float32)


def _bad_cell(arr: np.ndarray) -> KernelError:
    """Name the first cell that is empty (NaN) or infinite, counting rows and columns from 1."""
    r, c = (int(v) + 1 for v in np.argwhere(~np.isfinite(arr))[0][:2])
    return KernelError(
        f"the kernel contains NaN or infinite values: the cell at row {r}, column {c} "
        "is empty or not a finite number",
        "kernel_cell",
        row=r,
        col=c,
    )


def _check_fit(
    image: np.ndarray, kernel: np.ndarray, cfg: ConvConfig
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Refuse what conv2d could not do; return the (top, bottom), (left, right) padding."""
    if kernel.ndim == 3:
        channels = image.shape[2] if image.ndim == 3 else 1
        if kernel.shape[2] != channels:
            raise KernelError(
                f"a {kernel.shape[0]}x{kernel.shape[1]}x{kernel.shape[2]} kernel needs an image "
                f"with {kernel.shape[2]} channels, this one has {channels}"
            )
    pads = []
    for axis, name in ((0, "height"), (1, "width")):
        n, k = image.shape[axis], kernel.shape[axis]
        before, after = pad_amounts(n, k, cfg.stride, cfg.padding, cfg.dilation, cfg.mode)
        span = cfg.dilation * (k - 1) + 1
        if span > n + before + after:
            raise KernelError(
                f"the kernel spans {span} px (dilation {cfg.dilation}) but the padded image "
                f"{name} is only {n + before + after} px"
            )
        if cfg.boundary == "reflect" and max(before, after) >= n:
            raise ValueError(
                f"reflect padding of {max(before, after)} px needs an image {name} over that, "
                f"got {n} px"
            )
        if cfg.boundary == "circular" and max(before, after) > n:
            raise ValueError(
                f"circular padding of {max(before, after)} px is more than the image {name} ({n} px)"
            )
        pads.append((before, after))
    return pads[0], pads[1]


# ---------------------------------------------------------------- convolution


def convolve(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: int = 1,
    padding: Padding = 0,
    dilation: int = 1,
    mode: str = "correlate",
    boundary: str = "zeros",
) -> np.ndarray:
    """Convolve (or correlate) an image with a kernel; float32 result in the image's units.

    ``image`` is ``H x W`` or ``H x W x C`` (uint8 or float). A ``kh x kw`` kernel is applied to
    each channel (result ``H' x W'`` or ``H' x W' x C``); a ``kh x kw x C`` kernel is a multi-channel
    filter: the per-channel results are summed into one ``H' x W'`` map, as in a CNN layer.
    Raises ``KernelError`` / ``ValueError`` with a one-line reason for any bad input.
    """
    cfg = ConvConfig(stride, padding, dilation, mode, boundary)
    img, ker = _as_image(image), _as_kernel(kernel)
    (top, bottom), (left, right) = _check_fit(img, ker, cfg)
    if cfg.mode == "convolve":
        ker = ker[::-1, ::-1].copy()  # true convolution = correlation with the flipped kernel
    x = _image_tensor(img)  # (1, C, H, W)
    x = _pad(x, (left, right, top, bottom), cfg.boundary)  # (1, C, H+pt+pb, W+pl+pr)
    weight = torch.from_numpy(np.ascontiguousarray(ker))  # (kh, kw) or (kh, kw, C)
    with torch.inference_mode():
        if ker.shape[0] * ker.shape[1] <= _TAP_LOOP_MAX:
            out = _conv_taps(x, weight, cfg.stride, cfg.dilation)  # (1, C or 1, H', W')
        else:
            out = _conv_dense(x, weight, cfg.stride, cfg.dilation)  # (1, C or 1, H', W')
    return _from_tensor(out, keep_channels=img.ndim == 3 and ker.ndim == 2)


def _conv_dense(x: torch.Tensor, weight: torch.Tensor, stride: int, dilation: int) -> torch.Tensor:
    """Cross-correlation of a padded ``(1, C, H, W)`` with ``F.conv2d``.

    A 2-D weight is applied to each channel apart (a depthwise conv, ``groups=C``); a 3-D weight
    is one multi-channel filter whose per-channel products are summed into one map.
    """
    channels = x.shape[1]
    if weight.dim() == 2:
        w = weight[None, None].expand(channels, 1, *weight.shape)  # (C, 1, kh, kw)
        groups = channels
    else:
        w = weight.permute(2, 0, 1)[None]  # (1, C, kh, kw)
        groups = 1
    return F.conv2d(x, w.contiguous(), stride=stride, dilation=dilation, groups=groups)


def _conv_taps(x: torch.Tensor, weight: torch.Tensor, stride: int, dilation: int) -> torch.Tensor:
    """The same result as ``_conv_dense``, as one multiply-add of a shifted view per kernel tap.

    On a CPU, ``F.conv2d`` with one input channel per group is slow (35 ms for a 3x3 on a
    1024x768 map on two cores, 96 ms for three channels); summing the kh*kw strided views is
    memory bound and about 30 times faster for the kernels people draw (up to 13x13).
    """
    kh, kw = weight.shape[0], weight.shape[1]
    oh = (x.shape[2] - dilation * (kh - 1) - 1) // stride + 1
    ow = (x.shape[3] - dilation * (kw - 1) - 1) // stride + 1
    # numpy, on the calling thread: torch would split each small add over its thread pool, and on
    # a busy machine one descheduled thread holds every add at the pool's barrier (a 3x3 on a
    # 451 x 300 photo took 0.5 ms on one thread, up to 330 ms on two beside other work)
    xs, ws = x.numpy(), weight.numpy()
    out = np.zeros((1, x.shape[1], oh, ow), np.float32)  # (1, C, H', W')
    for a in range(kh):
        rows = slice(a * dilation, a * dilation + (oh - 1) * stride + 1, stride)
        for b in range(kw):
            cols = slice(b * dilation, b * dilation + (ow - 1) * stride + 1, stride)
            tap = ws[a, b]  # () or (C,)
            out += xs[:, :, rows, cols] * (tap if tap.ndim == 0 else tap[None, :, None, None])
    result = torch.from_numpy(out)
    return result.sum(dim=1, keepdim=True) if weight.dim() == 3 else result  # (1, C or 1, H', W')


def _image_tensor(img: np.ndarray) -> torch.Tensor:
    """``H x W [x C]`` float32 -> ``(1, C, H, W)`` (a view when possible, no copy)."""
    t = torch.from_numpy(np.ascontiguousarray(img))
    if t.dim() == 2:
        return t[None, None]  # (1, 1, H, W)
    return t.permute(2, 0, 1).contiguous()[None]  # (1, C, H, W): channel planes for fast slices


def _pad(x: torch.Tensor, pads: tuple[int, int, int, int], boundary: str) -> torch.Tensor:
    """Pad ``(1, C, H, W)`` by (left, right, top, bottom) pixels with the boundary's values."""
    if not any(pads):
        return x
    if boundary == "zeros":
        return F.pad(x, pads)  # (1, C, H', W')
    return F.pad(x.contiguous(), pads, mode=_TORCH_PAD[boundary])  # (1, C, H', W')


def _from_tensor(out: torch.Tensor, *, keep_channels: bool) -> np.ndarray:
    """``(1, C, H', W')`` -> ``H' x W' x C`` (``keep_channels``) or ``H' x W'`` float32."""
    if not bool(torch.isfinite(out).all()):
        raise ValueError("the result overflowed (kernel values too large for this image)")
    # torch does the channels-last copy on every core; numpy would do it on one
    arr = out[0].permute(1, 2, 0).contiguous() if keep_channels else out[0, 0]  # (H', W'[, C])
    return arr.numpy()


def to_gray(image: np.ndarray) -> np.ndarray:
    """``H x W x 3`` (or ``H x W``) -> ``H x W`` float32 luma, in the image's units."""
    arr = _as_image(image)
    if arr.ndim == 2:
        return arr
    if arr.shape[2] < 3:
        return np.ascontiguousarray(arr[:, :, 0])
    return np.ascontiguousarray(arr[:, :, :3] @ _LUMA)  # (H, W)


# ---------------------------------------------------------------- the pixel inspector


@dataclass(frozen=True)
class Window:
    """What one output pixel sees: the input values under the kernel, the weights, their sum.

    ``values`` and ``weights`` have the kernel's shape (``kh x kw`` or ``kh x kw x C``);
    ``weights`` are the kernel as applied (flipped in convolve mode). ``rows`` / ``cols`` are the
    input coordinates of the taps (outside ``0..H-1`` means a padded pixel). ``total`` equals the
    output pixel ``convolve(...)[i, j]``.
    """

    values: np.ndarray
    weights: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    total: float

    @property
    def products(self) -> np.ndarray:
        """``values * weights``, tap by tap."""
        return self.values * self.weights


def _source_index(idx: np.ndarray, n: int, boundary: str) -> tuple[np.ndarray, np.ndarray]:
    """Map (possibly out-of-range) indices to the pixels the boundary copies; mask = real pixel."""
    inside = (idx >= 0) & (idx < n)
    if boundary == "zeros":
        return np.clip(idx, 0, n - 1), inside
    if boundary == "replicate":
        return np.clip(idx, 0, n - 1), np.ones_like(inside)
    if boundary == "circular":
        return np.mod(idx, n), np.ones_like(inside)
    period = 2 * (n - 1) if n > 1 else 1  # reflect without repeating the edge pixel
    folded = np.mod(idx, period)
    return np.where(folded < n, folded, period - folded), np.ones_like(inside)


def sample_padded(
    image: np.ndarray, rows: np.ndarray, cols: np.ndarray, boundary: str = "zeros"
) -> np.ndarray:
    """``image[rows][:, cols]`` where indices may fall outside: padded pixels as ``boundary`` says.

    Works for any dtype and for ``H x W`` or ``H x W x C`` images (the pixel inspector draws the
    padded neighbourhood of a window with it).
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
    arr = np.asarray(image)
    r, rmask = _source_index(np.asarray(rows), arr.shape[0], boundary)
    c, cmask = _source_index(np.asarray(cols), arr.shape[1], boundary)
    values = arr[np.ix_(r, c)]  # (len(rows), len(cols)[, C])
    mask = np.outer(rmask, cmask)  # False only where zero padding
    return np.where(mask[..., None] if values.ndim == 3 else mask, values, 0).astype(arr.dtype)


def window(
    image: np.ndarray,
    kernel: np.ndarray,
    i: int,
    j: int,
    *,
    stride: int = 1,
    padding: Padding = 0,
    dilation: int = 1,
    mode: str = "correlate",
    boundary: str = "zeros",
    channel: int | None = None,
) -> Window:
    """The input window and weighted sum behind output pixel ``(i, j)``.

    For a per-channel convolution of a colour image pass ``channel`` (0, 1, 2) to inspect that
    channel's output; a ``kh x kw x C`` kernel always sums every channel.
    """
    cfg = ConvConfig(stride, padding, dilation, mode, boundary)
    img, ker = _as_image(image), _as_kernel(kernel)
    (top, _), (left, _) = _check_fit(img, ker, cfg)
    oh, ow = output_shape(img.shape, ker.shape, cfg)[:2]
    check_int("row", i, 0)
    check_int("column", j, 0)
    if i >= oh or j >= ow:
        raise ValueError(f"output pixel ({i}, {j}) is outside the {oh}x{ow} output")
    if img.ndim == 3 and ker.ndim == 2:
        c = 0 if channel is None else channel
        if not 0 <= c < img.shape[2]:
            raise ValueError(f"channel must be between 0 and {img.shape[2] - 1}, got {c}")
        img = img[:, :, c]
    weights = ker[::-1, ::-1] if cfg.mode == "convolve" else ker
    rows = i * cfg.stride + cfg.dilation * np.arange(ker.shape[0]) - top  # (kh,)
    cols = j * cfg.stride + cfg.dilation * np.arange(ker.shape[1]) - left  # (kw,)
    values = sample_padded(img, rows, cols, cfg.boundary)  # (kh, kw) or (kh, kw, C)
    total = float((values.astype(np.float64) * weights).sum())
    return Window(values, np.ascontiguousarray(weights), rows, cols, total)


# ---------------------------------------------------------------- display


def display_limits(out: np.ndarray, view: str = "signed") -> tuple[float, float]:
    """The values at the two ends of the colour bar for this view."""
    _check_view(view)
    if view == "clip":
        return 0.0, 255.0
    peak = float(np.abs(out).max()) if out.size else 0.0
    peak = peak if peak > 0 else 1.0  # an all-zero map still gets a usable scale
    return (-peak, peak) if view == "signed" else (0.0, peak)


def _check_view(view: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")


def _to_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Floats -> 0..255 uint8 indices, ``lo`` -> 0 and ``hi`` -> 255 (clipped)."""
    scaled = (values - lo) * (255.0 / (hi - lo))
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def to_display(
    out: np.ndarray, view: str = "signed", limits: tuple[float, float] | None = None
) -> np.ndarray:
    """A convolution result as an ``H x W x 3`` uint8 picture.

    * ``signed``: zero-centred diverging map (blue < 0 < red, white = 0) with limits
      ``±max|out|``, so negative values are never black. A 3-channel result gives its channels side
      by side (one diverging map each, one shared scale).
    * ``abs``: ``|out|`` scaled so that its maximum is 255 (the seed's ``abs(output)``).
    * ``clip``: values clipped to 0..255, as a photo viewer would show them.

    ``limits`` overrides ``display_limits(out, view)`` (several maps on one shared scale).
    """
    arr = np.asarray(out, dtype=np.float32)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"expected an H x W or H x W x C result, got shape {arr.shape}")
    lo, hi = limits if limits is not None else display_limits(arr, view)
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"colour limits must be finite with low < high, got {(lo, hi)}")
    if view == "signed":
        idx = _to_index(arr, lo, hi)
        colours = lut(_SIGNED_CMAP)
        if idx.ndim == 2:
            return np.take(colours, idx, axis=0)  # (H, W, 3); np.take is ~4x faster than lut[idx]
        return _side_by_side([np.take(colours, idx[:, :, c], axis=0) for c in range(idx.shape[2])])
    idx = _to_index(np.abs(arr) if view == "abs" else arr, lo, hi)
    if idx.ndim == 2:
        return np.repeat(idx[:, :, None], 3, axis=2)  # (H, W, 3) gray
    return np.ascontiguousarray(_rgb(idx))


def _rgb(idx: np.ndarray) -> np.ndarray:
    """``H x W x C`` uint8 -> ``H x W x 3`` (1 channel repeated, extra channels dropped)."""
    if idx.shape[2] == 1:
        return np.repeat(idx, 3, axis=2)
    if idx.shape[2] == 2:
        return np.concatenate([idx, np.zeros_like(idx[:, :, :1])], axis=2)
    return idx[:, :, :3]


def _side_by_side(tiles: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Tiles of equal height, left to right, separated by ``gap`` white columns."""
    h = tiles[0].shape[0]
    spacer = np.full((h, gap, 3), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for k, tile in enumerate(tiles):
        parts.extend([spacer, tile] if k else [tile])
    return np.concatenate(parts, axis=1)  # (H, C*W + gaps, 3)


def colorbar(
    view: str, limits: tuple[float, float], width: int = 256, height: int = 12
) -> np.ndarray:
    """A horizontal colour bar (uint8 ``height x width x 3``), left = ``limits[0]``."""
    lo, hi = limits
    ramp = np.linspace(lo, hi, width, dtype=np.float32)[None, :].repeat(height, axis=0)  # (h, w)
    if view == "signed":
        return np.take(lut(_SIGNED_CMAP), _to_index(ramp, lo, hi), axis=0)
    gray = _to_index(ramp, 0.0, 255.0) if view == "clip" else _to_index(ramp, lo, hi)
    return np.repeat(gray[:, :, None], 3, axis=2)


# ---------------------------------------------------------------- kernels


@dataclass(frozen=True)
class Preset:
    """A named kernel: whether its size (odd, 3..11) and a sigma can be chosen."""

    name: str
    sized: bool = False
    sigma: bool = False


def _odd_sizes() -> range:
    return range(3, 12, 2)


def _fixed(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def _binomial(n: int) -> np.ndarray:
    """Row ``n-1`` of Pascal's triangle: 1-D smoothing (``[1, 2, 1]`` for ``n = 3``)."""
    return np.array([math.comb(n - 1, i) for i in range(n)], dtype=np.float64)


def _derivative(n: int) -> np.ndarray:
    """1-D derivative of length ``n``: ``[-1, 0, 1]`` smoothed by a binomial (OpenCV's Sobel)."""
    return np.convolve(_binomial(n - 2), [-1.0, 0.0, 1.0]) if n > 3 else np.array([-1.0, 0.0, 1.0])


def default_sigma(size: int) -> float:
    """OpenCV's sigma for a Gaussian of this size: ``0.3((size-1)/2 - 1) + 0.8``."""
    return 0.3 * ((size - 1) * 0.5 - 1) + 0.8


def _gaussian(size: int, sigma: float) -> np.ndarray:
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def _log(size: int, sigma: float) -> np.ndarray:
    """Laplacian of Gaussian, negative in the centre, shifted to sum exactly 0 (flat areas -> 0)."""
    r = np.arange(size) - (size - 1) / 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    q = (xx**2 + yy**2) / (2 * sigma**2)
    k = (q - 1) * np.exp(-q) / (math.pi * sigma**4)
    return k - k.mean()


def _edge_rows(size: int) -> np.ndarray:
    """The seed's horizontal edge, grown: top rows -1, middle row 0, bottom rows +1."""
    col = np.sign(np.arange(size) - (size - 1) / 2)
    return np.repeat(col[:, None], size, axis=1)


_BUILDERS: dict[str, Any] = {
    "identity": lambda s, g: _fixed([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "horizontal_edge": lambda s, g: _edge_rows(s),
    "vertical_edge": lambda s, g: _edge_rows(s).T,
    "sobel_x": lambda s, g: np.outer(_binomial(s), _derivative(s)),
    "sobel_y": lambda s, g: np.outer(_derivative(s), _binomial(s)),
    "prewitt_x": lambda s, g: _fixed([[-1, 0, 1]] * 3),
    "prewitt_y": lambda s, g: _fixed([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]),
    "laplacian": lambda s, g: _fixed([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "laplacian_of_gaussian": lambda s, g: _log(s, g or default_sigma(s)),
    "box_blur": lambda s, g: np.full((s, s), 1.0 / (s * s)),
    "gaussian_blur": lambda s, g: _gaussian(s, g or default_sigma(s)),
    "sharpen": lambda s, g: _fixed([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "emboss": lambda s, g: _fixed([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
    "outline": lambda s, g: _fixed([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
}
_SIZED = {
    "horizontal_edge",
    "vertical_edge",
    "sobel_x",
    "sobel_y",
    "box_blur",
    "gaussian_blur",
    "laplacian_of_gaussian",
}
_SIGMA = {"gaussian_blur", "laplacian_of_gaussian"}

PRESETS: Mapping[str, Preset] = {
    name: Preset(name, sized=name in _SIZED, sigma=name in _SIGMA) for name in _BUILDERS
}


def preset_kernel(name: str, size: int = 3, sigma: float | None = None) -> np.ndarray:
    """A preset kernel as float32 ``size x size``; only sized presets take a size other than 3.

    ``sigma`` (Gaussian and Laplacian-of-Gaussian) defaults to OpenCV's rule for the size.
    """
    preset = PRESETS.get(name)
    if preset is None:
        raise KernelError(f"unknown kernel {name!r}; presets: {', '.join(PRESETS)}")
    check_int("kernel size", size, 1)
    if not preset.sized and size != 3:
        raise KernelError(f"{name} is 3x3 only (sized presets: {', '.join(sorted(_SIZED))})")
    if preset.sized and size not in _odd_sizes():
        raise KernelError(f"{name} needs an odd size from 3 to 11, got {size}")
    if sigma is not None and (
        not preset.sigma or not math.isfinite(sigma) or not 0.1 <= sigma <= 20
    ):
        raise KernelError(
            f"sigma must be a number from 0.1 to 20 (gaussian_blur, laplacian_of_gaussian), "
            f"got {sigma!r} for {name}"
        )
    return np.asarray(_BUILDERS[name](size, sigma), dtype=np.float32)


def kernel_sum(kernel: np.ndarray) -> float:
    """The sum of the weights, exactly 0.0 when it is only float32 rounding (a zero-sum kernel).

    A Laplacian of Gaussian sums to 0 in exact arithmetic but to about 2e-8 in float32; a sum
    smaller than a millionth of the total weight ``sum |w|`` is rounding, so it reads as 0.
    """
    ker = np.asarray(kernel, dtype=np.float64)
    total, weight = float(ker.sum()), float(np.abs(ker).sum())
    return 0.0 if abs(total) <= 1e-6 * weight else total


def normalize_sum(kernel: np.ndarray) -> np.ndarray:
    """The kernel divided by its sum (so a flat image keeps its brightness)."""
    ker = _as_kernel(kernel)
    total = kernel_sum(ker)
    if abs(total) < 1e-9:
        raise KernelError("the kernel sums to 0 (an edge detector): it cannot be normalised")
    return (ker / total).astype(np.float32)


def _parse_preset(text: str) -> np.ndarray:
    """``name``, ``name:size`` or ``name:size:sigma``."""
    name, *rest = text.split(":")
    if len(rest) > 2:
        raise KernelError(f"expected name[:size[:sigma]], got {text!r}")
    try:
        size = int(rest[0]) if rest else 3
        sigma = float(rest[1]) if len(rest) > 1 else None
    except ValueError:
        raise KernelError(f"expected name[:size[:sigma]] with numbers, got {text!r}") from None
    return preset_kernel(name, size, sigma)


def parse_kernel(text: str) -> np.ndarray:
    """A kernel from text: a preset (``sobel_x``, ``gaussian_blur:7``, ``gaussian_blur:7:1.5``),
    a JSON list of rows (``[[0,1,0],[1,-4,1],[0,1,0]]``), or a JSON list of per-channel kernels
    (``[[[rows for R]], [[rows for G]], [[rows for B]]]``) which becomes ``kh x kw x C``.
    """
    if not isinstance(text, str) or not text.strip():
        raise KernelError("the kernel is empty: give a preset name or a JSON list of rows")
    text = text.strip()
    if not text.startswith("["):
        if text.split(":")[0] not in PRESETS:
            raise KernelError(
                f"{text!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON list of rows"
            )
        return _parse_preset(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KernelError(
            f"the kernel is not valid JSON: {exc.msg} at position {exc.pos}"
        ) from None
    return _kernel_from_lists(data)


def _kernel_from_lists(data: object) -> np.ndarray:
    """Nested lists of numbers (2-D rows, or 3-D per-channel kernels) -> float32 kernel."""
    if not _numbers_only(data):
        raise KernelError("the kernel must contain only numbers (no strings, booleans or nulls)")
    try:
        arr = np.array(data, dtype=np.float64)
    except ValueError:
        raise KernelError("the kernel rows must all have the same length") from None
    if arr.ndim == 3:
        arr = np.moveaxis(arr, 0, 2)  # (C, kh, kw) as written -> (kh, kw, C)
    elif arr.ndim != 2:
        raise KernelError(
            "the kernel must be a list of rows (2-D) or a list of per-channel kernels (3-D), "
            f"got {arr.ndim} dimension(s)"
        )
    return _as_kernel(arr)


def _numbers_only(data: object) -> bool:
    if isinstance(data, list):
        return all(_numbers_only(item) for item in data)
    return isinstance(data, int | float) and not isinstance(data, bool)
