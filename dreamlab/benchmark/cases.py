"""The benchmark's cases: which model, layer, size and schedule each timed dream runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from dreamlab.dream.config import DreamConfig
from dreamlab.models.spec import DEFAULT_MODEL

__all__ = ["BenchCase", "cpu_has_bf16", "default_cases"]


@dataclass(frozen=True)
class BenchCase:
    """One piece of dream work, done once by each loop."""

    model: str
    layer: str
    max_side: int
    num_octaves: int
    iterations: int
    octave_scale: float = 1.4
    lr: float = 0.02
    image: str = "coffee"  # a bundled sample (coffee is 600 x 400: 512 x 341 at 512 max side)
    repeats: int = 2  # timed runs after one warm-up run; the best is reported
    precision: str = "auto"  # the engine's precision (the seed's loop is always fp32)

    @property
    def steps(self) -> int:
        return self.num_octaves * self.iterations

    def config(self, **overrides: Any) -> DreamConfig:
        """The engine's :class:`DreamConfig` for this case (``overrides``: e.g. a seed)."""
        fields = {
            "layer": self.layer,
            "num_octaves": self.num_octaves,
            "iterations": self.iterations,
            "octave_scale": self.octave_scale,
            "lr": self.lr,
            "max_side": self.max_side,
        }
        return DreamConfig(**(fields | overrides))


def default_cases(device: torch.device, quick: bool = False) -> list[BenchCase]:
    """The benchmark's cases: the default dream on the embedded model, and the seed's VGG19 at layer 26.

    On a CPU, VGG19 (about 20x the embedded model's work per pixel) runs at 256 px; on a GPU both
    run the full default (512 px, 4 octaves x 10 iterations).
    """
    if quick:
        return [
            BenchCase(DEFAULT_MODEL, "_blocks.9", 96, 2, 2, repeats=1),
            BenchCase("vgg19", "features.26", 64, 1, 2, repeats=1),
        ]
    vgg_side, vgg_oct = (512, 4) if device.type != "cpu" else (256, 2)
    cases = [
        BenchCase(DEFAULT_MODEL, "_blocks.9", 512, 4, 10),
        BenchCase("vgg19", "features.26", vgg_side, vgg_oct, 10),
    ]
    if device.type == "cpu" and cpu_has_bf16():
        # VGG's dense convolutions are compute-bound at fp32: native bf16 halves their time
        cases.append(BenchCase("vgg19", "features.26", vgg_side, vgg_oct, 10, precision="bf16"))
    return cases


def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX), not emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
