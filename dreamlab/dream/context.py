"""What one dream's step loop needs, resolved once (shared by the engine and the steps)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from dreamlab.ascent.fastcopy import FastModel
from dreamlab.ascent.objectives import Objective
from dreamlab.ascent.steppers import NormalizedStep
from dreamlab.ascent.tiles import Tile
from dreamlab.ascent.transforms import Transform
from dreamlab.dream.config import DreamConfig

__all__ = ["DreamContext", "GradientProvider", "amp_dtype"]

# (ctx, xr) -> (loss, d loss / d xr, first target's maps): the seam a remote batcher plugs into.
# ``xr`` is the step's network input, (1, 3, H, W), a leaf that requires grad; see dream/steps.py.
GradientProvider = Callable[
    ["DreamContext", torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]
]


@dataclass(frozen=True)
class DreamContext:
    """Everything the step loop needs, resolved once."""

    cfg: DreamConfig
    fast: FastModel
    targets: tuple[tuple[str, float], ...]
    keys: tuple[str, ...]  # the name of each of the fast copy's outputs, as the objective reads it
    objective: Objective
    step: NormalizedStep
    mean: torch.Tensor  # (1, 3, 1, 1)
    std: torch.Tensor  # (1, 3, 1, 1)
    lo: torch.Tensor  # (1, 3, 1, 1) the normalized value of a 0 pixel
    hi: torch.Tensor  # (1, 3, 1, 1) the normalized value of a 1 pixel
    gen: torch.Generator  # CPU: jitter offsets and noise, the same on every device
    amp: torch.dtype | None
    transform: Transform | None = None  # feature-vis transforms on each step's input, or None
    guided: bool = False  # the objective holds this dream's guide features
    gradient: GradientProvider | None = None  # None: computed here (the local path, unchanged)
    # (H, W) -> the tiles each step's gradient is computed in (reproducible CPU path), or None
    tiles: Callable[[int, int], tuple[Tile, ...]] | None = None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp is None:
            return contextlib.nullcontext()
        # no weight-cast cache: each step is its own autocast region anyway, and a CUDA graph
        # capture must not keep casts made outside it
        return torch.autocast(self.fast.device.type, dtype=self.amp, cache_enabled=False)

    def loss(self, outs: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
        """The scalar the dream makes grow, in float32."""
        return self.objective(dict(zip(self.keys, outs, strict=True))).float()


def amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """auto: bf16 on a CUDA GPU that has it (fp32's range, no loss scaling), else fp16; fp32 off GPU."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
