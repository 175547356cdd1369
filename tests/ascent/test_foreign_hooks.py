"""A model another tool has hooked (lucent hooks every submodule) still dreams and visualizes."""

from __future__ import annotations

import torch
from torch import nn

from dreamlab import dream, visualize
from dreamlab.ascent.fastcopy import clear_cache
from dreamlab.images import load_sample


class _KeepOutput:
    """lucent's ModuleHook: an object on each module that keeps its last output (with its graph)."""

    def __init__(self, module: nn.Module) -> None:
        self.features: torch.Tensor | None = None
        self.calls = 0
        self.handle = module.register_forward_hook(self)

    def __call__(self, _m: nn.Module, _inp: object, out: torch.Tensor) -> None:
        self.features = out
        self.calls += 1


def _hook_everything(module: nn.Module) -> dict[str, _KeepOutput]:
    hooks = {name: _KeepOutput(m) for name, m in module.named_modules()}
    x = torch.rand(1, 3, 64, 64, requires_grad=True)  # as lucent's render_vis: a graph behind
    module(x)
    return hooks


def test_a_hooked_model_dreams_and_visualizes(lite0) -> None:
    clear_cache()  # the copies are made now, from the hooked model
    module = lite0.module
    hooks = _hook_everything(module)
    try:
        assert any(h.features is not None and not h.features.is_leaf for h in hooks.values())
        calls = {name: h.calls for name, h in hooks.items()}
        image = load_sample("chelsea")
        frames = list(
            dream(image, lite0, max_side=64, num_octaves=1, iterations=2, layer="_blocks.4")
        )
        assert len(frames) == 2 and frames[-1].image.shape[2] == 3
        vis = list(visualize(lite0, "_blocks.4:1", steps=2, size=32, upsample=False))
        assert len(vis) == 2
        # the private copies ran, not the hooked original: its hooks never fired
        assert {name: h.calls for name, h in hooks.items()} == calls
        # and the owner's hooks are all still on the original
        for name, m in module.named_modules():
            assert hooks[name] in m._forward_hooks.values()
    finally:
        for h in hooks.values():
            h.handle.remove()
