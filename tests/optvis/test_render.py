"""The render loop: config and its checks, frames, seeds, a clean shared model, and a rendered
channel that beats every sample photo."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dreamlab.optvis import (
    LUCENT_STEPS,
    FeatureVisConfig,
    VisFrame,
    channel,
    class_logit,
    facets,
    gallery,
    layer_width,
    objective_value,
    visualize,
)


def test_config_defaults_are_lucents_and_designs() -> None:
    cfg = FeatureVisConfig()
    assert (cfg.lr, cfg.param, cfg.decorrelate, cfg.transforms) == (0.05, "fft", True, True)
    assert (cfg.steps, cfg.size, cfg.seed, cfg.batch) == (256, 128, 0, 1)
    assert LUCENT_STEPS == 512
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert FeatureVisConfig(thresholds=[1, 5], steps=5).to_dict()["thresholds"] == [1, 5]


@pytest.mark.parametrize(
    "bad",
    [
        {"steps": 0},
        {"steps": 2.5},
        {"steps": True},
        {"size": 4},
        {"size": 100_000},
        {"lr": float("nan")},
        {"lr": -1.0},
        {"lr": "0.1"},
        {"batch": 0},
        {"batch": 1000},
        {"param": "wavelet"},
        {"decorrelate": "yes"},
        {"seed": -1},
        {"decay_power": math.inf},
        {"thresholds": (0,)},
        {"steps": 4, "thresholds": (9,)},
    ],
)
def test_bad_settings_are_one_line_value_errors(bad: dict) -> None:
    with pytest.raises(ValueError) as info:
        FeatureVisConfig(**bad)
    assert "\n" not in str(info.value)


def test_unknown_override_lists_the_settings(tiny) -> None:
    with pytest.raises(ValueError, match="unknown setting 'stepz'; settings: batch"):
        visualize(tiny, "conv2:0", stepz=3)
    with pytest.raises(ValueError, match="LoadedModel"):
        visualize("tiny_cnn", "conv2:0")  # type: ignore[arg-type]


def test_frames_and_thresholds(tiny) -> None:
    frames = list(visualize(tiny, "conv2:1", steps=6, size=24))
    assert [f.step for f in frames] == [1, 2, 3, 4, 5, 6] and frames[-1].done
    f = frames[-1]
    assert isinstance(f, VisFrame) and f.steps == 6 and math.isfinite(f.loss)
    assert f.image.shape == (24, 24, 3) and f.image.dtype == np.uint8
    assert f.images is f.images  # converted once, when first asked
    kept = list(visualize(tiny, "conv2:1", steps=6, size=24, thresholds=(2, 4)))
    assert [k.step for k in kept] == [2, 4, 6]
    batch = list(visualize(tiny, "conv2:1", steps=2, size=20, batch=3))[-1]
    assert batch.images.shape == (3, 20, 20, 3)


def test_config_and_overrides_combine(tiny) -> None:
    cfg = FeatureVisConfig(steps=3, size=20, param="pixel", transforms=False)
    frames = list(visualize(tiny, "conv1:0", cfg, steps=2))
    assert len(frames) == 2 and frames[-1].image.shape == (20, 20, 3)


def test_seed_reproduces_and_differs(tiny) -> None:
    def run(seed: int) -> np.ndarray:
        return list(visualize(tiny, "conv2:2", steps=3, size=24, seed=seed))[-1].images

    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def _hooks(module: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def test_shared_model_is_left_clean(tiny) -> None:
    before = _hooks(tiny.module)
    it = visualize(tiny, channel("conv2", 0) + class_logit(1), steps=50, size=32)
    next(it)
    it.close()  # a user pressing Stop: the generator is dropped mid-run
    list(visualize(tiny, "conv2:0", steps=2, size=32))
    assert _hooks(tiny.module) == before
    assert all(p.grad is None and not p.requires_grad for p in tiny.module.parameters())
    assert not tiny.module.training


def test_logits_on_a_fixed_size_classifier(tiny) -> None:
    # the tiny CNN's dense layers need 32x32: a 64 px render is resized for the logits
    frames = list(visualize(tiny, "logits:3", steps=5, size=64, transforms=False))
    assert frames[-1].loss > frames[0].loss and frames[-1].image.shape == (64, 64, 3)


def test_gallery_and_facets(tiny) -> None:
    g = list(gallery(tiny, "conv2", [0, 3, 5], steps=2, size=20))[-1]
    assert g.images.shape == (3, 20, 20, 3)
    fac = list(facets(tiny, "conv2", 1, 2, weight=5.0, steps=2, size=20))[-1]
    assert fac.images.shape == (2, 20, 20, 3)
    with pytest.raises(ValueError):
        gallery(tiny, "conv2", [])


def test_layer_width(tiny, lite0) -> None:
    assert layer_width(tiny, "conv2") == 16
    assert layer_width(lite0, "_blocks.9") == 112


def test_rendered_channel_beats_every_sample_photo(lite0) -> None:
    """Optimized for a few steps at 64 px, a channel fires more than on any sample photo, even
    the channel the photos excite most."""
    from dreamlab.activations import layer_activations
    from dreamlab.images import load_sample, sample_names

    target = "_blocks.9"
    photos = [lite0.fit_input(load_sample(n, max_side=256)) for n in sample_names()]
    means = sum(layer_activations(lite0, p, [target])[target][0].mean((1, 2)) for p in photos)
    c = int(means.argmax())
    best_photo = max(objective_value(lite0, channel(target, c), p) for p in photos)
    frame = list(visualize(lite0, channel(target, c), steps=24, size=64, thresholds=(24,)))[-1]
    rendered = objective_value(lite0, channel(target, c), frame.tensor, size=64)
    assert rendered > best_photo > 0
