"""Kernels: the preset filters (blur, sharpen, edges, ...), the text parser (a preset name or a
JSON grid), their checks and their sums. Every bad kernel is one :class:`KernelError` line."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dreamlab.errors import DreamLabError
from dreamlab.validate import check_int

__all__ = [
    "MAX_KERNEL_SIDE",
    "PRESETS",
    "KernelError",
    "Preset",
    "check_kernel",
    "default_sigma",
    "kernel_sum",
    "normalize_sum",
    "parse_kernel",
    "preset_kernel",
]

# A kernel side above this would take seconds on a large photo and teaches nothing more.
MAX_KERNEL_SIDE = 63


class KernelError(DreamLabError):
    """A kernel that cannot be used; the message is one line, fit to show a user."""


def check_kernel(kernel: object) -> np.ndarray:
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
    ker = check_kernel(kernel)
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
    return check_kernel(arr)


def _numbers_only(data: object) -> bool:
    if isinstance(data, list):
        return all(_numbers_only(item) for item in data)
    return isinstance(data, int | float) and not isinstance(data, bool)
