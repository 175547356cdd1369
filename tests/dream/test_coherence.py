"""The coherence module: flow, warp, occlusion mask and the carried dream."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dreamlab.dream.coherence import (
    Coherence,
    estimate_flow,
    occlusion_mask,
    to_gray,
    warp,
)


def _texture(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture (H, W, 3) uint8 that optical flow can follow."""
    rng = np.random.default_rng(seed)
    noise = rng.random((h // 4, w // 4, 3)).astype(np.float32)
    img = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``img`` moved right by dx and down by dy (the vacated border repeats the edge)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def test_flow_of_a_known_shift_is_that_shift() -> None:
    a = _texture()
    b = _shift(a, 3, 2)
    flow = estimate_flow(to_gray(a), to_gray(b))
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16]
    assert np.median(inner[..., 0]) == pytest.approx(3, abs=0.3)
    assert np.median(inner[..., 1]) == pytest.approx(2, abs=0.3)


def test_warp_moves_detail_by_the_shift() -> None:
    h, w = 64, 80
    detail = np.zeros((h, w, 3), np.float32)
    detail[30, 40] = 1.0  # one bright dot
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = -5.0, -3.0  # backward flow of a scene moved right 5, down 3
    moved = warp(detail, flow)
    assert moved.dtype == np.float32
    y, x = np.unravel_index(np.argmax(moved[..., 0]), (h, w))
    assert (y, x) == (33, 45)


def test_warp_along_estimated_flow_reproduces_the_next_frame() -> None:
    a = _texture(seed=1)
    b = _shift(a, 4, -3)
    bwd = estimate_flow(b, a)  # next -> prev
    moved = warp(a, bwd)
    inner = (slice(12, -12), slice(12, -12))
    err = np.abs(moved[inner].astype(float) - b[inner].astype(float)).mean()
    still = np.abs(a[inner].astype(float) - b[inner].astype(float)).mean()
    assert err < still / 4


def test_occlusion_mask_trusts_a_consistent_flow_and_not_a_broken_one() -> None:
    h, w = 48, 64
    fwd = np.zeros((h, w, 2), np.float32)
    fwd[..., 0] = 2.0
    bwd = -fwd
    mask = occlusion_mask(fwd, bwd, tol=0.5)
    assert mask.shape == (h, w) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert mask[10:-10, 10:-10].min() == pytest.approx(1.0)
    assert mask[:, 0].max() < 0.5  # the source of the left column lies outside prev
    broken = bwd.copy()
    broken[20:30, 20:40, 0] = 6.0  # backward flow that disagrees with the forward one
    mask2 = occlusion_mask(fwd, broken, tol=0.5)
    assert mask2[22:28, 24:36].max() == 0.0
    assert mask2[5:15, 10:50].min() == pytest.approx(1.0)


def test_occlusion_mask_finds_a_moving_square_uncovered_background() -> None:
    bg = _texture(128, 160, seed=2)
    fg = _texture(h=48, w=48, seed=3)
    a, b = bg.copy(), bg.copy()
    a[40:88, 40:88] = fg
    b[40:88, 48:96] = fg  # the square moved 8 px right: its old left edge is uncovered in b
    fwd, bwd = estimate_flow(a, b), estimate_flow(b, a)
    mask = occlusion_mask(fwd, bwd, tol=1.0)
    assert mask[50:78, 40:48].mean() < 0.5  # uncovered background: not trusted
    assert mask[50:78, 60:84].mean() > 0.9  # inside the moving square: trusted
    assert mask[100:120, 100:150].mean() > 0.9  # still background: trusted


def test_coherence_carries_detail_along_the_motion() -> None:
    a = _texture(seed=4)
    b = _shift(a, 6, 0)
    dot = a.copy()
    dot[40:44, 60:64] = 255  # the "dream": a white square on frame a
    coh = Coherence()
    coh.start(a, method="flow", blend=1.0)
    assert coh.init_for(a) is a  # nothing carried before the first update
    coh.update(a, dot)
    start = coh.init_for(b)
    assert start.dtype == np.uint8 and start.shape == b.shape
    diff = np.abs(start.astype(int) - b.astype(int)).sum(axis=-1)
    y, x = np.unravel_index(np.argmax(diff), diff.shape)
    assert 40 <= y < 44 and 65 <= x <= 70  # moved 6 px right with the scene
    assert coh.last_mask is not None


def test_coherence_methods_blend_and_none() -> None:
    a = _texture(seed=5)
    dreamed = np.full_like(a, 255)
    coh = Coherence()
    coh.start(a, method="none")
    coh.update(a, dreamed)
    assert coh.init_for(a) is a
    coh.start(a, method="blend", blend=0.5)
    coh.update(a, dreamed)
    out = coh.init_for(a)
    expect = (a.astype(np.float32) + 255) / 2
    assert np.abs(out.astype(np.float32) - expect).max() <= 1.0


def test_coherence_keeps_float_convention_and_resets_on_a_new_size() -> None:
    a = _texture(seed=6).astype(np.float32) / 255
    coh = Coherence()
    coh.start(a)
    coh.update(a, np.clip(a + 0.2, 0, 1))
    out = coh.init_for(a)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert out.mean() > a.mean() + 0.1
    small = a[:50, :60]
    assert coh.init_for(small) is small


def test_bad_settings_are_refused_in_one_line() -> None:
    a = _texture()
    coh = Coherence()
    with pytest.raises(ValueError, match="coherence must be one of"):
        coh.start(a, method="magic")
    with pytest.raises(ValueError, match="blend"):
        coh.start(a, blend=1.5)
    with pytest.raises(ValueError, match="differ"):
        estimate_flow(a, a[:10])
