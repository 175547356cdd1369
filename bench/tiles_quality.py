"""How close the reproducible (tiled) gradient and dream are to the untiled ones, by halo.

    PYTHONPATH=. python bench/tiles_quality.py --json bench/results/tiles_quality.json

For the default dream's octave sizes (coffee, 512 px max side, EfficientNet-Lite0 ``_blocks.9``):
the tiled input gradient against the untiled one on the same input (relative L2 error, cosine),
and the finished default dream (seeds 11 and 12) tiled at each halo against untiled at one thread:
the target layer's norm on the final image (what the dream grows) and its high-frequency energy
(mean |Laplacian|, where seams would show). Quality numbers only: they do not depend on the load.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dreamlab.dream.engine as engine  # noqa: E402
import dreamlab.runtime.threads as th  # noqa: E402
from dreamlab.activations import layer_activations  # noqa: E402
from dreamlab.ascent import tiles as T  # noqa: E402
from dreamlab.ascent.fastcopy import fast_model  # noqa: E402
from dreamlab.ascent.octaves import octave_sizes, resize  # noqa: E402
from dreamlab.dream import DreamConfig, dream  # noqa: E402
from dreamlab.images import load_sample, to_tensor  # noqa: E402
from dreamlab.models import load_model  # noqa: E402

HALOS = (0, 16, 32, 48, 64)
LAYER = "_blocks.9"


def _laplacian(image: np.ndarray) -> float:
    x = image.astype(float).mean(2)
    lap = 4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]
    return float(np.abs(lap).mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    th.set_tile_workers(1)
    model = load_model("efficientnet_lite0", device="cpu")
    fast = fast_model(model, LAYER)
    photo = load_sample("coffee", max_side=512)
    x = model.preprocess(to_tensor(photo))  # (1, 3, 341, 512)
    cfg = DreamConfig(layer=LAYER, lr=0.02)
    gradients = []
    for h, w in octave_sizes(*x.shape[-2:], cfg.num_octaves, cfg.octave_scale):
        xs = resize(x, (h, w))
        xr = xs.clone().requires_grad_(True)
        (g0,) = torch.autograd.grad(fast(xr)[0].norm(), xr)
        for halo in HALOS:
            tiles = T.tile_grid(h, w, 16, halo=halo, min_side=fast.min_side)
            _, g, _ = T.tiled_gradient(fast, xs, tiles, fast.strides, lambda m: m[0].norm())
            gradients.append(
                {
                    "size": [h, w],
                    "halo": halo,
                    "tiles": len(tiles),
                    "crop_pixels_vs_image": sum(
                        (c[1] - c[0]) * (c[3] - c[2]) for c in (t.crop for t in tiles)
                    )
                    / (h * w),
                    "relative_error": float((g - g0).norm() / g0.norm()),
                    "cosine": float(
                        torch.nn.functional.cosine_similarity(g.flatten(), g0.flatten(), 0)
                    ),
                }
            )
            print(gradients[-1])

    def finished(seed: int) -> np.ndarray:
        th.set_tile_workers(1)
        *_, frame = dream(photo, model, cfg, seed=seed)
        return frame.image

    def norm(image: np.ndarray) -> float:
        return float(layer_activations(model, to_tensor(image), [LAYER])[LAYER].norm())

    dreams = {}
    grid = T.tile_grid.__wrapped__
    for halo in HALOS:
        engine.tile_grid = functools.lru_cache(64)(functools.partial(grid, halo=halo))
        images = [finished(s) for s in (11, 12)]
        dreams[f"halo {halo}"] = {
            "norm": [norm(a) for a in images],
            "hf": [_laplacian(a) for a in images],
        }
        print(halo, dreams[f"halo {halo}"])
    engine.tile_grid = T.tile_grid
    os.environ["DREAMLAB_REPRODUCIBLE"] = "0"
    th.set_torch_threads(1)
    images = [finished(s) for s in (11, 12)]
    dreams["untiled"] = {"norm": [norm(a) for a in images], "hf": [_laplacian(a) for a in images]}
    dreams["photo"] = {"norm": [norm(photo)], "hf": [_laplacian(photo)]}
    print(dreams["untiled"])
    result = {
        "default_halo": T.TILE_HALO,
        "tile_side": T.TILE_SIDE,
        "gradients": gradients,
        "dreams": dreams,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
