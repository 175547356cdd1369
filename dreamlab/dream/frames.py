"""What a dream yields: one small frame per gradient step, cheap until someone looks at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from dreamlab.images import to_uint8

__all__ = ["DreamFrame"]


@dataclass(frozen=True, eq=False)
class DreamFrame:
    """One gradient step of a dream.

    The image and the target layer's maps stay on the device as tensors; :attr:`image`,
    :attr:`activations` and :attr:`loss` convert them on first access (and keep the result), so a
    consumer that skips frames (a UI drawing 10 per second, a benchmark) pays nothing for them.
    A frame holds references, not copies: the dream never writes into a tensor it has yielded.
    """

    octave: int  # 0 = the smallest octave
    iteration: int  # step within the octave, from 0
    step: int  # global step index, from 0
    total: int  # steps in the whole dream (zoom loop included): a progress bar's end
    num_octaves: int  # octaves actually dreamed (see DreamPlan.dropped)
    iterations: int  # steps per octave
    loop: int  # zoom-loop frame: 0 is the dream itself
    layer: str  # the layer whose maps ``activations`` holds
    x: torch.Tensor = field(repr=False)  # (1, 3, h, w) the image, normalized as the model wants
    mean: torch.Tensor = field(repr=False)  # (1, 3, 1, 1) the model's normalization
    std: torch.Tensor = field(repr=False)  # (1, 3, 1, 1)
    loss_tensor: torch.Tensor = field(repr=False)  # () the objective before this step
    maps: torch.Tensor = field(repr=False)  # (1, C, h', w') the layer's output for this step
    shift: tuple[int, int] = (0, 0)  # the roll (dy, dx) of this step's forward pass

    @cached_property
    def image(self) -> np.ndarray:
        """The dream so far as ``H x W x 3`` uint8 (this octave's size)."""
        return to_uint8(self.image_tensor())

    def image_tensor(self) -> torch.Tensor:
        """The dream so far as ``(1, 3, H, W)`` float in [0, 1], on the device."""
        return (self.x.detach() * self.std + self.mean).clamp(0, 1)  # (1, 3, H, W)

    @cached_property
    def loss(self) -> float:
        """The objective (layer norm, by default) measured in this step's forward pass."""
        return float(self.loss_tensor)

    @cached_property
    def activations(self) -> np.ndarray:
        """The target layer's maps for this frame, ``C x h x w`` float32, aligned with the image.

        They come from the step's own forward pass on the rolled (jittered) image, so they are
        rolled back by the same fraction of their size.
        """
        maps = self.maps[0].detach().float()  # (C, h, w)
        dy, dx = self.shift
        if dy or dx:
            h_img, w_img = self.x.shape[-2:]
            sy = round(dy * maps.shape[-2] / h_img)
            sx = round(dx * maps.shape[-1] / w_img)
            maps = torch.roll(maps, shifts=(-sy, -sx), dims=(-2, -1))
        return maps.cpu().numpy()

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of this frame's image."""
        return int(self.x.shape[-2]), int(self.x.shape[-1])

    @property
    def last_of_octave(self) -> bool:
        """Whether this is the octave's last step."""
        return self.iteration == self.iterations - 1

    @property
    def done(self) -> bool:
        """Whether this is the dream's last step."""
        return self.step == self.total - 1
