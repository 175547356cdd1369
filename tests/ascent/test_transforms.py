"""Transforms are exact on tiny tensors, seeded, and match lucent's standard values."""

from __future__ import annotations

import torch

from dreamlab.ascent.transforms import (
    Compose,
    Jitter,
    Pad,
    RandomRotate,
    RandomScale,
    compose,
    crop,
    rotate,
    scale,
    standard_transforms,
    zoom,
)


def _img(b: int = 1, h: int = 4, w: int = 4) -> torch.Tensor:
    return torch.arange(b * 3 * h * w, dtype=torch.float32).view(b, 3, h, w) / (b * 3 * h * w)


def test_pad_adds_a_constant_border() -> None:
    x = _img()
    y = Pad(2, 0.5)(x)
    assert y.shape == (1, 3, 8, 8)
    assert torch.equal(y[..., 2:6, 2:6], x)
    border = torch.ones_like(y, dtype=torch.bool)
    border[..., 2:6, 2:6] = False
    assert torch.all(y[border] == 0.5)
    assert Pad(0)(x) is x


def test_jitter_is_an_exact_crop_within_d() -> None:
    x = _img(2, 6, 6)
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        y = Jitter(2)(x, gen)
        assert y.shape == (2, 3, 4, 4)
        hits = [(t, j) for t in range(3) for j in range(3) if torch.equal(y, crop(x, t, j, 4, 4))]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) == 9  # every offset in {0, 1, 2}^2 happens
    assert Jitter(0)(x, gen) is x


def test_crop_picks_the_window() -> None:
    x = _img(1, 4, 5)
    assert torch.equal(crop(x, 1, 2, 2, 3), x[..., 1:3, 2:5])


def test_scale_sizes_and_identity() -> None:
    x = _img(1, 10, 20)
    assert scale(x, 1.0) is x
    assert scale(x, 1.1).shape[-2:] == (11, 22)
    assert scale(x, 0.9).shape[-2:] == (9, 18)
    assert scale(x, 2.0).shape[-2:] == (20, 40)
    flat = torch.full((1, 3, 7, 7), 0.25)
    assert torch.allclose(scale(flat, 1.3), torch.full((1, 3, 9, 9), 0.25))


def test_rotate_is_exact_for_right_angles_and_counter_clockwise() -> None:
    x = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    assert rotate(x, 0) is x
    assert torch.allclose(rotate(x, 90), torch.rot90(x, 1, (-2, -1)), atol=1e-5)
    assert torch.allclose(rotate(x, -90), torch.rot90(x, -1, (-2, -1)), atol=1e-5)
    wide = torch.rand(1, 3, 5, 8, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(rotate(wide, 180), wide.flip(-1, -2), atol=1e-5)
    # counter-clockwise as displayed: the top-right corner goes to the top-left
    corner = torch.zeros(1, 1, 4, 4)
    corner[..., 0, 3] = 1.0
    assert rotate(corner, 90)[0, 0, 0, 0] > 0.99


def test_rotate_keeps_a_constant_image_constant() -> None:
    flat = torch.full((1, 3, 9, 9), 0.5)
    assert torch.allclose(rotate(flat, 10), flat)  # border padding: no dark corners


def test_zoom_keeps_the_frame_and_magnifies_the_centre() -> None:
    x = torch.rand(2, 3, 4, 6, generator=torch.Generator().manual_seed(3))
    assert zoom(x, 1.0) is x
    big = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(zoom(x, 2.0), big[..., 2:6, 3:9], atol=1e-5)  # (2, 3, 4, 6)
    flat = torch.full((1, 3, 7, 7), 0.5)
    assert torch.allclose(zoom(flat, 0.9), flat)  # shrinking brings in the (grey) border


def test_random_choices_follow_the_generator() -> None:
    x = torch.rand(1, 3, 20, 20)
    t = RandomScale((0.9, 1.0, 1.1))
    outs = [t(x, torch.Generator().manual_seed(s)) for s in range(30)]
    assert all(o.shape == x.shape for o in outs)
    assert {
        min(range(3), key=lambda i, o=o: (o - zoom(x, t.scales[i])).abs().max()) for o in outs
    } == {0, 1, 2}
    assert torch.allclose(RandomScale((1.1,))(x, None), zoom(x, 1.1))
    r = RandomRotate((30.0,))
    assert torch.allclose(r(x, None), rotate(x, 30.0))
    a = standard_transforms()(x, torch.Generator().manual_seed(5))
    b = standard_transforms()(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_standard_transforms_are_lucents() -> None:
    st = standard_transforms()
    pad, j8, sc, rot, j4 = st.transforms
    assert pad == Pad(12, 0.5)
    assert j8 == Jitter(8) and j4 == Jitter(4)
    assert sc.scales == tuple(1 + (i - 5) / 50 for i in range(11))
    assert min(sc.scales) == 0.9 and max(sc.scales) == 1.1
    assert sorted(set(rot.angles)) == list(range(-10, 11))
    assert rot.angles.count(0) == 6 and len(rot.angles) == 26


def test_standard_transforms_give_one_shape_all_run_long() -> None:
    x = torch.rand(1, 3, 32, 32)
    gen = torch.Generator().manual_seed(0)
    shapes = {standard_transforms()(x, gen).shape for _ in range(30)}
    assert shapes == {torch.Size([1, 3, 44, 44])}  # 32 + 24 pad - 8 jitter - 4 jitter


def test_compose_applies_in_order() -> None:
    x = _img()
    c = compose([Pad(1, 0.0), Pad(1, 1.0)])
    assert isinstance(c, Compose)
    y = c(x, None)
    assert y.shape[-1] == 8 and y[0, 0, 0, 0] == 1.0 and y[0, 0, 1, 1] == 0.0
    assert torch.equal(compose([])(x, None), x)
