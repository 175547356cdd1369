"""Steppers: how an image moves along its gradient.

DeepDream takes the seed's normalized gradient step on the pixels (:class:`NormalizedStep`, with
gordicaleksa's optional smoothing); feature visualization runs Adam on an image parameterization
(:class:`AdamStep`). Both *maximize* the objective.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "NORMALIZERS",
    "AdamStep",
    "NormalizedStep",
    "normalize_gradient",
    "smooth_gradient",
    "smoothing_sigma",
]

NORMALIZERS = ("mean_abs", "std")  # step lr/mean|g| (seed, Google) or (g - mean)/std (gordicaleksa)
_EPS = 1e-8  # a dead layer gives a zero gradient: divide by this instead of by 0 (step 0, no NaN)


def smoothing_sigma(iteration: int, iterations: int, coefficient: float) -> float:
    """gordicaleksa's schedule: the blur grows over the octave's steps, 0.5 + 2 (i+1)/N by default."""
    return (iteration + 1) / iterations * 2.0 + coefficient


def _gaussian_kernel(sigma: float | torch.Tensor, size: int, device: torch.device) -> torch.Tensor:
    r = torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2  # (k,)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    return k / k.sum()


def smooth_gradient(g: torch.Tensor, sigma: float | torch.Tensor, size: int = 9) -> torch.Tensor:
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


@dataclass(frozen=True)
class NormalizedStep:
    """``x + lr * normalize(smooth(g))``, clipped to ``[lo, hi]``: the seed's step on the pixels."""

    lr: float
    normalize: str = "mean_abs"
    smoothing: float = 0.0  # 0: off; else gordicaleksa's cascade, blurred with the sigma given

    def __call__(
        self,
        x: torch.Tensor,
        g: torch.Tensor,
        lo: torch.Tensor,
        hi: torch.Tensor,
        sigma: float | torch.Tensor = 1.0,
    ) -> torch.Tensor:
        """The new ``x`` (a new tensor: ``x`` is never written to)."""
        if self.smoothing > 0:
            g = smooth_gradient(g, sigma)
        g = normalize_gradient(g, self.normalize)
        return torch.maximum(torch.minimum(x + self.lr * g, hi), lo)  # clip to valid pixels


class AdamStep:
    """Adam on some parameters, *maximizing* a value (it minimizes the negative)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float) -> None:
        self.optimizer = torch.optim.Adam(params, lr=lr)

    def __call__(self, value: torch.Tensor) -> None:
        """One update from ``value``'s gradient (a scalar to grow)."""
        self.optimizer.zero_grad(set_to_none=True)
        (-value).backward()
        self.optimizer.step()
