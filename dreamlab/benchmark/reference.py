"""The seed's DeepDream loop, copied faithfully: what ``dreamlab benchmark`` measures the engine
against (and the tests compare it with).

It is eriklindernoren's PyTorch DeepDream as the blog uses it: weights that still ask for
gradients, a device -> numpy round trip every step for ``mean|grad|``, a per-channel clip loop,
octaves zoomed with ``scipy.ndimage.zoom`` on the CPU. Its copy of the model
(:func:`reference_copy`) lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dreamlab.ascent.fastcopy import FastModel, build_copy
from dreamlab.benchmark.cases import BenchCase
from dreamlab.images import to_tensor
from dreamlab.models import LoadedModel

__all__ = ["reference_copy", "seed_dream"]


def reference_copy(model: LoadedModel, layer: str) -> FastModel:
    """A plain truncated copy, as the seed builds one: nothing folded, NCHW, weights *trainable*.

    Only for this benchmark (the seed's loop computes weight gradients it never uses); not cached.
    """
    return build_copy(model, (layer,), False, fold=False, trainable=True)


def _seed_clip(image: torch.Tensor, mean: tuple, std: tuple) -> torch.Tensor:
    """The seed's ``clip``: a Python loop over channels clamping to the normalized pixel range."""
    for c in range(3):
        m, s = mean[c], std[c]
        image[0, c] = torch.clamp(image[0, c], -m / s, (1 - m) / s)
    return image


def _seed_octave(
    net: Callable, image_np: np.ndarray, iterations: int, lr: float, model: LoadedModel
) -> np.ndarray:
    """The seed's ``dream()``: numpy in, numpy out, a host round trip every step."""
    image = torch.tensor(image_np, requires_grad=True, device=model.device)  # (1, 3, H, W)
    params = list(net.module.parameters())
    for _ in range(iterations):
        for p in params:  # model.zero_grad()
            p.grad = None
        out = net(image)[0]
        loss = out.norm()
        loss.backward()  # weight gradients too: the seed's parameters require them
        avg_grad = np.abs(image.grad.data.cpu().numpy()).mean()  # device -> host, every step
        norm_lr = lr / avg_grad
        image.data += norm_lr * image.grad.data
        image.data = _seed_clip(image.data, model.spec.mean, model.spec.std)
        image.grad.data.zero_()
    return image.cpu().data.numpy()


def seed_dream(model: LoadedModel, net: Callable, image: np.ndarray, case: BenchCase) -> np.ndarray:
    """The seed's ``deep_dream()``: octaves with ``scipy.ndimage.zoom`` (order 1), detail carry."""
    try:
        import scipy.ndimage as nd
    except ImportError:
        raise ValueError(
            "the benchmark needs scipy (the seed's loop zooms octaves with scipy.ndimage): "
            "pip install -r requirements-dev.txt"
        ) from None

    x = to_tensor(image)  # (1, 3, H, W) in [0, 1]
    x = (x - torch.tensor(model.spec.mean).view(1, 3, 1, 1)) / torch.tensor(model.spec.std).view(
        1, 3, 1, 1
    )
    octaves = [x.numpy()]
    for _ in range(case.num_octaves - 1):
        s = 1 / case.octave_scale
        octaves.append(nd.zoom(octaves[-1], (1, 1, s, s), order=1))
    detail = np.zeros_like(octaves[-1])
    dreamed = octaves[-1]
    for i, base in enumerate(octaves[::-1]):
        if i > 0:
            detail = nd.zoom(detail, np.array(base.shape) / np.array(detail.shape), order=1)
        dreamed = _seed_octave(net, base + detail, case.iterations, case.lr, model)
        detail = dreamed - base
    return dreamed
