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


def top_channels(maps: torch.Tensor | np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` channels of ``maps`` (C, h, w) with the largest mean activation."""
    means = torch.as_tensor(maps).float().mean(dim=(-2, -1))  # (C,)
    return means.topk(min(k, means.numel())).indices.tolist()
