"""Capture layer outputs with forward hooks that are always removed (cached models stay clean)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

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


class StopForward(Exception):
    """Raised by a hook once every wanted layer has its output: the rest of the network is skipped."""


@contextmanager
def capture(
    module: nn.Module, layers: Sequence[str], *, detach: bool = True, stop: bool = False
) -> Iterator[dict[str, torch.Tensor]]:
    """Hook ``layers`` (dotted names) of ``module``; the dict fills on each forward pass.

    With ``stop=True`` the forward pass raises :class:`StopForward` as soon as every layer has been
    captured (see :func:`forward_until`): deeper layers are never computed, which is faster and
    lets a fixed-input classifier (a CNN with dense layers) give conv maps for any image size.
    The hooks are removed on exit, even after an exception, so a shared model is left as found.
    """
    store: dict[str, torch.Tensor] = {}
    wanted = set(layers)
    seen: set[str] = set()  # layers reached in the current pass (store keeps earlier passes)
    handles = []
    try:
        if stop:  # a new pass starts with nothing seen, else a second pass would stop too early
            handles.append(module.register_forward_pre_hook(lambda *_: seen.clear()))
        for name in layers:
            sub = module.get_submodule(name)

            def hook(_m: nn.Module, _inp: object, out: torch.Tensor, name: str = name) -> None:
                out = out[0] if isinstance(out, tuple | list) else out
                store[name] = out.detach() if detach else out
                seen.add(name)
                if stop and wanted.issubset(seen):
                    raise StopForward

            handles.append(sub.register_forward_hook(hook))
        yield store
    finally:
        for h in handles:
            h.remove()


def forward_until(
    module: nn.Module, x: torch.Tensor, layers: Sequence[str], *, detach: bool = True
) -> dict[str, torch.Tensor]:
    """Run ``module(x)`` only as far as needed to get the output of every layer in ``layers``."""
    with (
        capture(module, layers, detach=detach, stop=True) as store,
        contextlib.suppress(StopForward),
    ):
        module(x)
    missing = [name for name in layers if name not in store]
    if missing:
        raise RuntimeError(f"layers {missing} were not reached by the forward pass")
    return dict(store)


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
