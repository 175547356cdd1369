"""What users gain from the one core: DeepDream targets a neuron, a direction or a class logit and
can use the transforms; feature visualization can use octaves."""

from __future__ import annotations

import numpy as np
import pytest

from dreamlab.cli import main
from dreamlab.dream import DreamConfig, dream
from dreamlab.images import load_sample
from dreamlab.optvis import FeatureVisConfig, visualize

ONE_OCTAVE = {"max_side": 96, "num_octaves": 1, "iterations": 4, "jitter": 0, "layer": "_blocks.6"}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_sample("chelsea")


@pytest.mark.parametrize(
    "target",
    [
        {"objective": "neuron", "channel": 5},
        {"objective": "logit", "logit": 281},
        {"objective": "direction", "direction": list(np.linspace(-1, 1, 80))},
        {"channel": 3, "transforms": True},
    ],
    ids=["neuron", "logit", "direction", "transforms"],
)
def test_deepdream_objectives_grow(lite0, photo, target: dict) -> None:
    settings = {**ONE_OCTAVE, **target}
    if target.get("transforms"):
        settings["iterations"] = 6
    losses = [f.loss for f in dream(photo, lite0, **settings)]
    assert len(losses) == settings["iterations"] and np.isfinite(losses).all()
    assert losses[-1] > losses[0], losses


def test_deepdream_objective_settings_are_checked(lite0, photo) -> None:
    for bad, msg in [
        ({"objective": "neuron"}, "needs a channel"),
        ({"objective": "logit"}, "logit"),
        ({"logit": 3}, "logit"),
        ({"objective": "direction", "direction": [0.0, 0.0]}, "non-zero"),
        ({"objective": "nope"}, "objective must be one of layer, neuron, direction, logit"),
    ]:
        with pytest.raises(ValueError, match=msg):
            DreamConfig(**bad)
    with pytest.raises(ValueError, match="the direction has 2 values but layer _blocks.6 has 80"):
        dream(photo, lite0, **ONE_OCTAVE, objective="direction", direction=[1.0, 2.0])
    with pytest.raises(ValueError, match="class 5000 is out of range"):
        dream(photo, lite0, **ONE_OCTAVE, objective="logit", logit=5000)
    cfg = DreamConfig(objective="direction", direction=(1, 2))
    assert DreamConfig.from_dict(cfg.to_dict()) == cfg


def test_feature_visualization_octaves(lite0) -> None:
    cfg = FeatureVisConfig(steps=7, size=48, octaves=3, octave_scale=1.5, upsample=False)
    assert cfg.octave_sides() == [21, 32, 48] and cfg.octave_steps() == [2, 2, 3]
    frames = list(visualize(lite0, "_blocks.4:2", cfg))
    assert [f.step for f in frames] == list(range(1, 8))
    assert [f.image.shape[0] for f in frames] == [21, 21, 32, 32, 48, 48, 48]
    one = list(visualize(lite0, "_blocks.4:2", cfg, octaves=1))
    assert one[-1].image.shape[0] == 48 and len(one) == 7
    with pytest.raises(ValueError, match="smallest image"):
        FeatureVisConfig(size=16, octaves=4, octave_scale=2.0)


def test_cli_dream_neuron_and_visualize_octaves(tmp_path, capsys) -> None:
    out = tmp_path / "d.png"
    sample = "dreamlab/assets/samples/chelsea.png"
    from pathlib import Path

    sample = str(Path(__file__).resolve().parents[2] / sample)
    argv = [
        "dream",
        sample,
        "-o",
        str(out),
        "--max-side",
        "64",
        "--octaves",
        "1",
        "--iterations",
        "1",
        "--channel",
        "2",
        "--neuron",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    from dreamlab.media import read_png_params

    assert read_png_params(out.read_bytes())["config"]["objective"] == "neuron"
    out2 = tmp_path / "v.png"
    argv = [
        "visualize",
        "-o",
        str(out2),
        "--model",
        "tiny_cnn",
        "--layer",
        "conv2",
        "--steps",
        "4",
        "--size",
        "24",
        "--octaves",
        "2",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    assert read_png_params(out2.read_bytes())["octaves"] == 2
    assert main(["dream", sample, "-o", str(out), "--logit", "2", "--objective", "neuron"]) == 2
    assert capsys.readouterr().err.startswith("error:")
