"""A loaded model's layer outputs for an image (the Feature maps page), over the one capture.

The hooks themselves live in :mod:`dreamlab.ascent.capture` (re-exported here); they are always
removed, so cached models stay clean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dreamlab.ascent.capture import StopForward, capture, forward_until
from dreamlab.images import to_tensor
from dreamlab.models.registry import LoadedModel

__all__ = [
    "StopForward",
    "capture",
    "forward_until",
    "layer_activations",
    "layer_maps",
    "layer_stride",
    "maps_input_size",
    "receptive_field",
    "top_channels",
]


@torch.no_grad()
def layer_activations(
    model: LoadedModel, x: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Run ``x`` (NCHW in [0, 1]) through the model as far as ``layers`` and return their outputs."""
    for name in layers:
        model.check_layer(name)
    return forward_until(model.module, model.preprocess(x.to(model.device)), layers)


@torch.no_grad()
def layer_maps(model: LoadedModel, image: np.ndarray, layer: str) -> np.ndarray:
    """One layer's activation maps for an ``H x W x 3`` uint8 image, as ``C x h x w`` float32."""
    x = to_tensor(image, model.device)  # (1, 3, H, W)
    maps = layer_activations(model, x, [layer])[layer][0].float()  # (C, h, w) or (F,)
    if maps.dim() == 1:  # a fully connected layer: one 1 x 1 "map" per unit
        maps = maps[:, None, None]
    return maps.cpu().numpy()


def top_channels(maps: torch.Tensor | np.ndarray, k: int, by: str = "mean") -> list[int]:
    """Indices of the ``k`` channels of ``maps`` (C, h, w) with the largest mean activation.

    ``by="std"`` ranks by how much each map varies over the image instead: in a layer with signs
    (no ReLU after it) the largest means are often near-flat maps, the most varied ones show shapes.
    """
    flat = torch.as_tensor(maps).float().flatten(-2)  # (C, h*w)
    if by not in ("mean", "std"):
        raise ValueError(f"by must be 'mean' or 'std', got {by!r}")
    score = flat.mean(dim=-1) if by == "mean" or flat.shape[-1] < 2 else flat.std(dim=-1)  # (C,)
    return score.topk(min(k, score.numel())).indices.tolist()


@torch.no_grad()
def layer_stride(model: LoadedModel, layer: str, probe: int = 256) -> float:
    """How many input pixels one step of ``layer``'s maps spans (its total stride), measured once.

    A zero ``probe x probe`` image goes as far as the layer; a layer without spatial maps
    (a fully connected one) reports 0.
    """
    x = torch.zeros(1, 3, probe, probe, device=model.device)  # (1, 3, P, P)
    out = layer_activations(model, x, [layer])[layer]  # (1, C, h, w) or (1, F)
    return probe / out.shape[-2] if out.dim() == 4 else 0.0


def maps_input_size(
    size: tuple[int, int], stride: float, *, min_map: int = 28, max_pixels: int = 1_000_000
) -> tuple[int, int]:
    """The (width, height) to run an image of ``size`` at so a layer's maps are ``min_map`` px or more.

    Shallow layers (small stride) run at the image's own size; deep ones enlarge it until the maps'
    shorter side reaches ``min_map`` (one extra step for the border a valid convolution loses),
    but never past ``max_pixels`` (the memory cap): then the maps stay smaller and the caller says so.
    """
    w, h = size
    if stride <= 0:
        return w, h
    scale = max(1.0, (min_map + 1) * stride / min(w, h))
    scale = min(scale, max(1.0, (max_pixels / (w * h)) ** 0.5))
    return round(w * scale), round(h * scale)


def receptive_field(
    model: LoadedModel, image: np.ndarray, layer: str, row: int, col: int
) -> tuple[int, int, int, int]:
    """The input pixels position (row, col) of ``layer`` depends on: (top, left, bottom, right).

    Measured, not derived: the gradient of the position's summed channels with respect to the
    ``H x W x 3`` image is non-zero exactly on its receptive field (clipped to the image; summing
    every channel keeps a unit that happens to be off from hiding part of it). Bottom and right are
    exclusive.
    """
    x = to_tensor(image, model.device).requires_grad_(True)  # (1, 3, H, W)
    with torch.enable_grad():
        out = forward_until(model.module, model.preprocess(x), [layer], detach=False)[layer]
        out[0, :, row, col].sum().backward()  # out: (1, C, h, w)
    hit = x.grad[0].abs().sum(0) > 0  # (H, W)
    rows, cols = hit.any(1).nonzero(), hit.any(0).nonzero()
    if rows.numel() == 0:  # a dead position: nothing flows back
        return row, col, row, col
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1
