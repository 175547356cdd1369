"""viz.py: zero-centred scales for signed data, honest colours, mosaics and filter tiles of the right size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib import colormaps

from dreamlab.models import LoadedModel
from dreamlab.viz import (
    ColorScale,
    colorbar,
    colorize,
    filter_tiles,
    mosaic,
    overlay,
    shared_scale,
)


def _rgb(cmap: str, at: float) -> np.ndarray:
    return np.array(colormaps[cmap](at)[:3]) * 255


# ---------------------------------------------------------------- scales


def test_shared_scale_is_diverging_and_symmetric_with_negatives() -> None:
    scale = shared_scale(np.array([[-0.5, 0.1], [2.0, 0.0]]))
    assert scale.cmap == "RdBu_r" and scale.signed
    assert scale.vmin == -2.0 and scale.vmax == 2.0
    negative_heavy = shared_scale(torch.tensor([-3.0, 1.0]))
    assert (negative_heavy.vmin, negative_heavy.vmax) == (-3.0, 3.0)


def test_shared_scale_is_sequential_from_zero_without_negatives() -> None:
    scale = shared_scale(np.array([0.2, 5.0, 1.0]))
    assert scale.cmap == "magma" and not scale.signed
    assert (scale.vmin, scale.vmax) == (0.0, 5.0)  # from 0, not from the minimum 0.2


def test_shared_scale_ignores_nan_and_inf() -> None:
    scale = shared_scale(np.array([np.nan, -1.0, np.inf, 0.5, -np.inf]))
    assert (scale.vmin, scale.vmax) == (-1.0, 1.0)
    empty = shared_scale(np.array([np.nan]))
    assert np.isfinite([empty.vmin, empty.vmax]).all() and empty.vmax > empty.vmin


def test_shared_scale_of_all_zeros_is_usable() -> None:
    scale = shared_scale(np.zeros((3, 4)))
    assert scale.vmax > scale.vmin
    assert colorize(np.zeros((3, 4)), scale).shape == (3, 4, 3)


def test_shared_scale_accepts_a_grad_tensor() -> None:
    t = torch.tensor([-1.0, 2.0], requires_grad=True) * 1
    assert shared_scale(t).vmax == 2.0


# ---------------------------------------------------------------- colours


def test_zero_is_the_middle_colour_of_a_signed_scale() -> None:
    scale = shared_scale(np.array([-4.0, 1.0]))
    out = colorize(np.zeros((2, 3)), scale)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    middle = _rgb("RdBu_r", 0.5)
    assert np.abs(out.astype(float) - middle).max() <= 3
    assert out.min() > 230  # near white: zero is "nothing", not black


def test_signed_ends_are_blue_and_red() -> None:
    scale = ColorScale("RdBu_r", -1.0, 1.0)
    low, high = colorize(np.array([-1.0, 1.0]), scale)
    assert np.abs(low.astype(float) - _rgb("RdBu_r", 0.0)).max() <= 2
    assert np.abs(high.astype(float) - _rgb("RdBu_r", 1.0)).max() <= 2
    assert low[2] > low[0] and high[0] > high[2]  # negative blue, positive red


def test_values_beyond_the_scale_are_clipped() -> None:
    scale = ColorScale("magma", 0.0, 1.0)
    out = colorize(np.array([-5.0, 0.0, 1.0, 9.0]), scale)
    assert (out[0] == out[1]).all() and (out[2] == out[3]).all()


def test_nan_shows_grey() -> None:
    for scale in (ColorScale("magma", 0.0, 1.0), ColorScale("RdBu_r", -1.0, 1.0)):
        out = colorize(np.array([[np.nan, 0.5]]), scale)
        assert tuple(out[0, 0]) == (128, 128, 128)
        assert tuple(out[0, 1]) != (128, 128, 128)


def test_colorize_a_stack_of_maps() -> None:
    maps = np.random.default_rng(0).normal(size=(5, 6, 7))
    out = colorize(maps, shared_scale(maps))
    assert out.shape == (5, 6, 7, 3) and out.dtype == np.uint8


def test_colorbar_runs_from_vmin_to_vmax() -> None:
    scale = ColorScale("RdBu_r", -2.0, 2.0)
    bar = colorbar(scale, width=64, height=5)
    assert bar.shape == (5, 64, 3)
    np.testing.assert_array_equal(bar[0, 0], colorize(np.array(-2.0), scale))
    np.testing.assert_array_equal(bar[0, -1], colorize(np.array(2.0), scale))


# ---------------------------------------------------------------- mosaic


@pytest.mark.parametrize(
    ("n", "cols", "grid"), [(1, 8, (1, 1)), (8, 4, (2, 4)), (10, 4, (3, 4)), (3, 8, (1, 3))]
)
def test_mosaic_size(n: int, cols: int, grid: tuple[int, int]) -> None:
    tiles = np.full((n, 10, 12, 3), 200, np.uint8)
    out = mosaic(tiles, cols=cols, pad=2)
    rows, used_cols = grid
    assert out.shape == (rows * (10 + 2) + 2, used_cols * (12 + 2) + 2, 3)
    assert out.dtype == np.uint8


def test_mosaic_places_tiles_in_reading_order() -> None:
    tiles = np.stack([np.full((4, 4, 3), 10 * (k + 1), np.uint8) for k in range(5)])
    out = mosaic(tiles, cols=3, pad=1, background=0)
    assert out[1, 1, 0] == 10 and out[1, 6, 0] == 20 and out[1, 11, 0] == 30
    assert out[6, 1, 0] == 40 and out[6, 6, 0] == 50
    assert out[6, 11, 0] == 0  # the empty cell stays background


def test_mosaic_tile_size_and_labels() -> None:
    tiles = np.zeros((3, 5, 5, 3), np.uint8)
    out = mosaic(tiles, ["#1", "#2", "#3"], cols=3, pad=4, tile_size=40)
    assert out.shape == (40 + 8, 3 * 44 + 4, 3)
    assert out[4:44, 4:44].max() > 200  # the white (antialiased) label text is on the tile
    assert mosaic(tiles, cols=3, pad=4, tile_size=40)[4:44, 4:44].max() == 0


def test_mosaic_of_nothing() -> None:
    out = mosaic(np.zeros((0, 8, 8, 3), np.uint8))
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


# ---------------------------------------------------------------- filters and overlays


def test_filter_tiles_share_one_symmetric_scale() -> None:
    w = torch.zeros(3, 3, 2, 2)
    w[0, 0] = 2.0  # strongest filter: full red
    w[1, 0] = 1.0  # half as strong: half way from grey to red (shared scale, not its own)
    w[2, 2] = -2.0  # negative blue weight: less blue than grey
    tiles, m = filter_tiles(w, tile_size=8)
    assert m == pytest.approx(2.0)
    assert tiles.shape == (3, 8, 8, 3) and tiles.dtype == np.uint8
    assert tuple(tiles[0, 0, 0]) == (255, 128, 128)
    assert tuple(tiles[1, 0, 0]) == (191, 128, 128)
    assert tuple(tiles[2, 0, 0]) == (128, 128, 0)


def test_filter_tiles_zero_is_grey() -> None:
    w = torch.zeros(2, 3, 3, 3)
    w[1] = 0.7
    tiles, _ = filter_tiles(w, tile_size=6)
    assert (tiles[0] == 128).all()


def test_filter_tiles_of_a_one_channel_layer_are_grey_levels() -> None:
    w = torch.tensor([[[[1.0, -1.0]]]])  # (1, 1, 1, 2)
    tiles, _ = filter_tiles(w, tile_size=4)
    assert tiles.shape == (1, 2, 4, 3)
    assert (tiles[..., 0] == tiles[..., 1]).all() and (tiles[..., 1] == tiles[..., 2]).all()


def test_filter_tiles_of_the_embedded_model(lite0: LoadedModel) -> None:
    conv = lite0.module.get_submodule(lite0.spec.first_conv)
    tiles, m = filter_tiles(conv.weight, tile_size=24)
    assert tiles.shape == (32, 24, 24, 3)
    assert m == pytest.approx(float(conv.weight.abs().max()))
    assert len({t.tobytes() for t in tiles}) > 16  # trained filters differ from each other


def test_overlay_stretches_the_map_over_the_image() -> None:
    image = np.zeros((30, 40, 3), np.uint8)
    heat = np.ones((3, 4))
    scale = ColorScale("magma", 0.0, 1.0)
    out = overlay(image, heat, scale, alpha=1.0)
    assert out.shape == (30, 40, 3)
    np.testing.assert_array_equal(out[15, 20], colorize(np.array(1.0), scale))
    np.testing.assert_array_equal(overlay(image, heat, scale, alpha=0.0), image)


def test_channel_scales_are_per_map_and_of_one_kind() -> None:
    from dreamlab.viz import channel_scales

    maps = np.stack(
        [np.linspace(0, 1, 400).reshape(20, 20), np.linspace(0, 100, 400).reshape(20, 20)]
    )
    lo, hi = channel_scales(maps.astype(np.float32))
    assert lo.cmap == hi.cmap == "magma" and lo.vmin == hi.vmin == 0
    assert hi.vmax > 50 * lo.vmax  # each its own top
    signed = channel_scales(np.stack([maps[0] - 0.5, maps[1]]).astype(np.float32))
    assert all(s.cmap == "RdBu_r" and s.vmin == -s.vmax for s in signed)
    # the 99.5th percentile: one hot pixel does not set the scale
    spike = np.zeros((1, 40, 40), np.float32)
    spike[0, :20] = 1.0
    spike[0, 0, 0] = 1000.0
    assert channel_scales(spike)[0].vmax == pytest.approx(1.0)


def test_tile_at_finds_the_tile_and_the_place_inside() -> None:
    from dreamlab.viz import tile_at

    tiles = np.zeros((5, 10, 20, 3), np.uint8)
    canvas = mosaic(tiles, cols=3, pad=4)
    assert canvas.shape[:2] == (2 * 14 + 4, 3 * 24 + 4)
    assert tile_at(4 + 10, 4 + 5, 5, (10, 20), cols=3) == (0, 0.5, 0.5)
    k, fy, fx = tile_at(4 + 24 + 24 + 1, 4 + 14 + 9, 5, (10, 20), cols=3) or (None, 0, 0)
    assert k is None  # row 1, column 2: past the fifth tile
    assert tile_at(4 + 24 + 1, 4 + 14 + 9, 5, (10, 20), cols=3)[0] == 4
    assert tile_at(1, 1, 5, (10, 20), cols=3) is None  # the padding


def test_outline_draws_the_box_and_leaves_the_input() -> None:
    from dreamlab.viz import outline

    img = np.zeros((50, 60, 3), np.uint8)
    out = outline(img, (10, 20, 30, 40))
    assert img.max() == 0 and out[10, 25].tolist() == [255, 214, 0] and out[20, 30].max() == 0


def test_mosaic_smooth_enlarges_with_bilinear() -> None:
    tile = np.zeros((1, 2, 2, 3), np.uint8)
    tile[0, 0, 0] = 255
    sharp, smooth = (
        mosaic(tile, tile_size=20, pad=0),
        mosaic(tile, tile_size=20, pad=0, smooth=True),
    )
    assert len(np.unique(sharp[..., 0])) == 2 and len(np.unique(smooth[..., 0])) > 2
