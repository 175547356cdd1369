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

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from dreamlab.convolution.kernels import KernelError, check_kernel
from dreamlab.validate import check_int

__all__ = [
    "BOUNDARIES",
    "MODES",
    "ConvConfig",
    "Window",
    "convolve",
    "output_shape",
    "output_size",
    "pad_amounts",
    "sample_padded",
    "to_gray",
    "window",
]

Padding = int | str
Mode = Literal["correlate", "convolve"]
Boundary = Literal["zeros", "reflect", "replicate", "circular"]
View = Literal["signed", "abs", "clip"]

MODES: tuple[str, ...] = ("correlate", "convolve")
BOUNDARIES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")
# Luma weights (ITU-R BT.601), the usual RGB -> gray conversion.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Kernels with at most this many taps use the tap loop (faster on CPUs), larger ones conv2d.
_TAP_LOOP_MAX = 169
_TORCH_PAD = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


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
    img, ker = _as_image(image), check_kernel(kernel)
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
    img, ker = _as_image(image), check_kernel(kernel)
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
