"""Capture layer outputs with forward hooks that are always removed (cached models stay clean)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from dreamlab.models.registry import LoadedModel

__all__ = ["capture", "layer_activations", "top_channels"]


@contextmanager
def capture(
    module: nn.Module, layers: Sequence[str], *, detach: bool = True
) -> Iterator[dict[str, torch.Tensor]]:
    """Hook ``layers`` (dotted names) of ``module``; the dict fills on each forward pass.

    The hooks are removed on exit, even after an exception, so a shared model is left as found.
    """
    store: dict[str, torch.Tensor] = {}
    handles = []
    try:
        for name in layers:
            sub = module.get_submodule(name)

            def hook(_m: nn.Module, _inp: object, out: torch.Tensor, name: str = name) -> None:
                out = out[0] if isinstance(out, tuple | list) else out
                store[name] = out.detach() if detach else out

            handles.append(sub.register_forward_hook(hook))
        yield store
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def layer_activations(
    model: LoadedModel, x: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Run ``x`` (NCHW in [0, 1]) through the model and return the named layers' outputs."""
    for name in layers:
        model.check_layer(name)
    with capture(model.module, layers) as store:
        model.module(model.preprocess(x.to(model.device)))
    return dict(store)


def top_channels(maps: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` channels of ``maps`` (C, h, w) with the largest mean activation."""
    means = maps.float().mean(dim=(-2, -1))  # (C,)
    return means.topk(min(k, means.numel())).indices.tolist()
