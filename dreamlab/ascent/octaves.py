"""The octave schedule: an image pyramid dreamed or rendered smallest first.

DeepDream (the seed, Google) dreams each octave and carries the detail up; feature visualization
can render at growing sizes the same way (coarse structure first, then finer detail).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["octave_sizes", "resize"]


def octave_sizes(height: int, width: int, num_octaves: int, scale: float) -> list[tuple[int, int]]:
    """The seed's pyramid: each octave ``1 / scale`` the size of the one before, largest first."""
    sizes = [(height, width)]
    for _ in range(num_octaves - 1):
        h, w = sizes[-1]
        sizes.append((max(1, round(h / scale)), max(1, round(w / scale))))
    return sizes


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize NCHW to ``(H, W)`` with order-1 interpolation, corners aligned as ``scipy.ndimage.zoom``."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)
