"""The DeepDream engine: the seed's algorithm, frames, reproducibility, stopping, bad input, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dreamlab.activations import forward_until, layer_activations
from dreamlab.ascent.octaves import octave_sizes
from dreamlab.ascent.octaves import resize as zoom
from dreamlab.ascent.steppers import normalize_gradient, smooth_gradient
from dreamlab.ascent.transforms import zoom_rotate
from dreamlab.cli import main
from dreamlab.dream import PRESETS, DreamConfig, FrameStore, dream
from dreamlab.images import ImageError, to_tensor
from dreamlab.media import read_png_params
from dreamlab.models import UnknownLayerError

FAST = {"max_side": 96, "num_octaves": 1, "iterations": 3}  # a tiny dream: 3 steps on 96x64


@pytest.fixture(scope="module")
def small(chelsea: np.ndarray) -> np.ndarray:
    from dreamlab.images import resize_max_side

    return resize_max_side(chelsea, 96)  # (64, 96, 3)


def _norm_at(model, image: np.ndarray, layer: str) -> float:
    acts = layer_activations(model, to_tensor(image), [layer])[layer]
    return float(acts.norm())


# ---------------------------------------------------------------- the algorithm


def test_target_activation_grows(lite0, small) -> None:
    frames = list(dream(small, lite0, max_side=96, num_octaves=2, iterations=4, jitter=0))
    before = _norm_at(lite0, small, "_blocks.9")
    after = _norm_at(lite0, frames[-1].image, "_blocks.9")
    assert after > 1.2 * before
    assert frames[-1].loss > frames[0].loss


def test_one_step_is_the_seeds_formula(lite0, small) -> None:
    """x1 = clip(x0 + lr / mean|g| * g), g the gradient of ||A(x0)|| (normalized pixels)."""
    (frame,) = list(dream(small, lite0, max_side=96, num_octaves=1, iterations=1, jitter=0, lr=0.1))
    x0 = lite0.preprocess(to_tensor(small)).requires_grad_(True)  # (1, 3, H, W)
    act = forward_until(lite0.module, x0, ["_blocks.9"], detach=False)["_blocks.9"]
    (g,) = torch.autograd.grad(act.norm(), x0)
    mean, std = lite0._mean, lite0._std
    x1 = (x0.detach() + 0.1 / g.abs().mean() * g).clamp((0 - mean) / std, (1 - mean) / std)
    expected = ((x1 * std + mean).clamp(0, 1) * 255).round()[0].permute(1, 2, 0).numpy()
    assert np.abs(frame.image.astype(float) - expected).max() <= 1  # uint8 rounding only
    assert frame.loss == pytest.approx(float(act.detach().norm()), rel=1e-4)


@pytest.mark.parametrize(("octaves", "iterations"), [(1, 3), (2, 2), (3, 1)])
def test_frames_count_is_octaves_times_iterations(lite0, small, octaves, iterations) -> None:
    run = dream(
        small, lite0, max_side=96, num_octaves=octaves, iterations=iterations, octave_scale=1.2
    )
    frames = list(run)
    assert len(frames) == octaves * iterations == run.plan.total
    assert [f.step for f in frames] == list(range(len(frames)))
    assert [(f.octave, f.iteration) for f in frames] == [
        (o, i) for o in range(octaves) for i in range(iterations)
    ]
    assert all(f.total == len(frames) and f.num_octaves == octaves for f in frames)
    assert frames[-1].done and not frames[0].done


def test_octaves_grow_to_the_image_size(lite0, small) -> None:
    run = dream(small, lite0, max_side=96, num_octaves=3, iterations=1, octave_scale=1.4)
    sizes = [f.size for f in run]
    assert sizes == list(run.plan.sizes) == octave_sizes(64, 96, 3, 1.4)[::-1]
    assert sizes[-1] == (64, 96)


def test_frame_shapes_and_ranges(lite0, small) -> None:
    frames = list(dream(small, lite0, **FAST))
    for f in frames:
        assert f.image.dtype == np.uint8 and f.image.shape == (64, 96, 3)
        assert f.activations.dtype == np.float32 and f.activations.shape == (112, 4, 6)
        assert math.isfinite(f.loss) and f.loss > 0
        t = f.image_tensor()
        assert t.min() >= 0 and t.max() <= 1
        assert f.layer == "_blocks.9"


def test_frames_are_lazy_and_stay_valid(lite0, small) -> None:
    run = dream(small, lite0, **FAST)
    first = next(run)
    assert "image" not in first.__dict__ and "activations" not in first.__dict__  # not converted
    snapshot = first.image_tensor().clone()
    rest = list(run)
    assert torch.equal(first.image_tensor(), snapshot)  # later steps never wrote into it
    assert not np.array_equal(first.image, rest[-1].image)


def test_same_seed_same_frames_on_cpu(lite0, small) -> None:
    a = [f.image for f in dream(small, lite0, seed=7, **FAST)]
    b = [f.image for f in dream(small, lite0, seed=7, **FAST)]
    c = [f.image for f in dream(small, lite0, seed=8, **FAST)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[-1], c[-1])  # the jitter differs


def test_stop_mid_octave_keeps_what_was_made(lite0, small) -> None:
    run = dream(small, lite0, max_side=96, num_octaves=2, iterations=4)
    kept = [next(run) for _ in range(5)]  # stop in the middle of the second octave
    run.close()
    assert next(run, None) is None
    assert [(f.octave, f.iteration) for f in kept][-1] == (1, 0)
    assert all(f.image.shape[2] == 3 for f in kept)


def test_stopping_early_does_no_more_work(lite0, small) -> None:
    run = dream(small, lite0, max_side=96, num_octaves=1, iterations=50)
    first = next(run)
    del run  # never pulled again: nothing else is computed
    assert first.step == 0


def test_lite0_channel_target_and_its_loss(lite0, small) -> None:
    (frame,) = list(
        dream(small, lite0, max_side=96, num_octaves=1, iterations=1, jitter=0, channel=5)
    )
    acts = layer_activations(lite0, to_tensor(small), ["_blocks.9"])["_blocks.9"]
    assert frame.loss == pytest.approx(float(acts[0, 5].norm()), rel=1e-4)


def test_several_layers_with_weights(lite0, small) -> None:
    run = dream(small, lite0, layers={"_blocks.5": 1.0, "_blocks.9": 0.5}, **FAST)
    frames = list(run)
    assert run.plan.targets == (("_blocks.5", 1.0), ("_blocks.9", 0.5))
    assert frames[0].layer == "_blocks.5" and frames[0].activations.shape[0] == 80


def test_dream_from_noise_is_seeded(lite0) -> None:
    a = list(dream("noise", lite0, noise_size=(64, 80), seed=3, num_octaves=1, iterations=2))
    b = list(dream("noise", lite0, noise_size=(64, 80), seed=3, num_octaves=1, iterations=2))
    assert a[-1].image.shape == (64, 80, 3)
    assert np.array_equal(a[-1].image, b[-1].image)
    assert a[-1].image.std() > 5  # patterns appeared on the flat grey


def test_guided_dream_runs_and_grows(lite0, small, coffee) -> None:
    frames = list(
        dream(small, lite0, guide=coffee, max_side=96, num_octaves=1, iterations=4, jitter=0)
    )
    assert frames[-1].loss > frames[0].loss


def test_smoothing_and_standardized_step(lite0, small) -> None:
    frames = list(
        dream(
            small,
            lite0,
            smoothing=0.5,
            normalize="std",
            loss="mean_square",
            octave_mode="rescale",
            **FAST,
        )
    )
    assert len(frames) == 3 and frames[-1].loss > frames[0].loss


def test_zoom_loop_dreams_again_each_frame(lite0, small) -> None:
    frames = list(dream(small, lite0, zoom_frames=2, zoom=1.1, rotate=5, **FAST))
    assert len(frames) == 3 * 3
    assert [f.loop for f in frames] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert frames[-1].image.shape == (64, 96, 3)


def test_bf16_autocast_path_runs_on_cpu(lite0, small) -> None:
    run = dream(small, lite0, precision="bf16", **FAST)
    frames = list(run)
    assert run.plan.precision == "bf16" and frames[-1].loss > frames[0].loss


def test_shared_model_is_left_untouched(lite0, small) -> None:
    before = {k: v.clone() for k, v in lite0.module.state_dict().items()}
    list(dream(small, lite0, **FAST))
    assert all(not p.requires_grad for p in lite0.module.parameters())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in lite0.module.modules())
    after = lite0.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


# ---------------------------------------------------------------- sizes and bad input


def test_tiny_image_is_refused_with_the_minimum(lite0) -> None:
    with pytest.raises(ValueError, match="needs at least 32 px"):
        dream(np.zeros((20, 20, 3), np.uint8), lite0)


def test_octaves_too_small_are_dropped_or_refused(lite0) -> None:
    img = np.full((40, 40, 3), 128, np.uint8)  # 40 / 1.4 = 29 px: under 32
    run = dream(img, lite0, num_octaves=4, iterations=1)
    assert run.plan.dropped == 3 and len(run.plan.sizes) == 1 and "1 of 4 octaves" in run.plan.note
    assert len(list(run)) == 1
    with pytest.raises(ValueError, match="use fewer octaves"):
        dream(img, lite0, num_octaves=4, fit_octaves=False)


def test_huge_image_is_downsized_first(lite0) -> None:
    rng = np.random.default_rng(0)
    huge = rng.integers(0, 256, (3000, 2000, 3), dtype=np.uint8)
    run = dream(huge, lite0, max_side=64, num_octaves=1, iterations=1)
    assert run.plan.size == (64, 43)
    assert next(run).image.shape == (64, 43, 3)


def test_unknown_layer_lists_the_valid_ones(lite0, small) -> None:
    with pytest.raises(UnknownLayerError) as err:
        dream(small, lite0, layer="features.26")
    text = str(err.value)
    assert "features.26" in text and "_blocks.9" in text and "\n" not in text


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"lr": 0}, "lr must be above 0"),
        ({"iterations": 0}, "iterations must be between"),
        ({"iterations": 2.5}, "iterations must be a whole number"),
        ({"octave_scale": 0.5}, "octave_scale must be"),
        ({"jitter": -1}, "jitter must be between"),
        ({"max_side": 10**6}, "max_side must be between"),
        ({"layer": 3}, "layer must be a layer name"),
        ({"loss": "l1"}, "loss must be one of"),
        ({"channels_last": "yes"}, "channels_last must be true or false"),
        ({"nope": 1}, "unknown dream setting 'nope'"),
        ({"channel": 10_000}, "channel 10000 is out of range"),
        ({"layers": [("_blocks.5", 1), ("_blocks.9", 1)], "channel": 1}, "single target layer"),
    ],
)
def test_bad_settings_give_one_line(lite0, small, settings, match) -> None:
    with pytest.raises(ValueError, match=match) as err:
        dream(small, lite0, **settings)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", [None, 42, torch.zeros(3, 8, 8), "missing.png"])
def test_bad_images_give_one_line(lite0, bad) -> None:
    with pytest.raises(ImageError):
        dream(bad, lite0)


def test_model_must_be_loaded(small) -> None:
    with pytest.raises(ValueError, match="loaded model"):
        dream(small, "efficientnet_lite0")  # type: ignore[arg-type]


# ---------------------------------------------------------------- config and presets


def test_config_round_trips_through_a_dict() -> None:
    cfg = DreamConfig(layer="_blocks.5", layers=(), channel=3, lr=0.07, noise_size=(60, 80))
    assert DreamConfig.from_dict(cfg.to_dict()) == cfg
    assert DreamConfig(layers={"a": 1, "b": 2}).layers == (("a", 1.0), ("b", 2.0))


def test_presets_reproduce_the_classic_settings() -> None:
    seed = PRESETS["seed"]
    assert (seed.model, seed.layer) == ("vgg19", "features.26")
    c = seed.config
    assert (c.num_octaves, c.octave_scale, c.iterations, c.lr, c.jitter) == (4, 2.0, 25, 0.02, 0)
    assert (c.loss, c.normalize, c.octave_mode) == ("norm", "mean_abs", "detail")
    g = PRESETS["google2015"].config
    assert (g.num_octaves, g.octave_scale, g.iterations, g.jitter) == (4, 1.4, 10, 32)
    assert g.lr == pytest.approx(1.5 / 255 / 0.226, rel=0.01)  # 1.5 grey levels per step
    gd = PRESETS["gordic"].config
    assert (gd.octave_scale, gd.lr, gd.smoothing, gd.normalize, gd.loss, gd.octave_mode) == (
        1.8,
        0.09,
        0.5,
        "std",
        "mean_square",
        "rescale",
    )
    assert seed.config_for("vgg19").layer == "features.26"
    assert seed.config_for("efficientnet_lite0").layer is None  # the model's default instead


# ---------------------------------------------------------------- small pieces


def test_octave_sizes_follow_the_seed() -> None:
    assert octave_sizes(300, 400, 4, 2.0) == [(300, 400), (150, 200), (75, 100), (38, 50)]


def test_zoom_keeps_corners_like_scipy() -> None:
    x = torch.arange(4.0).view(1, 1, 2, 2)
    big = zoom(x, (3, 3))
    assert big[0, 0, 0, 0] == 0 and big[0, 0, -1, -1] == 3 and big[0, 0, 1, 1] == 1.5


def test_zoom_rotate_identity_and_zoom() -> None:
    x = torch.rand(1, 3, 20, 30)
    assert torch.allclose(zoom_rotate(x, 1.0, 0.0), x, atol=1e-5)
    assert not torch.allclose(zoom_rotate(x, 1.2, 0.0), x, atol=1e-2)


def test_gradient_normalizers() -> None:
    g = torch.randn(1, 3, 16, 16) * 7
    assert float(normalize_gradient(g).abs().mean()) == pytest.approx(1.0, rel=1e-5)
    s = normalize_gradient(g, "std")
    assert float(s.std()) == pytest.approx(1.0, rel=1e-4) and abs(float(s.mean())) < 1e-5
    assert torch.equal(normalize_gradient(torch.zeros(1, 3, 4, 4)), torch.zeros(1, 3, 4, 4))


def test_smoothing_blurs_high_frequencies() -> None:
    checker = (torch.arange(32).view(1, -1) + torch.arange(32).view(-1, 1)) % 2  # (32, 32)
    g = checker.float().expand(1, 3, 32, 32).contiguous() - 0.5
    out = smooth_gradient(g, 1.5)
    assert out.shape == g.shape and float(out.abs().max()) < 0.1 * float(g.abs().max())


def test_frame_store_is_bounded_and_spans_the_run() -> None:
    store = FrameStore(capacity=8, thumb_side=16)
    img = np.zeros((40, 60, 3), np.uint8)
    for step in range(500):
        store.add_loss(step)
        if store.wants(step):
            store.keep(step, 0, step, 0, float(step), img, img)
    assert len(store.losses) == 500
    assert 4 <= len(store.frames) <= 8
    steps = [f.step for f in store.frames]
    assert steps[0] == 0 and steps[-1] >= 500 - 2 * store.stride and steps == sorted(steps)
    assert store.frames[0].image.shape == (11, 16, 3)
    assert store.nbytes < 8 * 4000


# ---------------------------------------------------------------- CLI


def test_cli_seed_gives_byte_identical_pngs(tmp_path, capsys) -> None:
    from dreamlab.images import sample_path

    args = [
        "dream",
        str(sample_path("chelsea")),
        "--max-side",
        "64",
        "--octaves",
        "1",
        "--iterations",
        "2",
        "--seed",
        "1",
        "--device",
        "cpu",
        "-o",
    ]
    assert main([*args, str(tmp_path / "a.png")]) == 0
    assert main([*args, str(tmp_path / "b.png")]) == 0
    a, b = (tmp_path / "a.png").read_bytes(), (tmp_path / "b.png").read_bytes()
    assert a == b
    params = read_png_params(a)
    assert params["config"]["seed"] == 1 and params["config"]["iterations"] == 2
    assert params["model"] == "efficientnet_lite0" and params["version"]
    assert params["targets"] == [["_blocks.9", 1.0]] and params["steps"] == 2
    assert "a.png\t64x43\t2 steps" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_cli_writes_videos(tmp_path, suffix) -> None:
    out = tmp_path / f"dream{suffix}"
    code = main(
        [
            "dream",
            "noise",
            "-o",
            str(out),
            "--max-side",
            "64",
            "--octaves",
            "1",
            "--iterations",
            "3",
            "--device",
            "cpu",
        ]
    )
    assert code == 0 and out.stat().st_size > 100


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["noise", "-o", "x.jpg"], "use a .png, .gif or .mp4"),
        (["noise", "-o", "x.png", "--layer", "nope"], "valid layers"),
        (["noise", "-o", "x.png", "--max-side", "8"], "max_side must be between"),
        (["noise", "-o", "x.png", "--preset", "nope"], "unknown preset"),
        (["missing.png", "-o", "x.png"], "no such file"),
        (["noise", "-o", "no/such/dir/x.png"], "does not exist"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, argv, message) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["dream", *argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
