"""The small tensor operations of a dream: objectives, gradient smoothing and normalization, zooms.

All take and return tensors on the image's device; none synchronizes with the host.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "guided_loss",
    "layer_loss",
    "normalize_gradient",
    "octave_sizes",
    "smooth_gradient",
    "smoothing_sigma",
    "zoom",
    "zoom_rotate",
]

_EPS = 1e-8  # a dead layer gives a zero gradient: divide by this instead of by 0 (step 0, no NaN)


def layer_loss(act: torch.Tensor, kind: str = "norm", channel: int | None = None) -> torch.Tensor:
    """The quantity gradient ascent makes grow: ``||A||`` (the seed) or ``mean(A^2)`` (gordicaleksa).

    ``act`` is a layer's output ``(B, C, h, w)``; with ``channel`` only that channel counts.
    Computed in float32 whatever the autocast dtype (a norm of many fp16 values overflows).
    """
    a = act.float()  # (B, C, h, w)
    if channel is not None:
        a = a[:, channel]  # (B, h, w)
    return a.norm() if kind == "norm" else a.square().mean()


def guided_loss(act: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Google's guided objective: each position follows the guide feature it best matches.

    ``act`` (1, C, h, w), ``guide`` (C, M) features of the guide image at the same layer. The
    gradient with respect to the features at each position is the guide feature with the largest
    dot product there (``y[:, argmax(x.T @ y)]``).
    """
    x = act.float().flatten(2)[0]  # (C, N)
    with torch.no_grad():
        best = (x.T @ guide).argmax(dim=1)  # (N,)
    return (x * guide[:, best]).sum()


def smoothing_sigma(iteration: int, iterations: int, coefficient: float) -> float:
    """gordicaleksa's schedule: the blur grows over the octave's steps, 0.5 + 2 (i+1)/N by default."""
    return (iteration + 1) / iterations * 2.0 + coefficient


def _gaussian_kernel(sigma: float, size: int, device: torch.device) -> torch.Tensor:
    r = torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2  # (k,)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    return k / k.sum()


def smooth_gradient(g: torch.Tensor, sigma: float, size: int = 9) -> torch.Tensor:
    """gordicaleksa's cascade: the mean of three Gaussian blurs (sigma x 0.5, 1, 2), reflect-padded.

    Separable: a horizontal then a vertical 1-D pass per blur, one group per channel.
    """
    c = g.shape[1]
    pad = size // 2
    padded = F.pad(g.float(), (pad, pad, pad, pad), mode="reflect")  # (B, C, H+2p, W+2p)
    out = torch.zeros_like(g, dtype=torch.float32)
    for factor in (0.5, 1.0, 2.0):
        k = _gaussian_kernel(sigma * factor, size, g.device)
        blur = F.conv2d(padded, k.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)
        out += F.conv2d(blur, k.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)
    return (out / 3).to(g.dtype)  # (B, C, H, W)


def normalize_gradient(g: torch.Tensor, how: str = "mean_abs") -> torch.Tensor:
    """``g / mean|g|`` (the seed's and Google's step) or ``(g - mean) / std`` (gordicaleksa)."""
    if how == "std":
        return (g - g.mean()) / g.std().clamp_min(_EPS)
    return g / g.abs().mean().clamp_min(_EPS)


def zoom(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize NCHW to ``(H, W)`` with order-1 interpolation, corners aligned as ``scipy.ndimage.zoom``."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


def zoom_rotate(x: torch.Tensor, factor: float, degrees: float) -> torch.Tensor:
    """Zoom into the centre by ``factor`` and rotate by ``degrees`` (a zoom-loop frame step).

    The rotation is done in pixel units, so non-square images are not sheared.
    """
    _, _, h, w = x.shape
    a = math.radians(degrees)
    c, s = math.cos(a) / factor, math.sin(a) / factor
    theta = torch.tensor(
        [[c, -s * h / w, 0.0], [s * w / h, c, 0.0]], dtype=x.dtype, device=x.device
    ).unsqueeze(0)  # (1, 2, 3) output -> input coordinates
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (1, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def octave_sizes(height: int, width: int, num_octaves: int, scale: float) -> list[tuple[int, int]]:
    """The seed's pyramid: each octave ``1 / scale`` the size of the one before, largest first."""
    sizes = [(height, width)]
    for _ in range(num_octaves - 1):
        h, w = sizes[-1]
        sizes.append((max(1, round(h / scale)), max(1, round(w / scale))))
    return sizes
