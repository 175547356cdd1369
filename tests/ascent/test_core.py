"""The optimization core that both engines drive: objectives, transforms, steppers, validators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dreamlab.ascent import objectives as O
from dreamlab.ascent.steppers import AdamStep, NormalizedStep
from dreamlab.ascent.transforms import Roll, affine_theta, roll, rotate, zoom_rotate
from dreamlab.optvis import param as P
from dreamlab.validate import check_float, check_int, parse_int, with_overrides


def test_one_deepdream_family_with_both_kinds() -> None:
    a = torch.randn(2, 3, 4, 5)
    acts = {"x": a}
    assert float(O.deepdream("x", kind="norm")(acts)) == pytest.approx(float(a.norm()))
    assert float(O.deepdream("x")(acts)) == pytest.approx(float(a.square().mean()))
    one = O.deepdream("x", kind="norm", channel=1)(acts)
    assert float(one) == pytest.approx(float(a[:, 1].norm()))
    with pytest.raises(ValueError, match="kind must be one of norm, mean_square"):
        O.deepdream("x", kind="l1")
    with pytest.raises(ValueError, match="channel 7 is out of range"):
        O.deepdream("x", channel=7)(acts)


def test_guide_follows_the_best_matching_feature() -> None:
    act = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)  # two positions
    guide = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # (C, M): two guide features
    # position 0 matches guide 0 (dot 2), position 1 guide 1 (dot 3): total 2 + 3
    assert float(O.guide("x", guide)({"x": act})) == pytest.approx(5.0)


def test_roll_is_undone_exactly_and_the_random_roll_is_seeded() -> None:
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).view(2, 3, 5, 7)
    assert torch.equal(roll(roll(x, 2, -3), -2, 3), x)
    a = Roll(3)(x, torch.Generator().manual_seed(1))
    b = Roll(3)(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape


def test_one_rotation_matrix_serves_rotate_and_the_zoom_loop() -> None:
    theta = affine_theta(4, 8, 90.0, 2.0)
    # a rotation by 90 degrees zoomed 2x: cos 0, sin 1/2, aspect carried on the off-diagonal
    assert theta[0][0] == pytest.approx(0.0, abs=1e-12) and theta[0][1] == pytest.approx(-0.25)
    assert theta[1][0] == pytest.approx(1.0)
    x = torch.rand(1, 3, 9, 9)
    assert torch.allclose(rotate(x, 90), torch.rot90(x, 1, (-2, -1)), atol=1e-5)
    inner = (slice(None), slice(None), slice(2, 7), slice(2, 7))  # away from the padded border
    assert torch.allclose(zoom_rotate(x, 1.0, 90)[inner], rotate(x, 90)[inner], atol=1e-5)


def test_normalized_step_moves_by_lr_on_average_and_clips() -> None:
    x = torch.zeros(1, 3, 4, 4)
    g = torch.randn(1, 3, 4, 4)
    big = torch.full((1, 3, 1, 1), 100.0)
    new = NormalizedStep(0.5)(x, g, -big, big)
    assert float((new - x).abs().mean()) == pytest.approx(0.5, rel=1e-5)
    lo, hi = torch.zeros(1, 3, 1, 1), torch.full((1, 3, 1, 1), 0.1)
    clipped = NormalizedStep(0.5)(x, g, lo, hi)
    assert torch.equal(torch.maximum(torch.minimum(clipped, hi), lo), clipped)


def test_adam_step_maximizes() -> None:
    w = torch.nn.Parameter(torch.zeros(3))
    step = AdamStep([w], lr=0.1)
    for _ in range(200):
        step(-(w - 1).square().sum())  # the maximum is at w = 1
    assert torch.allclose(w.detach(), torch.ones(3), atol=0.05)


@pytest.mark.parametrize(("param", "decorrelate"), [("fft", True), ("pixel", False)])
def test_an_image_parameterization_can_start_from_an_image(param: str, decorrelate: bool) -> None:
    pixels = torch.rand(2, 3, 12, 15) * 0.8 + 0.1
    again = P.image_from(pixels, param=param, decorrelate=decorrelate)()
    assert again.shape == pixels.shape
    assert torch.allclose(again, pixels, atol=1e-4)


def test_one_validator_for_every_config() -> None:
    assert check_int("n", np.int64(3), 1, 5) == 3
    for bad, msg in [(True, "whole number"), (2.5, "whole number"), (9, "between 1 and 5")]:
        with pytest.raises(ValueError, match=f"n must be .*{msg}|n must be a {msg}"):
            check_int("n", bad, 1, 5)
    with pytest.raises(ValueError, match="n must be at least 2, got 1"):
        check_int("n", 1, 2)
    with pytest.raises(ValueError, match="x must be a finite number"):
        check_float("x", math.nan, 0, 1)
    with pytest.raises(ValueError, match="x must be above 0 and at most 1"):
        check_float("x", 0, 0, 1, open_lo=True)
    with pytest.raises(ValueError, match="expected a number of at least 1, got 0"):
        parse_int("0", 1)


def test_one_override_helper() -> None:
    from dreamlab.optvis import FeatureVisConfig

    cfg = with_overrides(FeatureVisConfig(), {"steps": 3})
    assert cfg.steps == 3 and with_overrides(cfg, {}) is cfg
    with pytest.raises(ValueError, match="unknown demo setting 'nope'; settings: batch"):
        with_overrides(cfg, {"nope": 1}, "demo")
