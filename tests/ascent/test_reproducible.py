"""Reproducible seeds: the same bytes whatever the governor does (tiles at one intra-op thread)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import dreamlab.runtime.threads as th
from dreamlab.ascent.fastcopy import fast_model
from dreamlab.ascent.objectives import channels, diversity
from dreamlab.ascent.tiles import (
    TilePool,
    reproduction,
    sample_gradient,
    tile_grid,
    tiled_gradient,
)
from dreamlab.dream import dream
from dreamlab.images import resize_max_side, to_tensor
from dreamlab.optvis import visualize

# 256 x 170: the large octave is cut in 2 tiles, the small one (183 x 122) is one tile
SMALL_DREAM = {"max_side": 256, "num_octaves": 2, "iterations": 3, "seed": 11}


@pytest.fixture(scope="module")
def photo(chelsea: np.ndarray) -> np.ndarray:
    return resize_max_side(chelsea, 256)  # (170, 256, 3)


class _Forced:
    """A real :class:`ThreadGovernor` under simulated load: every multi-worker step looks starved
    (no CPU time), the cores always look idle, so it drops and probes again and again."""

    def __init__(self) -> None:
        self.counts: list[int] = []

    def set_workers(self, n: int) -> None:
        self.counts.append(n)
        th.set_tile_workers(n)

    def govern(self, frames, device="cpu", **_kw):
        policy = th.GovernorPolicy(strikes=1, probe_after=1, probe_steps=1)
        return th.ThreadGovernor(
            frames,
            top=4,
            policy=policy,
            cpu_clock=lambda: 0.0,
            set_threads=self.set_workers,
            idle=lambda: 8.0,
            remember=False,
        )


def _fixed(n: int):
    def govern(frames, device="cpu", **_kw):
        return th._Fixed(frames, n, th.set_tile_workers)

    return govern


def _dream_bytes(photo: np.ndarray, model, **kw) -> list[bytes]:
    return [f.image.tobytes() for f in dream(photo, model, **{**SMALL_DREAM, **kw})]


def test_seeded_dream_is_identical_while_the_governor_changes_workers(
    lite0, photo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dreamlab.dream.engine as engine

    monkeypatch.delenv("DREAMLAB_REPRODUCIBLE", raising=False)
    forced = _Forced()
    monkeypatch.setattr(engine, "govern", forced.govern)
    torch.set_num_threads(2)  # what a caller (or the old path) may have left behind
    changing = _dream_bytes(photo, lite0)
    assert len(set(forced.counts)) >= 2  # the governor really moved between steps
    moves = sum(a != b for a, b in zip(forced.counts, forced.counts[1:], strict=False))
    assert moves >= 2
    monkeypatch.setattr(engine, "govern", _fixed(1))
    alone = _dream_bytes(photo, lite0)
    monkeypatch.setattr(engine, "govern", _fixed(3))
    three = _dream_bytes(photo, lite0)
    assert changing == alone == three  # every frame, byte for byte
    assert len(set(changing)) == len(changing)  # and the dream did dream


def test_large_octaves_are_tiled_and_small_ones_are_not(lite0) -> None:
    fast = fast_model(lite0, "_blocks.9")
    assert len(tile_grid(170, 256, 16, min_side=fast.min_side)) == 2
    assert len(tile_grid(122, 183, 16, min_side=fast.min_side)) == 1
    assert len(tile_grid(341, 512, 16, min_side=fast.min_side)) == 4


@settings(deadline=None, max_examples=60)  # no timing: the machine may be busy
@given(
    h=st.integers(8, 1200),
    w=st.integers(8, 1200),
    align=st.sampled_from([1, 2, 8, 16, 32]),
    min_side=st.integers(1, 96),
)
def test_tiles_partition_the_image_on_the_stride(h: int, w: int, align: int, min_side: int) -> None:
    tiles = tile_grid(h, w, align, min_side=min_side)
    n = len(tiles)
    assert n & (n - 1) == 0  # a power of two (even work for 2 or 4 workers)
    covered = np.zeros((h, w), dtype=int)
    for tile in tiles:
        (t, b, left, r), (ct, cb, cl, cr) = tile.core, tile.crop
        covered[t:b, left:r] += 1
        assert ct <= t < b <= cb and cl <= left < r <= cr  # the crop holds the core
        assert t % align == 0 and left % align == 0 and ct % align == 0 and cl % align == 0
        if n > 1:
            assert min(cb - ct, cr - cl) >= min(min_side, h, w)
    assert (covered == 1).all()  # every pixel in exactly one core
    assert tile_grid(h, w, align, min_side=min_side) == tiles  # a function of the size only


def test_tiled_gradient_is_the_same_at_any_worker_count_and_close_to_untiled(lite0, photo) -> None:
    fast = fast_model(lite0, "_blocks.9")
    x = lite0.preprocess(to_tensor(photo))  # (1, 3, 170, 256)
    tiles = tile_grid(170, 256, 16, min_side=fast.min_side)

    def loss(maps):
        return maps[0].norm()

    th.set_tile_workers(1)
    runs = [tiled_gradient(fast, x, tiles, fast.strides, loss, workers=w) for w in (1, 2, 3)]
    for value, grad, maps in runs[1:]:
        assert torch.equal(grad, runs[0][1]) and torch.equal(value, runs[0][0])
        assert torch.equal(maps[0], runs[0][2][0])
    xr = x.clone().requires_grad_(True)
    act = fast(xr)[0]
    (g,) = torch.autograd.grad(act.norm(), xr)
    value, grad, maps = runs[0]
    assert maps[0].shape == act.shape  # the stitched maps are the whole image's
    assert value == pytest.approx(float(act.detach().norm()), rel=0.02)
    cos = torch.nn.functional.cosine_similarity(grad.flatten(), g.flatten(), 0)
    assert cos > 0.9  # measured 0.97-0.99: only what lies beyond the halo is missing
    # with a halo as wide as the image every crop sees everything: the untiled gradient
    whole = tile_grid(170, 256, 16, halo=256, min_side=fast.min_side)
    _, exact, _ = tiled_gradient(fast, x, whole, fast.strides, loss, workers=2)
    assert torch.allclose(exact, g, rtol=1e-3, atol=1e-6 * float(g.abs().max()))


def test_several_layers_of_different_strides_are_stitched(lite0, photo) -> None:
    fast = fast_model(lite0, ["_blocks.5", "_blocks.9"])
    align = int(np.lcm.reduce(fast.strides))
    x = lite0.preprocess(to_tensor(photo))  # (1, 3, 170, 256)
    tiles = tile_grid(170, 256, align, min_side=fast.min_side)
    assert len(tiles) == 2

    def loss(maps):
        return maps[0].norm() + 2 * maps[1].norm()

    _, grad, maps = tiled_gradient(fast, x, tiles, fast.strides, loss, workers=2)
    whole = fast(x)
    assert [m.shape for m in maps] == [w.shape for w in whole]
    for m, w in zip(maps, whole, strict=True):  # away from the seams the maps are the image's
        # (one thread against the default: rounding only; a misplaced stitch would be far off)
        for part in (slice(0, 3), slice(-3, None)):  # the first tile's side, the last one's
            close = 1e-3 * float(w.abs().max())
            assert torch.allclose(m[..., part], w[..., part], atol=close)
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(fast(xr)), xr)
    assert torch.nn.functional.cosine_similarity(grad.flatten(), g.flatten(), 0) > 0.9


def test_tile_pool_keeps_order_runs_one_thread_and_reraises() -> None:
    pool = TilePool()
    try:
        seen: list[tuple[str, int]] = []

        def task(i: int) -> int:
            seen.append((threading.current_thread().name, torch.get_num_threads()))
            return i * i

        assert pool.map(task, 7, 3) == [i * i for i in range(7)]
        assert {n for _, n in seen if _.startswith("dreamlab-tile")} <= {1}

        def boom(i: int) -> int:
            if i == 3:
                raise ValueError("tile 3")
            return i

        with pytest.raises(ValueError, match="tile 3"):
            pool.map(boom, 5, 2)
    finally:
        pool.close()


def test_feature_visualization_is_identical_under_a_changing_governor(
    lite0, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dreamlab.optvis.render as render

    settings = {"steps": 4, "size": 32, "seed": 5, "upsample": False}
    for target, batch in (("_blocks.9:3", 1), (channels("_blocks.9", [3, 4, 5]), 3)):
        forced = _Forced()
        monkeypatch.setattr(render, "govern", forced.govern)
        torch.set_num_threads(2)
        a = [f.tensor for f in visualize(lite0, target, batch=batch, **settings)]
        assert len(set(forced.counts)) >= 2
        monkeypatch.setattr(render, "govern", _fixed(1))
        b = [f.tensor for f in visualize(lite0, target, batch=batch, **settings)]
        monkeypatch.setattr(render, "govern", _fixed(3))
        c = [f.tensor for f in visualize(lite0, target, batch=batch, **settings)]
        assert all(torch.equal(x, y) and torch.equal(x, z) for x, y, z in zip(a, b, c, strict=True))
        assert not torch.equal(a[0], a[-1])


def test_a_gallery_split_by_image_agrees_with_the_batch(lite0) -> None:
    """One image per task (any worker count) climbs as the whole batch does (float rounding)."""
    fast = fast_model(lite0, "_blocks.9")
    obj = channels("_blocks.9", [1, 2]) + 0.5 * diversity("_blocks.9")  # images interact
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    def net(xb):
        return fast(lite0.preprocess(xb))

    def loss(maps):
        return obj({"_blocks.9": maps[0]})

    runs = [sample_gradient(net, x, loss, workers=w) for w in (1, 2)]
    assert torch.equal(runs[0][1], runs[1][1]) and torch.equal(runs[0][0], runs[1][0])
    xr = x.clone().requires_grad_(True)
    value = loss(net(xr))
    (g,) = torch.autograd.grad(value, xr)
    assert float(runs[0][0]) == pytest.approx(float(value.detach()), rel=1e-4)
    assert torch.allclose(runs[0][1], g, rtol=1e-3, atol=1e-4 * float(g.abs().max()))


def test_old_adapting_path_is_still_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMLAB_REPRODUCIBLE", "0")
    gov = th.govern([1, 2], "cpu")
    assert isinstance(gov, th.ThreadGovernor) and gov._set is th.set_torch_threads
    assert reproduction()["same_bytes"].startswith("no")
    monkeypatch.delenv("DREAMLAB_REPRODUCIBLE")
    gov = th.govern([1, 2], "cpu")
    assert gov._set is th.set_tile_workers and gov.policy is th.WORKER_POLICY
    fixed = th.govern([1, 2], "cpu", adapt=False)
    assert list(fixed) == [1, 2] and torch.get_num_threads() == 1


def test_png_metadata_says_what_reproduction_needs(tmp_path) -> None:
    from dreamlab.cli import main
    from dreamlab.images import sample_path
    from dreamlab.media import read_png_params

    out = tmp_path / "a.png"
    argv = ["dream", str(sample_path("chelsea")), "--max-side", "64", "--octaves", "1"]
    assert main([*argv, "--iterations", "1", "--seed", "11", "-o", str(out)]) == 0
    info = read_png_params(out.read_bytes())["reproduce"]
    assert info["device"] == "cpu" and info["torch"] == torch.__version__
    assert info["isa"] == torch.backends.cpu.get_cpu_capability() and info["cpu"]
    assert info["intra_op_threads"] == 1 and info["tile_side"] > 0 and info["halo"] >= 0
    assert info["same_bytes"] == "same machine and build"


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
    th._LOCAL.__dict__.pop("workers", None)
